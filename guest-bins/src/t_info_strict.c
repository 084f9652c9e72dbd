/* Identity/prctl checks where qemu-user 7.2 is not Linux-exact. */
/* qemu-differs: qemu 7.2 returns ENOSYS for set_robust_list and shows its own name for PR_GET_NAME */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

int main(int argc, char **argv) {
    (void)argc;
    char name[16] = {0}, want[16] = {0};
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    strncpy(want, base, 15);
    CHECK(prctl(PR_GET_NAME, name) == 0 && strcmp(name, want) == 0, "PR_GET_NAME starts as the program's basename");
    CHECK_ERR(syscall(SYS_set_robust_list, (void *)0x1000, 7), EINVAL, "set_robust_list with a bad size is EINVAL");
    CHECK(syscall(SYS_set_robust_list, (void *)0x1000, 24) == 0, "set_robust_list records the head");
    void *head = 0; size_t len = 0;
    CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head == (void *)0x1000 && len == 24,
          "get_robust_list returns it");
    CHECK_ERR(syscall(SYS_rseq, 0, 0, 0, 0), ENOSYS, "rseq is ENOSYS (glibc tolerates it)");
    CHECK(syscall(SYS_membarrier, 0, 0, 0) >= 0, "membarrier QUERY");
    DONE();
}
