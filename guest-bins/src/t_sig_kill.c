/* kill/raise to self, sigprocmask, sigpending, sigtimedwait, default actions
 * of child processes (terminate, ignore, stop/continue). */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int got;
static void handler(int sig) { got = sig; }

int main(void) {
    sigset_t s, old, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &s, &old) == 0, "block SIGUSR1");
    signal(SIGUSR1, handler);
    CHECK(kill(getpid(), SIGUSR1) == 0 && got == 0, "blocked: not delivered");
    CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "sigpending shows SIGUSR1");
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0 && got == SIGUSR1, "delivered on unblock");
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGUSR1), "no longer pending");
    CHECK_ERR(sigprocmask(99, &s, NULL), EINVAL, "bad how: EINVAL");
    CHECK_ERR(kill(getpid(), 99), EINVAL, "bad signal: EINVAL");
    CHECK(kill(getpid(), 0) == 0, "kill(self, 0)");
    CHECK_ERR(sigaction(SIGKILL, &(struct sigaction){.sa_handler = handler}, NULL), EINVAL,
              "sigaction(SIGKILL): EINVAL");

    /* sigtimedwait takes a blocked pending signal without running the handler. */
    sigprocmask(SIG_BLOCK, &s, NULL);
    got = 0;
    raise(SIGUSR1);
    siginfo_t si;
    struct timespec ts = {1, 0};
    CHECK(sigtimedwait(&s, &si, &ts) == SIGUSR1 && si.si_signo == SIGUSR1 && got == 0,
          "sigtimedwait returns the pending signal");
    struct timespec short_ts = {0, 10000000};
    CHECK_ERR(sigtimedwait(&s, &si, &short_ts), EAGAIN, "sigtimedwait timeout: EAGAIN");
    sigprocmask(SIG_SETMASK, &old, NULL);

    /* A blocked signal sent by another process waits in the host kernel. */
    sigprocmask(SIG_BLOCK, &s, NULL);
    got = 0;
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) { kill(parent, SIGUSR1); _exit(0); }
    waitpid(c, NULL, 0);
    sigpending(&pend);
    CHECK(got == 0 && sigismember(&pend, SIGUSR1), "signal from another process pends while blocked");
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(got == SIGUSR1, "and is delivered on unblock");

    /* Default actions seen by a parent. */
    int st;
    c = fork();
    if (c == 0) { for (;;) pause(); }
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM terminates a child");
    c = fork();
    if (c == 0) { raise(SIGWINCH); raise(SIGURG); _exit(9); }
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 9, "SIGWINCH/SIGURG ignored by default");
    int gate[2];
    pipe(gate);
    c = fork();
    if (c == 0) { char b; close(gate[1]); raise(SIGSTOP); read(gate[0], &b, 1); _exit(8); }
    close(gate[0]);
    CHECK(waitpid(c, &st, WUNTRACED) == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "WUNTRACED sees a stop");
    kill(c, SIGCONT);
    CHECK(waitpid(c, &st, WCONTINUED) == c && WIFCONTINUED(st), "WCONTINUED sees the continue");
    close(gate[1]);
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 8, "continued child exits");
    c = fork();
    if (c == 0) { raise(SIGQUIT); _exit(1); }
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT, "SIGQUIT kills (core action)");
    DONE();
}
