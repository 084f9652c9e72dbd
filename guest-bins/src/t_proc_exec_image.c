/* What an execve keeps and what it resets (the emulator replaces the image in the
 * same process, as Linux does): the pid; fds without FD_CLOEXEC stay open, those
 * with it are closed; handled signals become SIG_DFL, ignored ones stay ignored,
 * the mask and a pending blocked signal stay; the alternate stack is gone; the
 * old mappings are gone (the address is free again, and touching it faults);
 * other threads are gone after an exec from a non-main thread; comm,
 * /proc/self/exe and AT_EXECFN follow the new program.  A failed exec (a missing
 * interpreter) returns its errno with everything above intact, close-on-exec
 * fds and other threads included.  Re-execs /proc/self/exe's copy under a
 * long name, with what it checks as arguments. */
/* qemu-differs: qemu-user cannot exec an AArch64 program without binfmt_misc */
#define _GNU_SOURCE
#include "guest_test.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define IMAGE "./a-rather-long-image-name"
#define OLD_MAP ((void *)0x3000000000UL)

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void copy_self(void) {
    int in = open("/proc/self/exe", O_RDONLY), out = open(IMAGE, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
    close(in);
    close(out);
}

/* ----- the new image ------------------------------------------------------------ */

static int after(char **argv) {
    pid_t pid = atoi(argv[2]);
    int keep = atoi(argv[3]), gone = atoi(argv[4]);
    int threaded = strcmp(argv[5], "thread") == 0;
    CHECK(getpid() == pid, "the pid is the same after execve");
    CHECK(syscall(SYS_gettid) == pid, "the calling thread is the leader (tid == pid)");
    CHECK(count_tasks() == 1, "one task in /proc/self/task");
    CHECK(fd_open(keep) && write(keep, "k", 1) == 1, "an fd without FD_CLOEXEC survives");
    CHECK(!fd_open(gone) && errno == EBADF, "an fd with FD_CLOEXEC is closed");
    struct sigaction sa;
    CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL, "a handled signal is back to SIG_DFL");
    CHECK(sigaction(SIGUSR2, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN, "an ignored signal stays ignored");
    sigset_t cur, pend;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(sigismember(&cur, SIGHUP) == 1, "the blocked mask survives");
    sigpending(&pend);
    CHECK(sigismember(&pend, SIGHUP) == 1, "a pending blocked signal survives");
    stack_t ss;
    CHECK(sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE), "no alternate stack");
    pid_t c = fork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        volatile char x = *(volatile char *)OLD_MAP;
        (void)x;
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "the old image's mapping is gone (touching it faults)");
    void *p = mmap(OLD_MAP, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(p == OLD_MAP, "and its address is free for MAP_FIXED_NOREPLACE");
    CHECK(p == OLD_MAP && *(volatile char *)p == 0, "a fresh zeroed page there");
    char comm[32] = {0};
    int fd = open("/proc/self/comm", O_RDONLY);
    read(fd, comm, sizeof comm - 1);
    close(fd);
    CHECK(strcmp(comm, "a-rather-long-i\n") == 0, "comm: the first 15 bytes of the new name");
    char exe[4096] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(strstr(exe, "/a-rather-long-image-name") != NULL, "/proc/self/exe is the new program");
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn && strcmp(execfn, IMAGE) == 0, "AT_EXECFN is the path execve was given");
    printf("# exec'd from the %s thread\n", threaded ? "second" : "main");
    DONE();
}

/* ----- the old image ---------------------------------------------------------------- */

static char *exec_argv[8];
static char arg_pid[16], arg_keep[16], arg_gone[16];

static void *spinner(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

static void *execer(void *arg) {
    (void)arg;
    execv(IMAGE, exec_argv);
    printf("not ok - execv from a thread failed (errno %d)\n", errno);
    fflush(stdout);
    _exit(1);
}

static int before(const char *mode) {
    copy_self();
    int keep = open("/dev/null", O_WRONLY), gone = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(keep >= 0 && gone >= 0, "two fds, one close-on-exec");
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, SIG_IGN);
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);
    raise(SIGHUP);
    static char alt[65536];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    CHECK(sigaltstack(&ss, NULL) == 0, "an alternate stack");
    void *p = mmap(OLD_MAP, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(p == OLD_MAP, "a mapping at a fixed address");
    memset(p, 0x5a, 4096);

    pthread_t spin;
    pthread_create(&spin, NULL, spinner, NULL);
    /* A failed exec (an ELF whose interpreter is missing) leaves all of it in place. */
    int bad = open("./bad-interp", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    int self = open("/proc/self/exe", O_RDONLY);
    unsigned char hdr[4096];
    ssize_t n = read(self, hdr, sizeof hdr);
    close(self);
    /* A static program has no PT_INTERP: write an ELF with a PT_INTERP naming a missing file. */
    if (n >= 64) {
        uint16_t phnum = 1;
        uint64_t phoff = 64;
        memcpy(hdr + 0x20, &phoff, 8);
        memcpy(hdr + 0x38, &phnum, 2);
        uint32_t type = 3, flags = 4;               /* PT_INTERP */
        uint64_t off = 120, vaddr = 0, sz = 20;
        memcpy(hdr + 64, &type, 4);
        memcpy(hdr + 68, &flags, 4);
        memcpy(hdr + 72, &off, 8);
        memcpy(hdr + 80, &vaddr, 8);
        memcpy(hdr + 88, &vaddr, 8);
        memcpy(hdr + 96, &sz, 8);
        memcpy(hdr + 104, &sz, 8);
        memcpy(hdr + 112, &vaddr, 8);
        memcpy(hdr + 120, "/no/such/interp.so\0\0", 20);
        write(bad, hdr, 140);
    }
    close(bad);
    char *bargv[] = {"bad-interp", NULL};
    CHECK_ERR(execv("./bad-interp", bargv), ENOENT, "exec of an ELF with a missing interpreter: ENOENT");
    CHECK(fd_open(gone) && fd_open(keep), "after the failed exec both fds are open");
    CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == on_usr1, "and the handler is installed");
    raise(SIGUSR1);
    CHECK(got_usr1, "and it runs");
    CHECK(*(volatile char *)p == 0x5a, "and the mapping holds its bytes");
    CHECK(count_tasks() == 2, "and the other thread lives");

    snprintf(arg_pid, sizeof arg_pid, "%d", getpid());
    snprintf(arg_keep, sizeof arg_keep, "%d", keep);
    snprintf(arg_gone, sizeof arg_gone, "%d", gone);
    exec_argv[0] = IMAGE;
    exec_argv[1] = "after";
    exec_argv[2] = arg_pid;
    exec_argv[3] = arg_keep;
    exec_argv[4] = arg_gone;
    exec_argv[5] = (char *)mode;
    exec_argv[6] = NULL;
    if (strcmp(mode, "thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, execer, NULL);
        pthread_join(t, NULL);
        return 1;
    }
    execv(IMAGE, exec_argv);
    printf("not ok - execv failed (errno %d)\n", errno);
    return 1;
}

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "after") == 0)
        return after(argv);
    if (argc >= 2 && strcmp(argv[1], "one") == 0)
        return before(argv[2]);
    /* Each mode in a child of its own: from the main thread, then from a second thread. */
    const char *modes[] = {"main", "thread"};
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            char *a[] = {argv[0], "one", (char *)modes[i], NULL};
            execv("/proc/self/exe", a);
            _exit(99);
        }
        int st;
        waitpid(c, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, i ? "exec from a second thread: all checks passed"
                                                      : "exec from the main thread: all checks passed");
    }
    DONE();
}
