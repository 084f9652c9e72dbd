/* qemu-differs: qemu-user itself crashes (SIGSEGV) on some of these garbage arguments */
/* Garbage arguments to every socket syscall (fixed PRNG seed): the emulator must
 * answer each with a result or an errno, never an internal error. Output is one
 * line: the checks only assert that the program got to the end. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; }

static char buf[4096];

static long arg(int s) {
    switch (rnd() % 10) {
    case 0: return 0;
    case 1: return -1;
    case 2: return s;
    case 3: return (long)buf;
    case 4: return (long)(buf + (rnd() % 4000));
    case 5: return rnd() % 300;
    case 6: return 8;
    case 7: return (long)rnd();
    case 8: return 0x7fffffff;
    default: return rnd() % 40;
    }
}

int main(void) {
    static const long nrs[] = {SYS_socket, SYS_socketpair, SYS_bind, SYS_listen, SYS_accept, SYS_accept4,
                               SYS_connect, SYS_getsockname, SYS_getpeername, SYS_sendto, SYS_recvfrom,
                               SYS_setsockopt, SYS_getsockopt, SYS_shutdown, SYS_sendmsg, SYS_recvmsg,
                               SYS_sendmmsg, SYS_recvmmsg, SYS_ppoll, SYS_pselect6};
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 0; i < 6000; i++) {
        for (unsigned k = 0; k < sizeof buf / 8; k += 1 + rnd() % 64) ((uint64_t *)buf)[k] = rnd() % 3 ? rnd() % 256 : rnd();
        int fd = (i & 1) ? s : sv[i & 2 ? 0 : 1];
        long nr = nrs[rnd() % (sizeof nrs / sizeof *nrs)];
        long flags = rnd() % 3 ? MSG_DONTWAIT : (long)(rnd() | MSG_DONTWAIT);
        long a[6] = {fd, arg(fd), arg(fd), arg(fd), arg(fd), arg(fd)};
        if (nr == SYS_recvfrom || nr == SYS_sendto || nr == SYS_sendmsg || nr == SYS_recvmsg) a[nr == SYS_sendmsg || nr == SYS_recvmsg ? 2 : 3] = flags;
        if (nr == SYS_recvmmsg || nr == SYS_sendmmsg) a[3] = flags;
        if (nr == SYS_ppoll || nr == SYS_pselect6) { a[2] = 0; a[3] = (long)&(struct { long s, n; }){0, 0}; if (nr == SYS_ppoll) a[2] = (long)a[3]; else a[4] = a[3]; a[5] = 0; }
        if (nr == SYS_accept || nr == SYS_accept4) continue;  /* would block or hang on garbage fds */
        if (nr == SYS_shutdown && a[1] >= 0 && a[1] <= 2) continue;
        if (nr == SYS_socket || nr == SYS_socketpair) { long r = syscall(nr, a[1], a[2] | SOCK_NONBLOCK, a[3], a[4]); if (r > 2 && r != s && r != sv[0] && r != sv[1]) close(r); continue; }
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        for (int f = 3; f < 64; f++) if (f != s && f != sv[0] && f != sv[1] && f != 1 && f != 2) close(f);
    }
    CHECK(1, "6000 garbage socket calls answered");
    DONE();
}
