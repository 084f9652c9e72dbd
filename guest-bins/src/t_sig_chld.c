/* SIGCHLD: a handler runs when a child exits; sigsuspend waits for it;
 * SIG_IGN makes children reaped automatically (wait gives ECHILD). */
#include "guest_test.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int chld;
static volatile int code;
static void handler(int sig, siginfo_t *si, void *uc) { chld++; code = si->si_signo; (void)sig; (void)uc; }

int main(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t c = fork();
    if (c == 0) _exit(4);
    while (!chld) sigsuspend(&old);
    CHECK(chld == 1 && code == SIGCHLD, "SIGCHLD handler ran (sigsuspend woke up)");
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGCHLD), "sigsuspend restored the mask");
    int st;
    CHECK(waitpid(c, &st, 0) == c && WEXITSTATUS(st) == 4, "child reaped after SIGCHLD");
    sigprocmask(SIG_SETMASK, &old, NULL);

    chld = 0;
    c = fork();
    if (c == 0) { usleep(100000); _exit(0); }
    /* wait4 blocks; SIGCHLD arrives during it (SA_RESTART) */
    CHECK(waitpid(c, &st, 0) == c, "waitpid with a SIGCHLD handler installed");
    CHECK(chld == 1, "handler ran once");

    signal(SIGCHLD, SIG_IGN);
    c = fork();
    if (c == 0) _exit(0);
    CHECK_ERR(waitpid(c, &st, 0), ECHILD, "SIGCHLD ignored: children auto-reaped, ECHILD");
    DONE();
}
