/* The siginfo of a CPU fault, as arm64 Linux fills it: si_addr is the exact
 * address a refused load or store used (not its page, not the PC; page zero
 * included), si_code SEGV_MAPERR for no mapping and SEGV_ACCERR for a mapping
 * without the permission; an undefined instruction is SIGILL with ILL_ILLOPC
 * and si_addr at that instruction.  The same holds in a second thread. */
/* qemu-differs: qemu-user reports ILL_ILLOPN for UDF, where arm64 Linux's do_undefinstr gives ILL_ILLOPC */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_test.h"

static sigjmp_buf jb;
static volatile int got_sig, got_code;
static volatile uintptr_t got_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_addr = (uintptr_t)si->si_addr;
    siglongjmp(jb, 1);
}

/* Load from `addr` (noinline: the compiler cannot fold the access away). */
static __attribute__((noinline)) int load_at(uintptr_t addr) { return *(volatile int *)addr; }
static __attribute__((noinline)) void store_at(uintptr_t addr) { *(volatile char *)addr = 1; }

static int probe_load(uintptr_t addr)
{
    got_sig = 0; got_addr = 0; got_code = 0;
    if (!sigsetjmp(jb, 1)) load_at(addr);
    return got_sig;
}

/* An undefined instruction (UDF #0) as the first of a function of its own. */
__asm__(".text\n.globl udf_fn\n.type udf_fn, %function\nudf_fn:\n.word 0x00000000\nret\n");
void udf_fn(void);

static int probe_udf(void)
{
    got_sig = 0; got_addr = 0; got_code = 0;
    if (!sigsetjmp(jb, 1)) udf_fn();
    return got_sig;
}

static void run_checks(const char *who)
{
    char what[128];
    static const uintptr_t addrs[] = {0x8, 0x0, 0x3ff, 0x12345678, 0x1008};
    for (unsigned i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        int sig = probe_load(addrs[i]);
        snprintf(what, sizeof what, "%s: load at %#lx is SIGSEGV SEGV_MAPERR with that exact si_addr",
                 who, (unsigned long)addrs[i]);
        CHECK(sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == addrs[i], what);
    }
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    got_sig = 0;
    if (!sigsetjmp(jb, 1)) store_at((uintptr_t)p + pg + 0x123);
    snprintf(what, sizeof what, "%s: store to a read-only page is SEGV_ACCERR at the exact address", who);
    CHECK(got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == (uintptr_t)p + pg + 0x123, what);
    mprotect(p, pg, PROT_NONE);
    got_sig = 0;
    if (!sigsetjmp(jb, 1)) load_at((uintptr_t)p + 0x44);
    snprintf(what, sizeof what, "%s: load from PROT_NONE is SEGV_ACCERR", who);
    CHECK(got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == (uintptr_t)p + 0x44, what);
    munmap(p, 2 * pg);
    int sig = probe_udf();
    snprintf(what, sizeof what, "%s: UDF is SIGILL ILL_ILLOPC with si_addr at the instruction", who);
    CHECK(sig == SIGILL && got_code == ILL_ILLOPC && got_addr == (uintptr_t)udf_fn, what);
}

static void *thread_main(void *arg)
{
    (void)arg;
    run_checks("thread");
    return NULL;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    run_checks("main");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0, "second thread starts");
    pthread_join(t, NULL);
    DONE();
}
