/* SysV message queues: msgget keys, msgsnd/msgrcv type selection (0, > 0,
 * < 0, MSG_EXCEPT), E2BIG and MSG_NOERROR, MSG_COPY, IPC_NOWAIT (ENOMSG,
 * EAGAIN on a full queue), blocking receive and send woken by another
 * process, EINTR, EIDRM, IPC_STAT/IPC_SET (msg_qbytes)/IPC_INFO/MSG_INFO/
 * MSG_STAT, permissions, bad input, /proc/sysvipc/msg. */
/* qemu-differs: qemu 7.2 aborts (cpu_exec assertion) on msgsnd above MSGMAX */
#define _GNU_SOURCE
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "guest_test.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct msg { long type; char text[200]; };

static int child_status(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return st;
}

static void msleep(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int send(int id, long type, const char *text, int flg) {
    struct msg m = {type, {0}};
    strcpy(m.text, text);
    return msgsnd(id, &m, strlen(text), flg);
}

/* Receive into a fresh buffer; returns the length, the text NUL-terminated in *m. */
static long recv(int id, struct msg *m, size_t size, long type, int flg) {
    memset(m, 0, sizeof *m);
    return msgrcv(id, m, size, type, flg);
}

/* A child that reports (by a pipe byte) that it is about to block. */
static void ready_wait(int fd) {
    char c;
    if (read(fd, &c, 1) != 1) printf("# no ready byte\n");
    msleep(100);
}

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    key_t key = 0x5d000000 | (getpid() & 0xffffff);
    struct msqid_ds ds;
    struct msg m;

    /* --- bad input --- */
    CHECK_ERR(msgget(key, 0600), ENOENT, "unknown key is ENOENT");
    CHECK_ERR(msgctl(-1, IPC_STAT, &ds), EINVAL, "msgctl on id -1 is EINVAL");
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(id >= 0, "msgget(IPC_PRIVATE)");
    CHECK_ERR(send(id, 0, "x", 0), EINVAL, "mtype 0 is EINVAL");
    static char huge[9000] = {1};
    CHECK_ERR(msgsnd(id, huge, 8193, 0), EINVAL, "a message above MSGMAX is EINVAL");
    CHECK_ERR(msgsnd(id, (void *)8, 4, 0), EFAULT, "msgsnd of a bad pointer is EFAULT");
    CHECK_ERR(msgrcv(id, &m, (size_t)-1, 0, IPC_NOWAIT), EINVAL, "a negative msgrcv size is EINVAL");
    CHECK_ERR(msgrcv(id, &m, 10, 0, MSG_COPY), EINVAL, "MSG_COPY without IPC_NOWAIT is EINVAL");
    CHECK_ERR(msgctl(id, 12345, &ds), EINVAL, "unknown msgctl command is EINVAL");
    CHECK_ERR(msgctl(id, IPC_STAT, (void *)8), EFAULT, "IPC_STAT to a bad pointer is EFAULT");
    CHECK_ERR(recv(id, &m, 100, 0, IPC_NOWAIT), ENOMSG, "an empty queue with IPC_NOWAIT is ENOMSG");

    /* --- type selection --- */
    CHECK(send(id, 5, "a5", 0) == 0 && send(id, 2, "b2", 0) == 0 && send(id, 7, "c7-long", 0) == 0
          && send(id, 2, "d2", 0) == 0 && send(id, 3, "e3", 0) == 0, "five messages sent");
    CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 5 && ds.msg_cbytes == 15 && ds.msg_qbytes == 16384
          && ds.msg_lspid == getpid() && ds.msg_lrpid == 0 && ds.msg_stime > 0 && ds.msg_rtime == 0,
          "IPC_STAT: qnum, cbytes, qbytes, lspid, times");
    CHECK(recv(id, &m, 100, 1, MSG_COPY | IPC_NOWAIT) == 2 && m.type == 2 && !strcmp(m.text, "b2"),
          "MSG_COPY copies the message at position 1");
    CHECK(recv(id, &m, 100, 5, MSG_COPY | IPC_NOWAIT) == -1 && errno == ENOMSG, "MSG_COPY past the end is ENOMSG");
    CHECK(recv(id, &m, 100, 0, 0) == 2 && m.type == 5 && !strcmp(m.text, "a5"), "type 0: the first message");
    CHECK(recv(id, &m, 100, 2, 0) == 2 && !strcmp(m.text, "b2"), "type 2: the first of type 2");
    CHECK(recv(id, &m, 100, -6, 0) == 2 && m.type == 2 && !strcmp(m.text, "d2"), "type -6: the lowest type up to 6");
    CHECK(recv(id, &m, 100, 7, MSG_EXCEPT) == 2 && m.type == 3, "type 7 with MSG_EXCEPT: the first of another type");
    CHECK_ERR(recv(id, &m, 100, 9, IPC_NOWAIT), ENOMSG, "no message of type 9: ENOMSG");
    CHECK_ERR(recv(id, &m, 3, 0, 0), E2BIG, "a message longer than the buffer is E2BIG");
    CHECK(recv(id, &m, 3, 0, MSG_NOERROR) == 3 && !strcmp(m.text, "c7-") && m.type == 7,
          "MSG_NOERROR truncates it");
    CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 && ds.msg_cbytes == 0 && ds.msg_lrpid == getpid(),
          "the queue is empty, lrpid set");

    /* --- a full queue --- */
    ds.msg_qbytes = 100;
    CHECK(msgctl(id, IPC_SET, &ds) == 0, "IPC_SET msg_qbytes 100");
    char big[61];
    memset(big, 'x', 60);
    big[60] = 0;
    CHECK(send(id, 1, big, IPC_NOWAIT) == 0, "60 bytes fit");
    CHECK_ERR(send(id, 1, big, IPC_NOWAIT), EAGAIN, "60 more do not: EAGAIN");
    int pfd[2];
    pipe(pfd);
    pid_t pid = fork();
    if (pid == 0) {
        write(pfd[1], "r", 1);
        _exit(send(id, 1, big, 0) == 0 ? 0 : 1);
    }
    ready_wait(pfd[0]);
    CHECK(recv(id, &m, 100, 0, 0) == 60, "the parent makes room");
    int st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocked sender completes");
    CHECK(recv(id, &m, 100, 0, IPC_NOWAIT) == 60, "its message arrived");

    /* --- blocking receive --- */
    pid = fork();
    if (pid == 0) {
        write(pfd[1], "r", 1);
        _exit(recv(id, &m, 100, 42, 0) == 5 && m.type == 42 && !strcmp(m.text, "hello") ? 0 : 1);
    }
    ready_wait(pfd[0]);
    CHECK(send(id, 41, "other", 0) == 0 && send(id, 42, "hello", 0) == 0, "the parent sends types 41 and 42");
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocked receiver gets its type");
    CHECK(recv(id, &m, 100, 0, IPC_NOWAIT) == 5 && m.type == 41, "type 41 is still queued");

    /* --- EINTR --- */
    pid = fork();
    if (pid == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_usr1;
        sa.sa_flags = SA_RESTART;       /* msgrcv is never restarted */
        sigaction(SIGUSR1, &sa, NULL);
        write(pfd[1], "r", 1);
        long r = recv(id, &m, 100, 99, 0);
        _exit(r == -1 && errno == EINTR ? 0 : 1);
    }
    ready_wait(pfd[0]);
    int done = 0;
    for (int i = 0; i < 100 && !done; i++) {
        kill(pid, SIGUSR1);
        msleep(20);
        done = waitpid(pid, &st, WNOHANG) == pid;
    }
    CHECK(done && WIFEXITED(st) && WEXITSTATUS(st) == 0, "a signal interrupts msgrcv with EINTR");

    /* --- EIDRM --- */
    int gone = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    pid = fork();
    if (pid == 0) {
        write(pfd[1], "r", 1);
        long r = recv(gone, &m, 100, 0, 0);
        _exit(r == -1 && errno == EIDRM ? 0 : 1);
    }
    ready_wait(pfd[0]);
    CHECK(msgctl(gone, IPC_RMID, NULL) == 0, "IPC_RMID of a second queue");
    st = child_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocked msgrcv fails with EIDRM");
    CHECK_ERR(send(gone, 1, "x", 0), EINVAL, "the removed id is EINVAL");

    /* --- keys and permissions --- */
    int kid = msgget(key, IPC_CREAT | IPC_EXCL | 0640);
    CHECK(kid >= 0, "msgget(key, IPC_CREAT|IPC_EXCL)");
    CHECK_ERR(msgget(key, IPC_CREAT | IPC_EXCL | 0640), EEXIST, "IPC_EXCL on an existing key is EEXIST");
    CHECK(msgget(key, 0) == kid, "the key finds the queue");
    if (geteuid() == 0) {
        pid = fork();
        if (pid == 0) {
            if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) _exit(90);
            int bad = 0;
            if (send(kid, 1, "x", IPC_NOWAIT) != -1 || errno != EACCES) bad |= 1;
            if (recv(kid, &m, 10, 0, IPC_NOWAIT) != -1 || errno != EACCES) bad |= 2;
            if (msgctl(kid, IPC_RMID, NULL) != -1 || errno != EPERM) bad |= 4;
            if (msgget(key, 0200) != -1 || errno != EACCES) bad |= 8;
            _exit(bad);
        }
        st = child_status(pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another uid: msgsnd/msgrcv/msgget EACCES, IPC_RMID EPERM");
    } else {
        msgctl(kid, IPC_STAT, &ds);
        ds.msg_perm.mode = 0;
        msgctl(kid, IPC_SET, &ds);
        CHECK(send(kid, 1, "x", IPC_NOWAIT) == -1 && errno == EACCES && recv(kid, &m, 10, 0, IPC_NOWAIT) == -1
              && errno == EACCES && msgget(key, 0200) == -1 && errno == EACCES,
              "another uid: msgsnd/msgrcv/msgget EACCES, IPC_RMID EPERM");
    }
    CHECK(msgctl(kid, IPC_RMID, NULL) == 0, "IPC_RMID of the keyed queue");

    /* --- info --- */
    struct msginfo mi;
    int maxidx = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
    CHECK(maxidx >= 0 && mi.msgmax == 8192 && mi.msgmnb == 16384 && mi.msgssz == 16, "IPC_INFO: the limits");
    send(id, 3, "abc", 0);
    CHECK(msgctl(0, MSG_INFO, (struct msqid_ds *)&mi) >= 0 && mi.msgpool >= 1 && mi.msgmap >= 1 && mi.msgtql >= 3,
          "MSG_INFO: queues, messages and bytes in use");
    int found = 0;
    for (int i = 0; i <= maxidx; i++)
        if (msgctl(i, MSG_STAT, &ds) == id && ds.msg_qnum == 1) found = 1;
    CHECK(found, "MSG_STAT by index finds the queue's id");

    FILE *fp = fopen("/proc/sysvipc/msg", "r");
    char line[512];
    int seen = 0, header = 0;
    if (fp) {
        while (fgets(line, sizeof line, fp)) {
            if (strstr(line, "msqid") && strstr(line, "cbytes")) header = 1;
            long long skey, sid, cbytes, qnum;
            unsigned mode;
            if (sscanf(line, "%lld %lld %o %lld %lld", &skey, &sid, &mode, &cbytes, &qnum) == 5 && sid == id
                && cbytes == 3 && qnum == 1)
                seen = 1;
        }
        fclose(fp);
    }
    CHECK(header && seen, "/proc/sysvipc/msg lists the queue");
    CHECK(msgctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
    DONE();
}
