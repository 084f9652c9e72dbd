/* Benchmark: the trivial syscall round trip.
 * Calls getppid with a raw `svc #0` N times (argv[1], default 300000) and
 * prints "syscall_us <microseconds per call>".  The raw instruction keeps
 * libc wrappers out of the measurement, so musl and glibc builds agree.
 * With a second argument `shared` it first maps a writable MAP_SHARED page,
 * which makes the process a member of the execution token
 * (runtime/exectoken.py): the cost a member pays per syscall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline long raw_getppid(void) {
    register long x8 __asm__("x8") = 173;   /* __NR_getppid on AArch64 */
    register long x0 __asm__("x0");
    __asm__ volatile("svc #0" : "=r"(x0) : "r"(x8) : "memory");
    return x0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 300000;
    long sum = 0;
    if (argc > 2 && strcmp(argv[2], "shared") == 0 &&
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        return 1;
    double t0 = now();
    for (long i = 0; i < n; i++) sum += raw_getppid();
    double dt = now() - t0;
    if (sum == 0) printf("parent pid 0?\n");
    printf("syscall_us %.4f\n", dt / n * 1e6);
    return 0;
}
