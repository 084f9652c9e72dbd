/* Socket error cases, as Linux reports them (raw syscalls where libc would
 * check or copy first). The emulator must never print a traceback. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
/* qemu-differs: qemu-user accepts unknown SOCK_* type-flag bits, and checks a recv buffer before the socket has data (EFAULT instead of EAGAIN) */

int main(void) {
    int sv[2];
    char buf[8];
    CHECK_ERR(socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT, "socket unknown family EAFNOSUPPORT");
    CHECK_ERR(socket(-1, SOCK_STREAM, 0), EAFNOSUPPORT, "socket negative family EAFNOSUPPORT");
    CHECK_ERR(socket(AF_UNIX, SOCK_STREAM | 0x40000000, 0), EINVAL, "socket unknown type flag EINVAL");
    CHECK_ERR(socket(AF_UNIX, 12, 0), EINVAL, "socket type >= SOCK_MAX EINVAL");
    CHECK_ERR(socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT, "unix SOCK_RDM ESOCKTNOSUPPORT");
    CHECK_ERR(socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT, "unix protocol 7 EPROTONOSUPPORT");
    CHECK_ERR(socketpair(AF_UNIX, SOCK_STREAM | 0x100000, 0, sv), EINVAL, "socketpair bad flag EINVAL");
    CHECK_ERR(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, (void *)8), EFAULT, "socketpair bad sv EFAULT");
    int f = open("/proc/self/exe", O_RDONLY);
    struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    CHECK_ERR(bind(f, (struct sockaddr *)&a, sizeof a), ENOTSOCK, "bind on file ENOTSOCK");
    CHECK_ERR(listen(f, 1), ENOTSOCK, "listen on file ENOTSOCK");
    CHECK_ERR(send(f, "x", 1, 0), ENOTSOCK, "send on file ENOTSOCK");
    CHECK_ERR(getsockopt(f, SOL_SOCKET, SO_TYPE, buf, &(socklen_t){4}), ENOTSOCK, "getsockopt on file ENOTSOCK");
    close(f);
    CHECK_ERR(bind(777, (struct sockaddr *)&a, sizeof a), EBADF, "bind bad fd EBADF");
    CHECK_ERR(connect(-5, (struct sockaddr *)&a, sizeof a), EBADF, "connect negative fd EBADF");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(bind(s, (struct sockaddr *)&a, 129), EINVAL, "bind addrlen 129 EINVAL");
    CHECK_ERR(bind(s, (struct sockaddr *)&a, -1), EINVAL, "bind addrlen -1 EINVAL");
    CHECK_ERR(bind(s, (struct sockaddr *)8, sizeof a), EFAULT, "bind bad addr EFAULT");
    CHECK_ERR(bind(s, (struct sockaddr *)&a, 1), EINVAL, "bind addrlen 1 EINVAL");
    struct sockaddr_un in = a; in.sun_family = AF_INET;
    CHECK_ERR(bind(s, (struct sockaddr *)&in, sizeof in), EINVAL, "bind wrong family EINVAL");
    CHECK_ERR(connect(s, (struct sockaddr *)8, sizeof a), EFAULT, "connect bad addr EFAULT");
    CHECK_ERR(listen(s, 1), EINVAL, "listen unbound stream EINVAL");
    CHECK_ERR(accept(s, NULL, NULL), EINVAL, "accept on non-listening EINVAL");
    CHECK_ERR(accept4(s, NULL, NULL, 0x7), EINVAL, "accept4 bad flags EINVAL");
    CHECK_ERR(getsockname(s, (struct sockaddr *)8, &(socklen_t){sizeof a}), EFAULT, "getsockname bad addr EFAULT");
    CHECK_ERR(syscall(SYS_getsockname, s, &a, (void *)8), EFAULT, "getsockname bad len ptr EFAULT");
    CHECK_ERR(getsockname(s, (struct sockaddr *)&a, &(socklen_t){-1}), EINVAL, "getsockname negative len EINVAL");
    CHECK_ERR(getpeername(s, (struct sockaddr *)&a, &(socklen_t){sizeof a}), ENOTCONN, "getpeername unconnected ENOTCONN");
    CHECK_ERR(send(s, "x", 1, MSG_NOSIGNAL), ENOTCONN, "send unconnected stream ENOTCONN");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, 9999, buf, 4), ENOPROTOOPT, "setsockopt unknown opt ENOPROTOOPT");
    CHECK_ERR(getsockopt(s, SOL_SOCKET, 9999, buf, &(socklen_t){4}), ENOPROTOOPT, "getsockopt unknown opt ENOPROTOOPT");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVBUF, buf, 2), EINVAL, "setsockopt short optlen EINVAL");
    CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVBUF, (void *)8, 4), EFAULT, "setsockopt bad optval EFAULT");
    CHECK_ERR(getsockopt(s, SOL_SOCKET, SO_TYPE, buf, &(socklen_t){-1}), EINVAL, "getsockopt negative len EINVAL");
    CHECK_ERR(setsockopt(s, 6 /*TCP*/, 1, &(int){1}, 4), EOPNOTSUPP, "unix TCP_NODELAY EOPNOTSUPP");
    CHECK(shutdown(s, SHUT_RD) == 0, "shutdown unconnected unix socket succeeds");
    {
        struct timeval tv = {1, 2000000};
        CHECK_ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM, "SO_RCVTIMEO usec out of range EDOM");
        tv.tv_usec = 250000;
        struct timeval back; socklen_t bl = sizeof back;
        CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0
              && getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && back.tv_sec == 1
              && bl == sizeof back, "SO_RCVTIMEO round trip");
        struct linger lg = {1, 5}, lb; bl = sizeof lb;
        CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0
              && getsockopt(s, SOL_SOCKET, SO_LINGER, &lb, &bl) == 0 && lb.l_onoff && lb.l_linger == 5,
              "SO_LINGER round trip");
        int v; socklen_t vl = 2;
        CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && vl == 2, "getsockopt short len truncates");
    }
    close(s);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    CHECK_ERR(syscall(SYS_recvfrom, sv[0], (void *)8, 4, MSG_DONTWAIT, NULL, NULL), EAGAIN,
              "recv empty into bad buffer: EAGAIN first");
    send(sv[1], "abc", 3, 0);
    CHECK_ERR(syscall(SYS_recvfrom, sv[0], (void *)8, 4, 0, NULL, NULL), EFAULT, "recv into bad buffer EFAULT");
    CHECK_ERR(syscall(SYS_sendto, sv[0], (void *)8, 4, 0, NULL, 0), EFAULT, "send from bad buffer EFAULT");
    {
        struct msghdr m = {0};
        struct iovec iov = {buf, 1};
        m.msg_iov = &iov; m.msg_iovlen = 1025;
        CHECK_ERR(syscall(SYS_sendmsg, sv[0], &m, 0), EMSGSIZE, "sendmsg iovlen > UIO_MAXIOV EMSGSIZE");
        m.msg_iovlen = 1; m.msg_iov = (void *)8;
        CHECK_ERR(syscall(SYS_sendmsg, sv[0], &m, 0), EFAULT, "sendmsg bad iov EFAULT");
        CHECK_ERR(syscall(SYS_sendmsg, sv[0], (void *)8, 0), EFAULT, "sendmsg bad msghdr EFAULT");
        CHECK_ERR(syscall(SYS_recvmsg, sv[0], (void *)8, 0), EFAULT, "recvmsg bad msghdr EFAULT");
        m.msg_iov = &iov; m.msg_name = &a; m.msg_namelen = -1;
        CHECK_ERR(syscall(SYS_sendmsg, sv[0], &m, 0), EINVAL, "sendmsg negative namelen EINVAL");
        CHECK_ERR(syscall(SYS_sendmmsg, 999, &m, 1, 0), EBADF, "sendmmsg bad fd EBADF");
        struct timespec ts = {0, -1};
        CHECK_ERR(syscall(SYS_recvmmsg, sv[0], &m, 1, 0, &ts), EINVAL, "recvmmsg bad timeout EINVAL");
    }
    close(sv[0]);
    /* EPIPE raises SIGPIPE without MSG_NOSIGNAL: done last, it kills us */
    CHECK_ERR(send(sv[1], "x", 1, MSG_NOSIGNAL), ECONNREFUSED, "dgram send to closed peer ECONNREFUSED");
    int st[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, st);
    close(st[0]);
    CHECK_ERR(send(st[1], "x", 1, MSG_NOSIGNAL), EPIPE, "stream send closed peer EPIPE");
    /* Without MSG_NOSIGNAL the EPIPE comes with SIGPIPE, whose default action
     * kills: do it in a child and check how the child ended. */
    pid_t child = fork();
    if (child == 0) {
        send(st[1], "x", 1, 0);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
          "stream send closed peer without MSG_NOSIGNAL: killed by SIGPIPE");
    signal(SIGPIPE, SIG_IGN);
    CHECK_ERR(send(st[1], "x", 1, 0), EPIPE, "with SIGPIPE ignored: EPIPE");
    DONE();
}
