/* Threads: many threads incrementing shared counters with atomics and a
 * mutex, condvar ping-pong, join values, gettid, thread exit and futex errors.
 * "counter N" prints the atomic counter's final value only (used by the host
 * test to run it many times). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#define NTHREADS 8
#define NITER 100000

static long atomic_counter;
static long locked_counter;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *add_atomic(void *arg) {
    (void)arg;
    for (int i = 0; i < NITER; i++)
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *add_locked(void *arg) {
    for (int i = 0; i < NITER / 10; i++) {
        pthread_mutex_lock(&lock);
        locked_counter++;
        pthread_mutex_unlock(&lock);
    }
    return (void *)((intptr_t)arg * 3);
}

static long run_counter(void) {
    pthread_t t[NTHREADS];
    atomic_counter = 0;
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, add_atomic, NULL) != 0) return -1;
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    return atomic_counter;
}

/* condvar ping-pong: two threads take turns 1000 times */
static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *pinger(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&pp_lock);
        while (turn != me) pthread_cond_wait(&pp_cond, &pp_lock);
        turn = 1 - me;
        rounds_done++;
        pthread_cond_broadcast(&pp_cond);
        pthread_mutex_unlock(&pp_lock);
    }
    return NULL;
}

static pid_t child_tid;
static void *tid_thread(void *arg) {
    (void)arg;
    child_tid = (pid_t)syscall(SYS_gettid);
    return (void *)(intptr_t)(getpid());
}

static void *exits_early(void *arg) {
    (void)arg;
    pthread_exit((void *)42);
    return NULL;
}

static volatile int spin_flag;
static void *spinner(void *arg) {
    (void)arg;
    /* no syscalls: only the time slice lets the main thread run again */
    while (!__atomic_load_n(&spin_flag, __ATOMIC_ACQUIRE)) { }
    return (void *)7;
}

static volatile sig_atomic_t got_usr1;
static pid_t usr1_tid;
static void on_usr1(int s) { (void)s; got_usr1 = 1; usr1_tid = (pid_t)syscall(SYS_gettid); }
static volatile int waiting_ready;
static void *sig_target(void *arg) {
    (void)arg;
    waiting_ready = 1;
    while (!got_usr1) usleep(1000);
    return (void *)(intptr_t)syscall(SYS_gettid);
}

static long futex(int *uaddr, int op, int val, const struct timespec *ts, int *uaddr2, int val3) {
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "counter") == 0) {
        printf("%ld\n", run_counter());
        return 0;
    }

    CHECK(run_counter() == NTHREADS * NITER, "8 threads x 100000 atomic increments");

    pthread_t t[NTHREADS];
    int ok = 1;
    for (int i = 0; i < NTHREADS; i++)
        ok &= pthread_create(&t[i], NULL, add_locked, (void *)(intptr_t)i) == 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        ok &= (intptr_t)ret == i * 3;
    }
    CHECK(ok, "pthread_join returns each thread's value");
    CHECK(locked_counter == NTHREADS * (NITER / 10), "mutex-protected counter");

    pthread_t a, b;
    pthread_create(&a, NULL, pinger, (void *)0);
    pthread_create(&b, NULL, pinger, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK(rounds_done == 2000, "condvar ping-pong 2 x 1000 rounds");

    void *ret;
    pthread_create(&a, NULL, tid_thread, NULL);
    pthread_join(a, &ret);
    CHECK((intptr_t)ret == getpid(), "getpid in a thread is the process id");
    CHECK(child_tid > 0 && child_tid != getpid(), "gettid in a thread differs from the pid");
    CHECK(syscall(SYS_gettid) == getpid(), "gettid of the main thread is the pid");

    pthread_create(&a, NULL, exits_early, NULL);
    pthread_join(a, &ret);
    CHECK((intptr_t)ret == 42, "pthread_exit value reaches pthread_join");

    pthread_create(&a, NULL, spinner, NULL);
    usleep(20000);      /* the spinner must be preempted for this to return */
    __atomic_store_n(&spin_flag, 1, __ATOMIC_RELEASE);
    pthread_join(a, &ret);
    CHECK((intptr_t)ret == 7, "a spinning thread is preempted (time slice)");

    signal(SIGUSR1, on_usr1);
    pthread_create(&a, NULL, sig_target, NULL);
    while (!waiting_ready) usleep(1000);
    CHECK(pthread_kill(a, SIGUSR1) == 0, "pthread_kill to a thread");
    pthread_join(a, &ret);
    CHECK(got_usr1 && usr1_tid == (pid_t)(intptr_t)ret, "the signal ran on the target thread");

    /* futex errors and timeouts */
    int word = 5;
    errno = 0;
    CHECK(futex(&word, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0) == -1 && errno == EAGAIN,
          "FUTEX_WAIT with a different value: EAGAIN");
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errno = 0;
    CHECK(futex(&word, FUTEX_WAIT_PRIVATE, 5, &ts, NULL, 0) == -1 && errno == ETIMEDOUT,
          "FUTEX_WAIT relative timeout: ETIMEDOUT");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 19, "the timeout waited at least 20 ms");
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    errno = 0;
    CHECK(futex(&word, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &ts, NULL,
                FUTEX_BITSET_MATCH_ANY) == -1 && errno == ETIMEDOUT,
          "FUTEX_WAIT_BITSET absolute CLOCK_REALTIME timeout: ETIMEDOUT");
    CHECK_ERR(futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, NULL, 0), EINVAL,
              "FUTEX_WAIT_BITSET with bitset 0: EINVAL");
    CHECK_ERR(futex((int *)((char *)&word + 1), FUTEX_WAKE, 1, NULL, NULL, 0), EINVAL,
              "misaligned futex: EINVAL");
    CHECK_ERR(futex((int *)8, FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT, "FUTEX_WAIT on a bad address: EFAULT");
    CHECK_ERR(futex(&word, 99, 0, NULL, NULL, 0), ENOSYS, "unknown futex op: ENOSYS");
    CHECK_ERR(futex(&word, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS,
              "FUTEX_CLOCK_REALTIME on WAKE: ENOSYS");
    ts.tv_sec = 0; ts.tv_nsec = 1000000000;
    CHECK_ERR(futex(&word, FUTEX_WAIT, 5, &ts, NULL, 0), EINVAL, "bad timespec: EINVAL");
    CHECK(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0, "FUTEX_WAKE without waiters: 0");
    int w2 = 1;
    /* WAKE_OP: w2 = w2 + 2 (old 1), wake on word and, if old == 1, on w2 */
    long r = futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (struct timespec *)1, &w2,
                   FUTEX_OP(FUTEX_OP_ADD, 2, FUTEX_OP_CMP_EQ, 1));
    CHECK(r == 0 && w2 == 3, "FUTEX_WAKE_OP applies the operation");
    /* An op Linux has no encoding for is ENOSYS before the modify; an unknown
     * comparison is judged after it (futex_atomic_op_inuser): the word keeps it. */
    w2 = 0;
    CHECK_ERR(futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (struct timespec *)1, &w2, (5u << 28) | (0x111 << 12)),
              ENOSYS, "FUTEX_WAKE_OP with an unknown op: ENOSYS");
    CHECK(w2 == 0, "... and the word untouched");
    CHECK_ERR(futex(&word, FUTEX_WAKE_OP_PRIVATE, 1, (struct timespec *)1, &w2, (6u << 24) | (0x111 << 12)),
              ENOSYS, "FUTEX_WAKE_OP with an unknown comparison: ENOSYS");
    CHECK(w2 == 0x111, "... after the operation was applied");
    w2 = 3;
    CHECK_ERR(futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (struct timespec *)1, &w2, 6), EAGAIN,
              "FUTEX_CMP_REQUEUE with a different value: EAGAIN");
    CHECK(futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (struct timespec *)1, &w2, 5) == 0,
          "FUTEX_CMP_REQUEUE without waiters: 0");
    DONE();
}
