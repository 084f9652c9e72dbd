/* Benchmark: the same CPU-bound LCG work done in a single-threaded process, then by
 * 1, 2 and 8 threads of a threaded one (timed inside the guest; start-up excluded).
 *   thr0_s  the loop in main, before any thread exists
 *   thrN_s  the work split over N threads (the main thread joins them)
 * argv[1] scales the work (default 1.0). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long per;
static volatile unsigned long sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *work(void *arg) {
    unsigned long x = (unsigned long)arg + 1;
    for (long i = 0; i < per; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        x ^= x >> 13;
    }
    sink += x;
    return NULL;
}

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    long total = (long)(100000000 * scale);
    per = total;
    double t0 = now();
    work(0);
    printf("thr0_s %.4f\n", now() - t0);
    int counts[] = {1, 2, 8};
    for (int k = 0; k < 3; k++) {
        int n = counts[k];
        pthread_t t[8];
        per = total / n;
        t0 = now();
        for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, work, (void *)(long)i);
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
        printf("thr%d_s %.4f\n", n, now() - t0);
    }
    return 0;
}
