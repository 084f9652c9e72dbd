/* rt_sigtimedwait (sigtimedwait, sigwaitinfo, sigwait): pending signals of the
 * set taken without running their handlers, siginfo (SI_USER, SI_QUEUE and the
 * value, SI_TKILL), a signal from another process (already pending, or sent
 * while the caller waits), EAGAIN at the timeout, EINTR when another handled
 * signal arrives, the timeout's validation. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, usr1_handled;
static void on_alarm(int s) { (void)s; alarms++; }
static void on_usr1(int s) { (void)s; usr1_handled++; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    sigset_t s, old;
    siginfo_t si;
    struct timespec ts = {5, 0};
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, &old);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    /* Validation. */
    struct timespec bad = {0, 1000000000};
    CHECK_ERR(sigtimedwait(&s, &si, &bad), EINVAL, "tv_nsec 1e9: EINVAL");
    struct timespec neg = {-1, 0};
    CHECK_ERR(sigtimedwait(&s, &si, &neg), EINVAL, "negative tv_sec: EINVAL");
    CHECK_ERR(syscall(SYS_rt_sigtimedwait, &s, &si, &ts, 4), EINVAL, "sigsetsize 4: EINVAL");
    struct timespec zero = {0, 0};
    CHECK_ERR(sigtimedwait(&s, &si, &zero), EAGAIN, "zero timeout, nothing pending: EAGAIN");
    double t0 = now();
    struct timespec short_ts = {0, 150000000};
    CHECK_ERR(sigtimedwait(&s, &si, &short_ts), EAGAIN, "150 ms timeout: EAGAIN");
    CHECK(now() - t0 >= 0.14, "and it waited the timeout");

    /* Pending signals: lowest first, the handler never runs. */
    raise(SIGUSR2);
    raise(SIGUSR1);
    /* (the raw syscall: glibc's wrapper folds SI_TKILL into SI_USER) */
    CHECK(syscall(SYS_rt_sigtimedwait, &s, &si, &zero, 8) == SIGUSR1 && si.si_signo == SIGUSR1, "lowest pending first");
    CHECK(si.si_code == SI_TKILL && si.si_pid == getpid() && si.si_uid == getuid(), "raise: SI_TKILL, our pid/uid");
    CHECK(sigwaitinfo(&s, &si) == SIGUSR2, "sigwaitinfo takes the other");
    CHECK(usr1_handled == 0, "the SIGUSR1 handler did not run");

    /* sigqueue to self: SI_QUEUE and the value; kill: SI_USER. */
    union sigval v = {.sival_int = 777};
    sigqueue(getpid(), SIGUSR2, v);
    CHECK(sigtimedwait(&s, &si, &ts) == SIGUSR2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 777
          && si.si_pid == getpid(), "sigqueue: SI_QUEUE, value, pid");
    kill(getpid(), SIGUSR1);
    CHECK(sigtimedwait(&s, &si, &ts) == SIGUSR1 && si.si_code == SI_USER, "kill(self): SI_USER");
    int sig = 0;
    raise(SIGUSR2);
    CHECK(sigwait(&s, &sig) == 0 && sig == SIGUSR2, "sigwait");

    /* From another process: already pending in the host kernel, then sent while we wait. */
    pid_t parent = getpid(), c = fork();
    if (c == 0) { kill(parent, SIGUSR2); _exit(0); }
    waitpid(c, NULL, 0);
    CHECK(sigtimedwait(&s, &si, &ts) == SIGUSR2 && si.si_code == SI_USER, "a child's kill, already pending");
    c = fork();
    if (c == 0) { usleep(200000); kill(parent, SIGUSR1); _exit(0); }
    t0 = now();
    CHECK(sigtimedwait(&s, &si, &ts) == SIGUSR1 && now() - t0 < 4.0, "a child's kill while we wait (timeout)");
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) { usleep(200000); kill(parent, SIGUSR2); _exit(0); }
    CHECK(sigwaitinfo(&s, &si) == SIGUSR2, "a child's kill while we wait (no timeout)");
    waitpid(c, NULL, 0);
    CHECK(usr1_handled == 0, "no handler ran for the waited signals");

    /* Another handled signal arrives during the wait: EINTR, and its handler ran
     * (the raw syscall: musl's wrappers retry on EINTR), with or without SA_RESTART. */
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_ERR(syscall(SYS_rt_sigtimedwait, &s, &si, &ts, 8), EINTR, "SIGALRM during the wait: EINTR");
    CHECK(alarms == 1, "the SIGALRM handler ran");
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_ERR(syscall(SYS_rt_sigtimedwait, &s, &si, NULL, 8), EINTR, "SA_RESTART does not restart it: EINTR");
    CHECK(alarms == 2, "the handler ran again");

    /* Waiting for an unblocked, handled signal takes it instead of its handler. */
    sigset_t a;
    sigemptyset(&a);
    sigaddset(&a, SIGALRM);
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK(sigtimedwait(&a, &si, &ts) == SIGALRM && si.si_signo == SIGALRM, "an unblocked signal of the set is taken");
    CHECK(alarms == 2, "its handler did not run");

    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(usr1_handled == 0, "nothing left pending");
    DONE();
}
