/* clone3: the size and argument checks of kernel/fork.c, a fork-like child
 * (exit signal, parent/child tid writes, CLONE_PIDFD), a child on its own
 * stack, set_tid refused without privilege, and a thread (CLONE_VM|CLONE_THREAD...). */
#include "guest_test.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
/* qemu-differs: qemu-user has no clone3 (ENOSYS) */

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
struct clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
             set_tid_size, cgroup;
};
#define CLONE_PIDFD 0x1000
#define CLONE_PARENT_SETTID 0x100000
#define CLONE_CHILD_SETTID 0x1000000

static long c3(struct clone_args *a, size_t size) { return syscall(SYS_clone3, a, size); }

int main(void) {
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    CHECK_ERR(c3(&a, 32), EINVAL, "clone3 with a size below VER0 is EINVAL");
    CHECK_ERR(c3(&a, 8192), E2BIG, "clone3 with a size past a page is E2BIG");
    unsigned char big[128] = {0};
    memcpy(big, &a, sizeof a);
    big[100] = 1;
    CHECK_ERR(syscall(SYS_clone3, big, sizeof big), E2BIG, "clone3 with a non-zero unknown tail is E2BIG");
    CHECK_ERR(c3((void *)8, sizeof a), EFAULT, "clone3 with a bad struct is EFAULT");
    a.exit_signal = 0x100;
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 with an exit signal past CSIGNAL is EINVAL");
    a.exit_signal = SIGCHLD; a.flags = SIGCHLD;
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 with CSIGNAL bits in flags is EINVAL");
    a.flags = 0; a.stack = 0; a.stack_size = 4096;
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 with a stack size but no stack is EINVAL");
    a.stack_size = 0;
    a.flags = 0x10000 | 0x800 | 0x100;        /* CLONE_THREAD|CLONE_SIGHAND|CLONE_VM with an exit signal */
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 of a thread with an exit signal is EINVAL");
    a.flags = 0;
    pid_t want = 1000;
    a.set_tid = (uintptr_t)&want; a.set_tid_size = 0;
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 with set_tid but no size is EINVAL");
    a.set_tid_size = 33;
    CHECK_ERR(c3(&a, sizeof a), EINVAL, "clone3 with set_tid_size past 32 levels is EINVAL");
    a.set_tid = 0; a.set_tid_size = 0;

    /* a fork-like child with tids and a pidfd */
    int pidfd = -1;
    pid_t ptid = 0, ctid = 0;
    a.flags = CLONE_PIDFD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID;
    a.pidfd = (uintptr_t)&pidfd; a.parent_tid = (uintptr_t)&ptid; a.child_tid = (uintptr_t)&ctid;
    long pid = c3(&a, sizeof a);
    if (pid == 0) {
        _exit(ctid == getpid() ? 7 : 8);
    }
    CHECK(pid > 0, "clone3 makes a child");
    CHECK(ptid == pid, "CLONE_PARENT_SETTID wrote the child's pid");
    CHECK(pidfd >= 0 && (fcntl(pidfd, F_GETFD) & FD_CLOEXEC), "CLONE_PIDFD gave a close-on-exec pidfd");
    struct pollfd pf = { pidfd, POLLIN, 0 };
    CHECK(poll(&pf, 1, 5000) == 1, "the pidfd becomes readable when the child exits");
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7,
          "the child saw CLONE_CHILD_SETTID and exited 7 (SIGCHLD, waitable)");
    close(pidfd);

    /* a stack argument: checked as an address range only (the child would run on it) */
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD; a.stack = 0xfffffffffffff000ULL; a.stack_size = 0x2000;
    CHECK_ERR(c3(&a, 64), EINVAL, "clone3 with a stack outside user space is EINVAL");

    /* set_tid: a valid pid number needs CAP_CHECKPOINT_RESTORE (EPERM) or exists (EEXIST) */
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    want = getpid();
    a.set_tid = (uintptr_t)&want; a.set_tid_size = 1;
    pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        errno = 0;
        long r = c3(&a, sizeof a);
        if (r == 0) _exit(0);
        _exit(r == -1 && errno == EPERM ? 0 : 2);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "clone3 with set_tid unprivileged is EPERM");
    DONE();
}
