"""Linux AArch64 struct layouts of the file syscalls, and fillers from host values.

Owns: struct stat (asm-generic, 128 bytes), struct statx (256 bytes), struct
linux_dirent64, struct timespec, struct statfs (asm-generic 64-bit), struct
flock, struct winsize, and the Linux encoding of device numbers.  Everything is
little-endian LP64; host values come from os.stat_result / os.statvfs_result
fields by name, so the same code serves Linux and macOS hosts.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.syscalls.fsflags import mode_to_linux

# struct timespec { time_t tv_sec; long tv_nsec; }
TIMESPEC = struct.Struct("<qq")

# asm-generic struct stat: dev, ino, mode, nlink, uid, gid, rdev, __pad1, size,
# blksize, __pad2, blocks, atime, atime_nsec, mtime, mtime_nsec, ctime,
# ctime_nsec, __unused4, __unused5.
STAT = struct.Struct("<QQIIIIQQqiiqqQqQqQII")
assert STAT.size == 128

# struct statx (include/uapi/linux/stat.h), 256 bytes: the fields up to
# stx_dio_offset_align, then spare space (zeroed).
STATX = struct.Struct("<IIQIIIHHQQQQ" + "qIi" * 4 + "IIIIQII" + "96x")
assert STATX.size == 256
STATX_TYPE, STATX_MODE, STATX_NLINK, STATX_UID, STATX_GID = 0x1, 0x2, 0x4, 0x8, 0x10
STATX_ATIME, STATX_MTIME, STATX_CTIME, STATX_INO, STATX_SIZE = 0x20, 0x40, 0x80, 0x100, 0x200
STATX_BLOCKS, STATX_BASIC_STATS, STATX_BTIME = 0x400, 0x7FF, 0x800
STATX_MNT_ID = 0x1000
STATX__RESERVED = 0x80000000

# struct linux_dirent64 header: d_ino, d_off, d_reclen, d_type; then the name.
DIRENT64_HEAD = struct.Struct("<QqHB")

# asm-generic struct statfs (64-bit): f_type, f_bsize, f_blocks, f_bfree,
# f_bavail, f_files, f_ffree, f_fsid[2], f_namelen, f_frsize, f_flags, f_spare[4].
STATFS = struct.Struct("<qqQQQQQiiqqq32x")
assert STATFS.size == 120

# struct flock { short l_type, l_whence; off_t l_start, l_len; pid_t l_pid; }
FLOCK = struct.Struct("<hhxxxxqqixxxx")
assert FLOCK.size == 32

# struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; } (same everywhere)
WINSIZE = struct.Struct("<HHHH")


def encode_dev(major: int, minor: int) -> int:
    """A Linux dev_t (glibc's 64-bit encoding, which the kernel's 32-bit one is a subset of)."""
    return ((major & 0xFFF) << 8) | ((major & ~0xFFF) << 32) | (minor & 0xFF) | ((minor & ~0xFF) << 12)


def decode_dev(dev: int) -> tuple[int, int]:
    """(major, minor) of a Linux dev_t."""
    major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)
    minor = (dev & 0xFF) | ((dev >> 12) & ~0xFF)
    return major & 0xFFFFFFFF, minor & 0xFFFFFFFF


def host_dev(dev: int) -> tuple[int, int]:
    """(major, minor) of a host dev_t."""
    return os.major(dev), os.minor(dev)


def _split_ns(ns: int) -> tuple[int, int]:
    sec, nsec = divmod(ns, 1_000_000_000)
    return sec, nsec


def pack_stat(st: os.stat_result) -> bytes:
    """The Linux struct stat for a host stat result."""
    a_s, a_n = _split_ns(st.st_atime_ns)
    m_s, m_n = _split_ns(st.st_mtime_ns)
    c_s, c_n = _split_ns(st.st_ctime_ns)
    return STAT.pack(
        encode_dev(*host_dev(st.st_dev)), st.st_ino & 0xFFFFFFFFFFFFFFFF,
        mode_to_linux(st.st_mode), min(st.st_nlink, 0xFFFFFFFF), st.st_uid & 0xFFFFFFFF,
        st.st_gid & 0xFFFFFFFF, encode_dev(*host_dev(st.st_rdev)), 0, st.st_size,
        st.st_blksize, 0, st.st_blocks, a_s, a_n, m_s, m_n, c_s, c_n, 0, 0)


def pack_statx(st: os.stat_result, mask: int) -> bytes:
    """The Linux struct statx for a host stat result.

    Linux may return more than was asked; the basic fields are always filled.
    The birth time is reported where the host knows it (macOS st_birthtime).
    """
    a_s, a_n = _split_ns(st.st_atime_ns)
    m_s, m_n = _split_ns(st.st_mtime_ns)
    c_s, c_n = _split_ns(st.st_ctime_ns)
    got = STATX_BASIC_STATS
    b_s = b_n = 0
    birth = getattr(st, "st_birthtime_ns", None)
    if birth is None and getattr(st, "st_birthtime", None) is not None:
        birth = int(st.st_birthtime * 1_000_000_000)
    if birth is not None:
        got |= STATX_BTIME
        b_s, b_n = _split_ns(birth)
    rmaj, rmin = host_dev(st.st_rdev)
    dmaj, dmin = host_dev(st.st_dev)
    return STATX.pack(
        got, st.st_blksize, 0, min(st.st_nlink, 0xFFFFFFFF), st.st_uid & 0xFFFFFFFF,
        st.st_gid & 0xFFFFFFFF, mode_to_linux(st.st_mode), 0, st.st_ino & 0xFFFFFFFFFFFFFFFF,
        st.st_size, st.st_blocks, 0,
        a_s, a_n, 0, b_s, b_n, 0, c_s, c_n, 0, m_s, m_n, 0,
        rmaj, rmin, dmaj, dmin, 0, 0, 0)


def pack_dirent64(ino: int, off: int, dtype: int, name: bytes) -> bytes:
    """One linux_dirent64 record, NUL-terminated and padded to 8 bytes."""
    reclen = (DIRENT64_HEAD.size + len(name) + 1 + 7) & ~7
    return (DIRENT64_HEAD.pack(ino & 0xFFFFFFFFFFFFFFFF, off, reclen, dtype) + name
            + b"\0" * (reclen - DIRENT64_HEAD.size - len(name)))


def dirent64_size(name: bytes) -> int:
    return (DIRENT64_HEAD.size + len(name) + 1 + 7) & ~7
