/* RLIMIT_FSIZE: a write past it is cut short, then fails with EFBIG and raises
 * SIGXFSZ (default action: the process dies of it; ignored or handled: EFBIG). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static volatile int got;
static void on_xfsz(int s) { (void)s; got++; }

static int child(int mode) {
    struct rlimit r = {4, 4};
    if (mode == 1) signal(SIGXFSZ, SIG_IGN);
    if (mode == 2) signal(SIGXFSZ, on_xfsz);
    if (setrlimit(RLIMIT_FSIZE, &r)) return 10;
    int fd = open("xfsz.out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 11;
    if (write(fd, "0123456789", 10) != 4) return 12;        /* cut at the limit */
    errno = 0;
    long n = write(fd, "x", 1);
    if (n != -1 || errno != EFBIG) return 13;
    if (mode == 2 && got != 1) return 14;
    return 0;
}

int main(void) {
    for (int mode = 0; mode < 3; mode++) {
        pid_t p = fork();
        if (p == 0) _exit(child(mode));
        int st;
        waitpid(p, &st, 0);
        if (mode == 0)
            CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ, "past RLIMIT_FSIZE the writer dies of SIGXFSZ");
        else if (mode == 1)
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGXFSZ ignored: the write is cut, then EFBIG");
        else
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGXFSZ handled once, the write fails with EFBIG");
    }
    unlink("xfsz.out");
    DONE();
}
