/* fork + wait4/waitpid/waitid: exit statuses, a child killed by a signal,
 * WNOHANG, ECHILD, rusage, vfork. */
#include "guest_test.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int st;
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) _exit(42);
    CHECK(c > 0 && c != me, "fork returns the child's pid");
    CHECK(waitpid(c, &st, 0) == c, "waitpid returns the child");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "child exit status 42");

    c = fork();
    if (c == 0) { CHECK(getppid() == me, "child: getppid is the parent"); _exit(0); }
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child checks getppid");

    c = fork();
    if (c == 0) { kill(getpid(), SIGTERM); _exit(1); }
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child killed by SIGTERM is WIFSIGNALED");

    c = fork();
    if (c == 0) { volatile int *p = 0; *p = 1; _exit(1); }
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child segfault is WIFSIGNALED SIGSEGV");

    c = fork();
    if (c == 0) { abort(); }
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child abort is WIFSIGNALED SIGABRT");

    int p[2];
    pipe(p);
    c = fork();
    if (c == 0) { char b; close(p[1]); read(p[0], &b, 1); _exit(7); }
    close(p[0]);
    CHECK(waitpid(c, &st, WNOHANG) == 0, "WNOHANG with a running child returns 0");
    write(p[1], "x", 1);
    close(p[1]);
    struct rusage ru;
    CHECK(wait4(c, &st, 0, &ru) == c && WEXITSTATUS(st) == 7, "wait4 after the child goes on");
    CHECK(ru.ru_utime.tv_usec < 1000000, "rusage is written");

    c = fork();
    if (c == 0) _exit(3);
    siginfo_t si;
    CHECK(waitid(P_PID, c, &si, WEXITED) == 0, "waitid");
    CHECK(si.si_pid == c && si.si_code == CLD_EXITED && si.si_status == 3 && si.si_signo == SIGCHLD,
          "waitid siginfo");

    c = fork();
    if (c == 0) { raise(SIGKILL); _exit(1); }
    CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
          "waitid CLD_KILLED SIGKILL");

    volatile int shared = 0;
    c = vfork();
    if (c == 0) { _exit(5); }
    CHECK(c > 0, "vfork");
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "vfork child exit status");
    (void)shared;

    CHECK_ERR(waitpid(-1, &st, 0), ECHILD, "no children: ECHILD");
    CHECK_ERR(waitpid(-1, &st, WNOHANG), ECHILD, "no children WNOHANG: ECHILD");
    CHECK(getpgid(0) == getpgrp(), "getpgid(0) == getpgrp()");
    /* getsid is 0, not the leader's pid, when the session leader lives in an
       ancestor pid namespace (containers, CI): only compare, never assume > 0. */
    CHECK(getsid(0) >= 0 && getsid(0) == getsid(getpid()), "getsid(0) == getsid(getpid())");
    c = fork();
    if (c == 0) { _exit(setsid() == getpid() && getsid(0) == getpid() ? 0 : 1); }
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setsid in a child makes it the session leader");
    c = fork();
    if (c == 0) { _exit(setpgid(0, 0) == 0 && getpgrp() == getpid() ? 0 : 1); }
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setpgid(0,0) in a child");
    DONE();
}
