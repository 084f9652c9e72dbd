#define _GNU_SOURCE
/* openat2 (open_how checks and RESOLVE_*), open_tree without a clone,
 * sync_file_range, readahead, fadvise64, fallocate, syncfs, preadv2/pwritev2
 * flags, and the xattr calls (user namespace; a file system without user
 * xattrs answers EOPNOTSUPP, which is accepted). */
#include "guest_test.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
/* qemu-differs: qemu-user has no openat2, open_tree, preadv2 or pwritev2 (ENOSYS) */

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
struct how { uint64_t flags, mode, resolve; };
#define RESOLVE_NO_XDEV 1
#define RESOLVE_NO_MAGICLINKS 2
#define RESOLVE_NO_SYMLINKS 4
#define RESOLVE_BENEATH 8
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

static long o2(int dfd, const char *p, uint64_t flags, uint64_t mode, uint64_t res) {
    struct how h = { flags, mode, res };
    return syscall(SYS_openat2, dfd, p, &h, sizeof h);
}

static void openat2_checks(void) {
    mkdir("d", 0755);
    mkdir("d/sub", 0755);
    int f = open("d/sub/file", O_CREAT | O_WRONLY, 0644);
    write(f, "hello", 5);
    close(f);
    symlink("sub/file", "d/rel");
    symlink("/etc", "d/abs");
    symlink("../..", "d/sub/up");
    int d = open("d", O_RDONLY | O_DIRECTORY);
    struct how h = { O_RDONLY, 0, 0 };
    CHECK_ERR(syscall(SYS_openat2, d, "rel", &h, 16), EINVAL, "openat2 with a size below VER0 is EINVAL");
    unsigned char big[64] = {0};
    memcpy(big, &h, sizeof h);
    long r = syscall(SYS_openat2, d, "rel", big, sizeof big);
    CHECK(r >= 0, "openat2 with a larger, zero-tailed struct");
    if (r >= 0) close(r);
    big[40] = 1;
    CHECK_ERR(syscall(SYS_openat2, d, "rel", big, sizeof big), E2BIG, "openat2 with a non-zero tail is E2BIG");
    CHECK_ERR(syscall(SYS_openat2, d, "rel", &h, 8192), E2BIG, "openat2 with a size past a page is E2BIG");
    CHECK_ERR(syscall(SYS_openat2, d, "rel", (void *)8, sizeof h), EFAULT, "openat2 with a bad open_how is EFAULT");
    CHECK_ERR(o2(d, "rel", 1ULL << 40, 0, 0), EINVAL, "openat2 with an unknown flag bit is EINVAL");
    CHECK_ERR(o2(d, "rel", O_RDONLY, 0644, 0), EINVAL, "openat2 with a mode but no O_CREAT is EINVAL");
    CHECK_ERR(o2(d, "new", O_CREAT | O_WRONLY, 010000, 0), EINVAL, "openat2 with a mode past 07777 is EINVAL");
    CHECK_ERR(o2(d, "rel", O_RDONLY, 0, 0x40), EINVAL, "openat2 with an unknown RESOLVE flag is EINVAL");
    CHECK_ERR(o2(d, "rel", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL, "BENEATH with IN_ROOT is EINVAL");
    CHECK_ERR(o2(d, "rel", O_PATH | O_RDWR, 0, 0), EINVAL, "openat2 O_PATH with O_RDWR is EINVAL (openat ignores it)");
    CHECK_ERR(o2(d, "x", O_CREAT | O_WRONLY, 0644, RESOLVE_CACHED), EAGAIN, "RESOLVE_CACHED with O_CREAT is EAGAIN");
    r = o2(d, "rel", O_RDONLY, 0, 0);
    char buf[8] = {0};
    CHECK(r >= 0 && read(r, buf, 5) == 5 && !memcmp(buf, "hello", 5), "openat2 follows a relative link");
    if (r >= 0) close(r);
    CHECK_ERR(o2(d, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a link is ELOOP");
    CHECK_ERR(o2(d, "sub/up/d/rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP, "RESOLVE_NO_SYMLINKS: a link mid-path is ELOOP");
    r = o2(d, "sub/file", O_RDONLY, 0, RESOLVE_BENEATH);
    CHECK(r >= 0, "RESOLVE_BENEATH: a path below the dir");
    if (r >= 0) close(r);
    CHECK_ERR(o2(d, "../d/rel", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: .. above the dir is EXDEV");
    CHECK_ERR(o2(d, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: an absolute path is EXDEV");
    CHECK_ERR(o2(d, "abs/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: an absolute link is EXDEV");
    CHECK_ERR(o2(d, "sub/up/x", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "RESOLVE_BENEATH: a link climbing out is EXDEV");
    r = o2(d, "/sub/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
    CHECK(r >= 0, "RESOLVE_IN_ROOT: / is the dir");
    if (r >= 0) close(r);
    r = o2(d, "../../../sub/file", O_RDONLY, 0, RESOLVE_IN_ROOT);
    CHECK(r >= 0, "RESOLVE_IN_ROOT: .. stops at the dir");
    if (r >= 0) close(r);
    CHECK_ERR(o2(d, "abs/passwd", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT, "RESOLVE_IN_ROOT: an absolute link resolves inside");
    int fd = open("d/sub/file", O_RDONLY);
    char magic[64];
    snprintf(magic, sizeof magic, "/proc/self/fd/%d", fd);
    r = o2(AT_FDCWD, magic, O_RDONLY, 0, 0);
    CHECK(r >= 0, "openat2 through a magic link");
    if (r >= 0) close(r);
    CHECK_ERR(o2(AT_FDCWD, magic, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP, "RESOLVE_NO_MAGICLINKS: /proc/self/fd/N is ELOOP");
    close(fd);
    int root = open("/", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(o2(root, "proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV, "RESOLVE_NO_XDEV: crossing into /proc is EXDEV");
    close(root);
    r = o2(d, "made", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH);
    CHECK(r >= 0, "openat2 creates below the dir with RESOLVE_BENEATH");
    if (r >= 0) close(r);
    struct stat st;
    CHECK(stat("d/made", &st) == 0 && (st.st_mode & 0777) == 0600, "... with its mode");

    int op = open("d/sub/file", O_PATH);
    CHECK(fchownat(op, "", getuid(), getgid(), AT_EMPTY_PATH) == 0, "fchownat(AT_EMPTY_PATH) on an O_PATH fd");
    CHECK_ERR(fchownat(op, "", getuid(), getgid(), 0), ENOENT, "fchownat with an empty path and no AT_EMPTY_PATH is ENOENT");
    close(op);

    r = syscall(SYS_open_tree, d, "sub", 0);
    CHECK(r >= 0 && fcntl(r, F_GETFL) & O_PATH, "open_tree without OPEN_TREE_CLONE is an O_PATH fd");
    if (r >= 0) close(r);
    CHECK_ERR(syscall(SYS_open_tree, d, "sub", 0x8000), EINVAL, "open_tree(AT_RECURSIVE) without a clone is EINVAL");
    CHECK_ERR(syscall(SYS_open_tree, d, "sub", 0x4), EINVAL, "open_tree with an unknown flag is EINVAL");
    r = syscall(SYS_open_tree, d, "", 0x1000);
    CHECK(r >= 0, "open_tree(AT_EMPTY_PATH) of the dir fd");
    if (r >= 0) close(r);
    close(d);
}

static void io_checks(void) {
    int fd = open("data", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(write(fd, "0123456789", 10) == 10, "write data");
    CHECK(syscall(SYS_sync_file_range, fd, 0L, 10L, 7) == 0, "sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER)");
    CHECK(syscall(SYS_sync_file_range, fd, 0L, 0L, 0) == 0, "sync_file_range of everything, no flags");
    CHECK_ERR(syscall(SYS_sync_file_range, fd, 0L, 10L, 8), EINVAL, "sync_file_range with an unknown flag is EINVAL");
    CHECK_ERR(syscall(SYS_sync_file_range, fd, (long)-1, 10L, 0), EINVAL, "sync_file_range at a negative offset is EINVAL");
    CHECK_ERR(syscall(SYS_sync_file_range, 900, 0, 10, 0), EBADF, "sync_file_range on a closed fd is EBADF");
    int p[2];
    pipe(p);
    CHECK_ERR(syscall(SYS_sync_file_range, p[0], 0, 10, 0), ESPIPE, "sync_file_range on a pipe is ESPIPE");
    CHECK(syscall(SYS_readahead, fd, 0, 4096) == 0, "readahead on a file");
    CHECK_ERR(syscall(SYS_readahead, p[0], 0, 4096), EINVAL, "readahead on a pipe is EINVAL");
    CHECK_ERR(syscall(SYS_readahead, p[1], 0, 4096), EBADF, "readahead on a write-only fd is EBADF");
    close(p[0]); close(p[1]);
    CHECK(posix_fadvise(fd, 0, 10, POSIX_FADV_SEQUENTIAL) == 0, "fadvise64 SEQUENTIAL");
    CHECK_ERR(syscall(SYS_fadvise64, fd, 0L, 10L, 99), EINVAL, "fadvise64 with unknown advice is EINVAL");
    CHECK(posix_fallocate(fd, 0, 8192) == 0, "fallocate mode 0 grows the file");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 8192, "... to 8192 bytes");
    CHECK_ERR(syscall(SYS_fallocate, fd, 0, (long)-1, 10L), EINVAL, "fallocate at a negative offset is EINVAL");
    CHECK(syscall(SYS_syncfs, fd) == 0, "syncfs");
    CHECK_ERR(syscall(SYS_syncfs, 900), EBADF, "syncfs on a closed fd is EBADF");
    char a[4] = {0};
    struct iovec iov = { a, 4 };
    CHECK(syscall(SYS_preadv2, fd, &iov, 1, 2L, 0L, 0) == 4 && !memcmp(a, "2345", 4), "preadv2 at offset 2");
    CHECK(syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, 0) == 4, "pwritev2 at offset 0");
    CHECK_ERR(syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0x1000), EOPNOTSUPP, "preadv2 with an unknown RWF flag is EOPNOTSUPP");
    CHECK(syscall(SYS_pwritev2, fd, &iov, 0, 0L, 0L, 1L << 27) == 0 && syscall(SYS_preadv2, fd, &iov, 0, 0L, 0L, 0x1000) == 0,
          "an empty vector returns 0 before its RWF flags are read");
    lseek(fd, 0, SEEK_SET);
    CHECK(syscall(SYS_preadv2, fd, &iov, 1, (long)-1, 0L, 0) == 4 && lseek(fd, 0, SEEK_CUR) == 4,
          "preadv2 at offset -1 uses and moves the file offset");
    close(fd);
}

static void xattrs(void) {
    int fd = open("x", O_CREAT | O_RDWR, 0644);
    symlink("x", "xl");
    long r = setxattr("x", "user.a", "1", 1, 0);
    if (r != 0 && errno == EOPNOTSUPP) {
        /* no user xattrs here: every call says so */
        CHECK_ERR(getxattr("x", "user.a", NULL, 0), EOPNOTSUPP, "getxattr: EOPNOTSUPP too");
        return;
    }
    CHECK(r == 0, "setxattr user.a");
    CHECK_ERR(setxattr("x", "user.a", "1", 1, XATTR_CREATE), EEXIST, "setxattr XATTR_CREATE on an existing one is EEXIST");
    CHECK(fsetxattr(fd, "user.b", "22", 2, 0) == 0, "fsetxattr user.b");
    char v[16];
    CHECK(getxattr("x", "user.b", v, sizeof v) == 2 && !memcmp(v, "22", 2), "getxattr user.b");
    CHECK(fgetxattr(fd, "user.a", v, sizeof v) == 1 && v[0] == '1', "fgetxattr user.a");
    CHECK(lgetxattr("x", "user.a", v, sizeof v) == 1, "lgetxattr on a file");
    CHECK_ERR(getxattr("x", "user.none", v, sizeof v), ENODATA, "getxattr of a missing name is ENODATA");
    char list[64];
    long n = listxattr("x", list, sizeof list);
    CHECK(n == 14, "listxattr: user.a and user.b");
    CHECK(llistxattr("x", list, sizeof list) == n && flistxattr(fd, list, sizeof list) == n, "llistxattr and flistxattr agree");
    r = lsetxattr("xl", "user.c", "3", 1, 0);
    CHECK(r == -1 && (errno == EPERM || errno == EOPNOTSUPP), "lsetxattr user.* on a symlink is refused");
    CHECK_ERR(lremovexattr("xl", "user.c"), r == -1 && errno == EPERM ? EPERM : EOPNOTSUPP, "lremovexattr on a symlink is refused");
    CHECK(removexattr("x", "user.a") == 0, "removexattr user.a");
    CHECK(fremovexattr(fd, "user.b") == 0, "fremovexattr user.b");
    CHECK(listxattr("x", list, sizeof list) == 0, "no user xattrs left");
    close(fd);
}

int main(void) {
    openat2_checks();
    io_checks();
    xattrs();
    DONE();
}
