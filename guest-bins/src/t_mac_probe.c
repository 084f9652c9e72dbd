/* One pass over the facilities a program on a Mac host leans on, together:
 * epoll, eventfd, timerfd, signalfd, inotify, memfd, SEQPACKET, abstract
 * names, SO_PEERCRED, /proc, threads and fork.  Prints "ALL OK" at the end
 * when every check passed (run natively, under elfuse-py, and under the
 * macOS host model by tests/test_guest_suite.py). */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *bump(void *arg) {
    int efd = *(int *)arg;
    uint64_t one = 1;
    write(efd, &one, 8);
    return NULL;
}

int main(void) {
    /* epoll over an eventfd written by a second thread */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0, "epoll_create1");
    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK(efd >= 0, "eventfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ULL};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "epoll_ctl ADD eventfd");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, bump, &efd) == 0, "a second thread");
    struct epoll_event got = {0};
    CHECK(epoll_wait(ep, &got, 1, 5000) == 1 && got.data.u64 == 0x1122334455667788ULL,
          "epoll_wait sees the thread's eventfd write, data intact");
    pthread_join(th, NULL);
    uint64_t v = 0;
    CHECK(read(efd, &v, 8) == 8 && v == 1, "eventfd count 1");

    /* timerfd: 20 ms one-shot */
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(tfd >= 0, "timerfd_create");
    struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
    CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0, "timerfd_settime");
    struct pollfd pfd = {tfd, POLLIN, 0};
    CHECK(poll(&pfd, 1, 5000) == 1, "timerfd becomes readable");
    CHECK(read(tfd, &v, 8) == 8 && v == 1, "one expiration");

    /* signalfd for a blocked SIGUSR1 */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "block SIGUSR1");
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    CHECK(sfd >= 0, "signalfd");
    CHECK(kill(getpid(), SIGUSR1) == 0, "send SIGUSR1 to self");
    struct signalfd_siginfo si;
    CHECK(read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1, "signalfd reads SIGUSR1");

    /* inotify on a fresh directory */
    char dir[] = "probe-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    int in = inotify_init1(IN_CLOEXEC);
    CHECK(in >= 0, "inotify_init1");
    CHECK(inotify_add_watch(in, dir, IN_CREATE) >= 0, "inotify_add_watch");
    char path[64];
    snprintf(path, sizeof path, "%s/new", dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    pfd = (struct pollfd){in, POLLIN, 0};
    char ibuf[256];
    CHECK(poll(&pfd, 1, 5000) == 1 && read(in, ibuf, sizeof ibuf) > 0
          && (((struct inotify_event *)ibuf)->mask & IN_CREATE)
          && !strcmp(((struct inotify_event *)ibuf)->name, "new"), "inotify IN_CREATE with the name");
    unlink(path);
    rmdir(dir);

    /* memfd shared with a forked child */
    int mfd = memfd_create("probe", MFD_CLOEXEC);
    CHECK(mfd >= 0 && ftruncate(mfd, 4096) == 0, "memfd_create + ftruncate");
    char *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    CHECK(shm != MAP_FAILED, "mmap the memfd shared");

    /* SEQPACKET pair: boundaries and credentials */
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0, "SEQPACKET socketpair");
    pid_t kid = fork();
    if (kid == 0) {
        strcpy(shm, "from the child");
        send(sp[1], "ab", 2, 0);
        send(sp[1], "cde", 3, 0);
        _exit(0);
    }
    char buf[16];
    CHECK(recv(sp[0], buf, sizeof buf, 0) == 2 && recv(sp[0], buf, sizeof buf, 0) == 3,
          "SEQPACKET keeps message boundaries across fork");
    int st = -1;
    CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exits 0");
    CHECK(!strcmp(shm, "from the child"), "the child's store reached the shared memfd mapping");

    /* abstract listening socket, SO_PEERCRED */
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "elfuse-probe-%d", getpid());
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    CHECK(bind(srv, (struct sockaddr *)&a, alen) == 0 && listen(srv, 1) == 0, "bind + listen an abstract name");
    int cli = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(connect(cli, (struct sockaddr *)&a, alen) == 0, "connect to the abstract name");
    int acc = accept(srv, NULL, NULL);
    struct ucred cr;
    socklen_t crl = sizeof cr;
    CHECK(acc >= 0 && getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0 && cr.pid == getpid()
          && cr.uid == getuid(), "SO_PEERCRED names this process");

    /* /proc */
    char link[256] = {0};
    CHECK(readlink("/proc/self/exe", link, sizeof link - 1) > 0 && strstr(link, "probe"),
          "/proc/self/exe is the program");
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int saw_pid = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Pid:", 4) && atoi(line + 4) == getpid())
            saw_pid = 1;
    if (f) fclose(f);
    CHECK(saw_pid, "/proc/self/status shows our pid");

    if (guest_failures == 0)
        printf("ALL OK\n");
    DONE();
}
