/* qemu-differs: qemu-user aborts on some garbage IPC arguments (msgsnd above MSGMAX) */
/* Garbage arguments to every SysV IPC syscall (fixed PRNG seed): the emulator
 * must answer each with a result or an errno, never an internal error.  Only
 * the program's own objects (and ids no object can have) are used, so that a
 * native run does not touch other processes' objects; every object made is
 * removed at the end.  Output: one line once all calls were made. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t seed = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; }

static char buf[16384] __attribute__((aligned(4096)));
static long ids[3][3000];    /* every object made, removed at the end */
static int nids[3];

static long ptr(void) {
    switch (rnd() % 6) {
    case 0: return 0;
    case 1: return 8;
    case 2: return (long)buf;
    case 3: return (long)(buf + rnd() % 12000);
    case 4: return -4096;
    default: return (long)rnd();
    }
}

static long num(void) {
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return -1;
    case 2: return rnd() % 40;
    case 3: return 0x7fffffff;
    case 4: return (long)rnd();
    case 5: return rnd() % 20000;
    case 6: return 1L << (rnd() % 63);
    default: return rnd() % 5;
    }
}

/* Flags without SHM_REMAP (a native run must not map over its own memory). */
static long flags(void) { return (long)(rnd() & 0xffffffffL & ~040000L); }

static long id_of(int kind) {
    switch (rnd() % 4) {
    case 0: return -1;
    case 1: return 0x7fffffff;
    default: return nids[kind] ? ids[kind][rnd() % nids[kind]] : -5;
    }
}

/* Commands, without IPC_RMID/IPC_SET on anything but our own ids (id_of gives only those). */
static long cmd(void) { return rnd() % 4 ? (long)(rnd() % 22) : num(); }

static void keep(int kind, long r) {
    if (r >= 0 && nids[kind] < 3000) ids[kind][nids[kind]++] = r;
}

int main(int argc, char **argv) {
    if (argc > 1) seed = strtoull(argv[1], NULL, 0) | 1;    /* another seed, by hand */
    signal(SIGSEGV, SIG_IGN);    /* never wanted: a bad pointer must be EFAULT */
    key_t key = 0x5c000000 | (getpid() & 0xffffff);
    int calls = 0;
    for (int i = 0; i < 3000; i++, calls++) {
        long k = rnd() % 3 ? IPC_PRIVATE : key + (long)(rnd() % 4);
        switch (rnd() % 11) {
        case 0: keep(0, syscall(SYS_shmget, k, num() % 100000, (rnd() % 4 ? 01000 : 0) | 0600 | (rnd() & 06000))); break;
        case 1: {
            long a = syscall(SYS_shmat, id_of(0), rnd() % 3 ? 0 : ptr(), flags() & (010000 | 020000 | 0100000));
            if (a != -1 && rnd() % 2) syscall(SYS_shmdt, a);
            break;
        }
        case 2: syscall(SYS_shmdt, ptr()); break;
        case 3: syscall(SYS_shmctl, id_of(0), cmd(), ptr()); break;
        case 4: keep(1, syscall(SYS_semget, k, num() % 40, (rnd() % 4 ? 01000 : 0) | 0600 | (rnd() & 06000))); break;
        case 5: {
            struct { unsigned short n; short op, flg; } ops[4];
            for (int j = 0; j < 4; j++) { ops[j].n = rnd() % 6; ops[j].op = (short)(rnd() % 5) - 2; ops[j].flg = 04000 | (rnd() % 2 ? 010000 : 0); }
            struct timespec ts = {0, (long)(rnd() % 1000)};
            /* operations from `ops` (all IPC_NOWAIT: nothing blocks) or an unmapped pointer */
            long o = rnd() % 3 ? (long)ops : (long[]){0, 8, -4096}[rnd() % 3];
            if (rnd() % 2) syscall(SYS_semop, id_of(1), o, rnd() % 5);
            else syscall(SYS_semtimedop, id_of(1), o, rnd() % 5, rnd() % 2 ? (long)&ts : ptr());
            break;
        }
        case 6: syscall(SYS_semctl, id_of(1), num(), cmd(), rnd() % 2 ? ptr() : num()); break;
        case 7: keep(2, syscall(SYS_msgget, k, (rnd() % 4 ? 01000 : 0) | 0600 | (rnd() & 06000))); break;
        case 8: *(long *)buf = 1 + rnd() % 5;
                syscall(SYS_msgsnd, id_of(2), rnd() % 3 ? (long)buf : ptr(), num() % 9000, 04000 | flags() % 2); break;
        case 9: syscall(SYS_msgrcv, id_of(2), rnd() % 3 ? (long)buf : ptr(), num(), num(), 04000 | (flags() & 070000)); break;
        default: syscall(SYS_msgctl, id_of(2), cmd(), ptr()); break;
        }
    }
    for (int j = 0; j < nids[0]; j++) syscall(SYS_shmctl, ids[0][j], 0, 0);
    for (int j = 0; j < nids[1]; j++) syscall(SYS_semctl, ids[1][j], 0, 0, 0);
    for (int j = 0; j < nids[2]; j++) syscall(SYS_msgctl, ids[2][j], 0, 0);
    CHECK(calls == 3000, "3000 garbage IPC calls answered");
    DONE();
}
