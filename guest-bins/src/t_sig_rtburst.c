/* sigqueue bursts from a child to a parent blocked in sigtimedwait, each
 * burst's last value arriving while the parent may still be taking the one
 * before: every value must wake the parent.  Between two guests a signal
 * travels through the receiver's inbox and a wake-up signal whose handler
 * queues it while the receiver's main thread may be inside its own queue
 * operations (an emptied queue's pending bit once swallowed the next
 * instance: the parent then slept to its timeout).  After each burst the
 * parent acknowledges with a signal of its own, so a lost one shows as a
 * timeout, not as a late arrival the next burst would hide. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 1000
#define BURST 3

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : ROUNDS;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 5);
    sigaddset(&s, SIGRTMIN + 6);
    sigprocmask(SIG_BLOCK, &s, NULL);
    sigset_t data, ack;
    sigemptyset(&data);
    sigaddset(&data, SIGRTMIN + 5);
    sigemptyset(&ack);
    sigaddset(&ack, SIGRTMIN + 6);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        struct timespec ts = {5, 0};
        union sigval v;
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < BURST; i++) {
                v.sival_int = r * BURST + i;
                if (sigqueue(parent, SIGRTMIN + 5, v) != 0) _exit(2);
            }
            if (sigtimedwait(&ack, NULL, &ts) != SIGRTMIN + 6) _exit(3);
        }
        _exit(0);
    }
    struct timespec ts = {3, 0};
    siginfo_t si;
    int n = 0, order = 1, lost = -1;
    union sigval v = {0};
    for (int r = 0; r < rounds && lost < 0; r++) {
        for (int i = 0; i < BURST; i++) {
            if (sigtimedwait(&data, &si, &ts) != SIGRTMIN + 5) {
                lost = r * BURST + i;
                break;
            }
            if (si.si_value.sival_int != n || si.si_pid != c) order = 0;
            n++;
        }
        if (lost < 0) sigqueue(c, SIGRTMIN + 6, v);
    }
    if (lost >= 0) {
        printf("# value %d of %d never woke the parent\n", lost, rounds * BURST);
        kill(c, SIGKILL);
    }
    int st = -1;
    waitpid(c, &st, 0);
    CHECK(n == rounds * BURST, "every sigqueue burst from a child wakes the parent's sigtimedwait");
    CHECK(order, "in order, with the child's pid");
    CHECK(lost >= 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0), "the child saw every acknowledgement");
    DONE();
}
