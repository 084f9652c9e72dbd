/* The --strace flag printers against the real strace (tests/test_strace.py):
 * calls with flags of 0 and with flags set, built natively (x86_64) and for the guest. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/ioctl.h>
#include <time.h>
int main(void) {
  int p[2]; pipe2(p, 0);
  dup3(p[0], 30, 0);
  eventfd(0, 0);
  epoll_create1(0); epoll_create1(EPOLL_CLOEXEC);
  inotify_init1(0); inotify_init1(IN_NONBLOCK|IN_CLOEXEC);
  memfd_create("x", 0); memfd_create("y", MFD_CLOEXEC|MFD_ALLOW_SEALING);
  sigset_t s; sigemptyset(&s); sigaddset(&s, SIGUSR1);
  signalfd(-1, &s, 0); signalfd(-1, &s, SFD_CLOEXEC|SFD_NONBLOCK);
  timerfd_create(CLOCK_MONOTONIC, 0); timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC|TFD_NONBLOCK);
  int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  socketpair(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0, sv);
  accept4(sv[0], 0, 0, 0); accept4(sv[0], 0, 0, SOCK_NONBLOCK|SOCK_CLOEXEC);
  fcntl(p[0], F_SETFL, 0); fcntl(p[0], F_SETFL, O_NONBLOCK); fcntl(p[0], F_GETFL); fcntl(p[0], F_GETFD);
  fcntl(p[0], F_SETFD, 0); fcntl(p[0], F_DUPFD_CLOEXEC, 50);
  mmap(0, 4096, PROT_NONE, MAP_SHARED|MAP_ANONYMOUS, -1, 0);
  send(sv[0], "a", 1, 0); send(sv[0], "a", 1, MSG_DONTWAIT|MSG_NOSIGNAL);
  char b[4]; recv(sv[1], b, 4, 0);
  shutdown(sv[0], SHUT_WR);
  int n = 0; ioctl(0, TIOCGPGRP, &n); ioctl(0, TIOCSCTTY, 0);
  madvise(0, 0, MADV_DONTNEED);
  return 0;
}
