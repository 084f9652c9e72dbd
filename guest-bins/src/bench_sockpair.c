/* Benchmark: a socketpair between two processes (fork).
 *   sock_rtt_us     64-byte ping-pong round trip (parent writes, child echoes)
 *   sock_bulk_mbs   64 KiB writes from child to parent, MB/s received
 * argv[1] = round trips (default 20000), argv[2] = MiB of bulk data (default 64).
 * Prints "sock_unsupported <errno>" and exits 0 where socketpair or fork fails,
 * so a missing feature is reported rather than timed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* read exactly n bytes (a stream socket may split a message) */
static int read_full(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

static int write_full(int fd, const char *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, buf + put, n - put);
        if (r <= 0) return -1;
        put += r;
    }
    return 0;
}

int main(int argc, char **argv) {
    long trips = argc > 1 ? atol(argv[1]) : 20000;
    long mib = argc > 2 ? atol(argv[2]) : 64;
    static char big[65536];
    char msg[64];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        printf("sock_unsupported %d\n", errno);
        return 0;
    }
    pid_t pid = fork();
    if (pid < 0) {
        printf("sock_unsupported %d\n", errno);
        return 0;
    }
    if (pid == 0) {
        close(sv[0]);
        for (long i = 0; i < trips; i++) {
            if (read_full(sv[1], msg, sizeof msg) || write_full(sv[1], msg, sizeof msg)) _exit(1);
        }
        memset(big, 'x', sizeof big);
        for (long i = 0; i < mib * 16; i++)
            if (write_full(sv[1], big, sizeof big)) _exit(2);
        _exit(0);
    }
    close(sv[1]);
    memset(msg, 'p', sizeof msg);
    double t0 = now();
    for (long i = 0; i < trips; i++) {
        if (write_full(sv[0], msg, sizeof msg) || read_full(sv[0], msg, sizeof msg)) {
            printf("sock_error ping-pong %d\n", errno);
            return 1;
        }
    }
    double t1 = now();
    long total = mib * 16 * (long)sizeof big, got = 0;
    while (got < total) {
        ssize_t r = read(sv[0], big, sizeof big);
        if (r <= 0) {
            printf("sock_error bulk %d\n", errno);
            return 1;
        }
        got += r;
    }
    double t2 = now();
    int status = 0;
    waitpid(pid, &status, 0);
    printf("sock_rtt_us %.3f\n", (t1 - t0) / trips * 1e6);
    printf("sock_bulk_mbs %.1f\n", total / (t2 - t1) / 1e6);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
