/* An epoll fd across execve (its interest list, a disarmed EPOLLONESHOT fd, and
 * EPOLL_CLOEXEC), and epoll_pwait2's timespec timeout. */
/* qemu-differs: qemu-user cannot exec /proc/self/exe without binfmt_misc and has no epoll_pwait2 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int child(int ep, int gone) {
    struct epoll_event out[4];
    CHECK(fcntl(gone, F_GETFD) == -1 && errno == EBADF, "exec: the EPOLL_CLOEXEC one is closed");
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && out[0].data.u64 == 77 && out[0].events == EPOLLIN,
          "exec: the interest list survived (the disarmed ONESHOT fd stays quiet)");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    int p[2];
    CHECK(pipe(p) == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0 &&
          epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "exec: still an epoll fd");
    DONE();
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child(atoi(argv[2]), atoi(argv[3]));

    int a[2], b[2], ep = epoll_create1(0), gone = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77}, out[4];
    CHECK(pipe(a) == 0 && pipe(b) == 0 && ep >= 0 && gone >= 0, "set-up");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a[0], &ev) == 0, "ADD a");
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 88;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, b[0], &ev) == 0, "ADD b ONESHOT");
    CHECK(write(b[1], "b", 1) == 1 && epoll_wait(ep, out, 4, 0) == 1 && out[0].data.u64 == 88,
          "b reported once");
    CHECK(write(a[1], "a", 1) == 1 && write(b[1], "b", 1) == 1, "both have data");

    char epstr[16], gonestr[16];
    snprintf(epstr, sizeof epstr, "%d", ep);
    snprintf(gonestr, sizeof gonestr, "%d", gone);
    pid_t c = fork();
    if (c == 0) {
        char *args[] = {argv[0], "child", epstr, gonestr, NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int st;
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec: the new image's checks");

    /* epoll_pwait2 */
    char buf[4];
    read(a[0], buf, 1);
    struct timespec ts = {0, 30 * 1000000L};
    double t0 = now();
    CHECK(syscall(SYS_epoll_pwait2, ep, out, 4, &ts, NULL, 8) == 0 && now() - t0 >= 0.025,
          "pwait2: a 30 ms timeout expires");
    struct timespec bad = {0, 1000000000L};
    CHECK_ERR(syscall(SYS_epoll_pwait2, ep, out, 4, &bad, NULL, 8), EINVAL, "pwait2: a bad timespec");
    uint64_t mask = 0;
    CHECK_ERR(syscall(SYS_epoll_pwait2, ep, out, 4, &ts, &mask, 4), EINVAL, "pwait2: a bad sigsetsize");
    CHECK(write(a[1], "a", 1) == 1, "write");
    CHECK(syscall(SYS_epoll_pwait2, ep, out, 4, NULL, NULL, 8) == 1 && out[0].data.u64 == 77,
          "pwait2: no timeout, ready");
    DONE();
}
