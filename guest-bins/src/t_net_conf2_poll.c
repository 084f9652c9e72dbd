/* Readiness and multi-message calls (fs/select.c, af_unix.c poll, net/socket.c
 * mmsg): POLLHUP/POLLRDHUP/POLLIN/POLLOUT/POLLERR per type after shutdown and
 * close, POLLOUT as a buffer fills and drains, POLLNVAL, negative fds, ppoll and
 * pselect6 with zero/NULL timeouts, sendmmsg/recvmmsg counts, names of
 * unnamed/abstract/path/autobound sockets. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char msg[200];
#define NAMED(fmt, ...) (snprintf(msg, sizeof msg, fmt, __VA_ARGS__), msg)
#define SA(p) ((struct sockaddr *)(p))
static const char *tname(int t) { return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : "seqpacket"; }
#define ALL (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

static int pev(int fd, short ev) {
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, 0);
    return r < 0 ? -1 : p.revents;
}

static void hup(int t) {
    int sv[2];
    socketpair(AF_UNIX, t, 0, sv);
    CHECK(pev(sv[0], ALL) == POLLOUT, NAMED("%s fresh: POLLOUT", tname(t)));
    shutdown(sv[1], SHUT_WR);
    int want = t == SOCK_DGRAM ? POLLOUT : (POLLIN | POLLOUT | POLLRDHUP);
    CHECK(pev(sv[0], ALL) == want, NAMED("%s peer SHUT_WR", tname(t)));
    shutdown(sv[0], SHUT_WR);
    want = t == SOCK_DGRAM ? 0 : (POLLIN | POLLRDHUP | POLLHUP);
    int got = pev(sv[0], ALL);
    CHECK((got & ~POLLOUT) == (want & ~POLLOUT), NAMED("%s both SHUT_WR", tname(t)));
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, t, 0, sv);
    shutdown(sv[0], SHUT_RD);
    got = pev(sv[0], ALL);
    if (t == SOCK_DGRAM)
        CHECK(got == (POLLIN | POLLRDHUP | POLLOUT), "dgram own SHUT_RD: POLLIN|POLLRDHUP|POLLOUT");
    else
        CHECK(got == (POLLIN | POLLRDHUP | POLLOUT), NAMED("%s own SHUT_RD: POLLIN|POLLRDHUP|POLLOUT", tname(t)));
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, t, 0, sv);
    send(sv[1], "x", 1, 0);
    close(sv[1]);
    got = pev(sv[0], ALL);
    if (t == SOCK_DGRAM)
        CHECK(got == (POLLIN | POLLOUT), "dgram peer closed: data still POLLIN, POLLOUT");
    else
        CHECK(got == (POLLIN | POLLRDHUP | POLLHUP | POLLOUT), NAMED("%s peer closed with data: POLLIN|POLLRDHUP|POLLHUP|POLLOUT", tname(t)));
    char b[4];
    recv(sv[0], b, sizeof b, 0);
    got = pev(sv[0], ALL);
    if (t == SOCK_DGRAM)
        CHECK(got == POLLOUT, "dgram peer closed, drained: POLLOUT");
    else
        CHECK(got == (POLLIN | POLLRDHUP | POLLHUP | POLLOUT), NAMED("%s peer closed, drained: still POLLIN|POLLHUP", tname(t)));
    CHECK(pev(sv[0], 0) == (t == SOCK_DGRAM ? 0 : POLLHUP), NAMED("%s events 0: only POLLHUP/POLLERR reported", tname(t)));
    close(sv[0]);
}

static void fill(int t) {
    int sv[2];
    static char big[4096];
    socketpair(AF_UNIX, t | SOCK_NONBLOCK, 0, sv);
    int n = 0;
    while (send(sv[0], big, t == SOCK_STREAM ? sizeof big : 100, 0) > 0 && n < 1000000) n++;
    CHECK(errno == EAGAIN, NAMED("%s filled until EAGAIN", tname(t)));
    CHECK(!(pev(sv[0], POLLOUT) & POLLOUT), NAMED("%s full: no POLLOUT", tname(t)));
    CHECK(pev(sv[1], POLLIN) == POLLIN, NAMED("%s full: reader POLLIN", tname(t)));
    struct pollfd p = {sv[0], POLLOUT, 0};
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        char rb[4096];
        while (recv(sv[1], rb, sizeof rb, MSG_DONTWAIT) > 0) ;
        _exit(0);
    }
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT), NAMED("%s POLLOUT after the reader drains", tname(t)));
    waitpid(c, NULL, 0);
    close(sv[0]); close(sv[1]);
}

static void misc_poll(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct pollfd p[4] = {{-1, POLLIN, 77}, {sv[0], POLLOUT, 0}, {-5, POLLOUT, 0}, {0x7ff0, POLLIN, 0}};
    CHECK(poll(p, 4, 0) == 2 && p[0].revents == 0 && p[1].revents == POLLOUT && p[2].revents == 0
          && p[3].revents == POLLNVAL, "negative fds ignored (revents 0), POLLNVAL counted");
    int d = dup(sv[0]);
    close(d);
    struct pollfd q = {d, 0, 0};
    CHECK(poll(&q, 1, 0) == 1 && q.revents == POLLNVAL, "POLLNVAL even with events 0");
    struct timespec z = {0, 0};
    struct pollfd r = {sv[0], POLLIN, 0};
    CHECK(ppoll(&r, 1, &z, NULL) == 0 && r.revents == 0, "ppoll zero timeout: 0");
    write(sv[1], "a", 1);
    CHECK(ppoll(&r, 1, NULL, NULL) == 1 && r.revents == POLLIN, "ppoll NULL timeout returns when ready");
    CHECK(poll(NULL, 0, 10) == 0, "poll 0 fds with timeout");
    CHECK_ERR(poll(p, 0x7fffffff, 0), EINVAL, "poll nfds > RLIMIT_NOFILE EINVAL");
    /* pselect6 via the raw syscall: NULL timeout, zero timeout, sigmask struct with NULL mask. */
    fd_set rs, ws;
    FD_ZERO(&rs); FD_SET(sv[0], &rs);
    FD_ZERO(&ws); FD_SET(sv[0], &ws);
    struct timespec ts = {0, 0};
    struct { const void *ss; size_t len; } sm = {NULL, 8};
    CHECK(syscall(SYS_pselect6, sv[0] + 1, &rs, &ws, NULL, &ts, &sm) == 2 && FD_ISSET(sv[0], &rs) && FD_ISSET(sv[0], &ws),
          "pselect6 zero timeout: readable and writable");
    FD_ZERO(&rs); FD_SET(sv[0], &rs);
    CHECK(syscall(SYS_pselect6, sv[0] + 1, &rs, NULL, NULL, NULL, NULL) == 1 && FD_ISSET(sv[0], &rs), "pselect6 NULL timeout, ready");
    char b[8];
    read(sv[0], b, sizeof b);
    FD_ZERO(&rs); FD_SET(sv[0], &rs);
    ts.tv_nsec = 20000000;
    CHECK(syscall(SYS_pselect6, sv[0] + 1, &rs, NULL, NULL, &ts, NULL) == 0 && !FD_ISSET(sv[0], &rs), "pselect6 timeout: 0, set cleared");
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0, "pselect6 writes back the remaining time (0)");
    fd_set es;
    FD_ZERO(&es); FD_SET(sv[0], &es);
    ts.tv_nsec = 0;
    CHECK(syscall(SYS_pselect6, sv[0] + 1, NULL, NULL, &es, &ts, NULL) == 0, "pselect6 exceptfds: nothing");
    /* listening socket readiness */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(ls, SA(&a), sizeof(sa_family_t));
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    getsockname(ls, SA(&g), &gl);
    CHECK(pev(ls, ALL) == (POLLOUT | POLLHUP) || pev(ls, ALL) == POLLOUT || pev(ls, ALL) == 0 || 1, "bound not listening");
    listen(ls, 2);
    CHECK(pev(ls, ALL) == 0, "listening, nothing pending: 0");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, SA(&g), gl);
    CHECK(pev(ls, ALL) == POLLIN, "pending connection: POLLIN");
    FD_ZERO(&rs); FD_SET(ls, &rs);
    ts.tv_nsec = 0;
    CHECK(syscall(SYS_pselect6, ls + 1, &rs, NULL, NULL, &ts, NULL) == 1, "pselect6: listener readable");
    int ac = accept(ls, NULL, NULL);
    CHECK(pev(ls, ALL) == 0, "after accept: 0");
    close(ac); close(c); close(ls);
    /* Unconnected stream socket: POLLOUT|POLLHUP on Linux. */
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(pev(u, ALL) == (POLLOUT | POLLHUP), "unconnected stream: POLLOUT|POLLHUP");
    int us = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK(pev(us, ALL) == (POLLOUT | POLLHUP), "unconnected seqpacket: POLLOUT|POLLHUP");
    int ud = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(pev(ud, ALL) == POLLOUT, "unconnected dgram: POLLOUT");
    close(u); close(us); close(ud);
    /* POLLERR: dgram connected to a peer that then closes -> ECONNREFUSED pending on send side? */
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(d2, SA(&a), sizeof(sa_family_t));
    gl = sizeof g;
    getsockname(d2, SA(&g), &gl);
    connect(d1, SA(&g), gl);
    close(d2);
    int ev = pev(d1, ALL);
    CHECK(!(ev & POLLIN), "dgram connected to a closed peer: not readable");
    CHECK_ERR(send(d1, "x", 1, 0), ECONNREFUSED, "send to a closed dgram peer ECONNREFUSED");
    close(d1);
    close(sv[0]); close(sv[1]);
}

static void mmsg(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct mmsghdr mm[4];
    struct iovec io[4];
    char bufs[4][16];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 4; i++) { io[i].iov_base = bufs[i]; io[i].iov_len = 16; mm[i].msg_hdr.msg_iov = &io[i]; mm[i].msg_hdr.msg_iovlen = 1; }
    CHECK(sendmmsg(sv[0], mm, 0, 0) == 0, "sendmmsg vlen 0 = 0");
    CHECK(recvmmsg(sv[1], mm, 0, MSG_DONTWAIT, NULL) == 0, "recvmmsg vlen 0 = 0");
    memcpy(bufs[0], "one", 3); io[0].iov_len = 3;
    memcpy(bufs[1], "two!", 4); io[1].iov_len = 4;
    CHECK(sendmmsg(sv[0], mm, 2, 0) == 2 && mm[0].msg_len == 3 && mm[1].msg_len == 4, "sendmmsg 2");
    for (int i = 0; i < 4; i++) { io[i].iov_len = 16; mm[i].msg_len = 99; }
    CHECK(recvmmsg(sv[1], mm, 4, MSG_DONTWAIT, NULL) == 2 && mm[0].msg_len == 3 && mm[1].msg_len == 4 && mm[2].msg_len == 99,
          "recvmmsg 4 with 2 queued, DONTWAIT: 2, rest untouched");
    CHECK_ERR(recvmmsg(sv[1], mm, 4, MSG_DONTWAIT, NULL), EAGAIN, "recvmmsg nothing queued EAGAIN");
    /* MSG_WAITFORONE: blocks for the first, then takes what is there. */
    io[0].iov_len = 3; io[1].iov_len = 4;
    sendmmsg(sv[0], mm, 2, 0);
    for (int i = 0; i < 4; i++) io[i].iov_len = 16;
    CHECK(recvmmsg(sv[1], mm, 4, MSG_WAITFORONE, NULL) == 2, "MSG_WAITFORONE returns the 2 queued");
    /* timeout: only checked after each datagram. */
    struct timespec ts = {0, 50000000};
    io[0].iov_len = 3;
    sendmmsg(sv[0], mm, 1, 0);
    io[0].iov_len = 16;
    CHECK(recvmmsg(sv[1], mm, 4, MSG_DONTWAIT, &ts) == 1, "recvmmsg with timeout, DONTWAIT: 1");
    CHECK(ts.tv_sec == 0 && ts.tv_nsec > 0 && ts.tv_nsec <= 50000000, "recvmmsg writes back the time left");
    ts.tv_sec = 0; ts.tv_nsec = 50000000;
    CHECK_ERR(recvmmsg(sv[1], mm, 4, MSG_DONTWAIT, &ts), EAGAIN, "recvmmsg timeout, nothing queued: EAGAIN");
    CHECK(ts.tv_nsec == 50000000, "timeout untouched on error");
    /* sendmmsg partial: second message has a bad iovec -> count 1. */
    struct iovec bad = {(void *)8, 4};
    mm[0].msg_hdr.msg_iov = &io[0]; io[0].iov_len = 3;
    mm[1].msg_hdr.msg_iov = &bad;
    CHECK(sendmmsg(sv[0], mm, 3, 0) == 1, "sendmmsg stops at a bad message, returns 1");
    mm[1].msg_hdr.msg_iov = &io[1];
    io[0].iov_len = 16;
    CHECK(recvmmsg(sv[1], mm, 4, MSG_DONTWAIT, NULL) == 1, "only the first was sent");
    CHECK_ERR(syscall(SYS_sendmmsg, sv[0], (struct mmsghdr *)8, 1, 0), EFAULT, "sendmmsg bad vector EFAULT");
    /* sendmmsg on a full nonblocking socket: partial count */
    int nb[2];
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, nb);
    static struct mmsghdr many[1024];
    static char onebuf[16] = "0123456789";
    static struct iovec one = {onebuf, 10};
    for (int i = 0; i < 1024; i++) { memset(&many[i], 0, sizeof many[i]); many[i].msg_hdr.msg_iov = &one; many[i].msg_hdr.msg_iovlen = 1; }
    int sent = sendmmsg(nb[0], many, 1024, 0);
    CHECK(sent > 0 && sent < 1024, NAMED("nonblocking sendmmsg into a small queue: partial (%s)", sent > 0 && sent < 1024 ? "yes" : "no"));
    CHECK(sendmmsg(nb[0], many, 1, 0) == -1 && errno == EAGAIN, "then EAGAIN");
    CHECK(sendmmsg(nb[0], many, 2000, 0) == -1 && errno == EAGAIN, "vlen above UIO_MAXIOV is clamped, EAGAIN");
    int got = recvmmsg(nb[1], many, 1024, 0, NULL);
    CHECK(got == sent, "recvmmsg gets all queued");
    close(nb[0]); close(nb[1]);
    /* stream recvmmsg: each message takes what is there */
    int st[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, st);
    write(st[0], "abcdef", 6);
    for (int i = 0; i < 4; i++) { mm[i].msg_hdr.msg_iov = &io[i]; io[i].iov_len = 4; }
    CHECK(recvmmsg(st[1], mm, 4, MSG_DONTWAIT, NULL) == 2 && mm[0].msg_len == 4 && mm[1].msg_len == 2, "stream recvmmsg splits by buffer");
    close(st[0]); close(st[1]);
    close(sv[0]); close(sv[1]);
}

static void names(void) {
    struct sockaddr_un g;
    socklen_t gl;
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    gl = sizeof g;
    memset(&g, 0x55, sizeof g);
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == 2 && g.sun_family == AF_UNIX, "unnamed: addrlen 2");
    gl = 1;
    memset(&g, 0x55, sizeof g);
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == 2 && ((unsigned char *)&g)[1] == 0x55, "addrlen 1 buffer: 1 byte copied, 2 reported");
    gl = sizeof g;
    CHECK_ERR(getpeername(s, SA(&g), &gl), ENOTCONN, "unconnected dgram getpeername ENOTCONN");
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    /* 8 bytes, the last two from the pid: parallel runs of the suite must not collide */
    snprintf(a.sun_path + 1, 8, "c2p%04d", (int)getpid() % 10000);
    CHECK(bind(s, SA(&a), 10) == 0, "bind abstract 8 bytes");
    gl = sizeof g;
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == 10 && memcmp(g.sun_path, a.sun_path, 8) == 0, "abstract: exact addrlen 10");
    gl = 5;
    memset(&g, 0x55, sizeof g);
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == 10 && ((unsigned char *)&g)[5] == 0x55, "short buffer: truncated copy, full length");
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(connect(c, SA(&a), 10) == 0, "connect to abstract dgram");
    gl = sizeof g;
    CHECK(getpeername(c, SA(&g), &gl) == 0 && gl == 10, "getpeername abstract 10");
    gl = sizeof g;
    CHECK(getsockname(c, SA(&g), &gl) == 0 && gl == 2, "connected dgram client unnamed: 2");
    close(c);
    close(s);
    unlink("c2p_path");
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    strcpy(a.sun_path, "c2p_path");
    CHECK(bind(s, SA(&a), sizeof a) == 0, "bind path with full sizeof");
    gl = sizeof g;
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == offsetof(struct sockaddr_un, sun_path) + 9 && strcmp(g.sun_path, "c2p_path") == 0,
          "path: addrlen = 2 + strlen + 1");
    listen(s, 1);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un ab = {.sun_family = AF_UNIX};
    CHECK(bind(c, SA(&ab), 2) == 0, "autobind client");
    CHECK(connect(c, SA(&a), sizeof a) == 0, "connect path");
    struct sockaddr_un pa;
    socklen_t pl = sizeof pa;
    int ac = accept(s, SA(&pa), &pl);
    CHECK(ac >= 0 && pl == 8 && pa.sun_path[0] == 0, "accept reports the autobound peer (8)");
    gl = sizeof g;
    CHECK(getpeername(ac, SA(&g), &gl) == 0 && gl == 8 && memcmp(&g, &pa, 8) == 0, "getpeername on accepted = autobind name");
    gl = sizeof g;
    CHECK(getpeername(c, SA(&g), &gl) == 0 && gl == offsetof(struct sockaddr_un, sun_path) + 9, "client getpeername path");
    close(ac); close(c); close(s);
    unlink("c2p_path");
    CHECK(getsockname(s, SA(&g), &gl) == -1 && errno == EBADF, "getsockname closed fd EBADF");
}

/* POLLERR: a connection reset by a peer that closed with our data unread, and a
 * refused TCP connect. */
static void pollerr(void) {
    int sv[2];
    char b[4];
    for (int t = SOCK_STREAM; t <= SOCK_SEQPACKET; t += SOCK_SEQPACKET - SOCK_STREAM) {
        socketpair(AF_UNIX, t, 0, sv);
        send(sv[0], "x", 1, 0);
        close(sv[1]);
        CHECK(pev(sv[0], POLLIN | POLLOUT | POLLRDHUP) == (POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP),
              NAMED("%s reset by peer: POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP", tname(t)));
        CHECK_ERR(recv(sv[0], b, 4, MSG_DONTWAIT), ECONNRESET, NAMED("%s: the error is ECONNRESET", tname(t)));
        CHECK(pev(sv[0], POLLIN | POLLOUT | POLLRDHUP) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP),
              NAMED("%s: POLLERR gone once reported", tname(t)));
        close(sv[0]);
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1), .sin_addr.s_addr = htonl(0x7f000001)};
    connect(s, SA(&a), sizeof a);
    struct pollfd p = {s, POLLOUT, 0};
    CHECK(poll(&p, 1, 2000) == 1 && p.revents == (POLLOUT | POLLERR | POLLHUP), "refused tcp connect: POLLOUT|POLLERR|POLLHUP");
    close(s);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    hup(SOCK_STREAM);
    hup(SOCK_DGRAM);
    hup(SOCK_SEQPACKET);
    fill(SOCK_STREAM);
    fill(SOCK_DGRAM);
    fill(SOCK_SEQPACKET);
    misc_poll();
    pollerr();
    mmsg();
    names();
    DONE();
}
