/* inotify: events for changes in a watched directory (create, modify, attrib,
 * delete, moves with a shared cookie, IN_ISDIR), self events of a watched
 * directory, IN_MASK_ADD / IN_MASK_CREATE / IN_ONESHOT, rm_watch -> IN_IGNORED,
 * the read protocol (record layout, short buffer, EAGAIN, blocking read, a
 * blocking read in a second thread, FIONREAD) and the argument errors.
 *
 * Hosts without inotify (macOS) get a twin that notices changes by polling
 * the watched paths, so every check waits for its events with poll() and a
 * timeout instead of reading right after the change. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

#define WAIT_MS 3000          /* how long an expected event may take */
#define QUIET_MS 150          /* how long to listen for events that must not come */
#define DIRMASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO)

static char buf[8192] __attribute__((aligned(8)));

struct seen { int wd; uint32_t mask, cookie, len; char name[NAME_MAX + 1]; };
static struct seen ev[128];
static int nev;

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Parse one read()'s worth of records into ev[]; 0 if the layout is wrong. */
static int parse(ssize_t n) {
    ssize_t off = 0;
    while (off < n) {
        struct inotify_event *e = (struct inotify_event *)(buf + off);
        if (off + (ssize_t)sizeof *e > n || off + (ssize_t)(sizeof *e + e->len) > n)
            return 0;
        if (nev < (int)(sizeof ev / sizeof ev[0])) {
            struct seen *s = &ev[nev++];
            s->wd = e->wd;
            s->mask = e->mask;
            s->cookie = e->cookie;
            s->len = e->len;
            snprintf(s->name, sizeof s->name, "%s", e->len ? e->name : "");
        }
        off += sizeof *e + e->len;
    }
    return 1;
}

static int find(int wd, uint32_t mask, const char *name) {
    for (int i = 0; i < nev; i++)
        if (ev[i].wd == wd && ev[i].mask == mask && strcmp(ev[i].name, name) == 0)
            return i;
    return -1;
}

/* Read events (the fd is non-blocking) until (wd, mask, name) is among them or
 * ms pass; returns its index in ev[] or -1. */
static int await(int fd, int wd, uint32_t mask, const char *name, int ms) {
    long end = now_ms() + ms;
    for (;;) {
        int i = find(wd, mask, name);
        if (i >= 0)
            return i;
        long left = end - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, (int)left) != 1)
            return -1;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0 || !parse(n))
            return -1;
    }
}

/* Collect whatever else arrives within ms. */
static void settle(int fd, int ms) {
    long end = now_ms() + ms;
    for (;;) {
        long left = end - now_ms();
        if (left <= 0)
            return;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, (int)left) != 1)
            return;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0 || !parse(n))
            return;
    }
}

static void touch(const char *path) {
    int f = open(path, O_CREAT | O_WRONLY, 0644);
    if (f >= 0)
        close(f);
}

static char dir[64], path_a[96], path_b[96], path_d[96], path_e[96], path_f[96];

static void test_errors(void) {
    CHECK_ERR(inotify_init1(0x1), EINVAL, "inotify_init1 with an unknown flag is EINVAL");
    CHECK_ERR(inotify_init1(IN_NONBLOCK | 0x80), EINVAL, "inotify_init1 with an unknown flag next to a known one is EINVAL");
    int fd = inotify_init1(IN_NONBLOCK);
    CHECK(fd >= 0, "inotify_init1(IN_NONBLOCK) for the error checks");
    CHECK_ERR(inotify_add_watch(9999, dir, IN_CREATE), EBADF, "add_watch on a closed fd is EBADF");
    CHECK_ERR(inotify_add_watch(-1, dir, IN_CREATE), EBADF, "add_watch on fd -1 is EBADF");
    int p[2];
    CHECK(pipe(p) == 0, "a pipe for the not-inotify checks");
    CHECK_ERR(inotify_add_watch(p[0], dir, IN_CREATE), EINVAL, "add_watch on a pipe is EINVAL");
    CHECK_ERR(inotify_rm_watch(p[0], 1), EINVAL, "rm_watch on a pipe is EINVAL");
    close(p[0]);
    close(p[1]);
    CHECK_ERR(inotify_rm_watch(9999, 1), EBADF, "rm_watch on a closed fd is EBADF");
    CHECK_ERR(inotify_add_watch(fd, dir, 0), EINVAL, "a zero mask is EINVAL");
    CHECK_ERR(inotify_add_watch(fd, dir, IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE), EINVAL,
              "IN_MASK_ADD with IN_MASK_CREATE is EINVAL");
    CHECK_ERR(inotify_add_watch(fd, "inot-missing/x", IN_CREATE), ENOENT, "a missing path is ENOENT");
    CHECK_ERR(inotify_add_watch(fd, "", IN_CREATE), ENOENT, "an empty path is ENOENT");
    CHECK_ERR(inotify_add_watch(fd, (const char *)8, IN_CREATE), EFAULT, "a bad path pointer is EFAULT");
    touch(path_f);
    CHECK_ERR(inotify_add_watch(fd, path_f, IN_MODIFY | IN_ONLYDIR), ENOTDIR, "IN_ONLYDIR on a file is ENOTDIR");
    int wd = inotify_add_watch(fd, path_f, IN_MODIFY);
    CHECK(wd >= 1, "a regular file can be watched");
    CHECK_ERR(inotify_add_watch(fd, path_f, IN_MODIFY | IN_MASK_CREATE), EEXIST,
              "IN_MASK_CREATE on a watched inode is EEXIST");
    CHECK(inotify_add_watch(fd, path_f, IN_ATTRIB | IN_EXCL_UNLINK) == wd, "IN_EXCL_UNLINK is accepted");
    char link[96];
    snprintf(link, sizeof link, "%s/link", dir);
    CHECK(symlink("f", link) == 0, "a symlink to the file");
    CHECK(inotify_add_watch(fd, link, IN_MODIFY) == wd, "a watch through a symlink names the target");
    int lwd = inotify_add_watch(fd, link, IN_ATTRIB | IN_DONT_FOLLOW);
    CHECK(lwd >= 1 && lwd != wd, "IN_DONT_FOLLOW watches the symlink itself");
    CHECK_ERR(inotify_add_watch(fd, link, IN_ATTRIB | IN_DONT_FOLLOW | IN_ONLYDIR), ENOTDIR,
              "IN_DONT_FOLLOW|IN_ONLYDIR on a symlink is ENOTDIR");
    CHECK_ERR(inotify_rm_watch(fd, 12345), EINVAL, "removing an unknown wd is EINVAL");
    CHECK_ERR(inotify_rm_watch(fd, -1), EINVAL, "removing wd -1 is EINVAL");
    CHECK(inotify_rm_watch(fd, lwd) == 0, "remove the symlink's watch");
    CHECK_ERR(inotify_rm_watch(fd, lwd), EINVAL, "removing it twice is EINVAL");
    CHECK_ERR(write(fd, "x", 1), EBADF, "an inotify fd is read-only: write is EBADF");
    unlink(link);
    unlink(path_f);
    close(fd);
}

static void test_directory_events(void) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK(fd >= 0, "inotify_init1(IN_NONBLOCK | IN_CLOEXEC)");
    CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
          "IN_NONBLOCK and IN_CLOEXEC are applied");
    CHECK_ERR(read(fd, buf, sizeof buf), EAGAIN, "no watch, no events: EAGAIN");
    int wd = inotify_add_watch(fd, dir, DIRMASK);
    CHECK(wd >= 1, "watch the directory");
    CHECK(inotify_add_watch(fd, dir, DIRMASK) == wd, "the same directory gives the same wd");
    struct pollfd p = { fd, POLLIN, 0 };
    CHECK(poll(&p, 1, 50) == 0, "poll times out while nothing changes");
    CHECK_ERR(read(fd, buf, sizeof buf), EAGAIN, "nothing changed: EAGAIN");

    nev = 0;
    touch(path_a);
    int i = await(fd, wd, IN_CREATE, "a", WAIT_MS);
    CHECK(i >= 0, "creating a file reports IN_CREATE with its name");
    CHECK(i >= 0 && ev[i].cookie == 0 && ev[i].len == 16, "the name is NUL-padded to 16 bytes, no cookie");
    settle(fd, QUIET_MS);
    CHECK(nev == 1, "one event for one creation");

    nev = 0;
    int f = open(path_a, O_WRONLY);
    CHECK(write(f, "hello", 5) == 5, "write to the file");
    close(f);
    CHECK(await(fd, wd, IN_MODIFY, "a", WAIT_MS) >= 0, "writing reports IN_MODIFY");

    nev = 0;
    CHECK(chmod(path_a, 0600) == 0, "chmod the file");
    CHECK(await(fd, wd, IN_ATTRIB, "a", WAIT_MS) >= 0, "chmod reports IN_ATTRIB");

    nev = 0;
    CHECK(rename(path_a, path_b) == 0, "rename a -> b inside the directory");
    int from = await(fd, wd, IN_MOVED_FROM, "a", WAIT_MS);
    int to = await(fd, wd, IN_MOVED_TO, "b", WAIT_MS);
    CHECK(from >= 0 && to >= 0, "the rename reports IN_MOVED_FROM a and IN_MOVED_TO b");
    CHECK(from >= 0 && to == from + 1, "IN_MOVED_FROM comes right before IN_MOVED_TO");
    CHECK(from >= 0 && to >= 0 && ev[from].cookie != 0 && ev[from].cookie == ev[to].cookie,
          "both halves of the move share a non-zero cookie");

    nev = 0;
    CHECK(unlink(path_b) == 0, "unlink b");
    CHECK(await(fd, wd, IN_DELETE, "b", WAIT_MS) >= 0, "unlinking reports IN_DELETE");

    nev = 0;
    CHECK(mkdir(path_d, 0755) == 0, "mkdir d");
    CHECK(await(fd, wd, IN_CREATE | IN_ISDIR, "d", WAIT_MS) >= 0, "mkdir reports IN_CREATE|IN_ISDIR");

    int dwd = inotify_add_watch(fd, path_d, IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    CHECK(dwd >= 1 && dwd != wd, "watch the subdirectory itself (IN_ONLYDIR)");
    nev = 0;
    CHECK(rename(path_d, path_e) == 0, "rename the subdirectory d -> e");
    from = await(fd, wd, IN_MOVED_FROM | IN_ISDIR, "d", WAIT_MS);
    to = await(fd, wd, IN_MOVED_TO | IN_ISDIR, "e", WAIT_MS);
    CHECK(from >= 0 && to >= 0 && ev[from].cookie == ev[to].cookie,
          "the directory's move reports IN_ISDIR on both halves with one cookie");
    CHECK(await(fd, dwd, IN_MOVE_SELF, "", WAIT_MS) >= 0, "the moved directory's own watch gets IN_MOVE_SELF");

    nev = 0;
    CHECK(rmdir(path_e) == 0, "rmdir e");
    CHECK(await(fd, wd, IN_DELETE | IN_ISDIR, "e", WAIT_MS) >= 0, "the parent reports IN_DELETE|IN_ISDIR");
    int del = await(fd, dwd, IN_DELETE_SELF, "", WAIT_MS);
    int ign = await(fd, dwd, IN_IGNORED, "", WAIT_MS);
    CHECK(del >= 0, "the removed directory's own watch gets IN_DELETE_SELF");
    CHECK(del >= 0 && ign > del, "then IN_IGNORED: the watch is gone");
    CHECK_ERR(inotify_rm_watch(fd, dwd), EINVAL, "its wd is no longer valid");

    /* A record that does not fit the buffer: EINVAL, and it stays queued. */
    touch(path_a);
    CHECK(poll(&p, 1, WAIT_MS) == 1 && (p.revents & POLLIN), "poll says readable once an event is queued");
    int avail = -1;
    CHECK(ioctl(fd, FIONREAD, &avail) == 0 && avail == (int)sizeof(struct inotify_event) + 16,
          "FIONREAD counts the queued bytes");
    CHECK_ERR(read(fd, buf, sizeof(struct inotify_event)), EINVAL, "a buffer too small for the next event is EINVAL");
    CHECK_ERR(read(fd, buf, sizeof(struct inotify_event) + 15), EINVAL, "one byte short is EINVAL too");
    CHECK_ERR(read(fd, buf, 0), EINVAL, "a zero-length read is EINVAL while an event is queued");
    nev = 0;
    ssize_t n = read(fd, buf, sizeof(struct inotify_event) + 16);
    CHECK(n == (ssize_t)sizeof(struct inotify_event) + 16 && parse(n) && find(wd, IN_CREATE, "a") == 0,
          "the event is still there for a big enough buffer");
    unlink(path_a);
    CHECK(await(fd, wd, IN_DELETE, "a", WAIT_MS) >= 0, "the deletion follows");

    /* rm_watch: IN_IGNORED, then silence. */
    nev = 0;
    CHECK(inotify_rm_watch(fd, wd) == 0, "rm_watch the directory");
    CHECK(await(fd, wd, IN_IGNORED, "", WAIT_MS) >= 0, "rm_watch queues IN_IGNORED");
    touch(path_a);
    settle(fd, QUIET_MS);
    CHECK(nev == 1, "nothing more after the watch is removed");
    CHECK_ERR(read(fd, buf, sizeof buf), EAGAIN, "the queue is empty again: EAGAIN");
    unlink(path_a);
    close(fd);
}

static void test_masks(void) {
    int fd = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    CHECK(wd >= 1, "watch the directory for IN_CREATE only");
    CHECK(inotify_add_watch(fd, dir, IN_DELETE | IN_MASK_ADD) == wd, "IN_MASK_ADD adds IN_DELETE to the same wd");
    nev = 0;
    touch(path_a);
    CHECK(await(fd, wd, IN_CREATE, "a", WAIT_MS) >= 0, "IN_CREATE still reported");
    unlink(path_a);
    CHECK(await(fd, wd, IN_DELETE, "a", WAIT_MS) >= 0, "IN_DELETE now reported");
    CHECK(inotify_add_watch(fd, dir, IN_DELETE) == wd, "without IN_MASK_ADD the mask is replaced");
    nev = 0;
    touch(path_a);
    settle(fd, QUIET_MS);
    CHECK(nev == 0, "IN_CREATE no longer reported");
    unlink(path_a);
    CHECK(await(fd, wd, IN_DELETE, "a", WAIT_MS) >= 0, "IN_DELETE reported");

    CHECK(inotify_add_watch(fd, dir, IN_CREATE | IN_ONESHOT) == wd, "IN_ONESHOT");
    nev = 0;
    touch(path_a);
    int i = await(fd, wd, IN_CREATE, "a", WAIT_MS);
    int ign = await(fd, wd, IN_IGNORED, "", WAIT_MS);
    CHECK(i >= 0 && ign > i, "a one-shot watch reports once, then IN_IGNORED");
    unlink(path_a);
    touch(path_b);
    settle(fd, QUIET_MS);
    CHECK(nev == 2, "and nothing after");
    CHECK_ERR(inotify_rm_watch(fd, wd), EINVAL, "the one-shot wd is gone");
    unlink(path_b);
    close(fd);
}

static void test_blocking(void) {
    int fd = inotify_init1(0);
    CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK) && !(fcntl(fd, F_GETFD) & FD_CLOEXEC),
          "inotify_init1(0): blocking, no close-on-exec");
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    struct pollfd p = { fd, POLLIN, 0 };
    CHECK(poll(&p, 1, 100) == 0, "poll with a timeout: nothing yet");
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200 * 1000);
        touch(path_b);
        _exit(0);
    }
    nev = 0;
    ssize_t n = read(fd, buf, sizeof buf);     /* blocks until the child creates b */
    CHECK(n > 0 && parse(n) && find(wd, IN_CREATE, "b") == 0, "a blocking read waits for the event");
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "the child that made the change exited");
    unlink(path_b);
    close(fd);
}

/* A blocking read in one thread while another makes the change. */
static int thr_fd;
static ssize_t thr_n;
static char thr_buf[1024] __attribute__((aligned(8)));

static void *reader(void *arg) {
    (void)arg;
    thr_n = read(thr_fd, thr_buf, sizeof thr_buf);
    return NULL;
}

static void test_threads(void) {
    thr_fd = inotify_init1(IN_CLOEXEC);
    int wd = inotify_add_watch(thr_fd, dir, IN_CREATE);
    CHECK(wd >= 1, "a blocking instance for the thread check");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, reader, NULL) == 0, "start a thread that reads");
    usleep(100 * 1000);
    touch(path_a);
    CHECK(pthread_join(t, NULL) == 0, "the reading thread returns");
    struct inotify_event *e = (struct inotify_event *)thr_buf;
    CHECK(thr_n >= (ssize_t)sizeof *e && e->wd == wd && e->mask == IN_CREATE && strcmp(e->name, "a") == 0,
          "the thread's blocking read got the creation the other thread made");
    unlink(path_a);
    close(thr_fd);
}

/* With --exec (not in the generic suite: qemu-user cannot re-exec itself):
 * an instance without IN_CLOEXEC, one event queued and unread, then execve of
 * this program, which goes on in after_exec(). */
static void exec_self(char *argv0) {
    int fd = inotify_init1(0);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    CHECK(fd >= 0 && wd >= 1, "an instance to carry across execve");
    touch(path_a);
    struct pollfd p = { fd, POLLIN, 0 };
    CHECK(poll(&p, 1, WAIT_MS) == 1, "an event is queued before execve");
    char sfd[16], swd[16], sfail[16];
    snprintf(sfd, sizeof sfd, "%d", fd);
    snprintf(swd, sizeof swd, "%d", wd);
    snprintf(sfail, sizeof sfail, "%d", guest_failures);
    char *args[] = { argv0, "--after-exec", sfd, swd, dir, sfail, NULL };
    execv("/proc/self/exe", args);
    CHECK(0, "execve of /proc/self/exe");
}

static int after_exec(int fd, int wd, const char *d, int failures) {
    guest_failures = failures;
    snprintf(path_a, sizeof path_a, "%s/a", d);
    snprintf(path_b, sizeof path_b, "%s/b", d);
    CHECK(fcntl(fd, F_GETFD) == 0, "the inotify fd is still open after execve");
    nev = 0;
    CHECK(await(fd, wd, IN_CREATE, "a", WAIT_MS) == 0, "the event queued before execve is read after it");
    struct pollfd p = { fd, POLLIN, 0 };
    CHECK(poll(&p, 1, 50) == 0, "then nothing: poll times out");
    touch(path_b);
    CHECK(await(fd, wd, IN_CREATE, "b", WAIT_MS) >= 0, "the watch goes on reporting after execve");
    close(fd);
    unlink(path_a);
    unlink(path_b);
    rmdir(d);
    DONE();
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "--after-exec") == 0)
        return after_exec(atoi(argv[2]), atoi(argv[3]), argv[4], atoi(argv[5]));
    snprintf(dir, sizeof dir, "inot-XXXXXX");
    CHECK(mkdtemp(dir) != NULL, "make a directory to watch");
    snprintf(path_a, sizeof path_a, "%s/a", dir);
    snprintf(path_b, sizeof path_b, "%s/b", dir);
    snprintf(path_d, sizeof path_d, "%s/d", dir);
    snprintf(path_e, sizeof path_e, "%s/e", dir);
    snprintf(path_f, sizeof path_f, "%s/f", dir);
    test_errors();
    test_directory_events();
    test_masks();
    test_blocking();
    test_threads();
    if (argc == 2 && strcmp(argv[1], "--exec") == 0)
        exec_self(argv[0]);
    rmdir(dir);
    DONE();
}
