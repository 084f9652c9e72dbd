"""System administration calls, answered as Linux answers a process without the capability.

The emulator never administers the host for a guest: it does not rename the
host, mount, reboot, load modules, switch swap or accounting, or chroot the
emulator itself.  So these calls give what Linux gives a process that lacks
CAP_SYS_ADMIN / CAP_SYS_BOOT / CAP_SYS_MODULE / CAP_SYS_PACCT /
CAP_SYS_CHROOT / CAP_SYS_TTY_CONFIG / CAP_SYSLOG, with the checks Linux makes
*before* the capability check done first (a bad path is still ENOENT, bad
flags still EINVAL), so a program's error handling sees the same sequence.

Also here: the capability calls (capget/capset).  The sets a guest sees are
the ones the guest's /proc/PID/status shows (all of Linux 6.1's 41 for euid 0,
none otherwise); capset may lower them, never raise them, as Linux.
"""
from __future__ import annotations

import os
import stat as _stat
import struct

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import at_path, check_fd, guest_path
from elfuse_py.syscalls.table import PARTIAL, syscall

EPERM = -lerrno.EPERM
EINVAL = -lerrno.EINVAL
_NEW_UTS_LEN = 64


def _lookup(addr: int, follow: bool = True) -> os.stat_result:
    """The path argument must name an existing file (ENOENT/ENOTDIR/EFAULT first, as Linux)."""
    path, dfd = at_path(-100, guest_path(addr), follow)
    return os.stat(path, dir_fd=dfd, follow_symlinks=follow)


# ----- names of the machine ----------------------------------------------------------

@syscall("sethostname", "str, size", note="EPERM: the guest never renames the host (no CAP_SYS_ADMIN)")
def sys_sethostname(name, length):
    return EPERM                          # ns_capable(CAP_SYS_ADMIN) is checked first


@syscall("setdomainname", "str, size", note="EPERM: the guest never renames the host (no CAP_SYS_ADMIN)")
def sys_setdomainname(name, length):
    return EPERM


# ----- mounts, root, namespaces -------------------------------------------------------

MS_NOUSER = 1 << 31
MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW = 1, 2, 4, 8


@syscall("mount", "str, path, str, hex, ptr", note="target looked up, then EPERM (no CAP_SYS_ADMIN)")
def sys_mount(source, target, fstype, flags, data):
    # Linux copies the strings (EFAULT), looks the target up, then may_mount().
    for addr in (source, fstype):
        if addr:
            guest_path(addr)
    _lookup(target)
    if flags & MS_NOUSER:
        return EINVAL
    return EPERM


@syscall("umount2", "path, hex", note="flags checked, target looked up, then EPERM (no CAP_SYS_ADMIN)")
def sys_umount2(target, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW):
        return EINVAL
    _lookup(target, not flags & UMOUNT_NOFOLLOW)
    return EPERM


@syscall("pivot_root", "path, path", note="EPERM (no CAP_SYS_ADMIN), checked before the paths")
def sys_pivot_root(new_root, put_old):
    return EPERM


# Mount API (5.2+): every call needs CAP_SYS_ADMIN except open_tree without OPEN_TREE_CLONE.
FSOPEN_CLOEXEC = 1


@syscall("fsopen", "str, hex", note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_fsopen(fsname, flags):
    return EPERM


@syscall("fspick", "dirfd, path, hex", note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_fspick(dirfd, path, flags):
    return EPERM


@syscall("fsmount", "fd, hex, hex", note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_fsmount(fd, flags, attr_flags):
    return EPERM


FSCONFIG_CMD_MAX = 8          # FSCONFIG_SET_FLAG .. FSCONFIG_CMD_CREATE_EXCL


@syscall("fsconfig", "fd, int, str, ptr, int",
         note="no fs_context fd can exist (fsopen is EPERM): EINVAL/EOPNOTSUPP/EBADF as Linux, then EINVAL")
def sys_fsconfig(fd, cmd, key, value, aux):
    if s32(fd) < 0:
        return EINVAL
    if not 0 <= s32(cmd) <= FSCONFIG_CMD_MAX:
        return -lerrno.EOPNOTSUPP
    os.fstat(check_fd(fd))
    return EINVAL


@syscall("move_mount", "dirfd, path, dirfd, path, hex",
         note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_move_mount(from_dfd, from_path, to_dfd, to_path, flags):
    return EPERM


# ----- the rest of the administrator's calls ------------------------------------------

LINUX_REBOOT_MAGIC1 = 0xFEE1DEAD


@syscall("reboot", "hex, hex, hex, ptr", note="EPERM (no CAP_SYS_BOOT), checked before the magic numbers")
def sys_reboot(magic1, magic2, cmd, arg):
    return EPERM


@syscall("acct", "path", note="EPERM (no CAP_SYS_PACCT), checked first as Linux")
def sys_acct(path):
    return EPERM


@syscall("swapon", "path, hex", note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_swapon(path, flags):
    return EPERM


@syscall("swapoff", "path", note="EPERM (no CAP_SYS_ADMIN), checked first as Linux")
def sys_swapoff(path):
    return EPERM


@syscall("vhangup", "", note="EPERM (no CAP_SYS_TTY_CONFIG)")
def sys_vhangup():
    return EPERM


@syscall("syslog", "int, ptr, int",
         note="EPERM for every action, as Linux with kernel.dmesg_restrict=1 (Debian, Ubuntu) without CAP_SYSLOG")
def sys_syslog(kind, buf, length):
    return EPERM


@syscall("init_module", "ptr, size, str", note="EPERM (no CAP_SYS_MODULE)")
def sys_init_module(image, length, params):
    return EPERM


@syscall("finit_module", "fd, str, hex", note="EPERM (no CAP_SYS_MODULE)")
def sys_finit_module(fd, params, flags):
    return EPERM


@syscall("delete_module", "str, hex", note="EPERM (no CAP_SYS_MODULE)")
def sys_delete_module(name, flags):
    return EPERM


@syscall("kexec_load", "ptr, ulong, ptr, hex", note="EPERM (no CAP_SYS_BOOT)")
def sys_kexec_load(entry, nr, segments, flags):
    return EPERM


@syscall("kexec_file_load", "fd, fd, ulong, str, hex", note="EPERM (no CAP_SYS_BOOT)")
def sys_kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags):
    return EPERM


@syscall("quotactl", "int, str, int, ptr", level=PARTIAL,
         note="no device carries quotas: EINVAL for a bad type, ENODEV without a device, "
              "ENOENT/ENOTBLK for a path, ESRCH (quotas off) for a block device")
def sys_quotactl(cmd, special, qid, addr):
    cmd &= 0xFFFFFFFF
    if (cmd & 0xFF) >= 3:                 # USRQUOTA, GRPQUOTA, PRJQUOTA
        return EINVAL
    if not special:
        return 0 if cmd >> 8 == 0x800001 else -lerrno.ENODEV   # Q_SYNC of every fs is allowed
    st = _lookup(special)
    if not _stat.S_ISBLK(st.st_mode):
        return -lerrno.LINUX_ERRNO["ENOTBLK"]
    return -lerrno.ESRCH


# ----- capabilities ---------------------------------------------------------------------

VERSION_1, VERSION_2, VERSION_3 = 0x19980330, 0x20071026, 0x20080522
_U32S = {VERSION_1: 1, VERSION_2: 2, VERSION_3: 2}
CAP_FULL = (1 << 41) - 1             # Linux 6.1's 41 capabilities, as /proc/PID/status shows
_HEADER = struct.Struct("<Ii")
_DATA = struct.Struct("<III")         # effective, permitted, inheritable (one 32-bit word)

# (effective, permitted, inheritable) once the guest has set them; None: from its euid.
_caps: tuple[int, int, int] | None = None


def _after_exec() -> None:
    """execve recomputes the sets (security/commoncap.c, a file without capabilities,
    no ambient set): root gets the full permitted and effective sets, anyone else
    none; the inheritable set stays."""
    global _caps
    if _caps is not None:
        full = CAP_FULL if os.geteuid() == 0 else 0
        _caps = (full, full, _caps[2])


proc.exec_hooks.append(_after_exec)


def _current() -> tuple[int, int, int]:
    if _caps is not None:
        return _caps
    full = CAP_FULL if os.geteuid() == 0 else 0
    return full, full, 0


def _version(header: int) -> int:
    """The header's version's word count; EINVAL (with v3 written back) for an unknown one."""
    version = proc.mem.u32(header)
    words = _U32S.get(version)
    if words is None:
        proc.mem.put_u32(header, VERSION_3)
        raise OSError(22, "bad capability version")
    return words


@syscall("capget", "ptr, ptr",
         note="the sets /proc/PID/status shows (all 41 for euid 0, none otherwise) or what capset left")
def sys_capget(header, data):
    try:
        words = _version(header)
    except OSError:
        return 0 if data == 0 else EINVAL  # a version probe: Linux answers 0 with data NULL
    if data == 0:
        return 0
    pid = s32(proc.mem.u32(header + 4))
    if pid < 0:
        return EINVAL
    if pid and pid != os.getpid() and pid != threads.gettid():
        os.kill(pid, 0)                   # ESRCH for no such process
        full = CAP_FULL if os.geteuid() == 0 else 0
        sets = (full, full, 0)
    else:
        sets = _current()
    out = b"".join(_DATA.pack(*((s >> (32 * i)) & 0xFFFFFFFF for s in sets)) for i in range(words))
    proc.mem.write(data, out)
    return 0


@syscall("capset", "ptr, ptr", note="lowering the sets is kept (capget reports it); raising them is EPERM")
def sys_capset(header, data):
    global _caps
    try:
        words = _version(header)
    except OSError:
        return EINVAL
    pid = s32(proc.mem.u32(header + 4))
    if pid and pid != os.getpid() and pid != threads.gettid():
        return EPERM
    raw = proc.mem.read(data, _DATA.size * words)
    eff = prm = inh = 0
    for i in range(words):
        e, p, h = _DATA.unpack_from(raw, _DATA.size * i)
        eff |= e << (32 * i)
        prm |= p << (32 * i)
        inh |= h << (32 * i)
    old_eff, old_prm, old_inh = _current()
    # security/commoncap.c cap_capset: inheritable within old inheritable|permitted
    # (and the bounding set), permitted never grows, effective within permitted.
    if inh & ~(old_inh | old_prm) or inh & ~CAP_FULL or prm & ~old_prm or eff & ~prm:
        return EPERM
    _caps = (eff, prm, inh)
    return 0
