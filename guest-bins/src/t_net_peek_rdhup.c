/* Corners the macOS host model emulates: SO_PEEK_OFF on datagrams (inside the
 * first datagram, moved back by a whole datagram) and streams (EAGAIN past the
 * queued bytes), POLLRDHUP alone while data is queued (a timeout; the other end
 * of a socketpair shutting down writing from a child wakes it), a signal
 * cutting such a wait short, POLLHUP without POLLRDHUP on a fresh stream
 * socket, unnamed clients (accept, getsockname, getpeername, recvfrom),
 * SO_PEERCRED of an accepted socket, also after SCM_RIGHTS, SO_PROTOCOL and
 * SO_DOMAIN. */
/* qemu-differs: qemu-user does not pass SO_PEEK_OFF through */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif
#define SA(p) ((struct sockaddr *)(p))
static int seti(int s, int o, int v) { return setsockopt(s, SOL_SOCKET, o, &v, sizeof v); }
static int geti(int s, int o) { int v = -999; socklen_t l = sizeof v; getsockopt(s, SOL_SOCKET, o, &v, &l); return v; }
static void onsig(int s) { (void)s; }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(void) {
    int sv[2]; char b[32];
    /* dgram: peek offset within first datagram, two datagrams queued */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[0], "abcdef", 6, 0); send(sv[0], "XYZ", 3, 0);
    CHECK(seti(sv[1], SO_PEEK_OFF, 1) == 0, "dgram set off 1");
    memset(b, 0, sizeof b);
    CHECK(recv(sv[1], b, 2, MSG_PEEK) == 2 && !memcmp(b, "bc", 2), "peek bc");
    CHECK(geti(sv[1], SO_PEEK_OFF) == 3, "off 3");
    struct iovec io = {b, 2}; struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
    CHECK(recvmsg(sv[1], &m, MSG_PEEK) == 2 && !memcmp(b, "de", 2) && (m.msg_flags & MSG_TRUNC), "peek de trunc");
    CHECK(recv(sv[1], b, 32, MSG_PEEK | MSG_TRUNC) == 1 && b[0] == 'f', "peek MSG_TRUNC returns rest len");
    CHECK(geti(sv[1], SO_PEEK_OFF) == 6, "off 6");
    CHECK(recv(sv[1], b, 3, 0) == 3 && !memcmp(b, "abc", 3), "read first datagram truncated");
    CHECK(geti(sv[1], SO_PEEK_OFF) == 0, "off back to 0 by whole dgram");
    CHECK(recv(sv[1], b, 32, MSG_PEEK) == 3 && !memcmp(b, "XYZ", 3), "peek 2nd at 0");
    close(sv[0]); close(sv[1]);
    /* stream: offset beyond data, nonblocking EAGAIN */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "12", 2, 0);
    seti(sv[1], SO_PEEK_OFF, 2);
    CHECK_ERR(recv(sv[1], b, 4, MSG_PEEK | MSG_DONTWAIT), EAGAIN, "stream peek past data EAGAIN");
    send(sv[0], "34", 2, 0);
    CHECK(recv(sv[1], b, 4, MSG_PEEK | MSG_DONTWAIT) == 2 && !memcmp(b, "34", 2), "stream peek 34");
    CHECK(recv(sv[1], b, 4, 0) == 4, "read 4");
    CHECK(geti(sv[1], SO_PEEK_OFF) == 0, "off 0");
    shutdown(sv[0], SHUT_WR);
    CHECK(recv(sv[1], b, 4, MSG_PEEK) == 0, "peek at EOF 0");
    close(sv[0]); close(sv[1]);
    /* poll RDHUP only, data queued: times out; peer SHUT_WR from a child wakes it */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "d", 1, 0);
    struct pollfd p = {sv[1], POLLRDHUP, 0};
    double t0 = now();
    CHECK(poll(&p, 1, 100) == 0 && p.revents == 0, "RDHUP only with data: times out");
    CHECK(now() - t0 >= 0.09, "waited the timeout");
    pid_t c = fork();
    if (c == 0) { usleep(100000); shutdown(sv[0], SHUT_WR); _exit(0); }
    t0 = now();
    CHECK(poll(&p, 1, 3000) == 1 && p.revents == POLLRDHUP, "peer SHUT_WR with data wakes RDHUP");
    CHECK(now() - t0 < 2, "woke early");
    waitpid(c, NULL, 0);
    close(sv[0]); close(sv[1]);
    /* poll RDHUP only, no data: peer close wakes it */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    c = fork();
    if (c == 0) { usleep(100000); shutdown(sv[0], SHUT_WR); _exit(0); }
    p.fd = sv[1]; p.events = POLLRDHUP; p.revents = 0;
    CHECK(poll(&p, 1, 3000) == 1 && p.revents == POLLRDHUP, "peer SHUT_WR no data wakes RDHUP");
    waitpid(c, NULL, 0);
    close(sv[0]); close(sv[1]);
    /* a signal interrupts a RDHUP poll */
    struct sigaction sa = {.sa_handler = onsig};
    sigaction(SIGALRM, &sa, NULL);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "d", 1, 0);
    p.fd = sv[1]; p.events = POLLRDHUP; p.revents = 0;
    ualarm(100000, 0);
    CHECK_ERR(poll(&p, 1, 3000), EINTR, "signal interrupts RDHUP poll");
    close(sv[0]); close(sv[1]);
    /* fresh unconnected stream: HUP but no RDHUP; listener: no RDHUP */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    p.fd = s; p.events = POLLRDHUP | POLLIN; p.revents = 0;
    CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLHUP, "fresh stream: POLLHUP only");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "x.%d", getpid());
    unlink(a.sun_path);
    bind(s, SA(&a), sizeof a); listen(s, 2);
    int cl = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(cl, SA(&a), sizeof a) == 0, "connect");
    p.revents = 0;
    CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN, "listener with a pending connection: POLLIN only");
    struct sockaddr_un pa; socklen_t pl = sizeof pa;
    int ac = accept(s, SA(&pa), &pl);
    CHECK(ac >= 0 && pl == 2, "accept: unnamed peer len 2");
    pl = sizeof pa;
    CHECK(getsockname(cl, SA(&pa), &pl) == 0 && pl == 2, "client getsockname unnamed 2");
    pl = sizeof pa;
    CHECK(getpeername(ac, SA(&pa), &pl) == 0 && pl == 2, "accepted getpeername unnamed 2");
    send(cl, "q", 1, 0);
    pl = sizeof pa;
    CHECK(recvfrom(ac, b, 4, 0, SA(&pa), &pl) == 1 && pl == 0, "stream recvfrom from unnamed: namelen 0");
    struct ucred u; socklen_t ul = sizeof u;
    CHECK(getsockopt(ac, SOL_SOCKET, SO_PEERCRED, &u, &ul) == 0 && u.pid == getpid(), "accepted peercred");
    /* the accepted socket passed through SCM_RIGHTS still names its peer */
    int pv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pv);
    char cb[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec fio = {"F", 1};
    struct msghdr fm = {.msg_iov = &fio, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&fm);
    cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &ac, sizeof ac);
    sendmsg(pv[0], &fm, 0);
    char rb[1]; struct iovec rio = {rb, 1};
    struct msghdr rm = {.msg_iov = &rio, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
    int got = -1;
    if (recvmsg(pv[1], &rm, 0) == 1 && (cm = CMSG_FIRSTHDR(&rm))) memcpy(&got, CMSG_DATA(cm), sizeof got);
    ul = sizeof u;
    CHECK(got >= 0 && getsockopt(got, SOL_SOCKET, SO_PEERCRED, &u, &ul) == 0 && u.pid == getpid()
          && u.uid == geteuid(), "received accepted socket: SO_PEERCRED");
    close(got); close(pv[0]); close(pv[1]);
    shutdown(cl, SHUT_WR);
    p.fd = ac; p.events = POLLRDHUP; p.revents = 0;
    CHECK(poll(&p, 1, 1000) == 1 && p.revents == POLLRDHUP, "accepted: client SHUT_WR RDHUP");
    close(ac); close(cl); close(s); unlink(a.sun_path);
    /* SO_PRIORITY beyond 6 as root ok */
    s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(seti(s, SO_PRIORITY, 7) == (geteuid() == 0 ? 0 : -1), "SO_PRIORITY 7 root only");
    CHECK(geti(s, SO_PROTOCOL) == IPPROTO_TCP, "tcp SO_PROTOCOL after state");
    close(s);
    s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (s >= 0) { CHECK(geti(s, SO_PROTOCOL) == IPPROTO_ICMP, "raw icmp SO_PROTOCOL"); close(s); }
    s = socket(AF_INET6, SOCK_DGRAM, 0);
    CHECK(geti(s, SO_PROTOCOL) == IPPROTO_UDP && geti(s, SO_DOMAIN) == AF_INET6, "udp6 proto/domain");
    close(s);
    DONE();
}
