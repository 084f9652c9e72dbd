/* Jumps to an unmapped address: the guest must die of SIGSEGV
 * ("Segmentation fault" on stderr, exit status 139). */
#include <stdio.h>

int main(void) {
    void (*volatile fn)(void) = (void (*)(void))0xdead0000UL;
    printf("jumping to %p\n", (void *)fn);
    fflush(stdout);
    fn();
    printf("still alive?\n");
    return 0;
}
