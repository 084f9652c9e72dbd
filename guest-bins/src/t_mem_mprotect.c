/* mprotect results: splitting a mapping, changing protections back and
 * forth, the errno cases (ENOMEM for unmapped, EINVAL for unaligned). */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096

int main(void) {
    unsigned char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED, "mmap 4 pages");
    memset(a, 3, 4 * PG);
    CHECK(mprotect(a + PG, PG, PROT_READ) == 0, "mprotect the second page read-only");
    CHECK(a[PG] == 3, "read-only page still readable");
    a[0] = 4; a[2 * PG] = 5;
    CHECK(a[0] == 4 && a[2 * PG] == 5, "neighbours stay writable");
    CHECK(mprotect(a + PG, PG, PROT_READ | PROT_WRITE) == 0, "mprotect back to read-write");
    a[PG] = 6;
    CHECK(a[PG] == 6, "page writable again");
    CHECK(mprotect(a, 4 * PG, PROT_NONE) == 0, "mprotect PROT_NONE");
    CHECK(mprotect(a, 4 * PG, PROT_READ | PROT_WRITE) == 0, "mprotect back from PROT_NONE");
    CHECK(a[PG] == 6 && a[3 * PG] == 3, "contents survive PROT_NONE");
    CHECK(mprotect(a, 100, PROT_READ | PROT_WRITE) == 0, "length rounds up to a page");
    CHECK_ERR(syscall(SYS_mprotect, a + 1, PG, PROT_READ), EINVAL, "unaligned address is EINVAL");
    CHECK(munmap(a + 2 * PG, PG) == 0, "punch a hole");
    CHECK_ERR(mprotect(a, 4 * PG, PROT_READ), ENOMEM, "range with a hole is ENOMEM");
    CHECK_ERR(mprotect(a + 2 * PG, PG, PROT_READ), ENOMEM, "unmapped page is ENOMEM");
    CHECK(mprotect(a + 3 * PG, PG, PROT_READ | PROT_EXEC) == 0, "PROT_EXEC accepted");
    CHECK(mlock(a, PG) == 0, "mlock accepted");
    CHECK(munlock(a, PG) == 0, "munlock accepted");
    CHECK_ERR(mlockall(0), EINVAL, "mlockall(0) is EINVAL");
    CHECK(mlockall(MCL_CURRENT) == 0 && munlockall() == 0, "mlockall/munlockall accepted");
    DONE();
}
