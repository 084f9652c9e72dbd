/* Holds runtime-directory entries until killed (tests/test_isolation.py): an
 * abstract SEQPACKET listener and socketpairs in this process and a forked
 * child, then "ready" on stdout and a long sleep. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "elfuse-hold";
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a = {AF_UNIX};
    size_t n = strlen(name);
    if (n > sizeof a.sun_path - 1) n = sizeof a.sun_path - 1;
    memcpy(a.sun_path + 1, name, n);
    if (bind(s, (struct sockaddr *)&a, sizeof(sa_family_t) + 1 + n) != 0) perror("bind");
    listen(s, 1);
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    if (fork() == 0) {
        int sv2[2];
        socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv2);
        sleep(60);
        return 0;
    }
    sleep(1);
    puts("ready");
    fflush(stdout);
    sleep(60);
    return 0;
}
