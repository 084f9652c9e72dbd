/* Harness test helper: `exit_with N [TEXT]` prints TEXT (if given) on stdout
 * and "stderr N" on stderr, then exits with status N; `exit_with segv`
 * dereferences NULL (SIGSEGV, status 139 under a shell); `exit_with spin`
 * prints "spinning" and loops forever (for timeouts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "segv") == 0) {
        volatile int *p = 0;
        *p = 1;
    }
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        printf("spinning\n");
        fflush(stdout);
        for (volatile unsigned long i = 0;; i++) {}
    }
    int status = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2) printf("%s\n", argv[2]);
    fprintf(stderr, "stderr %d\n", status);
    return status;
}
