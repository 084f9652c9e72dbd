/* Forked server/client pairs: stream over a filesystem path, SEQPACKET socket()
 * connections keeping boundaries, fd passing between processes (incl. a
 * SEQPACKET socket), SO_PEERCRED of another process, abstract names. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

static int opt(int fd, int name) {
    int v = -1; socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, name, &v, &l) < 0) return -100 - errno;
    return v;
}

static int send_fd(int s, int fd) {
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {"F", 1};
    struct msghdr m = {0};
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(s, &m, 0);
}

static int recv_fd(int s) {
    char ctl[CMSG_SPACE(sizeof(int))], b[1];
    struct iovec iov = {b, 1};
    struct msghdr m = {0};
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
    if (recvmsg(s, &m, 0) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd; memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static int run_pair(int type, struct sockaddr_un *a, socklen_t alen, const char *what) {
    char buf[64], msg[128];
    int srv = socket(AF_UNIX, type, 0);
    snprintf(msg, sizeof msg, "%s: bind+listen", what);
    CHECK(bind(srv, (struct sockaddr *)a, alen) == 0 && listen(srv, 4) == 0, msg);
    pid_t pid = fork();
    if (pid == 0) {
        close(srv);
        int c = socket(AF_UNIX, type, 0);
        if (connect(c, (struct sockaddr *)a, alen) != 0) _exit(10);
        if (write(c, "msg-one", 7) != 7 || write(c, "msg-2", 5) != 5) _exit(11);
        if (type == SOCK_SEQPACKET && write(c, "", 0) != 0) _exit(15);
        /* receive a pipe end and a socket through the connection */
        int p = recv_fd(c);
        if (p < 0 || write(p, "via-pipe", 8) != 8) _exit(12);
        int s = recv_fd(c);
        if (s < 0 || opt(s, SO_TYPE) != SOCK_SEQPACKET) _exit(13);
        if (write(s, "aa", 2) != 2 || write(s, "bbb", 3) != 3) _exit(14);
        struct ucred u; socklen_t ul = sizeof u;
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &u, &ul) != 0 || u.pid != getppid()) _exit(16);
        _exit(0);
    }
    int acc = accept(srv, NULL, NULL);
    snprintf(msg, sizeof msg, "%s: accept", what);
    CHECK(acc >= 0, msg);
    snprintf(msg, sizeof msg, "%s: accepted SO_TYPE", what);
    CHECK(opt(acc, SO_TYPE) == type, msg);
    if (type == SOCK_SEQPACKET) {
        snprintf(msg, sizeof msg, "%s: boundaries kept", what);
        CHECK(read(acc, buf, sizeof buf) == 7 && read(acc, buf, sizeof buf) == 5, msg);
        snprintf(msg, sizeof msg, "%s: zero-length message", what);
        CHECK(recv(acc, buf, sizeof buf, 0) == 0, msg);
    } else {
        int n = 0, r;
        while (n < 12 && (r = read(acc, buf + n, sizeof buf - n)) > 0) n += r;
        snprintf(msg, sizeof msg, "%s: stream bytes", what);
        CHECK(n == 12 && memcmp(buf, "msg-onemsg-2", 12) == 0, msg);
    }
    int p[2], sp[2];
    pipe(p);
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
    snprintf(msg, sizeof msg, "%s: pass pipe + seqpacket socket", what);
    CHECK(send_fd(acc, p[1]) == 1 && send_fd(acc, sp[1]) == 1, msg);
    close(p[1]); close(sp[1]);
    snprintf(msg, sizeof msg, "%s: child wrote through passed pipe", what);
    CHECK(read(p[0], buf, sizeof buf) == 8 && memcmp(buf, "via-pipe", 8) == 0, msg);
    snprintf(msg, sizeof msg, "%s: passed seqpacket keeps type and boundaries", what);
    CHECK(read(sp[0], buf, sizeof buf) == 2 && read(sp[0], buf, sizeof buf) == 3, msg);
    struct ucred u; socklen_t ul = sizeof u;
    snprintf(msg, sizeof msg, "%s: SO_PEERCRED is the child", what);
    CHECK(getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &u, &ul) == 0 && u.pid == pid && u.uid == geteuid(), msg);
    int st = -1;
    waitpid(pid, &st, 0);
    snprintf(msg, sizeof msg, "%s: child exit 0", what);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, msg);
    if (WIFEXITED(st) && WEXITSTATUS(st)) printf("# child status %d\n", WEXITSTATUS(st));
    close(acc); close(srv); close(p[0]); close(sp[0]);
    return 0;
}

int main(void) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/t_net_fork.%d.s", (int)getpid());
    unlink(a.sun_path);
    run_pair(SOCK_STREAM, &a, sizeof a, "stream path");
    unlink(a.sun_path);
    run_pair(SOCK_SEQPACKET, &a, sizeof a, "seqpacket path");
    unlink(a.sun_path);
    struct sockaddr_un b = {.sun_family = AF_UNIX};
    int n = snprintf(b.sun_path + 1, sizeof b.sun_path - 1, "t_net_fork.%d", (int)getpid());
    run_pair(SOCK_SEQPACKET, &b, offsetof(struct sockaddr_un, sun_path) + 1 + n, "seqpacket abstract");
    DONE();
}
