/* epoll over a pipe and a socketpair: level vs edge triggering, EPOLLONESHOT,
 * EPOLLRDHUP, the data.u64 round trip and the errors of epoll_ctl. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "guest_test.h"

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static int wait1(int ep, struct epoll_event *ev, int timeout) {
    return epoll_wait(ep, ev, 1, timeout);
}

int main(void) {
    int p[2], sp[2];
    struct epoll_event ev, out[4];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    CHECK((fcntl(ep, F_GETFD) & FD_CLOEXEC) != 0, "EPOLL_CLOEXEC sets close-on-exec");
    CHECK_ERR(epoll_create1(12345), EINVAL, "epoll_create1 bad flags is EINVAL");

    /* level triggered: stays ready until drained */
    ev.events = EPOLLIN;
    ev.data.u64 = 0x1122334455667788ULL;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "ctl ADD pipe read end");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST, "ADD twice is EEXIST");
    CHECK(wait1(ep, out, 0) == 0, "empty pipe: nothing ready");
    CHECK(write(p[1], "ab", 2) == 2, "write pipe");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == EPOLLIN, "level: ready");
    CHECK(out[0].data.u64 == 0x1122334455667788ULL, "data.u64 round trip");
    CHECK(wait1(ep, out, 0) == 1, "level: still ready without reading");
    char buf[16];
    CHECK(read(p[0], buf, sizeof buf) == 2, "drain pipe");
    CHECK(wait1(ep, out, 0) == 0, "level: drained is not ready");

    /* edge triggered: one report per new arrival */
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 42;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "ctl MOD to EPOLLET");
    CHECK(write(p[1], "x", 1) == 1, "write 1");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 42, "edge: reported once");
    CHECK(wait1(ep, out, 0) == 0, "edge: not reported again");
    CHECK(write(p[1], "y", 1) == 1, "write 2");
    CHECK(wait1(ep, out, 0) == 1, "edge: new data reported");
    CHECK(read(p[0], buf, sizeof buf) == 2, "drain");

    /* oneshot: disabled after one event until re-armed with MOD */
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 7;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "ctl MOD to ONESHOT");
    CHECK(write(p[1], "z", 1) == 1, "write");
    CHECK(wait1(ep, out, 0) == 1 && out[0].data.u64 == 7, "oneshot: first event");
    CHECK(wait1(ep, out, 0) == 0, "oneshot: disarmed");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "oneshot: re-arm");
    CHECK(wait1(ep, out, 0) == 1, "oneshot: ready again after re-arm");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "ctl DEL");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT, "DEL twice is ENOENT");
    CHECK(wait1(ep, out, 0) == 0, "deleted fd not reported");
    CHECK(read(p[0], buf, sizeof buf) == 1, "drain oneshot byte");

    /* socketpair: writable at once, RDHUP when the peer shuts down writing */
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = 0xdeadbeefcafef00dULL;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev) == 0, "ctl ADD socket");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == EPOLLOUT, "socket writable only");
    CHECK(write(sp[1], "hello", 5) == 5, "peer writes");
    CHECK(wait1(ep, out, 0) == 1 && out[0].events == (EPOLLIN | EPOLLOUT), "socket readable and writable");
    CHECK(shutdown(sp[1], SHUT_WR) == 0, "peer shutdown SHUT_WR");
    CHECK(wait1(ep, out, 0) == 1 && (out[0].events & EPOLLRDHUP), "EPOLLRDHUP after peer shutdown");
    CHECK(out[0].data.u64 == 0xdeadbeefcafef00dULL, "socket data.u64 round trip");

    /* several ready fds in one wait, with a timeout that does not expire */
    CHECK(write(p[1], "q", 1) == 1, "write pipe again");
    ev.events = EPOLLIN;
    ev.data.u64 = 1;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "re-ADD pipe");
    CHECK(epoll_wait(ep, out, 4, 1000) == 2, "two ready fds in one wait");

    /* errors */
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "adding itself is EINVAL");
    CHECK_ERR(epoll_ctl(ep, 99, p[0], &ev), EINVAL, "bad op is EINVAL");
    CHECK_ERR(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev), EINVAL, "non-epoll epfd is EINVAL");
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF, "bad fd is EBADF");
    CHECK_ERR(epoll_wait(ep, out, 0, 0), EINVAL, "maxevents 0 is EINVAL");
    CHECK_ERR(epoll_wait(ep, (void *)8, 1, 0), EFAULT, "bad events pointer is EFAULT");
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, devnull, &ev), EPERM, "/dev/null is EPERM");
    /* timeout with nothing ready */
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, sp[0], NULL) == 0, "DEL socket");
    CHECK(read(p[0], buf, sizeof buf) == 1, "drain pipe");
    CHECK(epoll_wait(ep, out, 4, 20) == 0, "timeout expires with nothing ready");

    /* epoll_pwait's mask: a blocked pending SIGUSR1 interrupts a wait whose
     * mask unblocks it; the handler runs, and the blocked mask comes back. */
    signal(SIGUSR1, on_usr1);
    sigset_t block, empty, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    CHECK(got_usr1 == 0, "SIGUSR1 blocked and pending");
    CHECK(epoll_pwait(ep, out, 4, 0, &block) == 0, "pwait keeping it blocked: timeout");
    CHECK(got_usr1 == 0, "still pending");
    errno = 0;
    CHECK(epoll_pwait(ep, out, 4, 5000, &empty) == -1 && errno == EINTR, "pwait unblocking it: EINTR");
    CHECK(got_usr1 == 1, "handler ran");
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGUSR1), "mask restored after pwait");
    CHECK(close(ep) == 0, "close epoll fd");
    DONE();
}
