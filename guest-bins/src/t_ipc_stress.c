/* SysV IPC under contention: three processes increment a counter in a shared
 * segment under a semaphore used as a mutex (a read, a pause, a write: any
 * lost update shows), and each adds to a second semaphore with semop; the
 * totals must be exact. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

#define PROCS 3
#define ROUNDS 40

static int op(int id, unsigned short num, short val) {
    struct sembuf b = {num, val, 0};
    return semop(id, &b, 1);
}

int main(void) {
    int shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CHECK(shmid >= 0 && semid >= 0 && semctl(semid, 0, SETVAL, 1) == 0, "a segment and a mutex");
    volatile long *counter = shmat(shmid, NULL, 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                if (op(semid, 0, -1) != 0) _exit(1);
                long v = *counter;
                sched_yield();
                *counter = v + 1;
                if (op(semid, 0, 1) != 0 || op(semid, 1, 1) != 0) _exit(2);
            }
            _exit(0);
        }
    }
    int bad = 0;
    for (int p = 0; p < PROCS; p++) {
        int st;
        if (waitpid(pids[p], &st, 0) != pids[p] || !WIFEXITED(st) || WEXITSTATUS(st)) bad++;
    }
    CHECK(bad == 0, "every worker finished");
    CHECK(*counter == PROCS * ROUNDS, "no update lost under the semaphore mutex");
    CHECK(semctl(semid, 1, GETVAL) == PROCS * ROUNDS, "every semop increment counted");
    CHECK(semctl(semid, 0, GETVAL) == 1, "the mutex is free");
    shmdt((void *)counter);
    shmctl(shmid, IPC_RMID, NULL);
    semctl(semid, 0, IPC_RMID);
    DONE();
}
