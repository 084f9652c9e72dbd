/* The emulator out of the guest's reach: the guest gets every fd number its
 * RLIMIT_NOFILE allows and sees exactly its own fds under every spelling of
 * /proc (and /dev/fd); /proc/self/mem is the guest's memory at guest
 * addresses (EIO on unmapped pages, short transfers at the boundary); maps
 * and exe are the guest's; no ELFUSE_* variable is visible anywhere, across
 * fork and execve; and the emulator's warnings never land in the guest's
 * fd 2 (redirected to a file here, before and after an execve).
 * The same checks hold natively on Linux. */
/* qemu-differs: qemu-user passes /proc/self/fd, fdinfo and mem through from the host (its own fds and memory) */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

extern char **environ;
static char buf[1 << 16];
static char errlog[] = "/tmp/t_proc_isolation_err_XXXXXX";

static long slurp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += r;
    }
    close(fd);
    buf[n] = 0;
    return n;
}

static int has_elfuse(long n) { return n > 0 && memmem(buf, n, "ELFUSE", 6) != NULL; }

static void check_env(const char *when) {
    char what[160], p[96];
    int leak = 0;
    for (char **e = environ; *e; e++) if (strncmp(*e, "ELFUSE", 6) == 0) leak = 1;
    snprintf(what, sizeof what, "%s: no ELFUSE_ variable in environ", when);
    CHECK(!leak, what);
    const char *files[] = {"/proc/self/environ", "/proc/thread-self/environ", p, NULL};
    snprintf(p, sizeof p, "/proc/self/task/%ld/environ", (long)syscall(SYS_gettid));
    for (int i = 0; files[i]; i++) {
        long n = slurp(files[i]);
        snprintf(what, sizeof what, "%s: %s readable, no ELFUSE_", when, files[i]);
        CHECK(n >= 0 && !has_elfuse(n), what);
    }
}

/* Every spelling of this process's fd directory. */
static int spellings(char out[][96], int max) {
    long pid = getpid(), tid = syscall(SYS_gettid);
    int n = 0;
    snprintf(out[n++], 96, "/proc/self/fd");
    snprintf(out[n++], 96, "/proc/self/fdinfo");
    snprintf(out[n++], 96, "/proc/thread-self/fd");
    snprintf(out[n++], 96, "/proc/%ld/fd", pid);
    snprintf(out[n++], 96, "/proc/%ld/task/%ld/fd", pid, tid);
    snprintf(out[n++], 96, "/proc/self/task/%ld/fdinfo", tid);
    snprintf(out[n++], 96, "/proc/self/../self/fd");
    snprintf(out[n++], 96, "//proc/self/fd");
    snprintf(out[n++], 96, "/proc/./self/fd");
    snprintf(out[n++], 96, "/proc/self/root/proc/self/fd");
    snprintf(out[n++], 96, "/dev/fd");
    return n < max ? n : max;
}

static void fds_checks(void) {
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64, "getrlimit(RLIMIT_NOFILE)");
    int top = (int)rl.rlim_cur - 1;
    CHECK(dup2(0, top) == top, "dup2 onto RLIMIT_NOFILE-1");
    close(top);
    CHECK(fcntl(0, F_DUPFD, top) == top, "F_DUPFD at RLIMIT_NOFILE-1 gives it");
    CHECK(fcntl(0, F_DUPFD_CLOEXEC, top - 1) == top - 1, "F_DUPFD_CLOEXEC at RLIMIT_NOFILE-2");
    CHECK_ERR(dup2(0, top + 1), EBADF, "dup2 onto RLIMIT_NOFILE is EBADF");
    CHECK_ERR(fcntl(0, F_DUPFD, top + 1), EINVAL, "F_DUPFD at RLIMIT_NOFILE is EINVAL");
    CHECK_ERR(fcntl(0, F_DUPFD, top), EMFILE, "F_DUPFD with the top fds taken is EMFILE");

    /* /proc/self/fd lists exactly the fds that are open */
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL, "opendir /proc/self/fd");
    static unsigned char open_now[1 << 20];
    int limit = top + 1 < (int)sizeof open_now ? top + 1 : (int)sizeof open_now;
    int nopen = 0;
    for (int fd = 0; fd < limit; fd++)
        if ((open_now[fd] = fcntl(fd, F_GETFD) >= 0)) nopen++;
    int listed = 0, wrong = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        listed++;
        if (fd < 0 || fd >= limit || !open_now[fd]) { wrong++; printf("# listed, not open: %s\n", e->d_name); }
    }
    if (d) closedir(d);
    CHECK(listed == nopen && wrong == 0, "/proc/self/fd lists exactly the open fds");

    char sp[16][96];
    int ns = spellings(sp, 16);
    for (int i = 0; i < ns; i++) {
        int bad = 0;
        char p[160], what[300];
        for (int n = top + 1; n < top + 300; n++) {
            snprintf(p, sizeof p, "%s/%d", sp[i], n);
            int fd = open(p, O_RDONLY);
            if (fd >= 0) { bad++; close(fd); }
            else if (errno != ENOENT) bad++;
            struct stat st;
            if (lstat(p, &st) == 0) bad++;
        }
        for (int n = 3; n < 300; n++) {
            if (open_now[n]) continue;
            snprintf(p, sizeof p, "%s/%d", sp[i], n);
            int fd = open(p, O_RDONLY);
            if (fd >= 0) { bad++; close(fd); }
        }
        snprintf(what, sizeof what, "%s/N: only the guest's open fds", sp[i]);
        CHECK(bad == 0, what);
        DIR *dd = opendir(sp[i]);
        int extra = 0;
        while (dd && (e = readdir(dd))) {
            if (e->d_name[0] == '.') continue;
            int fd = atoi(e->d_name);
            if (fd > top || (fd >= 0 && fd < limit && !open_now[fd] && fd != dirfd(dd))) extra++;
        }
        if (dd) closedir(dd);
        snprintf(what, sizeof what, "%s lists no fd of the emulator", sp[i]);
        CHECK(dd != NULL && extra == 0, what);
    }
    /* relative spellings: from a /proc directory fd, from "/", after chdir */
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY);
    int rootfd = open("/", O_RDONLY | O_DIRECTORY);
    char rel[64];
    snprintf(rel, sizeof rel, "self/fd/%d", top + 5);
    CHECK_ERR(openat(procfd, rel, O_RDONLY), ENOENT, "openat(/proc fd, self/fd/N) of a reserved N");
    snprintf(rel, sizeof rel, "proc/self/fd/%d", top + 5);
    CHECK_ERR(openat(rootfd, rel, O_RDONLY), ENOENT, "openat(/ fd, proc/self/fd/N)");
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    CHECK(chdir("/proc/self/fd") == 0, "chdir /proc/self/fd");
    snprintf(rel, sizeof rel, "%d", top + 5);
    CHECK_ERR(open(rel, O_RDONLY), ENOENT, "open(N) relative to /proc/self/fd");
    CHECK(chdir("/") == 0, "chdir /");
    snprintf(rel, sizeof rel, "proc/self/fd/%d", top + 5);
    CHECK_ERR(open(rel, O_RDONLY), ENOENT, "open(proc/self/fd/N) relative to /");
    CHECK(chdir(cwd) == 0, "chdir back");
    /* (links the guest makes into /proc: guest-bins/src/proc_links.c) */
    close(procfd);
    close(rootfd);
    close(top);
    close(top - 1);

    /* The guest's own limit: raising the soft limit to the hard one gives the range. */
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (1u << 20) && rl.rlim_max > rl.rlim_cur) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        CHECK(setrlimit(RLIMIT_NOFILE, &up) == 0, "raise the soft limit to the hard one");
        CHECK(dup2(0, (int)rl.rlim_max - 1) == (int)rl.rlim_max - 1, "dup2 onto the hard limit - 1");
        close((int)rl.rlim_max - 1);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static volatile uint64_t target = 0x1122334455667788ull;
static const uint64_t readonly_value = 0x0102030405060708ull;

static void mem_checks(void) {
    char p[96], what[160];
    const char *names[4] = {"/proc/self/mem", "/proc/thread-self/mem", p, NULL};
    snprintf(p, sizeof p, "/proc/%ld/task/%ld/mem", (long)getpid(), (long)syscall(SYS_gettid));
    for (int i = 0; names[i]; i++) {
        int fd = open(names[i], O_RDWR);
        snprintf(what, sizeof what, "open %s O_RDWR", names[i]);
        CHECK(fd >= 0, what);
        uint64_t v = 0;
        snprintf(what, sizeof what, "%s: pread at a guest address", names[i]);
        CHECK(pread(fd, &v, 8, (off_t)(uintptr_t)&target) == 8 && v == target, what);
        uint64_t nv = 0xfeedface00000000ull + i;
        snprintf(what, sizeof what, "%s: pwrite at a guest address", names[i]);
        CHECK(pwrite(fd, &nv, 8, (off_t)(uintptr_t)&target) == 8 && target == nv, what);
        close(fd);
    }
    int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    uint64_t v = 0;
    CHECK(lseek(fd, (off_t)(uintptr_t)&target, SEEK_SET) == (off_t)(uintptr_t)&target, "lseek to a guest address");
    CHECK(read(fd, &v, 8) == 8 && v == target, "read at the offset");
    CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)(uintptr_t)&target + 8, "read moved the offset");
    uint64_t w = 42;
    CHECK(lseek(fd, (off_t)(uintptr_t)&target, SEEK_SET) >= 0 && write(fd, &w, 8) == 8 && target == 42,
          "write at the offset");
    /* a read-only private mapping is written as by a debugger (FOLL_FORCE) */
    uint64_t ro = 0x99;
    CHECK(pwrite(fd, &ro, 8, (off_t)(uintptr_t)&readonly_value) == 8 &&
          *(volatile const uint64_t *)&readonly_value == 0x99, "pwrite into a read-only private page");
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && munmap(m + pg, pg) == 0, "a mapped page followed by an unmapped one");
    memset(m, 'x', pg);
    CHECK(pread(fd, buf, 256, (off_t)(uintptr_t)(m + pg - 100)) == 100, "short read at the boundary");
    CHECK(pwrite(fd, buf, 256, (off_t)(uintptr_t)(m + pg - 50)) == 50, "short write at the boundary");
    CHECK_ERR(pread(fd, buf, 8, (off_t)(uintptr_t)(m + pg)), EIO, "pread of an unmapped page is EIO");
    CHECK_ERR(pwrite(fd, buf, 8, (off_t)(uintptr_t)(m + pg)), EIO, "pwrite of an unmapped page is EIO");
    CHECK_ERR(pread(fd, buf, 8, 0), EIO, "pread at address 0 is EIO");
    close(fd);
    int rfd = open("/proc/self/mem", O_RDONLY);
    CHECK_ERR(pwrite(rfd, &w, 8, (off_t)(uintptr_t)&target), EBADF, "pwrite on an O_RDONLY mem fd is EBADF");
    close(rfd);

    /* maps: every spelling shows the guest's mappings (this mmap at its address) */
    char line[64];
    snprintf(line, sizeof line, "%lx-", (unsigned long)(uintptr_t)m);
    const char *maps[4] = {"/proc/self/maps", "/proc/thread-self/maps", p, NULL};
    snprintf(p, sizeof p, "/proc/self/task/%ld/maps", (long)syscall(SYS_gettid));
    for (int i = 0; maps[i]; i++) {
        long n = slurp(maps[i]);
        snprintf(what, sizeof what, "%s shows the guest's mappings only", maps[i]);
        CHECK(n > 0 && strstr(buf, line) && !strstr(buf, "python") && !strstr(buf, "unicorn"), what);
    }
    munmap(m, pg);
}

static void exe_check(const char *argv0) {
    char a[PATH_MAX], b[PATH_MAX], p[96];
    ssize_t n = readlink("/proc/self/exe", a, sizeof a - 1);
    a[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && realpath(argv0, b) && strcmp(a, b) == 0, "/proc/self/exe is the program");
    snprintf(p, sizeof p, "/proc/self/task/%ld/exe", (long)syscall(SYS_gettid));
    n = readlink(p, b, sizeof b - 1);
    b[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && strcmp(a, b) == 0, "/proc/self/task/TID/exe is the program");
}

/* An unknown syscall number: the emulator warns (once), never into our fd 2. */
static void diag_check(const char *when, long nr) {
    char what[128];
    errno = 0;
    long r = syscall(nr);
    snprintf(what, sizeof what, "%s: unknown syscall %ld is ENOSYS", when, nr);
    CHECK(r == -1 && errno == ENOSYS, what);
    long n = slurp(errlog);
    snprintf(what, sizeof what, "%s: nothing of the emulator in the guest's redirected fd 2", when);
    CHECK(n == 0, what);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        strcpy(errlog, argv[2]);
        check_env("after execve");
        diag_check("after execve", 1997);
        unlink(errlog);
        DONE();
    }
    fds_checks();
    mem_checks();
    exe_check(argv[0]);
    check_env("start");

    pid_t child = fork();
    if (child == 0) {
        guest_failures = 0;            /* the child's own checks */
        check_env("fork child");
        char p[64];
        snprintf(p, sizeof p, "/proc/%ld/environ", (long)getppid());
        long n = slurp(p);
        CHECK(n > 0 && !has_elfuse(n), "the parent's /proc/PID/environ: no ELFUSE_");
        snprintf(p, sizeof p, "/proc/%ld/fd", (long)getppid());
        DIR *d = opendir(p);
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        int extra = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) if (e->d_name[0] != '.' && atol(e->d_name) >= (long)rl.rlim_cur) extra++;
        if (d) closedir(d);
        CHECK(extra == 0, "the parent's /proc/PID/fd: no fd of its emulator");
        exit(guest_failures);
    }
    int st;
    waitpid(child, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child's checks");

    int lfd = mkstemp(errlog);
    CHECK(lfd >= 0 && dup2(lfd, 2) == 2, "fd 2 redirected to a file");
    close(lfd);
    diag_check("start", 1999);
    diag_check("start, again", 1998);
    fflush(stdout);
    char *args[] = {argv[0], "after-exec", errlog, NULL};
    execv(argv[0], args);
    CHECK(0, "execv");
    DONE();
}
