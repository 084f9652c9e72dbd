/* SysV IPC across execve: an exec'd image (re-exec of /proc/self/exe) finds the
 * same objects by id and key, its old image's shm attachment is dropped
 * (shm_nattch), its own attachment shares the bytes, and SEM_UNDO
 * adjustments made before the exec are undone when the new image exits. */
/* qemu-differs: qemu-user cannot exec /proc/self/exe */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

struct msg { long type; char text[32]; };

static int op(int id, short val, short flg) {
    struct sembuf b = {0, val, flg};
    return semop(id, &b, 1);
}

/* The new image: argv = self "attach" shmid semid msgid key */
static int after_exec(char **argv) {
    int shmid = atoi(argv[2]), semid = atoi(argv[3]), msgid = atoi(argv[4]);
    key_t key = (key_t)strtol(argv[5], NULL, 0);
    struct shmid_ds ds;
    CHECK(shmctl(shmid, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1,
          "exec dropped the old image's attachment (nattch 1: the parent's)");
    char *p = shmat(shmid, NULL, 0);
    CHECK(p != (void *)-1 && strcmp(p, "before") == 0, "the new image attaches and reads the parent's bytes");
    strcpy(p, "after exec");
    CHECK(shmget(key, 0, 0) == shmid, "the key finds the same segment");
    CHECK(op(semid, 1, 0) == 0, "semop on the parent's set");
    struct msg m = {9, "from exec"};
    CHECK(msgsnd(msgid, &m, 10, 0) == 0, "msgsnd to the parent's queue");
    DONE();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "attach") == 0) return after_exec(argv);
    if (argc > 1 && strcmp(argv[1], "undo") == 0) return 0;   /* exits: undo applies */
    key_t key = 0x5b000000 | (getpid() & 0xffffff);
    int shmid = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    int semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    int msgid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(shmid >= 0 && semid >= 0 && msgid >= 0, "a segment, a set and a queue");
    char *p = shmat(shmid, NULL, 0);
    strcpy(p, "before");

    char a[5][32];
    snprintf(a[0], 32, "%d", shmid);
    snprintf(a[1], 32, "%d", semid);
    snprintf(a[2], 32, "%d", msgid);
    snprintf(a[3], 32, "%#x", key);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "attach", a[0], a[1], a[2], a[3], (char *)NULL);
        _exit(99);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the exec'd child passed its checks");
    CHECK(strcmp(p, "after exec") == 0, "the parent sees the exec'd image's write");
    struct shmid_ds ds;
    CHECK(shmctl(shmid, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "nattch 1 once the child is gone");
    CHECK(semctl(semid, 0, GETVAL) == 1 && semctl(semid, 0, GETPID) == pid, "its semop (value 1, its pid)");
    struct msg m;
    CHECK(msgrcv(msgid, &m, sizeof m.text, 9, IPC_NOWAIT) == 10 && strcmp(m.text, "from exec") == 0,
          "its message");

    pid = fork();
    if (pid == 0) {
        if (op(semid, 5, SEM_UNDO) != 0) _exit(98);
        execl("/proc/self/exe", argv[0], "undo", (char *)NULL);
        _exit(99);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(semid, 0, GETVAL) == 1,
          "SEM_UNDO made before an exec is undone when the new image exits");

    CHECK(shmdt(p) == 0 && shmctl(shmid, IPC_RMID, NULL) == 0 && semctl(semid, 0, IPC_RMID) == 0
          && msgctl(msgid, IPC_RMID, NULL) == 0, "clean up");
    DONE();
}
