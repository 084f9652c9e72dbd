/* A guest for the gdb stub's tests (tests/test_gdbstub.py), built with -O0 -g
 * (guest-bins/build/gdb_target): a few lines to break, step and print in.
 *   gdb_target           exits with 7 after square(6)
 *   gdb_target spin      prints "spinning" and loops until interrupted
 *   gdb_target threads   two threads that meet in thread_body(), exit 0
 *   gdb_target segv      writes through a null pointer
 *   gdb_target fork      a child runs child_work() (exit 49); exit 5 when it did
 *   gdb_target exec      execs itself without arguments (so exits 7) */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile unsigned long counter;
int *volatile nowhere;

static int square(int x)
{
    int r = x * x;
    return r;
}

static void *thread_body(void *arg)
{
    long id = (long)arg;
    counter += id;
    return arg;
}

static int run_threads(void)
{
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], 0, thread_body, (void *)(i + 1)))
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], 0);
    return counter == 3 ? 0 : 2;
}

static int child_work(void)
{
    return square(7);
}

static int run_fork(void)
{
    int status = 0;
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_work());
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 49 ? 5 : 2;
}

int main(int argc, char **argv)
{
    int local = 6;
    int sq = square(local);
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        printf("spinning\n");
        fflush(stdout);
        for (;;)
            counter++;
    }
    if (argc > 1 && strcmp(argv[1], "threads") == 0)
        return run_threads();
    if (argc > 1 && strcmp(argv[1], "fork") == 0)
        return run_fork();
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        char *args[] = {argv[0], 0};
        execv(argv[0], args);
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "segv") == 0)
        *nowhere = sq;
    return sq == 36 ? 7 : 1;
}
