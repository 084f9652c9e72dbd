/* Writes through a NULL pointer: SIGSEGV, exit status 139. */
#include <stdio.h>

int main(void) {
    int *volatile p = 0;
    printf("writing to NULL\n");
    fflush(stdout);
    *p = 42;
    printf("still alive?\n");
    return 0;
}
