/* What privilege-separated daemons (sshd, vsftpd) set up before dropping
 * privileges: setgroups (EINVAL past NGROUPS_MAX, /proc/self/status Groups:
 * follows), PR_SET/GET_NO_NEW_PRIVS (one-way, inherited by fork and execve),
 * PR_SET_DUMPABLE, and seccomp either fully there or refused as a kernel
 * without CONFIG_SECCOMP does (prctl EINVAL, seccomp(2) ENOSYS). */
/* qemu-differs: qemu-user cannot exec /proc/self/exe */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static int status_line(const char *key, char *out, size_t n) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0) return -1;
    buf[k] = 0;
    char *p = strstr(buf, key);
    if (!p) return -1;
    p += strlen(key);
    while (*p == '\t') p++;
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) { out[i] = p[i]; i++; }
    out[i] = 0;
    return 0;
}

static int child_status(pid_t pid) {
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

int main(int argc, char **argv) {
    char line[256];
    if (argc > 1 && strcmp(argv[1], "nnp") == 0)      /* after execve */
        return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1;

    gid_t *many = calloc(65537, sizeof(gid_t));
    CHECK_ERR(syscall(SYS_setgroups, 65537, many), EINVAL, "setgroups past NGROUPS_MAX is EINVAL");
    CHECK_ERR(syscall(SYS_setgroups, -1, many), EINVAL, "setgroups with a negative size is EINVAL");
    free(many);
    if (geteuid() == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            int bad = 0;
            gid_t g[3] = {4, 24, 1000}, got[8];
            bad += setgroups(3, g) != 0;
            bad += getgroups(8, got) != 3 || got[0] != 4 || got[1] != 24 || got[2] != 1000;
            bad += status_line("Groups:", line, sizeof line) != 0 || strcmp(line, "4 24 1000 ") != 0;
            bad += setgroups(0, NULL) != 0;
            bad += getgroups(0, NULL) != 0;
            bad += status_line("Groups:", line, sizeof line) != 0 || strcmp(line, " ") != 0;
            _exit(bad);
        }
        CHECK(child_status(pid) == 0, "setgroups sets getgroups and /proc/self/status Groups:");
    } else {
        gid_t g[1] = {12345};
        CHECK_ERR(setgroups(1, g), EPERM, "an unprivileged setgroups is EPERM");
    }

    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "no_new_privs starts clear");
    CHECK_ERR(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL, "PR_GET_NO_NEW_PRIVS with an argument");
    CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL, "PR_SET_NO_NEW_PRIVS 0 is EINVAL (one-way)");
    CHECK_ERR(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL, "PR_SET_NO_NEW_PRIVS with extra arguments");
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        bad += prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0;
        bad += prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1;
        bad += status_line("NoNewPrivs:", line, sizeof line) != 0 || strcmp(line, "1") != 0;
        bad += prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0;       /* setting again is fine */
        pid_t grandchild = fork();
        if (grandchild == 0)
            _exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
        bad += child_status(grandchild) != 0;
        pid_t exec_child = fork();
        if (exec_child == 0) {
            char *args[] = {argv[0], "nnp", NULL};
            execv("/proc/self/exe", args);
            _exit(97);
        }
        bad += child_status(exec_child) != 0;
        _exit(bad);
    }
    CHECK(pid > 0 && child_status(pid) == 0, "no_new_privs: set, in status, kept by fork and execve");
    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "the parent's no_new_privs is still clear");
    CHECK(status_line("NoNewPrivs:", line, sizeof line) == 0 && strcmp(line, "0") == 0,
          "/proc/self/status NoNewPrivs: 0");

    CHECK_ERR(prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL, "PR_SET_DUMPABLE 2 (suid_dumpable's 2) is EINVAL");
    CHECK(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE 0");

    /* seccomp: a kernel has it (mode 0 now) or refuses all of it. */
    errno = 0;
    int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    int consistent;
    if (mode == -1 && errno == EINVAL) {
        errno = 0;
        long r = syscall(SYS_seccomp, 0 /* SECCOMP_SET_MODE_STRICT */, 1, NULL);
        int e1 = errno;
        errno = 0;
        int r2 = prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, 0, 0, 0);
        consistent = r == -1 && e1 == ENOSYS && r2 == -1 && errno == EINVAL;
    } else {
        consistent = mode == 0;
    }
    CHECK(consistent, "seccomp: present, or refused as a kernel without CONFIG_SECCOMP");
    DONE();
}
