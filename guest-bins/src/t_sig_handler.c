/* Signal delivery to handlers: SA_SIGINFO, return through sigreturn with
 * registers intact, the mask during a handler, SA_RESETHAND, SA_NODEFER,
 * and a fault (SIGSEGV) delivered to a handler that longjmps out. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int got, got_code, got_pid, nested, depth, maxdepth, mask_had_self, mask_had_usr2;
static volatile double fval;

static void info_handler(int sig, siginfo_t *si, void *uc) {
    got = sig;
    got_code = si->si_code;
    got_pid = si->si_pid;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    mask_had_self = sigismember(&cur, sig);
    mask_had_usr2 = sigismember(&cur, SIGUSR2);
    fval = fval * 3.0;   /* clobber FP registers inside the handler */
    (void)uc;
}

static void count_handler(int sig) {
    got++;
    depth++;
    if (depth > maxdepth) maxdepth = depth;
    if (got < 3) raise(sig);
    depth--;
}

static void once_handler(int sig) { got++; (void)sig; }

static sigjmp_buf jb;
static void segv_handler(int sig, siginfo_t *si, void *uc) {
    got = sig;
    got_code = si->si_code;
    siglongjmp(jb, 1);
}

int main(void) {
    struct sigaction sa = {0}, old;
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction SIGUSR1 SA_SIGINFO");
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_sigaction == info_handler
          && (old.sa_flags & SA_SIGINFO) && sigismember(&old.sa_mask, SIGUSR2), "sigaction reads back");
    volatile double d = 1.5;
    fval = 2.0;
    got = 0;
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill(self, SIGUSR1)");
    CHECK(got == SIGUSR1, "handler ran before kill returned");
    CHECK(got_code == SI_USER && got_pid == getpid(), "siginfo: SI_USER from our pid");
    CHECK(mask_had_self && mask_had_usr2, "signal and sa_mask blocked in the handler");
    CHECK(d == 1.5 && fval == 6.0, "FP state survives the handler");
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2), "mask restored after return");

    got = 0;
    raise(SIGUSR1);
    CHECK(got == SIGUSR1 && got_code == SI_TKILL, "raise() delivers with SI_TKILL");

    /* SA_NODEFER lets the handler be re-entered; without it the signal waits. */
    struct sigaction sc = {0};
    sc.sa_handler = count_handler;
    sc.sa_flags = SA_NODEFER;
    sigaction(SIGUSR2, &sc, NULL);
    got = depth = maxdepth = 0;
    raise(SIGUSR2);
    CHECK(got == 3 && maxdepth == 3, "SA_NODEFER: nested delivery");
    sc.sa_flags = 0;
    sigaction(SIGUSR2, &sc, NULL);
    got = depth = maxdepth = 0;
    raise(SIGUSR2);
    CHECK(got == 3 && maxdepth == 1, "without SA_NODEFER: delivered after the handler returns");

    /* SA_RESETHAND: one shot, then the default. */
    sc.sa_handler = once_handler;
    sc.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sc, NULL);
    got = 0;
    raise(SIGUSR2);
    sigaction(SIGUSR2, NULL, &old);
    CHECK(got == 1 && old.sa_handler == SIG_DFL, "SA_RESETHAND resets to SIG_DFL");

    /* SIG_IGN */
    signal(SIGUSR1, SIG_IGN);
    CHECK(raise(SIGUSR1) == 0, "ignored signal is discarded");

    /* A fault delivered to a handler. */
    struct sigaction sv = {0};
    sv.sa_sigaction = segv_handler;
    sv.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sv, NULL);
    got = 0;
    if (sigsetjmp(jb, 1) == 0) {
        volatile int *p = (int *)16;
        *p = 1;
        CHECK(0, "fault did not happen");
    }
    CHECK(got == SIGSEGV && got_code == SEGV_MAPERR, "SIGSEGV handler for a bad store (SEGV_MAPERR)");
    DONE();
}
