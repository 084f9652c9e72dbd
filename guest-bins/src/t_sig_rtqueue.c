/* Real-time signals are queued, never merged, each with its siginfo, up to
 * RLIMIT_SIGPENDING; delivered lowest number first and FIFO within one number;
 * standard signals merge but sigqueue's value rides along.  Within one process
 * (sigqueue to self, a chosen thread with rt_tgsigqueueinfo, SA_SIGINFO
 * handlers, signalfd) and between two processes (a forked child sigqueues 1000
 * values to its parent and the parent 1000 to the child; kill() of an RT
 * signal queues too).  glibc's and musl's internal signals (pthread_cancel)
 * keep working. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 1000

static volatile int order[64], norder;
static volatile int vals[N + 8], nvals;

static void on_info(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (norder < 64) order[norder++] = sig;
    if (nvals < N + 8 && si->si_code == SI_QUEUE) vals[nvals++] = si->si_value.sival_int;
}

static int drain(int sig, int *codes_ok, int *in_order, pid_t from) {
    sigset_t s;
    siginfo_t si;
    struct timespec zero = {0, 0};
    int n = 0;
    sigemptyset(&s);
    sigaddset(&s, sig);
    *codes_ok = *in_order = 1;
    while (sigtimedwait(&s, &si, &zero) == sig) {
        if (si.si_code != SI_QUEUE || si.si_pid != from || si.si_uid != getuid()) *codes_ok = 0;
        if (si.si_value.sival_int != n) *in_order = 0;
        n++;
    }
    return n;
}

static int wait_for(int sig, int want, pid_t from, int *in_order) {
    /* Blocking waits: the sender may still be sending. */
    sigset_t s;
    siginfo_t si;
    struct timespec ts = {10, 0};
    int n = 0;
    sigemptyset(&s);
    sigaddset(&s, sig);
    *in_order = 1;
    while (n < want && sigtimedwait(&s, &si, &ts) == sig) {
        if (si.si_code != SI_QUEUE || si.si_pid != from || si.si_value.sival_int != n) *in_order = 0;
        n++;
    }
    return n;
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static int tgsigqueue(pid_t tgid, pid_t tid, int sig, int val) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = val;
    return (int)syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si);
}

static volatile pid_t worker_tid;
static volatile int worker_got, worker_order;

static void *worker(void *arg) {
    (void)arg;
    sigset_t s;
    siginfo_t si;
    struct timespec ts = {10, 0};
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 4);
    worker_tid = gettid_();
    worker_order = 1;
    while (worker_got < 200 && sigtimedwait(&s, &si, &ts) == SIGRTMIN + 4) {
        if (si.si_value.sival_int != worker_got) worker_order = 0;
        worker_got++;
    }
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(void) {
    sigset_t rt, old;
    union sigval v;
    int codes_ok, in_order, n;
    pid_t me = getpid();

    sigemptyset(&rt);
    for (int i = 0; i <= 6; i++) sigaddset(&rt, SIGRTMIN + i);
    sigaddset(&rt, SIGUSR1);
    sigaddset(&rt, SIGUSR2);
    sigprocmask(SIG_BLOCK, &rt, &old);

    /* 1000 values to ourselves: all kept, in order, with their siginfo. */
    int sent = 0;
    for (int i = 0; i < N; i++) {
        v.sival_int = i;
        if (sigqueue(me, SIGRTMIN, v) == 0) sent++;
    }
    CHECK(sent == N, "1000 sigqueue to self succeed");
    n = drain(SIGRTMIN, &codes_ok, &in_order, me);
    CHECK(n == N, "1000 queued to self, 1000 taken");
    CHECK(codes_ok, "each with SI_QUEUE, our pid and uid");
    CHECK(in_order, "values in the order sent");

    /* A standard signal merges; sigqueue's value comes with the one instance. */
    v.sival_int = 42;
    sigqueue(me, SIGUSR2, v);
    v.sival_int = 43;
    sigqueue(me, SIGUSR2, v);
    {
        sigset_t s;
        siginfo_t si;
        struct timespec zero = {0, 0};
        sigemptyset(&s);
        sigaddset(&s, SIGUSR2);
        CHECK(sigtimedwait(&s, &si, &zero) == SIGUSR2 && si.si_code == SI_QUEUE &&
              si.si_value.sival_int == 42, "sigqueue of SIGUSR2: one instance with the first value");
        CHECK_ERR(sigtimedwait(&s, &si, &zero), EAGAIN, "the second SIGUSR2 merged");
    }

    /* Delivery order: lowest number first, FIFO within one number. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigfillset(&sa.sa_mask);          /* one at a time, so the order shows */
    sigaction(SIGRTMIN, &sa, NULL);
    sigaction(SIGRTMIN + 2, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 3; i++) { v.sival_int = 200 + i; sigqueue(me, SIGRTMIN + 2, v); }
    for (int i = 0; i < 3; i++) { v.sival_int = 100 + i; sigqueue(me, SIGRTMIN, v); }
    kill(me, SIGUSR1);
    kill(me, SIGUSR1);
    norder = nvals = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    int want_order[7] = {SIGUSR1, SIGRTMIN, SIGRTMIN, SIGRTMIN, SIGRTMIN + 2, SIGRTMIN + 2, SIGRTMIN + 2};
    int ok = norder == 7;
    for (int i = 0; ok && i < 7; i++) ok = order[i] == want_order[i];
    CHECK(ok, "delivered: SIGUSR1 once, then RTMIN x3, then RTMIN+2 x3");
    ok = nvals == 6 && vals[0] == 100 && vals[1] == 101 && vals[2] == 102 && vals[3] == 200 && vals[5] == 202;
    CHECK(ok, "each handler got its own si_value, FIFO");

    /* signalfd: several RT records in one read, with values. */
    {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGRTMIN + 1);
        int fd = signalfd(-1, &s, SFD_NONBLOCK);
        for (int i = 0; i < 5; i++) { v.sival_int = 7 + i; sigqueue(me, SIGRTMIN + 1, v); }
        struct signalfd_siginfo b[8];
        ssize_t r = read(fd, b, sizeof b);
        CHECK(r == 5 * (ssize_t)sizeof b[0], "signalfd: five queued RT records in one read");
        CHECK(r > 0 && b[0].ssi_int == 7 && b[4].ssi_int == 11 && b[2].ssi_code == SI_QUEUE,
              "signalfd: their values in order");
        close(fd);
    }

    /* RLIMIT_SIGPENDING: sigqueue gets EAGAIN at the limit; kill() still succeeds. */
    {
        struct rlimit rl, keep;
        getrlimit(RLIMIT_SIGPENDING, &keep);
        rl.rlim_cur = 20;
        rl.rlim_max = keep.rlim_max;
        CHECK(setrlimit(RLIMIT_SIGPENDING, &rl) == 0, "lower RLIMIT_SIGPENDING to 20");
        int q = 0, e = 0;
        for (int i = 0; i < 40; i++) {
            v.sival_int = i;
            if (sigqueue(me, SIGRTMIN + 3, v) == 0) q++;
            else if (errno == EAGAIN) e++;
        }
        CHECK(q > 0 && q <= 20 && q + e == 40, "sigqueue past the limit: EAGAIN");
        CHECK(kill(me, SIGRTMIN + 3) == 0, "kill() of an RT signal at the limit succeeds");
        n = drain(SIGRTMIN + 3, &codes_ok, &in_order, me);
        CHECK(n == q, "what was queued is what is taken");
        setrlimit(RLIMIT_SIGPENDING, &keep);
    }

    /* errors */
    v.sival_int = 1;
    CHECK_ERR(sigqueue(me, 65, v), EINVAL, "sigqueue of signal 65: EINVAL");
    {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = SIGRTMIN;
        si.si_code = SI_USER;
        CHECK(syscall(SYS_rt_sigqueueinfo, me, SIGRTMIN, &si) == 0, "rt_sigqueueinfo SI_USER to self: allowed");
        drain(SIGRTMIN, &codes_ok, &in_order, me);
        CHECK_ERR(syscall(SYS_rt_tgsigqueueinfo, me, 0x3fffffff, SIGRTMIN, &si), EPERM,
                  "rt_tgsigqueueinfo SI_USER to another thread: EPERM");
        si.si_code = SI_QUEUE;
        CHECK_ERR(syscall(SYS_rt_tgsigqueueinfo, me, 0, SIGRTMIN, &si), EINVAL, "rt_tgsigqueueinfo tid 0: EINVAL");
        CHECK_ERR(syscall(SYS_rt_tgsigqueueinfo, me, 0x3fffffff, SIGRTMIN, &si), ESRCH,
                  "rt_tgsigqueueinfo to no such thread: ESRCH");
    }

    /* A chosen thread: 200 values with rt_tgsigqueueinfo, FIFO. */
    {
        pthread_t th;
        pthread_create(&th, NULL, worker, NULL);
        while (!worker_tid) usleep(1000);
        int s2 = 0;
        for (int i = 0; i < 200; i++) if (tgsigqueue(me, worker_tid, SIGRTMIN + 4, i) == 0) s2++;
        pthread_join(th, NULL);
        CHECK(s2 == 200 && worker_got == 200, "200 values to one thread: all arrive");
        CHECK(worker_order, "the thread took them in order");
    }

    /* pthread_cancel (the libc's internal signal) still works. */
    {
        pthread_t th;
        void *res = NULL;
        pthread_create(&th, NULL, sleeper, NULL);
        usleep(20000);
        CHECK(pthread_cancel(th) == 0, "pthread_cancel");
        CHECK(pthread_join(th, &res) == 0 && res == PTHREAD_CANCELED, "the cancelled thread ends");
    }

    /* Between processes: a child sends 1000 values to its parent ... */
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < N; i++) {
            v.sival_int = i;
            while (sigqueue(getppid(), SIGRTMIN + 5, v) != 0 && errno == EAGAIN) usleep(1000);
        }
        for (int i = 0; i < 10; i++) kill(getppid(), SIGRTMIN + 6);
        /* ... and receives 1000 from it. */
        int ord;
        int got = wait_for(SIGRTMIN, N, getppid(), &ord);
        /* Two sigqueue of SIGUSR1: one instance, the first value, the sender's pid. */
        usleep(300000);
        siginfo_t si;
        struct timespec ts = {5, 0}, zero = {0, 0};
        sigset_t u;
        sigemptyset(&u);
        sigaddset(&u, SIGUSR1);
        int one = sigtimedwait(&u, &si, &ts) == SIGUSR1 && si.si_code == SI_QUEUE &&
                  si.si_value.sival_int == 4242 && si.si_pid == getppid();
        int merged = sigtimedwait(&u, &si, &zero) == -1;
        _exit(got != N || !ord ? 1 : !one ? 2 : !merged ? 3 : 0);
    }
    n = wait_for(SIGRTMIN + 5, N, c, &in_order);
    CHECK(n == N, "1000 sigqueue from a child: 1000 received");
    CHECK(in_order, "with the child's pid, SI_QUEUE and the values in order");
    {
        sigset_t s;
        siginfo_t si;
        struct timespec ts = {10, 0};
        int k = 0, from = 1;
        sigemptyset(&s);
        sigaddset(&s, SIGRTMIN + 6);
        while (k < 10 && sigtimedwait(&s, &si, &ts) == SIGRTMIN + 6) {
            if (si.si_code != SI_USER || si.si_pid != c) from = 0;
            k++;
        }
        CHECK(k == 10, "kill() of an RT signal 10 times from a child: 10 queued");
        CHECK(from, "each SI_USER with the child's pid");
    }
    sent = 0;
    for (int i = 0; i < N; i++) {
        v.sival_int = i;
        if (sigqueue(c, SIGRTMIN, v) == 0) sent++;
    }
    CHECK(sent == N, "1000 sigqueue to the child succeed");
    v.sival_int = 4242;
    sigqueue(c, SIGUSR1, v);
    v.sival_int = 4343;
    sigqueue(c, SIGUSR1, v);
    int st = -1;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 1, "the child received all 1000, in order");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "sigqueue of SIGUSR1 twice to another process: one instance with the first value");

    /* A handler in another process gets the value: the child handles, the parent sends. */
    c = fork();
    if (c == 0) {
        nvals = 0;
        sigaction(SIGRTMIN + 1, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        kill(getppid(), SIGUSR2);        /* ready */
        time_t end = time(NULL) + 10;
        while (nvals < 100 && time(NULL) < end) usleep(1000);
        int good = nvals == 100;
        for (int i = 0; good && i < 100; i++) good = vals[i] == i;
        _exit(good ? 0 : 1);
    }
    {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGUSR2);
        int sig;
        sigwait(&s, &sig);
        for (int i = 0; i < 100; i++) { v.sival_int = i; sigqueue(c, SIGRTMIN + 1, v); }
        waitpid(c, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SA_SIGINFO handler of a child: 100 values in order");
    }

    /* Nobody there. */
    c = fork();
    if (c == 0) _exit(0);
    waitpid(c, NULL, 0);
    CHECK_ERR(sigqueue(c, SIGRTMIN, v), ESRCH, "sigqueue to a reaped child: ESRCH");
    DONE();
}
