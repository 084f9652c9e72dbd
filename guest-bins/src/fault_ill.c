/* Executes a permanently undefined instruction (UDF #0): SIGILL, status 132. */
#include <stdio.h>

int main(void) {
    printf("executing udf #0\n");
    fflush(stdout);
    __asm__ volatile(".inst 0x00000000");
    printf("still alive?\n");
    return 0;
}
