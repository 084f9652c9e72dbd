/* timerfd in depth: TFD_TIMER_ABSTIME on MONOTONIC (future and past), the
 * expiration count of an interval timer, gettime's remaining time, the old
 * value settime returns, disarming with zero (the interval stays), re-arming
 * resets the count, every clock Linux accepts (BOOTTIME, REALTIME, the
 * *_ALARM ones need CAP_WAKE_ALARM), poll readable exactly while expirations
 * are pending, a blocking read woken by the expiration, interrupted by a
 * signal, in a thread, in a forked child, and the errors.  Written for the
 * emulation macOS hosts get (ELFUSE_HOST_COMPAT=darwin runs it on Linux); a
 * native Linux passes it too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#define MS 1000000L

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long spec_ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static struct itimerspec its_ms(long value_ms, long interval_ms) {
    struct itimerspec its = {{interval_ms / 1000, (interval_ms % 1000) * MS},
                             {value_ms / 1000, (value_ms % 1000) * MS}};
    return its;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static int tfd_thread;
static uint64_t thread_got;
static void *thread_reader(void *arg) {
    (void)arg;
    uint64_t n;
    if (read(tfd_thread, &n, 8) == 8) thread_got = n;
    return NULL;
}

int main(void) {
    uint64_t n;
    struct itimerspec its, cur, old;

    /* TFD_TIMER_ABSTIME on MONOTONIC, in the future: a blocking read waits for it */
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(fd >= 0, "timerfd_create(MONOTONIC, 0)");
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long start = spec_ns(now), due = start + 100 * MS;
    its = (struct itimerspec){{0, 0}, {due / 1000000000LL, due % 1000000000LL}};
    CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == 0, "arm ABSTIME now+100ms");
    CHECK(timerfd_gettime(fd, &cur) == 0 && spec_ns(cur.it_value) > 0 && spec_ns(cur.it_value) <= 100 * MS,
          "gettime: the remaining time, relative");
    CHECK(read(fd, &n, 8) == 8 && n == 1, "blocking read: one expiration");
    CHECK(mono_ns() >= due, "not before the absolute time");
    CHECK(timerfd_gettime(fd, &cur) == 0 && spec_ns(cur.it_value) == 0, "expired one-shot: gettime 0");

    /* ABSTIME in the past with an interval: 1 + the intervals since */
    clock_gettime(CLOCK_MONOTONIC, &now);
    its = (struct itimerspec){{0, 100 * MS}, {now.tv_sec - 1, now.tv_nsec}};
    CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == 0, "arm ABSTIME 1 s ago, every 100 ms");
    ssize_t got = read(fd, &n, 8);
    long long late = (mono_ns() - spec_ns(now)) / (100 * MS);
    CHECK(got == 8 && n >= 11 && (long long)n <= 11 + late, "11 expirations at once");
    CHECK(timerfd_gettime(fd, &cur) == 0 && spec_ns(cur.it_value) > 0 && spec_ns(cur.it_value) <= 100 * MS
          && spec_ns(cur.it_interval) == 100 * MS, "gettime: time to the next one, and the interval");

    /* an interval timer's count; gettime while expirations pile up */
    int p = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    its = its_ms(20, 20);
    long long t0 = mono_ns();
    CHECK(timerfd_settime(p, 0, &its, NULL) == 0, "arm every 20 ms");
    msleep(110);
    CHECK(timerfd_gettime(p, &cur) == 0 && spec_ns(cur.it_value) > 0 && spec_ns(cur.it_value) <= 20 * MS,
          "gettime between expirations: under one interval");
    CHECK(read(p, &n, 8) == 8, "read the count");
    long long el = (mono_ns() - t0) / MS;
    CHECK(n >= 5 && (long long)n <= el / 20, "one expiration per 20 ms elapsed");
    its = its_ms(500, 500);
    CHECK(timerfd_settime(p, 0, &its, NULL) == 0, "re-arm every 500 ms");
    CHECK_ERR(read(p, &n, 8), EAGAIN, "nothing pending after re-arming");
    struct pollfd pf = {p, POLLIN, 0};
    CHECK(poll(&pf, 1, 0) == 0, "not readable before the first expiration");
    CHECK(poll(&pf, 1, 5000) == 1 && pf.revents == POLLIN, "poll: readable at the expiration");
    CHECK(read(p, &n, 8) == 8 && n >= 1, "which the read returns");
    pf.revents = 0;
    CHECK(poll(&pf, 1, 0) == 0, "not readable right after the read");
    CHECK_ERR(read(p, &n, 8), EAGAIN, "the read took them all");

    /* settime's old value; disarm with zero keeps the interval */
    its = its_ms(0, 0);
    its.it_interval.tv_nsec = 5;
    CHECK(timerfd_settime(p, 0, &its, &old) == 0, "disarm with a zero value");
    CHECK(spec_ns(old.it_interval) == 500 * MS && spec_ns(old.it_value) > 0 && spec_ns(old.it_value) <= 500 * MS,
          "old value: interval and time left");
    CHECK(timerfd_gettime(p, &cur) == 0 && spec_ns(cur.it_value) == 0 && cur.it_interval.tv_nsec == 5,
          "disarmed: value 0, the interval given is kept");
    msleep(30);
    CHECK_ERR(read(p, &n, 8), EAGAIN, "a disarmed timer never expires");
    pf.revents = 0;
    CHECK(poll(&pf, 1, 0) == 0, "nor polls readable");

    /* re-arming resets the count */
    its = its_ms(10, 0);
    timerfd_settime(p, 0, &its, NULL);
    msleep(40);
    pf.revents = 0;
    CHECK(poll(&pf, 1, 0) == 1, "expired");
    its = its_ms(5000, 0);
    CHECK(timerfd_settime(p, 0, &its, &old) == 0 && spec_ns(old.it_value) == 0, "re-arm for 5 s");
    CHECK_ERR(read(p, &n, 8), EAGAIN, "the pending expiration went with it");
    pf.revents = 0;
    CHECK(poll(&pf, 1, 0) == 0, "and so did readiness");
    close(p);

    /* the other clocks */
    int b = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
    CHECK(b >= 0, "timerfd_create(BOOTTIME)");
    its = its_ms(30, 0);
    CHECK(timerfd_settime(b, 0, &its, NULL) == 0 && read(b, &n, 8) == 8 && n == 1, "BOOTTIME expires");
    close(b);
    int r = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    rt.tv_nsec += 300 * MS;
    if (rt.tv_nsec >= 1000000000L) { rt.tv_sec++; rt.tv_nsec -= 1000000000L; }
    its = (struct itimerspec){{0, 0}, rt};
    CHECK(timerfd_settime(r, TFD_TIMER_ABSTIME, &its, NULL) == 0, "REALTIME absolute now+300ms");
    CHECK_ERR(read(r, &n, 8), EAGAIN, "not yet");
    pf = (struct pollfd){r, POLLIN, 0};
    CHECK(poll(&pf, 1, 2000) == 1 && read(r, &n, 8) == 8 && n == 1, "then it expires");
    close(r);
    for (int c = CLOCK_REALTIME_ALARM; c <= CLOCK_BOOTTIME_ALARM; c++) {
        errno = 0;
        int a = timerfd_create(c, 0);
        CHECK(a >= 0 || errno == EPERM, "an ALARM clock: a timer with CAP_WAKE_ALARM, EPERM without");
        if (a >= 0) close(a);
    }
    CHECK_ERR(timerfd_create(CLOCK_TAI, 0), EINVAL, "CLOCK_TAI is EINVAL");
    CHECK_ERR(timerfd_create(CLOCK_MONOTONIC_RAW, 0), EINVAL, "CLOCK_MONOTONIC_RAW is EINVAL");
    CHECK_ERR(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL, "a CPU clock is EINVAL");
    CHECK_ERR(timerfd_create(-1, 0), EINVAL, "clock -1 is EINVAL");

    /* a blocking read: interrupted by a handled signal */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    its = its_ms(0, 0);
    timerfd_settime(fd, 0, &its, NULL);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_ERR(read(fd, &n, 8), EINTR, "blocking read of a disarmed timer: EINTR at a signal");
    CHECK(alarms == 1, "the handler ran");

    /* a thread blocked in read while the main thread runs */
    tfd_thread = fd;
    its = its_ms(60, 0);
    timerfd_settime(fd, 0, &its, NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_reader, NULL) == 0, "reader thread");
    volatile long spin = 0;
    long long t1 = mono_ns();
    while (mono_ns() - t1 < 20 * MS) spin++;
    pthread_join(th, NULL);
    CHECK(thread_got == 1 && spin > 0, "the thread's read returned the expiration");

    /* a forked child reads a timer the parent armed */
    its = its_ms(50, 0);
    timerfd_settime(fd, 0, &its, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t k = 0;
        _exit(read(fd, &k, 8) == 8 && k == 1 ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child's blocking read saw the inherited timer expire");

    /* many timers one after the other: closing one frees what it held */
    int made = 0;
    for (int i = 0; i < 300; i++) {
        int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        its = its_ms(1000, 0);
        if (t >= 0 && timerfd_settime(t, 0, &its, NULL) == 0) made++;
        close(t);
    }
    CHECK(made == 300, "300 timers created, armed and closed in turn");
    /* a dup keeps the timer when the first fd closes */
    int d1 = timerfd_create(CLOCK_MONOTONIC, 0), d2 = dup(d1);
    its = its_ms(20, 0);
    timerfd_settime(d1, 0, &its, NULL);
    close(d1);
    CHECK(read(d2, &n, 8) == 8 && n == 1, "the dup still expires after the original is closed");
    close(d2);

    /* errors */
    char small[4];
    CHECK_ERR(read(fd, small, 4), EINVAL, "a 4-byte read is EINVAL");
    n = 1;
    CHECK_ERR(write(fd, &n, 8), EINVAL, "write is EINVAL");
    CHECK_ERR(pread(fd, &n, 8, 0), ESPIPE, "pread is ESPIPE");
    its = its_ms(10, 0);
    its.it_value.tv_sec = -1;
    CHECK_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL, "a negative value is EINVAL");
    its = its_ms(10, 0);
    its.it_interval.tv_nsec = -1;
    CHECK_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL, "a negative interval is EINVAL");
    its = its_ms(10, 0);
    CHECK_ERR(timerfd_settime(fd, 4, &its, NULL), EINVAL, "unknown settime flags are EINVAL");
    CHECK(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0, "CANCEL_ON_SET alone is accepted");
    int e = eventfd(0, 0);
    CHECK_ERR(timerfd_settime(e, 0, &its, NULL), EINVAL, "settime on an eventfd is EINVAL");
    CHECK_ERR(timerfd_gettime(e, &cur), EINVAL, "gettime on an eventfd is EINVAL");
    close(e);
    CHECK_ERR(timerfd_gettime(e, &cur), EBADF, "gettime on a closed fd is EBADF");
    CHECK_ERR(timerfd_settime(-1, 0, &its, NULL), EBADF, "settime on fd -1 is EBADF");
    CHECK_ERR(timerfd_gettime(fd, (void *)8), EFAULT, "gettime to a bad pointer is EFAULT");
    close(fd);
    DONE();
}
