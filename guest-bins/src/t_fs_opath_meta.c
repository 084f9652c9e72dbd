/* What an O_PATH fd allows beyond naming a file: fstat and the *at calls with
 * AT_EMPTY_PATH, but not fchown or fchmod, which Linux's fdget() refuses with
 * EBADF (raw syscalls: musl retries an EBADF fchown through /proc/self/fd). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

int main(void)
{
    int w = open("opath_meta", O_WRONLY | O_CREAT | O_TRUNC, 0640);
    CHECK(w >= 0, "a file to name");
    close(w);
    int fd = open("opath_meta", O_PATH);
    CHECK(fd >= 0, "O_PATH open");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640, "fstat through it");
    CHECK_ERR(syscall(SYS_fchown, fd, getuid(), getgid()), EBADF, "fchown on an O_PATH fd is EBADF");
    CHECK_ERR(syscall(SYS_fchmod, fd, 0600), EBADF, "fchmod on an O_PATH fd is EBADF");
    CHECK(fchownat(fd, "", getuid(), getgid(), AT_EMPTY_PATH) == 0, "fchownat(fd, \"\", AT_EMPTY_PATH) works");
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0640, "the mode is unchanged");
    close(fd);
    int rd = open("opath_meta", O_RDONLY);
    CHECK(syscall(SYS_fchmod, rd, 0600) == 0 && syscall(SYS_fchown, rd, getuid(), getgid()) == 0,
          "a plain fd allows both");
    close(rd);
    unlink("opath_meta");
    DONE();
}
