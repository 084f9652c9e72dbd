/* A writable /proc file (oom_score_adj, oom_adj, comm) read again from offset 0
 * shows the value as it is now, as Linux's seq_file generates its text again
 * there: an fd opened before a later write, and the fd that wrote. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "guest_test.h"

static int read_at0(int fd, char *buf, size_t n)
{
    if (lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    ssize_t r = read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = 0;
    return (int)r;
}

static int put(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY);
    int r = fd < 0 ? -1 : (int)write(fd, s, strlen(s));
    close(fd);
    return r;
}

int main(void)
{
    char buf[64];
    int ro = open("/proc/self/oom_score_adj", O_RDONLY);
    CHECK(read_at0(ro, buf, sizeof buf) > 0 && atoi(buf) == 0, "oom_score_adj starts at 0");
    CHECK(put("/proc/self/oom_score_adj", "500\n") == 4, "another fd writes 500");
    CHECK(read_at0(ro, buf, sizeof buf) > 0 && atoi(buf) == 500, "the first fd reads 500 again from offset 0");
    CHECK(read(ro, buf, sizeof buf) == 0, "... and then end of file");
    int adj = open("/proc/self/oom_adj", O_RDONLY);
    CHECK(read_at0(adj, buf, sizeof buf) > 0 && atoi(buf) == 8, "oom_adj shows 500 scaled (8)");
    put("/proc/self/oom_score_adj", "1000\n");
    CHECK(read_at0(adj, buf, sizeof buf) > 0 && atoi(buf) == 15, "... and 1000 as 15 on a reread");
    close(adj);
    close(ro);
    put("/proc/self/oom_score_adj", "0\n");
    int rw = open("/proc/self/oom_adj", O_RDWR);
    CHECK(write(rw, "15\n", 3) == 3, "oom_adj written through an O_RDWR fd");
    CHECK(read_at0(rw, buf, sizeof buf) > 0 && atoi(buf) == 15, "the same fd reads 15 back");
    close(rw);
    put("/proc/self/oom_score_adj", "0\n");
    int comm = open("/proc/self/comm", O_RDONLY);
    prctl(PR_SET_NAME, "renamed", 0, 0, 0);
    CHECK(read_at0(comm, buf, sizeof buf) > 0 && strcmp(buf, "renamed\n") == 0, "comm reread shows a later PR_SET_NAME");
    close(comm);
    int wo = open("/proc/self/oom_score_adj", O_WRONLY);
    CHECK_ERR(read(wo, buf, sizeof buf), EBADF, "reading a write-only fd is EBADF");
    close(wo);
    DONE();
}
