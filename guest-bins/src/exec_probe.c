/* exec_probe PATH: how an execve of PATH ends, seen from the caller.
 *
 * First a child execs PATH and the parent reports how it ended ("child: exited N" /
 * "child: signaled N"; a failed execve exits 100 after printing "child: errno=N").
 * Then, if the child's execve failed, this process execs PATH itself: the call must
 * return the same errno with this image intact ("self: errno=N intact").
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    char *args[] = {argv[1], NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], args);
        printf("child: errno=%d\n", errno);
        fflush(stdout);
        _exit(100);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("child: signaled %d\n", WTERMSIG(st));
    else
        printf("child: exited %d\n", WEXITSTATUS(st));
    fflush(stdout);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 100) {
        static const char canary[] = "intact";
        execv(argv[1], args);
        printf("self: errno=%d %s\n", errno, canary);
    }
    return 0;
}
