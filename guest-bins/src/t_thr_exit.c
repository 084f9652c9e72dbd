/* Threads: exit vs exit_group, clear_child_tid wake-ups, fork from a
 * multi-threaded process, tgkill to a thread, futex requeue with waiters.
 * "mainexit" : the main thread calls SYS_exit while another thread runs on;
 *              the process must end when the last thread exits. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static long futex(int *uaddr, int op, int val, const void *ts, int *uaddr2, int val3) {
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static void *late_writer(void *arg) {
    (void)arg;
    usleep(30000);
    write(1, "late thread done\n", 17);
    return NULL;
}

static int never;
static void *sleeper(void *arg) {
    (void)arg;
    /* a futex wait parks the thread (a blocking host call would stall all threads) */
    for (;;) syscall(SYS_futex, &never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static int fword, fword2, woken;
static void *fwaiter(void *arg) {
    (void)arg;
    long r = futex(&fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    if (r == 0) __atomic_fetch_add(&woken, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "mainexit") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, late_writer, NULL);
        syscall(SYS_exit, 0);     /* only the main thread ends */
        return 99;
    }
    if (argc > 1 && strcmp(argv[1], "exitgroup") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, sleeper, NULL);
        usleep(10000);
        exit(7);                  /* exit_group ends the sleeping thread too */
    }

    /* requeue: 4 waiters on fword; wake 1, move the rest to fword2, then wake those */
    pthread_t w[4];
    for (int i = 0; i < 4; i++) pthread_create(&w[i], NULL, fwaiter, NULL);
    usleep(20000);
    long r = futex(&fword, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)3, &fword2, 0);
    CHECK(r == 4, "FUTEX_CMP_REQUEUE wakes 1 and requeues 3 (returns 4)");
    usleep(10000);
    CHECK(futex(&fword, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 0, "no waiter left on the first word");
    CHECK(futex(&fword2, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 3, "the requeued waiters wake on the second word");
    for (int i = 0; i < 4; i++) pthread_join(w[i], NULL);
    CHECK(woken == 4, "all four waiters returned 0");

    /* WAKE_OP wakes waiters on both words when the comparison holds */
    fword = fword2 = 0; woken = 0;
    pthread_create(&w[0], NULL, fwaiter, NULL);
    usleep(10000);
    r = futex(&fword2, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &fword,
              FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0));
    CHECK(r == 1 && fword == 1, "FUTEX_WAKE_OP sets the word and wakes its waiter");
    pthread_join(w[0], NULL);

    /* fork from a multi-threaded process: the child has only the calling thread */
    pthread_t s;
    pthread_create(&s, NULL, sleeper, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        _exit(syscall(SYS_gettid) == getpid() ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child: only the calling thread, tid == pid");

    CHECK(syscall(SYS_tgkill, getpid(), 0x7fffff00, 0) == -1 && errno == ESRCH,
          "tgkill to a thread that does not exist: ESRCH");
    DONE();
}
