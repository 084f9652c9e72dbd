"""Kernel facilities the emulated kernel does not offer, answered as a real Linux configuration answers.

Each handler here gives exactly what a specific, common Linux kernel gives
when the facility is compiled out, disabled at boot or refused to an
unprivileged process; the note of each entry names that configuration, so a
program's fallback path (the one it takes on such a kernel) runs:

- io_uring: ENOSYS as CONFIG_IO_URING=n (liburing users fall back to
  read/write or epoll);
- Linux AIO (io_setup...): ENOSYS as CONFIG_AIO=n (glibc's POSIX aio uses
  threads, not these);
- keyrings: ENOSYS as CONFIG_KEYS=n;
- seccomp: ENOSYS as CONFIG_SECCOMP=n (prctl(PR_SET_SECCOMP) is EINVAL then):
  a daemon that sandboxes itself must fall back to running without the filter;
- Landlock: EOPNOTSUPP, as a kernel with Landlock built in but not enabled
  (lsm= without it): programs treat that as "no Landlock here";
- memfd_secret: ENOSYS, as Linux with secretmem.enable=0 (checked before the flags);
- NUMA policy: ENOSYS as CONFIG_NUMA=n (libnuma's numa_available() is -1);
- userfaultfd: ENOSYS as CONFIG_USERFAULTFD=n;
- perf_event_open: flags checked, then EACCES as kernel.perf_event_paranoid > 2;
- bpf: EPERM as kernel.unprivileged_bpf_disabled=2 (the default);
- fanotify: as Linux before 5.13 for a process without CAP_SYS_ADMIN;
- file handles: name_to_handle_at is EOPNOTSUPP (a file system that cannot
  export handles), open_by_handle_at EPERM (no CAP_DAC_READ_SEARCH);
- protection keys: ENOSYS as arm64 Linux before 6.12 (no CONFIG_ARCH_HAS_PKEYS);
- lookup_dcookie and nfsservctl: ENOSYS, as every Linux since 6.x and 3.1.
"""
from __future__ import annotations

import os

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.fdargs import at_path, check_fd, guest_path
from elfuse_py.syscalls.table import PARTIAL, syscall

ENOSYS = -lerrno.ENOSYS
EINVAL = -lerrno.EINVAL
PAGE = 4096


def _absent(names: tuple[str, ...], args: str, note: str) -> None:
    """Register `names` as handlers giving ENOSYS, each with `note` naming the kernel configuration."""
    def handler(*_):
        return ENOSYS
    for name in names:
        syscall(name, args, level=PARTIAL, note=note)(handler)


_absent(("io_uring_setup", "io_uring_enter", "io_uring_register"), "",
        "ENOSYS as a kernel built without io_uring (CONFIG_IO_URING=n); liburing users fall back")
_absent(("io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"), "",
        "ENOSYS as a kernel built without Linux AIO (CONFIG_AIO=n); glibc's POSIX aio uses threads")
_absent(("add_key", "request_key", "keyctl"), "",
        "ENOSYS as a kernel built without keyrings (CONFIG_KEYS=n)")
_absent(("memfd_secret",), "",
        "ENOSYS as Linux with secretmem.enable=0 (checked before the flags)")
_absent(("mbind", "get_mempolicy", "set_mempolicy", "migrate_pages", "move_pages",
         "set_mempolicy_home_node"), "",
        "ENOSYS as a kernel built without NUMA (CONFIG_NUMA=n): libnuma reports no NUMA")
_absent(("userfaultfd",), "",
        "ENOSYS as a kernel built without userfaultfd (CONFIG_USERFAULTFD=n)")
_absent(("pkey_alloc", "pkey_free", "pkey_mprotect"), "",
        "ENOSYS as arm64 Linux before 6.12 (no CONFIG_ARCH_HAS_PKEYS: the calls are not built)")
_absent(("lookup_dcookie", "nfsservctl"), "",
        "ENOSYS, as every current Linux (removed in 6.x / 3.1)")


# ----- Landlock: built in, not enabled -----------------------------------------------

def _landlock(*_):
    return -lerrno.EOPNOTSUPP


for _name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
    syscall(_name, "", level=PARTIAL,
            note="EOPNOTSUPP as a kernel with Landlock built in but not enabled at boot "
                 "(programs then run unsandboxed)")(_landlock)


# ----- perf, bpf ----------------------------------------------------------------------

PERF_FLAG_ALL = 0xF       # FD_NO_GROUP | FD_OUTPUT | PID_CGROUP | FD_CLOEXEC


@syscall("perf_event_open", "ptr, int, int, fd, hex", level=PARTIAL,
         note="unknown flags EINVAL, then EACCES as kernel.perf_event_paranoid > 2 (Debian) without CAP_PERFMON")
def sys_perf_event_open(attr, pid, cpu, group_fd, flags):
    if flags & ~PERF_FLAG_ALL:
        return EINVAL
    return -lerrno.EACCES


@syscall("bpf", "int, ptr, uint", level=PARTIAL,
         note="EPERM as kernel.unprivileged_bpf_disabled=2 (the default) without CAP_BPF")
def sys_bpf(cmd, attr, size):
    proc.mem.read(attr, min(size, PAGE))  # the attr is copied in first (EFAULT)
    return -lerrno.EPERM


# ----- fanotify -------------------------------------------------------------------------

@syscall("fanotify_init", "hex, hex", level=PARTIAL,
         note="unknown flags EINVAL, else EPERM, as Linux before 5.13 without CAP_SYS_ADMIN")
def sys_fanotify_init(flags, event_f_flags):
    if flags & 0xFFFFFFFF & ~0xFFFF:
        return EINVAL
    return -lerrno.EPERM


FAN_MARK_ADD, FAN_MARK_REMOVE, FAN_MARK_FLUSH = 0x1, 0x2, 0x80
FAN_MARK_FLAGS = 0x7FF | 0x1000          # every FAN_MARK_* Linux 6.x knows


@syscall("fanotify_mark", "fd, hex, hex, dirfd, path", level=PARTIAL,
         note="no fanotify group can exist (fanotify_init is EPERM): EBADF for a closed fd, else EINVAL")
def sys_fanotify_mark(fd, flags, mask, dirfd, path):
    flags &= 0xFFFFFFFF
    op = flags & (FAN_MARK_ADD | FAN_MARK_REMOVE | FAN_MARK_FLUSH)
    if mask >> 32 or flags & ~FAN_MARK_FLAGS or op not in (FAN_MARK_ADD, FAN_MARK_REMOVE, FAN_MARK_FLUSH):
        return EINVAL
    if op != FAN_MARK_FLUSH and not mask:
        return EINVAL
    os.fstat(check_fd(fd))
    return EINVAL


# ----- file handles -------------------------------------------------------------------

AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = 0x400, 0x1000
AT_HANDLE_FLAGS = 0x1 | 0x2 | 0x200       # AT_HANDLE_MNT_ID_UNIQUE, _CONNECTABLE, _FID (6.5+)
MAX_HANDLE_SZ = 128


@syscall("name_to_handle_at", "dirfd, path, ptr, ptr, hex", level=PARTIAL,
         note="flags and path checked as Linux, then EOPNOTSUPP: no file system here exports handles")
def sys_name_to_handle_at(dirfd, pathname, handle, mount_id, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | AT_HANDLE_FLAGS):
        return EINVAL
    p = guest_path(pathname)
    if p or not flags & AT_EMPTY_PATH:
        path, dfd = at_path(dirfd, p, bool(flags & AT_SYMLINK_FOLLOW))
        os.stat(path, dir_fd=dfd, follow_symlinks=bool(flags & AT_SYMLINK_FOLLOW))
    else:
        os.fstat(check_fd(dirfd))
    return -lerrno.EOPNOTSUPP


@syscall("open_by_handle_at", "fd, ptr, oflags", level=PARTIAL,
         note="the handle's header read (EFAULT) and sized (EINVAL), then EPERM as Linux without CAP_DAC_READ_SEARCH")
def sys_open_by_handle_at(mount_fd, handle, flags):
    nbytes = proc.mem.u32(handle)
    if nbytes == 0 or nbytes > MAX_HANDLE_SZ:
        return EINVAL
    return -lerrno.EPERM
