/* msghdr / cmsg / mmsg conformance (net/socket.c, net/core/scm.c, af_unix.c):
 * names on connected sockets, short msg_namelen, iovec corners, MSG_* flags,
 * SCM_RIGHTS truncation, SCM_CREDENTIALS checks, malformed cmsgs, sendmmsg and
 * recvmmsg. Raw syscalls where libc would interfere. */
/* qemu-differs: qemu-user blocks forever in recvmmsg with an invalid timeout (tv_nsec out of range) instead of failing with EINVAL */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char msg[160];
#define NAMED(fmt, ...) (snprintf(msg, sizeof msg, fmt, __VA_ARGS__), msg)

static long rsendmsg(int s, struct msghdr *m, int fl) { return syscall(SYS_sendmsg, s, m, fl); }
static long rrecvmsg(int s, struct msghdr *m, int fl) { return syscall(SYS_recvmsg, s, m, fl); }

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void send_fds(int s, int *fds, int n, const char *data) {
    char cbuf[CMSG_SPACE(sizeof(int) * 16)];
    memset(cbuf, 0, sizeof cbuf);      /* musl: the upper half of a 64-bit cmsg_len is __pad1 */
    struct iovec io = {(void *)data, strlen(data)};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    CHECK(rsendmsg(s, &m, 0) == (long)strlen(data), NAMED("sendmsg %d fds", n));
}

static void names(void) {
    int sv[2];
    char b[64];
    struct sockaddr_un sa;
    struct iovec io = {b, sizeof b};
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[1], "hi", 2);
    memset(&sa, 0x55, sizeof sa);
    struct msghdr m = {.msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(sv[0], &m, 0) == 2 && m.msg_namelen == 0, "stream pair recvmsg namelen 0");
    write(sv[1], "hi", 2);
    socklen_t al = sizeof sa;
    CHECK(recvfrom(sv[0], b, sizeof b, 0, (struct sockaddr *)&sa, &al) == 2 && al == 0,
          "stream pair recvfrom addrlen 0");
    struct msghdr m2 = {.msg_name = NULL, .msg_namelen = 1000, .msg_iov = &io, .msg_iovlen = 1};
    write(sv[1], "x", 1);
    CHECK(rrecvmsg(sv[0], &m2, 0) == 1, "recvmsg NULL name with namelen 1000");
    close(sv[0]); close(sv[1]);

    /* Named datagram sender: short msg_namelen truncates, full length returned. */
    int r = socket(AF_UNIX, SOCK_DGRAM, 0), w = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un ra = {.sun_family = AF_UNIX}, wa = {.sun_family = AF_UNIX};
    snprintf(ra.sun_path, sizeof ra.sun_path, "/tmp/t_cm_r.%d", getpid());
    snprintf(wa.sun_path, sizeof wa.sun_path, "/tmp/t_cm_w.%d", getpid());
    unlink(ra.sun_path); unlink(wa.sun_path);
    bind(r, (struct sockaddr *)&ra, sizeof ra);
    bind(w, (struct sockaddr *)&wa, sizeof wa);
    int full = (int)(offsetof(struct sockaddr_un, sun_path) + strlen(wa.sun_path) + 1);
    sendto(w, "abc", 3, 0, (struct sockaddr *)&ra, sizeof ra);
    memset(&sa, 0x55, sizeof sa);
    al = 6;
    CHECK(recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&sa, &al) == 3 && al == (socklen_t)full
          && memcmp(sa.sun_path, wa.sun_path, 4) == 0 && ((unsigned char *)&sa)[6] == 0x55,
          "recvfrom short addrlen: truncated name, full length");
    sendto(w, "abc", 3, 0, (struct sockaddr *)&ra, sizeof ra);
    memset(&sa, 0x55, sizeof sa);
    struct msghdr m3 = {.msg_name = &sa, .msg_namelen = 4, .msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(r, &m3, 0) == 3 && (int)m3.msg_namelen == full && ((unsigned char *)&sa)[4] == 0x55,
          "recvmsg short msg_namelen: truncated, full length");
    sendto(w, "abc", 3, 0, (struct sockaddr *)&ra, sizeof ra);
    struct msghdr m4 = {.msg_name = &sa, .msg_namelen = 0, .msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(r, &m4, 0) == 3 && (int)m4.msg_namelen == full, "recvmsg msg_namelen 0 gets length");
    sendto(w, "abc", 3, 0, (struct sockaddr *)&ra, sizeof ra);
    struct msghdr m5 = {.msg_name = &sa, .msg_namelen = -1, .msg_iov = &io, .msg_iovlen = 1};
    CHECK_ERR(rrecvmsg(r, &m5, 0), EINVAL, "recvmsg negative msg_namelen EINVAL");
    struct msghdr m6 = {.msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(r, &m6, 0) == 3, "datagram still queued after EINVAL");
    /* Unbound sender: recvfrom name is just the family (length 2). */
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    sendto(u, "u", 1, 0, (struct sockaddr *)&ra, sizeof ra);
    al = sizeof sa;
    long rr = recvfrom(r, b, sizeof b, 0, (struct sockaddr *)&sa, &al);
    CHECK(rr == 1 && al == 0, "unbound sender: addrlen 0");
    /* dgram connect, then sendto another address. */
    int o = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un oa = {.sun_family = AF_UNIX};
    snprintf(oa.sun_path, sizeof oa.sun_path, "/tmp/t_cm_o.%d", getpid());
    unlink(oa.sun_path);
    bind(o, (struct sockaddr *)&oa, sizeof oa);
    CHECK(connect(u, (struct sockaddr *)&ra, sizeof ra) == 0, "dgram connect");
    CHECK(sendto(u, "o", 1, 0, (struct sockaddr *)&oa, sizeof oa) == 1, "connected dgram sendto other addr");
    CHECK(recv(o, b, sizeof b, MSG_DONTWAIT) == 1 && b[0] == 'o', "other addr got it");
    CHECK(send(u, "r", 1, 0) == 1 && recv(r, b, sizeof b, MSG_DONTWAIT) == 1 && b[0] == 'r', "connected send");
    struct msghdr m7 = {.msg_name = &oa, .msg_namelen = sizeof oa, .msg_iov = &io, .msg_iovlen = 1};
    io.iov_len = 1;
    CHECK(rsendmsg(u, &m7, 0) == 1 && recv(o, b, sizeof b, MSG_DONTWAIT) == 1, "sendmsg with name on connected dgram");
    io.iov_len = sizeof b;
    /* A peer that is connected elsewhere refuses us. */
    CHECK(connect(o, (struct sockaddr *)&wa, sizeof wa) == 0, "o connects to w");
    CHECK_ERR(sendto(r, "z", 1, 0, (struct sockaddr *)&oa, sizeof oa), EPERM, "sendto socket connected elsewhere EPERM");
    close(u); close(o); close(r); close(w);
    unlink(ra.sun_path); unlink(wa.sun_path); unlink(oa.sun_path);
}

static void iovecs(void) {
    int sv[2];
    char b[64], b2[64];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct msghdr m = {0};
    CHECK(rsendmsg(sv[0], &m, 0) == 0, "sendmsg iovlen 0 sends empty datagram");
    CHECK(recv(sv[1], b, sizeof b, MSG_DONTWAIT) == 0, "empty datagram received");
    struct iovec z[3] = {{NULL, 0}, {"abc", 3}, {NULL, 0}};
    struct msghdr m2 = {.msg_iov = z, .msg_iovlen = 3};
    CHECK(rsendmsg(sv[0], &m2, 0) == 3, "NULL zero-length iovs skipped");
    struct iovec rz[2] = {{NULL, 0}, {b, sizeof b}};
    struct msghdr m3 = {.msg_iov = rz, .msg_iovlen = 2};
    CHECK(rrecvmsg(sv[1], &m3, MSG_DONTWAIT) == 3 && memcmp(b, "abc", 3) == 0, "recv into NULL zero iov then buffer");
    static struct iovec many[1025];
    for (int i = 0; i < 1025; i++) { many[i].iov_base = b; many[i].iov_len = 1; }
    struct msghdr m4 = {.msg_iov = many, .msg_iovlen = 1025};
    CHECK_ERR(rsendmsg(sv[0], &m4, 0), EMSGSIZE, "sendmsg iovlen 1025 EMSGSIZE");
    CHECK_ERR(rrecvmsg(sv[1], &m4, MSG_DONTWAIT), EMSGSIZE, "recvmsg iovlen 1025 EMSGSIZE");
    m4.msg_iovlen = 1024;
    CHECK(rsendmsg(sv[0], &m4, 0) == 1024, "sendmsg iovlen 1024 ok");
    CHECK(recv(sv[1], b2, sizeof b2, MSG_DONTWAIT | MSG_TRUNC) == 1024, "1024-byte datagram (MSG_TRUNC length)");
    struct iovec neg = {b, (size_t)-1};
    struct msghdr m5 = {.msg_iov = &neg, .msg_iovlen = 1};
    CHECK_ERR(rsendmsg(sv[0], &m5, 0), EINVAL, "iov_len negative as ssize_t EINVAL");
    struct msghdr m6 = {.msg_iov = (void *)8, .msg_iovlen = 1};
    CHECK_ERR(rsendmsg(sv[0], &m6, 0), EFAULT, "msg_iov bad pointer EFAULT");
    struct iovec bad = {(void *)8, 4};
    struct msghdr m7 = {.msg_iov = &bad, .msg_iovlen = 1};
    CHECK_ERR(rsendmsg(sv[0], &m7, 0), EFAULT, "iov_base bad pointer EFAULT");
    CHECK_ERR(rsendmsg(sv[0], (void *)8, 0), EFAULT, "msghdr bad pointer EFAULT");
    CHECK_ERR(rrecvmsg(sv[1], (void *)8, 0), EFAULT, "recvmsg msghdr bad pointer EFAULT");
    struct iovec good = {"q", 1};
    struct msghdr m8 = {.msg_iov = &good, .msg_iovlen = 1, .msg_control = (void *)8, .msg_controllen = 16};
    CHECK_ERR(rsendmsg(sv[0], &m8, 0), EFAULT, "msg_control bad pointer EFAULT");
    struct msghdr m9 = {.msg_name = (void *)8, .msg_namelen = 16, .msg_iov = &good, .msg_iovlen = 1};
    CHECK_ERR(rsendmsg(sv[0], &m9, 0), EFAULT, "msg_name bad pointer EFAULT");
    struct msghdr m10 = {.msg_name = b, .msg_namelen = 200, .msg_iov = &good, .msg_iovlen = 1};
    CHECK_ERR(rsendmsg(sv[0], &m10, 0), EINVAL, "msg_namelen 200 EINVAL");
    /* Scatter of one datagram over three iovecs. */
    send(sv[0], "0123456789", 10, 0);
    char x[3], y[4], q[10];
    struct iovec sc[3] = {{x, 3}, {y, 4}, {q, 10}};
    struct msghdr m11 = {.msg_iov = sc, .msg_iovlen = 3};
    CHECK(rrecvmsg(sv[1], &m11, 0) == 10 && memcmp(x, "012", 3) == 0 && memcmp(y, "3456", 4) == 0
          && memcmp(q, "789", 3) == 0, "scatter over 3 iovecs");
    /* Gather: writev on a dgram socket makes one datagram. */
    struct iovec g[2] = {{"ab", 2}, {"cd", 2}};
    CHECK(writev(sv[0], g, 2) == 4 && recv(sv[1], b, sizeof b, 0) == 4, "writev one datagram");
    close(sv[0]); close(sv[1]);
}

static void flags(void) {
    int sv[2];
    char b[64];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[1], "abcdef", 6);
    CHECK(recv(sv[0], b, 3, MSG_PEEK) == 3 && recv(sv[0], b, 6, 0) == 6 && memcmp(b, "abcdef", 6) == 0,
          "stream MSG_PEEK leaves data");
    CHECK_ERR(recv(sv[0], b, 6, MSG_DONTWAIT), EAGAIN, "stream MSG_DONTWAIT EAGAIN");
    write(sv[1], "abcdef", 6);
    CHECK(recv(sv[0], b, 4, MSG_TRUNC) == 4 && recv(sv[0], b, 6, 0) == 2 && memcmp(b, "ef", 2) == 0,
          "unix stream MSG_TRUNC is a plain read");
    if (fork() == 0) {
        usleep(50000);
        write(sv[1], "12", 2);
        usleep(50000);
        write(sv[1], "345", 3);
        _exit(0);
    }
    CHECK(recv(sv[0], b, 5, MSG_WAITALL) == 5 && memcmp(b, "12345", 5) == 0, "MSG_WAITALL waits for all");
    wait(NULL);
    write(sv[1], "ab", 2);
    shutdown(sv[1], SHUT_WR);
    CHECK(recv(sv[0], b, 5, MSG_WAITALL) == 2, "MSG_WAITALL returns short at EOF");
    CHECK(recv(sv[0], b, 5, 0) == 0, "then EOF");
    CHECK(send(sv[0], "x", 1, MSG_DONTWAIT | 0x80000000u) == 1, "unknown send flag bit ignored? (stream)");
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[1], "abcdefgh", 8, 0);
    struct iovec io = {b, 3};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(sv[0], &m, MSG_TRUNC) == 8 && (m.msg_flags & MSG_TRUNC), "dgram MSG_TRUNC real length + flag");
    send(sv[1], "abcdefgh", 8, 0);
    m.msg_flags = 0;
    CHECK(rrecvmsg(sv[0], &m, 0) == 3 && (m.msg_flags & MSG_TRUNC), "dgram short buffer sets MSG_TRUNC");
    send(sv[1], "abc", 3, 0);
    m.msg_flags = 0xff;
    io.iov_len = 64;
    CHECK(rrecvmsg(sv[0], &m, 0) == 3 && m.msg_flags == 0, "msg_flags cleared when nothing to say");
    send(sv[1], "pk", 2, 0);
    CHECK(recv(sv[0], b, 1, MSG_PEEK | MSG_TRUNC) == 2 && recv(sv[0], b, 64, 0) == 2, "dgram peek+trunc then read");
    CHECK_ERR(recv(sv[0], b, 1, MSG_DONTWAIT), EAGAIN, "dgram empty EAGAIN");
    CHECK_ERR(recv(sv[0], b, 1, MSG_OOB), EOPNOTSUPP, "unix dgram MSG_OOB EOPNOTSUPP");
    CHECK_ERR(send(sv[0], "x", 1, MSG_OOB), EOPNOTSUPP, "unix dgram send MSG_OOB EOPNOTSUPP");
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    send(sv[1], "abcdefgh", 8, 0);
    io.iov_len = 3;
    m.msg_flags = 0;
    CHECK(rrecvmsg(sv[0], &m, 0) == 3 && (m.msg_flags & MSG_TRUNC), "seqpacket short read MSG_TRUNC");
    send(sv[1], "abcdefgh", 8, 0);
    CHECK(recv(sv[0], b, 2, MSG_TRUNC) == 8, "seqpacket MSG_TRUNC real length");
    send(sv[1], "", 0, 0);
    CHECK(recv(sv[0], b, 64, MSG_DONTWAIT) == 0, "seqpacket empty message");
    CHECK_ERR(recv(sv[0], b, 64, MSG_DONTWAIT), EAGAIN, "seqpacket then EAGAIN");
    close(sv[0]); close(sv[1]);
}

static void rights(void) {
    int sv[2], fds[4];
    char b[16];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    for (int i = 0; i < 4; i++) fds[i] = open("/dev/null", O_RDONLY);
    /* Partial truncation: room for 2 of 4 fds. */
    send_fds(sv[0], fds, 4, "T");
    char cbuf[CMSG_SPACE(sizeof(int) * 2)];
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    int before = open("/dev/null", O_RDONLY);
    close(before);
    char snap[64];
    for (int i = 0; i < 64; i++) snap[i] = is_open(i);
    CHECK(rrecvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC), "4 fds into room for 2: MSG_CTRUNC");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    int got[2] = {-1, -1};
    CHECK(c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int) * 2), "cmsg holds 2 fds");
    if (c) memcpy(got, CMSG_DATA(c), sizeof got);
    CHECK(is_open(got[0]) && is_open(got[1]), "the 2 fds that fit are installed");
    int newfds = 0, probe;
    for (int i = 0; i < 64; i++) newfds += !snap[i] && is_open(i);
    CHECK(newfds == 2, "the 2 that did not fit were not installed");
    CHECK(m.msg_controllen == CMSG_SPACE(sizeof(int) * 2), "msg_controllen covers the cmsg");
    close(got[0]); close(got[1]);
    /* Control buffer too small for even a header: all fds closed. */
    send_fds(sv[0], fds, 2, "U");
    char tiny[8];
    struct msghdr m2 = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = tiny, .msg_controllen = sizeof tiny};
    CHECK(rrecvmsg(sv[1], &m2, 0) == 1 && (m2.msg_flags & MSG_CTRUNC) && m2.msg_controllen == 0,
          "8-byte control buffer: MSG_CTRUNC, controllen 0");
    probe = open("/dev/null", O_RDONLY);
    CHECK(probe == before, "no fd leaked");
    close(probe);
    /* No control buffer at all. */
    send_fds(sv[0], fds, 1, "V");
    struct msghdr m3 = {.msg_iov = &io, .msg_iovlen = 1};
    CHECK(rrecvmsg(sv[1], &m3, 0) == 1 && (m3.msg_flags & MSG_CTRUNC), "no control buffer: MSG_CTRUNC");
    probe = open("/dev/null", O_RDONLY);
    CHECK(probe == before, "no fd leaked (no buffer)");
    close(probe);
    /* Room for exactly one fd (CMSG_LEN(4) = 20 bytes, not CMSG_SPACE). */
    send_fds(sv[0], fds, 2, "W");
    char c20[CMSG_SPACE(sizeof(int) * 2)];
    struct msghdr m4 = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = c20, .msg_controllen = CMSG_LEN(sizeof(int))};
    CHECK(rrecvmsg(sv[1], &m4, 0) == 1 && (m4.msg_flags & MSG_CTRUNC), "CMSG_LEN(4) buffer: 1 fd, CTRUNC");
    c = CMSG_FIRSTHDR(&m4);
    CHECK(c && c->cmsg_len == CMSG_LEN(sizeof(int)), "one fd cmsg");
    if (c) { memcpy(got, CMSG_DATA(c), sizeof(int)); close(got[0]); }
    /* Two SCM_RIGHTS cmsgs in one message are merged on receive. */
    {
        char cb[CMSG_SPACE(sizeof(int)) * 2];
        memset(cb, 0, sizeof cb);
        struct iovec sio = {"M", 1};
        struct msghdr sm = {.msg_iov = &sio, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
        struct cmsghdr *c1 = CMSG_FIRSTHDR(&sm);
        c1->cmsg_level = SOL_SOCKET; c1->cmsg_type = SCM_RIGHTS; c1->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c1), &fds[0], sizeof(int));
        struct cmsghdr *c2 = CMSG_NXTHDR(&sm, c1);
        c2->cmsg_level = SOL_SOCKET; c2->cmsg_type = SCM_RIGHTS; c2->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c2), &fds[1], sizeof(int));
        CHECK(rsendmsg(sv[0], &sm, 0) == 1, "two SCM_RIGHTS cmsgs sent");
        char rb[CMSG_SPACE(sizeof(int) * 4)];
        struct msghdr rm = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = rb, .msg_controllen = sizeof rb};
        CHECK(rrecvmsg(sv[1], &rm, 0) == 1 && !(rm.msg_flags & MSG_CTRUNC), "received without CTRUNC");
        struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
        CHECK(rc && rc->cmsg_len == CMSG_LEN(sizeof(int) * 2) && !CMSG_NXTHDR(&rm, rc), "merged into one cmsg of 2 fds");
        if (rc) { memcpy(got, CMSG_DATA(rc), sizeof got); close(got[0]); close(got[1]); }
    }
    /* MSG_CMSG_CLOEXEC */
    send_fds(sv[0], fds, 1, "C");
    char cc[CMSG_SPACE(sizeof(int))];
    struct msghdr m5 = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cc, .msg_controllen = sizeof cc};
    CHECK(rrecvmsg(sv[1], &m5, MSG_CMSG_CLOEXEC) == 1, "recv with MSG_CMSG_CLOEXEC");
    memcpy(got, CMSG_DATA(CMSG_FIRSTHDR(&m5)), sizeof(int));
    CHECK(fcntl(got[0], F_GETFD) == FD_CLOEXEC, "received fd has FD_CLOEXEC");
    close(got[0]);
    send_fds(sv[0], fds, 1, "D");
    m5.msg_controllen = sizeof cc;
    CHECK(rrecvmsg(sv[1], &m5, 0) == 1, "recv without MSG_CMSG_CLOEXEC");
    memcpy(got, CMSG_DATA(CMSG_FIRSTHDR(&m5)), sizeof(int));
    CHECK(fcntl(got[0], F_GETFD) == 0, "received fd without FD_CLOEXEC");
    close(got[0]);
    /* Malformed cmsgs on send. */
    {
        char cb[64];
        struct iovec sio = {"E", 1};
        struct msghdr sm = {.msg_iov = &sio, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = CMSG_SPACE(4)};
        struct cmsghdr *c1 = (struct cmsghdr *)cb;
        memset(cb, 0, sizeof cb);
        c1->cmsg_level = SOL_SOCKET; c1->cmsg_type = SCM_RIGHTS; c1->cmsg_len = 8;
        CHECK_ERR(rsendmsg(sv[0], &sm, 0), EINVAL, "cmsg_len below header EINVAL");
        c1->cmsg_len = CMSG_SPACE(4) + 8;
        CHECK_ERR(rsendmsg(sv[0], &sm, 0), EINVAL, "cmsg_len beyond controllen EINVAL");
        c1->cmsg_len = CMSG_LEN(4); c1->cmsg_type = 77;
        memcpy(CMSG_DATA(c1), &fds[0], 4);
        CHECK_ERR(rsendmsg(sv[0], &sm, 0), EINVAL, "unknown SOL_SOCKET cmsg type EINVAL");
        c1->cmsg_type = SCM_RIGHTS; c1->cmsg_level = 99;
        CHECK(rsendmsg(sv[0], &sm, 0) == 1, "unknown cmsg level ignored on unix");
        CHECK(recv(sv[1], b, sizeof b, 0) == 1, "drain");
        c1->cmsg_level = SOL_SOCKET;
        int badfd = 999;
        memcpy(CMSG_DATA(c1), &badfd, 4);
        CHECK_ERR(rsendmsg(sv[0], &sm, 0), EBADF, "SCM_RIGHTS bad fd EBADF");
        c1->cmsg_len = CMSG_LEN(0);
        sm.msg_controllen = CMSG_SPACE(0);
        CHECK(rsendmsg(sv[0], &sm, 0) == 1, "SCM_RIGHTS with 0 fds accepted");
        CHECK(recv(sv[1], b, sizeof b, 0) == 1, "drain 2");
        sm.msg_controllen = 8;
        CHECK(rsendmsg(sv[0], &sm, 0) == 1, "controllen below one header: ignored");
        CHECK(recv(sv[1], b, sizeof b, 0) == 1, "drain 3");
        /* SCM_RIGHTS over 253 fds */
        static char big[CMSG_SPACE(sizeof(int) * 254)];
        struct msghdr bm = {.msg_iov = &sio, .msg_iovlen = 1, .msg_control = big, .msg_controllen = sizeof big};
        struct cmsghdr *bc = CMSG_FIRSTHDR(&bm);
        bc->cmsg_level = SOL_SOCKET; bc->cmsg_type = SCM_RIGHTS; bc->cmsg_len = CMSG_LEN(sizeof(int) * 254);
        for (int i = 0; i < 254; i++) ((int *)CMSG_DATA(bc))[i] = fds[0];
        CHECK_ERR(rsendmsg(sv[0], &bm, 0), EINVAL, "254 fds EINVAL (SCM_MAX_FD)");
        bc->cmsg_len = CMSG_LEN(sizeof(int) * 253);
        CHECK(rsendmsg(sv[0], &bm, 0) == 1, "253 fds ok");
        static char rbig[CMSG_SPACE(sizeof(int) * 253)];
        struct msghdr rbm = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = rbig, .msg_controllen = sizeof rbig};
        CHECK(rrecvmsg(sv[1], &rbm, 0) == 1 && CMSG_FIRSTHDR(&rbm)->cmsg_len == CMSG_LEN(sizeof(int) * 253),
              "253 fds received");
        for (int i = 0; i < 253; i++) close(((int *)CMSG_DATA(CMSG_FIRSTHDR(&rbm)))[i]);
    }
    /* SCM_CREDENTIALS */
    {
        char cb[CMSG_SPACE(sizeof(struct ucred))];
        memset(cb, 0, sizeof cb);
        struct iovec sio = {"K", 1};
        struct msghdr sm = {.msg_iov = &sio, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
        struct cmsghdr *c1 = CMSG_FIRSTHDR(&sm);
        c1->cmsg_level = SOL_SOCKET; c1->cmsg_type = SCM_CREDENTIALS; c1->cmsg_len = CMSG_LEN(sizeof(struct ucred));
        struct ucred uc = {getpid(), getuid(), getgid()};
        memcpy(CMSG_DATA(c1), &uc, sizeof uc);
        int one = 1;
        setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        CHECK(rsendmsg(sv[0], &sm, 0) == 1, "send own credentials");
        char rb[CMSG_SPACE(sizeof(struct ucred))];
        struct msghdr rm = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = rb, .msg_controllen = sizeof rb};
        CHECK(rrecvmsg(sv[1], &rm, 0) == 1, "recv with SO_PASSCRED");
        struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
        struct ucred ru = {0};
        if (rc) memcpy(&ru, CMSG_DATA(rc), sizeof ru);
        CHECK(rc && rc->cmsg_type == SCM_CREDENTIALS && ru.pid == getpid() && ru.uid == getuid(),
              "SCM_CREDENTIALS received");
        write(sv[0], "n", 1);
        rm.msg_controllen = sizeof rb;
        CHECK(rrecvmsg(sv[1], &rm, 0) == 1 && CMSG_FIRSTHDR(&rm) && CMSG_FIRSTHDR(&rm)->cmsg_type == SCM_CREDENTIALS,
              "creds attached even when not sent");
        uc.pid = 1;
        memcpy(CMSG_DATA(c1), &uc, sizeof uc);
        if (getuid() != 0)
            CHECK_ERR(rsendmsg(sv[0], &sm, 0), EPERM, "SCM_CREDENTIALS wrong pid EPERM");
        else
            CHECK(1, "SCM_CREDENTIALS wrong pid (root: allowed)");
        uc.pid = getpid();
        memcpy(CMSG_DATA(c1), &uc, sizeof uc);
        c1->cmsg_len = CMSG_LEN(8);
        CHECK_ERR(rsendmsg(sv[0], &sm, 0), EINVAL, "SCM_CREDENTIALS short cmsg_len EINVAL");
        int zero = 0;
        setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &zero, sizeof zero);
    }
    for (int i = 0; i < 4; i++) close(fds[i]);
    close(sv[0]); close(sv[1]);
}

static void mmsg(void) {
    int sv[2];
    char bufs[4][16];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct iovec io[4];
    struct mmsghdr mm[4];
    memset(mm, 0, sizeof mm);
    const char *words[] = {"one", "three", "fiver", "x"};
    for (int i = 0; i < 4; i++) {
        io[i].iov_base = (void *)words[i];
        io[i].iov_len = strlen(words[i]);
        mm[i].msg_hdr.msg_iov = &io[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_len = 777;
    }
    CHECK(syscall(SYS_sendmmsg, sv[0], mm, 0, 0) == 0, "sendmmsg vlen 0 returns 0");
    CHECK(syscall(SYS_sendmmsg, sv[0], mm, 3, 0) == 3 && mm[0].msg_len == 3 && mm[1].msg_len == 5
          && mm[2].msg_len == 5 && mm[3].msg_len == 777, "sendmmsg 3 fills msg_len");
    for (int i = 0; i < 4; i++) {
        io[i].iov_base = bufs[i];
        io[i].iov_len = sizeof bufs[i];
        mm[i].msg_len = 0;
    }
    struct timespec ts = {0, 50000000};
    CHECK(syscall(SYS_recvmmsg, sv[1], mm, 4, MSG_DONTWAIT, NULL) == 3 && mm[1].msg_len == 5
          && memcmp(bufs[2], "fiver", 5) == 0, "recvmmsg gets the 3 queued (DONTWAIT)");
    CHECK_ERR(syscall(SYS_recvmmsg, sv[1], mm, 4, MSG_DONTWAIT, NULL), EAGAIN, "recvmmsg empty EAGAIN");
    send(sv[0], "a", 1, 0);
    CHECK(syscall(SYS_recvmmsg, sv[1], mm, 4, MSG_WAITFORONE, NULL) == 1, "MSG_WAITFORONE returns after one");
    send(sv[0], "b", 1, 0);
    CHECK(syscall(SYS_recvmmsg, sv[1], mm, 1, 0, &ts) == 1, "recvmmsg with timeout gets one");
    struct timespec badts = {0, 2000000000};
    CHECK_ERR(syscall(SYS_recvmmsg, sv[1], mm, 1, 0, &badts), EINVAL, "recvmmsg bad timeout EINVAL");
    CHECK_ERR(syscall(SYS_recvmmsg, sv[1], mm, 1, 0, (void *)8), EFAULT, "recvmmsg bad timeout ptr EFAULT");
    CHECK(syscall(SYS_recvmmsg, sv[1], mm, 0, MSG_DONTWAIT, NULL) == 0, "recvmmsg vlen 0 returns 0");
    /* Partial: second entry faults, first counts. */
    io[0].iov_base = "ok"; io[0].iov_len = 2;
    mm[1].msg_hdr.msg_iov = (void *)8;
    CHECK(syscall(SYS_sendmmsg, sv[0], mm, 2, 0) == 1, "sendmmsg partial returns count sent");
    CHECK_ERR(syscall(SYS_sendmmsg, sv[0], &mm[1], 1, 0), EFAULT, "sendmmsg first bad EFAULT");
    CHECK_ERR(syscall(SYS_sendmmsg, sv[0], (void *)8, 1, 0), EFAULT, "sendmmsg bad vector EFAULT");
    CHECK(recv(sv[1], bufs[0], 16, 0) == 2, "drain the one");
    close(sv[0]); close(sv[1]);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    names();
    iovecs();
    flags();
    rights();
    mmsg();
    DONE();
}
