/* poll/ppoll/select readiness on sockets, pipes and files: POLLIN, POLLOUT,
 * POLLHUP, POLLNVAL, timeouts, and the error cases. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

int main(void) {
    int sv[2], p[2];
    char buf[16];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    struct pollfd f[4] = {{sv[0], POLLIN | POLLOUT, 0}, {sv[1], POLLIN, 0}, {p[0], POLLIN, 0}, {-1, POLLIN, 77}};
    CHECK(poll(f, 4, 0) == 1 && f[0].revents == POLLOUT && f[1].revents == 0 && f[3].revents == 0,
          "poll: idle socket writable only");
    write(sv[0], "x", 1);
    write(p[1], "y", 1);
    CHECK(poll(f, 4, 100) == 3 && (f[1].revents & POLLIN) && (f[2].revents & POLLIN), "poll: readable");
    read(sv[1], buf, 1); read(p[0], buf, 1);
    close(sv[0]);
    f[1].events = POLLIN;
    CHECK(poll(&f[1], 1, 100) == 1 && (f[1].revents & POLLHUP), "poll: POLLHUP after peer close");
    close(p[1]);
    CHECK(poll(&f[2], 1, 100) == 1 && (f[2].revents & POLLHUP), "poll: pipe POLLHUP");
    struct pollfd bad = {999, POLLIN, 0};
    CHECK(poll(&bad, 1, 0) == 1 && bad.revents == POLLNVAL, "poll: POLLNVAL for closed fd");
    int fd = open("/proc/self/exe", O_RDONLY);
    struct pollfd ff = {fd, POLLIN | POLLOUT, 0};
    CHECK(poll(&ff, 1, 0) == 1 && (ff.revents & POLLIN), "poll: regular file readable");
    close(fd);
    struct timespec ts = {0, 20 * 1000 * 1000};
    struct pollfd w = {sv[1], POLLIN, 0};
    int s2[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, s2);
    w.fd = s2[0];
    CHECK(ppoll(&w, 1, &ts, NULL) == 0, "ppoll: timeout returns 0");
    ts.tv_nsec = 2000000000L;
    CHECK_ERR(ppoll(&w, 1, &ts, NULL), EINVAL, "ppoll: bad timespec EINVAL");
    CHECK_ERR(poll((struct pollfd *)8, 1, 0), EFAULT, "poll: bad pointer EFAULT");
    sigset_t ss; sigemptyset(&ss);
    ts.tv_nsec = 0;
    CHECK(ppoll(&w, 1, &ts, &ss) == 0, "ppoll with sigmask");
    fd_set r, wr;
    FD_ZERO(&r); FD_ZERO(&wr);
    FD_SET(s2[0], &r); FD_SET(s2[0], &wr);
    struct timeval tv = {0, 0};
    CHECK(select(s2[0] + 1, &r, &wr, NULL, &tv) == 1 && !FD_ISSET(s2[0], &r) && FD_ISSET(s2[0], &wr),
          "select: writable not readable");
    send(s2[1], "d", 1, 0);
    FD_ZERO(&r); FD_SET(s2[0], &r);
    tv.tv_usec = 100000;
    CHECK(select(s2[0] + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(s2[0], &r), "select: readable");
    FD_ZERO(&r); FD_SET(60, &r);
    tv.tv_usec = 0;
    CHECK_ERR(select(61, &r, NULL, NULL, &tv), EBADF, "select: closed fd EBADF");
    CHECK_ERR(select(-1, NULL, NULL, NULL, &tv), EINVAL, "select: negative n EINVAL");
    DONE();
}
