/* Time slices in a fork child: a process that has had threads forks, and the child's
 * own spinning thread must still be preempted so its main thread can stop it. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest_test.h"

static volatile int flag;

static void *spin(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&flag, __ATOMIC_ACQUIRE)) { }
    return NULL;
}

static void *noop(void *arg) { return arg; }

int main(void) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, noop, NULL) == 0 && pthread_join(t, NULL) == 0,
          "a thread comes and goes (the process runs in time slices)");
    pid_t p = fork();
    if (p == 0) {
        pthread_t s;
        if (pthread_create(&s, NULL, spin, NULL)) _exit(2);
        usleep(200000);          /* the spinner must be preempted for this to return */
        __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
        pthread_join(s, NULL);
        _exit(0);
    }
    int st = -1;
    CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the fork child's spinning thread is preempted");
    DONE();
}
