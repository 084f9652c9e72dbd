/* Core AF_UNIX socket behaviour: socketpair of each type, read/write, SO_TYPE/
 * SO_DOMAIN/SO_PROTOCOL, names (unbound, Linux addrlen), sendmsg/recvmsg with
 * one and two iovecs, sendmmsg/recvmmsg, dgram sendto/recvfrom, MSG_TRUNC,
 * SO_ERROR, SHUT_WR then EOF, SEQPACKET boundaries. Deterministic output. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

static int opt(int fd, int name) {
    int v = -1; socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0) return -100 - errno;
    return v;
}

int main(void) {
    int sv[2];
    char buf[64];
    /* stream socketpair */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
    CHECK(write(sv[0], "hello", 5) == 5, "write stream");
    CHECK(read(sv[1], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "read stream");
    CHECK(opt(sv[0], SO_TYPE) == SOCK_STREAM, "SO_TYPE stream");
    CHECK(opt(sv[0], SO_DOMAIN) == AF_UNIX, "SO_DOMAIN unix");
    CHECK(opt(sv[0], SO_PROTOCOL) == 0, "SO_PROTOCOL 0");
    CHECK(opt(sv[0], SO_ERROR) == 0, "SO_ERROR 0");
    CHECK(opt(sv[0], SO_ACCEPTCONN) == 0, "SO_ACCEPTCONN 0");
    {
        struct sockaddr_un a; socklen_t l = sizeof a;
        memset(&a, 0x55, sizeof a);
        CHECK(getsockname(sv[0], (struct sockaddr *)&a, &l) == 0 && l == sizeof(sa_family_t)
              && a.sun_family == AF_UNIX, "getsockname unbound: addrlen 2");
        l = sizeof a;
        CHECK(getpeername(sv[0], (struct sockaddr *)&a, &l) == 0 && l == sizeof(sa_family_t),
              "getpeername unbound: addrlen 2");
    }
    /* sendmsg/recvmsg with 1 and 2 iovecs */
    {
        struct iovec iov[2] = {{"abc", 3}, {"defg", 4}};
        struct msghdr m = {0};
        m.msg_iov = iov; m.msg_iovlen = 2;
        CHECK(sendmsg(sv[0], &m, 0) == 7, "sendmsg 2 iovecs");
        char b1[2], b2[10];
        struct iovec riov[2] = {{b1, 2}, {b2, 10}};
        struct msghdr r = {0};
        r.msg_iov = riov; r.msg_iovlen = 2;
        ssize_t n = recvmsg(sv[1], &r, 0);
        CHECK(n == 7 && memcmp(b1, "ab", 2) == 0 && memcmp(b2, "cdefg", 5) == 0, "recvmsg 2 iovecs");
        CHECK(r.msg_flags == 0 && r.msg_controllen == 0, "recvmsg flags 0");
        struct iovec one = {"x", 1};
        m.msg_iov = &one; m.msg_iovlen = 1;
        CHECK(sendmsg(sv[1], &m, 0) == 1, "sendmsg 1 iovec");
        riov[0].iov_len = 2; r.msg_iovlen = 1;
        CHECK(recvmsg(sv[0], &r, 0) == 1 && b1[0] == 'x', "recvmsg 1 iovec");
    }
    /* SHUT_WR then EOF */
    CHECK(shutdown(sv[0], SHUT_WR) == 0, "shutdown SHUT_WR");
    CHECK(read(sv[1], buf, sizeof buf) == 0, "read EOF after SHUT_WR");
    CHECK_ERR(shutdown(sv[0], 3), EINVAL, "shutdown bad how EINVAL");
    close(sv[0]); close(sv[1]);

    /* dgram socketpair: boundaries, MSG_TRUNC */
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair dgram");
    CHECK(opt(sv[0], SO_TYPE) == SOCK_DGRAM, "SO_TYPE dgram");
    CHECK(send(sv[0], "one", 3, 0) == 3 && send(sv[0], "twotwo", 6, 0) == 6, "send 2 dgrams");
    CHECK(recv(sv[1], buf, sizeof buf, 0) == 3, "recv dgram 1 boundary");
    CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 6, "recv MSG_TRUNC returns real length");
    CHECK(send(sv[0], "truncated", 9, 0) == 9, "send for recvmsg trunc");
    {
        struct iovec iov = {buf, 4};
        struct msghdr r = {0};
        r.msg_iov = &iov; r.msg_iovlen = 1;
        CHECK(recvmsg(sv[1], &r, 0) == 4 && (r.msg_flags & MSG_TRUNC), "recvmsg sets MSG_TRUNC");
    }
    CHECK_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN, "recv empty EAGAIN");
    /* sendmmsg / recvmmsg */
    {
        struct mmsghdr mm[3];
        struct iovec iov[3] = {{"m1", 2}, {"mm2", 3}, {"mmm3", 4}};
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 3; i++) { mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1; }
        CHECK(sendmmsg(sv[0], mm, 3, 0) == 3, "sendmmsg 3");
        CHECK(mm[0].msg_len == 2 && mm[1].msg_len == 3 && mm[2].msg_len == 4, "sendmmsg msg_len");
        char rb[3][8];
        struct iovec riov[3] = {{rb[0], 8}, {rb[1], 8}, {rb[2], 8}};
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 3; i++) { mm[i].msg_hdr.msg_iov = &riov[i]; mm[i].msg_hdr.msg_iovlen = 1; }
        CHECK(recvmmsg(sv[1], mm, 3, MSG_DONTWAIT, NULL) == 3, "recvmmsg 3");
        CHECK(mm[0].msg_len == 2 && mm[2].msg_len == 4 && memcmp(rb[2], "mmm3", 4) == 0, "recvmmsg lens");
        CHECK(sendmmsg(sv[0], mm, 1, 0) == 1, "sendmmsg 1 for waitforone");
        CHECK(recvmmsg(sv[1], mm, 3, MSG_WAITFORONE, NULL) == 1, "recvmmsg MSG_WAITFORONE");
    }
    close(sv[0]); close(sv[1]);

    /* seqpacket socketpair */
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair seqpacket");
    CHECK(opt(sv[0], SO_TYPE) == SOCK_SEQPACKET, "SO_TYPE seqpacket pair");
    CHECK(write(sv[0], "first", 5) == 5 && write(sv[0], "second", 6) == 6, "seqpacket 2 writes");
    CHECK(read(sv[1], buf, sizeof buf) == 5, "seqpacket read keeps boundary 1");
    CHECK(read(sv[1], buf, sizeof buf) == 6 && memcmp(buf, "second", 6) == 0, "seqpacket boundary 2");
    close(sv[0]); close(sv[1]);
    {
        int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        CHECK(s >= 0 && opt(s, SO_TYPE) == SOCK_SEQPACKET, "socket seqpacket SO_TYPE");
        CHECK(opt(s, SO_DOMAIN) == AF_UNIX && opt(s, SO_PROTOCOL) == 0, "seqpacket domain/protocol");
        int d = dup(s);
        CHECK(opt(d, SO_TYPE) == SOCK_SEQPACKET, "dup keeps SO_TYPE");
        close(d); close(s);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) && (fcntl(s, F_GETFD) & FD_CLOEXEC),
              "SOCK_NONBLOCK|SOCK_CLOEXEC applied");
        close(s);
    }

    /* dgram bound to a path: sendto/recvfrom, names */
    {
        char p1[64], p2[64];
        snprintf(p1, sizeof p1, "/tmp/t_net_basic.%d.a", (int)getpid());
        snprintf(p2, sizeof p2, "/tmp/t_net_basic.%d.b", (int)getpid());
        unlink(p1); unlink(p2);
        int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX}, sb = {.sun_family = AF_UNIX}, from;
        strcpy(sa.sun_path, p1); strcpy(sb.sun_path, p2);
        /* addrlen without the trailing NUL is accepted */
        CHECK(bind(a, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + strlen(p1)) == 0,
              "bind addrlen without NUL");
        CHECK(bind(b, (struct sockaddr *)&sb, sizeof sb) == 0, "bind full sizeof");
        socklen_t l = sizeof from;
        CHECK(getsockname(a, (struct sockaddr *)&from, &l) == 0
              && l == offsetof(struct sockaddr_un, sun_path) + strlen(p1) + 1
              && strcmp(from.sun_path, p1) == 0, "getsockname Linux addrlen (path+NUL)");
        CHECK(sendto(b, "dg", 2, 0, (struct sockaddr *)&sa, sizeof sa) == 2, "sendto path");
        l = sizeof from;
        memset(&from, 0, sizeof from);
        CHECK(recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &l) == 2
              && strcmp(from.sun_path, p2) == 0
              && l == offsetof(struct sockaddr_un, sun_path) + strlen(p2) + 1, "recvfrom sender name");
        l = 4;
        memset(&from, 0, sizeof from);
        CHECK(sendto(b, "dg", 2, 0, (struct sockaddr *)&sa, sizeof sa) == 2, "sendto again");
        CHECK(recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &l) == 2
              && l == offsetof(struct sockaddr_un, sun_path) + strlen(p2) + 1
              && from.sun_family == AF_UNIX && from.sun_path[0] == '/' && from.sun_path[2] == 0, "recvfrom short addrlen: truncated copy, full length");
        {
            struct sockaddr_un s3 = {.sun_family = AF_UNIX};
            snprintf(s3.sun_path, sizeof s3.sun_path, "/tmp/t_net_basic.%d.d", (int)getpid());
            CHECK_ERR(bind(a, (struct sockaddr *)&s3, sizeof s3), EINVAL, "bind twice EINVAL");
            unlink(s3.sun_path);
        }
        int c = socket(AF_UNIX, SOCK_DGRAM, 0);
        CHECK_ERR(bind(c, (struct sockaddr *)&sa, sizeof sa), EADDRINUSE, "bind existing EADDRINUSE");
        close(c);
        close(a);
        CHECK_ERR(sendto(b, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa), ECONNREFUSED,
                  "sendto closed peer ECONNREFUSED");
        unlink(p1);
        CHECK_ERR(sendto(b, "x", 1, 0, (struct sockaddr *)&sa, sizeof sa), ENOENT, "sendto missing ENOENT");
        close(b); unlink(p2);
    }
    /* SO_ERROR read and clear: connect a dgram socket, close the peer, send */
    {
        char p[64];
        snprintf(p, sizeof p, "/tmp/t_net_basic.%d.c", (int)getpid());
        unlink(p);
        int srv = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, p);
        CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(srv, 4) == 0, "bind+listen stream");
        CHECK(opt(srv, SO_ACCEPTCONN) == 1, "SO_ACCEPTCONN 1");
        int cl = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(connect(cl, (struct sockaddr *)&sa, sizeof sa) == 0, "connect to path");
        struct sockaddr_un pa; socklen_t l = sizeof pa;
        int acc = accept(srv, (struct sockaddr *)&pa, &l);
        CHECK(acc >= 0 && l == sizeof(sa_family_t), "accept: unbound peer addrlen 2");
        l = sizeof pa;
        CHECK(getpeername(cl, (struct sockaddr *)&pa, &l) == 0 && strcmp(pa.sun_path, p) == 0,
              "getpeername = listener path");
        l = sizeof pa;
        CHECK(getsockname(acc, (struct sockaddr *)&pa, &l) == 0 && strcmp(pa.sun_path, p) == 0,
              "accepted getsockname = listener path");
        CHECK(write(cl, "ping", 4) == 4 && read(acc, buf, 4) == 4, "accepted stream data");
        close(acc);
        CHECK_ERR(send(cl, "x", 1, MSG_NOSIGNAL), EPIPE, "send after peer close EPIPE (MSG_NOSIGNAL)");
        CHECK(opt(cl, SO_ERROR) == 0, "SO_ERROR after EPIPE");
        close(cl); close(srv); unlink(p);
        CHECK_ERR(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&sa, sizeof sa), ENOENT,
                  "connect missing path ENOENT");
    }
    DONE();
}
