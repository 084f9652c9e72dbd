/* TLB flushes the emulator skips, and translated code it keeps track of.
 * elfuse-py flushes unicorn's TLB on munmap/mprotect/mremap only when a page
 * of the affected mapping was used since the last flush, and tells unicorn
 * which ranges hold code (so translating needs no TLB walk).  These checks
 * pin the Linux behaviour those shortcuts must keep: a page that goes away or
 * loses a permission faults at once, whether or not it was touched, and code
 * rewritten in place -- after the page was written as data, made executable,
 * replaced by a new mapping -- is what runs. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096

/* Whether an access faults, tried in this process (a child would start from
 * another TLB state): SIGSEGV jumps back here. */
static sigjmp_buf back;
static void on_segv(int sig) { (void)sig; siglongjmp(back, 1); }

static int faults(void (*fn)(volatile char *), volatile char *p) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, &old);
    int hit = 1;
    if (sigsetjmp(back, 1) == 0) {
        fn(p);
        hit = 0;
    }
    sigaction(SIGSEGV, &old, 0);
    return hit;
}

static void write_page(volatile char *p) { p[8] = 1; }
static void read_page(volatile char *p) { if (p[8] == 123) _exit(3); }

static const uint32_t RET = 0xd65f03c0;                                     /* ret */
static uint32_t mov_x0(int v) { return 0xd2800000u | ((uint32_t)v << 5); }  /* mov x0, #v */

static long call(volatile char *p) { return ((long (*)(void))(uintptr_t)p)(); }

static void put_code(volatile char *p, int v) {
    uint32_t code[2] = {mov_x0(v), RET};
    memcpy((void *)p, code, sizeof code);
    __builtin___clear_cache((char *)p, (char *)p + sizeof code);
}

static void *map(size_t n, int prot) {
    return mmap(0, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(void) {
    /* Untouched mappings: no TLB entry, yet they must fault once gone. */
    volatile char *a = map(2 * PG, PROT_READ | PROT_WRITE);
    CHECK(a != MAP_FAILED, "mmap, never touched");
    CHECK(munmap((void *)a, 2 * PG) == 0, "munmap it untouched");
    CHECK(faults(read_page, a), "load from the untouched, unmapped page is SIGSEGV");
    a = map(2 * PG, PROT_READ | PROT_WRITE);
    CHECK(mprotect((void *)a, PG, PROT_READ) == 0, "mprotect an untouched page read-only");
    CHECK(faults(write_page, a), "store to it is SIGSEGV");
    CHECK(!faults(read_page, a), "load from it is not");

    /* One page of a mapping used, the other not: the split halves both fault. */
    volatile char *b = map(2 * PG, PROT_READ | PROT_WRITE);
    b[0] = 7;
    CHECK(!faults(read_page, b), "the used half reads");
    CHECK(mprotect((void *)(b + PG), PG, PROT_NONE) == 0, "PROT_NONE on the unused half");
    CHECK(faults(read_page, b + PG), "the unused half faults");
    CHECK(munmap((void *)b, PG) == 0, "munmap the used half");
    CHECK(faults(read_page, b), "the used half faults once unmapped");

    /* The used page is the tail a split makes; then one merged into a neighbour. */
    volatile char *t = map(2 * PG, PROT_READ | PROT_WRITE);
    t[PG + 8] = 5;
    CHECK(!faults(read_page, t + PG), "the tail page reads");
    CHECK(mprotect((void *)(t + PG), PG, PROT_NONE) == 0, "PROT_NONE on the used tail");
    CHECK(faults(read_page, t + PG), "the used tail faults");
    volatile char *u = map(2 * PG, PROT_READ | PROT_WRITE);
    CHECK(munmap((void *)(u + PG), PG) == 0, "a hole after a page");
    u[8] = 3;
    CHECK(!faults(read_page, u), "the page before the hole reads");
    CHECK(mmap((void *)(u + PG), PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
          == (void *)(u + PG), "an unused page fills the hole (one mapping again)");
    CHECK(mprotect((void *)u, 2 * PG, PROT_READ) == 0, "both read-only");
    CHECK(faults(write_page, u), "a store to the used page faults");

    /* A used mapping moved by mremap: the old address faults, the new one reads. */
    volatile char *m = map(PG, PROT_READ | PROT_WRITE);
    m[8] = 9;
    CHECK(!faults(read_page, m), "a used page reads");
    volatile char *hole = map(64 * PG, PROT_NONE);
    volatile char *moved = mremap((void *)m, PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)hole);
    CHECK(moved == hole, "mremap to a fixed place");
    CHECK(moved[8] == 9, "contents moved");
    CHECK(faults(read_page, m), "the old place faults");

    /* Data page written (stores on the fast path), then made executable. */
    volatile char *c = map(PG, PROT_READ | PROT_WRITE);
    for (int i = 0; i < PG; i++) c[i] = 0;
    CHECK(mprotect((void *)c, PG, PROT_READ | PROT_WRITE | PROT_EXEC) == 0, "RW -> RWX");
    put_code(c, 11);
    CHECK(call(c) == 11, "code written as data runs");
    long sum = 0;
    for (int i = 0; i < 1000; i++) sum += call(c);
    CHECK(sum == 11000, "and runs hot");
    put_code(c, 12);
    CHECK(call(c) == 12, "rewritten in place, the new code runs");
    put_code(c + 64, 13);
    CHECK(call(c + 64) == 13 && call(c) == 12, "code next to it on the same page too");

    /* W^X as JITs do it: RW, write, RX, run; again. */
    volatile char *j = map(PG, PROT_READ | PROT_WRITE);
    for (int v = 20; v < 24; v++) {
        CHECK(mprotect((void *)j, PG, PROT_READ | PROT_WRITE) == 0, "W^X: writable");
        put_code(j, v);
        CHECK(mprotect((void *)j, PG, PROT_READ | PROT_EXEC) == 0, "W^X: executable");
        CHECK(call(j) == v, "W^X: the code just written runs");
    }

    /* Code unmapped, a new mapping in its place: new data, then new code. */
    void *at = (void *)c;
    CHECK(munmap(at, PG) == 0, "munmap the code page");
    volatile char *d = mmap(at, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(d == (volatile char *)at, "a data page where the code was");
    CHECK(d[0] == 0 && d[64] == 0, "it reads as zeros");
    for (int i = 0; i < PG; i++) d[i] = (char)i;
    CHECK(d[100] == 100, "stores to it land");
    CHECK(munmap(at, PG) == 0, "munmap the data page");
    volatile char *e = mmap(at, PG, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(e == (volatile char *)at, "an RWX page there again");
    put_code(e, 31);
    CHECK(call(e) == 31, "the new code runs, not the old translation");
    /* Two arrays 16 MiB apart walked side by side: in a direct-mapped TLB of
     * up to 4096 entries their pages share entries and evict each other on
     * every access.  The emulator then enlarges the TLB with spare entries
     * above its 1 TiB guest window.  The data must be right, and those
     * addresses must still fault. */
    size_t half = 16u << 20, npages = 2000;
    unsigned char *r = map(2 * half, PROT_READ | PROT_WRITE);
    CHECK(r != MAP_FAILED, "mmap 32 MiB");
    for (int round = 0; round < 60; round++)
        for (size_t pg = 0; pg < npages; pg++) {
            r[pg * PG + round % 64] += 1;
            r[half + pg * PG + round % 64] += 2;
        }
    unsigned long got = 0;
    for (size_t pg = 0; pg < npages; pg++)
        for (int k = 0; k < 64; k++) got += r[pg * PG + k] + r[half + pg * PG + k];
    CHECK(got == npages * 60 * 3, "stores to pages that share TLB entries all land");
    CHECK(faults(read_page, (volatile char *)(uintptr_t)(1ull << 40)), "a load at 1 TiB faults");
    CHECK(faults(write_page, (volatile char *)(uintptr_t)((1ull << 40) + 5 * PG)), "a store above it faults");
    DONE();
}
