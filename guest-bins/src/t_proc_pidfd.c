/* pidfd_open, pidfd_send_signal and waitid(P_PIDFD): the fd's flags, read and
 * write refused, poll readable once the child exits (and not before), without
 * taking the status the guest's own wait gets, PIDFD_NONBLOCK's EAGAIN,
 * WNOWAIT, a signal sent through the pidfd (to a child, to this process with
 * a siginfo), ESRCH once the child is reaped, a thread parked in
 * waitid(P_PIDFD) while the main thread runs, and the errors for bad fds,
 * fds that are no pidfd, flags and pids.  Written for the emulation macOS
 * hosts get (ELFUSE_HOST_COMPAT=darwin runs it on Linux); a native Linux
 * passes it too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
    return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static volatile sig_atomic_t usr1_code, usr1_value, usr1_count;
static void on_usr1(int sig, siginfo_t *si, void *ctx) {
    (void)sig; (void)ctx;
    usr1_code = si->si_code;
    usr1_value = si->si_value.sival_int;
    usr1_count++;
}

static int thread_fd;
static siginfo_t thread_si;
static int thread_rc = -2;
static void *thread_waiter(void *arg) {
    (void)arg;
    thread_rc = waitid(P_PIDFD, thread_fd, &thread_si, WEXITED);
    return NULL;
}

int main(void) {
    siginfo_t si;
    struct pollfd pf;

    /* this process's own pidfd */
    int self = pidfd_open(getpid(), 0);
    CHECK(self >= 0, "pidfd_open(getpid())");
    CHECK(fcntl(self, F_GETFD) == FD_CLOEXEC, "a pidfd is close-on-exec");
    CHECK((fcntl(self, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == O_RDWR, "O_RDWR, blocking");
    uint64_t v;
    CHECK_ERR(read(self, &v, 8), EINVAL, "read is EINVAL");
    CHECK_ERR(write(self, &v, 8), EINVAL, "write is EINVAL");
    pf = (struct pollfd){self, POLLIN, 0};
    CHECK(poll(&pf, 1, 0) == 0, "a live process: not readable");
    CHECK(pidfd_send_signal(self, 0, NULL, 0) == 0, "signal 0 to itself");
    CHECK_ERR(waitid(P_PIDFD, self, &si, WEXITED), ECHILD, "waitid on its own pidfd is ECHILD");

    /* a signal with a siginfo, to this process */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 1234;
    CHECK(pidfd_send_signal(self, SIGUSR1, &si, 0) == 0, "SIGUSR1 with a siginfo to itself");
    CHECK(usr1_count == 1 && usr1_code == SI_QUEUE && usr1_value == 1234, "the handler got the siginfo");
    CHECK(pidfd_send_signal(self, SIGUSR1, NULL, 0) == 0 && usr1_count == 2 && usr1_code == SI_USER,
          "without one: SI_USER");
    si.si_signo = SIGUSR2;
    CHECK_ERR(pidfd_send_signal(self, SIGUSR1, &si, 0), EINVAL, "si_signo not the signal: EINVAL");

    /* many pidfds one after the other: closing one frees what it held */
    int made = 0;
    for (int i = 0; i < 300; i++) {
        int f = pidfd_open(getpid(), 0);
        if (f >= 0) made++;
        close(f);
    }
    CHECK(made == 300, "300 pidfds opened and closed in turn");

    /* the errors */
    CHECK_ERR(pidfd_open(-1, 0), EINVAL, "pid -1 is EINVAL");
    CHECK_ERR(pidfd_open(0, 0), EINVAL, "pid 0 is EINVAL");
    CHECK_ERR(pidfd_open(getpid(), 1), EINVAL, "unknown flags are EINVAL");
    CHECK_ERR(pidfd_open(getpid(), O_CLOEXEC), EINVAL, "O_CLOEXEC is no pidfd_open flag");
    CHECK_ERR(pidfd_send_signal(self, 0, NULL, 8), EINVAL, "unknown send flags are EINVAL");
    CHECK_ERR(pidfd_send_signal(self, 200, NULL, 0), EINVAL, "signal 200 is EINVAL");
    CHECK_ERR(pidfd_send_signal(999, 0, NULL, 0), EBADF, "send on a bad fd is EBADF");
    int pp[2];
    pipe(pp);
    CHECK_ERR(pidfd_send_signal(pp[0], 0, NULL, 0), EBADF, "send on a pipe is EBADF");
    CHECK_ERR(waitid(P_PIDFD, pp[0], &si, WEXITED), EBADF, "waitid on a pipe is EBADF");
    CHECK_ERR(waitid(P_PIDFD, 999, &si, WEXITED), EBADF, "waitid on a bad fd is EBADF");
    CHECK_ERR(waitid(P_PIDFD, -1, &si, WEXITED), EINVAL, "waitid on fd -1 is EINVAL");

    /* a child that exits when told: poll, EAGAIN, WNOWAIT, the status */
    int go[2];
    pipe(go);
    pid_t c = fork();
    if (c == 0) {
        char b;
        close(go[1]);
        read(go[0], &b, 1);
        _exit(7);
    }
    close(go[0]);
    int fd = pidfd_open(c, PIDFD_NONBLOCK);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "pidfd_open(child, PIDFD_NONBLOCK)");
    pf = (struct pollfd){fd, POLLIN, 0};
    CHECK(poll(&pf, 1, 0) == 0, "running child: not readable");
    CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED), EAGAIN, "PIDFD_NONBLOCK: waitid is EAGAIN");
    memset(&si, 0xff, sizeof si);
    CHECK(waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0, "WNOHANG: 0, si_pid 0");
    CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0, "signal 0 to the running child");
    msleep(50);
    CHECK(poll(&pf, 1, 0) == 0, "still running: still not readable");
    CHECK(write(go[1], "x", 1) == 1, "tell it to exit");
    CHECK(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLIN), "poll: readable once it exits");
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PIDFD, fd, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == c && si.si_code == CLD_EXITED
          && si.si_status == 7, "WNOWAIT: the status, left in place");
    CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0, "signal 0 to the zombie");
    int fd2 = pidfd_open(c, 0);
    CHECK(fd2 >= 0, "pidfd_open of a zombie child");
    pf = (struct pollfd){fd2, POLLIN, 0};
    CHECK(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLIN), "readable at once");
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_EXITED
          && si.si_status == 7, "waitid(P_PIDFD) reaps it: exit 7");
    CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED), ECHILD, "again: ECHILD");
    CHECK_ERR(pidfd_send_signal(fd2, 0, NULL, 0), ESRCH, "a reaped process: ESRCH");
    pf = (struct pollfd){fd, POLLIN, 0};
    CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN), "still readable after the reap");
    CHECK_ERR(pidfd_open(c, 0), ESRCH, "pidfd_open of a reaped pid is ESRCH");
    close(fd);
    close(fd2);

    /* the pidfd leaves the status to the guest's own wait */
    c = fork();
    if (c == 0) {
        msleep(50);
        _exit(3);
    }
    fd = pidfd_open(c, 0);
    pf = (struct pollfd){fd, POLLIN, 0};
    CHECK(poll(&pf, 1, 5000) == 1, "poll on a second child");
    int st = 0;
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 3, "waitpid still gets its status");
    CHECK_ERR(pidfd_send_signal(fd, 0, NULL, 0), ESRCH, "then the pidfd says ESRCH");
    close(fd);

    /* a signal through the pidfd; a blocking waitid(P_PIDFD) */
    c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    fd = pidfd_open(c, 0);
    si.si_signo = SIGTERM;
    si.si_code = SI_USER;
    CHECK_ERR(pidfd_send_signal(fd, SIGTERM, &si, 0), EPERM, "a SI_USER siginfo to another process: EPERM");
    CHECK(pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0, "SIGTERM through the pidfd");
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_code == CLD_KILLED
          && si.si_status == SIGTERM, "blocking waitid(P_PIDFD): killed by SIGTERM");
    close(fd);

    /* a thread waits in waitid(P_PIDFD) while the main thread runs */
    c = fork();
    if (c == 0) {
        msleep(80);
        _exit(5);
    }
    thread_fd = pidfd_open(c, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_waiter, NULL) == 0, "waiter thread");
    volatile long spin = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        spin++;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 20);
    pthread_join(th, NULL);
    CHECK(thread_rc == 0 && thread_si.si_pid == c && thread_si.si_status == 5 && spin > 0,
          "the thread's waitid got exit 5");
    close(thread_fd);
    DONE();
}
