#define _GNU_SOURCE
/* Run under `-L ROOT`: walks a host directory from a directory fd for "/"
 * one component at a time with O_PATH (as rsync does), and checks that the
 * union root resolves each name in the sysroot first, then on the host.
 * argv[1]: a host directory holding a file "data" ("payload");
 * argv[2]: the name of a file that exists only in the host's /tmp;
 * ROOT holds /elfuse-sysroot-only (a directory) and /tmp. */
#include "guest_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int count_name(int dfd, const char *name) {
    char buf[8192];
    int n = 0;
    lseek(dfd, 0, SEEK_SET);
    for (;;) {
        long got = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct dirent *d = (struct dirent *)(buf + off);
            if (!strcmp(d->d_name, name))
                n++;
            off += d->d_reclen;
        }
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 99;
    int root = open("/", O_PATH | O_DIRECTORY);
    CHECK(root >= 0, "open / with O_PATH");
    struct stat st, st2;
    CHECK(fstatat(root, "elfuse-sysroot-only", &st, 0) == 0 && S_ISDIR(st.st_mode), "fstatat(rootfd) finds a sysroot-only name");
    char tmpname[512];
    snprintf(tmpname, sizeof tmpname, "tmp/%s", argv[2]);
    int t = openat(root, tmpname, O_RDONLY);
    CHECK(t >= 0, "openat(rootfd, tmp/x) finds a file only the host's /tmp has");
    if (t >= 0) close(t);

    /* the O_PATH walk */
    int cur = dup(root);
    char *path = strdup(argv[1]);
    int steps = 0, walk_ok = 1;
    for (char *c = strtok(path, "/"); c; c = strtok(NULL, "/")) {
        int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        if (next < 0) { walk_ok = 0; printf("# step %s failed: %s\n", c, strerror(errno)); break; }
        close(cur);
        cur = next;
        steps++;
    }
    CHECK(walk_ok && steps > 0, "O_PATH|O_DIRECTORY walk of a host directory, one component at a time");
    CHECK(fstatat(cur, "", &st, AT_EMPTY_PATH) == 0 && stat(argv[1], &st2) == 0 && st.st_ino == st2.st_ino,
          "the walk ends at the host directory");
    int f = openat(cur, "data", O_RDONLY);
    char buf[16] = {0};
    CHECK(f >= 0 && read(f, buf, sizeof buf) == 7 && !memcmp(buf, "payload", 7), "openat(walked fd, data) reads the host file");
    if (f >= 0) close(f);
    CHECK(mkdirat(cur, "made", 0755) == 0, "mkdirat below the walked fd");
    int w = openat(cur, "made/new", O_CREAT | O_WRONLY, 0644);
    CHECK(w >= 0, "openat(O_CREAT) below the walked fd");
    if (w >= 0) close(w);
    CHECK(renameat(cur, "made/new", cur, "renamed") == 0, "renameat within the walked fd");
    char full[1024];
    snprintf(full, sizeof full, "%s/renamed", argv[1]);
    CHECK(access(full, F_OK) == 0, "... the file is where the host path says");
    CHECK(fstatat(cur, "..", &st, 0) == 0, "fstatat(walked fd, ..)");
    int up = openat(cur, "..", O_PATH | O_DIRECTORY);
    CHECK(up >= 0, "openat(walked fd, ..)");
    if (up >= 0) close(up);
    close(cur);

    /* .. cannot climb out of the sysroot */
    int above = openat(root, "..", O_PATH | O_DIRECTORY);
    CHECK(above >= 0 && fstatat(above, "elfuse-sysroot-only", &st, 0) == 0, "rootfd/.. is still the root");
    int above2 = openat(root, "../../elfuse-sysroot-only", O_PATH | O_DIRECTORY);
    CHECK(above2 >= 0, "rootfd/../../name stays in the sysroot");
    if (above2 >= 0) close(above2);
    if (above >= 0) close(above);

    /* the root's listing: both sides, each name once */
    int rd = open("/", O_RDONLY | O_DIRECTORY);
    CHECK(count_name(rd, "elfuse-sysroot-only") == 1, "getdents(/) lists a sysroot-only name");
    CHECK(count_name(rd, "tmp") == 1, "getdents(/) lists a name both sides have once");
    CHECK(count_name(rd, "proc") == 1, "getdents(/) lists a host-only name (proc)");
    close(rd);
    CHECK_ERR(syscall(SYS_getdents64, root, buf, sizeof buf), EBADF, "getdents on an O_PATH fd is EBADF");
    close(root);
    DONE();
}
