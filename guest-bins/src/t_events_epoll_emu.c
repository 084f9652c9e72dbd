/* epoll as a guest sees it, for the emulation hosts without epoll get (macOS,
 * and ELFUSE_HOST_COMPAT=darwin on Linux) and the native path alike: level and
 * edge triggering (read-until-EAGAIN), EPOLLONESHOT and its MOD re-arm, nested
 * epolls (and ELOOP), an epoll fd in poll/ppoll/select, a closed registered fd,
 * EPOLLRDHUP/EPOLLHUP/EPOLLERR, the data round trip, maxevents and round-robin,
 * timeouts, a signal ending a wait, a fork child waiting on the inherited epoll
 * fd, threads waking a blocked wait, and the errors of epoll_ctl/epoll_wait.
 * It also passes on the host kernel (built for the host, run directly).
 * epoll_pwait2 and an epoll fd across execve: t_events_epoll_exec.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <termios.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void msleep(int ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static int wait1(int ep, struct epoll_event *out, int timeout) {
    return epoll_wait(ep, out, 1, timeout);
}

static void drain(int fd) {
    char buf[256];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN) && read(fd, buf, sizeof buf) > 0) {
    }
}

/* A child that writes `byte` to `fd` after `ms` milliseconds, then exits. */
static pid_t later_write(int fd, int ms) {
    pid_t c = fork();
    if (c == 0) {
        msleep(ms);
        _exit(write(fd, "L", 1) == 1 ? 0 : 1);
    }
    return c;
}

static int reap(pid_t c) {
    int st;
    if (waitpid(c, &st, 0) != c)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void level_and_data(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[4];
    CHECK(ep >= 0 && pipe(p) == 0, "LT: epoll and pipe");
    CHECK(add(ep, p[0], EPOLLIN, 0xfedcba9876543210ULL) == 0, "LT: ADD");
    CHECK(wait1(ep, out, 0) == 0, "LT: empty pipe not ready");
    CHECK(write(p[1], "xy", 2) == 2, "LT: write");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == EPOLLIN, "LT: ready");
    CHECK(out[0].data.u64 == 0xfedcba9876543210ULL, "LT: 64-bit data round trip");
    CHECK(wait1(ep, out, 0) == 1, "LT: reported again while unread");
    CHECK(mod(ep, p[0], EPOLLIN, 0x8000000000000001ULL) == 0, "LT: MOD the data");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 0x8000000000000001ULL, "LT: MOD data reported");
    drain(p[0]);
    CHECK(wait1(ep, out, 0) == 0, "LT: drained, not ready");
    /* a dup of the epoll fd is the same instance */
    int ep2 = dup(ep);
    CHECK(write(p[1], "z", 1) == 1 && wait1(ep2, out, 0) == 1, "dup of the epoll fd sees the list");
    CHECK(epoll_ctl(ep2, EPOLL_CTL_DEL, p[0], NULL) == 0 && wait1(ep, out, 0) == 0,
          "DEL through the dup shows in the original");
    close(ep2);
    drain(p[0]);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void round_robin(void) {
    int ep = epoll_create1(0), p[3][2];
    struct epoll_event out[4];
    for (int i = 0; i < 3; i++) {
        pipe(p[i]);
        write(p[i][1], "r", 1);
        add(ep, p[i][0], EPOLLIN, 10 + i);
    }
    CHECK(epoll_wait(ep, out, 4, 0) == 3, "three ready fds in one wait");
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        if (wait1(ep, out, 0) == 1 && out[0].data.u64 >= 10 && out[0].data.u64 < 13)
            seen |= 1 << (out[0].data.u64 - 10);
    }
    CHECK(seen == 7, "maxevents 1: level-triggered fds take turns");
    CHECK(epoll_wait(ep, out, 2, 0) == 2, "maxevents 2 of 3 ready");
    for (int i = 0; i < 3; i++) {
        close(p[i][0]);
        close(p[i][1]);
    }
    close(ep);
}

static void edge(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    char buf[64];
    pipe2(p, O_NONBLOCK);
    CHECK(add(ep, p[0], EPOLLIN | EPOLLET, 5) == 0, "ET: ADD");
    CHECK(wait1(ep, out, 0) == 0, "ET: nothing yet");
    CHECK(write(p[1], "abc", 3) == 3, "ET: write 3");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 5, "ET: reported");
    CHECK(wait1(ep, out, 0) == 0, "ET: not again without new data");
    int n = 0, r;
    while ((r = read(p[0], buf, 2)) > 0)
        n += r;
    CHECK(n == 3 && r == -1 && errno == EAGAIN, "ET: read until EAGAIN");
    CHECK(wait1(ep, out, 0) == 0, "ET: drained");
    CHECK(write(p[1], "def", 3) == 3, "ET: the same amount again");
    CHECK(wait1(ep, out, 0) == 1, "ET: re-armed by the drain, reported");
    CHECK(wait1(ep, out, 0) == 0, "ET: once");
    CHECK(write(p[1], "g", 1) == 1 && wait1(ep, out, 0) == 1, "ET: more data while unread is reported");
    drain(p[0]);
    /* a blocking ET wait woken by another process */
    pid_t c = later_write(p[1], 50);
    CHECK(epoll_wait(ep, out, 2, 5000) == 1 && out[0].events == EPOLLIN, "ET: blocking wait woken by a writer");
    CHECK(reap(c) == 0, "ET: writer child");
    drain(p[0]);
    /* IN|OUT|ET on a socket: writable once, then new input with it */
    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp);
    CHECK(add(ep, sp[0], EPOLLIN | EPOLLOUT | EPOLLET, 6) == 0, "ET socket: ADD");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == EPOLLOUT, "ET socket: writable");
    CHECK(wait1(ep, out, 0) == 0, "ET socket: writable only once");
    CHECK(write(sp[1], "hi", 2) == 2, "ET socket: peer writes");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == (EPOLLIN | EPOLLOUT), "ET socket: input reported (with OUT)");
    CHECK(read(sp[0], buf, sizeof buf) == 2 && read(sp[0], buf, sizeof buf) == -1 && errno == EAGAIN,
          "ET socket: drain");
    CHECK(wait1(ep, out, 0) == 0, "ET socket: nothing new");
    CHECK(write(sp[1], "hi", 2) == 2 && wait1(ep, out, 0) == 1 && (out[0].events & EPOLLIN),
          "ET socket: the same message again is reported");
    close(sp[0]);
    close(sp[1]);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void oneshot(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    pipe(p);
    CHECK(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 1) == 0, "ONESHOT: ADD");
    write(p[1], "a", 1);
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 1, "ONESHOT: first event");
    CHECK(wait1(ep, out, 0) == 0, "ONESHOT: disarmed");
    write(p[1], "b", 1);
    CHECK(wait1(ep, out, 0) == 0, "ONESHOT: still disarmed with new data");
    CHECK_ERR(add(ep, p[0], EPOLLIN, 1), EEXIST, "ONESHOT: a disarmed fd is still registered");
    CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 2) == 0, "ONESHOT: MOD re-arms");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 2, "ONESHOT: reported after re-arm");
    CHECK(wait1(ep, out, 0) == 0, "ONESHOT: disarmed again");
    CHECK(mod(ep, p[0], EPOLLIN | EPOLLET | EPOLLONESHOT, 3) == 0, "ONESHOT|ET: MOD");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 3, "ONESHOT|ET: ready data reported after MOD");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "ONESHOT: DEL a disarmed fd");
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void nested(void) {
    int p[2], inner = epoll_create1(0), outer = epoll_create1(0);
    struct epoll_event out[2];
    pipe(p);
    CHECK(add(inner, p[0], EPOLLIN, 11) == 0, "nested: pipe in inner");
    CHECK(add(outer, inner, EPOLLIN, 22) == 0, "nested: inner in outer");
    CHECK(wait1(outer, out, 0) == 0, "nested: nothing ready");
    write(p[1], "n", 1);
    CHECK(wait1(outer, out, 0) == 1 && out[0].data.u64 == 22 && out[0].events == EPOLLIN,
          "nested: outer reports inner readable");
    CHECK(wait1(inner, out, 0) == 1 && out[0].data.u64 == 11, "nested: inner reports the pipe");
    drain(p[0]);
    CHECK(wait1(outer, out, 0) == 0, "nested: drained");
    pid_t c = later_write(p[1], 50);
    CHECK(wait1(outer, out, 5000) == 1 && out[0].data.u64 == 22, "nested: blocking outer woken through inner");
    reap(c);
    drain(p[0]);
    CHECK_ERR(add(inner, outer, EPOLLIN, 0), ELOOP, "nested: a loop is ELOOP");
    CHECK_ERR(add(inner, inner, EPOLLIN, 0), EINVAL, "nested: itself is EINVAL");
    int other = epoll_create1(0);
    CHECK_ERR(add(other, inner, EPOLLIN | EPOLLEXCLUSIVE, 0), EINVAL, "nested: EXCLUSIVE on an epoll is EINVAL");
    /* a chain: outer > inner > e[0] > e[1] > e[2] is 5 deep; one more is too deep */
    int e[4];
    for (int i = 0; i < 4; i++)
        e[i] = epoll_create1(0);
    CHECK(add(inner, e[0], EPOLLIN, 0) == 0 && add(e[0], e[1], EPOLLIN, 0) == 0 &&
          add(e[1], e[2], EPOLLIN, 0) == 0, "nested: a chain of five");
    CHECK_ERR(add(e[2], e[3], EPOLLIN, 0), ELOOP, "nested: a sixth level is ELOOP");
    for (int i = 0; i < 4; i++)
        close(e[i]);
    close(other);
    close(p[0]);
    close(p[1]);
    close(inner);
    close(outer);
}

static void in_poll(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    add(ep, p[0], EPOLLIN, 1);
    struct pollfd pf = {.fd = ep, .events = POLLIN | POLLOUT};
    CHECK(poll(&pf, 1, 0) == 0 && pf.revents == 0, "poll: idle epoll fd");
    write(p[1], "q", 1);
    CHECK(poll(&pf, 1, 0) == 1 && pf.revents == POLLIN, "poll: epoll fd readable (never writable)");
    struct timespec ts = {0, 0};
    CHECK(ppoll(&pf, 1, &ts, NULL) == 1 && pf.revents == POLLIN, "ppoll: epoll fd readable");
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(ep, &rs);
    struct timeval tv = {0, 0};
    CHECK(select(ep + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(ep, &rs), "select: epoll fd readable");
    drain(p[0]);
    CHECK(poll(&pf, 1, 0) == 0, "poll: drained");
    pid_t c = later_write(p[1], 50);
    struct pollfd two[2] = {{.fd = ep, .events = POLLIN}, {.fd = p[1], .events = 0}};
    CHECK(poll(two, 2, 5000) == 1 && two[0].revents == POLLIN, "poll: blocking on an epoll fd woken");
    reap(c);
    drain(p[0]);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void closing(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    pipe(p);
    int r = p[0];
    add(ep, r, EPOLLIN, 33);
    write(p[1], "c", 1);
    CHECK(wait1(ep, out, 0) == 1, "close: ready before");
    close(p[0]);
    close(p[1]);
    CHECK(wait1(ep, out, 0) == 0, "close: a closed fd is not reported");
    int q[2];
    pipe(q);
    CHECK(q[0] == r || q[1] == r, "close: the number is reused");
    write(q[1], "d", 1);
    CHECK(wait1(ep, out, 0) == 0, "close: the new file on the number is not reported");
    CHECK(add(ep, r, EPOLLIN, 34) == 0, "close: the number can be added again");
    close(q[0]);
    close(q[1]);
    close(ep);
}

static void hangups(void) {
    int sp[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    CHECK(add(ep, sp[0], EPOLLIN | EPOLLRDHUP, 1) == 0, "RDHUP: ADD");
    CHECK(wait1(ep, out, 0) == 0, "RDHUP: nothing yet");
    CHECK(shutdown(sp[1], SHUT_WR) == 0, "RDHUP: peer SHUT_WR");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == (EPOLLIN | EPOLLRDHUP), "RDHUP: IN|RDHUP");
    CHECK(mod(ep, sp[0], EPOLLRDHUP, 2) == 0 && wait1(ep, out, 0) == 1 && out[0].events == EPOLLRDHUP,
          "RDHUP alone");
    close(sp[1]);
    CHECK(mod(ep, sp[0], EPOLLOUT, 3) == 0 && wait1(ep, out, 0) == 1 && (out[0].events & EPOLLHUP),
          "HUP reported when not asked for");
    close(sp[0]);
    int p[2];
    pipe(p);
    CHECK(add(ep, p[1], EPOLLOUT, 4) == 0, "ERR: ADD pipe write end");
    close(p[0]);
    CHECK(wait1(ep, out, 0) == 1 && (out[0].events & EPOLLERR), "ERR reported: no reader");
    close(p[1]);
    pipe(p);
    add(ep, p[0], EPOLLIN, 5);
    close(p[1]);
    CHECK(epoll_wait(ep, out, 2, 0) == 1 && out[0].events == EPOLLHUP && out[0].data.u64 == 5,
          "HUP: pipe without writers");
    close(p[0]);
    close(ep);
}

/* A terminal (a character device: where macOS's poll says POLLNVAL, the
 * emulation asks select). */
static void terminal(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        printf("ok - (no /dev/ptmx here: the terminal checks are skipped)\n");
        return;
    }
    int s = open(ptsname(m), O_RDWR | O_NOCTTY), ep = epoll_create1(0);
    struct termios t;
    struct epoll_event out[2];
    tcgetattr(s, &t);
    t.c_lflag &= ~(ECHO | ICANON);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(s, TCSANOW, &t);
    CHECK(add(ep, s, EPOLLIN, 55) == 0 && add(ep, m, EPOLLIN, 66) == 0, "tty: ADD both ends");
    CHECK(wait1(ep, out, 0) == 0, "tty: nothing to read");
    pid_t c = later_write(m, 50);
    CHECK(wait1(ep, out, 5000) == 1 && out[0].data.u64 == 55 && out[0].events == EPOLLIN,
          "tty: a blocking wait woken by input on the slave");
    reap(c);
    char buf[8];
    CHECK(read(s, buf, sizeof buf) == 1 && wait1(ep, out, 0) == 0, "tty: read, nothing left");
    CHECK(write(s, "o", 1) == 1 && wait1(ep, out, 1000) == 1 && out[0].data.u64 == 66,
          "tty: output of the slave makes the master readable");
    CHECK(mod(ep, s, EPOLLOUT, 77) == 0 && epoll_wait(ep, out, 2, 0) == 2, "tty: slave writable");
    close(s);
    close(m);
    close(ep);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void timeouts(void) {
    int ep = epoll_create1(0), p[2];
    struct epoll_event out[2];
    pipe(p);
    add(ep, p[0], EPOLLIN, 1);
    double t0 = now();
    CHECK(epoll_wait(ep, out, 2, 40) == 0 && now() - t0 >= 0.035, "timeout: 40 ms with nothing");
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);                 /* no SA_RESTART; epoll never restarts anyway */
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    errno = 0;
    int r = epoll_wait(ep, out, 2, -1);
    CHECK(r == -1 && errno == EINTR && alarms == 1, "a signal ends a blocking wait: EINTR");
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void forked(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    pipe(p);
    add(ep, p[0], EPOLLIN, 0xabcdef0123ULL);
    pid_t c = fork();
    if (c == 0) {
        int n = epoll_wait(ep, out, 2, 5000);
        _exit(n == 1 && out[0].data.u64 == 0xabcdef0123ULL ? 0 : 1);
    }
    msleep(50);
    write(p[1], "f", 1);
    CHECK(reap(c) == 0, "fork: the child's wait on the inherited epoll fd reports the parent's write");
    CHECK(wait1(ep, out, 0) == 1, "fork: the parent's list is intact");
    close(p[0]);
    close(p[1]);
    close(ep);
}

struct thr { int fd, ep, ms; };

static void *thr_write(void *a) {
    struct thr *t = a;
    msleep(t->ms);
    write(t->fd, "T", 1);
    return NULL;
}

static void *thr_add(void *a) {
    struct thr *t = a;
    msleep(t->ms);
    add(t->ep, t->fd, EPOLLIN, 99);
    return NULL;
}

static void threads(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event out[2];
    pthread_t th;
    pipe(p);
    add(ep, p[0], EPOLLIN, 1);
    struct thr t = {p[1], ep, 50};
    pthread_create(&th, NULL, thr_write, &t);
    CHECK(epoll_wait(ep, out, 2, 5000) == 1 && out[0].data.u64 == 1, "threads: a thread's write wakes a wait");
    pthread_join(th, NULL);
    drain(p[0]);
    pthread_create(&th, NULL, thr_write, &t);
    struct pollfd pf = {.fd = ep, .events = POLLIN};
    CHECK(poll(&pf, 1, 5000) == 1 && pf.revents == POLLIN, "threads: poll on the epoll fd woken");
    pthread_join(th, NULL);
    drain(p[0]);
    /* a thread adds an fd that is already ready while the main thread waits */
    int q[2];
    pipe(q);
    write(q[1], "a", 1);
    struct thr t2 = {q[0], ep, 50};
    pthread_create(&th, NULL, thr_add, &t2);
    CHECK(epoll_wait(ep, out, 2, 5000) == 1 && out[0].data.u64 == 99, "threads: an fd another thread adds wakes a wait");
    pthread_join(th, NULL);
    close(q[0]);
    close(q[1]);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void errors(void) {
    int p[2], ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out[2];
    char buf[8];
    pipe(p);
    CHECK_ERR(epoll_create1(EPOLL_CLOEXEC | 1), EINVAL, "create1: bad flags");
    CHECK(add(ep, p[0], EPOLLIN, 0) == 0, "ADD");
    CHECK_ERR(add(ep, p[0], EPOLLIN, 0), EEXIST, "ADD twice: EEXIST");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT, "DEL unknown: ENOENT");
    CHECK_ERR(mod(ep, p[1], EPOLLIN, 0), ENOENT, "MOD unknown: ENOENT");
    CHECK_ERR(epoll_ctl(ep, 0, p[0], &ev), EINVAL, "op 0: EINVAL");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 987, &ev), EBADF, "closed fd: EBADF");
    CHECK_ERR(epoll_ctl(987, EPOLL_CTL_ADD, p[0], &ev), EBADF, "closed epfd: EBADF");
    CHECK_ERR(epoll_ctl(-1, EPOLL_CTL_ADD, p[0], &ev), EBADF, "epfd -1: EBADF");
    CHECK_ERR(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL, "a pipe as epfd: EINVAL");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "itself: EINVAL");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (void *)8), EFAULT, "bad event pointer: EFAULT");
    int f = open("/proc/self/exe", O_RDONLY);
    CHECK_ERR(add(ep, f, EPOLLIN, 0), EPERM, "a regular file: EPERM");
    close(f);
    int d = open("/", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(add(ep, d, EPOLLIN, 0), EPERM, "a directory: EPERM");
    close(d);
    int n = open("/dev/null", O_RDONLY);
    CHECK_ERR(add(ep, n, EPOLLIN, 0), EPERM, "/dev/null: EPERM");
    close(n);
    CHECK_ERR(add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0), EINVAL, "EXCLUSIVE|ONESHOT: EINVAL");
    CHECK_ERR(add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLRDHUP, 0), EINVAL, "EXCLUSIVE|RDHUP: EINVAL");
    CHECK(add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 7) == 0, "EXCLUSIVE: accepted");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 7, "EXCLUSIVE: reported");
    CHECK_ERR(mod(ep, p[1], EPOLLOUT, 7), EINVAL, "MOD of an EXCLUSIVE fd: EINVAL");
    CHECK_ERR(mod(ep, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0), EINVAL, "MOD with EXCLUSIVE: EINVAL");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL) == 0, "DEL an EXCLUSIVE fd");
    CHECK(mod(ep, p[0], EPOLLIN | EPOLLWAKEUP, 0) == 0, "EPOLLWAKEUP: accepted (dropped)");
    /* (volatile: keeps the compiler from judging the deliberate misuse) */
    volatile int zero = 0, minus = -1, big = INT_MAX / (int)sizeof(struct epoll_event) + 1;
    struct epoll_event *volatile badp = (struct epoll_event *)8;
    CHECK_ERR(epoll_wait(ep, out, zero, 0), EINVAL, "maxevents 0: EINVAL");
    CHECK_ERR(epoll_wait(ep, out, minus, 0), EINVAL, "maxevents -1: EINVAL");
    CHECK_ERR(epoll_wait(ep, out, big, 0), EINVAL, "maxevents past INT_MAX/sizeof: EINVAL");
    CHECK_ERR(epoll_wait(p[0], out, 1, 0), EINVAL, "wait on a pipe: EINVAL");
    CHECK_ERR(epoll_wait(987, out, 1, 0), EBADF, "wait on a closed fd: EBADF");
    write(p[1], "e", 1);
    CHECK_ERR(epoll_wait(ep, badp, 1, 0), EFAULT, "bad events pointer, ready: EFAULT");
    CHECK(wait1(ep, out, 0) == 1, "the event is still there after EFAULT");
    CHECK_ERR(read(ep, buf, sizeof buf), EINVAL, "read on an epoll fd: EINVAL");
    CHECK_ERR(write(ep, buf, sizeof buf), EINVAL, "write on an epoll fd: EINVAL");
    CHECK((fcntl(ep, F_GETFD) & FD_CLOEXEC) == 0, "no EPOLL_CLOEXEC: inheritable");
    close(p[0]);
    close(p[1]);
    close(ep);
    CHECK_ERR(wait1(ep, out, 0), EBADF, "wait on the closed epoll fd: EBADF");
}

int main(void) {
    level_and_data();
    round_robin();
    edge();
    oneshot();
    nested();
    in_poll();
    closing();
    hangups();
    terminal();
    timeouts();
    forked();
    threads();
    errors();
    DONE();
}
