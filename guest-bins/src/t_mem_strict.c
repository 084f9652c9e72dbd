/* Memory-syscall checks where qemu-user 7.2 itself is not Linux-exact. */
/* qemu-differs: qemu 7.2 treats MAP_FIXED_NOREPLACE as a hint, accepts any madvise advice, fails mprotect of length 0 with ENOMEM and aborts when a mapping is placed above the break */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define PG 4096

int main(void) {
    char *a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED, "mmap");
    CHECK_ERR(mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
              EEXIST, "MAP_FIXED_NOREPLACE over a mapping is EEXIST");
    CHECK_ERR(mmap(a + PG, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
              EEXIST, "MAP_FIXED_NOREPLACE partly over a mapping is EEXIST");
    CHECK_ERR(madvise(a, PG, 12345), EINVAL, "madvise unknown advice is EINVAL");
    CHECK_ERR(mprotect(a, PG, 0x100), EINVAL, "mprotect with unknown prot bits is EINVAL");
    CHECK_ERR(mmap(NULL, PG, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL,
              "mmap with unknown prot bits is EINVAL");
    CHECK(mprotect(a, 0, PROT_READ) == 0, "mprotect of length 0 is a no-op");

    /* a mapping in the way stops the heap */
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    uintptr_t top = (cur + PG - 1) & ~(uintptr_t)(PG - 1);
    void *blk = mmap((void *)(top + 4 * PG), PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(blk == (void *)(top + 4 * PG), "map a page above the break");
    CHECK((uintptr_t)syscall(SYS_brk, top + 8 * PG) == cur, "brk does not grow over a mapping");
    CHECK((uintptr_t)syscall(SYS_brk, top + 2 * PG) == top + 2 * PG, "brk grows up to the mapping");
    DONE();
}
