/* Tiny check helpers shared by the guest test programs.
 * CHECK prints "ok - what" or "not ok - what (errno)" and counts failures;
 * the program exits with the number of failures (capped), so the host side
 * can assert on both the output and the status. */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int guest_failures;

#define CHECK(cond, what) do { \
    int e_ = errno; \
    if (cond) printf("ok - %s\n", what); \
    else { printf("not ok - %s (line %d, errno %d %s)\n", what, __LINE__, e_, strerror(e_)); guest_failures++; } \
    fflush(stdout); \
} while (0)

/* A call that must fail with a given errno. */
#define CHECK_ERR(expr, err, what) do { \
    errno = 0; long r_ = (long)(expr); int e_ = errno; \
    if (r_ == -1 && e_ == (err)) printf("ok - %s\n", what); \
    else { printf("not ok - %s (line %d: got %ld errno %d, want errno %d)\n", what, __LINE__, r_, e_, (err)); guest_failures++; } \
    fflush(stdout); \
} while (0)

#define DONE() return guest_failures > 100 ? 100 : guest_failures

#endif
