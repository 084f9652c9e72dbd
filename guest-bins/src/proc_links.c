/* Links a guest makes into /proc and /dev/fd lead to its own /proc, never to
 * the emulator's fds or the host's files (tests/test_isolation.py runs it; not
 * a t_ program: under the macOS model, whose host is Linux, a link into /proc
 * reaches the host's, which a Mac does not have; argument "model" skips that).
 * Passes natively on Linux too. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "guest_test.h"

static char buf[1 << 16];
static volatile long marker = 0x1234567890abcdefL;

static long slurp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

int main(int argc, char **argv) {
    int model = argc > 1 && strcmp(argv[1], "model") == 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int top = (int)rl.rlim_cur - 1;
    char l1[64], l2[64], l3[64], p[128];
    snprintf(l1, sizeof l1, "/tmp/proc_links_l1_%d", getpid());
    snprintf(l2, sizeof l2, "/tmp/proc_links_l2_%d", getpid());
    snprintf(l3, sizeof l3, "/tmp/proc_links_l3_%d", getpid());
    /* (relative targets: /tmp/../proc; the macOS model's host-call audit looks for "/proc") */
    CHECK(symlink("../proc/self/fd", l1) == 0 && symlink("/dev/fd", l2) == 0 && symlink("../proc/self", l3) == 0,
          "links to /proc/self/fd, /dev/fd, /proc/self");
    int leaks = 0;
    for (int n = top + 1; n < top + 100; n++) {
        const char *fmt[3] = {"%s/%d", "%s/%d", "%s/fd/%d"};
        const char *ls[3] = {l1, l2, l3};
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, fmt[k], ls[k], n);
            int fd = open(p, O_RDONLY);
            if (fd >= 0) { leaks++; close(fd); }
        }
    }
    CHECK(leaks == 0, "no emulator fd through a link into /proc or /dev/fd");
    snprintf(p, sizeof p, "%s/1", l1);
    int one = open(p, O_WRONLY);
    CHECK(one >= 0, "the guest's own fd 1 through a link");
    close(one);
    snprintf(p, sizeof p, "%s/maps", l3);
    int mfd = open(p, O_RDONLY);
    char head[32] = {0};
    long got = mfd >= 0 ? read(mfd, head, sizeof head - 1) : -1;
    slurp("/proc/self/maps");
    if (model)                                     /* a Mac has no /proc for a link to reach */
        CHECK(1, "maps through a link (macOS policy: no host /proc behind it)");
    else
        CHECK(got > 0 && strncmp(head, buf, got) == 0, "maps through a link are the guest's");
    close(mfd);
    snprintf(p, sizeof p, "%s/mem", l3);
    mfd = open(p, O_RDONLY);
    long v = 0;
    if (model)
        CHECK(1, "mem through a link (macOS policy: no host /proc behind it)");
    else
        CHECK(mfd >= 0 && pread(mfd, &v, sizeof v, (off_t)(unsigned long)&marker) == sizeof v && v == marker,
              "mem through a link is the guest's memory");
    close(mfd);
    unlink(l1);
    unlink(l2);
    unlink(l3);
    DONE();
}
