/* System administration calls as an unprivileged process gets them: a child
 * drops to nobody first (when started as root), so the real kernel (native,
 * qemu) and elfuse-py answer the same.  Also the set*id family, capget/capset
 * (v1/v2/v3 headers, a bad version written back), clock_settime and
 * settimeofday refused without CAP_SYS_TIME, and open_by_handle_at/fanotify_init. */
#include "guest_test.h"
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* qemu-differs: qemu-user returns ENOSYS for the mount API (fsopen, fspick, fsmount, move_mount, open_tree, fsconfig) */

#ifndef SYS_fsopen
#define SYS_open_tree 428
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#define SYS_fspick 433
#endif

struct cap_hdr { uint32_t version; int pid; };
struct cap_data { uint32_t eff, prm, inh; };

/* Module loading and kexec: EPERM on a kernel that has them, ENOSYS on one
 * built without (CONFIG_MODULES=n, CONFIG_KEXEC=n); never anything else. */
#define CHECK_PRIV(expr, what) do { errno = 0; long r_ = (long)(expr); \
    CHECK(r_ == -1 && (errno == EPERM || errno == ENOSYS), what); } while (0)

static void unprivileged(void) {
    if (geteuid() != 0)
        return;
    CHECK(syscall(SYS_setgroups, 0, NULL) == 0, "setgroups(0) as root");
    CHECK(syscall(SYS_setregid, -1, -1) == 0, "setregid(-1, -1) changes nothing");
    CHECK(syscall(SYS_setreuid, -1, -1) == 0, "setreuid(-1, -1) changes nothing");
    CHECK(syscall(SYS_setresgid, 65534, 65534, 65534) == 0, "setresgid to nobody's group");
    CHECK(syscall(SYS_setfsuid, 0) == 0, "setfsuid reports the old fsuid (root)");
    CHECK(syscall(SYS_setfsgid, 65534) == 65534, "setfsgid reports the old fsgid");
    CHECK(syscall(SYS_setresuid, 65534, 65534, 65534) == 0, "setresuid to nobody");
}

static void caps(void) {
    struct cap_hdr h = { 0x20080522, 0 };
    struct cap_data d[2];
    memset(d, 0xff, sizeof d);
    CHECK(syscall(SYS_capget, &h, d) == 0 && d[0].eff == 0 && d[0].prm == 0 && d[1].eff == 0,
          "capget v3: an unprivileged process has no capabilities");
    h.version = 0x19980330;
    memset(d, 0xff, sizeof d);
    CHECK(syscall(SYS_capget, &h, d) == 0 && d[0].prm == 0 && d[1].eff == 0xffffffff,
          "capget v1 writes one 32-bit set only");
    h.version = 0x20071026;
    CHECK(syscall(SYS_capget, &h, d) == 0, "capget v2 is accepted");
    h.version = 0x12345678;
    CHECK(syscall(SYS_capget, &h, NULL) == 0 && h.version == 0x20080522,
          "capget(bad version, NULL) probes: 0 and the preferred version written back");
    h.version = 0x12345678;
    CHECK_ERR(syscall(SYS_capget, &h, d), EINVAL, "capget with a bad version is EINVAL");
    CHECK(h.version == 0x20080522, "... and the preferred version is written back");
    CHECK_ERR(syscall(SYS_capget, (void *)8, d), EFAULT, "capget with a bad header is EFAULT");
    h.version = 0x20080522; h.pid = -1;
    CHECK_ERR(syscall(SYS_capget, &h, d), EINVAL, "capget of pid -1 is EINVAL");
    h.pid = 0;
    memset(d, 0, sizeof d);
    CHECK(syscall(SYS_capset, &h, d) == 0, "capset of empty sets (nothing raised) succeeds");
    d[0].eff = d[0].prm = 1;                    /* CAP_CHOWN */
    CHECK_ERR(syscall(SYS_capset, &h, d), EPERM, "capset raising a capability is EPERM");
    h.version = 0;
    CHECK_ERR(syscall(SYS_capset, &h, d), EINVAL, "capset with a bad version is EINVAL");
    h.version = 0x20080522; h.pid = getppid();
    memset(d, 0, sizeof d);
    CHECK_ERR(syscall(SYS_capset, &h, d), EPERM, "capset on another process is EPERM");
}

static void admin(void) {
    CHECK_ERR(syscall(SYS_sethostname, "guest", 5), EPERM, "sethostname is EPERM");
    CHECK_ERR(syscall(SYS_setdomainname, "guest", 5), EPERM, "setdomainname is EPERM");
    CHECK_ERR(syscall(SYS_mount, "none", "/nonexistent-elfuse", "tmpfs", 0, NULL), ENOENT,
              "mount on a missing target is ENOENT (looked up first)");
    CHECK_ERR(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL), EPERM, "mount is EPERM");
    CHECK_ERR(syscall(SYS_umount2, "/tmp", 0x100), EINVAL, "umount2 with an unknown flag is EINVAL");
    CHECK_ERR(syscall(SYS_umount2, "/nonexistent-elfuse", 0), ENOENT, "umount2 of a missing path is ENOENT");
    CHECK_ERR(syscall(SYS_umount2, "/tmp", 0), EPERM, "umount2 is EPERM");
    CHECK_ERR(syscall(SYS_pivot_root, ".", "."), EPERM, "pivot_root is EPERM");
    CHECK_ERR(syscall(SYS_chroot, "/nonexistent-elfuse"), ENOENT, "chroot of a missing path is ENOENT");
    CHECK_ERR(syscall(SYS_chroot, "/tmp"), EPERM, "chroot is EPERM");
    CHECK_ERR(syscall(SYS_fsopen, "tmpfs", 0), EPERM, "fsopen is EPERM");
    CHECK_ERR(syscall(SYS_fspick, AT_FDCWD, "/", 0), EPERM, "fspick is EPERM");
    CHECK_ERR(syscall(SYS_fsmount, 0, 0, 0), EPERM, "fsmount is EPERM");
    CHECK_ERR(syscall(SYS_move_mount, AT_FDCWD, "/tmp", AT_FDCWD, "/tmp", 0), EPERM, "move_mount is EPERM");
    CHECK_ERR(syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1), EPERM, "open_tree(OPEN_TREE_CLONE) is EPERM");
    CHECK_ERR(syscall(SYS_fsconfig, -1, 6, NULL, NULL, 0), EINVAL, "fsconfig on fd -1 is EINVAL");
    CHECK_ERR(syscall(SYS_fsconfig, 900, 6, NULL, NULL, 0), EBADF, "fsconfig on a closed fd is EBADF");
    CHECK_ERR(syscall(SYS_fsconfig, 0, 6, NULL, NULL, 0), EINVAL, "fsconfig on a non-context fd is EINVAL");
    CHECK_ERR(syscall(SYS_reboot, 0, 0, 0, NULL), EPERM, "reboot is EPERM (before the magic check)");
    CHECK_ERR(syscall(SYS_acct, NULL), EPERM, "acct is EPERM");
    CHECK_ERR(syscall(SYS_swapon, "/nonexistent-elfuse", 0), EPERM, "swapon is EPERM");
    CHECK_ERR(syscall(SYS_swapoff, "/nonexistent-elfuse"), EPERM, "swapoff is EPERM");
    CHECK_ERR(syscall(SYS_vhangup), EPERM, "vhangup is EPERM");
    CHECK_ERR(syscall(SYS_syslog, 5, NULL, 0), EPERM, "syslog(CLEAR) is EPERM");
    CHECK_PRIV(syscall(SYS_init_module, NULL, 0, ""), "init_module is EPERM");
    CHECK_PRIV(syscall(SYS_finit_module, 0, "", 0), "finit_module is EPERM");
    CHECK_PRIV(syscall(SYS_delete_module, "nosuchmod", 0), "delete_module is EPERM");
    CHECK_PRIV(syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load is EPERM");
    CHECK_PRIV(syscall(SYS_kexec_file_load, 0, 0, 0, "", 0), "kexec_file_load is EPERM");
    CHECK_ERR(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0), EFAULT, "open_by_handle_at(NULL) is EFAULT");
    struct { uint32_t bytes; int type; unsigned char f[128]; } fh = { 0, 1, {0} };
    CHECK_ERR(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, 0), EINVAL, "open_by_handle_at of an empty handle is EINVAL");
    fh.bytes = 8;
    CHECK_ERR(syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, 0), EPERM, "open_by_handle_at is EPERM");
    uint32_t mapattr[32] = { 2, 4, 4, 1 };     /* BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry */
    CHECK_ERR(syscall(SYS_bpf, 0, mapattr, sizeof mapattr), EPERM, "bpf(BPF_MAP_CREATE) is EPERM (unprivileged_bpf_disabled)");
    CHECK_ERR(syscall(SYS_fanotify_init, 0, 0), EPERM, "fanotify_init without FID reporting is EPERM");
    CHECK_ERR(syscall(SYS_quotactl, (0x800007 << 8) | 0, "/nonexistent-elfuse", 0, NULL), ENOENT,
              "quotactl on a missing path is ENOENT");
    CHECK_ERR(syscall(SYS_quotactl, (0x800007 << 8) | 0, "/", 0, NULL), ENOTBLK,
              "quotactl on a directory is ENOTBLK");
    CHECK_ERR(syscall(SYS_quotactl, (0x800007 << 8) | 0, NULL, 0, NULL), ENODEV,
              "quotactl without a device is ENODEV");
    CHECK_ERR(syscall(SYS_quotactl, (0x800007 << 8) | 7, "/", 0, NULL), EINVAL,
              "quotactl with a bad quota type is EINVAL");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    CHECK_ERR(clock_settime(CLOCK_REALTIME, &ts), EPERM, "clock_settime is EPERM");
    struct timeval tv = { ts.tv_sec, 0 };
    CHECK_ERR(syscall(SYS_settimeofday, &tv, NULL), EPERM, "settimeofday is EPERM");
}

int main(void) {
    pid_t pid = fork();
    if (pid == 0) {
        unprivileged();
        caps();
        admin();
        fflush(stdout);
        _exit(guest_failures);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the unprivileged child passed");
    DONE();
}
