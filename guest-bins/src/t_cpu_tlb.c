/* The CPU core's memory fast path keeps Linux's page protection semantics.
 * elfuse-py lets guest stores run on TCG's inline path once a page has been
 * written (virtual TLB with per-page permissions, grown by flushing); these
 * checks make sure protection changes, self-modifying code and working sets
 * larger than the TLB still behave exactly as on Linux. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096

/* Run fn in a child; return the signal that killed it (0 if it exited). */
static int killed_by(void (*fn)(volatile char *), volatile char *p) {
    pid_t pid = fork();
    if (pid == 0) {
        fn(p);
        _exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void warm(volatile char *p) { for (int i = 0; i < 4 * PG; i++) p[i % PG] = (char)i; }
static void write_page(volatile char *p) { p[100] = 1; }
static void read_page(volatile char *p) { if (p[100] == 123) _exit(3); }
static void call_page(volatile char *p) { ((void (*)(void))(uintptr_t)p)(); }

static const uint32_t RET = 0xd65f03c0;          /* ret */
static uint32_t mov_x0(int v) { return 0xd2800000u | ((uint32_t)v << 5); }  /* mov x0, #v */

int main(void) {
    volatile char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap two pages");
    warm(p);
    CHECK(p[5] == 5, "stores to a warm page land");

    CHECK(mprotect((void *)p, PG, PROT_READ) == 0, "mprotect a warm page read-only");
    CHECK(killed_by(write_page, p) == SIGSEGV, "store to it after mprotect(PROT_READ) is SIGSEGV");
    CHECK(p[5] == 5, "and it is still readable");
    CHECK(mprotect((void *)p, PG, PROT_READ | PROT_WRITE) == 0, "back to read-write");
    write_page(p);
    CHECK(p[100] == 1, "store lands again");

    warm(p);
    CHECK(mprotect((void *)p, PG, PROT_NONE) == 0, "mprotect a warm page PROT_NONE");
    CHECK(killed_by(read_page, p) == SIGSEGV, "load from it is SIGSEGV");
    CHECK(mprotect((void *)p, PG, PROT_READ) == 0, "PROT_NONE -> PROT_READ");
    CHECK(p[100] == 100, "contents kept");
    CHECK(mprotect((void *)p, PG, PROT_NONE) == 0, "PROT_READ -> PROT_NONE");
    CHECK(killed_by(read_page, p) == SIGSEGV, "load after PROT_READ -> PROT_NONE is SIGSEGV");
    CHECK(mprotect((void *)p, PG, PROT_READ | PROT_WRITE) == 0, "back to read-write again");

    /* Code: not executable until PROT_EXEC, and rewriting it takes effect. */
    uint32_t code[2] = {mov_x0(42), RET};
    memcpy((void *)p, code, sizeof code);
    CHECK(killed_by(call_page, p) == SIGSEGV, "calling into a PROT_READ|PROT_WRITE page is SIGSEGV");
    CHECK(mprotect((void *)p, PG, PROT_READ | PROT_EXEC) == 0, "mprotect PROT_READ|PROT_EXEC");
    CHECK(((long (*)(void))(uintptr_t)p)() == 42, "generated code runs");
    CHECK(mprotect((void *)p, PG, PROT_READ | PROT_WRITE | PROT_EXEC) == 0, "mprotect RWX");
    code[0] = mov_x0(43);
    memcpy((void *)p, code, sizeof code);
    CHECK(((long (*)(void))(uintptr_t)p)() == 43, "rewritten code is seen (RWX page)");
    code[0] = mov_x0(44);
    memcpy((void *)p, code, sizeof code);
    CHECK(((long (*)(void))(uintptr_t)p)() == 44, "rewritten again");

    /* A working set far larger than a TLB: every page written and read back. */
    size_t big = 16u << 20;
    unsigned char *b = mmap(0, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(b != MAP_FAILED, "mmap 16 MiB");
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < big; i += PG / 2) b[i] = (unsigned char)(i / PG + round);
    unsigned long sum = 0, want = 0;
    for (size_t i = 0; i < big; i += PG / 2) { sum += b[i]; want += (unsigned char)(i / PG + 2); }
    CHECK(sum == want, "16 MiB strided stores and loads agree");
    CHECK(munmap(b, big) == 0, "munmap it");
    unsigned char *c = mmap(0, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int zero = c != MAP_FAILED;
    for (size_t i = 0; zero && i < big; i += PG) zero = c[i] == 0;
    CHECK(zero, "a fresh mapping at the same place reads as zeros");
    DONE();
}
