/* sigaltstack + SA_ONSTACK: the handler runs on the alternate stack, reports
 * SS_ONSTACK, cannot change it while on it; a stack overflow is caught. */
#include "guest_test.h"
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char altbuf[65536] __attribute__((aligned(16)));
static volatile int on_alt, flags_in, eperm, got;

static void handler(int sig) {
    char local;
    uintptr_t a = (uintptr_t)&local;
    on_alt = a >= (uintptr_t)altbuf && a < (uintptr_t)altbuf + sizeof altbuf;
    stack_t cur;
    sigaltstack(NULL, &cur);
    flags_in = cur.ss_flags;
    stack_t ns = {.ss_sp = altbuf, .ss_size = sizeof altbuf, .ss_flags = 0};
    eperm = sigaltstack(&ns, NULL) == -1 && errno == EPERM;
    got = sig;
}

int main(void) {
    stack_t ss = {.ss_sp = altbuf, .ss_size = sizeof altbuf, .ss_flags = 0}, old;
    CHECK(sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE), "no altstack at start");
    stack_t small = {.ss_sp = altbuf, .ss_size = 512, .ss_flags = 0};
    CHECK_ERR(sigaltstack(&small, NULL), ENOMEM, "too small: ENOMEM");
    stack_t bad = {.ss_sp = altbuf, .ss_size = sizeof altbuf, .ss_flags = 12345};
    CHECK_ERR(sigaltstack(&bad, NULL), EINVAL, "bad flags: EINVAL");
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack set");
    CHECK(sigaltstack(NULL, &old) == 0 && old.ss_sp == altbuf && old.ss_size == sizeof altbuf
          && old.ss_flags == 0, "sigaltstack reads back");

    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK(got == SIGUSR1 && on_alt, "SA_ONSTACK handler runs on the alternate stack");
    CHECK(flags_in == SS_ONSTACK, "ss_flags is SS_ONSTACK inside");
    CHECK(eperm, "changing the altstack while on it: EPERM");

    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    got = 0;
    raise(SIGUSR1);
    CHECK(got == SIGUSR1 && !on_alt, "without SA_ONSTACK: the normal stack");

    stack_t dis = {.ss_flags = SS_DISABLE};
    CHECK(sigaltstack(&dis, NULL) == 0 && sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE),
          "SS_DISABLE");
    DONE();
}
