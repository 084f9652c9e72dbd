/* qemu-differs: qemu-user does not implement process_vm_readv/process_vm_writev (ENOSYS) */
/* process_vm_readv / process_vm_writev: on our own process (several iovecs on
 * both sides, partial transfer at an unmapped page, EFAULT, EINVAL, ESRCH),
 * and on a forked child, where the host may refuse (EPERM: no ptrace rights,
 * as on macOS) but must never move wrong bytes. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char src[32] = "abcdefghijklmnopqrstuvwxyz";

int main(void) {
    pid_t me = getpid();
    char a[5], b[10];
    struct iovec l[2] = { { a, 5 }, { b, 10 } };
    struct iovec r[2] = { { src, 3 }, { src + 10, 12 } };
    CHECK(process_vm_readv(me, l, 2, r, 2, 0) == 15, "readv self: 15 bytes over 2+2 iovecs");
    CHECK(memcmp(a, "abckl", 5) == 0 && memcmp(b, "mnopqrstuv", 10) == 0, "readv self: the right bytes");
    struct iovec w = { "XYZ", 3 }, rw = { src + 1, 3 };
    CHECK(process_vm_writev(me, &w, 1, &rw, 1, 0) == 3 && memcmp(src, "aXYZe", 5) == 0, "writev self");

    /* partial: the remote range runs into an unmapped page */
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 'q', pg);
    munmap(m + pg, pg);
    char *big = malloc(2 * pg);
    struct iovec lb = { big, 2 * pg }, rb = { m + pg - 100, 200 };
    CHECK(process_vm_readv(me, &lb, 1, &rb, 1, 0) == 100, "readv self stops at the unmapped page: partial");
    struct iovec rbad = { m + pg, 10 };
    CHECK_ERR(process_vm_readv(me, &lb, 1, &rbad, 1, 0), EFAULT, "readv of an unmapped page: EFAULT");
    mprotect(m, pg, PROT_READ);
    struct iovec rro = { m, 10 };
    CHECK_ERR(process_vm_writev(me, &lb, 1, &rro, 1, 0), EFAULT, "writev into a read-only page: EFAULT");
    struct iovec lbad = { (void *)8, 10 };
    CHECK_ERR(process_vm_readv(me, &lbad, 1, r, 1, 0), EFAULT, "bad local buffer: EFAULT");

    /* argument checks */
    CHECK_ERR(process_vm_readv(me, l, 2, r, 2, 1), EINVAL, "flags: EINVAL");
    CHECK_ERR(process_vm_readv(me, l, 1025, r, 2, 0), EINVAL, "more than 1024 local iovecs: EINVAL");
    CHECK_ERR(process_vm_readv(me, (struct iovec *)8, 1, r, 1, 0), EFAULT, "bad local iovec array: EFAULT");
    struct iovec none = { a, 0 };
    CHECK(process_vm_readv(me, &none, 1, (struct iovec *)8, 1, 0) == 0, "nothing to move: 0 before the remote array");
    CHECK_ERR(process_vm_readv(me, l, 2, (struct iovec *)8, 1, 0), EFAULT, "bad remote iovec array: EFAULT");
    pid_t gone = fork();
    if (gone == 0) _exit(0);
    waitpid(gone, NULL, 0);
    CHECK_ERR(process_vm_readv(gone, l, 2, r, 2, 0), ESRCH, "a reaped pid: ESRCH");

    /* a forked child */
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        memcpy(src, "child-data", 10);
        write(p[1], "x", 1);
        pause();
        _exit(0);
    }
    char x;
    read(p[0], &x, 1);
    char got[10];
    struct iovec lg = { got, 10 }, rg = { src, 10 };
    errno = 0;
    long n = process_vm_readv(c, &lg, 1, &rg, 1, 0);
    CHECK((n == 10 && memcmp(got, "child-data", 10) == 0) || (n == -1 && errno == EPERM),
          "readv of a forked child: its bytes, or EPERM where the host refuses");
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    DONE();
}
