/* SysV IPC first used after the process gave up root: the emulator makes a
 * tree's IPC directory on first need, and must have made it before the uid
 * changed (its runtime directory is private to the uid it started as). */
#include "guest_test.h"
#include <grp.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    if (geteuid() != 0) {
        printf("ok - not root: nothing to give up\n");
        DONE();
    }
    CHECK(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0,
          "dropped to uid 65534 before any IPC call or fork");
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget after the drop");
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1, "shmat after the drop");
    if (id < 0 || p == (void *)-1) DONE();
    strcpy(p, "hello");
    pid_t c = fork();
    if (c == 0) {
        char *q = shmat(id, NULL, 0);
        if (q == (void *)-1) _exit(2);
        q[0] = 'J';
        _exit(strcmp(q, "Jello") ? 3 : 0);
    }
    int st = 0;
    CHECK(c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "a fork child attaches the same segment");
    CHECK(p[0] == 'J', "the child's write is seen");
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == 65534 && ds.shm_nattch == 1,
          "owned by the new uid, one attachment left");
    CHECK(shmdt(p) == 0 && shmctl(id, IPC_RMID, NULL) == 0, "detached and removed");
    int s = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    CHECK(s >= 0 && semctl(s, 0, IPC_RMID) == 0, "a semaphore set too");
    DONE();
}
