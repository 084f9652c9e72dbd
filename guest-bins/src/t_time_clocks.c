/* Clocks and sleeps through the raw syscalls (no vDSO ambiguity):
 * monotonic increases, sleeps last at least as asked, bad ids and bad
 * pointers fail like Linux.  Prints no times, only checks. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>
#include "guest_test.h"

static long long ns(clockid_t c) {
    struct timespec t;
    if (syscall(SYS_clock_gettime, c, &t) != 0) return -1;
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                    CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                                    CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
    static const char *names[] = {"REALTIME", "MONOTONIC", "PROCESS_CPUTIME_ID", "THREAD_CPUTIME_ID",
                                  "MONOTONIC_RAW", "REALTIME_COARSE", "MONOTONIC_COARSE", "BOOTTIME"};
    char what[80];
    for (unsigned i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        struct timespec t = {-1, -1}, r = {-1, -1};
        snprintf(what, sizeof what, "clock_gettime CLOCK_%s", names[i]);
        CHECK(syscall(SYS_clock_gettime, ids[i], &t) == 0 && t.tv_nsec >= 0 && t.tv_nsec < 1000000000, what);
        snprintf(what, sizeof what, "clock_getres CLOCK_%s", names[i]);
        CHECK(syscall(SYS_clock_getres, ids[i], &r) == 0 && r.tv_sec == 0 && r.tv_nsec > 0 && r.tv_nsec <= 10000000, what);
    }
    CHECK(ns(CLOCK_REALTIME) > 1600000000LL * 1000000000LL, "realtime is after 2020");
    long long a = ns(CLOCK_MONOTONIC), b = ns(CLOCK_MONOTONIC);
    CHECK(a > 0 && b >= a, "monotonic does not go back");
    clockid_t cpu;
    CHECK(clock_getcpuclockid(0, &cpu) == 0 && ns(cpu) > 0, "own process CPU clock via clock_getcpuclockid");

    CHECK_ERR(syscall(SYS_clock_gettime, 12345, &(struct timespec){0}), EINVAL, "unknown clock id is EINVAL");
    CHECK_ERR(syscall(SYS_clock_gettime, 10, &(struct timespec){0}), EINVAL, "unused clock id 10 is EINVAL");
    CHECK_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8), EFAULT, "bad pointer is EFAULT");
    CHECK_ERR(syscall(SYS_clock_getres, 12345, NULL), EINVAL, "clock_getres of an unknown id is EINVAL");
    CHECK(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL) == 0, "clock_getres with NULL is fine");

    struct timespec req = {0, 30 * 1000000}, rem = {0, 0};
    a = ns(CLOCK_MONOTONIC);
    CHECK(syscall(SYS_nanosleep, &req, &rem) == 0, "nanosleep 30 ms");
    b = ns(CLOCK_MONOTONIC);
    CHECK(b - a >= 30 * 1000000LL, "nanosleep slept at least 30 ms");
    CHECK(b - a < 3000 * 1000000LL, "nanosleep did not sleep absurdly long");
    req.tv_nsec = 1000000000;
    CHECK_ERR(syscall(SYS_nanosleep, &req, NULL), EINVAL, "tv_nsec of 1e9 is EINVAL");
    req.tv_nsec = -1;
    CHECK_ERR(syscall(SYS_nanosleep, &req, NULL), EINVAL, "negative tv_nsec is EINVAL");

    struct timespec dl;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 20000000;
    if (dl.tv_nsec >= 1000000000) { dl.tv_sec++; dl.tv_nsec -= 1000000000; }
    CHECK(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) == 0, "clock_nanosleep TIMER_ABSTIME");
    b = ns(CLOCK_MONOTONIC);
    CHECK(b >= dl.tv_sec * 1000000000LL + dl.tv_nsec, "absolute sleep reached its deadline");
    req.tv_sec = 0; req.tv_nsec = 5000000;
    CHECK(syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, &req, NULL) == 0, "clock_nanosleep relative REALTIME");
    CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL), EOPNOTSUPP,
              "clock_nanosleep on the thread CPU clock is EOPNOTSUPP");
    CHECK_ERR(syscall(SYS_clock_nanosleep, 12345, 0, &req, NULL), EINVAL, "clock_nanosleep of an unknown id is EINVAL");

    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000, "gettimeofday");
    long long rt = ns(CLOCK_REALTIME);
    CHECK(llabs(rt / 1000000000LL - tv.tv_sec) <= 2, "gettimeofday agrees with CLOCK_REALTIME");
    CHECK_ERR(syscall(SYS_gettimeofday, (void *)8, NULL), EFAULT, "gettimeofday with a bad pointer is EFAULT");
    struct tms t;
    clock_t c = times(&t);
    CHECK(c != (clock_t)-1, "times");
    CHECK(t.tms_utime >= 0 && t.tms_stime >= 0, "times fills struct tms");
    DONE();
}
