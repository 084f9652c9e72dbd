/* /proc as a Linux program reads it: the process's own files, its fds and
 * threads, a forked child seen from the parent, and the machine's files.
 * Every value is checked against what the program can learn otherwise
 * (getpid, getrlimit, uname, sysinfo, fstat...), so the same checks hold
 * natively on Linux, under elfuse-py on Linux (the guest's own files
 * synthesised, the rest the host's) and under the macOS host model (all of
 * /proc synthesised from the emulator's state). */
/* qemu-differs: qemu-user 7.2 passes most of /proc through from the host (its own stat fields, comm, environ, threads, child cmdline): 21 checks differ */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

extern char **environ;
static char buf[1 << 16];
static char self_name[64];
static const char *self_argv0;

/* The whole file into buf (NUL-terminated); its length, or -1. */
static long slurp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0) { close(fd); return -1; }
        if (r == 0) break;
        n += r;
    }
    close(fd);
    buf[n] = 0;
    return n;
}

/* The value after "Key:" in a status-style text, or NULL. */
static const char *field(const char *text, const char *key) {
    size_t k = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, k) == 0 && p[k] == ':') {
            p += k + 1;
            while (*p == ' ' || *p == '\t') p++;
            return p;
        }
    }
    return NULL;
}

static long long num_field(const char *text, const char *key) {
    const char *v = field(text, key);
    return v ? strtoll(v, NULL, 10) : -1;
}

static unsigned long long hex_field(const char *text, const char *key) {
    const char *v = field(text, key);
    return v ? strtoull(v, NULL, 16) : 0;
}

/* /proc/.../stat split after the comm's closing parenthesis: fields 3.. into f[3..]. */
static int stat_fields(const char *text, char *comm, size_t commsz, char f[][32], int max) {
    const char *open_p = strchr(text, '('), *close_p = strrchr(text, ')');
    if (!open_p || !close_p) return 0;
    size_t n = close_p - open_p - 1;
    if (n >= commsz) n = commsz - 1;
    memcpy(comm, open_p + 1, n);
    comm[n] = 0;
    int i = 3;
    const char *p = close_p + 1;
    while (*p && i < max) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n') break;
        int len = 0;
        while (p[len] && p[len] != ' ' && p[len] != '\n') len++;
        snprintf(f[i], 32, "%.*s", len, p);
        p += len;
        i++;
    }
    return i - 1;                         /* fields counted, pid and comm included */
}

static int dir_has(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, name) == 0) found = 1;
    closedir(d);
    return found;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void nap_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double read_uptime(void) {
    if (slurp("/proc/uptime") < 0) return -1;
    return strtod(buf, NULL);
}

static char stat_state(const char *path) {
    char comm[64], f[64][32];
    if (slurp(path) < 0) return '?';
    if (stat_fields(buf, comm, sizeof comm, f, 64) < 3) return '?';
    return f[3][0];
}

/* ----- the process's own files ---------------------------------------------------- */

static void on_hup(int sig) { (void)sig; }

static void test_status_and_stat(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, on_hup);
    mode_t old = umask(027);

    CHECK(slurp("/proc/self/status") > 0, "read /proc/self/status");
    CHECK(field(buf, "Name") && strncmp(field(buf, "Name"), self_name, strlen(self_name)) == 0,
          "status Name is the program's name");
    CHECK(field(buf, "Umask") && strncmp(field(buf, "Umask"), "0027", 4) == 0, "status Umask follows umask()");
    CHECK(field(buf, "State") && field(buf, "State")[0] == 'R', "status State is R (running)");
    CHECK(num_field(buf, "Pid") == getpid(), "status Pid is getpid()");
    CHECK(num_field(buf, "Tgid") == getpid(), "status Tgid is getpid()");
    CHECK(num_field(buf, "PPid") == getppid(), "status PPid is getppid()");
    CHECK(num_field(buf, "Uid") == (long long)getuid(), "status Uid is getuid()");
    CHECK(num_field(buf, "Gid") == (long long)getgid(), "status Gid is getgid()");
    CHECK(field(buf, "Groups") != NULL, "status has Groups");
    CHECK(num_field(buf, "Threads") == 1, "status Threads is 1");
    long long vmsize = num_field(buf, "VmSize"), vmrss = num_field(buf, "VmRSS");
    CHECK(vmsize > 0 && vmrss > 0 && vmrss <= vmsize, "status VmSize > 0 and 0 < VmRSS <= VmSize");
    CHECK(hex_field(buf, "SigBlk") & (1ULL << (SIGUSR1 - 1)), "status SigBlk has the blocked SIGUSR1");
    CHECK(hex_field(buf, "SigIgn") & (1ULL << (SIGUSR2 - 1)), "status SigIgn has the ignored SIGUSR2");
    CHECK(hex_field(buf, "SigCgt") & (1ULL << (SIGHUP - 1)), "status SigCgt has the caught SIGHUP");
    CHECK(!(hex_field(buf, "SigCgt") & (1ULL << (SIGUSR2 - 1))), "status SigCgt leaves SIGUSR2 out");
    CHECK(field(buf, "SigQ") && field(buf, "SigPnd") && field(buf, "ShdPnd"), "status has SigQ, SigPnd, ShdPnd");
    CHECK(field(buf, "Cpus_allowed") && field(buf, "Cpus_allowed_list"), "status has Cpus_allowed");
    umask(old);

    char comm[64], f[64][32];
    CHECK(slurp("/proc/self/stat") > 0, "read /proc/self/stat");
    int n = stat_fields(buf, comm, sizeof comm, f, 64);
    CHECK(n >= 52, "stat has at least 52 fields");
    CHECK(strcmp(comm, self_name) == 0, "stat comm is the program's name");
    CHECK(f[3][0] == 'R', "stat state is R");
    CHECK(atoll(f[4]) == getppid(), "stat ppid is getppid()");
    CHECK(atoll(f[5]) == getpgrp(), "stat pgrp is getpgrp()");
    CHECK(atoll(f[6]) == getsid(0), "stat session is getsid(0)");
    CHECK(atoll(f[20]) == 1, "stat num_threads is 1");
    CHECK(strtoull(f[22], NULL, 10) > 0, "stat starttime > 0");
    CHECK(strtoull(f[23], NULL, 10) > 0, "stat vsize > 0");   /* rss may lag natively (split counters) */
    CHECK((strtoull(f[32], NULL, 10) >> (SIGUSR1 - 1)) & 1, "stat blocked has SIGUSR1");
    CHECK(atoll(f[38]) == SIGCHLD, "stat exit_signal is SIGCHLD");

    CHECK(slurp("/proc/self/statm") > 0, "read /proc/self/statm");
    unsigned long sm[7];
    int got = sscanf(buf, "%lu %lu %lu %lu %lu %lu %lu", &sm[0], &sm[1], &sm[2], &sm[3], &sm[4], &sm[5], &sm[6]);
    CHECK(got == 7 && sm[0] > 0 && sm[1] > 0 && sm[1] <= sm[0], "statm: 7 numbers, 0 < resident <= size");

    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGUSR2, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

static void test_cmdline_environ_comm(char **argv) {
    long n = slurp("/proc/self/cmdline");
    char want[8192];
    size_t w = 0;
    for (char **a = argv; *a && w + strlen(*a) + 1 < sizeof want; a++) {
        memcpy(want + w, *a, strlen(*a) + 1);
        w += strlen(*a) + 1;
    }
    CHECK(n == (long)w && memcmp(buf, want, w) == 0, "cmdline is argv, NUL-separated");

    n = slurp("/proc/self/environ");
    size_t e = 0;
    int same = n >= 0;
    for (char **v = environ; same && *v; v++) {
        size_t len = strlen(*v) + 1;
        if (e + len > (size_t)n || memcmp(buf + e, *v, len) != 0) same = 0;
        e += len;
    }
    CHECK(same && e == (size_t)n, "environ is the initial environment, NUL-separated");

    char want_comm[80];
    snprintf(want_comm, sizeof want_comm, "%s\n", self_name);
    CHECK(slurp("/proc/self/comm") > 0 && strcmp(buf, want_comm) == 0, "comm is the program's name");
    prctl(PR_SET_NAME, "renamed", 0, 0, 0);
    CHECK(slurp("/proc/self/comm") > 0 && strcmp(buf, "renamed\n") == 0, "comm follows PR_SET_NAME");
    char comm[64], f[64][32];
    CHECK(slurp("/proc/self/stat") > 0 && stat_fields(buf, comm, sizeof comm, f, 64) && strcmp(comm, "renamed") == 0,
          "stat comm follows PR_SET_NAME");
    int fd = open("/proc/self/comm", O_WRONLY);
    CHECK(fd >= 0, "open /proc/self/comm for writing");
    CHECK(write(fd, "written", 7) == 7, "write a new name into comm");
    close(fd);
    char name[17] = {0};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    CHECK(strcmp(name, "written") == 0, "PR_GET_NAME sees the name written to comm");
    CHECK(slurp("/proc/self/status") > 0 && field(buf, "Name") && strncmp(field(buf, "Name"), "written\n", 8) == 0,
          "status Name sees it too");
    prctl(PR_SET_NAME, self_name, 0, 0, 0);
}

static void test_links(const char *argv0) {
    char link[PATH_MAX], cwd[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", link, sizeof link - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    link[n > 0 ? n : 0] = 0;
    const char *base = strrchr(link, '/');
    CHECK(link[0] == '/' && base && strcmp(base + 1, self_name) == 0, "exe is an absolute path to the program");
    struct stat a, b;
    CHECK(stat("/proc/self/exe", &a) == 0 && stat(argv0, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
          "stat through /proc/self/exe is the program file");
    CHECK(lstat("/proc/self/exe", &a) == 0 && S_ISLNK(a.st_mode), "lstat /proc/self/exe is a link");

    n = readlink("/proc/self/cwd", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    CHECK(n > 0 && getcwd(cwd, sizeof cwd) && strcmp(link, cwd) == 0, "cwd link is getcwd()");
    n = readlink("/proc/self/root", link, sizeof link - 1);
    CHECK(n == 1 && link[0] == '/', "root link is /");

    char self[32], want[32];
    n = readlink("/proc/self", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "%d", getpid());
    CHECK(n > 0 && strcmp(self, want) == 0, "/proc/self links to the pid");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", getpid());
    CHECK(stat(path, &b) == 0 && stat("/proc/self/exe", &a) == 0 && a.st_ino == b.st_ino, "/proc/PID/exe is /proc/self/exe");

    CHECK(stat("/proc/self/status", &a) == 0 && S_ISREG(a.st_mode), "/proc/self/status is a regular file");
    CHECK(stat("/proc/self", &a) == 0 && S_ISDIR(a.st_mode), "/proc/self is a directory");
    CHECK(lstat("/proc/self", &a) == 0 && S_ISLNK(a.st_mode), "lstat /proc/self is a link");
    CHECK(stat("/proc/self/fd", &a) == 0 && S_ISDIR(a.st_mode), "/proc/self/fd is a directory");
    CHECK(access("/proc/self/status", R_OK) == 0, "/proc/self/status is readable");

    int dfd = open("/proc/self", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open /proc/self as a directory");
    int sfd = openat(dfd, "status", O_RDONLY);
    char tmp[64] = {0};
    CHECK(sfd >= 0 && read(sfd, tmp, 5) == 5 && strcmp(tmp, "Name:") == 0, "openat(/proc/self, \"status\") reads status");
    if (sfd >= 0) close(sfd);
    CHECK(fstatat(dfd, "task", &a, 0) == 0 && S_ISDIR(a.st_mode), "fstatat(/proc/self, \"task\") is a directory");
    n = readlinkat(dfd, "exe", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    base = strrchr(link, '/');
    CHECK(n > 0 && base && strcmp(base + 1, self_name) == 0, "readlinkat(/proc/self, \"exe\")");
    close(dfd);
    CHECK(dir_has("/proc/self", "status") && dir_has("/proc/self", "maps") && dir_has("/proc/self", "fd")
          && dir_has("/proc/self", "task") && dir_has("/proc/self", "exe"), "/proc/self lists status, maps, fd, task, exe");
    CHECK(dir_has("/proc", "self") && dir_has("/proc", want) && dir_has("/proc", "meminfo")
          && dir_has("/proc", "cpuinfo"), "/proc lists self, the pid, meminfo, cpuinfo");
}

static int fd_listed(int fd) {
    char name[16];
    snprintf(name, sizeof name, "%d", fd);
    return dir_has("/proc/self/fd", name);
}

static void test_fds(void) {
    int fd = open("pp.file", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0, "create a file");
    CHECK(write(fd, "hello", 5) == 5, "write 5 bytes");
    CHECK(fd_listed(fd), "/proc/self/fd lists the new fd");

    /* Every fd listed is open, and every open fd (of the first 1024) is listed. */
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL, "opendir /proc/self/fd");
    int listed[1024] = {0}, all_open = 1, count = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int n = atoi(e->d_name);
        if (n == dirfd(d)) { if (n < 1024) listed[n] = 1; continue; }
        if (fcntl(n, F_GETFD) < 0) all_open = 0;
        if (n < 1024) listed[n] = 1;
        count++;
    }
    int all_listed = 1;
    for (int i = 0; i < 1024; i++)
        if (fcntl(i, F_GETFD) >= 0 && !listed[i]) all_listed = 0;
    if (d) closedir(d);
    CHECK(all_open && count > 0, "every fd listed is open in the program");
    CHECK(all_listed, "every fd the program has open is listed (its own dir fd too)");

    char path[64], link[PATH_MAX], want[PATH_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    CHECK(getcwd(want, sizeof want - 16) != NULL, "getcwd");
    strcat(want, "/pp.file");
    CHECK(n > 0 && strcmp(link, want) == 0, "readlink fd/N is the file's absolute path");
    struct stat a, b;
    CHECK(stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino, "stat through fd/N is the open file");

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    CHECK(slurp(path) > 0, "read fdinfo/N");
    CHECK(num_field(buf, "pos") == 5, "fdinfo pos is the file offset");
    const char *fl = field(buf, "flags");
    unsigned long flags = fl ? strtoul(fl, NULL, 8) : 0;
    CHECK(fl && (flags & O_ACCMODE) == O_RDWR, "fdinfo flags have O_RDWR");
    CHECK(flags & O_CLOEXEC, "fdinfo flags have O_CLOEXEC");
    CHECK(field(buf, "mnt_id") != NULL, "fdinfo has mnt_id");

    /* (a number above the rest: the listing's own opendir takes the lowest free one) */
    int hi = fcntl(fd, F_DUPFD, 200);
    CHECK(hi >= 200 && fd_listed(hi), "a dup'd fd is listed");
    close(hi);
    CHECK(!fd_listed(hi), "a closed fd is no longer listed");
    close(fd);
    snprintf(path, sizeof path, "/proc/self/fd/%d", hi);
    CHECK_ERR(readlink(path, link, sizeof link), ENOENT, "readlink of a closed fd/N is ENOENT");
    unlink("pp.file");
}

static void test_limits_mounts_auxv(void) {
    CHECK(slurp("/proc/self/limits") > 0, "read /proc/self/limits");
    CHECK(strncmp(buf, "Limit ", 6) == 0, "limits starts with its header");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    const char *line = strstr(buf, "Max open files");
    char want[32];
    if (rl.rlim_cur == RLIM_INFINITY) snprintf(want, sizeof want, "unlimited");
    else snprintf(want, sizeof want, "%llu", (unsigned long long)rl.rlim_cur);
    CHECK(line && strncmp(line + 26, want, strlen(want)) == 0 && line[26 + strlen(want)] == ' ',
          "limits Max open files is getrlimit's soft limit");
    getrlimit(RLIMIT_STACK, &rl);
    line = strstr(buf, "Max stack size");
    if (rl.rlim_cur == RLIM_INFINITY) snprintf(want, sizeof want, "unlimited");
    else snprintf(want, sizeof want, "%llu", (unsigned long long)rl.rlim_cur);
    CHECK(line && strncmp(line + 26, want, strlen(want)) == 0, "limits Max stack size is getrlimit's");

    CHECK(slurp("/proc/self/mounts") > 0, "read /proc/self/mounts");
    int root = 0, procfs = 0;
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char dev[256], dir[256], type[64];
        if (sscanf(l, "%255s %255s %63s", dev, dir, type) == 3) {
            if (strcmp(dir, "/") == 0) root = 1;
            if (strcmp(dir, "/proc") == 0 && strcmp(type, "proc") == 0) procfs = 1;
        }
    }
    CHECK(root && procfs, "mounts has / and a proc /proc");
    CHECK(slurp("/proc/mounts") > 0 && strstr(buf, " /proc proc "), "/proc/mounts is the same");
    CHECK(slurp("/proc/self/mountinfo") > 0, "read /proc/self/mountinfo");
    int ok = 0;
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int id, parent;
        char devno[32], r[256], mnt[256];
        if (sscanf(l, "%d %d %31s %255s %255s", &id, &parent, devno, r, mnt) == 5 && strcmp(mnt, "/") == 0
            && strstr(l, " - "))
            ok = 1;
    }
    CHECK(ok, "mountinfo has the root mount");

    long n = slurp("/proc/self/auxv");
    int pagesz = 0;
    for (long i = 0; i + 16 <= n; i += 16) {
        uint64_t *a = (uint64_t *)(buf + i);
        if (a[0] == AT_PAGESZ && a[1] == getauxval(AT_PAGESZ)) pagesz = 1;
        if (a[0] == AT_NULL) break;
    }
    CHECK(pagesz, "auxv has getauxval's AT_PAGESZ");
    n = slurp("/proc/self/maps");
    CHECK(n > 0 && strstr(buf, "[stack]"), "maps has the stack");
}

/* ----- threads ----------------------------------------------------------------------- */

static int ready_pipe[2], go_pipe[2];
static volatile long thread_tid;
static char thread_self_link[96];

static void *blocker(void *arg) {
    (void)arg;
    thread_tid = syscall(SYS_gettid);
    ssize_t n = readlink("/proc/thread-self", thread_self_link, sizeof thread_self_link - 1);
    if (n > 0) thread_self_link[n] = 0;
    char c = 1;
    write(ready_pipe[1], &c, 1);
    read(go_pipe[0], &c, 1);
    return NULL;
}

static void test_threads(void) {
    pipe(ready_pipe);
    pipe(go_pipe);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, blocker, NULL) == 0, "start a second thread");
    char c;
    read(ready_pipe[0], &c, 1);
    char tid[32], pid[32], path[128], want[96];
    snprintf(tid, sizeof tid, "%ld", thread_tid);
    snprintf(pid, sizeof pid, "%d", getpid());
    CHECK(count_entries("/proc/self/task") == 2, "/proc/self/task lists two threads");
    CHECK(dir_has("/proc/self/task", pid) && dir_has("/proc/self/task", tid), "task lists the pid and the new tid");
    snprintf(want, sizeof want, "%s/task/%s", pid, tid);
    CHECK(strcmp(thread_self_link, want) == 0, "/proc/thread-self in the thread is PID/task/TID");
    char link[96];
    ssize_t n = readlink("/proc/thread-self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "%s/task/%s", pid, pid);
    CHECK(n > 0 && strcmp(link, want) == 0, "/proc/thread-self in the main thread is PID/task/PID");

    snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
    char state = '?';
    for (int i = 0; i < 300 && (state = stat_state(path)) != 'S'; i++) nap_ms(10);
    CHECK(state == 'S', "the blocked thread's stat state is S");
    char comm[64], f[64][32];
    CHECK(slurp(path) > 0 && stat_fields(buf, comm, sizeof comm, f, 64) >= 52, "read task/TID/stat");
    CHECK(atol(buf) == thread_tid, "task/TID/stat names the thread");
    CHECK(atoll(f[20]) == 2, "task/TID/stat num_threads is 2");
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    CHECK(slurp(path) > 0 && num_field(buf, "Pid") == thread_tid && num_field(buf, "Tgid") == getpid(),
          "task/TID/status: Pid is the tid, Tgid the pid");
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", tid);
    CHECK(slurp(path) > 0 && strncmp(buf, self_name, strlen(self_name)) == 0, "task/TID/comm");
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/task/%s", tid);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "task/TID is a directory");
    CHECK(slurp("/proc/self/status") > 0 && num_field(buf, "Threads") == 2, "status Threads is 2");
    CHECK(slurp("/proc/self/stat") > 0 && stat_fields(buf, comm, sizeof comm, f, 64) && atoll(f[20]) == 2,
          "stat num_threads is 2");

    write(go_pipe[1], &c, 1);
    pthread_join(th, NULL);
    close(ready_pipe[0]); close(ready_pipe[1]); close(go_pipe[0]); close(go_pipe[1]);
}

/* ----- another process --------------------------------------------------------------- */

static void test_child(void) {
    int to_child[2], from_child[2];
    pipe(to_child);
    pipe(from_child);
    pid_t child = fork();
    if (child == 0) {
        char c = 1;
        close(to_child[1]);
        write(from_child[1], &c, 1);
        while (read(to_child[0], &c, 1) > 0) {}
        _exit(0);
    }
    CHECK(child > 0, "fork a child");
    close(to_child[0]);
    close(from_child[1]);
    char c, path[64], cpid[32];
    read(from_child[0], &c, 1);
    snprintf(cpid, sizeof cpid, "%d", child);

    snprintf(path, sizeof path, "/proc/%d/stat", child);
    char state = '?';
    for (int i = 0; i < 300 && (state = stat_state(path)) != 'S'; i++) nap_ms(10);
    CHECK(state == 'S', "the blocked child's stat state is S");
    char comm[64], f[64][32];
    CHECK(slurp(path) > 0 && stat_fields(buf, comm, sizeof comm, f, 64) >= 52, "read /proc/CHILD/stat");
    CHECK(atol(buf) == child && strcmp(comm, self_name) == 0, "child stat: its pid and name");
    CHECK(atoll(f[4]) == getpid(), "child stat ppid is the parent");
    snprintf(path, sizeof path, "/proc/%d/cmdline", child);
    long n = slurp(path);
    CHECK(n > 0 && strcmp(buf, self_argv0) == 0, "child cmdline is the program's");
    snprintf(path, sizeof path, "/proc/%d/comm", child);
    char want[80];
    snprintf(want, sizeof want, "%s\n", self_name);
    CHECK(slurp(path) > 0 && strcmp(buf, want) == 0, "child comm");
    snprintf(path, sizeof path, "/proc/%d/status", child);
    CHECK(slurp(path) > 0 && num_field(buf, "Pid") == child && num_field(buf, "PPid") == getpid(),
          "child status: Pid, PPid");
    CHECK(dir_has("/proc", cpid), "/proc lists the child");

    close(to_child[1]);                         /* the child reads EOF and exits */
    siginfo_t si;
    CHECK(waitid(P_PID, child, &si, WEXITED | WNOWAIT) == 0, "waitid WNOWAIT: the child has exited");
    snprintf(path, sizeof path, "/proc/%d/stat", child);
    CHECK(stat_state(path) == 'Z', "the exited, unreaped child is a zombie (Z)");
    snprintf(path, sizeof path, "/proc/%d/cmdline", child);
    CHECK(slurp(path) == 0, "a zombie's cmdline is empty");
    CHECK(waitpid(child, NULL, 0) == child, "reap the child");
    snprintf(path, sizeof path, "/proc/%d/stat", child);
    CHECK_ERR(open(path, O_RDONLY), ENOENT, "a reaped child's /proc/PID/stat is ENOENT");
    close(from_child[0]);

    /* A pid nobody has. */
    long maxpid = slurp("/proc/sys/kernel/pid_max") > 0 ? atol(buf) : 32768;
    pid_t none = 0;
    for (pid_t p = maxpid - 1; p > 300; p--)
        if (kill(p, 0) < 0 && errno == ESRCH) { none = p; break; }
    snprintf(path, sizeof path, "/proc/%d/stat", none);
    CHECK_ERR(open(path, O_RDONLY), ENOENT, "/proc/PID of a pid nobody has is ENOENT");
    snprintf(path, sizeof path, "/proc/%d", none);
    CHECK_ERR(access(path, F_OK), ENOENT, "access /proc/PID of nobody is ENOENT");
}

/* ----- the machine --------------------------------------------------------------------- */

static int is_uuid(const char *s) {
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n";
    for (int i = 0; shape[i]; i++) {
        if (shape[i] == 'x' ? !s[i] || !strchr("0123456789abcdef", s[i]) : s[i] != shape[i]) return 0;
    }
    return 1;
}

static void test_system(void) {
    CHECK(slurp("/proc/meminfo") > 0, "read /proc/meminfo");
    long long total = num_field(buf, "MemTotal"), freemem = num_field(buf, "MemFree");
    CHECK(total > 0, "meminfo MemTotal > 0");
    CHECK(freemem >= 0 && freemem <= total, "meminfo 0 <= MemFree <= MemTotal");
    CHECK(field(buf, "MemAvailable") && field(buf, "SwapTotal"), "meminfo has MemAvailable and SwapTotal");

    double u1 = read_uptime();
    nap_ms(60);
    double u2 = read_uptime();
    CHECK(u1 > 0 && u2 > u1, "uptime increases");
    struct sysinfo si;
    sysinfo(&si);
    CHECK(u1 - si.uptime < 3 && si.uptime - u1 < 3, "uptime agrees with sysinfo()");

    CHECK(slurp("/proc/stat") > 0, "read /proc/stat");
    CHECK(strncmp(buf, "cpu ", 4) == 0 && strstr(buf, "\ncpu0 "), "stat has the cpu and cpu0 lines");
    const char *bt = strstr(buf, "\nbtime ");
    long long btime = bt ? atoll(bt + 7) : 0;
    long long expect = (long long)time(NULL) - (long long)u2;
    CHECK(bt && btime - expect < 3 && expect - btime < 3, "stat btime is now - uptime");

    double l1, l5, l15;
    int running, total_tasks, last;
    CHECK(slurp("/proc/loadavg") > 0 && sscanf(buf, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &running, &total_tasks, &last) == 6
          && l1 >= 0 && l5 >= 0 && l15 >= 0 && running >= 1 && running <= total_tasks && last > 0,
          "loadavg: three loads, running/total, last pid");

    struct utsname u;
    uname(&u);
    CHECK(slurp("/proc/version") > 0 && strncmp(buf, "Linux version ", 14) == 0 && strstr(buf, u.release),
          "version names Linux and uname's release");
    char want[300];
    CHECK(slurp("/proc/sys/kernel/ostype") > 0 && strcmp(buf, "Linux\n") == 0, "sys/kernel/ostype is Linux");
    snprintf(want, sizeof want, "%s\n", u.release);
    CHECK(slurp("/proc/sys/kernel/osrelease") > 0 && strcmp(buf, want) == 0, "sys/kernel/osrelease is uname's release");
    snprintf(want, sizeof want, "%s\n", u.nodename);
    CHECK(slurp("/proc/sys/kernel/hostname") > 0 && strcmp(buf, want) == 0, "sys/kernel/hostname is uname's nodename");
    CHECK(slurp("/proc/sys/kernel/pid_max") > 0 && atol(buf) >= 32768, "sys/kernel/pid_max");
    char id1[64], id2[64];
    CHECK(slurp("/proc/sys/kernel/random/boot_id") == 37 && is_uuid(buf), "boot_id is a UUID");
    strcpy(id1, buf);
    CHECK(slurp("/proc/sys/kernel/random/boot_id") == 37 && strcmp(buf, id1) == 0, "boot_id stays the same");
    CHECK(slurp("/proc/sys/kernel/random/uuid") == 37 && is_uuid(buf), "random/uuid is a UUID");
    strcpy(id1, buf);
    CHECK(slurp("/proc/sys/kernel/random/uuid") == 37 && (strcpy(id2, buf), strcmp(id1, id2) != 0), "random/uuid is new each time");
    CHECK(slurp("/proc/sys/vm/overcommit_memory") > 0 && buf[0] >= '0' && buf[0] <= '2' && buf[1] == '\n',
          "sys/vm/overcommit_memory is 0, 1 or 2");
    CHECK(slurp("/proc/sys/fs/file-max") > 0 && atoll(buf) > 0, "sys/fs/file-max > 0");
    CHECK(slurp("/proc/sys/net/core/somaxconn") > 0 && atol(buf) > 0, "sys/net/core/somaxconn > 0");
    CHECK(slurp("/proc/filesystems") > 0 && strstr(buf, "\tproc\n"), "filesystems lists proc");
    CHECK(slurp("/proc/cpuinfo") > 0 && strstr(buf, "processor\t: 0"), "cpuinfo lists processor 0");

    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, "pp.sock");
    unlink("pp.sock");
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(s, 4) == 0, "a listening unix socket");
    struct stat st;
    fstat(s, &st);
    CHECK(slurp("/proc/net/unix") > 0 && strncmp(buf, "Num       RefCount Protocol Flags    Type St Inode Path\n", 56) == 0,
          "net/unix starts with its header");
    int found = 0;
    for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        char num[32], path[256] = "";
        unsigned ref, proto, flags, type, sstate;
        unsigned long ino;
        if (sscanf(l, "%31s %x %x %x %x %x %lu %255s", num, &ref, &proto, &flags, &type, &sstate, &ino, path) == 8
            && strcmp(path, "pp.sock") == 0 && ino == st.st_ino && flags == 0x10000 && type == SOCK_STREAM)
            found = 1;
    }
    CHECK(found, "net/unix lists the listening socket: its path, inode, flags and type");
    close(s);
    unlink("pp.sock");
}

static void test_writes(void) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    CHECK(fd >= 0 && write(fd, "100", 3) == 3, "write oom_score_adj");
    if (fd >= 0) close(fd);
    CHECK(slurp("/proc/self/oom_score_adj") > 0 && strcmp(buf, "100\n") == 0, "oom_score_adj reads back");

    /* Read-only files: EACCES (root may get the open, never the write). */
    const char *ro[] = {"/proc/self/maps", "/proc/self/status", "/proc/meminfo", NULL};
    for (int i = 0; ro[i]; i++) {
        errno = 0;
        int w = open(ro[i], O_WRONLY);
        int refused = w < 0 ? errno == EACCES : write(w, "x", 1) < 0;
        if (w >= 0) close(w);
        char what[96];
        snprintf(what, sizeof what, "writing %s is refused", ro[i]);
        CHECK(refused, what);
    }
    CHECK_ERR(open("/proc/self/nonexistent", O_RDONLY), ENOENT, "a name /proc/self does not have is ENOENT");
    CHECK_ERR(open("/proc/self/status/x", O_RDONLY), ENOTDIR, "a path below a file is ENOTDIR");
    CHECK_ERR(open("/proc/self/fd", O_WRONLY), EISDIR, "writing a directory is EISDIR");
}

int main(int argc, char **argv) {
    (void)argc;
    const char *base = strrchr(argv[0], '/');
    self_argv0 = argv[0];
    snprintf(self_name, sizeof self_name, "%.15s", base ? base + 1 : argv[0]);
    test_status_and_stat();
    test_cmdline_environ_comm(argv);
    test_links(argv[0]);
    test_fds();
    test_limits_mounts_auxv();
    test_threads();
    test_child();
    test_system();
    test_writes();
    DONE();
}
