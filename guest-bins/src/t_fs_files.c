/* Regular files: open/create flags, read/write and their vector and
 * positioned forms, lseek, truncate, stat/fstat/statx, chmod, utimensat,
 * access.  Runs in the (empty) current directory; prints no inode numbers,
 * times or sizes that depend on the host. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "guest_test.h"

static int write_file(const char *p, const char *s) {
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    int n = write(fd, s, strlen(s));
    close(fd);
    return n;
}

int main(void) {
    char buf[256];
    umask(022);

    /* create, write, read back */
    int fd = open("a.txt", O_RDWR | O_CREAT | O_EXCL, 0640);
    CHECK(fd >= 0, "open O_CREAT|O_EXCL creates a file");
    CHECK(write(fd, "hello world\n", 12) == 12, "write 12 bytes");
    CHECK(lseek(fd, 0, SEEK_CUR) == 12, "offset advanced to 12");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek SEEK_SET 0");
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 12 && !memcmp(buf, "hello world\n", 12), "read back");
    CHECK(read(fd, buf, sizeof buf) == 0, "read at EOF returns 0");
    CHECK(lseek(fd, -6, SEEK_END) == 6, "lseek SEEK_END -6");
    CHECK(read(fd, buf, 5) == 5 && !memcmp(buf, "world", 5), "read after SEEK_END");
    CHECK_ERR(open("a.txt", O_RDWR | O_CREAT | O_EXCL, 0640), EEXIST, "O_EXCL on existing file");

    struct stat st;
    CHECK(fstat(fd, &st) == 0, "fstat");
    CHECK(S_ISREG(st.st_mode), "fstat: regular file");
    CHECK((st.st_mode & 07777) == 0640, "fstat: mode 0640 (umask 022)");
    CHECK(st.st_size == 12, "fstat: size 12");
    CHECK(st.st_nlink == 1, "fstat: one link");
    CHECK(st.st_uid == getuid() && st.st_gid == getgid(), "fstat: owner is us");
    CHECK(st.st_blksize > 0, "fstat: blksize");
    struct stat st2;
    CHECK(stat("a.txt", &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev,
          "stat and fstat agree on dev/ino");
    CHECK(fstatat(AT_FDCWD, "a.txt", &st2, 0) == 0 && st2.st_size == 12, "fstatat AT_FDCWD");
    CHECK(fstatat(fd, "", &st2, AT_EMPTY_PATH) == 0 && st2.st_ino == st.st_ino,
          "fstatat AT_EMPTY_PATH on the fd");

    /* positioned and vector I/O */
    CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite at 0");
    CHECK(lseek(fd, 0, SEEK_CUR) == 11, "pwrite leaves the offset alone");
    memset(buf, 0, sizeof buf);
    CHECK(pread(fd, buf, 11, 0) == 11 && !memcmp(buf, "HELLO world", 11), "pread at 0");
    CHECK_ERR(pread(fd, buf, 1, -1), EINVAL, "pread negative offset");
    char a[3], b[4];
    struct iovec iov[2] = {{a, 3}, {b, 4}};
    lseek(fd, 0, SEEK_SET);
    CHECK(readv(fd, iov, 2) == 7 && !memcmp(a, "HEL", 3) && !memcmp(b, "LO w", 4), "readv 2 buffers");
    struct iovec wv[3] = {{"x", 1}, {NULL, 0}, {"yz", 2}};
    CHECK(writev(fd, wv, 3) == 3, "writev with an empty middle entry");
    CHECK(preadv(fd, iov, 2, 5) == 7 && !memcmp(a, " wx", 3) && !memcmp(b, "yzd\n", 4), "preadv at 5");
    CHECK(pwritev(fd, wv, 3, 0) == 3, "pwritev at 0");
    CHECK(pread(fd, buf, 3, 0) == 3 && !memcmp(buf, "xyz", 3), "pwritev data landed");

    /* truncate */
    CHECK(ftruncate(fd, 4) == 0 && fstat(fd, &st) == 0 && st.st_size == 4, "ftruncate to 4");
    CHECK(ftruncate(fd, 10000) == 0 && fstat(fd, &st) == 0 && st.st_size == 10000, "ftruncate grows");
    CHECK(pread(fd, buf, 4, 5000) == 4 && buf[0] == 0 && buf[3] == 0, "the hole reads as zeros");
    CHECK(truncate("a.txt", 2) == 0 && stat("a.txt", &st) == 0 && st.st_size == 2, "truncate by path");
    CHECK_ERR(ftruncate(fd, -1), EINVAL, "ftruncate negative");
    CHECK(fsync(fd) == 0, "fsync");
    CHECK(fdatasync(fd) == 0, "fdatasync");
    sync();
    CHECK(close(fd) == 0, "close");

    /* O_APPEND, O_TRUNC */
    CHECK(write_file("b.txt", "123") == 3, "write b.txt");
    fd = open("b.txt", O_WRONLY | O_APPEND);
    CHECK(fd >= 0, "open O_APPEND");
    lseek(fd, 0, SEEK_SET);
    CHECK(write(fd, "45", 2) == 2, "append write");
    close(fd);
    fd = open("b.txt", O_RDONLY);
    memset(buf, 0, sizeof buf);
    CHECK(read(fd, buf, sizeof buf) == 5 && !strcmp(buf, "12345"), "O_APPEND wrote at the end");
    CHECK_ERR(write(fd, "x", 1), EBADF, "write to O_RDONLY fd");
    close(fd);
    fd = open("b.txt", O_RDWR | O_TRUNC);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "O_TRUNC empties");
    close(fd);

    /* chmod / fchmod / access */
    CHECK(chmod("b.txt", 0600) == 0 && stat("b.txt", &st) == 0 && (st.st_mode & 07777) == 0600, "chmod 0600");
    fd = open("b.txt", O_RDONLY);
    CHECK(fchmod(fd, 04755) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 04755, "fchmod 04755");
    CHECK(fchown(fd, -1, -1) == 0, "fchown -1 -1 changes nothing");
    CHECK(fchownat(AT_FDCWD, "b.txt", getuid(), getgid(), 0) == 0, "fchownat to ourselves");
    close(fd);
    CHECK(access("b.txt", F_OK) == 0, "access F_OK");
    CHECK(access("b.txt", X_OK) == 0, "access X_OK on 0755");
    CHECK(faccessat(AT_FDCWD, "b.txt", R_OK | W_OK, AT_EACCESS) == 0, "faccessat AT_EACCESS");
    CHECK_ERR(access("nope", F_OK), ENOENT, "access of a missing file");
    CHECK_ERR(access("b.txt", 8), EINVAL, "access with a bad mode");
    CHECK(chmod("b.txt", 0644) == 0, "chmod back");
    CHECK_ERR(access("b.txt", X_OK), EACCES, "access X_OK on 0644 (even root)");

    /* times */
    struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 5}};
    CHECK(utimensat(AT_FDCWD, "b.txt", ts, 0) == 0, "utimensat explicit");
    CHECK(stat("b.txt", &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1500000000
          && st.st_mtim.tv_nsec == 5, "times set");
    struct timespec ts2[2] = {{0, UTIME_OMIT}, {42, 0}};
    CHECK(utimensat(AT_FDCWD, "b.txt", ts2, 0) == 0, "utimensat UTIME_OMIT atime");
    CHECK(stat("b.txt", &st) == 0 && st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 42, "OMIT kept atime");
    struct timespec ts3[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    CHECK(utimensat(AT_FDCWD, "b.txt", ts3, 0) == 0, "utimensat UTIME_NOW atime");
    CHECK(stat("b.txt", &st) == 0 && st.st_atim.tv_sec > 1600000000 && st.st_mtim.tv_sec == 42, "NOW set atime");
    CHECK(utimensat(AT_FDCWD, "b.txt", NULL, 0) == 0 && stat("b.txt", &st) == 0
          && st.st_mtim.tv_sec > 1600000000, "utimensat NULL = now");
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK_ERR(utimensat(AT_FDCWD, "b.txt", bad, 0), EINVAL, "utimensat nsec out of range");
    fd = open("b.txt", O_RDONLY);
    CHECK(futimens(fd, ts) == 0 && fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1500000000, "futimens");
    close(fd);

    /* statx */
    struct statx sx;
    memset(&sx, 0xff, sizeof sx);
    CHECK(statx(AT_FDCWD, "b.txt", 0, STATX_BASIC_STATS, &sx) == 0, "statx");
    CHECK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, "statx: basic stats present");
    CHECK(S_ISREG(sx.stx_mode) && (sx.stx_mode & 07777) == 0644, "statx: mode");
    CHECK(sx.stx_size == 0 && sx.stx_nlink == 1, "statx: size and nlink");
    CHECK(sx.stx_mtime.tv_sec == 1500000000 && sx.stx_mtime.tv_nsec == 5, "statx: mtime");
    stat("b.txt", &st);
    CHECK(sx.stx_ino == st.st_ino && makedev(sx.stx_dev_major, sx.stx_dev_minor) == st.st_dev,
          "statx and stat agree on ino/dev");
    CHECK_ERR(statx(AT_FDCWD, "b.txt", 0x6000, STATX_BASIC_STATS, &sx), EINVAL, "statx both sync flags");
    CHECK_ERR(statx(AT_FDCWD, "b.txt", 0x80000000, STATX_BASIC_STATS, &sx), EINVAL, "statx unknown flag");
    CHECK_ERR(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx), ENOENT, "statx missing");

    /* O_TMPFILE (tmpfs/ext4 support it; both answers are Linux behaviour) */
    fd = open(".", O_TMPFILE | O_RDWR, 0600);
    CHECK(fd >= 0 || errno == EOPNOTSUPP || errno == EISDIR, "O_TMPFILE opens or says EOPNOTSUPP");
    if (fd >= 0) {
        CHECK(write(fd, "t", 1) == 1 && fstat(fd, &st) == 0 && st.st_nlink == 0, "O_TMPFILE file has no name");
        close(fd);
    }

    /* O_PATH */
    fd = open("b.txt", O_PATH);
    CHECK(fd >= 0, "open O_PATH");
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "fstat on an O_PATH fd");
    CHECK_ERR(read(fd, buf, 1), EBADF, "read on an O_PATH fd");
    close(fd);

    /* statfs */
    struct statfs sf;
    CHECK(statfs(".", &sf) == 0 && sf.f_bsize > 0 && sf.f_namelen > 0, "statfs");
    fd = open(".", O_RDONLY | O_DIRECTORY);
    struct statfs sf2;
    CHECK(fstatfs(fd, &sf2) == 0 && sf2.f_type == sf.f_type && sf2.f_blocks == sf.f_blocks, "fstatfs agrees");
    close(fd);

    /* large buffers: a read into a buffer bigger than the data */
    char *big = malloc(1 << 20);
    fd = open("a.txt", O_RDONLY);
    CHECK(read(fd, big, 1 << 20) == 2, "read with a 1 MiB buffer returns what is there");
    close(fd);
    free(big);

    unlink("a.txt");
    unlink("b.txt");
    DONE();
}
