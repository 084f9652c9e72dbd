/* A SEQPACKET listener whose socket file is chmod'ed and chown'ed after bind
 * (what a server does to open its socket to other users) keeps its type:
 * a SEQPACKET connect works and a STREAM one is refused with EPROTOTYPE.
 * (Under the macOS fallback the type lives in a record keyed by the file;
 * a chmod moves the ctime, and keying by it lost the record.) */
#include "guest_test.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/t_net_seqpacket_chmod.%d.s", (int)getpid());
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0,
          "SEQPACKET listener bound");
    CHECK(chmod(a.sun_path, 0666) == 0, "chmod 0666 after bind");
    CHECK(chown(a.sun_path, getuid(), getgid()) == 0, "chown to ourselves after bind");
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    int ok = connect(c, (struct sockaddr *)&a, sizeof a) == 0;
    CHECK(ok, "a SEQPACKET connect still works");
    if (!ok) {                          /* (no accept then: it would wait for ever) */
        unlink(a.sun_path);
        DONE();
    }
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0 && send(c, "ab", 2, 0) == 2 && send(c, "cde", 3, 0) == 3, "two messages sent");
    char buf[8];
    CHECK(recv(s, buf, sizeof buf, 0) == 2 && recv(s, buf, sizeof buf, 0) == 3,
          "and received as two messages");
    int t = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERR(connect(t, (struct sockaddr *)&a, sizeof a), EPROTOTYPE,
              "a STREAM connect is refused: EPROTOTYPE");
    unlink(a.sun_path);
    DONE();
}
