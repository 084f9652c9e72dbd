/* madvise as Linux judges each mapping: MADV_FREE only for private anonymous
 * memory (madvise_free_single_vma is EINVAL for a file or shared mapping),
 * DONTNEED zeroes private anonymous pages and keeps its neighbours, holes are
 * ENOMEM, unknown advice EINVAL. */
/* qemu-differs: qemu-user answers every madvise with 0 (it does not judge the mapping) */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_test.h"

#define PG 4096

int main(void)
{
    char *fa = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(fa, 7, 3 * PG);
    CHECK(madvise(fa, PG, MADV_FREE) == 0, "MADV_FREE on private anonymous memory");
    fa[0] = 9;
    CHECK(fa[0] == 9, "a write after MADV_FREE sticks");
    CHECK(madvise(fa + PG, PG, MADV_DONTNEED) == 0, "MADV_DONTNEED on the middle page");
    CHECK(fa[PG] == 0 && fa[2 * PG - 1] == 0, "... which reads back as zeros");
    CHECK(fa[PG - 1] == 7 && fa[2 * PG] == 7, "... and its neighbours are kept");
    CHECK_ERR(madvise(fa, 3 * PG, 9999), EINVAL, "unknown advice is EINVAL");
    munmap(fa + PG, PG);
    CHECK_ERR(madvise(fa, 3 * PG, MADV_WILLNEED), ENOMEM, "a hole in the range is ENOMEM");
    munmap(fa, 3 * PG);

    int fd = open("madv_file", O_RDWR | O_CREAT | O_TRUNC, 0600);
    char buf[PG];
    memset(buf, 0x5a, sizeof buf);
    CHECK(write(fd, buf, sizeof buf) == PG, "a one-page file");
    char *fp = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK_ERR(madvise(fp, PG, MADV_FREE), EINVAL, "MADV_FREE on a private file mapping is EINVAL");
    close(fd);
    CHECK_ERR(madvise(fp, PG, MADV_FREE), EINVAL, "... also after its fd is closed");
    munmap(fp, PG);
    char *sa = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_ERR(madvise(sa, PG, MADV_FREE), EINVAL, "MADV_FREE on shared anonymous memory is EINVAL");
    munmap(sa, PG);
    unlink("madv_file");
    DONE();
}
