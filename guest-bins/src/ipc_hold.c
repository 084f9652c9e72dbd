/* For tests/test_ipc.py: make a SysV semaphore set, say so, then block in semop
 * until killed (the emulator tree's files are then left to the next start). */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/sem.h>

int main(void) {
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    struct sembuf b = {0, -1, 0};
    printf("%d\n", id);
    fflush(stdout);
    return semop(id, &b, 1) == 0 ? 0 : 1;
}
