/* SysV semaphores: semget keys and limits, semctl GETVAL/SETVAL/GETALL/SETALL/
 * GETPID/GETNCNT/GETZCNT/IPC_STAT/IPC_SET/IPC_INFO/SEM_INFO/SEM_STAT, atomic
 * semop arrays, IPC_NOWAIT, semtimedop timeouts, blocking semop woken by
 * another process, EINTR from a signal, EIDRM when the set is removed,
 * SEM_UNDO at exit (and when the process is killed), permissions, ERANGE/
 * EFBIG/E2BIG/EINVAL/EFAULT, /proc/sysvipc/sem. */
#define _GNU_SOURCE
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#ifdef __GLIBC__
#define PERM_KEY __key          /* glibc hides the member's name */
#else
#define PERM_KEY key
#endif

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static int child_status(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return st;
}

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int op(int id, unsigned short num, short val, short flg) {
    struct sembuf b = {num, val, flg};
    return semop(id, &b, 1);
}

/* Wait until `cmd` (GETNCNT/GETZCNT) of semaphore `num` reaches `want` (a child is blocked). */
static int wait_count(int id, int num, int cmd, int want) {
    for (int i = 0; i < 400; i++) {
        if (semctl(id, num, cmd) == want) return 1;
        msleep(5);
    }
    return 0;
}

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    key_t key = 0x5f000000 | (getpid() & 0xffffff);
    struct semid_ds ds;
    union semun arg;
    struct sembuf two[2];

    /* --- bad input --- */
    CHECK_ERR(semget(IPC_PRIVATE, -1, IPC_CREAT | 0600), EINVAL, "nsems -1 is EINVAL");
    CHECK_ERR(semget(IPC_PRIVATE, 32001, IPC_CREAT | 0600), EINVAL, "nsems above SEMMSL is EINVAL");
    CHECK_ERR(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL, "creating 0 semaphores is EINVAL");
    CHECK_ERR(semget(key, 1, 0600), ENOENT, "unknown key is ENOENT");
    CHECK_ERR(semctl(-1, 0, GETVAL), EINVAL, "semctl on id -1 is EINVAL");
    CHECK_ERR(op(-1, 0, 1, 0), EINVAL, "semop on id -1 is EINVAL");

    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    CHECK(id >= 0, "semget(IPC_PRIVATE, 3)");
    CHECK_ERR(semop(id, two, 0), EINVAL, "semop with 0 operations is EINVAL");
    CHECK_ERR(semop(id, two, 501), E2BIG, "semop with more than SEMOPM operations is E2BIG");
    CHECK_ERR(semop(id, (struct sembuf *)8, 1), EFAULT, "semop of a bad pointer is EFAULT");
    CHECK_ERR(op(id, 3, 1, 0), EFBIG, "sem_num past the set is EFBIG");
    CHECK_ERR(semctl(id, 0, 12345), EINVAL, "unknown semctl command is EINVAL");
    CHECK_ERR(semctl(id, 3, GETVAL), EINVAL, "GETVAL past the set is EINVAL");
    CHECK_ERR(semctl(id, 0, SETVAL, 32768), ERANGE, "SETVAL above SEMVMX is ERANGE");
    CHECK_ERR(semctl(id, 0, SETVAL, -1), ERANGE, "SETVAL below 0 is ERANGE");
    arg.buf = (struct semid_ds *)8;
    CHECK_ERR(semctl(id, 0, IPC_STAT, arg), EFAULT, "IPC_STAT to a bad pointer is EFAULT");
    struct timespec badts = {0, 1000000000L};
    struct sembuf dec = {0, -1, 0};
    CHECK_ERR(semtimedop(id, &dec, 1, &badts), EINVAL, "semtimedop with tv_nsec 1e9 is EINVAL");

    /* --- values --- */
    arg.buf = &ds;
    CHECK(semctl(id, 0, IPC_STAT, arg) == 0 && ds.sem_nsems == 3 && (ds.sem_perm.mode & 0777) == 0600
          && ds.sem_otime == 0 && ds.sem_ctime > 0 && ds.sem_perm.uid == geteuid(),
          "IPC_STAT: nsems 3, mode, no semop yet");
    CHECK(semctl(id, 1, SETVAL, 5) == 0 && semctl(id, 1, GETVAL) == 5, "SETVAL/GETVAL");
    CHECK(semctl(id, 1, GETPID) == getpid(), "GETPID after SETVAL is the caller");
    unsigned short all[3] = {1, 2, 3}, got[3] = {0};
    arg.array = all;
    CHECK(semctl(id, 0, SETALL, arg) == 0, "SETALL");
    arg.array = got;
    CHECK(semctl(id, 0, GETALL, arg) == 0 && got[0] == 1 && got[1] == 2 && got[2] == 3, "GETALL");
    unsigned short big[3] = {1, 40000, 3};
    arg.array = big;
    CHECK_ERR(semctl(id, 0, SETALL, arg), ERANGE, "SETALL above SEMVMX is ERANGE");
    CHECK(op(id, 0, 2, 0) == 0 && semctl(id, 0, GETVAL) == 3, "semop +2");
    arg.buf = &ds;
    CHECK(semctl(id, 0, IPC_STAT, arg) == 0 && ds.sem_otime > 0, "semop sets sem_otime");
    CHECK(semctl(id, 2, SETVAL, 32767) == 0, "SETVAL SEMVMX");
    CHECK_ERR(op(id, 2, 1, 0), ERANGE, "semop past SEMVMX is ERANGE");

    /* --- atomic arrays, IPC_NOWAIT --- */
    semctl(id, 0, SETVAL, 1);
    semctl(id, 1, SETVAL, 0);
    two[0] = (struct sembuf){0, -1, 0};
    two[1] = (struct sembuf){1, -1, IPC_NOWAIT};
    CHECK_ERR(semop(id, two, 2), EAGAIN, "an array whose second op would block: EAGAIN (IPC_NOWAIT)");
    CHECK(semctl(id, 0, GETVAL) == 1, "and its first op was not applied");
    two[1] = (struct sembuf){1, 1, 0};
    CHECK(semop(id, two, 2) == 0 && semctl(id, 0, GETVAL) == 0 && semctl(id, 1, GETVAL) == 1,
          "both ops of an array apply together");
    semctl(id, 2, SETVAL, 1);
    CHECK_ERR(op(id, 2, 0, IPC_NOWAIT), EAGAIN, "wait-for-zero on a nonzero value with IPC_NOWAIT: EAGAIN");
    struct timespec ts = {0, 60000000L};
    long t0 = now_ms();
    CHECK_ERR(semtimedop(id, &dec, 1, &ts), EAGAIN, "semtimedop times out with EAGAIN");
    CHECK(now_ms() - t0 >= 50, "after its timeout");

    /* --- blocking, woken by another process --- */
    semctl(id, 0, SETVAL, 0);
    pid_t pid = fork();
    if (pid == 0) _exit(op(id, 0, -1, 0) == 0 ? 0 : 1);
    CHECK(wait_count(id, 0, GETNCNT, 1), "GETNCNT counts the blocked child");
    CHECK(op(id, 0, 1, 0) == 0, "the parent posts");
    int st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's semop returned");
    CHECK(semctl(id, 0, GETVAL) == 0 && semctl(id, 0, GETNCNT) == 0, "value taken, no waiter left");

    semctl(id, 2, SETVAL, 2);
    pid = fork();
    if (pid == 0) _exit(op(id, 2, 0, 0) == 0 ? 0 : 1);
    CHECK(wait_count(id, 2, GETZCNT, 1), "GETZCNT counts the child waiting for zero");
    CHECK(op(id, 2, -2, 0) == 0, "the parent brings it to zero");
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(id, 2, GETZCNT) == 0, "the zero-waiter returned");

    /* --- EINTR --- */
    pid = fork();
    if (pid == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;       /* semop is never restarted */
        sigaction(SIGUSR1, &sa, NULL);
        int r = op(id, 0, -1, 0);
        _exit(r == -1 && errno == EINTR ? 0 : 1);
    }
    CHECK(wait_count(id, 0, GETNCNT, 1), "a child blocks again");
    kill(pid, SIGUSR1);
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a signal interrupts semop with EINTR despite SA_RESTART");
    CHECK(semctl(id, 0, GETNCNT) == 0, "the interrupted waiter is no longer counted");

    /* --- SEM_UNDO --- */
    semctl(id, 1, SETVAL, 5);
    pid = fork();
    if (pid == 0) _exit(op(id, 1, -2, SEM_UNDO) == 0 && op(id, 1, 1, SEM_UNDO) == 0 ? 0 : 1);
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(id, 1, GETVAL) == 5, "SEM_UNDO is undone at exit");
    pid = fork();
    if (pid == 0) {
        op(id, 1, 3, SEM_UNDO);
        for (;;) pause();
    }
    for (int i = 0; i < 400 && semctl(id, 1, GETVAL) != 8; i++) msleep(5);
    CHECK(semctl(id, 1, GETVAL) == 8, "the child's +3 shows");
    kill(pid, SIGKILL);
    child_status(pid);
    CHECK(semctl(id, 1, GETVAL) == 5, "SEM_UNDO is undone when the process is killed");
    pid = fork();
    if (pid == 0) _exit(op(id, 1, 1, SEM_UNDO) == 0 && semctl(id, 1, SETVAL, 10) == 0 ? 0 : 1);
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && semctl(id, 1, GETVAL) == 10, "SETVAL clears the adjustment");

    /* --- EIDRM --- */
    int gone = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    pid = fork();
    if (pid == 0) {
        int r = op(gone, 0, -1, 0);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    CHECK(wait_count(gone, 0, GETNCNT, 1), "a child blocks on a second set");
    CHECK(semctl(gone, 0, IPC_RMID) == 0, "IPC_RMID of that set");
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocked semop fails with EIDRM");
    CHECK_ERR(semctl(gone, 0, GETVAL), EINVAL, "the removed id is EINVAL");

    /* --- keys and permissions --- */
    int kid = semget(key, 2, IPC_CREAT | IPC_EXCL | 0640);
    CHECK(kid >= 0, "semget(key, IPC_CREAT|IPC_EXCL)");
    CHECK_ERR(semget(key, 2, IPC_CREAT | IPC_EXCL | 0640), EEXIST, "IPC_EXCL on an existing key is EEXIST");
    CHECK(semget(key, 0, 0) == kid && semget(key, 2, 0) == kid, "the key finds the set");
    CHECK_ERR(semget(key, 3, 0), EINVAL, "more semaphores than the set has is EINVAL");
    if (geteuid() == 0) {
        pid = fork();
        if (pid == 0) {
            if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) _exit(90);
            int bad = 0;
            if (op(kid, 0, 1, IPC_NOWAIT) != -1 || errno != EACCES) bad |= 1;
            if (semctl(kid, 0, GETVAL) != -1 || errno != EACCES) bad |= 2;
            if (semctl(kid, 0, IPC_RMID) != -1 || errno != EPERM) bad |= 4;
            if (semget(key, 2, 0400) != -1 || errno != EACCES) bad |= 8;
            _exit(bad);
        }
        st = child_status(pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another uid: semop/GETVAL/semget EACCES, IPC_RMID EPERM");
    } else {
        arg.buf = &ds;
        semctl(kid, 0, IPC_STAT, arg);
        ds.sem_perm.mode = 0;
        semctl(kid, 0, IPC_SET, arg);
        CHECK(op(kid, 0, 1, IPC_NOWAIT) == -1 && errno == EACCES && semctl(kid, 0, GETVAL) == -1
              && errno == EACCES && semget(key, 2, 0400) == -1 && errno == EACCES,
              "another uid: semop/GETVAL/semget EACCES, IPC_RMID EPERM");
    }
    arg.buf = &ds;
    CHECK(semctl(kid, 0, IPC_STAT, arg) == 0 && ds.sem_perm.PERM_KEY == key, "IPC_STAT shows the key");
    ds.sem_perm.mode = 0666;
    CHECK(semctl(kid, 0, IPC_SET, arg) == 0 && semctl(kid, 0, IPC_STAT, arg) == 0
          && (ds.sem_perm.mode & 0777) == 0666, "IPC_SET changes the mode");
    CHECK(semctl(kid, 0, IPC_RMID) == 0, "IPC_RMID");
    CHECK_ERR(semget(key, 0, 0), ENOENT, "the key is free again");

    /* --- info --- */
    struct seminfo si;
    arg.__buf = &si;
    int maxidx = semctl(0, 0, IPC_INFO, arg);
    CHECK(maxidx >= 0 && si.semmsl == 32000 && si.semopm == 500 && si.semvmx == 32767, "IPC_INFO: the limits");
    CHECK(semctl(0, 0, SEM_INFO, arg) >= 0 && si.semusz >= 1 && si.semaem >= 3, "SEM_INFO: sets and semaphores in use");
    int found = 0;
    arg.buf = &ds;
    for (int i = 0; i <= maxidx; i++)
        if (semctl(i, 0, SEM_STAT, arg) == id && ds.sem_nsems == 3) found = 1;
    CHECK(found, "SEM_STAT by index finds the set's id");

    FILE *fp = fopen("/proc/sysvipc/sem", "r");
    char line[512];
    int seen = 0, header = 0;
    if (fp) {
        while (fgets(line, sizeof line, fp)) {
            if (strstr(line, "semid") && strstr(line, "nsems")) header = 1;
            long long skey, sid, n;
            unsigned mode;
            if (sscanf(line, "%lld %lld %o %lld", &skey, &sid, &mode, &n) == 4 && sid == id && n == 3)
                seen = 1;
        }
        fclose(fp);
    }
    CHECK(header && seen, "/proc/sysvipc/sem lists the set");
    CHECK(semctl(id, 0, IPC_RMID) == 0, "IPC_RMID of the first set");
    DONE();
}
