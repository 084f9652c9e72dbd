/* brk through the raw syscall (musl's brk() wrapper always fails): query,
 * grow, use, shrink, refuse to move below the start or into a mapping. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096
static uintptr_t brk_(uintptr_t a) { return (uintptr_t)syscall(SYS_brk, a); }

int main(void) {
    uintptr_t start = brk_(0);
    CHECK(start != 0, "brk(0) reports the break");
    CHECK(brk_(0) == start, "brk(0) is stable");
    uintptr_t want = start + 10 * PG + 123;
    CHECK(brk_(want) == want, "brk grows to an unaligned address");
    unsigned char *p = (unsigned char *)start;
    int zero = 1;
    for (uintptr_t i = 0; i < want - start; i++) if (p[i]) zero = 0;
    CHECK(zero, "new heap memory is zeroed");
    memset(p, 0x11, want - start);
    CHECK(p[want - start - 1] == 0x11, "heap memory is writable to the break");
    CHECK(brk_(start + PG) == start + PG, "brk shrinks");
    CHECK(brk_(start + 2 * PG) == start + 2 * PG, "brk grows again");
    CHECK(p[PG] == 0, "memory given back and retaken is zeroed");
    CHECK(brk_(PG) == start + 2 * PG, "brk below the start fails (returns the old break)");
    CHECK(brk_((uintptr_t)1 << 62) == start + 2 * PG, "absurd brk fails (returns the old break)");

    /* malloc works on top (glibc uses brk, musl mmap/brk) */
    char *m = malloc(100000);
    CHECK(m != NULL, "malloc of 100000 bytes");
    memset(m, 1, 100000);
    free(m);
    DONE();
}
