/* A process that has had threads forks while its time slices are still on; the child
 * computes without syscalls until SIGALRM's handler sets a flag: the child's run must
 * still end so that the signal is delivered. */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static volatile int flag;

static void on_alarm(int sig) {
    (void)sig;
    flag = 1;
}

static void *noop(void *arg) { return arg; }

int main(void) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, noop, NULL) == 0 && pthread_join(t, NULL) == 0,
          "a thread comes and goes (time slices are on)");
    pid_t p = fork();
    if (p == 0) {
        signal(SIGALRM, on_alarm);
        struct itimerval it = {{0, 0}, {0, 50000}};
        if (setitimer(ITIMER_REAL, &it, NULL)) _exit(2);
        unsigned long x = 1;
        while (!flag) x = x * 6364136223846793005UL + 1;
        _exit(x == 0 ? 3 : 0);
    }
    int st = -1;
    CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the fork child computing alone takes SIGALRM");
    DONE();
}
