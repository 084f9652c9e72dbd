#define _GNU_SOURCE
/* Blocking calls a threaded process makes for the first time only after its second
 * thread exists: each must park its own thread and let the others run.  The emulator
 * loads a call's handler on its first use and must put the thread-parking wrapper on
 * it then (syscalls/lazy.py wrap_when_loaded); a call left unwrapped would block every
 * thread, and the main thread below could never write what the waiter waits for. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static int pfd[2], sv[2];
static atomic_int entered;
static long got_poll = -1, got_recv = -1;

static void *waiter(void *arg) {
    (void)arg;
    atomic_store(&entered, 1);
    struct pollfd p = {.fd = pfd[0], .events = POLLIN};
    got_poll = ppoll(&p, 1, NULL, NULL);          /* first ppoll of the process */
    atomic_store(&entered, 2);
    char c;
    got_recv = recvfrom(sv[0], &c, 1, 0, NULL, NULL);  /* first recvfrom of the process */
    return NULL;
}

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    alarm(20);                                    /* a process-wide block ends here */
    CHECK(pipe(pfd) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "pipe and socketpair");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, waiter, NULL) == 0, "second thread started");
    while (atomic_load(&entered) == 0) sched_yield();
    pause_ms(50);                                 /* the waiter is in ppoll by now */
    CHECK(atomic_load(&entered) == 1, "the main thread runs while the other waits in its first ppoll");
    CHECK(write(pfd[1], "x", 1) == 1, "the main thread wakes it");
    while (atomic_load(&entered) == 1) sched_yield();
    pause_ms(50);                                 /* the waiter is in recvfrom by now */
    CHECK(got_poll == 1, "ppoll returned the ready fd");
    CHECK(send(sv[1], "y", 1, 0) == 1, "the main thread runs while the other waits in its first recvfrom");
    CHECK(pthread_join(t, NULL) == 0 && got_recv == 1, "recvfrom returned the byte");
    DONE();
}
