/* exec_chain N [STOP...]: exec itself (/proc/self/exe) N times in a row, in the
 * same process.  At each step whose number is one of the STOPs it prints
 * "step N pid P" and waits for a line on stdin, so that a test can look at the
 * emulator process from outside (its fds, its memory) between execs; at step 0
 * it prints "done pid P" and exits 0.  tests/test_proc.py uses it to check that
 * repeated in-process execs leak neither host fds nor memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    for (int i = 2; i < argc; i++) {
        if (atol(argv[i]) == n) {
            printf("step %ld pid %d\n", n, (int)getpid());
            fflush(stdout);
            char line[16];
            if (!fgets(line, sizeof line, stdin)) return 2;
        }
    }
    if (n <= 0) {
        printf("done pid %d\n", (int)getpid());
        return 0;
    }
    char num[24];
    snprintf(num, sizeof num, "%ld", n - 1);
    argv[1] = num;
    execv("/proc/self/exe", argv);
    perror("execv");
    return 1;
}
