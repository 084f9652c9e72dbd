/* eventfd, timerfd and pidfd across execve: the new image finds the eventfd's
 * counter, the timer still armed and the pidfd still following its process
 * (re-exec of /proc/self/exe with the fd numbers as arguments); a second
 * eventfd made before the exec and closed in the new image leaves the first
 * one working.  Written for the emulation macOS hosts get
 * (ELFUSE_HOST_COMPAT=darwin runs it on Linux); a native Linux passes it too. */
/* qemu-differs: qemu-user cannot exec /proc/self/exe */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int after_exec(char **argv) {
    int efd = atoi(argv[2]), tfd = atoi(argv[3]), pfd = atoi(argv[4]), other = atoi(argv[5]);
    pid_t child = atoi(argv[6]);
    uint64_t v;
    CHECK(close(other) == 0, "close the second eventfd in the new image");
    CHECK(read(efd, &v, 8) == 8 && v == 5, "the eventfd's 5 survived the exec");
    v = 2;
    CHECK(write(efd, &v, 8) == 8 && read(efd, &v, 8) == 8 && v == 2, "and it still counts");
    struct itimerspec cur;
    CHECK(timerfd_gettime(tfd, &cur) == 0 && cur.it_interval.tv_nsec == 30000000, "the timer is still armed");
    CHECK(read(tfd, &v, 8) == 8 && v >= 1, "and it expires");
    struct pollfd p = {tfd, POLLIN, 0};
    CHECK(poll(&p, 1, 2000) == 1, "poll sees the next expiration");
    p = (struct pollfd){pfd, POLLIN, 0};
    CHECK(poll(&p, 1, 0) == 0, "the pidfd's child is still running");
    CHECK(write(atoi(argv[7]), "x", 1) == 1, "tell the child to exit");
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "the pidfd turns readable when it exits");
    siginfo_t si = {0};
    CHECK(waitid(P_PIDFD, pfd, &si, WEXITED) == 0 && si.si_pid == child && si.si_status == 6,
          "waitid(P_PIDFD) after the exec: exit 6");
    DONE();
}

int main(int argc, char **argv) {
    if (argc == 8)
        return after_exec(argv);
    int efd = eventfd(0, 0), other = eventfd(1, 0);
    uint64_t v = 5;
    CHECK(efd >= 0 && other >= 0 && write(efd, &v, 8) == 8, "eventfd holding 5");
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 30000000}, {0, 30000000}};
    CHECK(tfd >= 0 && timerfd_settime(tfd, 0, &its, NULL) == 0, "timer every 30 ms");
    int go[2];
    pipe(go);
    pid_t c = fork();
    if (c == 0) {
        char b;
        close(go[1]);
        read(go[0], &b, 1);
        _exit(6);
    }
    close(go[0]);
    int pfd = syscall(SYS_pidfd_open, c, 0);
    CHECK(pfd >= 0, "pidfd of a child");
    /* a pidfd is close-on-exec: keep a copy without it */
    int pfd2 = fcntl(pfd, F_DUPFD, 0);
    char a[7][16];
    snprintf(a[0], 16, "%d", efd);
    snprintf(a[1], 16, "%d", tfd);
    snprintf(a[2], 16, "%d", pfd2);
    snprintf(a[3], 16, "%d", other);
    snprintf(a[4], 16, "%d", c);
    snprintf(a[5], 16, "%d", go[1]);
    char *nargv[] = {argv[0], "after", a[0], a[1], a[2], a[3], a[4], a[5], NULL};
    msleep(10);
    execv("/proc/self/exe", nargv);
    CHECK(0, "execv");
    DONE();
}
