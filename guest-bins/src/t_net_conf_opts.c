/* Socket options conformance: every SO_* get/set round trip and Linux's optlen
 * handling (net/core/sock.c sk_getsockopt/sk_setsockopt), on every AF_UNIX type
 * and on loopback inet sockets. */
/* qemu-differs: qemu-user accepts setsockopt optlen -1, gives ENOPROTOOPT instead of EOPNOTSUPP for an unknown level on AF_UNIX, and does not pass SO_PEEK_OFF through */
#define _GNU_SOURCE
#include "guest_test.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF 42
#endif
#ifndef SO_DOMAIN
#define SO_DOMAIN 39
#endif
#ifndef SO_PROTOCOL
#define SO_PROTOCOL 38
#endif

static char msg[160];
#define NAMED(fmt, ...) (snprintf(msg, sizeof msg, fmt, __VA_ARGS__), msg)

static int geti(int s, int level, int opt, int *v) {
    socklen_t l = sizeof *v;
    *v = -12345;
    int r = getsockopt(s, level, opt, v, &l);
    if (r == 0 && l != sizeof *v) return -2;
    return r;
}

static int seti(int s, int level, int opt, int v) { return setsockopt(s, level, opt, &v, sizeof v); }

static void ident(int fam, int type, int proto, const char *tname) {
    int s = socket(fam, type, proto), v;
    CHECK(s >= 0, NAMED("socket %s", tname));
    CHECK(geti(s, SOL_SOCKET, SO_TYPE, &v) == 0 && v == type, NAMED("%s SO_TYPE", tname));
    CHECK(geti(s, SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == fam, NAMED("%s SO_DOMAIN", tname));
    int want = proto;
    if (fam == AF_INET || fam == AF_INET6) want = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    CHECK(geti(s, SOL_SOCKET, SO_PROTOCOL, &v) == 0 && v == want, NAMED("%s SO_PROTOCOL", tname));
    CHECK(geti(s, SOL_SOCKET, SO_ACCEPTCONN, &v) == 0 && v == 0, NAMED("%s SO_ACCEPTCONN 0", tname));
    CHECK(geti(s, SOL_SOCKET, SO_ERROR, &v) == 0 && v == 0, NAMED("%s SO_ERROR 0", tname));
    close(s);
}

static void bools(int s, const char *tname, int unix_) {
    static const int opts[] = {SO_KEEPALIVE, SO_REUSEADDR, SO_OOBINLINE, SO_BROADCAST, SO_DONTROUTE,
                               SO_TIMESTAMP, SO_PASSCRED};
    static const char *names[] = {"SO_KEEPALIVE", "SO_REUSEADDR", "SO_OOBINLINE", "SO_BROADCAST",
                                  "SO_DONTROUTE", "SO_TIMESTAMP", "SO_PASSCRED"};
    /* SO_PASSCRED on inet sockets: EOPNOTSUPP on recent kernels, so unix only. */
    for (unsigned i = 0; i < sizeof opts / sizeof *opts - !unix_; i++) {
        int v;
        CHECK(geti(s, SOL_SOCKET, opts[i], &v) == 0 && v == 0, NAMED("%s %s default 0", tname, names[i]));
        CHECK(seti(s, SOL_SOCKET, opts[i], 7) == 0 && geti(s, SOL_SOCKET, opts[i], &v) == 0 && v == 1,
              NAMED("%s %s set 7 reads 1", tname, names[i]));
        CHECK(seti(s, SOL_SOCKET, opts[i], 0) == 0 && geti(s, SOL_SOCKET, opts[i], &v) == 0 && v == 0,
              NAMED("%s %s cleared", tname, names[i]));
    }
}

static void buffers(int s, const char *tname) {
    int v;
    CHECK(seti(s, SOL_SOCKET, SO_SNDBUF, 65536) == 0 && geti(s, SOL_SOCKET, SO_SNDBUF, &v) == 0
          && v == 131072, NAMED("%s SO_SNDBUF doubled", tname));
    CHECK(seti(s, SOL_SOCKET, SO_RCVBUF, 40000) == 0 && geti(s, SOL_SOCKET, SO_RCVBUF, &v) == 0
          && v == 80000, NAMED("%s SO_RCVBUF doubled", tname));
    CHECK(seti(s, SOL_SOCKET, SO_SNDBUF, 1) == 0 && geti(s, SOL_SOCKET, SO_SNDBUF, &v) == 0
          && v >= 2048 && v <= 8192, NAMED("%s SO_SNDBUF minimum", tname));
    CHECK(seti(s, SOL_SOCKET, SO_RCVLOWAT, 5) == 0 && geti(s, SOL_SOCKET, SO_RCVLOWAT, &v) == 0
          && v == 5, NAMED("%s SO_RCVLOWAT round trip", tname));
    CHECK(geti(s, SOL_SOCKET, SO_SNDLOWAT, &v) == 0 && v == 1, NAMED("%s SO_SNDLOWAT is 1", tname));
    CHECK_ERR(seti(s, SOL_SOCKET, SO_SNDLOWAT, 5), ENOPROTOOPT, NAMED("%s set SO_SNDLOWAT ENOPROTOOPT", tname));
    CHECK(seti(s, SOL_SOCKET, SO_PRIORITY, 3) == 0 && geti(s, SOL_SOCKET, SO_PRIORITY, &v) == 0
          && v == 3, NAMED("%s SO_PRIORITY round trip", tname));
}

static void timeouts(int s) {
    struct timeval tv, back;
    socklen_t bl = sizeof back;
    CHECK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && bl == 16 && back.tv_sec == 0
          && back.tv_usec == 0, "SO_RCVTIMEO default 0");
    tv.tv_sec = 2; tv.tv_usec = 500000;
    bl = sizeof back;
    CHECK(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0
          && getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &back, &bl) == 0 && back.tv_sec == 2
          && back.tv_usec >= 496000 && back.tv_usec <= 500000, "SO_SNDTIMEO round trip");
    tv.tv_usec = -1;
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), EDOM, "SO_SNDTIMEO negative usec EDOM");
    tv.tv_usec = 1000000;
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM, "SO_RCVTIMEO usec 1e6 EDOM");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, 8), EINVAL, "SO_RCVTIMEO short optlen EINVAL");
    tv.tv_sec = -5; tv.tv_usec = 0;
    bl = sizeof back;
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0
          && getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && back.tv_sec == 0
          && back.tv_usec == 0, "SO_RCVTIMEO negative sec means 0");
    bl = 8;
    CHECK(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &back, &bl) == 0 && bl == 8, "SO_SNDTIMEO short get truncates");
    struct { struct timeval t; char extra[8]; } big;
    bl = sizeof big;
    CHECK(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &big, &bl) == 0 && bl == 16, "SO_SNDTIMEO long get says 16");
}

static void linger(int s) {
    struct linger lg = {1, 9}, lb;
    socklen_t bl = sizeof lb;
    CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, &lb, &bl) == 0 && bl == 8 && lb.l_onoff == 0,
          "SO_LINGER default off");
    bl = sizeof lb;
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0
          && getsockopt(s, SOL_SOCKET, SO_LINGER, &lb, &bl) == 0 && lb.l_onoff == 1 && lb.l_linger == 9,
          "SO_LINGER on 9");
    lg.l_onoff = 42;
    bl = sizeof lb;
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0
          && getsockopt(s, SOL_SOCKET, SO_LINGER, &lb, &bl) == 0 && lb.l_onoff == 1,
          "SO_LINGER onoff 42 reads 1");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, 4), EINVAL, "SO_LINGER optlen 4 EINVAL");
    bl = 4;
    CHECK(getsockopt(s, SOL_SOCKET, SO_LINGER, &lb, &bl) == 0 && bl == 4, "SO_LINGER short get truncates");
}

static void optlens(int s) {
    unsigned char b[16];
    socklen_t l;
    int v = 0;
    l = 1; memset(b, 0xee, sizeof b);
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, b, &l) == 0 && l == 1 && b[0] == SOCK_STREAM && b[1] == 0xee,
          "getsockopt optlen 1 copies one byte");
    l = 0;
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, b, &l) == 0 && l == 0, "getsockopt optlen 0");
    l = 16; memset(b, 0xee, sizeof b);
    CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, b, &l) == 0 && l == 4 && b[4] == 0xee, "getsockopt optlen 16 says 4");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 3), EINVAL, "setsockopt optlen 3 EINVAL");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 0), EINVAL, "setsockopt optlen 0 EINVAL");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, -1), EINVAL, "setsockopt optlen -1 EINVAL");
    int big[4] = {1, 2, 3, 4};
    CHECK(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, big, sizeof big) == 0 && geti(s, SOL_SOCKET, SO_KEEPALIVE, &v) == 0
          && v == 1, "setsockopt optlen 16 uses first int");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_TYPE, &v, 4), ENOPROTOOPT, "set SO_TYPE ENOPROTOOPT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_ERROR, &v, 4), ENOPROTOOPT, "set SO_ERROR ENOPROTOOPT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, 4), ENOPROTOOPT, "set SO_ACCEPTCONN ENOPROTOOPT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_PEERCRED, &v, 4), ENOPROTOOPT, "set SO_PEERCRED ENOPROTOOPT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, 4242, &v, 4), ENOPROTOOPT, "set unknown SOL_SOCKET opt ENOPROTOOPT");
    l = 4;
    CHECK_ERR(getsockopt(s, SOL_SOCKET, 4242, &v, &l), ENOPROTOOPT, "get unknown SOL_SOCKET opt ENOPROTOOPT");
    l = 4;
    CHECK_ERR(getsockopt(s, 77, 1, &v, &l), EOPNOTSUPP, "unix get bad level EOPNOTSUPP");
    CHECK_ERR(setsockopt(s, 77, 1, &v, 4), EOPNOTSUPP, "unix set bad level EOPNOTSUPP");
    l = 4;
    CHECK_ERR(getsockopt(s, SOL_SOCKET, SO_TYPE, (void *)8, &l), EFAULT, "getsockopt bad optval EFAULT");
    CHECK_ERR(syscall(SYS_getsockopt, s, SOL_SOCKET, SO_TYPE, &v, (void *)8), EFAULT, "getsockopt bad optlen EFAULT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (void *)8, 4), EFAULT, "setsockopt bad optval EFAULT");
    l = 4;
    CHECK_ERR(getsockopt(-1, SOL_SOCKET, SO_TYPE, &v, &l), EBADF, "getsockopt fd -1 EBADF");
    CHECK_ERR(getsockopt(0x7fff, SOL_SOCKET, SO_TYPE, &v, &l), EBADF, "getsockopt closed fd EBADF");
    CHECK_ERR(setsockopt(1, SOL_SOCKET, SO_KEEPALIVE, &v, 4), ENOTSOCK, "setsockopt stdout ENOTSOCK");
}

static void peek_off(void) {
    int sv[2], v;
    char b[8];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    CHECK(geti(sv[0], SOL_SOCKET, SO_PEEK_OFF, &v) == 0 && v == -1, "SO_PEEK_OFF default -1");
    CHECK(seti(sv[0], SOL_SOCKET, SO_PEEK_OFF, 0) == 0 && geti(sv[0], SOL_SOCKET, SO_PEEK_OFF, &v) == 0 && v == 0,
          "SO_PEEK_OFF set 0");
    write(sv[1], "abcdef", 6);
    CHECK(recv(sv[0], b, 2, MSG_PEEK) == 2 && memcmp(b, "ab", 2) == 0, "peek with offset 0");
    CHECK(recv(sv[0], b, 2, MSG_PEEK) == 2 && memcmp(b, "cd", 2) == 0, "second peek continues at offset");
    CHECK(geti(sv[0], SOL_SOCKET, SO_PEEK_OFF, &v) == 0 && v == 4, "SO_PEEK_OFF advanced to 4");
    CHECK(recv(sv[0], b, 3, 0) == 3 && memcmp(b, "abc", 3) == 0, "read from start");
    CHECK(geti(sv[0], SOL_SOCKET, SO_PEEK_OFF, &v) == 0 && v == 1, "SO_PEEK_OFF reduced by read");
    close(sv[0]); close(sv[1]);
}

static void creds(void) {
    int sv[2];
    struct ucred uc;
    socklen_t l = sizeof uc;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && l == sizeof uc && uc.pid == getpid()
          && uc.uid == getuid() && uc.gid == getgid(), "socketpair SO_PEERCRED is ours");
    l = 4;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && l == 4, "SO_PEERCRED short get truncates");
    l = 64;
    char big[64];
    CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, big, &l) == 0 && l == 12, "SO_PEERCRED long get says 12");
    close(sv[0]); close(sv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    l = sizeof uc;
    CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid == 0 && uc.uid == (uid_t)-1
          && uc.gid == (gid_t)-1, "unconnected SO_PEERCRED unknown");
    close(s);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    l = sizeof uc;
    CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid == getpid(),
          "seqpacket pair SO_PEERCRED");
    close(sv[0]); close(sv[1]);
}

static void listening(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0), v;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/t_conf_opts.%d", getpid());
    unlink(a.sun_path);
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 3) == 0, "bind+listen");
    CHECK(geti(s, SOL_SOCKET, SO_ACCEPTCONN, &v) == 0 && v == 1, "SO_ACCEPTCONN 1 when listening");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "connect to listener");
    struct ucred uc;
    socklen_t l = sizeof uc;
    CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid == getpid() && uc.uid == getuid(),
          "connected client SO_PEERCRED");
    int a2 = accept(s, NULL, NULL);
    l = sizeof uc;
    CHECK(a2 >= 0 && getsockopt(a2, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid == getpid(),
          "accepted SO_PEERCRED");
    CHECK(geti(a2, SOL_SOCKET, SO_ACCEPTCONN, &v) == 0 && v == 0, "accepted SO_ACCEPTCONN 0");
    close(a2); close(c); close(s);
    unlink(a.sun_path);
}

static void inet(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), v;
    CHECK(geti(s, IPPROTO_TCP, TCP_NODELAY, &v) == 0 && v == 0, "TCP_NODELAY default 0");
    CHECK(seti(s, IPPROTO_TCP, TCP_NODELAY, 5) == 0 && geti(s, IPPROTO_TCP, TCP_NODELAY, &v) == 0 && v == 1,
          "TCP_NODELAY set reads 1");
    CHECK(seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 77) == 0 && geti(s, IPPROTO_TCP, TCP_KEEPIDLE, &v) == 0 && v == 77,
          "TCP_KEEPIDLE round trip");
    CHECK(seti(s, IPPROTO_IP, IP_TTL, 33) == 0 && geti(s, IPPROTO_IP, IP_TTL, &v) == 0 && v == 33,
          "IP_TTL round trip");
    CHECK(seti(s, SOL_SOCKET, SO_REUSEADDR, 1) == 0 && geti(s, SOL_SOCKET, SO_REUSEADDR, &v) == 0 && v == 1,
          "inet SO_REUSEADDR");
    socklen_t l = 4;
    CHECK_ERR(getsockopt(s, IPPROTO_TCP, 9999, &v, &l), ENOPROTOOPT, "TCP unknown opt ENOPROTOOPT");
    CHECK_ERR(seti(s, IPPROTO_TCP, 9999, 1), ENOPROTOOPT, "TCP set unknown opt ENOPROTOOPT");
    close(s);
    s = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK(geti(s, IPPROTO_IPV6, IPV6_V6ONLY, &v) == 0 && v == 0, "IPV6_V6ONLY default 0");
    CHECK(seti(s, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0 && geti(s, IPPROTO_IPV6, IPV6_V6ONLY, &v) == 0 && v == 1,
          "IPV6_V6ONLY set");
    close(s);
}

int main(void) {
    ident(AF_UNIX, SOCK_STREAM, 0, "unix stream");
    ident(AF_UNIX, SOCK_DGRAM, 0, "unix dgram");
    ident(AF_UNIX, SOCK_SEQPACKET, 0, "unix seqpacket");
    ident(AF_INET, SOCK_STREAM, 0, "inet stream");
    ident(AF_INET, SOCK_DGRAM, 0, "inet dgram");
    ident(AF_INET6, SOCK_STREAM, 0, "inet6 stream");
    ident(AF_INET6, SOCK_DGRAM, 0, "inet6 dgram");
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    int v;
    CHECK(geti(sv[0], SOL_SOCKET, SO_TYPE, &v) == 0 && v == SOCK_SEQPACKET, "seqpacket pair SO_TYPE");
    CHECK(geti(sv[0], SOL_SOCKET, SO_DOMAIN, &v) == 0 && v == AF_UNIX, "seqpacket pair SO_DOMAIN");
    CHECK(geti(sv[0], SOL_SOCKET, SO_PROTOCOL, &v) == 0 && v == 0, "seqpacket pair SO_PROTOCOL");
    close(sv[0]); close(sv[1]);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    bools(s, "unix stream", 1);
    buffers(s, "unix stream");
    timeouts(s);
    linger(s);
    optlens(s);
    close(s);
    s = socket(AF_UNIX, SOCK_DGRAM, 0);
    bools(s, "unix dgram", 1);
    buffers(s, "unix dgram");
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    bools(s, "inet dgram", 0);
    close(s);
    peek_off();
    creds();
    listening();
    inet();
    DONE();
}
