/* Benchmark: CPU-bound loops, timed inside the guest (start-up excluded).
 *   cpu_s      an integer LCG/xorshift loop: registers only (the bar's loop)
 *   cpu_mem_s  a sieve of Eratosthenes over 1 MiB: loads and stores
 * argv[1] scales both (default 1.0).  With a second argument `shared` a
 * writable MAP_SHARED page is mapped first: the process is then a member of
 * the execution token (runtime/exectoken.py), always run in time slices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned char sieve[1 << 20];

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (argc > 2 && strcmp(argv[2], "shared") == 0 &&
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        return 1;
    long n = (long)(200000000 * scale);
    unsigned long x = 1;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        x ^= x >> 13;
    }
    double t1 = now();
    long rounds = (long)(40 * scale) + 1, primes = 0;
    for (long r = 0; r < rounds; r++) {
        memset(sieve, 1, sizeof sieve);
        primes = 0;
        for (long i = 2; i < (long)sizeof sieve; i++) {
            if (!sieve[i]) continue;
            primes++;
            for (long j = i * i; j < (long)sizeof sieve; j += i) sieve[j] = 0;
        }
    }
    double t2 = now();
    printf("check %lu %ld\n", x, primes);
    printf("cpu_s %.4f\n", t1 - t0);
    printf("cpu_mem_s %.4f\n", t2 - t1);
    return 0;
}
