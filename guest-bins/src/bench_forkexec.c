/* Benchmark: fork + execve + wait of a small static program.
 * Forks N times (argv[1], default 50); each child execs PROGRAM (argv[2],
 * default the `hello` next to this binary) with its stdout on /dev/null, and
 * the parent waits for it.  Prints "forkexec_ms <milliseconds per iteration>",
 * which bench/run.py sets against qemu-aarch64's start-up of the same program. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 50;
    char prog[4096];
    if (argc > 2) {
        snprintf(prog, sizeof prog, "%s", argv[2]);
    } else {
        ssize_t len = readlink("/proc/self/exe", prog, sizeof prog - 16);
        if (len < 0) { perror("readlink"); return 1; }
        prog[len] = 0;
        char *slash = strrchr(prog, '/');
        strcpy(slash ? slash + 1 : prog, "hello");
    }
    char *cargv[] = {prog, NULL};
    char *cenv[] = {NULL};
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) { perror("fork"); return 1; }
        if (c == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) dup2(null, 1);
            execve(prog, cargv, cenv);
            _exit(127);
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %ld failed (status %#x)\n", i, st);
            return 1;
        }
    }
    double dt = now() - t0;
    printf("forkexec_ms %.3f\n", dt / n * 1e3);
    return 0;
}
