"""Linux AArch64 file-system constants and their host equivalents, by name.

This module owns the constant tables of the file syscalls: open flags, AT_*
flags, S_IF* file types and d_type values, fcntl commands and lock types,
lseek whences, and the helpers that translate between the guest's (Linux
AArch64) numbers and the host's (taken from Python's os/fcntl/stat modules by
name, so the same tables are right on Linux and macOS hosts).
"""
from __future__ import annotations

import fcntl as _fcntl
import os as _os
import stat as _stat

# ----- open(2) flags (arch/arm64/include/uapi/asm/fcntl.h + asm-generic) --------------
O_ACCMODE = 0o3
O_RDONLY, O_WRONLY, O_RDWR = 0, 1, 2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_ASYNC = 0o20000
O_DIRECTORY = 0o40000
O_NOFOLLOW = 0o100000
O_DIRECT = 0o200000
O_LARGEFILE = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
__O_SYNC = 0o4000000
O_SYNC = __O_SYNC | O_DSYNC
O_PATH = 0o10000000
__O_TMPFILE = 0o20000000
O_TMPFILE = __O_TMPFILE | O_DIRECTORY

# (Linux bits, host os.O_* name).  Composite flags come before their parts so
# reverse translation of a host O_SYNC (which includes O_DSYNC on Linux) gives
# both Linux bits.  Names the host lacks are dropped: see HOST_MISSING.
_OPEN_FLAG_NAMES: list[tuple[int, str]] = [
    (O_TMPFILE, "O_TMPFILE"), (O_SYNC, "O_SYNC"), (O_DSYNC, "O_DSYNC"),
    (O_CREAT, "O_CREAT"), (O_EXCL, "O_EXCL"), (O_NOCTTY, "O_NOCTTY"), (O_TRUNC, "O_TRUNC"),
    (O_APPEND, "O_APPEND"), (O_NONBLOCK, "O_NONBLOCK"), (O_ASYNC, "O_ASYNC"),
    (O_DIRECTORY, "O_DIRECTORY"), (O_NOFOLLOW, "O_NOFOLLOW"), (O_DIRECT, "O_DIRECT"),
    (O_LARGEFILE, "O_LARGEFILE"), (O_NOATIME, "O_NOATIME"), (O_CLOEXEC, "O_CLOEXEC"),
    (O_PATH, "O_PATH"),
]
# Flags whose absence on the host changes nothing a guest can observe: large
# files are the only kind on a 64-bit host; O_NOATIME and O_DIRECT are hints.
# musl passes O_LARGEFILE on every open, so these must never fail an open.
IGNORABLE_IF_MISSING = frozenset({"O_LARGEFILE", "O_NOATIME", "O_DIRECT"})


def build_open_flag_table(host_os, host_fcntl) -> tuple[list[tuple[int, int]], dict[int, str]]:
    """([(linux bits, host bits)], {linux bits: name the host lacks}) for a host's modules."""
    table: list[tuple[int, int]] = []
    missing: dict[int, str] = {}
    for bits, name in _OPEN_FLAG_NAMES:
        host = getattr(host_os, name, None)
        if host is None and name == "O_ASYNC":
            host = getattr(host_fcntl, "FASYNC", None)
        if host:
            table.append((bits, host))
        elif host is None and name not in IGNORABLE_IF_MISSING:
            missing[bits] = name
        # host == 0 (O_LARGEFILE on 64-bit Linux) or ignorable: nothing to pass.
    return table, missing


OPEN_FLAGS, HOST_MISSING = build_open_flag_table(_os, _fcntl)

_ACC_TO_HOST = {O_RDONLY: _os.O_RDONLY, O_WRONLY: _os.O_WRONLY, O_RDWR: _os.O_RDWR,
                # Linux's "3" (no read/write, ioctl only) has no portable host form.
                3: _os.O_RDWR}
_HOST_ACCMODE = _os.O_RDONLY | _os.O_WRONLY | _os.O_RDWR | getattr(_os, "O_ACCMODE", 3)
_ACC_TO_LINUX = {_os.O_RDONLY: O_RDONLY, _os.O_WRONLY: O_WRONLY, _os.O_RDWR: O_RDWR}

# Flags F_SETFL may change on Linux (fs/fcntl.c SETFL_MASK).
SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME


def setfl_to_host(cur_host: int, linux: int) -> int:
    """The host F_SETFL value: `cur_host` with the F_SETFL-changeable flags set as `linux` says."""
    out = cur_host
    for bits, h in OPEN_FLAGS:
        if bits & SETFL_MASK:
            out = (out | h) if linux & bits else (out & ~h)
    return out


def open_flags_to_host(flags: int) -> int:
    """Host open flags for Linux open `flags`.  Raises KeyError(name) for a
    requested flag the host does not have."""
    host = _ACC_TO_HOST[flags & O_ACCMODE]
    for bits, h in OPEN_FLAGS:
        if flags & bits == bits:
            host |= h
    if HOST_MISSING:
        for bits, name in HOST_MISSING.items():
            if flags & bits == bits:
                raise KeyError(name)
    return host


def open_flags_to_linux(host: int) -> int:
    """Linux open flags for host flags (F_GETFL); host bits without a Linux name are dropped."""
    out = _ACC_TO_LINUX.get(host & _HOST_ACCMODE, O_RDWR)
    for bits, h in OPEN_FLAGS:
        if host & h == h:
            out |= bits
    return out


# ----- *at() flags (include/uapi/linux/fcntl.h) ---------------------------------------
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EACCESS = 0x200
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_SYNC_TYPE = 0x6000
AT_STATX_FORCE_SYNC = 0x2000
AT_STATX_DONT_SYNC = 0x4000
AT_RECURSIVE = 0x8000

# Which flags each *at syscall accepts (anything else is EINVAL, as on Linux).
AT_ALLOWED: dict[str, int] = {
    "newfstatat": AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH,
    "statx": AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE,
    "faccessat2": AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH,
    "unlinkat": AT_REMOVEDIR,
    "linkat": AT_SYMLINK_FOLLOW | AT_EMPTY_PATH,
    "fchownat": AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH,
    "utimensat": AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH,
    "fchmodat2": AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH,
}

# renameat2 flags
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

# access(2) modes: identical values on every POSIX host, still mapped by name.
ACCESS_MODES: dict[int, int] = {4: _os.R_OK, 2: _os.W_OK, 1: _os.X_OK}

# ----- file types (include/uapi/linux/stat.h) and dirent d_type -----------------------
S_IFMT = 0o170000
S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK = 0o140000, 0o120000, 0o100000, 0o060000
S_IFDIR, S_IFCHR, S_IFIFO = 0o040000, 0o020000, 0o010000
# Permission and set-id bits (07777) are POSIX-fixed and pass unchanged.
S_IALLUGO = 0o7777

HOST_TO_LINUX_FTYPE: dict[int, int] = {
    _stat.S_IFSOCK: S_IFSOCK, _stat.S_IFLNK: S_IFLNK, _stat.S_IFREG: S_IFREG,
    _stat.S_IFBLK: S_IFBLK, _stat.S_IFDIR: S_IFDIR, _stat.S_IFCHR: S_IFCHR,
    _stat.S_IFIFO: S_IFIFO,
}
LINUX_TO_HOST_FTYPE: dict[int, int] = {v: k for k, v in HOST_TO_LINUX_FTYPE.items()}

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12
LINUX_FTYPE_TO_DT: dict[int, int] = {
    S_IFIFO: DT_FIFO, S_IFCHR: DT_CHR, S_IFDIR: DT_DIR, S_IFBLK: DT_BLK,
    S_IFREG: DT_REG, S_IFLNK: DT_LNK, S_IFSOCK: DT_SOCK,
}


def mode_to_linux(host_mode: int) -> int:
    """A host st_mode as the Linux st_mode (type bits by name, permissions as is)."""
    return HOST_TO_LINUX_FTYPE.get(_stat.S_IFMT(host_mode), 0) | (host_mode & S_IALLUGO)


def mode_to_host(linux_mode: int) -> int:
    """A Linux mode (type + permissions, e.g. for mknod) as the host's."""
    ftype = linux_mode & S_IFMT
    return LINUX_TO_HOST_FTYPE.get(ftype, 0) | (linux_mode & S_IALLUGO)


# ----- lseek whence --------------------------------------------------------------------
SEEK_WHENCE: dict[int, int] = {0: _os.SEEK_SET, 1: _os.SEEK_CUR, 2: _os.SEEK_END}
for _lin, _name in ((3, "SEEK_DATA"), (4, "SEEK_HOLE")):
    if hasattr(_os, _name):
        SEEK_WHENCE[_lin] = getattr(_os, _name)

# ----- fcntl (include/uapi/asm-generic/fcntl.h, linux/fcntl.h) ------------------------
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_SETOWN, F_GETOWN, F_SETSIG, F_GETSIG = 8, 9, 10, 11
F_SETOWN_EX, F_GETOWN_EX = 15, 16
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
F_SETLEASE, F_GETLEASE, F_NOTIFY = 1024, 1025, 1026
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_ADD_SEALS, F_GET_SEALS = 1033, 1034
FD_CLOEXEC = 1

# Lock commands: Linux number -> host fcntl command (absent on hosts without it).
LOCK_CMDS: dict[int, int] = {}
for _lin, _name in ((F_GETLK, "F_GETLK"), (F_SETLK, "F_SETLK"), (F_SETLKW, "F_SETLKW"),
                    (F_OFD_GETLK, "F_OFD_GETLK"), (F_OFD_SETLK, "F_OFD_SETLK"),
                    (F_OFD_SETLKW, "F_OFD_SETLKW")):
    if hasattr(_fcntl, _name):
        LOCK_CMDS[_lin] = getattr(_fcntl, _name)
GETLK_CMDS = frozenset((F_GETLK, F_OFD_GETLK))

# Integer-argument commands passed through with no translation of the value
# (owner pids, pipe sizes).  Linux number -> host command.
INT_CMDS: dict[int, int] = {}
for _lin, _name in ((F_SETOWN, "F_SETOWN"), (F_GETOWN, "F_GETOWN"),
                    (F_SETPIPE_SZ, "F_SETPIPE_SZ"), (F_GETPIPE_SZ, "F_GETPIPE_SZ")):
    if hasattr(_fcntl, _name):
        INT_CMDS[_lin] = getattr(_fcntl, _name)

# File seals: Linux bit -> host bit.
SEAL_BITS: dict[int, int] = {}
for _lin, _name in ((1, "F_SEAL_SEAL"), (2, "F_SEAL_SHRINK"), (4, "F_SEAL_GROW"),
                    (8, "F_SEAL_WRITE"), (16, "F_SEAL_FUTURE_WRITE")):
    if hasattr(_fcntl, _name):
        SEAL_BITS[_lin] = getattr(_fcntl, _name)
SEAL_CMDS: dict[int, int] = {}
for _lin, _name in ((F_ADD_SEALS, "F_ADD_SEALS"), (F_GET_SEALS, "F_GET_SEALS")):
    if hasattr(_fcntl, _name):
        SEAL_CMDS[_lin] = getattr(_fcntl, _name)

# struct flock l_type: Linux value -> host value, and back.
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
LOCK_TYPES: dict[int, int] = {F_RDLCK: _fcntl.F_RDLCK, F_WRLCK: _fcntl.F_WRLCK,
                              F_UNLCK: _fcntl.F_UNLCK}
LOCK_TYPES_TO_LINUX: dict[int, int] = {v: k for k, v in LOCK_TYPES.items()}


def bits_to_host(value: int, table: dict[int, int]) -> int:
    """Translate a Linux bit set through a {linux_bit: host_bit} table (unknown bits: KeyError)."""
    out = 0
    rest = value
    for lin, host in table.items():
        if value & lin:
            out |= host
            rest &= ~lin
    if rest:
        raise KeyError(rest)
    return out


def bits_to_linux(value: int, table: dict[int, int]) -> int:
    out = 0
    for lin, host in table.items():
        if value & host:
            out |= lin
    return out


# ----- statfs f_flags (include/linux/statfs.h) ------------------------------------------
ST_VALID = 0x20
STATFS_FLAGS: dict[int, int] = {}
for _lin, _name in ((1, "ST_RDONLY"), (2, "ST_NOSUID"), (4, "ST_NODEV"), (8, "ST_NOEXEC"),
                    (16, "ST_SYNCHRONOUS"), (64, "ST_MANDLOCK"), (1024, "ST_NOATIME"),
                    (2048, "ST_NODIRATIME"), (4096, "ST_RELATIME")):
    if hasattr(_os, _name):
        STATFS_FLAGS[_lin] = getattr(_os, _name)

# ----- pipe2 / dup3 --------------------------------------------------------------------
PIPE2_ALLOWED = O_CLOEXEC | O_NONBLOCK | O_DIRECT
