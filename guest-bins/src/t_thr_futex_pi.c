/* qemu-differs: qemu-user does not implement set_robust_list, so a robust mutex's dead owner is never reported (it hangs) */
/* Priority-inheritance futexes and futex_waitv: the raw protocol (TID in the
 * word, FUTEX_WAITERS, EDEADLK, EPERM, ESRCH, EAGAIN, ETIMEDOUT, hand-over to a
 * waiter), PTHREAD_PRIO_INHERIT mutexes under contention, robust PI and robust
 * plain mutexes whose owner thread or process dies (EOWNERDEAD), and
 * futex_waitv's checks, wake index and timeout. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif
struct waitv { uint64_t val, uaddr; uint32_t flags, reserved; };

static long fx(uint32_t *u, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, u, op, val, ts, NULL, 0);
}
static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static uint32_t word;
static volatile int stage;
static uint32_t got_word;
static long got_ret;

static void *contender(void *arg) {
    (void)arg;
    stage = 1;
    got_ret = fx(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL);   /* blocks until the main thread unlocks */
    got_word = word;
    fx(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL);
    return (void *)(long)tid();
}

static void *timed_locker(void *arg) {
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50000000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    errno = 0;
    long r = fx(&word, FUTEX_LOCK_PI, 0, &ts);
    return (void *)(long)(r == -1 ? errno : 0);
}

static void *trylocker(void *arg) {
    (void)arg;
    errno = 0;
    long r = fx(&word, FUTEX_TRYLOCK_PI, 0, NULL);
    return (void *)(long)(r == -1 ? errno : 0);
}

static pthread_mutex_t pim;
static long counter;
static void *incr(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&pim);
        long c = counter;
        if (i % 100 == 0) sched_yield();
        counter = c + 1;
        pthread_mutex_unlock(&pim);
    }
    return NULL;
}

static pthread_mutex_t rm;
static void *die_holding(void *arg) {
    int delay = (int)(long)arg;
    pthread_mutex_lock(&rm);
    stage = 2;
    if (delay) usleep(delay);
    return NULL;                  /* exits with the mutex held */
}

static void robust_init(pthread_mutex_t *m, int proto, int pshared) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&a, proto);
    if (pshared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

static uint32_t fa, fb;
static void *waker(void *arg) {
    (void)arg;
    usleep(20000);
    fb = 1;
    syscall(SYS_futex, &fb, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

int main(void) {
    pid_t me = tid();
    pthread_t t;
    void *res;

    /* the raw protocol */
    word = 0;
    CHECK(fx(&word, FUTEX_TRYLOCK_PI, 0, NULL) == 0 && word == (uint32_t)me, "TRYLOCK_PI on a free word: our TID");
    CHECK_ERR(fx(&word, FUTEX_LOCK_PI, 0, NULL), EDEADLK, "LOCK_PI on our own lock: EDEADLK");
    CHECK_ERR(fx(&word, FUTEX_TRYLOCK_PI, 0, NULL), EDEADLK, "TRYLOCK_PI on our own lock: EDEADLK");
    CHECK(fx(&word, FUTEX_UNLOCK_PI, 0, NULL) == 0 && word == 0, "UNLOCK_PI without waiters: 0");
    CHECK_ERR(fx(&word, FUTEX_UNLOCK_PI, 0, NULL), EPERM, "UNLOCK_PI of a free word: EPERM");
    word = 0x3ffffff0;
    CHECK_ERR(fx(&word, FUTEX_UNLOCK_PI, 0, NULL), EPERM, "UNLOCK_PI of another owner's word: EPERM");
    CHECK_ERR(fx(&word, FUTEX_LOCK_PI, 0, NULL), ESRCH, "LOCK_PI with a dead owner TID: ESRCH");
    word = FUTEX_OWNER_DIED;
    CHECK(fx(&word, FUTEX_LOCK_PI2, 0, NULL) == 0 && word == (FUTEX_OWNER_DIED | (uint32_t)me),
          "LOCK_PI2 on an owner-died word keeps FUTEX_OWNER_DIED");
    word = 0;
    CHECK_ERR(fx(&word, FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL), ENOSYS,
              "LOCK_PI with FUTEX_CLOCK_REALTIME: ENOSYS");
    CHECK_ERR(fx((uint32_t *)((char *)&word + 1), FUTEX_LOCK_PI, 0, NULL), EINVAL, "LOCK_PI unaligned: EINVAL");
    CHECK_ERR(fx((uint32_t *)8, FUTEX_LOCK_PI, 0, NULL), EFAULT, "LOCK_PI bad address: EFAULT");

    /* contention between threads: hand-over to the waiter */
    word = 0;
    CHECK(fx(&word, FUTEX_LOCK_PI_PRIVATE, 0, NULL) == 0, "main takes the lock");
    pthread_create(&t, NULL, trylocker, NULL);
    pthread_join(t, &res);
    CHECK((long)res == EAGAIN, "TRYLOCK_PI of a lock another thread holds: EAGAIN");
    pthread_create(&t, NULL, timed_locker, NULL);
    pthread_join(t, &res);
    CHECK((long)res == ETIMEDOUT, "LOCK_PI with an absolute CLOCK_REALTIME timeout: ETIMEDOUT");
    stage = 0;
    pthread_create(&t, NULL, contender, NULL);
    while (stage != 1) sched_yield();
    for (int i = 0; i < 50 && !(word & FUTEX_WAITERS); i++) usleep(2000);
    CHECK(word == (FUTEX_WAITERS | (uint32_t)me), "a waiter sets FUTEX_WAITERS");
    CHECK(fx(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL) == 0, "UNLOCK_PI with a waiter");
    pthread_join(t, &res);
    CHECK(got_ret == 0 && got_word == (FUTEX_WAITERS | (uint32_t)(long)res),
          "the waiter owns the lock on return: its TID | FUTEX_WAITERS");
    CHECK(word == 0, "its UNLOCK_PI frees the word");

    /* PTHREAD_PRIO_INHERIT mutexes */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    CHECK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT) == 0, "PTHREAD_PRIO_INHERIT attribute");
    CHECK(pthread_mutex_init(&pim, &a) == 0, "PI mutex init");
    pthread_t ts[4];
    for (int i = 0; i < 4; i++) pthread_create(&ts[i], NULL, incr, NULL);
    for (int i = 0; i < 4; i++) pthread_join(ts[i], NULL);
    CHECK(counter == 8000, "four threads contend on a PI mutex: no lost update");
    CHECK(pthread_mutex_trylock(&pim) == 0 && pthread_mutex_trylock(&pim) == EBUSY, "PI trylock: EBUSY when held");
    pthread_mutex_unlock(&pim);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &a);
    pthread_mutex_lock(&em);
    CHECK(pthread_mutex_lock(&em) == EDEADLK, "error-checking PI mutex relocked: EDEADLK");
    pthread_mutex_unlock(&em);

    /* robust PI: the owner thread exits holding it */
    robust_init(&rm, PTHREAD_PRIO_INHERIT, 0);
    pthread_create(&t, NULL, die_holding, (void *)0L);
    pthread_join(t, NULL);
    CHECK(pthread_mutex_lock(&rm) == EOWNERDEAD, "robust PI: lock after the owner died: EOWNERDEAD");
    CHECK(pthread_mutex_consistent(&rm) == 0 && pthread_mutex_unlock(&rm) == 0, "consistent + unlock");
    CHECK(pthread_mutex_lock(&rm) == 0 && pthread_mutex_unlock(&rm) == 0, "then it locks normally");
    /* ... and while a waiter is blocked in the kernel */
    stage = 0;
    pthread_create(&t, NULL, die_holding, (void *)50000L);
    while (stage != 2) sched_yield();
    CHECK(pthread_mutex_lock(&rm) == EOWNERDEAD, "robust PI: a blocked waiter gets EOWNERDEAD");
    pthread_join(t, NULL);
    pthread_mutex_consistent(&rm);
    pthread_mutex_unlock(&rm);

    /* robust plain mutex */
    robust_init(&rm, PTHREAD_PRIO_NONE, 0);
    pthread_create(&t, NULL, die_holding, (void *)0L);
    pthread_join(t, NULL);
    CHECK(pthread_mutex_lock(&rm) == EOWNERDEAD, "robust mutex: EOWNERDEAD after the owner thread exits");
    pthread_mutex_consistent(&rm);
    pthread_mutex_unlock(&rm);

    /* robust PI shared between processes: the owner process exits */
    pthread_mutex_t *sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    robust_init(sm, PTHREAD_PRIO_INHERIT, 1);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(sm);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(pthread_mutex_lock(sm) == EOWNERDEAD, "robust PI pshared: EOWNERDEAD after the owner process exits");
    pthread_mutex_consistent(sm);
    pthread_mutex_unlock(sm);

    /* futex_waitv */
    struct waitv wv[2] = { { 0, (uintptr_t)&fa, FUTEX2_SIZE_U32 | FUTEX_PRIVATE_FLAG, 0 },
                           { 0, (uintptr_t)&fb, FUTEX2_SIZE_U32 | FUTEX_PRIVATE_FLAG, 0 } };
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 2, 1, NULL, 0), EINVAL, "futex_waitv flags: EINVAL");
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 0, 0, NULL, 0), EINVAL, "futex_waitv no futexes: EINVAL");
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 129, 0, NULL, 0), EINVAL, "futex_waitv over 128: EINVAL");
    wv[0].flags = 3;
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 2, 0, NULL, 0), EINVAL, "futex_waitv 64-bit size: EINVAL");
    wv[0].flags = FUTEX2_SIZE_U32 | FUTEX_PRIVATE_FLAG;
    wv[1].val = 7;
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 2, 0, NULL, 0), EAGAIN, "futex_waitv value mismatch: EAGAIN");
    wv[1].val = 0;
    struct timespec to;
    clock_gettime(CLOCK_MONOTONIC, &to);
    to.tv_nsec += 30000000;
    if (to.tv_nsec >= 1000000000) { to.tv_sec++; to.tv_nsec -= 1000000000; }
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 2, 0, &to, CLOCK_MONOTONIC), ETIMEDOUT, "futex_waitv timeout: ETIMEDOUT");
    CHECK_ERR(syscall(SYS_futex_waitv, wv, 2, 0, &to, CLOCK_BOOTTIME), EINVAL, "futex_waitv CLOCK_BOOTTIME: EINVAL");
    pthread_create(&t, NULL, waker, NULL);
    long r = syscall(SYS_futex_waitv, wv, 2, 0, NULL, 0);
    pthread_join(t, NULL);
    CHECK(r == 1, "futex_waitv: a wake of the second futex returns index 1");
    DONE();
}
