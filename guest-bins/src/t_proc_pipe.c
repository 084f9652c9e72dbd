/* pipe2 + fork + dup2 redirection, O_CLOEXEC across exec, O_NONBLOCK, /dev/null, isatty. */
/* qemu-differs: qemu-user cannot exec /proc/self/exe */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "exec-child") == 0) {
        /* argv[2]: an fd that must be open; argv[3]: one that must be closed (O_CLOEXEC) */
        int keep = atoi(argv[2]), gone = atoi(argv[3]);
        int ok = fcntl(keep, F_GETFD) == 0 && fcntl(gone, F_GETFD) == -1 && errno == EBADF;
        write(keep, ok ? "Y" : "N", 1);
        /* stdout was redirected into a pipe by the parent */
        printf("hello through the pipe\n");
        return 0;
    }
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2(O_CLOEXEC)");
    CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC, "both ends close-on-exec");

    int out[2];
    pipe(out);
    int keep[2];
    pipe(keep);
    pid_t c = fork();
    if (c == 0) {
        dup2(out[1], 1);
        close(out[0]); close(out[1]);
        close(keep[0]);
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", keep[1]);
        snprintf(b, sizeof b, "%d", p[1]);
        char *cargv[] = {"t_proc_pipe", "exec-child", a, b, NULL};
        execv("/proc/self/exe", cargv);
        _exit(127);
    }
    close(out[1]); close(keep[1]);
    char buf[256] = {0};
    ssize_t n, tot = 0;
    while ((n = read(out[0], buf + tot, sizeof buf - 1 - tot)) > 0) tot += n;
    CHECK(strcmp(buf, "hello through the pipe\n") == 0, "child's redirected stdout arrives through the pipe");
    char flag = 0;
    CHECK(read(keep[0], &flag, 1) == 1 && flag == 'Y', "exec keeps plain fds and closes O_CLOEXEC ones");
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec'd child exits 0");

    int nb[2];
    CHECK(pipe2(nb, O_NONBLOCK) == 0, "pipe2(O_NONBLOCK)");
    CHECK_ERR(read(nb[0], buf, 1), EAGAIN, "empty non-blocking pipe: EAGAIN");
    int dn = open("/dev/null", O_RDWR);
    CHECK(dn >= 0 && write(dn, "x", 1) == 1 && read(dn, buf, 1) == 0, "/dev/null");
    CHECK(!isatty(dn) && errno == ENOTTY, "isatty(/dev/null) is false with ENOTTY");
    DONE();
}
