/* Print what the guest sees in /proc (and other paths):
 *   procfs_probe readlink PATH   - the link target
 *   procfs_probe cat PATH        - the file's bytes (NULs shown as '\n' with -z: catz)
 *   procfs_probe catz PATH       - the file with NULs turned into newlines
 *   procfs_probe ls DIR          - the entries (sorted by the caller), one a line
 *   procfs_probe fdlink          - opens argv[0] and prints readlink(/proc/self/fd/N)
 *   procfs_probe auxv            - AT_PAGESZ and AT_ENTRY from /proc/self/auxv vs getauxval
 *   procfs_probe cdcat DIR FILE  - chdir(DIR), print getcwd(), then FILE (relative to it)
 * Exit status 1 with errno's name on stderr when a call fails. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static int fail(const char *what) { perror(what); return 1; }

int main(int argc, char **argv) {
    char buf[65536];
    if (argc >= 3 && strcmp(argv[1], "readlink") == 0) {
        ssize_t n = readlink(argv[2], buf, sizeof buf - 1);
        if (n < 0) return fail("readlink");
        buf[n] = 0;
        printf("%s\n", buf);
        return 0;
    }
    if (argc >= 3 && (strcmp(argv[1], "cat") == 0 || strcmp(argv[1], "catz") == 0)) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) return fail("open");
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) {
            if (argv[1][3] == 'z')
                for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = '\n';
            fwrite(buf, 1, n, stdout);
        }
        if (n < 0) return fail("read");
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "ls") == 0) {
        DIR *d = opendir(argv[2]);
        if (!d) return fail("opendir");
        struct dirent *e;
        while ((e = readdir(d))) printf("%s\n", e->d_name);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "cdcat") == 0) {
        if (chdir(argv[2]) < 0) return fail("chdir");
        if (!getcwd(buf, sizeof buf)) return fail("getcwd");
        printf("%s\n", buf);
        int fd = open(argv[3], O_RDONLY);
        if (fd < 0) return fail("open");
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
        return n < 0 ? fail("read") : 0;
    }
    if (argc >= 2 && strcmp(argv[1], "fdlink") == 0) {
        int fd = open(argv[0], O_RDONLY);
        if (fd < 0) return fail("open");
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n < 0) return fail("readlink fd");
        buf[n] = 0;
        printf("%s\n", buf);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "auxv") == 0) {
        int fd = open("/proc/self/auxv", O_RDONLY);
        if (fd < 0) return fail("open");
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) return fail("read");
        uint64_t *a = (uint64_t *)buf;
        int ok = 0;
        for (ssize_t i = 0; i + 1 < n / 8; i += 2) {
            if (a[i] == AT_PAGESZ && a[i + 1] == getauxval(AT_PAGESZ)) ok |= 1;
            if (a[i] == AT_ENTRY && a[i + 1] == getauxval(AT_ENTRY)) ok |= 2;
            if (a[i] == AT_NULL) break;
        }
        printf("auxv %s\n", ok == 3 ? "matches" : "differs");
        return ok == 3 ? 0 : 1;
    }
    fprintf(stderr, "usage: procfs_probe readlink|cat|catz|ls|fdlink|auxv|cdcat ...\n");
    return 2;
}
