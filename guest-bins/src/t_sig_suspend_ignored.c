/* sigsuspend ends only for a signal the guest can observe.  A pending signal
 * whose action is to ignore it (SIG_IGN, or SIG_DFL of SIGCHLD/SIGURG/SIGWINCH)
 * is dropped when the temporary mask lets it through, and the wait goes on
 * (Linux's get_signal discards it and restarts the sigsuspend); a caught
 * signal then ends it with EINTR after its handler ran, and the caller's mask
 * is back.  Also with a second thread alive (the parked-thread path). */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static volatile sig_atomic_t alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void round_trip(int ignored, const char *label)
{
    char what[160];
    sigset_t block, orig, empty, after;
    sigemptyset(&block);
    sigaddset(&block, ignored);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigemptyset(&empty);
    alarms = 0;
    raise(ignored);                   /* pending while blocked, ignored once let through */
    double t0 = now();
    alarm(1);
    int r = sigsuspend(&empty);
    int e = errno;
    double waited = now() - t0;
    snprintf(what, sizeof what, "%s: sigsuspend waits past the ignored signal for the alarm", label);
    CHECK(r == -1 && e == EINTR && alarms == 1 && waited > 0.5, what);
    sigset_t pend;
    sigpending(&pend);
    snprintf(what, sizeof what, "%s: the ignored signal is no longer pending", label);
    CHECK(!sigismember(&pend, ignored), what);
    sigprocmask(SIG_BLOCK, NULL, &after);
    snprintf(what, sizeof what, "%s: the caller's mask is back", label);
    CHECK(sigismember(&after, ignored) && sigismember(&after, SIGALRM), what);
    sigprocmask(SIG_SETMASK, &orig, NULL);
}

static void *idle(void *arg)
{
    (void)arg;
    sleep(3);
    return NULL;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    round_trip(SIGUSR2, "SIG_IGN");
    signal(SIGWINCH, SIG_DFL);
    round_trip(SIGWINCH, "SIGWINCH default");
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    round_trip(SIGUSR2, "two threads, SIG_IGN");
    pthread_join(t, NULL);
    DONE();
}
