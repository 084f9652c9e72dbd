/* Socket data-path conformance (af_unix.c, net/socket.c, fs/read_write.c):
 * MSG_PEEK / MSG_DONTWAIT / MSG_WAITALL on each AF_UNIX type, SEQPACKET and
 * DGRAM truncation, full receivers, EMSGSIZE, connection errors, shutdown
 * SHUT_RD / SHUT_RDWR, readv/writev IOV_MAX and zero-length entries. */
/* qemu-differs: qemu-user returns a short count from writev when a later iovec is a bad pointer (Linux fails the whole call with EFAULT) */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char msg[200];
#define NAMED(fmt, ...) (snprintf(msg, sizeof msg, fmt, __VA_ARGS__), msg)
#define SA(p) ((struct sockaddr *)(p))
static const char *tname(int t) { return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : "seqpacket"; }

static socklen_t mkpath(struct sockaddr_un *a, const char *p) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, p);
    return sizeof(sa_family_t) + strlen(p) + 1;
}

static void flags_each_type(int t) {
    int sv[2];
    char b[64];
    CHECK(socketpair(AF_UNIX, t, 0, sv) == 0, NAMED("%s pair", tname(t)));
    CHECK_ERR(recv(sv[1], b, sizeof b, MSG_DONTWAIT), EAGAIN, NAMED("%s empty MSG_DONTWAIT EAGAIN", tname(t)));
    CHECK_ERR(recv(sv[1], b, sizeof b, MSG_DONTWAIT | MSG_PEEK), EAGAIN, NAMED("%s empty peek EAGAIN", tname(t)));
    CHECK(send(sv[0], "hello", 5, 0) == 5 && send(sv[0], "world!", 6, 0) == 6, NAMED("%s send two", tname(t)));
    memset(b, 0, sizeof b);
    long n = recv(sv[1], b, sizeof b, MSG_PEEK);
    if (t == SOCK_STREAM)
        CHECK(n == 11 && memcmp(b, "helloworld!", 11) == 0, NAMED("%s peek sees both", tname(t)));
    else
        CHECK(n == 5 && memcmp(b, "hello", 5) == 0, NAMED("%s peek sees first message", tname(t)));
    CHECK(recv(sv[1], b, 3, MSG_PEEK) == 3 && memcmp(b, "hel", 3) == 0, NAMED("%s short peek", tname(t)));
    if (t != SOCK_STREAM)
        CHECK(recv(sv[1], b, 3, MSG_PEEK | MSG_TRUNC) == 5, NAMED("%s peek MSG_TRUNC says full length", tname(t)));
    else
        CHECK(1, NAMED("%s peek MSG_TRUNC (n/a)", tname(t)));
    n = recv(sv[1], b, sizeof b, MSG_DONTWAIT);
    CHECK(n == (t == SOCK_STREAM ? 11 : 5), NAMED("%s recv after peek", tname(t)));
    if (t != SOCK_STREAM)
        CHECK(recv(sv[1], b, sizeof b, 0) == 6 && memcmp(b, "world!", 6) == 0, NAMED("%s second message", tname(t)));
    else
        CHECK(1, NAMED("%s second message (merged)", tname(t)));
    /* MSG_WAITALL: stream waits for the full count; datagram types return one message. */
    if (t == SOCK_STREAM) {
        pid_t c = fork();
        if (c == 0) { usleep(50000); send(sv[0], "abc", 3, 0); usleep(50000); send(sv[0], "defgh", 5, 0); _exit(0); }
        CHECK(recv(sv[1], b, 8, MSG_WAITALL) == 8 && memcmp(b, "abcdefgh", 8) == 0, "stream MSG_WAITALL gathers 8 bytes");
        waitpid(c, NULL, 0);
        send(sv[0], "xy", 2, 0);
        shutdown(sv[0], SHUT_WR);
        CHECK(recv(sv[1], b, 8, MSG_WAITALL) == 2, "stream MSG_WAITALL stops at EOF");
    } else {
        send(sv[0], "abc", 3, 0);
        send(sv[0], "defgh", 5, 0);
        CHECK(recv(sv[1], b, 8, MSG_WAITALL) == 3, NAMED("%s MSG_WAITALL returns one message", tname(t)));
        CHECK(recv(sv[1], b, 8, MSG_WAITALL) == 5, NAMED("%s MSG_WAITALL next message", tname(t)));
    }
    /* Zero-length messages. */
    if (t != SOCK_STREAM) {
        CHECK(send(sv[0], "", 0, 0) == 0, NAMED("%s send 0 bytes", tname(t)));
        CHECK(recv(sv[1], b, sizeof b, MSG_DONTWAIT) == 0, NAMED("%s zero-length message received", tname(t)));
        CHECK_ERR(recv(sv[1], b, sizeof b, MSG_DONTWAIT), EAGAIN, NAMED("%s then empty", tname(t)));
    } else {
        CHECK(1, "stream send 0"); CHECK(1, "stream zero"); CHECK(1, "stream empty");
    }
    close(sv[0]);
    close(sv[1]);
}

static void truncation(void) {
    int sv[2];
    char b[64];
    for (int t = SOCK_DGRAM; t <= SOCK_SEQPACKET; t += SOCK_SEQPACKET - SOCK_DGRAM) {
        socketpair(AF_UNIX, t, 0, sv);
        send(sv[0], "0123456789", 10, 0);
        send(sv[0], "next", 4, 0);
        struct iovec io = {b, 4};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
        memset(b, 0, sizeof b);
        CHECK(recvmsg(sv[1], &m, 0) == 4 && (m.msg_flags & MSG_TRUNC) && memcmp(b, "0123", 4) == 0,
              NAMED("%s short buffer: 4 bytes and MSG_TRUNC", tname(t)));
        m.msg_flags = 0;
        CHECK(recvmsg(sv[1], &m, 0) == 4 && !(m.msg_flags & MSG_TRUNC) && memcmp(b, "next", 4) == 0,
              NAMED("%s rest of the message discarded", tname(t)));
        send(sv[0], "0123456789", 10, 0);
        m.msg_flags = 0;
        CHECK(recvmsg(sv[1], &m, MSG_TRUNC) == 10 && (m.msg_flags & MSG_TRUNC),
              NAMED("%s recvmsg MSG_TRUNC returns real length", tname(t)));
        send(sv[0], "abcdef", 6, 0);
        CHECK(recv(sv[1], NULL, 0, MSG_TRUNC) == 6, NAMED("%s recv NULL,0 MSG_TRUNC gives length", tname(t)));
        CHECK_ERR(recv(sv[1], b, 1, MSG_DONTWAIT), EAGAIN, NAMED("%s message consumed", tname(t)));
        /* Scatter a message across iovecs, truncating the last. */
        char p1[3], p2[3];
        struct iovec v2[2] = {{p1, 3}, {p2, 3}};
        struct msghdr m2 = {.msg_iov = v2, .msg_iovlen = 2};
        send(sv[0], "ABCDEFGH", 8, 0);
        CHECK(recvmsg(sv[1], &m2, 0) == 6 && (m2.msg_flags & MSG_TRUNC) && memcmp(p1, "ABC", 3) == 0
              && memcmp(p2, "DEF", 3) == 0, NAMED("%s scatter with truncation", tname(t)));
        close(sv[0]);
        close(sv[1]);
    }
    /* Stream: no truncation, rest stays queued. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "0123456789", 10, 0);
    struct iovec io = {b, 4};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
    CHECK(recvmsg(sv[1], &m, 0) == 4 && m.msg_flags == 0, "stream short buffer: no MSG_TRUNC");
    CHECK(recv(sv[1], b, sizeof b, 0) == 6 && memcmp(b, "456789", 6) == 0, "stream rest stays queued");
    close(sv[0]);
    close(sv[1]);
}

static void full_and_big(void) {
    int sv[2];
    static char big[300000];
    char b[16];
    /* Datagram pair: fill the receiver, then EAGAIN. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int sent = 0;
    long r;
    while ((r = send(sv[0], big, 1000, MSG_DONTWAIT)) == 1000 && sent < 100000) sent++;
    CHECK(r == -1 && errno == EAGAIN && sent > 0, "dgram full receiver: EAGAIN with MSG_DONTWAIT");
    CHECK(recv(sv[1], big, sizeof big, 0) == 1000, "dgram: queued messages readable");
    CHECK_ERR(send(sv[0], big, sizeof big, 0), EMSGSIZE, "dgram 300000 bytes EMSGSIZE");
    int sb = 0;
    socklen_t sl = sizeof sb;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sb, &sl);
    CHECK_ERR(send(sv[0], big, sb + 1, MSG_DONTWAIT), EMSGSIZE, "dgram larger than SO_SNDBUF EMSGSIZE");
    close(sv[0]);
    close(sv[1]);
    /* Stream: nonblocking fills, partial write possible, then EAGAIN. */
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    long total = 0;
    while ((r = write(sv[0], big, sizeof big)) > 0) total += r;
    CHECK(r == -1 && errno == EAGAIN && total > 0, "stream full: EAGAIN");
    CHECK(read(sv[1], big, sizeof big) > 0, "stream drain");
    close(sv[0]);
    close(sv[1]);
    /* Seqpacket: a message larger than the send buffer is EMSGSIZE. */
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    sl = sizeof sb;
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sb, &sl);
    CHECK_ERR(send(sv[0], big, sizeof big, MSG_DONTWAIT), EMSGSIZE, "seqpacket 300000 bytes EMSGSIZE");
    CHECK(send(sv[0], big, 1000, 0) == 1000 && recv(sv[1], b, sizeof b, MSG_TRUNC) == 1000, "seqpacket 1000 bytes fine");
    close(sv[0]);
    close(sv[1]);
}

static void conn_errors(void) {
    char b[16];
    int sv[2];
    struct sockaddr_un a, d;
    unlink("c2d_srv");
    unlink("c2d_dg");
    socklen_t al = mkpath(&a, "c2d_srv");
    socklen_t dl = mkpath(&d, "c2d_dg");
    /* DGRAM unconnected: send without address. */
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_ERR(send(s, "x", 1, 0), ENOTCONN, "dgram send unconnected ENOTCONN");
    CHECK_ERR(write(s, "x", 1), ENOTCONN, "dgram write unconnected ENOTCONN");
    int r = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(r, SA(&d), dl) == 0, "bind dgram receiver");
    CHECK(connect(s, SA(&d), dl) == 0, "dgram connect");
    CHECK(connect(s, SA(&d), dl) == 0, "dgram connect again is fine");
    CHECK(send(s, "y", 1, 0) == 1 && recv(r, b, 1, 0) == 1, "dgram send connected");
    CHECK(sendto(s, "z", 1, 0, SA(&d), dl) == 1 && recv(r, b, 1, 0) == 1, "dgram sendto own peer while connected");
    struct sockaddr_un u = {.sun_family = AF_UNSPEC};
    CHECK(connect(s, SA(&u), sizeof u) == 0, "dgram disconnect with AF_UNSPEC");
    CHECK_ERR(send(s, "x", 1, 0), ENOTCONN, "dgram send after disconnect ENOTCONN");
    close(s);
    close(r);
    /* STREAM: unconnected sends/recvs. */
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN, "stream send unconnected ENOTCONN");
    CHECK_ERR(recv(s, b, 1, MSG_DONTWAIT), EINVAL, "stream recv unconnected EINVAL");
    CHECK_ERR(sendto(s, "x", 1, MSG_NOSIGNAL, SA(&a), al), EOPNOTSUPP, "stream sendto with address unconnected EOPNOTSUPP");
    close(s);
    s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK_ERR(send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN, "seqpacket send unconnected ENOTCONN");
    CHECK_ERR(recv(s, b, 1, MSG_DONTWAIT), ENOTCONN, "seqpacket recv unconnected ENOTCONN");
    close(s);
    /* connect to a bound but non-listening stream socket: ECONNREFUSED. */
    int nl = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(nl, SA(&a), al) == 0, "bind without listen");
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(connect(s, SA(&a), al), ECONNREFUSED, "connect to non-listening ECONNREFUSED");
    CHECK(listen(nl, 1) == 0, "now listen");
    CHECK(connect(s, SA(&a), al) == 0, "connect succeeds");
    CHECK_ERR(connect(s, SA(&a), al), EISCONN, "connect again EISCONN");
    CHECK_ERR(listen(s, 1), EINVAL, "listen on connected EINVAL");
    int ac = accept(nl, NULL, NULL);
    CHECK(ac >= 0, "accept");
    CHECK_ERR(sendto(s, "x", 1, MSG_NOSIGNAL, SA(&a), al), EISCONN, "stream sendto with address connected EISCONN");
    /* peer closes with unread data: the reader gets ECONNRESET? (no: AF_UNIX gives EOF) */
    send(s, "unread", 6, 0);
    close(ac);
    CHECK_ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE, "send after peer closed with unread data EPIPE");
    CHECK_ERR(recv(s, b, sizeof b, MSG_DONTWAIT), ECONNRESET, "peer closed with our data unread: ECONNRESET");
    CHECK(recv(s, b, sizeof b, MSG_DONTWAIT) == 0, "then EOF");
    close(s);
    close(nl);
    /* seqpacket connect to a dgram path: EPROTOTYPE; stream connect to seqpacket listener. */
    int sp = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    unlink("c2d_sp");
    struct sockaddr_un spa;
    socklen_t spl = mkpath(&spa, "c2d_sp");
    CHECK(bind(sp, SA(&spa), spl) == 0 && listen(sp, 2) == 0, "seqpacket listener");
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(connect(s, SA(&spa), spl), EPROTOTYPE, "stream connect to seqpacket EPROTOTYPE");
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_ERR(connect(s, SA(&spa), spl), EPROTOTYPE, "dgram connect to seqpacket EPROTOTYPE");
    close(s);
    s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK(connect(s, SA(&spa), spl) == 0, "seqpacket connect");
    ac = accept(sp, NULL, NULL);
    CHECK(send(s, "m1", 2, 0) == 2 && send(s, "m22", 3, 0) == 3, "seqpacket connected send");
    CHECK(recv(ac, b, sizeof b, 0) == 2 && recv(ac, b, sizeof b, 0) == 3, "seqpacket accepted boundaries");
    CHECK(sendto(s, "x", 1, MSG_NOSIGNAL, SA(&spa), spl) == 1, "seqpacket sendto with address: address ignored");
    CHECK(recv(ac, b, sizeof b, 0) == 1, "seqpacket: it arrives");
    close(ac);
    close(s);
    close(sp);
    /* dgram sendto a path whose socket is gone: ECONNREFUSED; to a stream socket's path: EPROTOTYPE. */
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_ERR(sendto(s, "x", 1, 0, SA(&a), al), ECONNREFUSED, "dgram sendto stream path ECONNREFUSED");
    CHECK_ERR(sendto(s, "x", 1, 0, SA(&d), dl), ECONNREFUSED, "dgram sendto dead path ECONNREFUSED");
    close(s);
    /* dgram connected pair: the peer's other receiver refuses. */
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0), z = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un xa, ya;
    unlink("c2d_x"); unlink("c2d_y");
    socklen_t xl = mkpath(&xa, "c2d_x"), yl = mkpath(&ya, "c2d_y");
    bind(x, SA(&xa), xl);
    bind(y, SA(&ya), yl);
    CHECK(connect(x, SA(&ya), yl) == 0, "x connects to y");
    CHECK_ERR(sendto(z, "x", 1, 0, SA(&xa), xl), EPERM, "sendto a socket connected elsewhere EPERM");
    CHECK(sendto(y, "ok", 2, 0, SA(&xa), xl) == 2 && recv(x, b, sizeof b, 0) == 2, "its peer may send");
    close(x); close(y); close(z);
    unlink("c2d_srv"); unlink("c2d_dg"); unlink("c2d_sp"); unlink("c2d_x"); unlink("c2d_y");
    (void)sv;
}

static void shut(void) {
    int sv[2];
    char b[16];
    for (int t = SOCK_STREAM; t <= SOCK_SEQPACKET; t++) {
        if (t == SOCK_RAW || t == SOCK_RDM) continue;
        socketpair(AF_UNIX, t, 0, sv);
        send(sv[1], "q", 1, 0);
        CHECK(shutdown(sv[0], SHUT_RD) == 0, NAMED("%s SHUT_RD", tname(t)));
        long n = recv(sv[0], b, sizeof b, MSG_DONTWAIT);
        CHECK(n == 1 || n == 0, NAMED("%s after SHUT_RD: queued data or EOF", tname(t)));
        if (t == SOCK_DGRAM) {
            CHECK_ERR(recv(sv[0], b, sizeof b, MSG_DONTWAIT), EAGAIN, "dgram after SHUT_RD: empty is EAGAIN");
            CHECK_ERR(send(sv[1], "r", 1, MSG_NOSIGNAL | MSG_DONTWAIT), EPIPE, "dgram: peer send after SHUT_RD EPIPE");
        } else {
            CHECK(recv(sv[0], b, sizeof b, MSG_DONTWAIT) == 0, NAMED("%s after SHUT_RD: EOF, not EAGAIN", tname(t)));
            CHECK_ERR(send(sv[1], "r", 1, MSG_NOSIGNAL), EPIPE, NAMED("%s: peer send after SHUT_RD EPIPE", tname(t)));
        }
        CHECK(send(sv[0], "w", 1, MSG_NOSIGNAL) == 1, NAMED("%s: own send after SHUT_RD works", tname(t)));
        CHECK(shutdown(sv[0], SHUT_RDWR) == 0, NAMED("%s SHUT_RDWR", tname(t)));
        CHECK_ERR(send(sv[0], "w", 1, MSG_NOSIGNAL), EPIPE, NAMED("%s: send after SHUT_RDWR EPIPE", tname(t)));
        CHECK(shutdown(sv[0], SHUT_RDWR) == 0, NAMED("%s SHUT_RDWR twice ok", tname(t)));
        close(sv[0]);
        close(sv[1]);
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(shutdown(s, SHUT_WR) == 0, "unconnected unix stream shutdown SHUT_WR is 0");
    close(s);
    CHECK_ERR(shutdown(0x7ff0, SHUT_RD), EBADF, "shutdown closed fd EBADF");
    int f = open("/", O_RDONLY);
    CHECK_ERR(shutdown(f, SHUT_RD), ENOTSOCK, "shutdown on a directory ENOTSOCK");
    close(f);
}

static volatile int neg_one = -1;
static void vectors(void) {
    int sv[2];
    static struct iovec v[1026];
    static char data[1100];
    char b[2048];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    for (int i = 0; i < 1026; i++) { data[i] = 'a' + i % 26; v[i].iov_base = &data[i]; v[i].iov_len = 1; }
    CHECK(writev(sv[0], v, 1024) == 1024, "writev IOV_MAX (1024) iovecs");
    CHECK(recv(sv[1], b, 1024, MSG_WAITALL) == 1024 && memcmp(b, data, 1024) == 0, "all 1024 bytes in order");
    CHECK_ERR(writev(sv[0], v, 1025), EINVAL, "writev 1025 iovecs EINVAL");
    CHECK_ERR(readv(sv[1], v, 1025), EINVAL, "readv 1025 iovecs EINVAL");
    CHECK_ERR(writev(sv[0], v, neg_one), EINVAL, "writev -1 iovecs EINVAL");
    CHECK(writev(sv[0], v, 0) == 0, "writev 0 iovecs = 0");
    struct iovec z[4] = {{data, 0}, {data, 3}, {NULL, 0}, {data + 3, 2}};
    CHECK(writev(sv[0], z, 4) == 5, "writev with zero-length entries (one NULL)");
    char r1[2], r2[3];
    struct iovec rz[4] = {{r1, 0}, {r1, 2}, {NULL, 0}, {r2, 3}};
    CHECK(readv(sv[1], rz, 4) == 5 && memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cde", 3) == 0,
          "readv with zero-length entries");
    struct iovec bad[2] = {{data, 1}, {(void *)8, 4}};
    CHECK_ERR(writev(sv[0], bad, 2), EFAULT, "writev bad second iovec EFAULT");
    struct iovec neg[1] = {{data, (size_t)-1}};
    CHECK_ERR(writev(sv[0], neg, 1), EINVAL, "writev negative iov_len EINVAL");
    close(sv[0]);
    close(sv[1]);
    /* Datagram: one writev is one message. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    CHECK(writev(sv[0], v, 1024) == 1024, "dgram writev 1024 iovecs");
    CHECK(recv(sv[1], b, sizeof b, 0) == 1024, "dgram one message of 1024");
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 1024};
    CHECK(sendmsg(sv[0], &m, 0) == 1024, "sendmsg 1024 iovecs");
    m.msg_iovlen = 1025;
    CHECK_ERR(sendmsg(sv[0], &m, 0), EMSGSIZE, "sendmsg 1025 iovecs EMSGSIZE");
    CHECK(recv(sv[1], b, sizeof b, 0) == 1024, "dgram sendmsg message");
    close(sv[0]);
    close(sv[1]);
}

/* Blocking calls cut short by a signal: EINTR without SA_RESTART; with SA_RESTART
 * restarted, except on a socket with SO_RCVTIMEO/SO_SNDTIMEO (sock_intr_errno);
 * a send that moved some bytes returns the count. */
static void on_alarm(int s) { (void)s; }
/* Periodic, so that a slow start cannot leave a call blocked with its signal spent. */
static void arm(void) { struct itimerval it = {{0, 150000}, {0, 100000}}; setitimer(ITIMER_REAL, &it, NULL); }
static void disarm(void) { struct itimerval it = {{0, 0}, {0, 0}}; setitimer(ITIMER_REAL, &it, NULL); }
static void interrupts(void) {
    int sv[2];
    char b[16];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
    arm(); CHECK_ERR(recvmsg(sv[1], &m, 0), EINTR, "blocking recvmsg interrupted: EINTR");
    struct sockaddr_un f;
    socklen_t fl = sizeof f;
    arm(); CHECK_ERR(recvfrom(sv[1], b, sizeof b, 0, SA(&f), &fl), EINTR, "recvfrom with an address interrupted: EINTR");
    arm(); CHECK_ERR(recv(sv[1], b, sizeof b, 0), EINTR, "recv interrupted: EINTR");
    arm(); CHECK_ERR(read(sv[1], b, sizeof b), EINTR, "read interrupted: EINTR");
    int d[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
    struct mmsghdr mm;
    memset(&mm, 0, sizeof mm);
    mm.msg_hdr.msg_iov = &io;
    mm.msg_hdr.msg_iovlen = 1;
    arm(); CHECK_ERR(recvmmsg(d[1], &mm, 1, 0, NULL), EINTR, "recvmmsg interrupted: EINTR");
    int q[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q);
    arm(); CHECK_ERR(recv(q[1], b, sizeof b, 0), EINTR, "seqpacket recv interrupted: EINTR");
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(ls, SA(&a), sizeof(sa_family_t));
    listen(ls, 1);
    arm(); CHECK_ERR(accept(ls, NULL, NULL), EINTR, "accept interrupted: EINTR");
    static char big[1 << 20];
    int x[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, x);
    arm();
    long r = send(x[0], big, sizeof big, 0);
    CHECK(r > 0 && r < (long)sizeof big, "blocking send interrupted after some bytes: the count");
    disarm();
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    pid_t c = fork();
    if (c == 0) { usleep(300000); write(sv[0], "R", 1); _exit(0); }
    arm(); CHECK(recv(sv[1], b, sizeof b, 0) == 1, "SA_RESTART: recv restarted, gets the later data");
    waitpid(c, NULL, 0);
    struct timeval tv = {2, 0};
    setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    arm(); CHECK_ERR(recv(sv[1], b, sizeof b, 0), EINTR, "SA_RESTART but SO_RCVTIMEO: EINTR");
    arm(); CHECK_ERR(recvmsg(sv[1], &m, 0), EINTR, "recvmsg, SA_RESTART but SO_RCVTIMEO: EINTR");
    setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    arm(); CHECK_ERR(accept(ls, NULL, NULL), EINTR, "accept, SA_RESTART but SO_RCVTIMEO: EINTR");
    disarm();
    signal(SIGALRM, SIG_IGN);
    close(ls); close(x[0]); close(x[1]); close(q[0]); close(q[1]); close(d[0]); close(d[1]); close(sv[0]); close(sv[1]);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    flags_each_type(SOCK_STREAM);
    flags_each_type(SOCK_DGRAM);
    flags_each_type(SOCK_SEQPACKET);
    truncation();
    full_and_big();
    conn_errors();
    shut();
    vectors();
    interrupts();
    DONE();
}
