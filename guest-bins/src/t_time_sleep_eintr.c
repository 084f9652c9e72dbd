/* Sleeps cut short by a handled signal: nanosleep and clock_nanosleep return
 * EINTR with the time left in `rem` (relative sleeps only), with and without
 * SA_RESTART, in a single- and a multi-threaded process (the main thread and a
 * second thread).  A tv_sec near 2^63 sleeps (interruptibly) or is EINVAL where
 * Linux says so; the other waits with such timeouts (ppoll, pselect, futex,
 * epoll_pwait2, sigtimedwait) wait until a signal, never fail. */
/* qemu-differs: qemu-user 7.2 has no epoll_pwait2 (ENOSYS) */
#define _GNU_SOURCE
#include "guest_test.h"
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static void on_sig(int s) { (void)s; hits++; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void alarm_in(long usec) {
    struct itimerval it = {{0, 0}, {usec / 1000000, usec % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void handle(int sig, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

static double ts_d(struct timespec t) { return t.tv_sec + t.tv_nsec / 1e9; }

static void sleep_checks(const char *who) {
    char what[160];
    struct timespec req = {2, 0}, rem = {-1, -1};
    double t0;

    /* nanosleep */
    hits = 0;
    alarm_in(100000);
    t0 = now();
    long r = syscall(SYS_nanosleep, &req, &rem);
    int e = errno;
    double took = now() - t0;
    snprintf(what, sizeof what, "%s: nanosleep cut short by SIGALRM: EINTR", who);
    errno = e;
    CHECK(r == -1 && e == EINTR && hits == 1, what);
    snprintf(what, sizeof what, "%s: ... early", who);
    CHECK(took < 1.5, what);
    snprintf(what, sizeof what, "%s: ... rem is the time left", who);
    CHECK(rem.tv_sec >= 0 && rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000 &&
          ts_d(rem) > 1.5 && ts_d(rem) < 2.0, what);

    /* clock_nanosleep, relative: the error number is returned */
    rem.tv_sec = rem.tv_nsec = -1;
    alarm_in(100000);
    int rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
    snprintf(what, sizeof what, "%s: clock_nanosleep(MONOTONIC) returns EINTR with rem", who);
    CHECK(rc == EINTR && ts_d(rem) > 1.5 && ts_d(rem) < 2.0, what);
    rem.tv_sec = rem.tv_nsec = -1;
    alarm_in(100000);
    rc = clock_nanosleep(CLOCK_REALTIME, 0, &req, &rem);
    snprintf(what, sizeof what, "%s: clock_nanosleep(REALTIME) returns EINTR with rem", who);
    CHECK(rc == EINTR && ts_d(rem) > 1.5 && ts_d(rem) < 2.0, what);

    /* absolute: EINTR, rem untouched */
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec += 2;
    rem.tv_sec = 77;
    rem.tv_nsec = 0;
    alarm_in(100000);
    t0 = now();
    rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem);
    snprintf(what, sizeof what, "%s: TIMER_ABSTIME cut short: EINTR, rem untouched", who);
    CHECK(rc == EINTR && now() - t0 < 1.5 && rem.tv_sec == 77, what);

    /* tv_sec near 2^63: a sleep of ~292 years, cut short like any other */
    struct timespec huge = {INT64_MAX, 999999999};
    rem.tv_sec = rem.tv_nsec = 0;
    alarm_in(100000);
    t0 = now();
    r = syscall(SYS_nanosleep, &huge, &rem);
    e = errno;
    snprintf(what, sizeof what, "%s: nanosleep(tv_sec=2^63-1) sleeps until the signal: EINTR", who);
    errno = e;
    CHECK(r == -1 && e == EINTR && now() - t0 < 1.5, what);
    snprintf(what, sizeof what, "%s: ... rem is huge", who);
    CHECK(rem.tv_sec > 1000000000LL, what);
    alarm_in(100000);
    rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &huge, NULL);
    snprintf(what, sizeof what, "%s: clock_nanosleep(ABSTIME, 2^63-1): EINTR", who);
    CHECK(rc == EINTR, what);
}

static void *blocker(void *arg) {
    /* A second thread that stays blocked: the process is multi-threaded. */
    int *fds = arg;
    char c;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (read(fds[0], &c, 1) < 0 && errno == EINTR) {}
    return NULL;
}

static volatile pid_t sleeper_tid;
static volatile int sleeper_rc = -2;
static struct timespec sleeper_rem;
static void *sleeper(void *arg) {
    (void)arg;
    struct timespec req = {3, 0};
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    sleeper_tid = (pid_t)syscall(SYS_gettid);
    sleeper_rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &sleeper_rem);
    return NULL;
}

static int futex_word;

int main(void) {
    handle(SIGALRM, 0);
    struct timespec req = {0, 0}, rem;
    CHECK(nanosleep(&req, &rem) == 0, "a zero nanosleep returns 0");
    struct timespec bad = {-1, 0};
    CHECK_ERR(syscall(SYS_nanosleep, &bad, &rem), EINVAL, "tv_sec -1: EINVAL");
    bad.tv_sec = 0;
    bad.tv_nsec = 1000000000;
    CHECK_ERR(syscall(SYS_nanosleep, &bad, &rem), EINVAL, "tv_nsec 1e9: EINVAL");
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, &rem) == EINVAL, "clock_nanosleep tv_nsec 1e9: EINVAL");
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &bad, &rem) == EINVAL,
          "clock_nanosleep ABSTIME tv_sec -1: EINVAL");

    sleep_checks("single-threaded");
    handle(SIGALRM, SA_RESTART);
    {
        struct timespec r2 = {2, 0}, left;
        alarm_in(100000);
        double t0 = now();
        long r = syscall(SYS_nanosleep, &r2, &left);
        CHECK(r == -1 && errno == EINTR && now() - t0 < 1.5, "SA_RESTART: nanosleep still EINTR");
    }
    handle(SIGALRM, 0);

    /* Other waits with a timeout near 2^63: they wait, a signal ends them. */
    {
        int p[2];
        pipe(p);
        struct pollfd pf = {p[0], POLLIN, 0};
        struct timespec huge = {INT64_MAX, 0};
        alarm_in(100000);
        CHECK_ERR(ppoll(&pf, 1, &huge, NULL), EINTR, "ppoll with tv_sec 2^63-1: waits, EINTR");
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(p[0], &rf);
        alarm_in(100000);
        CHECK_ERR(pselect(p[0] + 1, &rf, NULL, NULL, &huge, NULL), EINTR,
                  "pselect with tv_sec 2^63-1: waits, EINTR");
        alarm_in(100000);
        CHECK_ERR(syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &huge, NULL, 0), EINTR,
                  "futex wait with tv_sec 2^63-1: waits, EINTR");
        int ep = epoll_create1(0);
        struct epoll_event ev = {EPOLLIN, {0}}, out;
        epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
        alarm_in(100000);
        CHECK_ERR(syscall(SYS_epoll_pwait2, ep, &out, 1, &huge, NULL, 8), EINTR,
                  "epoll_pwait2 with tv_sec 2^63-1: waits, EINTR");
        alarm_in(100000);
        CHECK_ERR(epoll_wait(ep, &out, 1, 0x7fffffff), EINTR, "epoll_wait with INT_MAX ms: waits, EINTR");
        sigset_t s;
        siginfo_t si;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR2);
        sigprocmask(SIG_BLOCK, &s, NULL);
        alarm_in(100000);
        /* (the raw call: musl's sigtimedwait retries on EINTR) */
        CHECK_ERR(syscall(SYS_rt_sigtimedwait, &s, &si, &huge, 8), EINTR,
                  "rt_sigtimedwait with tv_sec 2^63-1: waits, EINTR");
        close(ep);
        close(p[0]);
        close(p[1]);
    }

    /* Multi-threaded: the same in the main thread while another thread blocks. */
    int p[2];
    pipe(p);
    pthread_t th;
    pthread_create(&th, NULL, blocker, p);
    usleep(20000);
    sleep_checks("multi-threaded");

    /* A second thread's sleep cut short by a signal aimed at it. */
    handle(SIGUSR1, 0);
    sigset_t s1;
    sigemptyset(&s1);
    sigaddset(&s1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s1, NULL);
    pthread_t th2;
    pthread_create(&th2, NULL, sleeper, NULL);
    while (!sleeper_tid) usleep(1000);
    usleep(100000);
    double t0 = now();
    pthread_kill(th2, SIGUSR1);
    pthread_join(th2, NULL);
    CHECK(sleeper_rc == EINTR && now() - t0 < 1.5, "a thread's clock_nanosleep cut short by pthread_kill: EINTR");
    CHECK(ts_d(sleeper_rem) > 2.0 && ts_d(sleeper_rem) < 3.0, "... with its rem");

    write(p[1], "x", 1);
    pthread_join(th, NULL);
    DONE();
}
