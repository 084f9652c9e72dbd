/* Kernel facilities: those the emulated kernel answers as a Linux built or
 * booted without them (io_uring, AIO, keyrings, seccomp, Landlock,
 * memfd_secret, NUMA, userfaultfd...: a real kernel that has them may succeed,
 * so each check accepts exactly "works" or that configuration's errno), and
 * the ones with checks every Linux makes (perf flags, fanotify_mark, file
 * handles, protection keys, restart_syscall, unshare, setns, membarrier). */
/* qemu-differs: qemu-user returns ENOSYS for landlock, perf_event_open, fanotify_mark and restart_syscall instead of the kernel's checks */
#include "guest_test.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

/* "works" (then undo it with `undo`) or fails with errno `err` */
#define WORKS_OR(expr, err, what) do { errno = 0; long r_ = (long)(expr); \
    CHECK(r_ >= 0 || errno == (err), what); } while (0)

int main(void) {
    unsigned char params[120] = {0};
    long r = syscall(SYS_io_uring_setup, 4, params);
    CHECK(r >= 0 || errno == ENOSYS || errno == EPERM, "io_uring_setup: a ring or ENOSYS (io_uring compiled out)");
    if (r >= 0) close(r);
    WORKS_OR(syscall(SYS_io_uring_enter, 900, 0, 0, 0, NULL, 0) == 0 ? 0 : (errno == EBADF ? 0 : -1),
             ENOSYS, "io_uring_enter: EBADF on a real kernel, ENOSYS without io_uring");
    WORKS_OR(syscall(SYS_io_uring_register, 900, 0, NULL, 0) == 0 ? 0 : (errno == EBADF ? 0 : -1),
             ENOSYS, "io_uring_register: EBADF on a real kernel, ENOSYS without io_uring");
    unsigned long ctx = 0;
    r = syscall(SYS_io_setup, 4, &ctx);
    CHECK(r == 0 || errno == ENOSYS, "io_setup: a context or ENOSYS (AIO compiled out)");
    if (r == 0) {
        CHECK(syscall(SYS_io_submit, ctx, 0, NULL) == 0, "io_submit of nothing");
        CHECK(syscall(SYS_io_getevents, ctx, 0, 0, NULL, NULL) == 0, "io_getevents of nothing");
        syscall(SYS_io_cancel, ctx, NULL, NULL);
        syscall(SYS_io_pgetevents, ctx, 0, 0, NULL, NULL, NULL);
        CHECK(syscall(SYS_io_destroy, ctx) == 0, "io_destroy");
    } else {
        CHECK_ERR(syscall(SYS_io_submit, 0, 0, NULL), ENOSYS, "io_submit is ENOSYS too");
        CHECK_ERR(syscall(SYS_io_getevents, 0, 0, 0, NULL, NULL), ENOSYS, "io_getevents is ENOSYS too");
        CHECK_ERR(syscall(SYS_io_cancel, 0, NULL, NULL), ENOSYS, "io_cancel is ENOSYS too");
        CHECK_ERR(syscall(SYS_io_pgetevents, 0, 0, 0, NULL, NULL, NULL), ENOSYS, "io_pgetevents is ENOSYS too");
        CHECK_ERR(syscall(SYS_io_destroy, 0), ENOSYS, "io_destroy is ENOSYS too");
    }
    r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    CHECK(r >= 0 || errno == ENOSYS, "keyctl: a keyring id or ENOSYS (keys compiled out)");
    if (r < 0) {
        CHECK_ERR(syscall(SYS_add_key, "user", "k", "v", 1, -3), ENOSYS, "add_key is ENOSYS too");
        CHECK_ERR(syscall(SYS_request_key, "user", "k", NULL, 0), ENOSYS, "request_key is ENOSYS too");
    } else {
        CHECK(1, "add_key is ENOSYS too");
        CHECK(1, "request_key is ENOSYS too");
    }
    uint32_t action = 0x7fff0000;                  /* SECCOMP_RET_ALLOW */
    WORKS_OR(syscall(SYS_seccomp, 2 /* SECCOMP_GET_ACTION_AVAIL */, 0, &action), ENOSYS,
             "seccomp: works or ENOSYS (seccomp compiled out)");
    r = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
    CHECK(r > 0 || errno == EOPNOTSUPP || errno == ENOSYS, "landlock_create_ruleset: an ABI version or EOPNOTSUPP");
    WORKS_OR(syscall(SYS_landlock_add_rule, -1, 1, NULL, 0) == 0 ? 0 : (errno == EBADF ? 0 : -1),
             EOPNOTSUPP, "landlock_add_rule: EBADF with Landlock, EOPNOTSUPP without");
    WORKS_OR(syscall(SYS_landlock_restrict_self, -1, 0) == 0 ? 0 : (errno == EBADF ? 0 : -1),
             EOPNOTSUPP, "landlock_restrict_self: EBADF with Landlock, EOPNOTSUPP without");
    r = syscall(SYS_memfd_secret, 0);
    CHECK(r >= 0 || errno == ENOSYS, "memfd_secret: an fd or ENOSYS (secretmem off)");
    if (r >= 0) close(r);
    int mode = -1;
    WORKS_OR(syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0), ENOSYS, "get_mempolicy: works or ENOSYS (no NUMA)");
    WORKS_OR(syscall(SYS_set_mempolicy, 0, NULL, 0), ENOSYS, "set_mempolicy(MPOL_DEFAULT): works or ENOSYS");
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    WORKS_OR(syscall(SYS_mbind, page, 4096, 0, NULL, 0, 0), ENOSYS, "mbind(MPOL_DEFAULT): works or ENOSYS");
    r = syscall(SYS_migrate_pages, 0, 0, NULL, NULL);
    CHECK(r >= 0 || errno == ENOSYS || errno == EINVAL, "migrate_pages: works, EINVAL or ENOSYS");
    WORKS_OR(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0), ENOSYS, "move_pages of nothing: works or ENOSYS");
    r = syscall(450 /* set_mempolicy_home_node */, page, 4096, 0, 0);
    CHECK(r == 0 || errno == ENOSYS || errno == ENOENT, "set_mempolicy_home_node: works, ENOENT (no policy) or ENOSYS");
    r = syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */);
    CHECK(r >= 0 || errno == ENOSYS || errno == EPERM, "userfaultfd: an fd, EPERM or ENOSYS");
    if (r >= 0) close(r);
    CHECK_ERR(syscall(SYS_lookup_dcookie, 0, NULL, 0), ENOSYS, "lookup_dcookie is ENOSYS (removed)");
    CHECK_ERR(syscall(SYS_nfsservctl, 0, NULL, NULL), ENOSYS, "nfsservctl is ENOSYS (removed)");

    unsigned char attr[128] = {0};
    CHECK_ERR(syscall(SYS_perf_event_open, attr, 0, -1, -1, 0x100), EINVAL, "perf_event_open with an unknown flag is EINVAL");
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(syscall(SYS_fanotify_mark, fd, 0, 1, AT_FDCWD, "."), EINVAL, "fanotify_mark without an operation is EINVAL");
    CHECK_ERR(syscall(SYS_fanotify_mark, 900, 1, 0x20, AT_FDCWD, "."), EBADF, "fanotify_mark on a closed fd is EBADF");
    CHECK_ERR(syscall(SYS_fanotify_mark, fd, 1, 0x20, AT_FDCWD, "."), EINVAL, "fanotify_mark on a non-fanotify fd is EINVAL");
    struct { uint32_t bytes; int type; unsigned char f[128]; } fh = { 0, 0, {0} };
    int mnt = 0;
    CHECK_ERR(syscall(SYS_name_to_handle_at, AT_FDCWD, ".", &fh, &mnt, 0x8000), EINVAL, "name_to_handle_at with an unknown flag is EINVAL");
    CHECK_ERR(syscall(SYS_name_to_handle_at, AT_FDCWD, "no-such-file", &fh, &mnt, 0), ENOENT, "name_to_handle_at of a missing file is ENOENT");
    fh.bytes = 0;
    r = syscall(SYS_name_to_handle_at, AT_FDCWD, ".", &fh, &mnt, 0);
    CHECK(r == -1 && (errno == EOPNOTSUPP || errno == EOVERFLOW), "name_to_handle_at: EOVERFLOW (size probe) or EOPNOTSUPP");
    close(fd);

    /* Protection keys: arm64 Linux before 6.12 does not build the calls. */
    CHECK_ERR(syscall(SYS_pkey_alloc, 0, 0), ENOSYS, "pkey_alloc is ENOSYS (arm64 without pkeys)");
    CHECK_ERR(syscall(SYS_pkey_free, 1), ENOSYS, "pkey_free is ENOSYS");
    CHECK_ERR(syscall(SYS_pkey_mprotect, page, 4096, PROT_READ, -1), ENOSYS, "pkey_mprotect is ENOSYS");

    CHECK_ERR(syscall(SYS_restart_syscall), EINTR, "restart_syscall called directly is EINTR");
    CHECK_ERR(syscall(SYS_unshare, 0x1), EINVAL, "unshare with an unknown flag is EINVAL");
    CHECK(syscall(SYS_unshare, 0x400 | 0x200 | 0x40000) == 0, "unshare(CLONE_FILES|CLONE_FS|CLONE_SYSVSEM) single-threaded");
    CHECK_ERR(syscall(SYS_setns, 900, 0), EBADF, "setns on a closed fd is EBADF");
    fd = open("/", O_RDONLY | O_DIRECTORY);
    CHECK_ERR(syscall(SYS_setns, fd, 0), EINVAL, "setns on a plain directory is EINVAL");
    CHECK_ERR(syscall(SYS_setns, fd, 1), EINVAL, "setns with an unknown type is EINVAL");
    close(fd);

    int q = syscall(SYS_membarrier, 0, 0, 0);
    CHECK(q >= 0 && (q & 8) && (q & 16), "membarrier QUERY reports the private expedited commands");
    CHECK_ERR(syscall(SYS_membarrier, 0, 1, 0), EINVAL, "membarrier QUERY with a flag is EINVAL");
    CHECK_ERR(syscall(SYS_membarrier, 1 << 20, 0, 0), EINVAL, "membarrier with an unknown command is EINVAL");
    CHECK_ERR(syscall(SYS_membarrier, 8, 0, 0), EPERM, "PRIVATE_EXPEDITED before registering is EPERM");
    CHECK(syscall(SYS_membarrier, 16, 0, 0) == 0, "REGISTER_PRIVATE_EXPEDITED");
    CHECK(syscall(SYS_membarrier, 8, 0, 0) == 0, "PRIVATE_EXPEDITED once registered");
    munmap(page, 4096);
    DONE();
}
