/* Time checks where qemu-user 7.2 is not Linux-exact. */
/* qemu-differs: qemu 7.2 reports EINVAL instead of EFAULT for nanosleep's bad pointer */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    CHECK_ERR(syscall(SYS_nanosleep, (void *)8, NULL), EFAULT, "nanosleep with a bad pointer is EFAULT");
    struct timespec req = {0, 1000};
    CHECK(syscall(SYS_nanosleep, &req, (void *)8) == 0, "a bad rem pointer is not touched by an uninterrupted sleep");
    CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)8, NULL), EFAULT,
              "clock_nanosleep with a bad pointer is EFAULT");
    DONE();
}
