/* Threads and calls that would block the host: while one guest thread waits in
 * one of these, the others must keep running (the peer that would release it
 * is another thread of the same process, so a host-blocking emulator hangs).
 * waitpid in a thread, a pipe write larger than the pipe, SO_RCVTIMEO and
 * SO_SNDTIMEO on a parked call, connect to a full AF_UNIX backlog, recvmmsg
 * waiting for vlen datagrams, sendmmsg into a full socket, flock held by another
 * open file; and signals meeting parked threads: SA_RESTART re-runs a parked read,
 * without it the read fails with EINTR, kill() of the process wakes the main
 * thread in pause(), sigwait in a thread; open() of a FIFO whose other end
 * another thread opens. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----- waitpid in a thread while the main thread feeds the child ----- */
static pid_t child;
static int child_status = -1;
static void *reaper(void *arg) {
    (void)arg;
    int st;
    if (waitpid(child, &st, 0) == child) child_status = st;
    return NULL;
}

/* ----- a big pipe write read by another thread ----- */
#define BIG (1 << 20)
static int pfd[2];
static long pipe_got;
static void *pipe_reader(void *arg) {
    (void)arg;
    char buf[65536];
    while (pipe_got < BIG) {
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n <= 0) break;
        pipe_got += n;
    }
    return NULL;
}

/* ----- a thread that counts while the other one waits ----- */
static volatile int ticking, ticks;
static void *ticker(void *arg) {
    (void)arg;
    while (ticking) {
        ticks++;
        usleep(5000);
    }
    return NULL;
}

/* ----- accept later than the clients connect ----- */
static int lsock, accepted;
static void *late_acceptor(void *arg) {
    (void)arg;
    usleep(100000);
    for (int i = 0; i < 3; i++) {
        int c = accept(lsock, NULL, NULL);
        if (c >= 0) {
            char b[8];
            if (read(c, b, sizeof b) > 0) accepted++;
            close(c);
        }
    }
    return NULL;
}

/* ----- datagrams sent one by one with pauses ----- */
static int dsock[2];
static void *slow_sender(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++) {
        usleep(20000);
        char m[8];
        snprintf(m, sizeof m, "d%d", i);
        send(dsock[1], m, strlen(m), 0);
    }
    return NULL;
}

static int ssock[2];
static long drained;
static void *slow_drainer(void *arg) {
    (void)arg;
    char buf[4096];
    usleep(50000);
    for (;;) {
        ssize_t n = recv(ssock[1], buf, sizeof buf, 0);
        if (n <= 0) break;
        drained += n;
    }
    return NULL;
}

/* ----- signals and parked threads ----- */
static volatile int handled;
/* open() of a FIFO waits for the other end, which another thread opens. */
static char fifo_got[8];
static void *fifo_reader(void *arg) {
    int fd = open((const char *)arg, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, fifo_got, sizeof fifo_got - 1) < 0) fifo_got[0] = 0;
        close(fd);
    }
    return NULL;
}

static void on_usr2(int sig) { (void)sig; }
static pthread_t fifo_main;
static void *poke_main(void *arg) {
    (void)arg;
    usleep(50000);
    pthread_kill(fifo_main, SIGUSR2);
    return NULL;
}

static void fifo_checks(void) {
    const char *p = "t_thr_blocking.fifo";
    unlink(p);
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    pthread_t t;
    /* the reader's open waits for a writer; the writer's open for a reader */
    pthread_create(&t, NULL, fifo_reader, (void *)p);
    usleep(50000);
    int fd = open(p, O_WRONLY);
    CHECK(fd >= 0 && write(fd, "fifo", 4) == 4, "writer open meets the reader blocked in open");
    close(fd);
    pthread_join(t, NULL);
    CHECK(strcmp(fifo_got, "fifo") == 0, "the reader thread got the data");
    /* and the other way round: the writer blocked in open, the reader comes later */
    memset(fifo_got, 0, sizeof fifo_got);
    int wfd = -1;
    pthread_create(&t, NULL, fifo_reader, (void *)p);
    wfd = open(p, O_WRONLY);
    CHECK(wfd >= 0 && write(wfd, "back", 4) == 4, "writer open waits for a reader thread");
    close(wfd);
    pthread_join(t, NULL);
    CHECK(strcmp(fifo_got, "back") == 0, "second reader got the data");
    /* a signal (no SA_RESTART) ends a FIFO open with EINTR and leaves no reader behind */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    fifo_main = pthread_self();
    pthread_create(&t, NULL, poke_main, NULL);
    errno = 0;
    int rfd = open(p, O_RDONLY);
    CHECK(rfd == -1 && errno == EINTR, "a signal interrupts a FIFO open: EINTR");
    pthread_join(t, NULL);
    usleep(20000);
    wfd = open(p, O_WRONLY | O_NONBLOCK);
    CHECK(wfd == -1 && errno == ENXIO, "no reader left behind: non-blocking writer open ENXIO");
    if (wfd >= 0) close(wfd);
    signal(SIGUSR2, SIG_DFL);
    unlink(p);
}

static void on_usr1(int sig) { (void)sig; handled++; }
static int rpipe[2];
static ssize_t read_result;
static int read_errno;
static void *parked_reader(void *arg) {
    (void)arg;
    char c;
    errno = 0;
    read_result = read(rpipe[0], &c, 1);
    read_errno = errno;
    return NULL;
}
static void *kill_process_later(void *arg) {
    (void)arg;
    usleep(50000);
    kill(getpid(), SIGUSR1);
    return NULL;
}
static int waited_sig;
static void *sigwaiter(void *arg) {
    sigset_t *set = arg;
    sigwait(set, &waited_sig);
    return NULL;
}
static int lockfd2;
static int lock_taken;
static void *locker(void *arg) {
    (void)arg;
    if (flock(lockfd2, LOCK_EX) == 0) lock_taken = 1;
    return NULL;
}

static int wsock[2];
static void *piecewise_sender(void *arg) {
    (void)arg;
    char b[250];
    memset(b, 'w', sizeof b);
    for (int i = 0; i < 4; i++) {
        usleep(20000);
        send(wsock[1], b, sizeof b, 0);
    }
    return NULL;
}

static void signal_checks(void) {
    pthread_t t;
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);

    /* SA_RESTART: the thread's read is interrupted by the handler, then goes on */
    CHECK(pipe(rpipe) == 0, "pipe");
    handled = 0;
    pthread_create(&t, NULL, parked_reader, NULL);
    usleep(50000);
    pthread_kill(t, SIGUSR1);
    usleep(50000);
    CHECK(write(rpipe[1], "r", 1) == 1, "write after the signal");
    pthread_join(t, NULL);
    CHECK(handled == 1 && read_result == 1, "SA_RESTART: the parked read restarts and gets data");

    /* without SA_RESTART: EINTR */
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    handled = 0;
    pthread_create(&t, NULL, parked_reader, NULL);
    usleep(50000);
    pthread_kill(t, SIGUSR1);
    pthread_join(t, NULL);
    CHECK(handled == 1 && read_result == -1 && read_errno == EINTR,
          "no SA_RESTART: the parked read fails with EINTR");
    close(rpipe[0]);
    close(rpipe[1]);

    /* kill(getpid()) from a thread wakes the main thread's pause() */
    handled = 0;
    pthread_create(&t, NULL, kill_process_later, NULL);
    pause();
    pthread_join(t, NULL);
    CHECK(handled == 1, "pause() in the main thread returns for a signal sent by a thread");

    /* sigwait in a thread for a signal the main thread raises */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_create(&t, NULL, sigwaiter, &set);
    usleep(50000);
    kill(getpid(), SIGUSR2);
    pthread_join(t, NULL);
    CHECK(waited_sig == SIGUSR2, "sigwait in a thread");
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* flock held through another open file: a thread waits for the unlock */
    int lockfd1 = open("thr-lock", O_RDWR | O_CREAT, 0600);
    lockfd2 = open("thr-lock", O_RDWR);
    CHECK(flock(lockfd1, LOCK_EX) == 0, "flock");
    pthread_create(&t, NULL, locker, NULL);
    usleep(50000);
    CHECK(!lock_taken, "the other open file waits");
    flock(lockfd1, LOCK_UN);
    pthread_join(t, NULL);
    CHECK(lock_taken, "and gets the lock after the unlock");
    close(lockfd1);
    close(lockfd2);
    unlink("thr-lock");
}

int main(void) {
    pthread_t t, tk;

    /* waitpid(child) in a thread; the child exits only after the main thread
     * writes to it, so a wait that blocks every thread deadlocks */
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    child = fork();
    if (child == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1) _exit(1);
        _exit(c);
    }
    close(go[0]);
    pthread_create(&t, NULL, reaper, NULL);
    usleep(50000);
    CHECK(write(go[1], "\x07", 1) == 1, "wake the child from the main thread");
    pthread_join(t, NULL);
    CHECK(child_status >= 0 && WIFEXITED(child_status) && WEXITSTATUS(child_status) == 7,
          "waitpid in a thread gets the child's status");
    close(go[1]);

    /* one write of 1 MiB into a 64 KiB pipe, drained by another thread */
    CHECK(pipe(pfd) == 0, "pipe");
    char *big = malloc(BIG);
    memset(big, 'p', BIG);
    pthread_create(&t, NULL, pipe_reader, NULL);
    CHECK(write(pfd[1], big, BIG) == BIG, "blocking pipe write larger than the pipe completes");
    pthread_join(t, NULL);
    CHECK(pipe_got == BIG, "the reader thread got every byte");
    close(pfd[0]);
    close(pfd[1]);

    /* SO_RCVTIMEO on a parked recv: EAGAIN after the timeout, other threads ran */
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
    struct timeval tv = {0, 150000};
    CHECK(setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    ticking = 1;
    ticks = 0;
    pthread_create(&tk, NULL, ticker, NULL);
    char c;
    double t0 = now();
    errno = 0;
    ssize_t r = recv(sp[0], &c, 1, 0);
    double dt = now() - t0;
    CHECK(r == -1 && errno == EAGAIN, "recv times out with EAGAIN");
    CHECK(dt > 0.12 && dt < 3.0, "after about the timeout");
    CHECK(ticks > 3, "the other thread ran meanwhile");

    /* SO_SNDTIMEO: a send bigger than the buffer returns the part that went */
    CHECK(setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0, "SO_SNDTIMEO");
    r = send(sp[0], big, BIG, 0);
    CHECK(r > 0 && r < BIG, "send with SO_SNDTIMEO returns a partial count");
    ticking = 0;
    pthread_join(tk, NULL);
    close(sp[0]);
    close(sp[1]);

    /* connect to a listener whose backlog is full: waits until accept makes room */
    char path[64];
    snprintf(path, sizeof path, "thr-blocking-%d", (int)getpid());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(lsock, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lsock, 0) == 0,
          "listen with backlog 0");
    pthread_create(&t, NULL, late_acceptor, NULL);
    int ok = 0;
    for (int i = 0; i < 3; i++) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0 && write(s, "hi", 2) == 2) ok++;
        close(s);
    }
    pthread_join(t, NULL);
    CHECK(ok == 3 && accepted == 3, "three connects through a full backlog");
    close(lsock);
    unlink(path);

    /* recvmmsg without MSG_WAITFORONE waits for all vlen datagrams */
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, dsock) == 0, "dgram socketpair");
    pthread_create(&t, NULL, slow_sender, NULL);
    struct mmsghdr mm[3];
    struct iovec iv[3];
    char bufs[3][16];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        iv[i].iov_base = bufs[i];
        iv[i].iov_len = sizeof bufs[i];
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(dsock[0], mm, 3, 0, NULL);
    pthread_join(t, NULL);
    CHECK(n == 3, "recvmmsg returns all three datagrams");
    CHECK(n == 3 && mm[2].msg_len == 2 && memcmp(bufs[2], "d2", 2) == 0, "the last one is d2");
    close(dsock[0]);
    close(dsock[1]);

    /* sendmmsg of more than the socket holds: completes once a thread drains it */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ssock) == 0, "stream socketpair");
    int sz = 8192;
    setsockopt(ssock[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    pthread_create(&t, NULL, slow_drainer, NULL);
    struct mmsghdr sm[8];
    struct iovec siv[8];
    memset(sm, 0, sizeof sm);
    for (int i = 0; i < 8; i++) {
        siv[i].iov_base = big;
        siv[i].iov_len = 16384;
        sm[i].msg_hdr.msg_iov = &siv[i];
        sm[i].msg_hdr.msg_iovlen = 1;
    }
    n = sendmmsg(ssock[0], sm, 8, 0);
    CHECK(n == 8, "sendmmsg sends every message");
    shutdown(ssock[0], SHUT_WR);
    pthread_join(t, NULL);
    CHECK(drained == 8 * 16384, "the drainer got them all");
    close(ssock[0]);
    close(ssock[1]);
    /* MSG_WAITALL: one recv gathers pieces sent by another thread */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, wsock) == 0, "stream socketpair");
    pthread_create(&t, NULL, piecewise_sender, NULL);
    r = recv(wsock[0], big, 1000, MSG_WAITALL);
    pthread_join(t, NULL);
    CHECK(r == 1000, "recv(MSG_WAITALL) waits for the whole buffer");
    close(wsock[0]);
    close(wsock[1]);
    free(big);
    fifo_checks();
    signal_checks();
    DONE();
}
