/* SCM_RIGHTS (files, pipes, sockets, several cmsgs, MSG_CTRUNC, MSG_CMSG_CLOEXEC),
 * credentials (SO_PEERCRED, SO_PASSCRED, SCM_CREDENTIALS), abstract names incl.
 * autobind, long sun_path, AF_INET/AF_INET6 loopback. One process; deterministic. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/syscall.h>
/* qemu-differs: qemu-user does not reject malformed cmsgs (cmsg_len past controllen or below the header), truncates SCM_RIGHTS wrongly with a short control buffer (no partial fd list), and mangles SCM_CREDENTIALS on receive */

static int send_fds(int s, int *fds, int n, int split) {
    char ctl[CMSG_SPACE(sizeof(int) * 8) * 2];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {"F", 1};
    struct msghdr m = {0};
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl;
    struct cmsghdr *c = (struct cmsghdr *)ctl;
    if (!split) {
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    } else {
        size_t used = 0;
        for (int i = 0; i < n; i++) {
            c = (struct cmsghdr *)(ctl + used);
            c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &fds[i], sizeof(int));
            used += CMSG_SPACE(sizeof(int));
        }
        m.msg_controllen = used;
    }
    return sendmsg(s, &m, 0);
}

/* Receive into a control buffer of ctlsize; returns number of fds got, fills out[]. */
static int recv_fds(int s, int *out, size_t ctlsize, int flags, int *mflags) {
    char ctl[512], b[8];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {b, sizeof b};
    struct msghdr m = {0};
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = ctlsize;
    if (recvmsg(s, &m, flags) < 0) return -1;
    *mflags = m.msg_flags;
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(out + n, CMSG_DATA(c), k * sizeof(int));
            n += k;
        }
    return n;
}

static int opt(int fd, int name) {
    int v = -1; socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0) return -100 - errno;
    return v;
}

int main(void) {
    int sv[2], got[16], mf;
    char buf[64];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    /* a file */
    char path[64];
    snprintf(path, sizeof path, "/tmp/t_net_fdpass.%d", (int)getpid());
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(write(f, "filedata", 8) == 8, "file written");
    CHECK(send_fds(sv[0], &f, 1, 0) == 1, "send file fd");
    CHECK(recv_fds(sv[1], got, 256, 0, &mf) == 1 && got[0] != f && mf == 0, "recv file fd");
    CHECK(pread(got[0], buf, 8, 0) == 8 && memcmp(buf, "filedata", 8) == 0, "received file readable");
    CHECK((fcntl(got[0], F_GETFD) & FD_CLOEXEC) == 0, "received fd without FD_CLOEXEC");
    close(got[0]);
    /* MSG_CMSG_CLOEXEC */
    CHECK(send_fds(sv[0], &f, 1, 0) == 1, "send again");
    CHECK(recv_fds(sv[1], got, 256, MSG_CMSG_CLOEXEC, &mf) == 1
          && (fcntl(got[0], F_GETFD) & FD_CLOEXEC), "MSG_CMSG_CLOEXEC sets FD_CLOEXEC");
    close(got[0]);
    /* a pipe and a socket, in two cmsgs: received as one merged cmsg */
    int p[2], spair[2];
    pipe(p);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, spair);
    int three[3] = {p[0], p[1], spair[1]};
    CHECK(send_fds(sv[0], three, 3, 1) == 1, "send 3 fds in 3 cmsgs");
    {
        char ctl[256], b[4];
        struct iovec iov = {b, 4};
        struct msghdr m = {0};
        m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
        CHECK(recvmsg(sv[1], &m, 0) == 1, "recvmsg 3 fds");
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        CHECK(c && c->cmsg_len == CMSG_LEN(3 * sizeof(int)) && !CMSG_NXTHDR(&m, c)
              && m.msg_controllen == CMSG_SPACE(3 * sizeof(int)), "merged into one SCM_RIGHTS cmsg");
        memcpy(got, CMSG_DATA(c), 3 * sizeof(int));
    }
    CHECK(write(got[1], "pp", 2) == 2 && read(got[0], buf, 2) == 2, "received pipe works");
    CHECK(opt(got[2], SO_TYPE) == SOCK_SEQPACKET, "received seqpacket keeps SO_TYPE");
    CHECK(write(spair[0], "m1", 2) == 2 && write(spair[0], "m22", 3) == 3
          && read(got[2], buf, 64) == 2 && read(got[2], buf, 64) == 3, "received seqpacket keeps boundaries");
    for (int i = 0; i < 3; i++) close(got[i]);
    /* MSG_CTRUNC: room for 1 of 3 fds */
    CHECK(send_fds(sv[0], three, 3, 0) == 1, "send 3 fds one cmsg");
    CHECK(recv_fds(sv[1], got, CMSG_LEN(sizeof(int)), 0, &mf) == 1 && (mf & MSG_CTRUNC),
          "short control buffer: 1 fd + MSG_CTRUNC");
    close(got[0]);
    CHECK(send_fds(sv[0], three, 1, 0) == 1, "send 1 fd");
    CHECK(recv_fds(sv[1], got, 0, 0, &mf) == 0 && (mf & MSG_CTRUNC), "no control buffer: MSG_CTRUNC");
    /* bad fd in SCM_RIGHTS */
    int bad = 999;
    CHECK_ERR(send_fds(sv[0], &bad, 1, 0), EBADF, "SCM_RIGHTS bad fd EBADF");
    /* malformed cmsg_len */
    {
        char ctl[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {"x", 1};
        struct msghdr m = {0};
        m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = (struct cmsghdr *)ctl;
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = sizeof ctl + 8;
        CHECK_ERR(sendmsg(sv[0], &m, 0), EINVAL, "cmsg_len past controllen EINVAL");
        c->cmsg_len = 4;
        CHECK_ERR(sendmsg(sv[0], &m, 0), EINVAL, "cmsg_len < header EINVAL");
        c->cmsg_len = CMSG_LEN(sizeof(int)); c->cmsg_type = 77;
        CHECK_ERR(sendmsg(sv[0], &m, 0), EINVAL, "unknown SOL_SOCKET cmsg type EINVAL");
        m.msg_control = (void *)8;   /* raw syscall: musl's sendmsg would copy it first */
        CHECK_ERR(syscall(SYS_sendmsg, sv[0], &m, 0), EFAULT, "bad msg_control EFAULT");
    }
    /* credentials */
    {
        struct ucred u; socklen_t l = sizeof u;
        CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &u, &l) == 0 && l == sizeof u
              && u.pid == getpid() && u.uid == geteuid() && u.gid == getegid(), "SO_PEERCRED socketpair");
        int one = 1;
        CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED on");
        CHECK(opt(sv[1], SO_PASSCRED) == 1, "SO_PASSCRED reads back 1");
        CHECK(write(sv[0], "c", 1) == 1, "write for creds");
        char ctl[256], b[4];
        struct iovec iov = {b, 4};
        struct msghdr m = {0};
        m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
        CHECK(recvmsg(sv[1], &m, 0) == 1, "recvmsg with creds");
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        CHECK(c && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof u), "SCM_CREDENTIALS cmsg");
        if (c) memcpy(&u, CMSG_DATA(c), sizeof u);
        CHECK(u.pid == getpid() && u.uid == getuid() && u.gid == getgid(), "SCM_CREDENTIALS values");
        /* send explicit creds */
        struct ucred mine = {getpid(), getuid(), getgid()};
        char sctl[CMSG_SPACE(sizeof mine)];
        struct msghdr s = {0};
        struct iovec siov = {"k", 1};
        s.msg_iov = &siov; s.msg_iovlen = 1; s.msg_control = sctl; s.msg_controllen = sizeof sctl;
        c = (struct cmsghdr *)sctl;
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof mine);
        memcpy(CMSG_DATA(c), &mine, sizeof mine);
        CHECK(sendmsg(sv[0], &s, 0) == 1, "sendmsg explicit SCM_CREDENTIALS");
        m.msg_controllen = sizeof ctl;
        CHECK(recvmsg(sv[1], &m, 0) == 1 && CMSG_FIRSTHDR(&m), "recv explicit creds");
        mine.pid = 1;
        memcpy(CMSG_DATA(c), &mine, sizeof mine);
        if (getuid() != 0) CHECK_ERR(sendmsg(sv[0], &s, 0), EPERM, "forged pid EPERM");
        else CHECK(1, "forged pid EPERM");
        c->cmsg_len = CMSG_LEN(sizeof mine) - 1;
        CHECK_ERR(sendmsg(sv[0], &s, 0), EINVAL, "bad SCM_CREDENTIALS len EINVAL");
    }
    close(sv[0]); close(sv[1]);

    /* abstract names */
    {
        char name[40];
        int n = snprintf(name, sizeof name, "@t_net_fdpass_%d", (int)getpid());
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        memcpy(a.sun_path, name, n);
        a.sun_path[0] = 0;
        socklen_t alen = offsetof(struct sockaddr_un, sun_path) + n;
        int srv = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(bind(srv, (struct sockaddr *)&a, alen) == 0 && listen(srv, 2) == 0, "bind abstract");
        struct sockaddr_un g; socklen_t gl = sizeof g;
        CHECK(getsockname(srv, (struct sockaddr *)&g, &gl) == 0 && gl == alen
              && memcmp(&g, &a, alen) == 0, "getsockname abstract name and length");
        int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_ERR(bind(s2, (struct sockaddr *)&a, alen), EADDRINUSE, "abstract name in use EADDRINUSE");
        int cl = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(connect(cl, (struct sockaddr *)&a, alen) == 0, "connect abstract");
        int acc = accept(srv, NULL, NULL);
        gl = sizeof g;
        CHECK(getpeername(cl, (struct sockaddr *)&g, &gl) == 0 && gl == alen
              && memcmp(&g, &a, alen) == 0, "getpeername abstract");
        close(acc); close(cl); close(srv); close(s2);
        /* autobind */
        int d = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un ab = {.sun_family = AF_UNIX};
        CHECK(bind(d, (struct sockaddr *)&ab, sizeof(sa_family_t)) == 0, "autobind");
        gl = sizeof g;
        CHECK(getsockname(d, (struct sockaddr *)&g, &gl) == 0 && gl == offsetof(struct sockaddr_un, sun_path) + 6
              && g.sun_path[0] == 0, "autobind: 5-hex-digit abstract name");
        int hex = 1;
        for (int i = 1; i < 6; i++) if (!strchr("0123456789abcdef", g.sun_path[i])) hex = 0;
        CHECK(hex, "autobind name is hex");
        int d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
        CHECK(sendto(d2, "ab", 2, 0, (struct sockaddr *)&g, gl) == 2, "sendto autobound name");
        CHECK(recv(d, buf, sizeof buf, 0) == 2, "recv on autobound");
        /* recvfrom gives the abstract name of an autobound sender */
        CHECK(bind(d2, (struct sockaddr *)&ab, sizeof(sa_family_t)) == 0, "autobind sender");
        CHECK(sendto(d2, "ab", 2, 0, (struct sockaddr *)&g, gl) == 2, "sendto from autobound");
        struct sockaddr_un fr; socklen_t fl = sizeof fr;
        CHECK(recvfrom(d, buf, sizeof buf, 0, (struct sockaddr *)&fr, &fl) == 2
              && fl == offsetof(struct sockaddr_un, sun_path) + 6 && fr.sun_path[0] == 0, "recvfrom abstract sender");
        close(d); close(d2);
    }
    /* long sun_path: 107 chars + NUL */
    {
        char dir[64];
        snprintf(dir, sizeof dir, "/tmp/t_net_fdpass.%d.d", (int)getpid());
        mkdir(dir, 0700);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int n = snprintf(a.sun_path, sizeof a.sun_path, "%s/", dir);
        memset(a.sun_path + n, 'L', 107 - n);
        a.sun_path[107] = 0;
        int srv = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(bind(srv, (struct sockaddr *)&a, sizeof a) == 0 && listen(srv, 1) == 0, "bind 107-byte path");
        struct sockaddr_un g; socklen_t gl = sizeof g;
        CHECK(getsockname(srv, (struct sockaddr *)&g, &gl) == 0 && gl == sizeof a
              && strcmp(g.sun_path, a.sun_path) == 0, "getsockname long path");
        int cl = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0, "connect long path");
        int acc = accept(srv, NULL, NULL);
        CHECK(acc >= 0 && write(cl, "L", 1) == 1 && read(acc, buf, 1) == 1, "data over long path");
        gl = sizeof g;
        CHECK(getpeername(cl, (struct sockaddr *)&g, &gl) == 0 && strcmp(g.sun_path, a.sun_path) == 0,
              "getpeername long path");
        close(acc); close(cl); close(srv);
        unlink(a.sun_path); rmdir(dir);
        /* 108 bytes with no NUL */
        memset(a.sun_path, 'x', 108);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_ERR(bind(s, (struct sockaddr *)&a, sizeof a + 1), EINVAL, "addrlen 111 EINVAL");
        close(s);
    }
    /* AF_INET / AF_INET6 loopback */
    {
        int l4 = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = 0};
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1;
        CHECK(setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
        CHECK(opt(l4, SO_REUSEADDR) == 1, "SO_REUSEADDR reads 1");
        CHECK(bind(l4, (struct sockaddr *)&in, sizeof in) == 0 && listen(l4, 2) == 0, "inet bind+listen");
        socklen_t il = sizeof in;
        CHECK(getsockname(l4, (struct sockaddr *)&in, &il) == 0 && il == sizeof in && in.sin_port != 0
              && in.sin_family == AF_INET, "inet getsockname");
        int c4 = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(c4, (struct sockaddr *)&in, sizeof in) == 0, "inet connect");
        int a4 = accept(l4, NULL, NULL);
        CHECK(a4 >= 0 && write(c4, "tcp", 3) == 3 && read(a4, buf, 3) == 3, "inet data");
        CHECK(setsockopt(c4, IPPROTO_TCP, 1 /*TCP_NODELAY*/, &one, sizeof one) == 0, "TCP_NODELAY");
        close(a4); close(c4); close(l4);
        int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (u6 >= 0 && bind(u6, (struct sockaddr *)&s6, sizeof s6) == 0) {
            socklen_t l6 = sizeof s6;
            CHECK(getsockname(u6, (struct sockaddr *)&s6, &l6) == 0 && l6 == sizeof s6
                  && s6.sin6_family == AF_INET6, "inet6 getsockname");
            CHECK(sendto(u6, "v6", 2, 0, (struct sockaddr *)&s6, sizeof s6) == 2
                  && recv(u6, buf, 8, 0) == 2, "inet6 udp loopback");
        } else {
            CHECK(1, "inet6 getsockname"); CHECK(1, "inet6 udp loopback");
        }
        close(u6);
        CHECK_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP, "socketpair AF_INET EOPNOTSUPP");
    }
    close(f); unlink(path);
    DONE();
}
