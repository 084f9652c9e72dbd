/* /proc/self/fdinfo/N of the kernel objects whose show_fdinfo adds lines:
 * a signalfd shows its mask ("sigmask:\t" and 16 hex digits, bit sig-1), an
 * eventfd its counter ("eventfd-count: " and %16llx) and whether it counts as a
 * semaphore; every fd shows pos and flags (octal, O_CLOEXEC included). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "guest_test.h"

static int fdinfo(int fd, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    int f = open(path, O_RDONLY);
    if (f < 0)
        return -1;
    ssize_t r = read(f, buf, n - 1);
    close(f);
    buf[r > 0 ? r : 0] = 0;
    return (int)r;
}

int main(void)
{
    char buf[512];
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGTERM);
    int sfd = signalfd(-1, &m, SFD_CLOEXEC);
    CHECK(fdinfo(sfd, buf, sizeof buf) > 0, "a signalfd has an fdinfo");
    CHECK(strstr(buf, "sigmask:\t0000000000004200\n") != NULL, "... with its mask (SIGUSR1, SIGTERM) as sigmask");
    CHECK(strstr(buf, "pos:\t0\n") && strstr(buf, "flags:\t02"), "... and pos, flags with O_CLOEXEC");
    sigaddset(&m, SIGUSR2);
    signalfd(sfd, &m, 0);
    fdinfo(sfd, buf, sizeof buf);
    CHECK(strstr(buf, "sigmask:\t0000000000004a00\n") != NULL, "an updated mask shows");
    close(sfd);

    int efd = eventfd(42, EFD_NONBLOCK);
    CHECK(fdinfo(efd, buf, sizeof buf) > 0, "an eventfd has an fdinfo");
    CHECK(strstr(buf, "eventfd-count:               2a\n") != NULL, "... with its count (%16llx)");
    uint64_t one = 1;
    write(efd, &one, 8);
    fdinfo(efd, buf, sizeof buf);
    CHECK(strstr(buf, "eventfd-count:               2b\n") != NULL, "... which follows a write");
    close(efd);
    DONE();
}
