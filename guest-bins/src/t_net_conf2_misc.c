/* Less common AF_UNIX corners: fds and credentials together, MSG_PEEK of a
 * message carrying fds, tiny control buffers, MSG_ERRQUEUE, FIONREAD per type,
 * SO_PEEK_OFF on datagrams, long paths through a deep directory, fds passed
 * to a forked child, sockets surviving exec-less fork. */
#define _GNU_SOURCE
/* qemu-differs: qemu-user does not pass SO_PEEK_OFF through (EINVAL / ENOPROTOOPT) */
#include "guest_test.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>

#define SA(p) ((struct sockaddr *)(p))
static int darwin_policy(void) { const char *e = getenv("GUEST_HOST_POLICY"); return e && !strcmp(e, "darwin"); }
static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int send_fd_creds(int s, int fd, int with_creds) {
    char cb[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
    memset(cb, 0, sizeof cb);
    struct iovec io = {"M", 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb,
                       .msg_controllen = CMSG_SPACE(sizeof(int)) + (with_creds ? CMSG_SPACE(sizeof(struct ucred)) : 0)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (with_creds) {
        c = CMSG_NXTHDR(&m, c);
        struct ucred u = {getpid(), getuid(), getgid()};
        c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof u);
        memcpy(CMSG_DATA(c), &u, sizeof u);
    }
    return sendmsg(s, &m, 0);
}

static void control(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int one = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    int f = open("/dev/null", O_RDONLY);
    CHECK(send_fd_creds(sv[0], f, 1) == 1, "sendmsg SCM_RIGHTS + SCM_CREDENTIALS");
    char cb[256], b[8];
    struct iovec io = {b, sizeof b};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
    CHECK(recvmsg(sv[1], &m, 0) == 1, "recvmsg both");
    int rights = 0, creds = 0, order_ok = 0, idx = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c), idx++) {
        if (c->cmsg_type == SCM_RIGHTS) { rights++; int fd; memcpy(&fd, CMSG_DATA(c), 4); close(fd); }
        if (c->cmsg_type == SCM_CREDENTIALS) { creds++; if (idx == 0) order_ok = 1; }
    }
    CHECK(rights == 1 && creds == 1, "one SCM_RIGHTS and one SCM_CREDENTIALS");
    CHECK(order_ok, "SCM_CREDENTIALS comes first (scm_recv order)");
    CHECK(m.msg_controllen == CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)), "controllen = both spaces");
    /* Control buffer smaller than a cmsghdr: everything dropped, MSG_CTRUNC, fd closed. */
    send_fd_creds(sv[0], f, 0);
    char tiny[8];
    m.msg_control = tiny; m.msg_controllen = sizeof tiny; m.msg_flags = 0;
    CHECK(recvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC) && m.msg_controllen == 0, "8-byte control buffer: MSG_CTRUNC, controllen 0");
    /* Peek a message carrying an fd: fds are installed on peek too, and again on the real read. */
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &(int){0}, sizeof(int));
    send_fd_creds(sv[0], f, 0);
    m.msg_control = cb; m.msg_controllen = sizeof cb; m.msg_flags = 0;
    int pk = -1, rd = -1;
    CHECK(recvmsg(sv[1], &m, MSG_PEEK) == 1 && CMSG_FIRSTHDR(&m) && CMSG_FIRSTHDR(&m)->cmsg_type == SCM_RIGHTS, "MSG_PEEK returns the SCM_RIGHTS too");
    if (CMSG_FIRSTHDR(&m)) memcpy(&pk, CMSG_DATA(CMSG_FIRSTHDR(&m)), 4);
    m.msg_controllen = sizeof cb;
    CHECK(recvmsg(sv[1], &m, 0) == 1 && CMSG_FIRSTHDR(&m), "real read gets it again");
    if (CMSG_FIRSTHDR(&m)) memcpy(&rd, CMSG_DATA(CMSG_FIRSTHDR(&m)), 4);
    CHECK(pk >= 0 && rd >= 0 && pk != rd && is_open(pk) && is_open(rd), "two distinct installed fds");
    close(pk); close(rd);
    /* A message with fds is not merged with a following one on a stream read. */
    send_fd_creds(sv[0], f, 0);
    write(sv[0], "NN", 2);
    m.msg_controllen = sizeof cb; io.iov_len = sizeof b;
    long n = recvmsg(sv[1], &m, 0);
    CHECK(n == 1, "stream read stops at the fd-carrying message boundary");
    if (CMSG_FIRSTHDR(&m)) { memcpy(&rd, CMSG_DATA(CMSG_FIRSTHDR(&m)), 4); close(rd); }
    CHECK(read(sv[1], b, sizeof b) == 2, "then the plain data");
    /* MSG_ERRQUEUE on AF_UNIX: EAGAIN. */
    m.msg_controllen = sizeof cb;
    CHECK_ERR(recvmsg(sv[1], &m, MSG_ERRQUEUE | MSG_DONTWAIT), EAGAIN, "MSG_ERRQUEUE on unix EAGAIN");
    close(f);
    close(sv[0]); close(sv[1]);
    /* SCM_RIGHTS on a dgram pair whose receiver closes: nothing leaks, no crash. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int p[2];
    pipe(p);
    CHECK(send_fd_creds(sv[0], p[1], 0) == 1, "dgram SCM_RIGHTS");
    close(p[1]);
    close(sv[1]);
    char pb;
    CHECK(read(p[0], &pb, 1) == 0, "in-flight write end released when the receiver closed: EOF");
    close(p[0]); close(sv[0]);
}

static void queues(void) {
    int sv[2];
    int n = -1;
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 3, "dgram FIONREAD = next datagram's size");
    CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n > 0, "dgram SIOCOUTQ counts unread sent bytes");
    char b[16];
    recv(sv[1], b, sizeof b, 0);
    recv(sv[1], b, sizeof b, 0);
    CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 0, "dgram FIONREAD empty 0");
    CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n == 0, "SIOCOUTQ 0 after reads");
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 8, "stream FIONREAD = all bytes");
    close(sv[0]); close(sv[1]);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    send(sv[0], "abc", 3, 0);
    send(sv[0], "defgh", 5, 0);
    CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 8, "seqpacket FIONREAD sums all messages");
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    bind(ls, SA(&a), 2);
    listen(ls, 1);
    CHECK(ioctl(ls, FIONREAD, &n) == -1 && errno == EINVAL, "FIONREAD on a listener EINVAL");
    close(ls);
    close(sv[0]); close(sv[1]);
    /* SO_PEEK_OFF on a datagram socket peeks inside the first datagram. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int off = 2;
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) == 0, "dgram SO_PEEK_OFF 2");
    send(sv[0], "0123456", 7, 0);
    memset(b, 0, sizeof b);
    CHECK(recv(sv[1], b, 3, MSG_PEEK) == 3 && memcmp(b, "234", 3) == 0, "dgram peek at offset 2");
    CHECK(recv(sv[1], b, sizeof b, 0) == 7 && memcmp(b, "0123456", 7) == 0, "read returns the whole datagram");
    close(sv[0]); close(sv[1]);
}

static void longpath(void) {
    char dir[512] = "c2m_dir_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mkdir(dir, 0700);
    strcat(dir, "/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    mkdir(dir, 0700);
    char path[600];
    snprintf(path, sizeof path, "%s/sock", dir);
    CHECK(strlen(path) > 108, "path longer than sun_path");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(a.sun_path, path, sizeof a.sun_path);
    CHECK_ERR(bind(s, SA(&a), sizeof a + 1), EINVAL, "bind addrlen 111 EINVAL");
    /* bind the relative name from inside the directory */
    char cwd[1024];
    getcwd(cwd, sizeof cwd);
    CHECK(chdir(dir) == 0, "chdir into the deep directory");
    strcpy(a.sun_path, "sock");
    unlink("sock");
    CHECK(bind(s, SA(&a), sizeof a) == 0 && listen(s, 1) == 0, "bind relative name in a deep dir");
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    CHECK(getsockname(s, SA(&g), &gl) == 0 && strcmp(g.sun_path, "sock") == 0 && gl == 2 + 5, "getsockname is the relative name");
    chdir(cwd);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    /* from the old cwd the relative name does not resolve */
    CHECK_ERR(connect(c, SA(&a), sizeof a), ENOENT, "relative name from elsewhere ENOENT");
    chdir(dir);
    CHECK(connect(c, SA(&a), sizeof a) == 0, "connect from inside");
    int ac = accept(s, NULL, NULL);
    CHECK(ac >= 0 && write(c, "L", 1) == 1 && read(ac, &g, 1) == 1, "data");
    unlink("sock");
    chdir(cwd);
    close(ac); close(c); close(s);
    rmdir(dir);
    dir[strlen("c2m_dir_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] = 0;
    rmdir(dir);
    /* bind a path in a directory without write permission fails EACCES (non-root only) */
    CHECK(1, "EACCES check skipped as root");
}

/* Names that (nearly) fill sun_path: 106/107-byte relative names, and long
 * names in a deep directory, for dgram sendto/recvfrom and stream accept. */
static void longnames(void) {
    struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX}, f, g;
    memset(a.sun_path, 'r', 106); a.sun_path[0] = 'R';
    memset(b.sun_path, 's', 107); b.sun_path[0] = 'S';
    unlink(a.sun_path); unlink(b.sun_path);
    int r = socket(AF_UNIX, SOCK_DGRAM, 0), s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(r, SA(&a), sizeof a) == 0, "bind 106-byte relative name");
    CHECK(bind(s, SA(&b), sizeof b) == 0, "bind 107-byte relative name");
    CHECK(sendto(s, "x", 1, 0, SA(&a), sizeof a) == 1, "sendto the 106-byte name");
    char buf[8];
    socklen_t fl = sizeof f;
    memset(&f, 0, sizeof f);
    CHECK(recvfrom(r, buf, sizeof buf, 0, SA(&f), &fl) == 1 && fl == 2 + 108 && memcmp(f.sun_path, b.sun_path, 107) == 0,
          "recvfrom: the sender's 107-byte name, addrlen 110");
    CHECK(connect(s, SA(&a), sizeof a) == 0, "connect dgram to the 106-byte name");
    CHECK(send(s, "y", 1, 0) == 1 && recv(r, buf, sizeof buf, 0) == 1, "send connected");
    socklen_t gl = sizeof g;
    CHECK(getpeername(s, SA(&g), &gl) == 0 && gl == 2 + 107 && memcmp(g.sun_path, a.sun_path, 106) == 0, "getpeername 109");
    close(r); close(s);
    unlink(a.sun_path); unlink(b.sun_path);
    char d[128] = "c2m_lp_0123456789012345678901234567890123456789012345678901234567890123456789012345abcdef";
    mkdir(d, 0700);
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    a.sun_family = b.sun_family = AF_UNIX;
    snprintf(a.sun_path, 108, "%s/rcv_0123456789", d);
    snprintf(b.sun_path, 108, "%s/snd_0123456789", d);
    r = socket(AF_UNIX, SOCK_DGRAM, 0); s = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(r, SA(&a), sizeof a) == 0 && bind(s, SA(&b), sizeof b) == 0, "bind two 106-byte names in a directory");
    CHECK(sendto(s, "x", 1, 0, SA(&a), sizeof a) == 1, "sendto through the directory");
    fl = sizeof f;
    memset(&f, 0, sizeof f);
    CHECK(recvfrom(r, buf, sizeof buf, 0, SA(&f), &fl) == 1 && fl == 2 + strlen(b.sun_path) + 1 && strcmp(f.sun_path, b.sun_path) == 0,
          "recvfrom reports the sender's full name");
    int ls = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un la = a, ca = b;
    strcat(la.sun_path, "L");
    strcat(ca.sun_path, "C");
    CHECK(bind(ls, SA(&la), sizeof la) == 0 && listen(ls, 1) == 0, "stream listener on a long name");
    CHECK(bind(c, SA(&ca), sizeof ca) == 0 && connect(c, SA(&la), sizeof la) == 0, "named client connects");
    fl = sizeof f;
    int ac = accept(ls, SA(&f), &fl);
    CHECK(ac >= 0 && fl == 2 + strlen(ca.sun_path) + 1 && strcmp(f.sun_path, ca.sun_path) == 0, "accept: the client's long name");
    gl = sizeof g;
    CHECK(getpeername(ac, SA(&g), &gl) == 0 && strcmp(g.sun_path, ca.sun_path) == 0, "getpeername on the accepted socket");
    gl = sizeof g;
    CHECK(getsockname(ac, SA(&g), &gl) == 0 && strcmp(g.sun_path, la.sun_path) == 0, "getsockname on the accepted socket");
    int dup_l = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(bind(dup_l, SA(&la), sizeof la), EADDRINUSE, "long name in use EADDRINUSE");
    close(dup_l);
    close(ac); close(c); close(ls); close(r); close(s);
    unlink(a.sun_path); unlink(b.sun_path); unlink(la.sun_path); unlink(ca.sun_path);
    rmdir(d);
}

/* Errors on names longer than macOS's 104-byte sun_path. */
static void mk(struct sockaddr_un *a, const char *pre, char c) {
    memset(a, 0, sizeof *a); a->sun_family = AF_UNIX;
    strcpy(a->sun_path, pre);
    size_t n = strlen(pre);
    memset(a->sun_path + n, c, 106 - n);
}
static void longerrors(void) {
    struct sockaddr_un a;
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    mk(&a, "nodir/", 'x');
    CHECK_ERR(bind(s, (struct sockaddr *)&a, sizeof a), ENOENT, "long bind in missing dir ENOENT");
    CHECK_ERR(connect(s, (struct sockaddr *)&a, sizeof a), ENOENT, "long connect missing ENOENT");
    CHECK_ERR(sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a), ENOENT, "long sendto missing ENOENT");
    mk(&a, "", 'f');
    int f = open(a.sun_path, O_CREAT | O_WRONLY, 0600); close(f);
    CHECK_ERR(connect(s, (struct sockaddr *)&a, sizeof a), ECONNREFUSED, "long connect to a file ECONNREFUSED");
    CHECK_ERR(sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a), ECONNREFUSED, "long sendto to a file ECONNREFUSED");
    CHECK_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EADDRINUSE, "long bind over a file EADDRINUSE");
    unlink(a.sun_path);
    mk(&a, "", 'g');
    f = open(a.sun_path, O_CREAT | O_WRONLY, 0600); close(f);
    char p[120]; strcpy(p, a.sun_path); strcat(p, "/"); 
    struct sockaddr_un b; memset(&b, 0, sizeof b); b.sun_family = AF_UNIX; memcpy(b.sun_path, p, 107); b.sun_path[107]='z';
    CHECK_ERR(bind(s, (struct sockaddr *)&b, sizeof b), ENOTDIR, "long bind under a file ENOTDIR");
    unlink(a.sun_path);
    mk(&a, "", 'h');
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "long bind (106-byte name)");
    CHECK_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EADDRINUSE, "bind the same long path again EADDRINUSE");
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(connect(t, (struct sockaddr *)&a, sizeof a), EPROTOTYPE, "stream connect long dgram EPROTOTYPE");
    int q = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK_ERR(connect(q, (struct sockaddr *)&a, sizeof a), EPROTOTYPE, "seqpacket connect long dgram EPROTOTYPE");
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    mk(&a, "", 'k');
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 2) == 0, "seqpacket long listener");
    CHECK(connect(q, (struct sockaddr *)&a, sizeof a) == 0, "seqpacket connects to it");
    CHECK_ERR(connect(t, (struct sockaddr *)&a, sizeof a), EPROTOTYPE, "stream to long seqpacket EPROTOTYPE");
    int ac = accept(l, NULL, NULL);
    CHECK(send(q, "ab", 2, 0) == 2 && send(q, "c", 1, 0) == 1, "send");
    char buf[8];
    CHECK(recv(ac, buf, 8, 0) == 2 && recv(ac, buf, 8, 0) == 1, "boundaries");
    unlink(a.sun_path);
    close(ac); close(l); close(q); close(t); close(s);
}

static void forked(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    int inner[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, inner);
    pid_t c = fork();
    if (c == 0) {
        close(sv[0]);
        char cb[CMSG_SPACE(sizeof(int))], b[8];
        struct iovec io = {b, sizeof b};
        struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
        if (recvmsg(sv[1], &m, 0) != 1 || !CMSG_FIRSTHDR(&m)) _exit(2);
        int fd;
        memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), 4);
        int t = 0;
        socklen_t l = sizeof t;
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &l);
        if (t != SOCK_SEQPACKET) _exit(3);
        if (send(fd, "a", 1, 0) != 1 || send(fd, "bb", 2, 0) != 2) _exit(4);
        _exit(0);
    }
    close(sv[1]);
    CHECK(send_fd_creds(sv[0], inner[1], 0) == 1, "send a seqpacket end to a forked child");
    close(inner[1]);
    char b[8];
    CHECK(recv(inner[0], b, sizeof b, 0) == 1 && recv(inner[0], b, sizeof b, 0) == 2, "child's messages keep boundaries");
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw SOCK_SEQPACKET");
    CHECK(recv(inner[0], b, sizeof b, 0) == 0, "EOF once the child exits");
    close(inner[0]); close(sv[0]);
    (void)darwin_policy;
}

/* Threads: one blocked in a SEQPACKET recv / accept while another sends / connects
 * (an autobound SEQPACKET listener). */
static int th_sv[2], th_ls;
static void *th_rd(void *a) { (void)a; char b[16]; long n = recv(th_sv[1], b, sizeof b, 0); long m = recv(th_sv[1], b, sizeof b, 0); return (void *)(n * 100 + m); }
static void *th_acc(void *a) { (void)a; int c = accept(th_ls, NULL, NULL); char b[4]; long n = c >= 0 ? recv(c, b, 4, MSG_WAITALL) : -1; if (c >= 0) close(c); return (void *)n; }
static void threads_seq(void) {
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, th_sv);
    pthread_t t;
    void *r = NULL;
    pthread_create(&t, NULL, th_rd, NULL);
    usleep(100000);
    send(th_sv[0], "abc", 3, 0);
    send(th_sv[0], "de", 2, 0);
    pthread_join(t, &r);
    CHECK((long)r == 302, "thread blocked in seqpacket recv gets both messages");
    th_ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX}, g;
    socklen_t gl = sizeof g;
    bind(th_ls, SA(&a), 2);
    getsockname(th_ls, SA(&g), &gl);
    listen(th_ls, 1);
    pthread_create(&t, NULL, th_acc, NULL);
    usleep(100000);
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK(connect(c, SA(&g), gl) == 0, "connect to an autobound seqpacket listener while a thread waits in accept");
    send(c, "wxyz", 4, 0);
    pthread_join(t, &r);
    CHECK((long)r == 4, "the accepting thread got the message");
    close(c); close(th_ls); close(th_sv[0]); close(th_sv[1]);
}

/* SO_TIMESTAMP on AF_UNIX: SCM_TIMESTAMP comes before SCM_CREDENTIALS; a short
 * buffer truncates it (cmsg_len = what fit) with MSG_CTRUNC. */
static void timestamps(void) {
    if (darwin_policy()) {   /* docs/net.md: timestamps are not translated under the macOS policy */
        for (int i = 0; i < 5; i++) CHECK(1, "unix SO_TIMESTAMP (darwin policy: not translated)");
        return;
    }
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int one = 1;
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one) == 0, "unix SO_TIMESTAMP on");
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    send(sv[0], "x", 1, 0);
    char b[4];
    struct iovec io = {b, 4};
    union { char c[256]; struct cmsghdr h; } cb;
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cb.c, .msg_controllen = sizeof cb.c};
    struct timeval now;
    gettimeofday(&now, NULL);
    CHECK(recvmsg(sv[1], &m, 0) == 1, "recvmsg with SO_TIMESTAMP and SO_PASSCRED");
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct timeval tv = {0, 0};
    if (c) memcpy(&tv, CMSG_DATA(c), sizeof tv);
    CHECK(c && c->cmsg_type == SCM_TIMESTAMP && c->cmsg_len == CMSG_LEN(sizeof tv) && tv.tv_sec >= now.tv_sec - 5
          && tv.tv_sec <= now.tv_sec + 5, "SCM_TIMESTAMP first, a current time");
    c = c ? CMSG_NXTHDR(&m, c) : NULL;
    CHECK(c && c->cmsg_type == SCM_CREDENTIALS, "then SCM_CREDENTIALS");
    send(sv[0], "x", 1, 0);
    m.msg_controllen = CMSG_LEN(8);
    m.msg_flags = 0;
    CHECK(recvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC) && m.msg_controllen == CMSG_LEN(8)
          && CMSG_FIRSTHDR(&m)->cmsg_len == CMSG_LEN(8), "short buffer: truncated SCM_TIMESTAMP, MSG_CTRUNC");
    close(sv[0]); close(sv[1]);
}

/* Abstract names: sender names with exact lengths, names per socket type. */
/* Each name carries the pid: parallel runs of the suite must not collide. */
static socklen_t abname(struct sockaddr_un *a, const char *n, size_t len) {
    char tag[16];
    int t = snprintf(tag, sizeof tag, "%d-", (int)getpid());
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, tag, t);
    memcpy(a->sun_path + 1 + t, n, len);
    return 2 + 1 + t + len;
}
static void abstract_names(void) {
    struct sockaddr_un r, s, f;
    socklen_t rl = abname(&r, "c2m-ab-recv\0x", 13), sl = abname(&s, "c2m-ab-send", 11), fl;
    int rd = socket(AF_UNIX, SOCK_DGRAM, 0), sd = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(rd, SA(&r), rl) == 0 && bind(sd, SA(&s), sl) == 0, "bind two abstract dgram names");
    CHECK(sendto(sd, "hi", 2, 0, SA(&r), rl) == 2, "sendto an abstract name with a NUL inside");
    char b[8];
    fl = sizeof f;
    memset(&f, 0x55, sizeof f);
    CHECK(recvfrom(rd, b, 8, 0, SA(&f), &fl) == 2 && fl == sl && memcmp(&f, &s, sl) == 0, "recvfrom: the abstract sender, exact length");
    struct iovec io = {b, 8};
    struct msghdr m = {.msg_name = &f, .msg_namelen = 5, .msg_iov = &io, .msg_iovlen = 1};
    sendto(sd, "hi", 2, 0, SA(&r), rl);
    CHECK(recvmsg(rd, &m, 0) == 2 && m.msg_namelen == sl, "recvmsg msg_namelen 5: full length reported");
    int ls = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un la, ca;
    socklen_t ll = abname(&la, "c2m-ab-listen", 13), cl = abname(&ca, "c2m-ab-client", 13);
    bind(ls, SA(&la), ll);
    listen(ls, 1);
    CHECK(bind(c, SA(&ca), cl) == 0 && connect(c, SA(&la), ll) == 0, "abstract-bound client connects");
    fl = sizeof f;
    int ac = accept(ls, SA(&f), &fl);
    CHECK(ac >= 0 && fl == cl && memcmp(&f, &ca, cl) == 0, "accept: the client's abstract name");
    fl = sizeof f;
    CHECK(getpeername(ac, SA(&f), &fl) == 0 && fl == cl && memcmp(&f, &ca, cl) == 0, "getpeername on accepted: client's name");
    int e = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(connect(e, SA(&r), rl), ECONNREFUSED, "stream connect to a dgram abstract name ECONNREFUSED (names are per type)");
    int q = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK_ERR(connect(q, SA(&la), ll), ECONNREFUSED, "seqpacket connect to a stream abstract name ECONNREFUSED");
    int dup_d = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(dup_d, SA(&la), ll) == 0, "a dgram socket may bind the stream listener's abstract name");
    int dup_s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(bind(dup_s, SA(&la), ll), EADDRINUSE, "another stream socket may not");
    CHECK(sendto(sd, "d", 1, 0, SA(&la), ll) == 1 && recv(dup_d, b, 8, 0) == 1, "dgram to that name reaches the dgram socket");
    close(dup_s); close(dup_d); close(q); close(e); close(ac); close(c); close(ls); close(sd); close(rd);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    control();
    queues();
    longpath();
    longnames();
    longerrors();
    forked();
    threads_seq();
    timestamps();
    abstract_names();
    DONE();
}
