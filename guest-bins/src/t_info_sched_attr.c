/* sched_getattr/sched_setattr (sizes, E2BIG with the size written back,
 * flags), sched_setparam, sched_rr_get_interval, ioprio_get/ioprio_set,
 * getrlimit/setrlimit, mlock2 and mincore. */
#include "guest_test.h"
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
/* qemu-differs: qemu-user has no mlock2 (ENOSYS) */

struct sched_attr_ {
    uint32_t size, policy; uint64_t flags; int32_t nice; uint32_t priority;
    uint64_t runtime, deadline, period; uint32_t util_min, util_max;
};

int main(void) {
    struct sched_attr_ at;
    memset(&at, 0xff, sizeof at);
    CHECK(syscall(SYS_sched_getattr, 0, &at, sizeof at, 0) == 0, "sched_getattr of myself");
    CHECK(at.size == sizeof at && at.policy == 0, "... a SCHED_OTHER task, size 56 reported");
    CHECK(at.nice == getpriority(PRIO_PROCESS, 0), "... with my nice value");
    CHECK_ERR(syscall(SYS_sched_getattr, 0, &at, 47, 0), EINVAL, "sched_getattr with a size below VER0 is EINVAL");
    CHECK_ERR(syscall(SYS_sched_getattr, 0, &at, sizeof at, 1), EINVAL, "sched_getattr with flags is EINVAL");
    CHECK_ERR(syscall(SYS_sched_getattr, -1, &at, sizeof at, 0), EINVAL, "sched_getattr of pid -1 is EINVAL");
    CHECK_ERR(syscall(SYS_sched_getattr, 0, NULL, sizeof at, 0), EINVAL, "sched_getattr into NULL is EINVAL");
    CHECK_ERR(syscall(SYS_sched_getattr, 0, (void *)8, sizeof at, 0), EFAULT, "sched_getattr into a bad pointer is EFAULT");
    CHECK_ERR(syscall(SYS_sched_getattr, 99999999, &at, sizeof at, 0), ESRCH, "sched_getattr of no such pid is ESRCH");

    memset(&at, 0, sizeof at);
    at.size = sizeof at;
    at.policy = 0;
    at.nice = 5;
    CHECK(syscall(SYS_sched_setattr, 0, &at, 0) == 0, "sched_setattr(SCHED_OTHER, nice 5)");
    CHECK(getpriority(PRIO_PROCESS, 0) == 5, "... the nice value is 5");
    at.size = 0;
    CHECK(syscall(SYS_sched_setattr, 0, &at, 0) == 0, "sched_setattr with size 0 (VER0)");
    unsigned char big[80] = {0};
    memcpy(big, &at, sizeof at);
    big[70] = 1;
    ((struct sched_attr_ *)big)->size = sizeof big;
    CHECK_ERR(syscall(SYS_sched_setattr, 0, big, 0), E2BIG, "sched_setattr with a non-zero unknown tail is E2BIG");
    CHECK(((struct sched_attr_ *)big)->size == sizeof at, "... and the kernel's size is written back");
    at.size = sizeof at;
    at.flags = 0x1000;
    CHECK_ERR(syscall(SYS_sched_setattr, 0, &at, 0), EINVAL, "sched_setattr with an unknown sched flag is EINVAL");
    at.flags = 0; at.priority = 5;
    CHECK_ERR(syscall(SYS_sched_setattr, 0, &at, 0), EINVAL, "sched_setattr: SCHED_OTHER with a priority is EINVAL");
    at.priority = 0; at.policy = 42;
    CHECK_ERR(syscall(SYS_sched_setattr, 0, &at, 0), EINVAL, "sched_setattr with an unknown policy is EINVAL");
    at.policy = 0;
    CHECK_ERR(syscall(SYS_sched_setattr, 0, &at, 1), EINVAL, "sched_setattr with flags is EINVAL");
    CHECK_ERR(syscall(SYS_sched_setattr, 0, (void *)8, 0), EFAULT, "sched_setattr from a bad pointer is EFAULT");

    struct sched_param sp = { 0 };
    CHECK(syscall(SYS_sched_setparam, 0, &sp) == 0, "sched_setparam(0) for SCHED_OTHER");
    sp.sched_priority = 10;
    CHECK_ERR(syscall(SYS_sched_setparam, 0, &sp), EINVAL, "sched_setparam(10) for SCHED_OTHER is EINVAL");
    CHECK_ERR(syscall(SYS_sched_setparam, 0, NULL), EINVAL, "sched_setparam(NULL) is EINVAL");
    struct timespec ts = { -1, -1 };
    long r = syscall(SYS_sched_rr_get_interval, 0, &ts);
    CHECK((r == 0 && ts.tv_sec >= 0 && ts.tv_nsec >= 0) || (r == -1 && errno == ENOSYS),
          "sched_rr_get_interval: a time slice (ENOSYS on a host without one)");

    /* I/O priorities: IOPRIO_WHO_PROCESS = 1, class << 13 | data */
    CHECK(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 3) == 0, "ioprio_set(BE, 3)");
    CHECK(syscall(SYS_ioprio_get, 1, 0) == ((2 << 13) | 3), "ioprio_get reads it back");
    CHECK(syscall(SYS_ioprio_set, 1, getpid(), (3 << 13)) == 0, "ioprio_set(IDLE) naming my pid");
    CHECK(syscall(SYS_ioprio_get, 1, getpid()) == (3 << 13), "ioprio_get: IDLE");
    CHECK_ERR(syscall(SYS_ioprio_set, 1, 0, (5 << 13)), EINVAL, "ioprio_set with an unknown class is EINVAL");
    CHECK_ERR(syscall(SYS_ioprio_set, 9, 0, (2 << 13)), EINVAL, "ioprio_set with an unknown 'which' is EINVAL");
    CHECK_ERR(syscall(SYS_ioprio_get, 9, 0), EINVAL, "ioprio_get with an unknown 'which' is EINVAL");
    CHECK_ERR(syscall(SYS_ioprio_get, 1, 99999999), ESRCH, "ioprio_get of no such pid is ESRCH");
    CHECK(syscall(SYS_ioprio_set, 1, 0, 0) == 0 && syscall(SYS_ioprio_get, 1, 0) == 0, "ioprio back to NONE");

    struct rlimit rl;
    CHECK(syscall(SYS_getrlimit, RLIMIT_CORE, &rl) == 0, "getrlimit(RLIMIT_CORE)");
    struct rlimit low = { 0, rl.rlim_max };
    CHECK(syscall(SYS_setrlimit, RLIMIT_CORE, &low) == 0, "setrlimit(RLIMIT_CORE, 0)");
    CHECK(syscall(SYS_getrlimit, RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0, "getrlimit sees it");
    CHECK_ERR(syscall(SYS_getrlimit, 99, &rl), EINVAL, "getrlimit of an unknown resource is EINVAL");
    struct rlimit bad = { 10, 5 };
    CHECK_ERR(syscall(SYS_setrlimit, RLIMIT_CORE, &bad), EINVAL, "setrlimit with soft > hard is EINVAL");

    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1; p[4096] = 1; p[8192] = 1;
    CHECK(syscall(SYS_mlock2, p, 4096, 0) == 0, "mlock2");
    CHECK(syscall(SYS_mlock2, p, 4096, 1) == 0, "mlock2(MLOCK_ONFAULT)");
    CHECK_ERR(syscall(SYS_mlock2, p, 4096, 2), EINVAL, "mlock2 with an unknown flag is EINVAL");
    munlock(p, 4096);
    unsigned char vec[3] = { 9, 9, 9 };
    CHECK(syscall(SYS_mincore, p, 3 * 4096, vec) == 0 && (vec[0] & 1) && (vec[1] & 1) && (vec[2] & 1),
          "mincore: touched pages are resident");
    CHECK_ERR(syscall(SYS_mincore, p + 1, 4096, vec), EINVAL, "mincore of an unaligned address is EINVAL");
    CHECK_ERR(syscall(SYS_mincore, p, 4096, (void *)8), EFAULT, "mincore into a bad vector is EFAULT");
    munmap(p + 4096, 4096);
    CHECK_ERR(syscall(SYS_mincore, p, 3 * 4096, vec), ENOMEM, "mincore over a hole is ENOMEM");
    CHECK(syscall(SYS_mincore, p, 0, vec) == 0, "mincore of nothing");
    DONE();
}
