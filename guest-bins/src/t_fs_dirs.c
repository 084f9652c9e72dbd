/* Directories and names: mkdir/rmdir, readdir (getdents64) with d_type,
 * telldir/seekdir/rewinddir, chdir/fchdir/getcwd, rename/renameat2, links,
 * symlinks/readlink, mkfifo/mknod, unlinkat.  Listings are sorted before
 * printing so the host's directory order does not matter. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "guest_test.h"

struct ldirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen;
                  unsigned char d_type; char d_name[]; };

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *dtype(int t) {
    switch (t) {
    case DT_DIR: return "dir"; case DT_REG: return "reg"; case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo"; case DT_SOCK: return "sock"; case DT_UNKNOWN: return "unknown";
    default: return "other";
    }
}

/* Print "name:type" of every entry of `path`, sorted. Returns the count. */
static int list(const char *path) {
    DIR *d = opendir(path);
    if (!d) { printf("opendir %s failed\n", path); return -1; }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char *s = malloc(strlen(e->d_name) + 16);
        sprintf(s, "%s:%s", e->d_name, dtype(e->d_type));
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("listing:");
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
    return n;
}

static void touch(const char *p) { close(open(p, O_WRONLY | O_CREAT, 0644)); }

int main(void) {
    char cwd[PATH_MAX], buf[PATH_MAX];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    CHECK_ERR(syscall(SYS_getcwd, buf, 2), ERANGE, "getcwd with a tiny buffer");

    CHECK(mkdir("d", 0755) == 0, "mkdir d");
    CHECK_ERR(mkdir("d", 0755), EEXIST, "mkdir existing");
    struct stat st;
    CHECK(stat("d", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0755, "d is a 0755 dir");
    touch("d/file");
    CHECK(mkdir("d/sub", 0700) == 0, "mkdir d/sub");
    CHECK(symlink("file", "d/link") == 0, "symlink d/link -> file");
    CHECK(mkfifo("d/fifo", 0600) == 0, "mkfifo d/fifo");
    CHECK(mknod("d/node", S_IFREG | 0600, 0) == 0, "mknod regular file");
    CHECK_ERR(mknod("d/dir", S_IFDIR | 0700, 0), EPERM, "mknod S_IFDIR is EPERM");
    CHECK(list("d") == 7, "d has 7 entries with . and ..");

    /* readlink */
    ssize_t n = readlink("d/link", buf, sizeof buf);
    CHECK(n == 4 && !memcmp(buf, "file", 4), "readlink");
    CHECK(readlink("d/link", buf, 2) == 2 && !memcmp(buf, "fi", 2), "readlink truncates");
    CHECK_ERR(readlink("d/file", buf, sizeof buf), EINVAL, "readlink of a non-link");
    CHECK(lstat("d/link", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 4, "lstat sees the link");
    CHECK(stat("d/link", &st) == 0 && S_ISREG(st.st_mode), "stat follows the link");
    CHECK(fstatat(AT_FDCWD, "d/link", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode),
          "fstatat AT_SYMLINK_NOFOLLOW");

    /* *at with a directory fd */
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open d O_DIRECTORY");
    CHECK_ERR(open("d/file", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on a file");
    CHECK(fstatat(dfd, "file", &st, 0) == 0 && S_ISREG(st.st_mode), "fstatat relative to dirfd");
    int fd = openat(dfd, "new", O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0, "openat relative to dirfd");
    close(fd);
    CHECK(faccessat(dfd, "new", W_OK, 0) == 0, "faccessat relative to dirfd");
    CHECK(readlinkat(dfd, "link", buf, sizeof buf) == 4, "readlinkat relative to dirfd");
    CHECK(mkdirat(dfd, "sub2", 0700) == 0, "mkdirat");
    CHECK(unlinkat(dfd, "sub2", AT_REMOVEDIR) == 0, "unlinkat AT_REMOVEDIR");
    CHECK_ERR(unlinkat(dfd, "sub", 0), EISDIR, "unlinkat of a dir without AT_REMOVEDIR");
    CHECK_ERR(unlinkat(dfd, "file", AT_REMOVEDIR), ENOTDIR, "AT_REMOVEDIR on a file");
    CHECK_ERR(unlinkat(dfd, "file", 0x1), EINVAL, "unlinkat bad flag");
    CHECK(linkat(dfd, "file", dfd, "hard", 0) == 0, "linkat");
    CHECK(fstatat(dfd, "file", &st, 0) == 0 && st.st_nlink == 2, "two links now");
    CHECK(linkat(dfd, "link", dfd, "hardlink", 0) == 0 && fstatat(dfd, "hardlink", &st, AT_SYMLINK_NOFOLLOW) == 0
          && S_ISLNK(st.st_mode), "linkat without AT_SYMLINK_FOLLOW links the symlink");
    CHECK(linkat(dfd, "link", dfd, "hardfollow", AT_SYMLINK_FOLLOW) == 0
          && fstatat(dfd, "hardfollow", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode),
          "linkat AT_SYMLINK_FOLLOW links the target");
    CHECK(symlinkat("/nonexistent/target", dfd, "dangling") == 0, "symlinkat dangling");
    CHECK_ERR(stat("d/dangling", &st), ENOENT, "stat of a dangling link");
    CHECK(fchmodat(dfd, "new", 0640, 0) == 0 && fstatat(dfd, "new", &st, 0) == 0 && (st.st_mode & 0777) == 0640,
          "fchmodat");
    struct stat dst;
    CHECK(fstat(dfd, &dst) == 0 && S_ISDIR(dst.st_mode), "fstat on a directory fd");

    /* rename family */
    CHECK(renameat(dfd, "new", dfd, "renamed") == 0, "renameat");
    CHECK_ERR(fstatat(dfd, "new", &st, 0), ENOENT, "old name is gone");
    CHECK(rename("d/renamed", "d/hard") == 0, "rename over an existing file");
    touch("d/x");
    touch("d/y");
    int fx = open("d/x", O_WRONLY); write(fx, "X", 1); close(fx);
    CHECK_ERR(syscall(SYS_renameat2, dfd, "x", dfd, "y", 1 /* RENAME_NOREPLACE */), EEXIST,
              "renameat2 RENAME_NOREPLACE onto an existing name");
    CHECK(syscall(SYS_renameat2, dfd, "x", dfd, "z", 1) == 0, "renameat2 RENAME_NOREPLACE to a new name");
    CHECK(syscall(SYS_renameat2, dfd, "z", dfd, "y", 2 /* RENAME_EXCHANGE */) == 0, "renameat2 RENAME_EXCHANGE");
    CHECK(stat("d/y", &st) == 0 && st.st_size == 1 && stat("d/z", &st) == 0 && st.st_size == 0, "names were swapped");
    CHECK_ERR(syscall(SYS_renameat2, dfd, "z", dfd, "y", 3), EINVAL, "renameat2 NOREPLACE|EXCHANGE");
    CHECK_ERR(syscall(SYS_renameat2, dfd, "z", dfd, "y", 0x100), EINVAL, "renameat2 unknown flag");
    CHECK_ERR(rename("d/sub", "d/sub/inner"), EINVAL, "rename a dir into itself");
    CHECK_ERR(rmdir("d"), ENOTEMPTY, "rmdir a non-empty dir");
    list("d");

    /* readdir position: telldir/seekdir/rewinddir */
    DIR *dir = fdopendir(dup(dfd));
    CHECK(dir != NULL, "fdopendir");
    int total = 0;
    long pos_third = -1;
    char third[256] = "";
    struct dirent *e;
    while ((e = readdir(dir))) {
        total++;
        if (total == 2) pos_third = telldir(dir);
        if (total == 3) strcpy(third, e->d_name);
    }
    CHECK(total == 13, "readdir sees 13 entries");
    seekdir(dir, pos_third);
    e = readdir(dir);
    CHECK(e && !strcmp(e->d_name, third), "seekdir(telldir) resumes at the same entry");
    touch("d/late");
    rewinddir(dir);
    int again = 0;
    while ((e = readdir(dir))) again++;
    CHECK(again == 14, "rewinddir sees a file created since");
    closedir(dir);

    /* raw getdents64 */
    char dbuf[4096];
    int gfd = open("d", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(syscall(SYS_getdents64, gfd, dbuf, 10), EINVAL, "getdents64 buffer too small");
    long got = syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf);
    int cnt = 0, dots = 0, aligned = 1, dotdir = 1;
    for (long off = 0; off < got;) {
        struct ldirent64 *de = (struct ldirent64 *)(dbuf + off);
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) { dots++; dotdir &= de->d_type == DT_DIR; }
        aligned &= de->d_reclen % 8 == 0;
        off += de->d_reclen;
        cnt++;
    }
    CHECK(aligned, "every d_reclen is 8-aligned");
    CHECK(dotdir, "dot entries are DT_DIR");
    CHECK(cnt == 14 && dots == 2, "getdents64 returns all 14 entries at once");
    CHECK(syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf) == 0, "getdents64 at end returns 0");
    int ffd = open("d/y", O_RDONLY);
    CHECK_ERR(syscall(SYS_getdents64, ffd, dbuf, sizeof dbuf), ENOTDIR, "getdents64 on a file");
    CHECK_ERR(syscall(SYS_getdents64, 9999, dbuf, sizeof dbuf), EBADF, "getdents64 on a closed fd");
    close(ffd);
    close(gfd);

    /* cwd */
    CHECK(chdir("d/sub") == 0, "chdir d/sub");
    CHECK(getcwd(buf, sizeof buf) && strlen(buf) == strlen(cwd) + 6 && !strcmp(buf + strlen(cwd), "/d/sub"),
          "getcwd after chdir");
    CHECK(fchdir(dfd) == 0 && getcwd(buf, sizeof buf) && !strcmp(buf + strlen(cwd), "/d"), "fchdir");
    CHECK(chdir("..") == 0 && getcwd(buf, sizeof buf) && !strcmp(buf, cwd), "chdir ..");
    CHECK_ERR(chdir("d/y"), ENOTDIR, "chdir to a file");
    CHECK_ERR(fchdir(9999), EBADF, "fchdir bad fd");
    close(dfd);

    /* clean up, checking rmdir on the way */
    const char *files[] = {"file", "link", "fifo", "node", "hard", "hardlink", "hardfollow", "dangling",
                           "y", "z", "late"};
    int ok = 1;
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(buf, sizeof buf, "d/%s", files[i]);
        if (unlink(buf) != 0) { ok = 0; printf("# unlink %s: %s\n", buf, strerror(errno)); }
    }
    CHECK(ok, "unlink every file");
    CHECK(rmdir("d/sub") == 0 && rmdir("d") == 0, "rmdir");
    CHECK_ERR(rmdir("d"), ENOENT, "rmdir again");
    DONE();
}
