/* Memory limits as Linux: huge PROT_NONE reservations, vm.max_map_count,
 * malloc until NULL, RLIMIT_AS.  Output is deterministic (no counts).
 * Passes natively (x86-64 build on Linux 6.x) and under elfuse-py. */
/* qemu-differs: qemu-user gives the guest its whole 47-bit host address space one
   host mmap at a time, so malloc(1 GiB) until NULL takes minutes there, and it does
   not apply a guest's RLIMIT_AS */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096L
#define MAXMAPS 200000

static void *maps[MAXMAPS];
static void *blocks[1 << 18];

/* Fork a child that touches p; returns the signal that killed it (0 if none). */
static int touch_in_child(volatile char *p, int write) {
    pid_t pid = fork();
    if (pid == 0) {
        if (write) *p = 1; else (void)*p;
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

int main(void) {
    /* 1. A 100 GiB PROT_NONE reservation succeeds; touching it is SIGSEGV; parts
     *    of it can be made usable. */
    size_t huge = 100UL << 30;
    char *r = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r != MAP_FAILED, "100 GiB PROT_NONE mmap succeeds");
    if (r != MAP_FAILED) {
        CHECK(touch_in_child(r, 0) == SIGSEGV, "reading the reservation is SIGSEGV");
        CHECK(touch_in_child(r + huge - 1, 1) == SIGSEGV, "writing its last byte is SIGSEGV");
        char *mid = r + (50UL << 30);
        CHECK(mprotect(mid, 2 * PG, PROT_READ | PROT_WRITE) == 0, "mprotect two pages inside it");
        mid[0] = 7; mid[2 * PG - 1] = 9;
        CHECK(mid[0] == 7 && mid[2 * PG - 1] == 9, "those pages hold data");
        CHECK(touch_in_child(mid + 2 * PG, 0) == SIGSEGV, "the page after them still faults");
        CHECK(munmap(r, huge) == 0, "munmap the reservation");
    }
    char *n2 = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(n2 != MAP_FAILED && munmap(n2, huge) == 0, "100 GiB PROT_NONE|MAP_NORESERVE mmap and munmap");

    /* 2. One-page mappings that cannot merge (alternating protections) end with
     *    ENOMEM at vm.max_map_count (65530); then a split is ENOMEM too. */
    char *three = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(three != MAP_FAILED, "a three-page mapping");
    long made = 0;
    int err = 0;
    for (; made < MAXMAPS; made++) {
        void *p = mmap(NULL, PG, (made & 1) ? PROT_READ : PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { err = errno; break; }
        maps[made] = p;
    }
    CHECK(made < MAXMAPS && err == ENOMEM, "unmergeable one-page mmaps end with ENOMEM");
    CHECK(made > 60000 && made <= 65530, "the limit is vm.max_map_count (65530 mappings)");
    CHECK_ERR(mprotect(three + PG, PG, PROT_READ), ENOMEM, "mprotect splitting a mapping at the limit");
    CHECK_ERR(munmap(three + PG, PG), ENOMEM, "munmap splitting a mapping at the limit");
    CHECK(munmap(three, 3 * PG) == 0, "munmap of a whole mapping at the limit");
    for (long i = 0; i < made; i++)
        munmap(maps[i], PG);
    void *again = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(again != MAP_FAILED && munmap(again, PG) == 0, "mmap works again after munmap");

    /* 3. Mergeable one-page mappings (same protection, adjacent) are one mapping
     *    for the limit: many more than 65530 succeed. */
    long same = 0;
    for (; same < 70000; same++) {
        void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        maps[same] = p;
    }
    CHECK(same == 70000, "70000 mergeable one-page mmaps succeed");
    for (long i = 0; i < same; i++)
        munmap(maps[i], PG);

    /* 4. malloc until NULL ends with NULL (the address space is bounded). */
    long got = 0;
    while (got < (1 << 18)) {
        void *p = malloc(1UL << 30);
        if (!p) break;
        blocks[got++] = p;
    }
    CHECK(got > 0 && got < (1 << 18), "malloc(1 GiB) until NULL ends with NULL");
    for (long i = 0; i < got; i++)
        free(blocks[i]);
    void *after = malloc(1 << 20);
    CHECK(after != NULL, "malloc works again after free");
    free(after);

    /* 5. RLIMIT_AS bounds the address space. */
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_AS, &old) == 0, "getrlimit(RLIMIT_AS)");
    lim.rlim_cur = 256UL << 20;
    lim.rlim_max = old.rlim_max;
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit(RLIMIT_AS, 256 MiB)");
    struct rlimit now;
    CHECK(getrlimit(RLIMIT_AS, &now) == 0 && now.rlim_cur == lim.rlim_cur, "getrlimit shows it");
    CHECK_ERR((long)mmap(NULL, 512UL << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              ENOMEM, "a 512 MiB mmap past RLIMIT_AS is ENOMEM");
    got = 0;
    while (got < 4096) {
        void *p = malloc(1 << 20);
        if (!p) break;
        blocks[got++] = p;
    }
    CHECK(got > 64 && got < 256, "malloc(1 MiB) under RLIMIT_AS 256 MiB ends with NULL");
    for (long i = 0; i < got; i++)
        free(blocks[i]);
    CHECK(setrlimit(RLIMIT_AS, &old) == 0, "RLIMIT_AS restored");
    void *big = mmap(NULL, 512UL << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(big != MAP_FAILED && munmap(big, 512UL << 20) == 0, "512 MiB mmap works again");
    DONE();
}
