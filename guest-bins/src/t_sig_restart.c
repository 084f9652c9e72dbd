/* SA_RESTART vs EINTR: a blocking read interrupted by SIGALRM from setitimer,
 * and a CPU-bound loop interrupted by a timer (async delivery). */
#include "guest_test.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int alarms;
static void on_alarm(int sig) { alarms++; (void)sig; }

static void arm(long usec) {
    struct itimerval it = {{0, 0}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    /* Without SA_RESTART: read returns EINTR. */
    int p[2];
    pipe(p);
    alarms = 0;
    arm(50000);
    char c;
    CHECK_ERR(read(p[0], &c, 1), EINTR, "read interrupted without SA_RESTART: EINTR");
    CHECK(alarms == 1, "handler ran once");

    /* With SA_RESTART: read is restarted and gets the byte a child writes later. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarms = 0;
    pid_t ch = fork();
    if (ch == 0) { usleep(300000); write(p[1], "z", 1); _exit(0); }
    arm(50000);
    c = 0;
    ssize_t n = read(p[0], &c, 1);
    CHECK(n == 1 && c == 'z', "read restarted with SA_RESTART returns the data");
    CHECK(alarms == 1, "handler ran during the restarted read");
    waitpid(ch, NULL, 0);

    /* getitimer reports a running timer. */
    struct itimerval it = {{0, 0}, {5, 0}}, cur;
    setitimer(ITIMER_REAL, &it, NULL);
    getitimer(ITIMER_REAL, &cur);
    CHECK(cur.it_value.tv_sec <= 5 && (cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0), "getitimer");
    struct itimerval zero = {{0, 0}, {0, 0}}, old;
    setitimer(ITIMER_REAL, &zero, &old);
    CHECK(old.it_value.tv_sec <= 5 && old.it_value.tv_sec >= 4, "setitimer returns the old value");

    /* A CPU-bound loop with no syscalls still gets the signal. */
    alarms = 0;
    arm(50000);
    volatile unsigned long spins = 0;
    while (!alarms) spins++;
    CHECK(alarms == 1, "timer signal interrupts a CPU-bound loop");

    /* A periodic timer. */
    alarms = 0;
    struct itimerval per = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &per, NULL);
    while (alarms < 3) pause();
    setitimer(ITIMER_REAL, &zero, NULL);
    CHECK(alarms >= 3, "periodic ITIMER_REAL and pause()");
    DONE();
}
