/* The --strace test program (tests/test_strace.py): several processes and
 * threads, an exec, waits, and calls whose flags strace prints by name.
 * Built natively too (x86_64) to compare with the real strace -f. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static int pfd[2];

static void *reader(void *arg) {
    char c;
    (void)arg;
    return (void *)(long)read(pfd[0], &c, 1);    /* blocks until main writes */
}

int main(int argc, char **argv) {
    if (argc > 1) {
        write(1, "exec'd child\n", 13);
        return 3;
    }
    int one = 1, n;
    open("/nonexistent/strace", O_RDONLY);
    pipe2(pfd, 0);
    int q[2];
    pipe2(q, O_CLOEXEC | O_NONBLOCK);
    dup3(q[0], 40, O_CLOEXEC);
    ioctl(q[0], FIONREAD, &n);
    ioctl(q[0], FIONBIO, &one);
    ioctl(q[0], FIOCLEX);
    struct winsize ws;
    ioctl(q[0], TIOCGWINSZ, &ws);
    mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int u = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof n;
    getsockopt(u, SOL_SOCKET, SO_TYPE, &n, &len);
    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    pthread_t t;
    pthread_create(&t, 0, reader, 0);
    usleep(100000);
    write(pfd[1], "x", 1);
    pthread_join(t, 0);

    int st;
    pid_t c = fork();
    if (c == 0) {
        char *av[] = {argv[0], "child", 0};
        execv(argv[0], av);
        _exit(127);
    }
    waitpid(c, &st, 0);
    c = fork();
    if (c == 0) {
        kill(getpid(), SIGTERM);
        _exit(1);
    }
    waitpid(c, &st, 0);
    c = fork();
    if (c == 0)
        _exit(0);
    siginfo_t si;
    waitid(P_PID, c, &si, WEXITED);
    waitpid(-1, &st, WNOHANG | __WALL);
    return 0;
}
