/* mmap family: anonymous and file-backed (private copy, shared), MAP_FIXED,
 * MAP_FIXED_NOREPLACE, hints, mremap, madvise(MADV_DONTNEED), msync, and the
 * error cases Linux defines.  Output is deterministic (no addresses). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define PG 4096

static int all_eq(const unsigned char *p, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; i++) if (p[i] != v) return 0;
    return 1;
}

int main(void) {
    /* anonymous private */
    unsigned char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED, "anonymous private mmap");
    CHECK(((uintptr_t)a & (PG - 1)) == 0, "mmap result is page aligned");
    CHECK(all_eq(a, 3 * PG, 0), "anonymous memory is zeroed");
    memset(a, 0xab, 3 * PG);
    CHECK(all_eq(a, 3 * PG, 0xab), "anonymous memory is writable");

    /* MAP_FIXED replaces the middle page only */
    unsigned char *m = mmap(a + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(m == a + PG, "MAP_FIXED maps at the address");
    CHECK(all_eq(m, PG, 0), "MAP_FIXED replacement is fresh zeroed memory");
    CHECK(all_eq(a, PG, 0xab) && all_eq(a + 2 * PG, PG, 0xab), "MAP_FIXED keeps the neighbours");

    /* madvise(MADV_DONTNEED) zeroes private anonymous pages */
    CHECK(madvise(a, PG, MADV_DONTNEED) == 0, "madvise DONTNEED");
    CHECK(all_eq(a, PG, 0), "DONTNEED pages read back as zeros");
    CHECK(all_eq(a + 2 * PG, PG, 0xab), "DONTNEED leaves other pages alone");
    CHECK(madvise(a, PG, MADV_WILLNEED) == 0, "madvise WILLNEED accepted");
    CHECK_ERR(madvise(a + 1, PG, MADV_DONTNEED), EINVAL, "madvise unaligned is EINVAL");

    /* hint address: a free hint is honoured */
    CHECK(munmap(a, 3 * PG) == 0, "munmap");
    unsigned char *h = mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h == a, "a free hint address is used");
    munmap(h, PG);

    /* errors */
    CHECK_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL, "length 0 is EINVAL");
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL, "neither PRIVATE nor SHARED is EINVAL");
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0), EBADF, "file mapping of fd -1 is EBADF");
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0), EBADF, "file mapping of a closed fd is EBADF");
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 100), EINVAL, "unaligned offset is EINVAL");
    CHECK_ERR(mmap((void *)0x10000001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL,
              "MAP_FIXED at an unaligned address is EINVAL");
    CHECK_ERR(mmap(NULL, (size_t)1 << 50, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), ENOMEM,
              "a mapping larger than the address space is ENOMEM");
    CHECK_ERR(munmap(a + 1, PG), EINVAL, "munmap unaligned is EINVAL");
    CHECK_ERR(munmap(a, 0), EINVAL, "munmap of length 0 is EINVAL");
    CHECK(munmap(a, PG) == 0, "munmap of an unmapped range succeeds");
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE | MAP_POPULATE, -1, 0)
          != MAP_FAILED, "MAP_STACK/MAP_NORESERVE/MAP_POPULATE accepted");

    /* mremap */
    unsigned char *r = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(r, 0x5a, 2 * PG);
    unsigned char *blk = mmap(r + 2 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(blk == r + 2 * PG, "a blocker page after the mapping");
    CHECK_ERR(mremap(r, 2 * PG, 4 * PG, 0), ENOMEM, "mremap cannot grow in place into a mapping");
    unsigned char *r2 = mremap(r, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
    CHECK(r2 != MAP_FAILED && r2 != r, "mremap MAYMOVE moves the mapping");
    CHECK(all_eq(r2, 2 * PG, 0x5a), "moved mapping keeps its contents");
    CHECK(all_eq(r2 + 2 * PG, 6 * PG, 0), "grown part is zeroed");
    CHECK(mremap(r2, 8 * PG, 4 * PG, 0) == r2, "mremap shrinks in place");
    munmap(blk, PG);
    CHECK(mremap(r2, 4 * PG, 6 * PG, 0) == r2 || errno == ENOMEM, "mremap grows in place when free (or ENOMEM)");
    unsigned char *dst = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *r3 = mremap(r2, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    CHECK(r3 == dst, "mremap MREMAP_FIXED moves to the given address");
    CHECK(all_eq(r3, 2 * PG, 0x5a), "MREMAP_FIXED keeps contents");
    CHECK_ERR(mremap(r3, PG, 2 * PG, MREMAP_FIXED, dst + 8 * PG), EINVAL, "MREMAP_FIXED without MAYMOVE is EINVAL");
    CHECK_ERR(mremap(r3 + 1, PG, 2 * PG, MREMAP_MAYMOVE), EINVAL, "mremap of an unaligned address is EINVAL");

    /* shared anonymous */
    unsigned char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED && all_eq(s, PG, 0), "shared anonymous mmap is zeroed");
    s[10] = 7;
    CHECK(s[10] == 7, "shared anonymous memory is writable");

    /* file-backed */
    int fd = open("mapfile", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "create a file");
    unsigned char buf[5000];
    for (int i = 0; i < 5000; i++) buf[i] = (unsigned char)(i * 7);
    CHECK(write(fd, buf, 5000) == 5000, "fill the file");
    unsigned char *fp = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(fp != MAP_FAILED, "private file mmap");
    if (fp == MAP_FAILED) DONE();
    CHECK(memcmp(fp, buf, 5000) == 0, "private file mapping has the file's bytes");
    CHECK(all_eq(fp + 5000, 2 * PG - 5000, 0), "private file mapping is zero past EOF");
    fp[0] = 0xee;
    unsigned char c = 0;
    CHECK(pread(fd, &c, 1, 0) == 1 && c == buf[0], "private writes do not reach the file");
    unsigned char *fo = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
    CHECK(fo != MAP_FAILED && memcmp(fo, buf + PG, 5000 - PG) == 0, "file mmap at an offset");

    unsigned char *fs = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(fs != MAP_FAILED, "shared file mmap");
    if (fs == MAP_FAILED) DONE();
    CHECK(fs[1] == buf[1], "shared mapping reads the file");
    fs[1] = 0x42;
    CHECK(msync(fs, PG, MS_SYNC) == 0, "msync");
    CHECK(pread(fd, &c, 1, 1) == 1 && c == 0x42, "shared writes reach the file");
    c = 0x43;
    CHECK(pwrite(fd, &c, 1, 2) == 1 && fs[2] == 0x43, "file writes show in the shared mapping");
    CHECK_ERR(msync(fs + 1, PG, MS_SYNC), EINVAL, "msync unaligned is EINVAL");
    CHECK_ERR(msync(fs, PG, MS_SYNC | MS_ASYNC), EINVAL, "msync SYNC|ASYNC is EINVAL");
    close(fd);

    int ro = open("mapfile", O_RDONLY);
    CHECK_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES,
              "writable shared map of a read-only fd is EACCES");
    CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0) != MAP_FAILED,
          "writable private map of a read-only fd is fine");
    close(ro);
    int wo = open("mapfile", O_WRONLY);
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0), EACCES, "mapping a write-only fd is EACCES");
    close(wo);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV, "mapping a directory is ENODEV");
    close(dir);
    unlink("mapfile");
    DONE();
}
