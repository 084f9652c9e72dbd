/* POSIX timers: timer_create on each clock Linux takes, SIGEV_SIGNAL (si_code
 * SI_TIMER, si_timerid, si_value, si_overrun), the NULL sigevent's defaults,
 * SIGEV_NONE, SIGEV_THREAD_ID to a chosen thread, SIGEV_THREAD (the libc's
 * helper thread), timer_settime relative/TIMER_ABSTIME/interval/old value,
 * timer_gettime, timer_getoverrun counting expirations while the signal is
 * pending, timer_delete, CPU-time timers, no timers in a fork child, and the
 * errors (EINVAL, EOPNOTSUPP, EFAULT). */
/* qemu-differs: qemu-user 7.2 hands out its own timer ids (0xcafe0000 | n), so si_timerid
 * and the NULL sigevent's value are not the ids timer_create returned */
#define _GNU_SOURCE
#include "guest_test.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The kernel's struct sigevent (the libcs' layouts differ in the tail). */
struct ksigevent {
    union sigval value;
    int signo;
    int notify;
    int tid;
    int pad[11];
};
#define K_SIGEV_THREAD_ID 4

static int kcreate(clockid_t clk, struct ksigevent *ev, int *id) {
    return (int)syscall(SYS_timer_create, clk, ev, id);
}

static int kset(int id, int flags, long isec, long insec, long vsec, long vnsec, struct itimerspec *old) {
    struct itimerspec its = {{isec, insec}, {vsec, vnsec}};
    return (int)syscall(SYS_timer_settime, id, flags, &its, old);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static volatile sig_atomic_t alrm_hits, alrm_code, alrm_val, cpu_fired;
static void on_alrm(int s, siginfo_t *si, void *uc) {
    (void)s; (void)uc;
    alrm_hits++;
    alrm_code = si->si_code;
    alrm_val = si->si_value.sival_int;
}
static void on_cpu(int s) { (void)s; cpu_fired = 1; }

static int wait_sig(int sig, siginfo_t *si, int sec) {
    sigset_t s;
    struct timespec ts = {sec, 0};
    sigemptyset(&s);
    sigaddset(&s, sig);
    return sigtimedwait(&s, si, &ts);
}

static volatile pid_t worker_tid;
static volatile int worker_sig, worker_val, worker_code;
static void *worker(void *arg) {
    (void)arg;
    siginfo_t si;
    worker_tid = (pid_t)syscall(SYS_gettid);
    if (wait_sig(SIGRTMIN + 2, &si, 5) == SIGRTMIN + 2) {
        worker_sig = si.si_signo;
        worker_val = si.si_value.sival_int;
        worker_code = si.si_code;
    }
    return NULL;
}

static volatile int thread_calls, thread_val;
static void on_thread(union sigval v) {
    thread_val = v.sival_int;
    __atomic_add_fetch(&thread_calls, 1, __ATOMIC_SEQ_CST);
}

int main(void) {
    sigset_t block;
    sigemptyset(&block);
    for (int i = 0; i <= 3; i++) sigaddset(&block, SIGRTMIN + i);
    sigprocmask(SIG_BLOCK, &block, NULL);
    siginfo_t si;
    struct itimerspec cur, old;
    int id = -1, id2 = -1;

    /* SIGEV_SIGNAL with a value, one shot. */
    struct ksigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.notify = SIGEV_SIGNAL;
    ev.signo = SIGRTMIN;
    ev.value.sival_int = 1234;
    CHECK(kcreate(CLOCK_MONOTONIC, &ev, &id) == 0 && id >= 0, "timer_create(MONOTONIC, SIGEV_SIGNAL)");
    CHECK(kcreate(CLOCK_MONOTONIC, &ev, &id2) == 0 && id2 != id, "a second timer gets another id");
    CHECK(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0,
          "a new timer is disarmed");
    double t0 = now();
    CHECK(kset(id, 0, 0, 0, 0, 100000000, NULL) == 0, "timer_settime 100 ms");
    CHECK(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec == 0 &&
          cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 100000000, "timer_gettime: time left <= 100 ms");
    int r = wait_sig(SIGRTMIN, &si, 5);
    double took = now() - t0;
    CHECK(r == SIGRTMIN && took >= 0.09 && took < 2.0, "the signal comes at expiry");
    CHECK(si.si_code == SI_TIMER, "si_code SI_TIMER");
    CHECK(si.si_value.sival_int == 1234, "si_value is sigev_value");
    CHECK(si.si_timerid == id, "si_timerid is the timer's id");
    CHECK(si.si_overrun == 0, "si_overrun 0");
    CHECK(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0,
          "a one-shot timer that fired is disarmed");

    /* Interval timer, signal blocked: expirations while pending are overruns. */
    CHECK(kset(id, 0, 0, 10000000, 0, 10000000, &old) == 0 && old.it_value.tv_nsec == 0,
          "timer_settime 10 ms interval, old value disarmed");
    usleep(250000);
    r = wait_sig(SIGRTMIN, &si, 5);
    CHECK(r == SIGRTMIN && si.si_overrun >= 5 && si.si_overrun <= 30, "overruns counted while pending");
    int ov = (int)syscall(SYS_timer_getoverrun, id);
    CHECK(ov == si.si_overrun, "timer_getoverrun = si_overrun of the last signal");
    r = wait_sig(SIGRTMIN, &si, 5);
    CHECK(r == SIGRTMIN && si.si_overrun < 5, "the next one: few overruns");
    CHECK(kset(id, 0, 0, 0, 0, 0, &old) == 0 && old.it_interval.tv_nsec == 10000000 &&
          old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 10000000, "disarm: old value and interval");
    struct timespec zero = {0, 0};
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGRTMIN);
    while (sigtimedwait(&one, &si, &zero) > 0) {}
    usleep(50000);
    CHECK_ERR(sigtimedwait(&one, &si, &zero), EAGAIN, "a disarmed timer sends nothing");

    /* TIMER_ABSTIME on CLOCK_REALTIME. */
    {
        int rid;
        ev.signo = SIGRTMIN + 1;
        ev.value.sival_int = 77;
        CHECK(kcreate(CLOCK_REALTIME, &ev, &rid) == 0, "timer_create(REALTIME)");
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        long ns = rt.tv_nsec + 100000000;
        t0 = now();
        CHECK(kset(rid, TIMER_ABSTIME, 0, 0, rt.tv_sec + ns / 1000000000, ns % 1000000000, NULL) == 0,
              "timer_settime TIMER_ABSTIME now+100 ms");
        r = wait_sig(SIGRTMIN + 1, &si, 5);
        CHECK(r == SIGRTMIN + 1 && si.si_value.sival_int == 77 && now() - t0 >= 0.09,
              "an absolute REALTIME expiry");
        CHECK(kset(rid, TIMER_ABSTIME, 0, 0, 1, 0, NULL) == 0, "an absolute time in the past");
        r = wait_sig(SIGRTMIN + 1, &si, 5);
        CHECK(r == SIGRTMIN + 1, "fires at once");
        CHECK(syscall(SYS_timer_delete, rid) == 0, "timer_delete");
        CHECK_ERR(syscall(SYS_timer_delete, rid), EINVAL, "timer_delete twice: EINVAL");
        CHECK_ERR(syscall(SYS_timer_gettime, rid, &cur), EINVAL, "a deleted timer: EINVAL");
    }

    /* BOOTTIME and TAI take timers too. */
    {
        int b, t;
        ev.signo = SIGRTMIN + 3;
        CHECK(kcreate(CLOCK_BOOTTIME, &ev, &b) == 0, "timer_create(BOOTTIME)");
        CHECK(kcreate(CLOCK_TAI, &ev, &t) == 0, "timer_create(TAI)");
        CHECK(kset(b, 0, 0, 0, 0, 20000000, NULL) == 0 && wait_sig(SIGRTMIN + 3, &si, 5) == SIGRTMIN + 3,
              "a BOOTTIME timer fires");
        syscall(SYS_timer_delete, b);
        syscall(SYS_timer_delete, t);
    }

    /* The NULL sigevent: SIGALRM, si_value = the timer id. */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_alrm;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGALRM, &sa, NULL);
        int nid;
        CHECK(kcreate(CLOCK_MONOTONIC, NULL, &nid) == 0, "timer_create with a NULL sigevent");
        kset(nid, 0, 0, 0, 0, 20000000, NULL);
        double end = now() + 5;
        while (!alrm_hits && now() < end) usleep(1000);
        CHECK(alrm_hits == 1 && alrm_code == SI_TIMER && alrm_val == nid,
              "SIGALRM to the handler, SI_TIMER, value = timer id");
        syscall(SYS_timer_delete, nid);
    }

    /* SIGEV_NONE: nothing is sent; the timer still counts down. */
    {
        int nid;
        ev.notify = SIGEV_NONE;
        ev.signo = 0;
        CHECK(kcreate(CLOCK_MONOTONIC, &ev, &nid) == 0, "timer_create SIGEV_NONE (signo 0 is fine)");
        kset(nid, 0, 0, 0, 0, 300000000, NULL);
        usleep(100000);
        CHECK(syscall(SYS_timer_gettime, nid, &cur) == 0 && cur.it_value.tv_nsec > 0 &&
              cur.it_value.tv_nsec < 250000000, "SIGEV_NONE: gettime counts down");
        syscall(SYS_timer_delete, nid);
        ev.notify = SIGEV_SIGNAL;
    }

    /* SIGEV_THREAD_ID: to a chosen thread. */
    {
        pthread_t th;
        sigset_t b2;
        sigemptyset(&b2);
        sigaddset(&b2, SIGRTMIN + 2);
        sigprocmask(SIG_BLOCK, &b2, NULL);
        pthread_create(&th, NULL, worker, NULL);
        while (!worker_tid) usleep(1000);
        int tid_timer;
        ev.notify = K_SIGEV_THREAD_ID;
        ev.signo = SIGRTMIN + 2;
        ev.tid = worker_tid;
        ev.value.sival_int = 555;
        CHECK(kcreate(CLOCK_MONOTONIC, &ev, &tid_timer) == 0, "timer_create SIGEV_THREAD_ID");
        kset(tid_timer, 0, 0, 0, 0, 50000000, NULL);
        pthread_join(th, NULL);
        CHECK(worker_sig == SIGRTMIN + 2 && worker_val == 555 && worker_code == SI_TIMER,
              "the chosen thread got it, with its value");
        syscall(SYS_timer_delete, tid_timer);
        ev.tid = 0x3ffffff0;
        CHECK_ERR(kcreate(CLOCK_MONOTONIC, &ev, &tid_timer), EINVAL, "SIGEV_THREAD_ID of no thread: EINVAL");
        ev.notify = SIGEV_SIGNAL;
    }

    /* SIGEV_THREAD: the libc runs the function in a thread. */
    {
        struct sigevent sev;
        timer_t lt;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = on_thread;
        sev.sigev_value.sival_int = 99;
        CHECK(timer_create(CLOCK_MONOTONIC, &sev, &lt) == 0, "timer_create SIGEV_THREAD (libc)");
        struct itimerspec its = {{0, 20000000}, {0, 20000000}};
        CHECK(timer_settime(lt, 0, &its, NULL) == 0, "timer_settime of it");
        double end = now() + 5;
        while (__atomic_load_n(&thread_calls, __ATOMIC_SEQ_CST) < 3 && now() < end) usleep(5000);
        CHECK(thread_calls >= 3 && thread_val == 99, "the function ran in a thread, with the value");
        CHECK(timer_delete(lt) == 0, "timer_delete of it");
    }

    /* CPU-time clocks. */
    {
        int cid;
        clockid_t mine;
        CHECK(clock_getcpuclockid(0, &mine) == 0, "clock_getcpuclockid(0)");
        ev.signo = SIGPROF;
        signal(SIGPROF, on_cpu);
        CHECK(kcreate(CLOCK_PROCESS_CPUTIME_ID, &ev, &cid) == 0, "timer_create(PROCESS_CPUTIME_ID)");
        kset(cid, 0, 0, 0, 0, 50000000, NULL);
        double end = now() + 10;
        volatile unsigned long spin = 0;
        while (!cpu_fired && now() < end) spin++;
        CHECK(cpu_fired, "a CPU-time timer fires while the process runs");
        syscall(SYS_timer_delete, cid);
        CHECK(kcreate(mine, &ev, &cid) == 0, "timer_create on clock_getcpuclockid(0)'s clock");
        syscall(SYS_timer_delete, cid);
        CHECK(kcreate(CLOCK_THREAD_CPUTIME_ID, &ev, &cid) == 0, "timer_create(THREAD_CPUTIME_ID)");
        syscall(SYS_timer_delete, cid);
        clockid_t tc;
        CHECK(pthread_getcpuclockid(pthread_self(), &tc) == 0 && kcreate(tc, &ev, &cid) == 0,
              "timer_create on pthread_getcpuclockid's clock");
        syscall(SYS_timer_delete, cid);
    }

    /* The alarm clocks: CAP_WAKE_ALARM (EPERM without), and a kernel without an
     * RTC says EOPNOTSUPP first. */
    {
        int a;
        errno = 0;
        int ra = kcreate(CLOCK_REALTIME_ALARM, &ev, &a);
        CHECK(ra == 0 || errno == EPERM || errno == EOPNOTSUPP, "timer_create(REALTIME_ALARM): ok, EPERM or EOPNOTSUPP");
        if (ra == 0) syscall(SYS_timer_delete, a);
        errno = 0;
        ra = kcreate(CLOCK_BOOTTIME_ALARM, &ev, &a);
        CHECK(ra == 0 || errno == EPERM || errno == EOPNOTSUPP, "timer_create(BOOTTIME_ALARM): ok, EPERM or EOPNOTSUPP");
        if (ra == 0) syscall(SYS_timer_delete, a);
    }

    /* Errors. */
    int bad;
    CHECK_ERR(kcreate(99, &ev, &bad), EINVAL, "an unknown clock: EINVAL");
    CHECK_ERR(kcreate(CLOCK_MONOTONIC_RAW, &ev, &bad), EOPNOTSUPP, "MONOTONIC_RAW: EOPNOTSUPP");
    CHECK_ERR(kcreate(CLOCK_REALTIME_COARSE, &ev, &bad), EOPNOTSUPP, "REALTIME_COARSE: EOPNOTSUPP");
    ev.notify = 99;
    CHECK_ERR(kcreate(CLOCK_MONOTONIC, &ev, &bad), EINVAL, "sigev_notify 99: EINVAL");
    ev.notify = SIGEV_SIGNAL;
    ev.signo = 0;
    CHECK_ERR(kcreate(CLOCK_MONOTONIC, &ev, &bad), EINVAL, "SIGEV_SIGNAL with signal 0: EINVAL");
    ev.signo = 65;
    CHECK_ERR(kcreate(CLOCK_MONOTONIC, &ev, &bad), EINVAL, "signal 65: EINVAL");
    ev.signo = SIGRTMIN;
    CHECK_ERR(kcreate(CLOCK_MONOTONIC, (void *)8, &bad), EFAULT, "a bad sigevent pointer: EFAULT");
    CHECK_ERR(kcreate(CLOCK_MONOTONIC, &ev, (void *)8), EFAULT, "a bad timer id pointer: EFAULT");
    CHECK_ERR(syscall(SYS_timer_settime, 12345, 0, &cur, NULL), EINVAL, "timer_settime of no timer: EINVAL");
    CHECK_ERR(kset(id, 0, 0, 0, 0, 1000000000, NULL), EINVAL, "tv_nsec 1e9: EINVAL");
    CHECK_ERR(kset(id, 0, 0, 0, -1, 0, NULL), EINVAL, "tv_sec -1: EINVAL");
    CHECK_ERR(syscall(SYS_timer_settime, id, 0, (void *)8, NULL), EFAULT, "a bad new value: EFAULT");
    CHECK_ERR(syscall(SYS_timer_gettime, id, (void *)8), EFAULT, "timer_gettime to a bad pointer: EFAULT");
    CHECK_ERR(syscall(SYS_timer_getoverrun, 12345), EINVAL, "timer_getoverrun of no timer: EINVAL");
    CHECK_ERR(syscall(SYS_timer_delete, -1), EINVAL, "timer_delete(-1): EINVAL");

    /* A fork child has no timers. */
    kset(id, 0, 0, 0, 5, 0, NULL);
    pid_t c = fork();
    if (c == 0) {
        struct itimerspec x;
        _exit(syscall(SYS_timer_gettime, id, &x) == -1 && errno == EINVAL ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork child does not inherit timers");
    CHECK(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec >= 4, "the parent's still runs");
    CHECK(syscall(SYS_timer_delete, id) == 0 && syscall(SYS_timer_delete, id2) == 0, "delete the rest");
    DONE();
}
