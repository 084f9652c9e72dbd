/* SysV IPC waits in a multithreaded process: a thread blocked in semop or
 * msgrcv must not stop the other threads, which wake it (same process), and
 * a semtimedop in a thread still times out. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

static int semid, msgid;
struct msg { long type; char text[16]; };

static void *sem_waiter(void *arg) {
    (void)arg;
    struct sembuf b = {0, -1, 0};
    return (void *)(long)semop(semid, &b, 1);
}

static void *msg_waiter(void *arg) {
    (void)arg;
    struct msg m;
    long n = msgrcv(msgid, &m, sizeof m.text, 7, 0);
    return (void *)(n == 3 && m.type == 7 && !strcmp(m.text, "hi") ? 0L : -1L);
}

static void *timed(void *arg) {
    (void)arg;
    struct sembuf b = {1, -1, 0};
    struct timespec ts = {0, 300000000L}, t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long r = semtimedop(semid, &b, 1, &ts);
    int e = errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    /* the other threads' semop and msgsnd in the meantime do not extend the timeout */
    return (void *)(r == -1 && e == EAGAIN && ms >= 250 && ms < 2000 ? 0L : -1L);
}

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int main(void) {
    semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    msgid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(semid >= 0 && msgid >= 0, "a set and a queue");
    pthread_t t1, t2, t3;
    void *r1, *r2, *r3;
    pthread_create(&t1, NULL, sem_waiter, NULL);
    pthread_create(&t2, NULL, msg_waiter, NULL);
    pthread_create(&t3, NULL, timed, NULL);
    for (int i = 0; i < 200 && semctl(semid, 0, GETNCNT) < 1; i++) msleep(5);
    msleep(50);
    struct sembuf post = {0, 1, 0};
    CHECK(semop(semid, &post, 1) == 0, "the main thread runs while a thread waits, and posts");
    struct msg m = {7, "hi"};
    CHECK(msgsnd(msgid, &m, 3, 0) == 0, "and sends");
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    pthread_join(t3, &r3);
    CHECK(r1 == 0, "the thread's semop returned");
    CHECK(r2 == 0, "the thread's msgrcv got the message");
    CHECK(r3 == 0, "a thread's semtimedop timed out with EAGAIN");
    CHECK(semctl(semid, 0, GETVAL) == 0, "the value was taken");
    semctl(semid, 0, IPC_RMID);
    msgctl(msgid, IPC_RMID, NULL);
    DONE();
}
