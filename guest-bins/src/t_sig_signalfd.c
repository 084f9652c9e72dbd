/* signalfd4: blocked signals read as struct signalfd_siginfo records.
 * Sources: raise (SI_TKILL), kill of self (SI_USER), sigqueue (SI_QUEUE with
 * a value), a forked child's kill(getppid()), another thread's pthread_kill,
 * a child's exit (SIGCHLD with its pid and status);
 * several records in one read; mask updates through signalfd(fd, ...);
 * poll/select/epoll readiness; SFD_NONBLOCK's EAGAIN; a blocking read cut short
 * by a handled signal (EINTR); sigsuspend unblocking a watched signal; the
 * error cases; fork (a child reads its own pending signals) and execve (the
 * fd keeps working in the new image). */
/* qemu-differs: qemu-user 7.2 accepts a signalfd4 sizemask other than 8, and cannot exec /proc/self/exe */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, usr1_handled;
static void on_alarm(int s) { (void)s; alarms++; }
static void on_usr1(int s) { (void)s; usr1_handled++; }

static int readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, ms);
    return n == 1 && (p.revents & POLLIN);
}

static pthread_t main_thread;
static void *thread_kill(void *a) {
    (void)a;
    usleep(100000);
    pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

/* After execve: the signalfd inherited as argv[2] still reads this image's signals. */
static int exec_side(int fd) {
    struct signalfd_siginfo si;
    CHECK(!readable(fd, 0), "exec: inherited signalfd not readable with nothing pending");
    raise(SIGUSR2);
    CHECK(readable(fd, 0), "exec: readable once SIGUSR2 is pending");
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "exec: read SIGUSR2");
    DONE();
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "exec"))
        return exec_side(atoi(argv[2]));
    struct signalfd_siginfo si, recs[4];
    sigset_t s, old, one, pend;
    char small[64];
    CHECK(sizeof si == 128 && offsetof(struct signalfd_siginfo, ssi_int) == 44
          && offsetof(struct signalfd_siginfo, ssi_ptr) == 48
          && offsetof(struct signalfd_siginfo, ssi_addr) == 72, "struct signalfd_siginfo layout");
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, &old);

    /* Errors. */
    int p[2];
    pipe(p);
    CHECK_ERR(syscall(SYS_signalfd4, -1, &s, 4, 0), EINVAL, "sizemask 4: EINVAL");
    CHECK_ERR(syscall(SYS_signalfd4, -1, &s, 8, 1), EINVAL, "unknown flag: EINVAL");
    CHECK_ERR(syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT, "bad mask pointer: EFAULT");
    CHECK_ERR(signalfd(p[0], &s, 0), EINVAL, "update of a pipe: EINVAL");
    CHECK_ERR(signalfd(900, &s, 0), EBADF, "update of a closed fd: EBADF");
    CHECK_ERR(signalfd(-2, &s, 0), EBADF, "fd -2: EBADF");

    int fd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(fd >= 0, "signalfd created");
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "SFD_CLOEXEC sets close-on-exec");
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK, "SFD_NONBLOCK sets O_NONBLOCK");
    CHECK_ERR(read(fd, &si, sizeof si), EAGAIN, "nothing pending: EAGAIN");
    CHECK_ERR(read(fd, small, sizeof small), EINVAL, "buffer under 128 bytes: EINVAL");
    CHECK_ERR(write(fd, &si, sizeof si), EINVAL, "write: EINVAL");
    CHECK(!readable(fd, 0), "not readable while nothing is pending");

    /* raise: SI_TKILL, our pid and uid; the signal is consumed. */
    raise(SIGUSR1);
    CHECK(readable(fd, 0), "poll: readable once SIGUSR1 is pending");
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(fd, &rs);
    struct timeval tv = {0, 0};
    CHECK(select(fd + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &rs), "select: readable");
    memset(&si, 0xff, sizeof si);
    CHECK(read(fd, &si, sizeof si) == sizeof si, "read one record");
    CHECK(si.ssi_signo == SIGUSR1 && si.ssi_errno == 0, "ssi_signo SIGUSR1");
    CHECK(si.ssi_code == SI_TKILL, "raise: ssi_code SI_TKILL");
    CHECK(si.ssi_pid == (uint32_t)getpid() && si.ssi_uid == (uint32_t)getuid(), "raise: ssi_pid/ssi_uid are ours");
    CHECK(si.ssi_fd == 0 && si.ssi_status == 0 && si.ssi_addr == 0 && si.ssi_int == 0, "unused fields zero");
    CHECK(!readable(fd, 0), "not readable after the read");
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGUSR1), "read consumed the pending signal");

    /* kill of self: SI_USER. */
    kill(getpid(), SIGUSR2);
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2 && si.ssi_code == SI_USER
          && si.ssi_pid == (uint32_t)getpid(), "kill(self): SIGUSR2, SI_USER, our pid");

    /* sigqueue: SI_QUEUE and the value. */
    union sigval v = {.sival_int = 4242};
    sigqueue(getpid(), SIGUSR1, v);
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1 && si.ssi_code == SI_QUEUE,
          "sigqueue: SI_QUEUE");
    CHECK(si.ssi_int == 4242 && si.ssi_pid == (uint32_t)getpid() && si.ssi_uid == (uint32_t)getuid(),
          "sigqueue: ssi_int, pid, uid");

    /* Several pending signals in one read, lowest first; a bigger buffer takes both. */
    raise(SIGUSR2);
    raise(SIGUSR1);
    CHECK(read(fd, recs, sizeof recs) == 2 * sizeof si, "one read returns both records");
    CHECK(recs[0].ssi_signo == SIGUSR1 && recs[1].ssi_signo == SIGUSR2, "lowest signal first");
    raise(SIGUSR1);
    raise(SIGUSR2);
    CHECK(read(fd, recs, sizeof si + 100) == sizeof si && recs[0].ssi_signo == SIGUSR1,
          "a 228-byte buffer takes one record");
    CHECK(read(fd, recs, sizeof si) == sizeof si && recs[0].ssi_signo == SIGUSR2, "the other stays for the next read");

    /* Mask update through signalfd(fd, ...): only the signals in its mask. */
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    CHECK(signalfd(fd, &one, 0) == fd, "mask update returns the fd");
    raise(SIGUSR2);
    CHECK(!readable(fd, 0), "a pending signal outside the mask: not readable");
    CHECK_ERR(read(fd, &si, sizeof si), EAGAIN, "and not read");
    sigpending(&pend);
    CHECK(sigismember(&pend, SIGUSR2), "it stays pending");
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    sigaddset(&one, SIGKILL);
    sigaddset(&one, SIGSTOP);
    CHECK(signalfd(fd, &one, 0) == fd, "SIGKILL/SIGSTOP in the mask: accepted");
    CHECK(readable(fd, 0), "mask now covers the pending SIGUSR2: readable");
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "read after the mask update");
    CHECK(signalfd(fd, &s, 0) == fd, "mask back to SIGUSR1|SIGUSR2");

    /* A signal read from the signalfd never reaches its handler. */
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1, "handled signal read");
    sigset_t u1;
    sigemptyset(&u1);
    sigaddset(&u1, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &u1, NULL);
    CHECK(usr1_handled == 0, "its handler did not run");
    sigprocmask(SIG_BLOCK, &s, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGUSR1, &sa, NULL);

    /* A dup shares the object. */
    int d = dup(fd);
    raise(SIGUSR2);
    CHECK(readable(d, 0) && read(d, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "dup reads too");
    CHECK(!readable(fd, 0), "and the original sees it gone");
    close(d);

    /* epoll readiness. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77}, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD signalfd");
    CHECK(epoll_wait(ep, &out, 1, 0) == 0, "epoll: nothing pending");
    raise(SIGUSR1);
    CHECK(epoll_wait(ep, &out, 1, 1000) == 1 && out.data.u64 == 77 && (out.events & EPOLLIN), "epoll: readable");
    read(fd, &si, sizeof si);
    CHECK(epoll_wait(ep, &out, 1, 0) == 0, "epoll: drained");
    pid_t sender = fork();
    if (sender == 0) { usleep(200000); kill(getppid(), SIGUSR2); _exit(0); }
    CHECK(epoll_wait(ep, &out, 1, 5000) == 1 && out.data.u64 == 77, "epoll_wait wakes for a child's kill");
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "and the read gets it");
    waitpid(sender, NULL, 0);
    close(ep);

    /* A blocked signal from another process (waits in the host kernel first). */
    pid_t parent = getpid(), c = fork();
    if (c == 0) { kill(parent, SIGUSR2); _exit(0); }
    waitpid(c, NULL, 0);
    CHECK(readable(fd, 5000), "kill from a child: readable");
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2 && si.ssi_code == SI_USER,
          "kill from a child: SIGUSR2, SI_USER");

    /* Blocking read: a child sends while the parent waits in read. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    c = fork();
    if (c == 0) { usleep(200000); kill(parent, SIGUSR1); _exit(0); }
    memset(&si, 0, sizeof si);
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1, "blocking read wakes for a child's kill");
    waitpid(c, NULL, 0);

    /* Blocking read while another thread sends to this one. */
    pthread_t t;
    main_thread = pthread_self();
    pthread_create(&t, NULL, thread_kill, NULL);
    memset(&si, 0, sizeof si);
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1 && si.ssi_code == SI_TKILL,
          "blocking read wakes for pthread_kill from a thread (SI_TKILL)");
    pthread_join(t, NULL);

    /* Blocking read interrupted by a handled, unblocked signal: EINTR (no SA_RESTART). */
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    CHECK_ERR(read(fd, &si, sizeof si), EINTR, "blocking read interrupted by SIGALRM: EINTR");
    CHECK(alarms == 1, "the SIGALRM handler ran");

    /* sigsuspend unblocking a signal the signalfd watches: its handler takes it. */
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    usr1_handled = 0;
    c = fork();
    if (c == 0) { usleep(100000); kill(parent, SIGUSR1); _exit(0); }
    sigset_t all_but_usr1;
    sigfillset(&all_but_usr1);
    sigdelset(&all_but_usr1, SIGUSR1);
    CHECK_ERR(sigsuspend(&all_but_usr1), EINTR, "sigsuspend unblocking a watched signal: EINTR");
    CHECK(usr1_handled == 1, "its handler ran");
    waitpid(c, NULL, 0);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGUSR1, &sa, NULL);

    /* fork: the child reads its own pending signals, not the parent's. */
    raise(SIGUSR2);
    c = fork();
    if (c == 0) {
        fcntl(fd, F_SETFL, O_NONBLOCK);
        int ok = read(fd, &si, sizeof si) == -1 && errno == EAGAIN;
        raise(SIGUSR1);
        ok = ok && read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: the child sees only its own pending signals");
    CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2, "fork: the parent's SIGUSR2 is still there");

    /* SIGCHLD: the child's pid and exit status, and the child is still there to wait for. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int cfd = signalfd(-1, &chld, 0);
    c = fork();
    if (c == 0) _exit(7);
    memset(&si, 0, sizeof si);
    CHECK(read(cfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGCHLD && si.ssi_code == CLD_EXITED,
          "SIGCHLD: CLD_EXITED");
    CHECK(si.ssi_pid == (uint32_t)c && si.ssi_status == 7, "SIGCHLD: the child's pid and status");
    CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "SIGCHLD: the child is waited for");
    close(cfd);
    sigprocmask(SIG_UNBLOCK, &chld, NULL);

    /* execve: a signalfd without close-on-exec keeps working in the new image. */
    int e = signalfd(-1, &s, SFD_NONBLOCK);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        char num[16];
        snprintf(num, sizeof num, "%d", e);
        execl("/proc/self/exe", argv[0], "exec", num, (char *)NULL);
        _exit(99);
    }
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "execve: the signalfd works in the new image");
    close(e);

    CHECK(close(fd) == 0, "close");
    sigprocmask(SIG_SETMASK, &old, NULL);
    DONE();
}
