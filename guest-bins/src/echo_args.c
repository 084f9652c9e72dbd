/* Prints each argv element on its own line, as "argv[N]=VALUE"; exits 0.
 * Shebang tests use it as an interpreter to see the argv Linux builds. */
#include <stdio.h>

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    return 0;
}
