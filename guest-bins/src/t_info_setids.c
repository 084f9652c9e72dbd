/* Real, effective and saved ids: setresuid/setresgid, seteuid/setegid (which libc
 * builds on setresuid), setuid/setreuid and the saved-id rules, /proc/self/status. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static int ids_are(uid_t r, uid_t e, uid_t s) {
    uid_t a, b, c;
    return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int gids_are(gid_t r, gid_t e, gid_t s) {
    gid_t a, b, c;
    return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

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
    while (*p == ' ' || *p == '\t') p++;
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) { out[i] = p[i]; i++; }
    out[i] = 0;
    return 0;
}

int main(void) {
    uid_t r, e, s;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid(), "getresuid matches getuid/geteuid");
    CHECK(s == e, "a fresh process's saved uid is its effective uid");
    if (geteuid() != 0) {
        CHECK_ERR(setresuid(-1, 12345, -1), EPERM, "unprivileged setresuid to a foreign uid");
        CHECK(setresuid(-1, -1, -1) == 0, "setresuid(-1,-1,-1) changes nothing");
        CHECK(setresuid(e, e, e) == 0 && ids_are(e, e, e), "setresuid to the current ids");
        DONE();
    }
    /* root: drop the effective uid temporarily, keep 0 as the saved one */
    CHECK(setresuid(-1, 1000, -1) == 0, "setresuid(-1, 1000, -1)");
    CHECK(ids_are(0, 1000, 0) && geteuid() == 1000, "real 0, effective 1000, saved 0");
    char line[256];
    CHECK(status_line("Uid:", line, sizeof line) == 0 && strcmp(line, "0\t1000\t0\t1000") == 0,
          "/proc/self/status Uid: real, effective, saved, fs");
    CHECK(setresuid(-1, 0, -1) == 0 && ids_are(0, 0, 0), "the saved uid lets effective 0 come back");
    CHECK(seteuid(1000) == 0 && ids_are(0, 1000, 0), "seteuid drops only the effective uid");
    CHECK(seteuid(0) == 0 && geteuid() == 0, "seteuid(0) regains it");
    CHECK(setresgid(-1, 1000, -1) == 0 && gids_are(0, 1000, 0), "setresgid(-1, 1000, -1)");
    CHECK(setegid(0) == 0 && gids_are(0, 0, 0), "setegid(0) regains the group");
    CHECK(setresgid(2000, 2000, 2000) == 0 && gids_are(2000, 2000, 2000), "setresgid to one gid");
    CHECK(status_line("Gid:", line, sizeof line) == 0 && strcmp(line, "2000\t2000\t2000\t2000") == 0,
          "/proc/self/status Gid: follows");
    CHECK(setresgid(0, 0, 0) == 0 && gids_are(0, 0, 0), "root sets the gids back");

    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        /* a permanent drop: no way back */
        if (setresuid(1000, 1000, 1000) != 0 || !ids_are(1000, 1000, 1000)) bad |= 1;
        errno = 0;
        if (setresuid(-1, 0, -1) != -1 || errno != EPERM) bad |= 2;
        if (seteuid(0) != -1 || errno != EPERM) bad |= 4;
        /* unprivileged: any of the current ids is allowed */
        if (setresuid(-1, 1000, 1000) != 0) bad |= 8;
        _exit(bad);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "a child drops for good and cannot regain uid 0");

    pid = fork();
    if (pid == 0) {
        int bad = 0;
        /* setreuid(-1, e) with e != real: the saved uid becomes e (Linux's rule) */
        if (setreuid(-1, 1000) != 0 || !ids_are(0, 1000, 1000)) bad |= 1;
        if (setresuid(-1, 0, -1) != 0) bad |= 2;         /* real is still 0 */
        /* setuid as root sets all three */
        if (setuid(1500) != 0 || !ids_are(1500, 1500, 1500)) bad |= 4;
        _exit(bad);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "setreuid and setuid place the saved uid as Linux does");
    DONE();
}
