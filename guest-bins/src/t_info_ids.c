/* Identity, limits, randomness, affinity, prctl and friends: results are
 * compared with each other (not printed), so output is deterministic. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/types.h>
#include <unistd.h>
#include "guest_test.h"

int main(void) {
    pid_t pid = getpid();
    CHECK(pid > 0, "getpid");
    CHECK(syscall(SYS_gettid) == pid, "gettid equals getpid in a single-threaded process");
    CHECK(getppid() > 0 && getppid() != pid, "getppid");
    uid_t r, e, s;
    gid_t gr, ge, gs;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid() && e == geteuid(), "getresuid agrees with getuid/geteuid");
    CHECK(getresgid(&gr, &ge, &gs) == 0 && gr == getgid() && ge == getegid(), "getresgid agrees with getgid/getegid");
    CHECK_ERR(syscall(SYS_getresuid, (void *)8, &e, &s), EFAULT, "getresuid with a bad pointer is EFAULT");
    int n = getgroups(0, NULL);
    CHECK(n >= 0, "getgroups(0) counts the groups");
    gid_t gl[256];
    CHECK(n > 256 || getgroups(256, gl) == n, "getgroups fills the list");
    if (n > 0) CHECK_ERR(getgroups(n - 1 > 0 ? n - 1 : -1, gl), EINVAL, "getgroups with a short list is EINVAL");
    CHECK(setuid(getuid()) == 0, "setuid to the current uid");
    CHECK(setgid(getgid()) == 0, "setgid to the current gid");

    struct rlimit rl, rl2;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= rl.rlim_max && rl.rlim_cur >= 64, "getrlimit NOFILE");
    rl2 = rl; rl2.rlim_cur = 100;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl2) == 0, "lower the NOFILE soft limit");
    CHECK(getrlimit(RLIMIT_NOFILE, &rl2) == 0 && rl2.rlim_cur == 100, "lowered NOFILE limit reads back");
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "restore the NOFILE soft limit");
    rl2 = rl; rl2.rlim_cur = rl.rlim_max + 1; 
    CHECK_ERR(setrlimit(RLIMIT_NOFILE, &rl2), EINVAL, "soft above hard is EINVAL");
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur > 0, "getrlimit STACK");
    CHECK(prlimit(0, RLIMIT_CPU, NULL, &rl) == 0, "prlimit64 query");
    CHECK_ERR(getrlimit(99, &rl), EINVAL, "unknown resource is EINVAL");
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0, "getrusage SELF");
    CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0, "getrusage CHILDREN");
    CHECK_ERR(getrusage(42, &ru), EINVAL, "getrusage with a bad who is EINVAL");

    unsigned char rnd[64] = {0};
    CHECK(syscall(SYS_getrandom, rnd, sizeof rnd, 0) == 64, "getrandom fills the buffer");
    int nz = 0;
    for (int i = 0; i < 64; i++) nz |= rnd[i];
    CHECK(nz, "getrandom bytes are not all zero");
    CHECK(syscall(SYS_getrandom, rnd, 16, 1 /* GRND_NONBLOCK */) == 16, "getrandom GRND_NONBLOCK");
    CHECK(syscall(SYS_getrandom, rnd, 16, 2 /* GRND_RANDOM */) == 16, "getrandom GRND_RANDOM");
    CHECK_ERR(syscall(SYS_getrandom, rnd, 16, 0x100), EINVAL, "getrandom with unknown flags is EINVAL");
    CHECK_ERR(syscall(SYS_getrandom, (void *)8, 16, 0), EFAULT, "getrandom into a bad pointer is EFAULT");

    cpu_set_t set;
    CPU_ZERO(&set);
    long k = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    CHECK(k > 0 && k % 8 == 0 && k <= (long)sizeof set, "sched_getaffinity returns the mask size");
    CHECK(CPU_COUNT(&set) >= 1, "at least one CPU in the mask");
    CHECK(sched_setaffinity(0, sizeof set, &set) == 0, "sched_setaffinity with the current mask");
    CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 3, &set), EINVAL, "sched_getaffinity with a tiny buffer is EINVAL");
    CHECK(sched_yield() == 0, "sched_yield");
    unsigned cpu = 9999;
    CHECK(syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 && cpu < 4096, "getcpu");

    CHECK(personality(0xffffffff) == 0, "personality query is PER_LINUX");
    char name[16] = {0};
    CHECK(prctl(PR_SET_NAME, "elfuse-test-name-long") == 0, "PR_SET_NAME");
    CHECK(prctl(PR_GET_NAME, name) == 0 && strcmp(name, "elfuse-test-nam") == 0, "PR_GET_NAME reads back (truncated to 15)");
    CHECK(prctl(PR_SET_DUMPABLE, 0) == 0 && prctl(PR_GET_DUMPABLE) == 0, "PR_SET/GET_DUMPABLE");
    CHECK(prctl(PR_SET_DUMPABLE, 1) == 0 && prctl(PR_GET_DUMPABLE) == 1, "PR_SET_DUMPABLE back to 1");
    CHECK_ERR(prctl(PR_SET_DUMPABLE, 7), EINVAL, "PR_SET_DUMPABLE 7 is EINVAL");
    int sig = -1;
    CHECK(prctl(PR_SET_PDEATHSIG, 9) == 0 && prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == 9, "PR_SET/GET_PDEATHSIG");

    struct sysinfo si;
    CHECK(sysinfo(&si) == 0 && si.totalram > 0 && si.mem_unit >= 1 && si.uptime > 0, "sysinfo");
    CHECK_ERR(sysinfo((struct sysinfo *)8), EFAULT, "sysinfo with a bad pointer is EFAULT");
    DONE();
}
