/* Atomics between processes that share memory: exact totals.
 *
 * 2 and 4 forked processes add to one counter in a MAP_SHARED anonymous page
 * N times each with LDXR/STXR, LDADD (LSE), a CAS loop, the compiler's
 * __atomic_fetch_add, and a process-shared pthread mutex around a plain
 * counter; every total must be exact.  Under elfuse-py each process runs on
 * an engine of its own, and unicorn translates atomics as plain loads and
 * stores, so this needs the execution token (runtime/exectoken.py).  Also: a
 * member spinning on a shared flag the other sets after computing a while
 * (no starvation), a member stopped with SIGSTOP by the other (which must
 * still run), SysV shm, and a shared mapping made writable by mprotect.
 * qemu-user gives the same exact totals. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

#define N 200000

struct shared {
    volatile uint32_t counter;
    volatile uint64_t counter64;
    volatile uint32_t flag;
    volatile uint32_t started;
    pthread_mutex_t mutex;
};

static void add_ldxr(volatile uint32_t *p) {
    uint32_t tmp, fail;
    __asm__ volatile(
        "1: ldxr %w0, [%2]\n"
        "   add %w0, %w0, #1\n"
        "   stxr %w1, %w0, [%2]\n"
        "   cbnz %w1, 1b\n"
        : "=&r"(tmp), "=&r"(fail) : "r"(p) : "memory");
}

static void add_ldaxr64(volatile uint64_t *p) {
    uint64_t tmp;
    uint32_t fail;
    __asm__ volatile(
        "1: ldaxr %0, [%2]\n"
        "   add %0, %0, #1\n"
        "   stlxr %w1, %0, [%2]\n"
        "   cbnz %w1, 1b\n"
        : "=&r"(tmp), "=&r"(fail) : "r"(p) : "memory");
}

static void add_ldadd(volatile uint32_t *p) {
    uint32_t one = 1, old;
    __asm__ volatile(
        ".arch_extension lse\n"
        "ldaddal %w1, %w0, [%2]\n"
        : "=&r"(old) : "r"(one), "r"(p) : "memory");
    (void)old;
}

static void add_cas(volatile uint32_t *p) {
    uint32_t seen = *p;
    for (;;) {
        uint32_t expect = seen, cur = seen;
        __asm__ volatile(
            ".arch_extension lse\n"
            "casal %w0, %w1, [%2]\n"
            : "+r"(cur) : "r"(expect + 1), "r"(p) : "memory");
        if (cur == expect)
            return;
        seen = cur;
    }
}

static void add_builtin(volatile uint32_t *p) {
    __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST);
}

static struct shared *sh;

static void add_mutex(volatile uint32_t *p) {
    pthread_mutex_lock(&sh->mutex);
    *p = *p + 1;
    pthread_mutex_unlock(&sh->mutex);
}

/* `procs` processes (this one and procs-1 children) each call `add` N times. */
static int run_kind(const char *name, void (*add)(volatile uint32_t *), int procs) {
    sh->counter = 0;
    pid_t kids[8];
    for (int k = 0; k < procs - 1; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < N; i++)
                add(&sh->counter);
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++)
        add(&sh->counter);
    int ok = 1;
    for (int k = 0; k < procs - 1; k++) {
        int st;
        if (waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st))
            ok = 0;
    }
    char what[128];
    snprintf(what, sizeof what, "%s: %d processes x %d adds = %u", name, procs, N, procs * N);
    if (sh->counter != (uint32_t)(procs * N))
        printf("# %s: got %u\n", name, sh->counter);
    CHECK(ok && sh->counter == (uint32_t)(procs * N), what);
    return 0;
}

static void test_ldaxr64(void) {
    sh->counter64 = 0;
    pid_t kid = fork();
    if (kid == 0) {
        for (int i = 0; i < N; i++)
            add_ldaxr64(&sh->counter64);
        _exit(0);
    }
    for (int i = 0; i < N; i++)
        add_ldaxr64(&sh->counter64);
    waitpid(kid, NULL, 0);
    CHECK(sh->counter64 == 2ull * N, "64-bit LDAXR/STLXR: 2 processes, exact total");
}

/* Members with threads: 2 processes x 2 threads, LDXR/STXR. */
static void *thread_adds(void *arg) {
    for (int i = 0; i < N / 2; i++)
        add_ldxr(&sh->counter);
    return arg;
}

static void both_threads(void) {
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, thread_adds, NULL);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
}

static void test_threads(void) {
    sh->counter = 0;
    pid_t kid = fork();
    if (kid == 0) {
        both_threads();
        _exit(0);
    }
    both_threads();
    waitpid(kid, NULL, 0);
    CHECK(sh->counter == 2u * N, "2 processes x 2 threads, LDXR/STXR: exact total");
}

/* A member spinning (no syscalls) on a flag the other sets after computing a
 * while: the computing one must get to run (no starvation). */
static void test_spin(void) {
    sh->flag = 0;
    alarm(60);
    pid_t kid = fork();
    if (kid == 0) {
        while (!sh->flag)
            ;
        _exit(0);
    }
    volatile uint64_t x = 1;
    for (int i = 0; i < 3000000; i++)         /* computes, no syscalls */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    sh->flag = 1;
    int st;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "a spinning process lets the other compute and set its flag");
    alarm(0);
}

/* A member stopped with SIGSTOP while it computes must not stop the other
 * (a few rounds: the stop must come while it runs guest code). */
static void test_stopped(void) {
    sh->counter = 0;
    sh->started = 0;
    alarm(60);
    pid_t kid = fork();
    if (kid == 0) {
        sh->started = 1;
        for (;;)
            add_ldxr(&sh->counter);          /* until killed */
    }
    while (!sh->started)
        ;
    int stopped = 1, ran = 1, still = 1, resumed = 1, st;
    for (int round = 0; round < 5; round++) {
        if (kill(kid, SIGSTOP) != 0 || waitpid(kid, &st, WUNTRACED) != kid || !WIFSTOPPED(st))
            stopped = 0;
        uint32_t before = sh->counter;
        /* While it is stopped this process must run: its own increments land. */
        volatile uint32_t mine = 0;
        for (int i = 0; i < N / 4; i++)
            add_ldxr(&mine);
        ran &= mine == N / 4;
        still &= sh->counter == before;
        if (kill(kid, SIGCONT) != 0)
            resumed = 0;
        while (resumed && sh->counter == before)
            ;
    }
    CHECK(stopped, "SIGSTOP stops the computing process (5 rounds)");
    CHECK(ran, "the other process runs while it is stopped");
    CHECK(still, "the stopped process does not run");
    CHECK(resumed, "it runs again after SIGCONT");
    /* SIGCONT right after SIGSTOP: the process runs on (the stop is void). */
    for (int round = 0; round < 5; round++) {
        kill(kid, SIGSTOP);
        kill(kid, SIGCONT);
        usleep(20000);
        uint32_t before = sh->counter;
        while (sh->counter == before)       /* (the alarm ends a process stopped for good) */
            ;
    }
    CHECK(1, "SIGSTOP then SIGCONT at once: it runs on (5 rounds)");
    kill(kid, SIGKILL);
    CHECK(waitpid(kid, &st, 0) == kid && WIFSIGNALED(st), "killed");
    alarm(0);
}

/* This process and a fork child each add N to *c with LDXR/STXR. */
static void two_processes_add(volatile uint32_t *c) {
    pid_t kid = fork();
    if (kid == 0) {
        for (int i = 0; i < N; i++)
            add_ldxr(c);
        _exit(0);
    }
    for (int i = 0; i < N; i++)
        add_ldxr(c);
    waitpid(kid, NULL, 0);
}

/* SysV shared memory joins too (shmat without SHM_RDONLY). */
static void test_sysv(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget");
    volatile uint32_t *c = shmat(id, NULL, 0);
    CHECK(c != (void *)-1, "shmat");
    *c = 0;
    two_processes_add(c);
    CHECK(*c == 2u * N, "SysV shm: LDXR/STXR from 2 processes, exact total");
    shmdt((void *)c);
    shmctl(id, IPC_RMID, NULL);
}

/* A shared mapping made writable by mprotect joins too. */
static void test_mprotect(void) {
    volatile uint32_t *c = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(c != MAP_FAILED, "mmap MAP_SHARED read-only");
    CHECK(mprotect((void *)c, 4096, PROT_READ | PROT_WRITE) == 0, "mprotect it writable");
    two_processes_add(c);
    CHECK(*c == 2u * N, "mprotect'ed shared page: LDXR/STXR from 2 processes, exact total");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (fork() == 0) {
        /* SysV first, in a process that has no shared mapping yet. */
        test_sysv();
        _exit(guest_failures);
    }
    int st;
    wait(&st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SysV shm in a fresh process");
    if (fork() == 0) {
        test_mprotect();
        _exit(guest_failures);
    }
    wait(&st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mprotect in a fresh process");

    sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sh != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    CHECK(pthread_mutex_init(&sh->mutex, &ma) == 0, "process-shared mutex");

    for (int procs = 2; procs <= 4; procs += 2) {
        run_kind("LDXR/STXR", add_ldxr, procs);
        run_kind("LDADDAL (LSE)", add_ldadd, procs);
        run_kind("CASAL loop", add_cas, procs);
        run_kind("__atomic_fetch_add", add_builtin, procs);
        run_kind("pthread process-shared mutex", add_mutex, procs);
    }
    test_ldaxr64();
    test_threads();
    test_spin();
    test_stopped();
    DONE();
}
