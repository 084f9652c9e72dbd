/* timerfd: one-shot and periodic timers, expiration counts, gettime,
 * absolute time, nonblocking reads and epoll on a timer. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    uint64_t n;
    struct itimerspec its = {0}, cur, old;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(fd >= 0, "timerfd_create MONOTONIC");
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "TFD_CLOEXEC");
    CHECK_ERR(read(fd, &n, 8), EAGAIN, "disarmed timer read is EAGAIN");
    CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0,
          "disarmed gettime is zero");

    its.it_value.tv_nsec = 30 * 1000000;            /* one shot in 30 ms */
    CHECK(timerfd_settime(fd, 0, &its, &old) == 0, "arm one-shot");
    CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0, "old value of a disarmed timer");
    CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0
          && cur.it_value.tv_nsec <= 30 * 1000000, "gettime counts down");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5}, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll on timerfd");
    CHECK(epoll_wait(ep, &out, 1, 2000) == 1 && out.data.u64 == 5, "epoll wakes on expiry");
    CHECK(read(fd, &n, 8) == 8 && n == 1, "one-shot expired once");
    CHECK_ERR(read(fd, &n, 8), EAGAIN, "nothing more after a one-shot");

    its.it_value.tv_nsec = 10 * 1000000;            /* every 10 ms */
    its.it_interval.tv_nsec = 10 * 1000000;
    struct timespec t0, t1, ts = {0, 55 * 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "arm periodic");
    nanosleep(&ts, NULL);
    ssize_t got = read(fd, &n, 8);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* at least 55 ms passed: 5 expirations; at most one per 10 ms elapsed */
    long elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(got == 8 && n >= 5 && (long)n <= elapsed_ms / 10 + 1, "periodic: one expiration per interval");
    CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_interval.tv_nsec == 10 * 1000000, "gettime interval");
    its = (struct itimerspec){0};
    CHECK(timerfd_settime(fd, 0, &its, &old) == 0 && old.it_interval.tv_nsec == 10 * 1000000,
          "disarm returns the old setting");

    /* absolute time in the past expires at once */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int rt = timerfd_create(CLOCK_REALTIME, 0);
    its.it_value.tv_sec = now.tv_sec - 1;
    its.it_value.tv_nsec = 0;
    CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME, &its, NULL) == 0, "arm absolute REALTIME");
    CHECK(read(rt, &n, 8) == 8 && n == 1, "blocking read: past absolute time expires at once");

    CHECK_ERR(timerfd_create(12345, 0), EINVAL, "bad clock is EINVAL");
    CHECK_ERR(timerfd_create(CLOCK_MONOTONIC, 0x1234), EINVAL, "bad flags are EINVAL");
    its.it_value.tv_nsec = 2000000000;
    CHECK_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL, "nsec out of range is EINVAL");
    CHECK_ERR(timerfd_settime(fd, 0x100, &its, NULL), EINVAL, "bad settime flags are EINVAL");
    CHECK_ERR(timerfd_settime(fd, 0, (void *)8, NULL), EFAULT, "bad pointer is EFAULT");
    CHECK_ERR(timerfd_settime(ep, 0, &its, NULL), EINVAL, "non-timerfd is EINVAL");
    CHECK_ERR(timerfd_gettime(999, &cur), EBADF, "bad fd is EBADF");
    DONE();
}
