/* Error cases of the file syscalls: each must fail with Linux's errno
 * (bad pointers are EFAULT, never a crash). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    char buf[64];
    char *volatile nul = NULL;
    char *volatile bad = (char *)16;
    struct stat st;

    int f = open("file", O_RDWR | O_CREAT, 0644);
    write(f, "data", 4);
    mkdir("dir", 0755);

    /* open */
    CHECK_ERR(open("missing", O_RDONLY), ENOENT, "open missing: ENOENT");
    CHECK_ERR(open("file/x", O_RDONLY), ENOTDIR, "open through a file: ENOTDIR");
    CHECK_ERR(open("dir", O_WRONLY), EISDIR, "open a dir for writing: EISDIR");
    CHECK_ERR(open("nodir/x", O_CREAT | O_WRONLY, 0644), ENOENT, "create in a missing dir: ENOENT");
    CHECK_ERR(open(nul, O_RDONLY), EFAULT, "open(NULL): EFAULT");
    CHECK_ERR(open(bad, O_RDONLY), EFAULT, "open(bad pointer): EFAULT");
    CHECK_ERR(open("", O_RDONLY), ENOENT, "open empty path: ENOENT");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ERR(open(longname, O_RDONLY), ENAMETOOLONG, "component over NAME_MAX: ENAMETOOLONG");
    char *longpath = malloc(5000);
    memset(longpath, 'a', 4999);
    longpath[4999] = 0;
    for (int i = 100; i < 4999; i += 100) longpath[i] = '/';
    CHECK_ERR(open(longpath, O_RDONLY), ENAMETOOLONG, "path over PATH_MAX: ENAMETOOLONG");
    CHECK_ERR(stat(longpath, &st), ENAMETOOLONG, "stat path over PATH_MAX");
    free(longpath);
    symlink("loop1", "loop2");
    symlink("loop2", "loop1");
    CHECK_ERR(open("loop1", O_RDONLY), ELOOP, "symlink loop: ELOOP");
    symlink("file", "lnk");
    CHECK_ERR(open("lnk", O_RDONLY | O_NOFOLLOW), ELOOP, "O_NOFOLLOW on a symlink: ELOOP");
    CHECK_ERR(openat(9999, "file", O_RDONLY), EBADF, "openat with a closed dirfd: EBADF");
    int ok = openat(9999, "/dev/null", O_RDONLY);
    CHECK(ok >= 0, "openat ignores dirfd for an absolute path");
    close(ok);
    CHECK_ERR(openat(f, "x", O_RDONLY), ENOTDIR, "openat with a file as dirfd: ENOTDIR");

    /* read / write */
    CHECK_ERR(read(-1, buf, 1), EBADF, "read(-1): EBADF");
    CHECK_ERR(read(9999, buf, 1), EBADF, "read of a closed fd: EBADF");
    CHECK_ERR(read(f, nul, 10), EFAULT, "read into NULL: EFAULT");
    lseek(f, 0, SEEK_SET);
    CHECK_ERR(write(f, bad, 10), EFAULT, "write from a bad pointer: EFAULT");
    CHECK(write(f, nul, 0) == 0, "write of 0 bytes from NULL is 0");
    CHECK(read(f, nul, 0) == 0, "read of 0 bytes into NULL is 0");
    int dfd = open("dir", O_RDONLY);
    CHECK_ERR(read(dfd, buf, 1), EISDIR, "read a directory: EISDIR");
    int ro = open("file", O_RDONLY);
    CHECK_ERR(write(ro, "x", 1), EBADF, "write to a read-only fd: EBADF");
    CHECK_ERR(ftruncate(ro, 0), EINVAL, "ftruncate a read-only fd: EINVAL");
    int wo = open("file", O_WRONLY);
    CHECK_ERR(read(wo, buf, 1), EBADF, "read from a write-only fd: EBADF");
    struct iovec iov = {buf, 1};
    int volatile m1 = -1, big = 1025;
    CHECK_ERR(readv(f, &iov, m1), EINVAL, "readv iovcnt -1: EINVAL");
    CHECK_ERR(readv(f, &iov, big), EINVAL, "readv iovcnt 1025: EINVAL");
    CHECK_ERR(writev(f, (struct iovec *)bad, 1), EFAULT, "writev bad iovec array: EFAULT");
    struct iovec biov = {bad, 4};
    CHECK_ERR(writev(f, &biov, 1), EFAULT, "writev bad buffer: EFAULT");
    struct iovec neg = {buf, (size_t)-1};
    CHECK_ERR(readv(f, &neg, 1), EINVAL, "readv negative length: EINVAL");
    CHECK_ERR(pwrite(f, "x", 1, -5), EINVAL, "pwrite negative offset: EINVAL");

    /* lseek */
    CHECK_ERR(lseek(f, 0, 7), EINVAL, "lseek bad whence: EINVAL");
    CHECK_ERR(lseek(f, -100, SEEK_SET), EINVAL, "lseek before 0: EINVAL");
    CHECK_ERR(lseek(9999, 0, SEEK_SET), EBADF, "lseek closed fd: EBADF");

    /* stat family */
    CHECK_ERR(stat(nul, &st), EFAULT, "stat(NULL): EFAULT");
    CHECK_ERR(syscall(SYS_newfstatat, AT_FDCWD, "file", bad, 0), EFAULT, "stat into a bad buffer: EFAULT");
    CHECK_ERR(syscall(SYS_fstat, f, bad), EFAULT, "fstat into a bad buffer: EFAULT");
    CHECK_ERR(fstat(9999, &st), EBADF, "fstat closed fd: EBADF");
    CHECK_ERR(fstatat(AT_FDCWD, "file", &st, 0x1), EINVAL, "fstatat bad flag: EINVAL");
    CHECK_ERR(fstatat(AT_FDCWD, "", &st, 0), ENOENT, "fstatat empty path without AT_EMPTY_PATH");
    CHECK_ERR(fstatat(9999, "", &st, AT_EMPTY_PATH), EBADF, "AT_EMPTY_PATH on a closed fd");
    CHECK(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH) == 0 && S_ISDIR(st.st_mode), "AT_EMPTY_PATH with AT_FDCWD is the cwd");
    CHECK_ERR(stat("missing", &st), ENOENT, "stat missing: ENOENT");
    CHECK_ERR(stat("file/", &st), ENOTDIR, "stat file/ : ENOTDIR");

    /* names */
    CHECK_ERR(syscall(SYS_readlinkat, AT_FDCWD, "lnk", buf, 0), EINVAL, "readlink bufsiz 0: EINVAL");
    CHECK_ERR(readlink("missing", buf, sizeof buf), ENOENT, "readlink missing: ENOENT");
    CHECK_ERR(readlink("lnk", bad, sizeof buf), EFAULT, "readlink into a bad buffer: EFAULT");
    CHECK_ERR(mkdir("file", 0755), EEXIST, "mkdir over a file: EEXIST");
    CHECK_ERR(rmdir("file"), ENOTDIR, "rmdir a file: ENOTDIR");
    CHECK_ERR(rmdir("."), EINVAL, "rmdir . : EINVAL");
    CHECK_ERR(unlink("dir"), EISDIR, "unlink a dir: EISDIR");
    CHECK_ERR(unlink("missing"), ENOENT, "unlink missing: ENOENT");
    CHECK_ERR(link("file", "lnk"), EEXIST, "link onto an existing name: EEXIST");
    CHECK_ERR(link("dir", "dirlink"), EPERM, "hard link to a dir: EPERM");
    CHECK_ERR(rename("file", "dir"), EISDIR, "rename a file over a dir: EISDIR");
    CHECK_ERR(rename("dir", "file"), ENOTDIR, "rename a dir over a file: ENOTDIR");
    CHECK_ERR(rename("missing", "x"), ENOENT, "rename missing: ENOENT");
    CHECK_ERR(symlink("x", "lnk"), EEXIST, "symlink onto an existing name: EEXIST");
    CHECK_ERR(symlink("", "empty"), ENOENT, "symlink with an empty target: ENOENT");
    CHECK_ERR(truncate("dir", 0), EISDIR, "truncate a dir: EISDIR");
    CHECK_ERR(chdir("missing"), ENOENT, "chdir missing: ENOENT");
    CHECK_ERR(chmod("missing", 0644), ENOENT, "chmod missing: ENOENT");
    CHECK_ERR(faccessat(AT_FDCWD, "file", F_OK, 0x4), EINVAL, "faccessat bad flag: EINVAL");
    CHECK_ERR(access("file/x", F_OK), ENOTDIR, "access through a file: ENOTDIR");
    CHECK_ERR(access("loop1", F_OK), ELOOP, "access through a loop: ELOOP");
    CHECK_ERR(syscall(SYS_utimensat, AT_FDCWD, NULL, NULL, 0), EFAULT, "utimensat(AT_FDCWD, NULL): EFAULT");
    CHECK_ERR(syscall(SYS_getdents64, dfd, bad, 4096), EFAULT, "getdents64 into a bad buffer: EFAULT");
    CHECK_ERR(syscall(SYS_getcwd, bad, 4096), EFAULT, "getcwd into a bad buffer: EFAULT");
    CHECK_ERR(syscall(SYS_mknodat, AT_FDCWD, "weird", 0170000 | 0644, 0), EINVAL, "mknod of a bad type: EINVAL");

    /* EPIPE: with SIGPIPE ignored, writing to a pipe without readers fails */
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    pipe(p);
    close(p[0]);
    CHECK_ERR(write(p[1], "x", 1), EPIPE, "write to a widowed pipe: EPIPE");
    close(p[1]);

    close(f); close(dfd); close(ro); close(wo);
    unlink("file"); unlink("lnk"); unlink("loop1"); unlink("loop2"); rmdir("dir");
    DONE();
}
