/* Scheduling priorities and policies, memfd_create, inotify. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* musl stubs the sched_*scheduler/param wrappers as ENOSYS on purpose, so call the kernel. */
static long k_getscheduler(pid_t pid) { return syscall(SYS_sched_getscheduler, pid); }
static long k_getparam(pid_t pid, struct sched_param *p) { return syscall(SYS_sched_getparam, pid, p); }
static long k_setscheduler(pid_t pid, int pol, struct sched_param *p) { return syscall(SYS_sched_setscheduler, pid, pol, p); }

static void test_sched(void) {
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, 0);
    CHECK(errno == 0, "getpriority of self succeeds");
    CHECK(setpriority(PRIO_PROCESS, 0, nice0 + 3) == 0, "setpriority raises nice");
    errno = 0;
    CHECK(getpriority(PRIO_PROCESS, 0) == nice0 + 3 && errno == 0, "getpriority sees the new nice value");
    CHECK_ERR(getpriority(7, 0), EINVAL, "getpriority with a bad 'which' is EINVAL");
    CHECK(k_getscheduler(0) == SCHED_OTHER, "a normal process runs SCHED_OTHER");
    CHECK_ERR(k_getscheduler(-1), EINVAL, "sched_getscheduler(-1) is EINVAL");
    CHECK(sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_FIFO) == 1,
          "SCHED_FIFO priorities are 1..99");
    CHECK(sched_get_priority_max(SCHED_OTHER) == 0 && sched_get_priority_min(SCHED_OTHER) == 0,
          "SCHED_OTHER priorities are 0..0");
    CHECK_ERR(sched_get_priority_max(42), EINVAL, "an unknown policy is EINVAL");
    struct sched_param sp = { .sched_priority = 7 };
    CHECK(k_getparam(0, &sp) == 0 && sp.sched_priority == 0, "sched_getparam reports priority 0");
    sp.sched_priority = 5;
    CHECK_ERR(k_setscheduler(0, SCHED_OTHER, &sp), EINVAL, "SCHED_OTHER with priority 5 is EINVAL");
}

static void test_memfd(void) {
    int fd = memfd_create("elfuse-test", MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create gives an fd");
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "MFD_CLOEXEC sets FD_CLOEXEC");
    CHECK(write(fd, "memory", 6) == 6, "write to the memfd");
    char buf[8] = {0};
    CHECK(pread(fd, buf, 6, 0) == 6 && memcmp(buf, "memory", 6) == 0, "read back what was written");
    CHECK(ftruncate(fd, 4096) == 0, "ftruncate the memfd");
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "map the memfd shared");
    if (p != MAP_FAILED) {
        p[100] = 'x';
        char c = 0;
        CHECK(pread(fd, &c, 1, 100) == 1 && c == 'x', "a store through the mapping reaches the file");
        munmap(p, 4096);
    }
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4096, "fstat: a 4096-byte regular file");
    close(fd);
    CHECK_ERR(memfd_create("bad", 0x100), EINVAL, "unknown memfd flags are EINVAL");
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ERR(memfd_create(longname, 0), EINVAL, "a name over 249 bytes is EINVAL");
}

static void test_inotify(void) {
    char dir[] = "/tmp/elfuse-inotify-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "make a directory to watch");
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(fd >= 0, "inotify_init1");
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "IN_NONBLOCK and IN_CLOEXEC applied");
    char buf[4096] __attribute__((aligned(8)));
    CHECK_ERR(read(fd, buf, sizeof buf), EAGAIN, "no events yet: EAGAIN");
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    CHECK(wd >= 0, "watch the directory for IN_CREATE");
    char path[64];
    snprintf(path, sizeof path, "%s/newfile", dir);
    int f = open(path, O_CREAT | O_WRONLY, 0600);
    close(f);
    ssize_t n = read(fd, buf, sizeof buf);
    struct inotify_event *ev = (struct inotify_event *)buf;
    CHECK(n >= (ssize_t)sizeof *ev && ev->wd == wd && (ev->mask & IN_CREATE) && strcmp(ev->name, "newfile") == 0,
          "the creation is reported with its name");
    CHECK_ERR(inotify_add_watch(fd, "/nonexistent/elfuse", IN_CREATE), ENOENT, "watching a missing path is ENOENT");
    CHECK_ERR(inotify_rm_watch(fd, wd + 100), EINVAL, "removing an unknown watch is EINVAL");
    CHECK(inotify_rm_watch(fd, wd) == 0, "remove the watch");
    CHECK_ERR(inotify_init1(0x1), EINVAL, "unknown inotify_init1 flags are EINVAL");
    close(fd);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_sched();
    test_memfd();
    test_inotify();
    DONE();
}
