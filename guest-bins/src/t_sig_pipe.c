/* SIGPIPE: the default action kills a writer to a pipe with no reader (the
 * parent sees WIFSIGNALED SIGPIPE); ignored, the write fails with EPIPE;
 * handled, the handler runs and the write fails with EPIPE. */
#include "guest_test.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int got;
static void handler(int sig) { got = sig; }

int main(void) {
    int p[2], st;
    signal(SIGPIPE, SIG_DFL);   /* the test's parent may have ignored it */
    pipe(p);
    close(p[0]);              /* no reader anywhere */
    pid_t c = fork();
    if (c == 0) {
        write(p[1], "x", 1);
        _exit(3);
    }
    close(p[1]);
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "default SIGPIPE kills the writer");

    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    CHECK_ERR(write(p[1], "x", 1), EPIPE, "SIGPIPE ignored: EPIPE");

    signal(SIGPIPE, handler);
    got = 0;
    CHECK_ERR(write(p[1], "x", 1), EPIPE, "SIGPIPE handled: EPIPE");
    CHECK(got == SIGPIPE, "SIGPIPE handler ran");

    /* Blocked: stays pending. */
    sigset_t s, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    sigprocmask(SIG_BLOCK, &s, NULL);
    got = 0;
    CHECK_ERR(write(p[1], "x", 1), EPIPE, "SIGPIPE blocked: EPIPE");
    sigpending(&pend);
    CHECK(got == 0 && sigismember(&pend, SIGPIPE), "blocked SIGPIPE is pending");
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    CHECK(got == SIGPIPE, "delivered on unblock");
    DONE();
}
