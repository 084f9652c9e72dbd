/* Signals that arrive while the guest computes without syscalls must not make
 * any instruction run twice.  A pointer chase (`ldr x0, [x0]`, whose result
 * replaces its own base) over 16k shuffled pages is run while a 300 us POSIX
 * timer sends SIGUSR1 to a handler: the chase must end on the node the step
 * count says.  Cases: a single-threaded process; a worker thread computing
 * alone while the main thread waits in pthread_join (the timer aimed at the
 * process, then at the main thread with SIGEV_THREAD_ID); and a handler
 * installed while a thread already computes alone. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NP 16384
#define PG 4096
#define STEPS 2000000L
static char *base;
static volatile long hits;
static unsigned long endorder;
static volatile int go_late;

static void on_usr1(int s) { (void)s; hits++; }

static void *chase(void *a) {
    unsigned long p = (unsigned long)base;        /* node 0 is page 0 */
    while (a && !go_late)
        ;                                           /* (the late-handler case waits here) */
    for (long i = 0; i < STEPS; i++)
        __asm__ volatile("ldr %0, [%0]" : "+r"(p) :: "memory");
    endorder = *(unsigned long *)(p + 8);
    return NULL;
}

struct ksigev { int value_pad[2]; int signo; int notify; int tid; int pad[11]; };

static int arm(int notify, int *id) {
    struct ksigev ev;
    memset(&ev, 0, sizeof ev);
    ev.signo = SIGUSR1;
    ev.notify = notify;
    ev.tid = (int)syscall(SYS_gettid);
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, id))
        return -1;
    struct itimerspec its = {{0, 300000}, {0, 300000}};
    return (int)syscall(SYS_timer_settime, *id, 0, &its, NULL);
}

static void disarm(int id) { syscall(SYS_timer_delete, id); }

static void handler(int on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_usr1 : SIG_IGN;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
}

static void verdict(const char *what) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: the chase ends on node %lu (signals taken: %s)", what,
             endorder, hits ? "some" : "none");
    CHECK(endorder == STEPS % NP && hits > 0, msg);
}

int main(void) {
    base = mmap(NULL, (size_t)NP * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned *perm = malloc(NP * sizeof *perm);
    for (unsigned i = 0; i < NP; i++) perm[i] = i;
    srand(1);
    for (unsigned i = NP - 1; i > 1; i--) {
        unsigned j = 1 + rand() % i, t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (unsigned o = 0; o < NP; o++) {
        char *pg = base + (size_t)perm[o] * PG;
        *(unsigned long *)pg = (unsigned long)(base + (size_t)perm[(o + 1) % NP] * PG);
        *(unsigned long *)(pg + 8) = o;
    }
    int id;
    pthread_t t;

    handler(1);
    hits = 0, endorder = ~0UL;
    CHECK(arm(SIGEV_SIGNAL, &id) == 0, "timer armed (single thread)");
    chase(NULL);
    disarm(id);
    verdict("single-threaded");

    hits = 0, endorder = ~0UL;
    CHECK(arm(SIGEV_SIGNAL, &id) == 0, "timer armed (to the process)");
    pthread_create(&t, NULL, chase, NULL);
    pthread_join(t, NULL);
    disarm(id);
    verdict("a thread computing alone, signals to the process");

    hits = 0, endorder = ~0UL;
    CHECK(arm(4 /* SIGEV_THREAD_ID */, &id) == 0, "timer armed (to the main thread)");
    pthread_create(&t, NULL, chase, NULL);
    pthread_join(t, NULL);
    disarm(id);
    verdict("a thread computing alone, signals to the waiting main thread");

    /* The handler comes only once the thread already runs alone. */
    handler(0);
    hits = 0, endorder = ~0UL, go_late = 0;
    pthread_create(&t, NULL, chase, (void *)1);
    usleep(20000);
    handler(1);
    CHECK(arm(SIGEV_SIGNAL, &id) == 0, "timer armed (handler installed late)");
    go_late = 1;
    pthread_join(t, NULL);
    disarm(id);
    verdict("handler installed while a thread computes alone");
    DONE();
}
