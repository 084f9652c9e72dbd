/* eventfd2: counter semantics, EFD_SEMAPHORE, EFD_NONBLOCK, overflow, poll. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    uint64_t v;
    int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0, "eventfd(3, NONBLOCK|CLOEXEC)");
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0, "EFD_NONBLOCK sets O_NONBLOCK");
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "EFD_CLOEXEC sets close-on-exec");
    v = 4;
    CHECK(write(fd, &v, 8) == 8, "write 4");
    CHECK(read(fd, &v, 8) == 8 && v == 7, "read gives the sum 7 and resets");
    CHECK_ERR(read(fd, &v, 8), EAGAIN, "empty nonblocking read is EAGAIN");
    CHECK_ERR(read(fd, &v, 4), EINVAL, "short read buffer is EINVAL");
    CHECK_ERR(write(fd, &v, 4), EINVAL, "short write is EINVAL");
    v = UINT64_MAX;
    CHECK_ERR(write(fd, &v, 8), EINVAL, "writing 2^64-1 is EINVAL");
    v = UINT64_MAX - 1;
    CHECK(write(fd, &v, 8) == 8, "write the maximum");
    v = 1;
    CHECK_ERR(write(fd, &v, 8), EAGAIN, "overflowing nonblocking write is EAGAIN");
    CHECK(read(fd, &v, 8) == 8 && v == UINT64_MAX - 1, "read the maximum back");
    close(fd);

    int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    CHECK(s >= 0, "eventfd semaphore");
    CHECK(read(s, &v, 8) == 8 && v == 1, "semaphore read 1");
    CHECK(read(s, &v, 8) == 8 && v == 1, "semaphore read 1 again");
    CHECK_ERR(read(s, &v, 8), EAGAIN, "semaphore exhausted");

    struct pollfd pfd = {s, POLLIN | POLLOUT, 0};
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLOUT, "poll: writable, not readable");
    v = 5;
    CHECK(write(s, &v, 8) == 8, "write 5");
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == (POLLIN | POLLOUT), "poll: readable");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 99}, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "epoll on eventfd");
    CHECK(epoll_wait(ep, &out, 1, 0) == 1 && out.data.u64 == 99, "epoll sees eventfd readable");
    CHECK_ERR(eventfd(0, 0x7), EINVAL, "bad flags are EINVAL");
    int b = eventfd(0, 0);
    CHECK(b >= 0 && (fcntl(b, F_GETFL) & O_NONBLOCK) == 0, "blocking eventfd");
    CHECK((fcntl(b, F_GETFD) & FD_CLOEXEC) == 0, "no CLOEXEC unless asked");
    DONE();
}
