/* The first guest program: greets, echoes its arguments, exits 0. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("Hello from an AArch64 guest!");
    for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
    return 0;
}
