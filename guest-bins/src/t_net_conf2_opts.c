/* Socket options, credentials and fd passing (net/core/sock.c, scm.c, af_unix.c):
 * SO_SNDBUF/SO_RCVBUF doubling and minimums, SO_RCVTIMEO/SO_SNDTIMEO really
 * timing out, SO_PASSCRED with autobind, SCM_CREDENTIALS, SO_PEERCRED on every
 * kind of connected socket, SCM_RIGHTS of many fds and of special fds,
 * MSG_CMSG_CLOEXEC, accept4/SOCK_* flags. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char msg[200];
#define NAMED(fmt, ...) (snprintf(msg, sizeof msg, fmt, __VA_ARGS__), msg)
#define SA(p) ((struct sockaddr *)(p))

static int geti(int s, int lvl, int o) { int v = -12345; socklen_t l = sizeof v; if (getsockopt(s, lvl, o, &v, &l) < 0) return -12345; return v; }
static int seti(int s, int lvl, int o, int v) { return setsockopt(s, lvl, o, &v, sizeof v); }
/* Under ELFUSE_HOST_COMPAT=darwin (elfuse-py's macOS socket policy on a Linux host) a
 * few credential answers differ by design; docs/net.md "Darwin policy" lists them. */
static int darwin_policy(void) { const char *e = getenv("GUEST_HOST_POLICY"); return e && !strcmp(e, "darwin"); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static void bufsizes(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(seti(s, SOL_SOCKET, SO_SNDBUF, 65536) == 0 && geti(s, SOL_SOCKET, SO_SNDBUF) == 131072, "SO_SNDBUF 65536 reads 131072");
    CHECK(seti(s, SOL_SOCKET, SO_RCVBUF, 65536) == 0 && geti(s, SOL_SOCKET, SO_RCVBUF) == 131072, "SO_RCVBUF 65536 reads 131072");
    CHECK(seti(s, SOL_SOCKET, SO_SNDBUF, 1) == 0 && geti(s, SOL_SOCKET, SO_SNDBUF) == 4608, "SO_SNDBUF 1 -> minimum 4608");
    CHECK(seti(s, SOL_SOCKET, SO_RCVBUF, 1) == 0 && geti(s, SOL_SOCKET, SO_RCVBUF) == 2304, "SO_RCVBUF 1 -> minimum 2304");
    CHECK(seti(s, SOL_SOCKET, SO_SNDBUF, -1) == 0 && geti(s, SOL_SOCKET, SO_SNDBUF) >= 4608, "SO_SNDBUF -1 clamps to wmem_max (u32)");
    CHECK(seti(s, SOL_SOCKET, SO_RCVBUF, 10000) == 0 && geti(s, SOL_SOCKET, SO_RCVBUF) == 20000, "SO_RCVBUF 10000 reads 20000");
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(seti(u, SOL_SOCKET, SO_RCVBUF, 8192) == 0 && geti(u, SOL_SOCKET, SO_RCVBUF) == 16384, "udp SO_RCVBUF doubled");
    CHECK(seti(u, SOL_SOCKET, SO_SNDBUF, 8192) == 0 && geti(u, SOL_SOCKET, SO_SNDBUF) == 16384, "udp SO_SNDBUF doubled");
    close(u);
    close(s);
}

static void timeouts(void) {
    int sv[2];
    char b[8];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval tv = {0, 150000}, g;
    socklen_t l = sizeof g;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO 150ms");
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &l) == 0 && l == sizeof g && g.tv_sec == 0
          && g.tv_usec >= 148000 && g.tv_usec <= 152000, "SO_RCVTIMEO reads back");
    double t0 = now();
    CHECK_ERR(recv(sv[0], b, sizeof b, 0), EAGAIN, "blocking recv times out EAGAIN");
    double dt = now() - t0;
    CHECK(dt > 0.12 && dt < 2.0, NAMED("recv waited about 150ms (%s)", dt > 0.12 && dt < 2.0 ? "yes" : "no"));
    t0 = now();
    CHECK_ERR(read(sv[0], b, sizeof b), EAGAIN, "blocking read times out EAGAIN");
    dt = now() - t0;
    CHECK(dt > 0.12 && dt < 2.0, "read waited about 150ms");
    write(sv[1], "d", 1);
    CHECK(recv(sv[0], b, sizeof b, 0) == 1, "data before the timeout is received");
    /* SO_SNDTIMEO on a full stream. */
    int fl = 4096;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &fl, sizeof fl);
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0, "SO_SNDTIMEO 150ms");
    static char big[65536];
    long r, total = 0;
    t0 = now();
    while ((r = send(sv[1], big, sizeof big, 0)) > 0 && total < 100000000) total += r;
    dt = now() - t0;
    CHECK(r == -1 && errno == EAGAIN && total > 0, "blocking send on a full stream times out EAGAIN");
    CHECK(dt > 0.12 && dt < 5.0, "send waited about the timeout");
    tv.tv_sec = 0; tv.tv_usec = 0;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO 0 (forever)");
    l = sizeof g;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &l) == 0 && g.tv_sec == 0 && g.tv_usec == 0, "reads back 0");
    tv.tv_sec = -1; tv.tv_usec = 0;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "negative SO_RCVTIMEO accepted");
    l = sizeof g;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &g, &l) == 0 && g.tv_sec == 0 && g.tv_usec == 0, "negative reads back as 0");
    close(sv[0]);
    close(sv[1]);
    /* A dgram socket with SO_RCVTIMEO via recvmsg. */
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct timeval t2 = {0, 100000};
    setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &t2, sizeof t2);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(d, SA(&a), sizeof(sa_family_t));
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
    t0 = now();
    CHECK_ERR(recvmsg(d, &m, 0), EAGAIN, "dgram recvmsg times out EAGAIN");
    CHECK(now() - t0 > 0.07, "dgram waited");
    close(d);
    /* accept with SO_RCVTIMEO. */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ls, SA(&a), sizeof(sa_family_t));
    listen(ls, 1);
    setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &t2, sizeof t2);
    t0 = now();
    CHECK_ERR(accept(ls, NULL, NULL), EAGAIN, "accept times out EAGAIN");
    CHECK(now() - t0 > 0.07, "accept waited");
    close(ls);
}

static void passcred(void) {
    int r = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    /* the pid keeps parallel runs of the suite apart */
    socklen_t al = sizeof(sa_family_t) + 1 +
        snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "c2o-passcred-%d", (int)getpid());
    CHECK(bind(r, SA(&a), al) == 0, "bind abstract receiver");
    CHECK(seti(r, SOL_SOCKET, SO_PASSCRED, 1) == 0, "receiver SO_PASSCRED");
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(seti(s, SOL_SOCKET, SO_PASSCRED, 1) == 0, "sender SO_PASSCRED before any bind");
    CHECK(sendto(s, "c", 1, 0, SA(&a), al) == 1, "sendto from unbound passcred sender");
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    CHECK(getsockname(s, SA(&g), &gl) == 0 && gl == 8 && g.sun_path[0] == 0, "SO_PASSCRED sender was autobound on send");
    char b[8], cbuf[CMSG_SPACE(sizeof(struct ucred))];
    struct sockaddr_un from;
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &io, .msg_iovlen = 1,
                       .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    CHECK(recvmsg(r, &m, 0) == 1, "recvmsg from passcred sender");
    CHECK(m.msg_namelen == gl && memcmp(&from, &g, gl) == 0, "sender address is its autobind name");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct ucred u = {0};
    if (c) memcpy(&u, CMSG_DATA(c), sizeof u);
    CHECK(c && c->cmsg_type == SCM_CREDENTIALS && u.pid == getpid() && u.uid == getuid() && u.gid == getgid(),
          "SCM_CREDENTIALS carries our pid/uid/gid");
    /* An unbound sender without SO_PASSCRED: Linux still attaches its credentials. */
    int s3 = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(sendto(s3, "u", 1, 0, SA(&a), al) == 1, "sendto from an unbound sender");
    m.msg_controllen = sizeof cbuf;
    m.msg_namelen = sizeof from;
    CHECK(recvmsg(r, &m, 0) == 1 && m.msg_namelen == 0, "received, sender unnamed");
    c = CMSG_FIRSTHDR(&m);
    memset(&u, 0, sizeof u);
    if (c) memcpy(&u, CMSG_DATA(c), sizeof u);
    if (darwin_policy())   /* macOS cannot tell an unbound datagram's sender: Linux's "unknown" */
        CHECK(c && c->cmsg_type == SCM_CREDENTIALS && u.pid == 0 && u.uid == (uid_t)-1,
              "unbound sender's credentials (darwin policy: unknown)");
    else
        CHECK(c && c->cmsg_type == SCM_CREDENTIALS && u.pid == getpid() && u.uid == getuid(),
              "unbound sender's credentials");
    close(s3);
    /* connect on a passcred socket autobinds too. */
    int s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    seti(s2, SOL_SOCKET, SO_PASSCRED, 1);
    CHECK(connect(s2, SA(&a), al) == 0, "connect passcred dgram");
    gl = sizeof g;
    CHECK(getsockname(s2, SA(&g), &gl) == 0 && gl == 8, "connect autobound the passcred socket");
    /* stream: a passcred client gets autobound on connect. */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un la;
    memset(&la, 0, sizeof la);
    la.sun_family = AF_UNIX;
    /* the pid keeps parallel runs of the suite apart */
    socklen_t ll = sizeof(sa_family_t) + 1 +
        snprintf(la.sun_path + 1, sizeof la.sun_path - 1, "c2o-pclisten-%d", (int)getpid());
    bind(ls, SA(&la), ll);
    listen(ls, 2);
    int cs = socket(AF_UNIX, SOCK_STREAM, 0);
    seti(cs, SOL_SOCKET, SO_PASSCRED, 1);
    CHECK(connect(cs, SA(&la), ll) == 0, "connect passcred stream");
    gl = sizeof g;
    CHECK(getsockname(cs, SA(&g), &gl) == 0 && gl == 8, "stream client autobound by SO_PASSCRED");
    int ac = accept(ls, SA(&from), &(socklen_t){sizeof from});
    CHECK(ac >= 0, "accept passcred client");
    /* Send creds explicitly over the stream, then a foreign pid. */
    struct ucred mine = {getpid(), getuid(), getgid()};
    char cb2[CMSG_SPACE(sizeof mine)];
    memset(cb2, 0, sizeof cb2);
    struct iovec io2 = {"k", 1};
    struct msghdr sm = {.msg_iov = &io2, .msg_iovlen = 1, .msg_control = cb2, .msg_controllen = sizeof cb2};
    c = CMSG_FIRSTHDR(&sm);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof mine);
    memcpy(CMSG_DATA(c), &mine, sizeof mine);
    CHECK(sendmsg(cs, &sm, 0) == 1, "explicit own SCM_CREDENTIALS ok");
    seti(ac, SOL_SOCKET, SO_PASSCRED, 1);
    char rb[8];
    struct iovec rio = {rb, sizeof rb};
    struct msghdr rm = {.msg_iov = &rio, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    CHECK(recvmsg(ac, &rm, 0) == 1, "stream recv with creds");
    struct ucred foreign = {1, getuid(), getgid()};
    memcpy(CMSG_DATA(c), &foreign, sizeof foreign);
    if (geteuid() == 0) {
        CHECK(sendmsg(cs, &sm, 0) == 1, "root may send pid 1 in SCM_CREDENTIALS");
        rm.msg_controllen = sizeof cbuf;
        CHECK(recvmsg(ac, &rm, 0) == 1, "recv foreign creds");
        c = CMSG_FIRSTHDR(&rm);
        if (c) memcpy(&u, CMSG_DATA(c), sizeof u);
        if (darwin_policy())   /* sent credentials are checked, then the real ones delivered */
            CHECK(c && u.pid == getpid(), "receiver sees pid 1 (darwin policy: the sender's real pid)");
        else
            CHECK(c && u.pid == 1, "receiver sees pid 1");
        foreign.pid = 0x3ffffff0;
        memcpy(CMSG_DATA(c ? CMSG_FIRSTHDR(&sm) : CMSG_FIRSTHDR(&sm)), &foreign, sizeof foreign);
        CHECK_ERR(sendmsg(cs, &sm, 0), ESRCH, "root: nonexistent pid ESRCH");
    } else {
        CHECK_ERR(sendmsg(cs, &sm, 0), EPERM, "non-root foreign pid EPERM");
        CHECK(1, "recv foreign creds (n/a)");
        CHECK(1, "receiver sees pid 1 (n/a)");
        CHECK(1, "nonexistent pid (n/a)");
    }
    /* SO_PEERCRED on connected client and accepted socket. */
    struct ucred pc;
    socklen_t pl = sizeof pc;
    CHECK(getsockopt(cs, SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0 && pc.pid == getpid() && pc.uid == getuid(),
          "SO_PEERCRED on connected client");
    pl = sizeof pc;
    CHECK(getsockopt(ac, SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0 && pc.pid == getpid() && pc.gid == getgid(),
          "SO_PEERCRED on accepted socket");
    pl = sizeof pc;
    CHECK(getsockopt(ls, SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0 && pc.pid == getpid(),
          "SO_PEERCRED on the listener: its own creds");
    /* from a forked child: the peer pid is the child's */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t child = fork();
    if (child == 0) {
        int cc = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(cc, SA(&la), ll);
        char z;
        read(sv[1], &z, 1);
        _exit(0);
    }
    int ac2 = accept(ls, NULL, NULL);
    pl = sizeof pc;
    CHECK(ac2 >= 0 && getsockopt(ac2, SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0 && pc.pid == child,
          "SO_PEERCRED names the connecting child");
    write(sv[0], "z", 1);
    waitpid(child, NULL, 0);
    close(ac2); close(sv[0]); close(sv[1]);
    close(ac); close(cs); close(ls); close(s); close(s2); close(r);
}

static int sendfds(int s, const int *fds, int n) {
    size_t cl = CMSG_SPACE(sizeof(int) * n);
    char *cb = calloc(1, cl);
    struct iovec io = {"F", 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = cl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    int r = sendmsg(s, &m, 0);
    free(cb);
    return r;
}

static int recvfds(int s, int *fds, int max, int flags, int *mflags) {
    size_t cl = CMSG_SPACE(sizeof(int) * max);
    char *cb = calloc(1, cl);
    char b[8];
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = cl};
    int r = recvmsg(s, &m, flags);
    int n = 0;
    if (r >= 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(fds + n, CMSG_DATA(c), sizeof(int) * k);
                n += k;
            }
        if (mflags) *mflags = m.msg_flags;
    }
    free(cb);
    return r < 0 ? -1 : n;
}

static void fdpass(void) {
    int sv[2];
    static int fds[300], got[300];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int base = open("/dev/null", O_RDONLY);
    for (int i = 0; i < 254; i++) fds[i] = base;
    CHECK(sendfds(sv[0], fds, 253) == 1, "SCM_RIGHTS 253 fds (SCM_MAX_FD)");
    int mf = 0;
    int n = recvfds(sv[1], got, 253, 0, &mf);
    CHECK(n == 253 && mf == 0, "received 253 fds");
    int distinct = 1;
    for (int i = 0; i < n; i++) { if (fcntl(got[i], F_GETFD) < 0) distinct = 0; for (int j = 0; j < i; j++) if (got[j] == got[i]) distinct = 0; }
    CHECK(distinct, "253 distinct open fds");
    for (int i = 0; i < n; i++) close(got[i]);
    CHECK_ERR(sendfds(sv[0], fds, 254), EINVAL, "SCM_RIGHTS 254 fds EINVAL");
    CHECK_ERR(recv(sv[1], got, 1, MSG_DONTWAIT), EAGAIN, "nothing was sent");
    /* A listening socket: accept through the received fd. */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    /* the pid keeps parallel runs of the suite apart */
    socklen_t al = sizeof(sa_family_t) + 1 +
        snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "c2o-fdlisten-%d", (int)getpid());
    bind(ls, SA(&a), al);
    listen(ls, 2);
    CHECK(sendfds(sv[0], &ls, 1) == 1 && recvfds(sv[1], got, 1, 0, NULL) == 1, "pass a listening socket");
    int rl = got[0];
    CHECK(geti(rl, SOL_SOCKET, SO_ACCEPTCONN) == 1, "received listener SO_ACCEPTCONN 1");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, SA(&a), al) == 0, "connect to the passed listener's name");
    int ac = accept(rl, NULL, NULL);
    CHECK(ac >= 0 && write(c, "q", 1) == 1 && read(ac, got, 1) == 1, "accept on the received listener");
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    CHECK(getsockname(rl, SA(&g), &gl) == 0 && gl == al && memcmp(&g, &a, al) == 0, "received listener keeps its name");
    close(ac); close(c); close(rl); close(ls);
    /* An epoll fd. */
    int ep = epoll_create1(0);
    int p[2];
    pipe(p);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    CHECK(sendfds(sv[0], &ep, 1) == 1 && recvfds(sv[1], got, 1, 0, NULL) == 1, "pass an epoll fd");
    write(p[1], "e", 1);
    struct epoll_event out;
    CHECK(epoll_wait(got[0], &out, 1, 1000) == 1 && out.data.u32 == 77, "received epoll fd reports the pipe");
    close(got[0]); close(ep); close(p[0]); close(p[1]);
    /* A socket with pending data (and a SEQPACKET one). */
    int dp[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, dp);
    send(dp[0], "pend1", 5, 0);
    send(dp[0], "pend22", 6, 0);
    CHECK(sendfds(sv[0], &dp[1], 1) == 1 && recvfds(sv[1], got, 1, 0, NULL) == 1, "pass a seqpacket socket with data queued");
    char b[16];
    CHECK(recv(got[0], b, sizeof b, 0) == 5 && recv(got[0], b, sizeof b, 0) == 6, "pending messages keep their boundaries");
    CHECK(geti(got[0], SOL_SOCKET, SO_TYPE) == SOCK_SEQPACKET, "received socket SO_TYPE seqpacket");
    close(got[0]); close(dp[0]); close(dp[1]);
    /* A socket passed over itself. */
    int self[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, self);
    CHECK(sendfds(self[0], &self[1], 1) == 1, "send a socket's own end over itself");
    close(self[0]);
    CHECK(recvfds(self[1], got, 1, 0, NULL) == 1, "receive it");
    close(got[0]); close(self[1]);
    /* MSG_CMSG_CLOEXEC, and without. */
    int two[2] = {base, sv[0]};
    CHECK(sendfds(sv[0], two, 2) == 1 && recvfds(sv[1], got, 2, MSG_CMSG_CLOEXEC, NULL) == 2, "pass 2 fds with MSG_CMSG_CLOEXEC");
    CHECK(fcntl(got[0], F_GETFD) == FD_CLOEXEC && fcntl(got[1], F_GETFD) == FD_CLOEXEC, "both received fds FD_CLOEXEC");
    close(got[0]); close(got[1]);
    fcntl(base, F_SETFD, FD_CLOEXEC);
    CHECK(sendfds(sv[0], &base, 1) == 1 && recvfds(sv[1], got, 1, 0, NULL) == 1, "pass a CLOEXEC fd");
    CHECK(fcntl(got[0], F_GETFD) == 0, "received fd without MSG_CMSG_CLOEXEC has no FD_CLOEXEC");
    CHECK((fcntl(got[0], F_GETFL) & O_ACCMODE) == O_RDONLY, "file status flags shared");
    close(got[0]);
    /* Passed-fd counts per receiving buffer: exact fit. */
    for (int i = 0; i < 8; i++) fds[i] = base;
    CHECK(sendfds(sv[0], fds, 8) == 1, "send 8");
    n = recvfds(sv[1], got, 8, 0, &mf);
    CHECK(n == 8 && !(mf & MSG_CTRUNC), "exact control buffer: all 8, no MSG_CTRUNC");
    for (int i = 0; i < n; i++) close(got[i]);
    /* The fds are not duplicated into a dgram receiver that never reads: closing frees them. */
    close(base);
    close(sv[0]); close(sv[1]);
}

static void flags(void) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK((fcntl(s, F_GETFL) & O_NONBLOCK) && fcntl(s, F_GETFD) == FD_CLOEXEC, "SOCK_NONBLOCK|SOCK_CLOEXEC");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(s, SA(&a), sizeof(sa_family_t));
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    getsockname(s, SA(&g), &gl);
    listen(s, 4);
    CHECK_ERR(accept4(s, NULL, NULL, SOCK_CLOEXEC), EAGAIN, "nonblocking listener: accept4 EAGAIN");
    int c1 = socket(AF_UNIX, SOCK_STREAM, 0), c2 = socket(AF_UNIX, SOCK_STREAM, 0), c3 = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c1, SA(&g), gl); connect(c2, SA(&g), gl); connect(c3, SA(&g), gl);
    int a1 = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    CHECK(a1 >= 0 && fcntl(a1, F_GETFD) == FD_CLOEXEC && !(fcntl(a1, F_GETFL) & O_NONBLOCK), "accept4 SOCK_CLOEXEC only");
    int a2 = accept4(s, NULL, NULL, SOCK_NONBLOCK);
    CHECK(a2 >= 0 && fcntl(a2, F_GETFD) == 0 && (fcntl(a2, F_GETFL) & O_NONBLOCK), "accept4 SOCK_NONBLOCK only");
    int a3 = accept4(s, NULL, NULL, 0);
    CHECK(a3 >= 0 && fcntl(a3, F_GETFD) == 0 && !(fcntl(a3, F_GETFL) & O_NONBLOCK), "accept4 0: neither");
    CHECK_ERR(accept4(s, NULL, NULL, O_APPEND), EINVAL, "accept4 O_APPEND EINVAL");
    CHECK(fcntl(a3, F_SETFL, O_NONBLOCK) == 0 && (fcntl(a3, F_GETFL) & O_NONBLOCK), "fcntl O_NONBLOCK on a socket");
    char b;
    CHECK_ERR(read(a3, &b, 1), EAGAIN, "then read EAGAIN");
    CHECK(fcntl(a3, F_GETFL) & O_RDWR, "socket is O_RDWR");
    int d = dup3(a3, 100, O_CLOEXEC);
    CHECK(d == 100 && fcntl(d, F_GETFD) == FD_CLOEXEC && (fcntl(d, F_GETFL) & O_NONBLOCK), "dup3 keeps O_NONBLOCK, own CLOEXEC");
    close(d);
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) == 0 && fcntl(sp[0], F_GETFD) == FD_CLOEXEC
          && fcntl(sp[1], F_GETFD) == FD_CLOEXEC && !(fcntl(sp[1], F_GETFL) & O_NONBLOCK), "socketpair SOCK_CLOEXEC both ends");
    close(sp[0]); close(sp[1]);
    close(a1); close(a2); close(a3); close(c1); close(c2); close(c3); close(s);
}

static void misc_opts(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(geti(s, SOL_SOCKET, SO_ACCEPTCONN) == 0, "fresh SO_ACCEPTCONN 0");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(s, SA(&a), sizeof(sa_family_t));
    listen(s, 1);
    CHECK(geti(s, SOL_SOCKET, SO_ACCEPTCONN) == 1, "listening SO_ACCEPTCONN 1");
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(geti(d, SOL_SOCKET, SO_ACCEPTCONN) == 0, "dgram SO_ACCEPTCONN 0");
    CHECK_ERR(seti(s, SOL_SOCKET, SO_ACCEPTCONN, 1), ENOPROTOOPT, "SO_ACCEPTCONN read-only ENOPROTOOPT");
    CHECK(geti(s, SOL_SOCKET, SO_PASSCRED) == 0, "SO_PASSCRED default 0");
    CHECK(seti(s, SOL_SOCKET, SO_PASSCRED, 7) == 0 && geti(s, SOL_SOCKET, SO_PASSCRED) == 1, "SO_PASSCRED 7 reads 1");
    CHECK(seti(s, SOL_SOCKET, SO_KEEPALIVE, 1) == 0 && geti(s, SOL_SOCKET, SO_KEEPALIVE) == 1, "unix SO_KEEPALIVE settable");
    CHECK(seti(d, SOL_SOCKET, SO_BROADCAST, 1) == 0 && geti(d, SOL_SOCKET, SO_BROADCAST) == 1, "unix SO_BROADCAST settable");
    CHECK(seti(d, SOL_SOCKET, SO_PRIORITY, 6) == 0 && geti(d, SOL_SOCKET, SO_PRIORITY) == 6, "SO_PRIORITY 6");
    CHECK(seti(d, SOL_SOCKET, SO_RCVLOWAT, 5) == 0 && geti(d, SOL_SOCKET, SO_RCVLOWAT) == 5, "SO_RCVLOWAT 5");
    CHECK(geti(d, SOL_SOCKET, SO_SNDLOWAT) == 1, "SO_SNDLOWAT 1");
    CHECK_ERR(seti(d, SOL_SOCKET, SO_SNDLOWAT, 5), ENOPROTOOPT, "SO_SNDLOWAT not settable ENOPROTOOPT");
    struct linger lg = {1, 5}, lo;
    socklen_t l = sizeof lo;
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 && getsockopt(s, SOL_SOCKET, SO_LINGER, &lo, &l) == 0
          && l == sizeof lo && lo.l_onoff == 1 && lo.l_linger == 5, "SO_LINGER round trip");
    l = sizeof lo;
    lg.l_onoff = 0;
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0 && getsockopt(s, SOL_SOCKET, SO_LINGER, &lo, &l) == 0
          && lo.l_onoff == 0, "SO_LINGER off");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, 4), EINVAL, "SO_LINGER short optlen EINVAL");
    int v = 0;
    l = 0;
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && l == 0, "getsockopt optlen 0: 0 bytes");
    l = 100;
    int big[25] = {0};
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, big, &l) == 0 && l == 4 && big[0] == SOCK_STREAM, "getsockopt optlen 100: 4");
    CHECK(seti(d, SOL_SOCKET, SO_ERROR, 0) == -1 && errno == ENOPROTOOPT, "SO_ERROR read-only");
    close(s);
    close(d);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    bufsizes();
    timeouts();
    passcred();
    fdpass();
    flags();
    misc_opts();
    DONE();
}
