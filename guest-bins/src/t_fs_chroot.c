/* chroot(2) with Linux's rules: the path's errors, EFAULT, EPERM for a non-root
 * caller; inside the new root absolute paths, `..` (also climbing out of the
 * cwd), absolute symlinks and execve stay inside it; fork and execve inherit it;
 * getcwd of a cwd left outside is "(unreachable)..."; an fd opened before the
 * chroot keeps working; /proc is absent from a root without one, except through
 * a /proc directory fd kept from before.  Builds its own root under /tmp. */
/* qemu-differs: qemu-user passes chroot to the host, whose kernel then cannot run the aarch64 program execve names inside the new root */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static char base[64], rootdir[128];

static int reads(const char *path, const char *want) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0;
}

static int put(const char *path, const char *text, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int copy_self(const char *dst) {
    int in = open("/proc/self/exe", O_RDONLY);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0) return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n) return -1;
    close(in);
    close(out);
    return n == 0 ? 0 : -1;
}

static int raw_getcwd(char *buf, size_t n) {
    return (int)syscall(SYS_getcwd, buf, n);
}

static int child_status(pid_t pid) {
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* Runs as the program execve started inside the root. */
static int inside(void) {
    char cwd[256];
    CHECK(reads("/x", "inside"), "after execve, /x is the root's file");
    CHECK(reads("/../../x", "inside"), "after execve, `..` stays at the root");
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/sub") == 0, "after execve, the cwd is /sub");
    DONE();
}

static int chrooted(void) {
    char cwd[512], link[256];
    int devnull = open("/dev/null", O_WRONLY);
    int procself = open("/proc/self", O_RDONLY | O_DIRECTORY);
    CHECK(devnull >= 0 && procself >= 0, "open /dev/null and /proc/self before chroot");
    ssize_t n = readlink("/proc/self/root", link, sizeof link - 1);
    CHECK(n == 1 && link[0] == '/', "before: /proc/self/root is /");

    CHECK(chdir(base) == 0, "cwd outside the future root");
    CHECK(chroot(rootdir) == 0, "chroot into the temp root");
    CHECK(raw_getcwd(cwd, sizeof cwd) > 0 && strncmp(cwd, "(unreachable)/", 14) == 0
          && strcmp(cwd + 13, base) == 0, "getcwd of a cwd outside the root is (unreachable)/...");
    CHECK(chdir("/") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "chdir / then getcwd is /");
    CHECK(reads("/x", "inside"), "/x is the root's file");
    CHECK(reads("/../../../x", "inside"), "`..` at the root stays there");
    CHECK(reads("/abs", "inside"), "an absolute symlink resolves inside the root");
    CHECK(reads("/sub/rel", "inside"), "a relative symlink climbing out stays inside");
    CHECK(chdir("/sub") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/sub") == 0, "chdir /sub");
    CHECK(reads("../../../../x", "inside"), "a relative path climbing out of the cwd stops at the root");
    CHECK(chdir("../../..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0,
          "chdir ../../.. stops at the root");
    CHECK(chdir("/sub") == 0, "back to /sub");
    int rootfd = open("/", O_RDONLY | O_DIRECTORY);
    int xfd = openat(rootfd, "../../../x", O_RDONLY);
    char xb[8] = {0};
    CHECK(xfd >= 0 && read(xfd, xb, sizeof xb) == 6 && memcmp(xb, "inside", 6) == 0,
          "openat(fd of /, \"../../../x\") stops at the root");
    close(xfd);
    close(rootfd);
    CHECK(put("/made", "new", 0644) == 0 && reads("/made", "new"), "a file created by absolute path");
    char outside[256];
    snprintf(outside, sizeof outside, "%s/made", rootdir);
    CHECK(access(outside, F_OK) == -1, "the root's path itself is not visible inside");
    CHECK_ERR(open("/missing", O_RDONLY), ENOENT, "a name the root lacks is ENOENT (no host fallback)");
    CHECK_ERR(open("/tmp", O_RDONLY), ENOENT, "the host's /tmp is not inside the root");
    CHECK_ERR(open("/dev/null", O_RDONLY), ENOENT, "a root without /dev has no /dev/null (as Linux)");
    CHECK_ERR(open("/proc/self/status", O_RDONLY), ENOENT, "a root without /proc has no /proc");
    CHECK(write(devnull, "x", 1) == 1, "the /dev/null fd opened before chroot still works");
    n = readlinkat(procself, "root", link, sizeof link - 1);
    CHECK(n == 1 && link[0] == '/', "/proc/self/root through the kept fd is / (the reader's root)");
    n = readlinkat(procself, "cwd", link, sizeof link - 1);
    CHECK(n == 4 && memcmp(link, "/sub", 4) == 0, "/proc/self/cwd through the kept fd is /sub");
    CHECK_ERR(chroot("/x"), ENOTDIR, "chroot to a file inside the root: ENOTDIR");
    int srv = socket(AF_UNIX, SOCK_DGRAM, 0), cli = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, "/dev/log");
    CHECK_ERR(connect(cli, (struct sockaddr *)&sa, sizeof sa), ENOENT,
              "a syslog client's /dev/log in a root without one: ENOENT");
    strcpy(sa.sun_path, "/sock");
    char got[8] = {0};
    CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa) == 0
          && sendto(cli, "hi", 2, 0, (struct sockaddr *)&sa, sizeof sa) == 2
          && recv(srv, got, sizeof got, 0) == 2 && memcmp(got, "hi", 2) == 0,
          "a unix socket bound by its root name is reached by it");
    struct sockaddr_un back = {0};
    socklen_t blen = sizeof back;
    CHECK(getsockname(srv, (struct sockaddr *)&back, &blen) == 0 && strcmp(back.sun_path, "/sock") == 0
          && blen == offsetof(struct sockaddr_un, sun_path) + 6, "getsockname shows the name inside the root");
    close(srv);
    close(cli);
    CHECK(mkdir("/inner", 0755) == 0 && put("/inner/y", "deeper", 0644) == 0, "make /inner");

    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        bad += !reads("/x", "inside");
        bad += !reads("/../x", "inside");
        _exit(bad);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "a fork child inherits the root");

    pid = fork();
    if (pid == 0) {
        char *argv[] = {"/prog", "inside", NULL};
        execv("../../prog", argv);      /* from /sub: `..` stops at the root */
        _exit(98);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "execve of ../../prog runs the root's program, still chrooted");

    pid = fork();
    if (pid == 0) {        /* a nested chroot, relative to the current root */
        int bad = 0;
        bad += chroot("/inner") != 0;
        bad += !reads("/y", "deeper");
        bad += !reads("/../y", "deeper");
        bad += open("/x", O_RDONLY) != -1;
        _exit(bad);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "a nested chroot resolves inside the current root");

    pid = fork();
    if (pid == 0) {        /* non-root: EPERM */
        int bad = 0;
        bad += setresgid(65534, 65534, 65534) != 0;
        bad += setresuid(65534, 65534, 65534) != 0;
        errno = 0;
        bad += !(chroot("/inner") == -1 && errno == EPERM);
        errno = 0;
        bad += !(chroot("/nonexistent") == -1 && errno == ENOENT);   /* the path's error first */
        _exit(bad);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "a non-root chroot is EPERM (a missing path is still ENOENT)");
    DONE();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "inside") == 0)
        return inside();
    char path[512];
    strcpy(base, "/tmp/t_fs_chroot.XXXXXX");
    CHECK(mkdtemp(base) != NULL, "make a temp directory");
    /* Searchable by the uid a child drops to: under the emulator the root is a host
     * directory whose ancestors are searched too (Linux starts at the root itself). */
    chmod(base, 0755);
    snprintf(rootdir, sizeof rootdir, "%s/root", base);

    CHECK_ERR(chroot((const char *)1), EFAULT, "chroot with a bad pointer is EFAULT");
    snprintf(path, sizeof path, "%s/nonexistent", base);
    CHECK_ERR(chroot(path), ENOENT, "chroot to a missing path is ENOENT");
    snprintf(path, sizeof path, "%s/file", base);
    put(path, "f", 0644);
    CHECK_ERR(chroot(path), ENOTDIR, "chroot to a file is ENOTDIR");
    snprintf(path, sizeof path, "%s/file/sub", base);
    CHECK_ERR(chroot(path), ENOTDIR, "chroot through a file is ENOTDIR");
    snprintf(path, sizeof path, "%s/loop", base);
    symlink("loop", path);
    CHECK_ERR(chroot(path), ELOOP, "chroot to a symlink loop is ELOOP");
    char *longp = malloc(PATH_MAX + 10);
    memset(longp, 'a', PATH_MAX + 9);
    longp[0] = '/';
    longp[PATH_MAX + 9] = 0;
    CHECK_ERR(chroot(longp), ENAMETOOLONG, "chroot with a path past PATH_MAX is ENAMETOOLONG");
    free(longp);
    if (geteuid() != 0) {
        CHECK_ERR(chroot(base), EPERM, "a non-root chroot is EPERM");
        DONE();
    }
    snprintf(path, sizeof path, "%s/closed", base);
    mkdir(path, 0);
    snprintf(path, sizeof path, "%s/closed/d", base);
    mkdir(path, 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresuid(65534, 65534, 65534) != 0) _exit(90);
        errno = 0;
        _exit(chroot(path) == -1 && errno == EACCES ? 0 : 1);
    }
    CHECK(child_status(pid) == 0, "no search permission on the path is EACCES (before EPERM)");

    CHECK(mkdir(rootdir, 0755) == 0, "make the root");
    snprintf(path, sizeof path, "%s/x", rootdir);
    CHECK(put(path, "inside", 0644) == 0, "the root's /x");
    snprintf(path, sizeof path, "%s/sub", rootdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/abs", rootdir);
    CHECK(symlink("/x", path) == 0, "an absolute symlink /abs -> /x");
    snprintf(path, sizeof path, "%s/sub/rel", rootdir);
    CHECK(symlink("../../../../x", path) == 0, "a relative symlink climbing out");
    snprintf(path, sizeof path, "%s/prog", rootdir);
    CHECK(copy_self(path) == 0, "copy this program into the root (from /proc/self/exe)");

    pid = fork();
    if (pid == 0)
        _exit(chrooted());
    int failed = child_status(pid);
    CHECK(failed == 0, "the chrooted process passed its checks");
    CHECK(access("/tmp", F_OK) == 0, "the parent keeps its root");
    snprintf(path, sizeof path, "%s/sock", rootdir);
    struct stat sst;
    CHECK(lstat(path, &sst) == 0 && S_ISSOCK(sst.st_mode), "the socket file is in the root's directory");

    static const char *made[] = {"root/x", "root/sub/rel", "root/abs", "root/prog", "root/made",
                                 "root/inner/y", "root/sock", "file", "loop", NULL};
    static const char *dirs[] = {"root/sub", "root/inner", "root", "closed/d", "closed", "", NULL};
    for (int i = 0; made[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", base, made[i]);
        unlink(path);
    }
    for (int i = 0; dirs[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", base, dirs[i]);
        rmdir(path);
    }
    CHECK(access(base, F_OK) == -1, "the temp directory is removed");
    DONE();
}
