/* File-syscall behaviour where Linux and qemu-user disagree; this checks Linux's. */
/* qemu-differs: qemu-user gives EISDIR for __O_TMPFILE without O_DIRECTORY, ENOSYS for
   unknown ioctls, and EFAULT for a read or write whose buffer is only partly mapped */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "create f");
    CHECK_ERR(open(".", 020000000 | O_RDWR, 0600), EINVAL, "__O_TMPFILE without O_DIRECTORY: EINVAL");
    CHECK_ERR(open(".", O_TMPFILE | O_RDONLY, 0600), EINVAL, "O_TMPFILE read-only: EINVAL");
    CHECK_ERR(open(".", O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL, "O_TMPFILE with O_CREAT: EINVAL");
    CHECK_ERR(ioctl(fd, 0x12345678, 0), ENOTTY, "unknown ioctl: ENOTTY");

    /* A read whose buffer ends in an unmapped page transfers what fits. */
    static char data[8192];
    memset(data, 'x', sizeof data);
    CHECK(write(fd, data, sizeof data) == (long)sizeof data, "write 8 KiB");
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && munmap(m + 4096, 4096) == 0, "map one page, unmap the next");
    CHECK(pread(fd, m, 8192, 0) == 4096 && m[4095] == 'x', "read stops at the unmapped page");
    CHECK(pwrite(fd, m, 8192, 0) == 4096, "write stops at the unmapped page");
    CHECK_ERR(pread(fd, m + 4096, 10, 0), EFAULT, "read into the unmapped page: EFAULT");
    close(fd);
    unlink("f");
    DONE();
}
