/* Preemption wherever a spinning thread may start spinning: right after it created
 * the thread it waits for, in a loop translated before the process had threads, while
 * the thread it waits for sleeps or waits with a timeout, and after it woke that thread
 * (a thread that runs alone runs without time slices; the wake must bring them back),
 * and a signal still reaches a process whose only running thread computes alone. */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static volatile int flag;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;

static void __attribute__((noinline)) spin(void) {
    while (!__atomic_load_n(&flag, __ATOMIC_ACQUIRE)) { }
}

static void *set_flag(void *a) {
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    return a;
}

static void *spinner(void *a) {
    spin();
    return a;
}

/* Waits (no timeout) until `go`, then sets the flag. */
static void *waiter(void *a) {
    pthread_mutex_lock(&mu);
    while (!go) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    return a;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Computes a while (every other thread waits without a timeout: it runs alone),
 * wakes the waiter, then spins until the waiter has set the flag. */
static void *waker(void *a) {
    double end = now() + 0.2;
    while (now() < end) { }
    pthread_mutex_lock(&mu);
    go = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    spin();
    return a;
}

static void on_alarm(int sig) {
    (void)sig;
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
}

int main(void) {
    pthread_t t, u;

    flag = 1;
    spin();                                   /* translated while single-threaded */
    flag = 0;
    CHECK(pthread_create(&t, NULL, set_flag, NULL) == 0, "create a thread that sets the flag");
    spin();
    CHECK(pthread_join(t, NULL) == 0, "the creator spinning right after clone lets the new thread run");

    flag = 0;
    CHECK(pthread_create(&t, NULL, spinner, NULL) == 0, "create a spinner");
    usleep(50000);
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    CHECK(pthread_join(t, NULL) == 0, "a sleeping thread wakes although another one spins");

    flag = 0;
    CHECK(pthread_create(&t, NULL, spinner, NULL) == 0, "create a spinner (timed wait)");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50000000;
    if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&mu);
    int r = pthread_cond_timedwait(&cv, &mu, &ts);
    pthread_mutex_unlock(&mu);
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    CHECK(r == ETIMEDOUT && pthread_join(t, NULL) == 0,
          "a timed condition wait ends although another thread spins");

    flag = 0;
    go = 0;
    CHECK(pthread_create(&u, NULL, waiter, NULL) == 0, "create a thread waiting on a condition");
    usleep(20000);                            /* it waits (no timeout) by now */
    CHECK(pthread_create(&t, NULL, waker, NULL) == 0, "create a thread that wakes it, then spins");
    CHECK(pthread_join(t, NULL) == 0 && pthread_join(u, NULL) == 0,
          "the woken thread runs while its waker spins");

    flag = 0;
    signal(SIGALRM, on_alarm);
    CHECK(pthread_create(&t, NULL, spinner, NULL) == 0, "create a spinner (signal)");
    struct itimerval it = {{0, 0}, {0, 50000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "arm a 50 ms timer");
    CHECK(pthread_join(t, NULL) == 0, "SIGALRM's handler runs while the only runnable thread spins");
    DONE();
}
