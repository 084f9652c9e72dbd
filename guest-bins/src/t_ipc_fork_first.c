/* SysV IPC first used by a fork child: the object belongs to the IPC
 * namespace the parent shares, so the parent finds it by key after the
 * child has gone (the emulator makes its tree's IPC directory on first need,
 * and so before the first fork). */
#include "guest_test.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg { long type; char text[16]; };

int main(void) {
    key_t shm_key = 0x5e000000 | (getpid() & 0xffff), msg_key = shm_key | 0x10000;
    pid_t c = fork();
    if (c == 0) {
        int id = shmget(shm_key, 4096, IPC_CREAT | IPC_EXCL | 0600);
        if (id < 0) _exit(2);
        char *p = shmat(id, NULL, 0);
        if (p == (void *)-1) _exit(3);
        strcpy(p, "from the child");
        struct msg m = {7, "queued"};
        int q = msgget(msg_key, IPC_CREAT | IPC_EXCL | 0600);
        if (q < 0 || msgsnd(q, &m, sizeof m.text, 0) != 0) _exit(4);
        _exit(0);                       /* exits attached: the segment stays */
    }
    int st = 0;
    CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the child made a segment and a queue");
    int id = shmget(shm_key, 0, 0);
    CHECK(id >= 0, "the parent finds the child's segment by key");
    char *p = id >= 0 ? shmat(id, NULL, SHM_RDONLY) : (void *)-1;
    CHECK(p != (void *)-1 && strcmp(p, "from the child") == 0, "with the child's bytes");
    if (p != (void *)-1) shmdt(p);
    if (id >= 0) shmctl(id, IPC_RMID, NULL);
    int q = msgget(msg_key, 0);
    struct msg m = {0, ""};
    CHECK(q >= 0 && msgrcv(q, &m, sizeof m.text, 0, IPC_NOWAIT) == sizeof m.text
          && m.type == 7 && strcmp(m.text, "queued") == 0, "and the child's message");
    if (q >= 0) msgctl(q, IPC_RMID, NULL);
    DONE();
}
