"""File metadata: the stat family (fstat, newfstatat, statx, statfs,
fstatfs), permissions and ownership (fchmod, fchmodat, fchown, fchownat,
umask), times (utimensat), sizes and space (truncate, ftruncate, fallocate),
syncing (fsync, fdatasync, sync, syncfs) and fadvise64.

struct stat, statx and statfs are packed by syscalls.abi; statfs's f_type
(the Linux filesystem magic) is the host's on Linux hosts only.
"""
from __future__ import annotations

import errno as _errno
import fcntl
import os
import stat as _stat
import time

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32, s64
from elfuse_py.syscalls.fdargs import (NEG_EBADF, NEG_EFAULT, NEG_EINVAL, at_path, check_fd, guest_path, oserr,
                             proc_relative)
from elfuse_py.syscalls.seals import refuse_write
from elfuse_py.syscalls.table import PARTIAL, syscall


# ----- stat family ---------------------------------------------------------------------

def _stat_at(dirfd: int, pathname: int, flags: int, allowed: int) -> os.stat_result:
    if flags & ~allowed:
        raise oserr(_errno.EINVAL)
    p = b"" if pathname == 0 and flags & F.AT_EMPTY_PATH else guest_path(pathname)
    if not p and flags & F.AT_EMPTY_PATH:
        d = s32(dirfd)
        if d == F.AT_FDCWD:
            return os.stat(".")
        return _fstat(check_fd(d))
    p = proc_relative(dirfd, p)
    if p[:5] == b"/proc":
        special = paths.stat_special(p, not flags & F.AT_SYMLINK_NOFOLLOW)
        if special is not None:
            return special
    path, dfd = at_path(dirfd, p, not flags & F.AT_SYMLINK_NOFOLLOW)
    return os.stat(path, dir_fd=dfd, follow_symlinks=not flags & F.AT_SYMLINK_NOFOLLOW)


def _fstat(fd: int) -> os.stat_result:
    st = proc.fds.state.get(fd)
    return os.fstat(fd) if st is None else st.stat_of(fd)


@syscall("fstat", "fd, ptr")
def sys_fstat(fd, buf):
    fd = check_fd(fd)
    proc.mem.write(buf, abi.pack_stat(_fstat(fd)))
    return 0


@syscall("newfstatat", "dirfd, path, ptr, hex")
def sys_newfstatat(dirfd, pathname, buf, flags):
    st = _stat_at(dirfd, pathname, flags & 0xFFFFFFFF, F.AT_ALLOWED["newfstatat"])
    proc.mem.write(buf, abi.pack_stat(st))
    return 0


@syscall("statx", "dirfd, path, hex, hex, ptr")
def sys_statx(dirfd, pathname, flags, mask, buf):
    flags &= 0xFFFFFFFF
    mask &= 0xFFFFFFFF
    if (flags & F.AT_STATX_SYNC_TYPE) == F.AT_STATX_SYNC_TYPE or mask & abi.STATX__RESERVED:
        return NEG_EINVAL
    st = _stat_at(dirfd, pathname, flags, F.AT_ALLOWED["statx"])
    proc.mem.write(buf, abi.pack_statx(st, mask))
    return 0


def _statfs_type(target) -> int:
    """f_type (the Linux filesystem magic) where the host has it: Linux hosts only."""
    raw = hostfs.statfs_raw(target, abi.STATFS.size)
    # x86-64/arm64 Linux hosts share the asm-generic 64-bit layout; take f_type by position.
    return 0 if raw is None else abi.STATFS.unpack(raw)[0]


def _pack_statfs(target) -> bytes:
    ftype = _statfs_type(target)
    v = os.statvfs(target) if not isinstance(target, int) else os.fstatvfs(target)
    fsid = getattr(v, "f_fsid", 0)
    flags = F.ST_VALID | F.bits_to_linux(v.f_flag, F.STATFS_FLAGS)
    return abi.STATFS.pack(ftype, v.f_bsize, v.f_blocks, v.f_bfree, v.f_bavail, v.f_files,
                           v.f_ffree, s32(fsid), s32(fsid >> 32), v.f_namemax, v.f_frsize,
                           flags)


@syscall("statfs", "path, ptr")
def sys_statfs(pathname, buf):
    p = guest_path(pathname)
    path, _ = at_path(F.AT_FDCWD, p)
    proc.mem.write(buf, _pack_statfs(path))
    return 0


@syscall("fstatfs", "fd, ptr")
def sys_fstatfs(fd, buf):
    proc.mem.write(buf, _pack_statfs(check_fd(fd)))
    return 0


# ----- permissions, ownership, times, sizes -------------------------------------------

def _fd_of_file(fd: int) -> int:
    """`fd` checked, and not an emulated O_PATH fd (a host without O_PATH opened it
    for reading): Linux's fdget() refuses an O_PATH file for fchown and fchmod."""
    fd = check_fd(fd)
    if getattr(proc.fds.get(fd), "o_path", False):
        raise oserr(_errno.EBADF)
    return fd


@syscall("fchmod", "fd, mode")
def sys_fchmod(fd, mode):
    os.fchmod(_fd_of_file(fd), mode & F.S_IALLUGO)
    return 0


@syscall("fchmodat", "dirfd, path, mode")
def sys_fchmodat(dirfd, pathname, mode):
    path, dfd = at_path(dirfd, guest_path(pathname))
    os.chmod(path, mode & F.S_IALLUGO, dir_fd=dfd)
    return 0


def _id(v: int) -> int:
    v &= 0xFFFFFFFF
    return -1 if v == 0xFFFFFFFF else v


@syscall("fchown", "fd, int, int")
def sys_fchown(fd, uid, gid):
    os.fchown(_fd_of_file(fd), _id(uid), _id(gid))
    return 0


@syscall("fchownat", "dirfd, path, int, int, hex")
def sys_fchownat(dirfd, pathname, uid, gid, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["fchownat"]:
        return NEG_EINVAL
    p = guest_path(pathname)
    if not p and flags & F.AT_EMPTY_PATH:
        d = dirfd
        if d == F.AT_FDCWD:
            os.chown(b".", _id(uid), _id(gid))
        else:
            fd = check_fd(d)
            try:
                os.fchown(fd, _id(uid), _id(gid))
            except OSError as e:
                # An O_PATH fd (Linux hosts): fchown refuses it, Linux's
                # fchownat(AT_EMPTY_PATH) does not; the host's fd link names the file.
                if e.errno != _errno.EBADF or not hostfs.HAS_FD_DIR or not proc.fds.valid(fd):
                    raise
                os.chown(f"/proc/self/fd/{fd}", _id(uid), _id(gid))
        return 0
    path, dfd = at_path(dirfd, p, not flags & F.AT_SYMLINK_NOFOLLOW)
    os.chown(path, _id(uid), _id(gid), dir_fd=dfd,
             follow_symlinks=not flags & F.AT_SYMLINK_NOFOLLOW)
    return 0


UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


@syscall("utimensat", "dirfd, path, ptr, hex")
def sys_utimensat(dirfd, pathname, times, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["utimensat"]:
        return NEG_EINVAL
    ts = None
    if times:
        raw = proc.mem.read(times, 32)
        ts = [abi.TIMESPEC.unpack_from(raw, 0), abi.TIMESPEC.unpack_from(raw, 16)]
        for _sec, nsec in ts:
            if nsec not in (UTIME_NOW, UTIME_OMIT) and not 0 <= nsec < 1_000_000_000:
                return NEG_EINVAL
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    d = dirfd
    if pathname == 0:
        # Linux extension: a NULL path means the file dirfd refers to (futimens).
        if d == F.AT_FDCWD:
            return NEG_EFAULT
        if flags & F.AT_SYMLINK_NOFOLLOW:
            return NEG_EINVAL
        target, dfd, follow = check_fd(d), None, True
    else:
        p = guest_path(pathname)
        if not p and flags & F.AT_EMPTY_PATH and d != F.AT_FDCWD:
            target, dfd, follow = check_fd(d), None, True
        else:
            target, dfd = at_path(dirfd, p, follow)
    kw = {} if isinstance(target, int) else {"dir_fd": dfd, "follow_symlinks": follow}
    if ts is None or (ts[0][1] == UTIME_NOW and ts[1][1] == UTIME_NOW):
        os.utime(target, None, **kw)      # "now" with the permission rules of a NULL times
        return 0
    cur = os.stat(target, **kw)
    if ts[0][1] == UTIME_OMIT and ts[1][1] == UTIME_OMIT:
        return 0
    now = time.time_ns()

    def pick(t, old):
        sec, nsec = t
        if nsec == UTIME_OMIT:
            return old
        if nsec == UTIME_NOW:
            return now
        return sec * 1_000_000_000 + nsec

    os.utime(target, ns=(pick(ts[0], cur.st_atime_ns), pick(ts[1], cur.st_mtime_ns)), **kw)
    return 0


@syscall("truncate", "path, off")
def sys_truncate(pathname, length):
    p = guest_path(pathname)
    os.truncate(at_path(F.AT_FDCWD, p)[0], s64(length))
    return 0


@syscall("ftruncate", "fd, off")
def sys_ftruncate(fd, length):
    length = s64(length)
    if length < 0:
        return NEG_EINVAL
    fd = check_fd(fd)
    if (err := refuse_write(fd, length, length)):       # F_SEAL_SHRINK / F_SEAL_GROW
        return err
    os.ftruncate(fd, length)
    return 0


@syscall("fsync", "fd")
def sys_fsync(fd):
    os.fsync(check_fd(fd))
    return 0


@syscall("fdatasync", "fd")
def sys_fdatasync(fd):
    (getattr(os, "fdatasync", None) or os.fsync)(check_fd(fd))
    return 0


@syscall("sync")
def sys_sync():
    os.sync()
    return 0


@syscall("syncfs", "fd")
def sys_syncfs(fd):
    os.fstat(check_fd(fd))
    os.sync()                 # no portable per-filesystem sync: syncing all is a superset
    return 0


FALLOC_FL_KEEP_SIZE = 1


@syscall("fallocate", "fd, int, off, off", level=PARTIAL,
         note="mode 0 only (posix_fallocate; on hosts without it, macOS, zeros written past "
              "the end allocate the blocks); other modes EOPNOTSUPP")
def sys_fallocate(fd, mode, offset, length):
    fd = check_fd(fd)
    offset, length = s64(offset), s64(length)
    if offset < 0 or length <= 0:
        return NEG_EINVAL
    if s32(mode) != 0:
        return -lerrno.EOPNOTSUPP
    if (err := refuse_write(fd, offset, offset + length)):
        return err
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, offset, length)
    else:
        _allocate_by_writing(fd, offset + length)
    return 0


def _allocate_by_writing(fd: int, end: int) -> None:
    """posix_fallocate where the host has none (macOS): real zero bytes from the end
    of the file to `end`, so the blocks exist (glibc's own fallback does the same);
    blocks inside the file are taken as allocated (holes there stay holes)."""
    size = os.fstat(fd).st_size
    chunk = bytes(min(1 << 20, max(end - size, 0)))
    while size < end:
        size += os.pwrite(fd, chunk[:end - size], size)


FADV = {lin: getattr(os, name) for lin, name in
        ((0, "POSIX_FADV_NORMAL"), (1, "POSIX_FADV_RANDOM"), (2, "POSIX_FADV_SEQUENTIAL"),
         (3, "POSIX_FADV_WILLNEED"), (4, "POSIX_FADV_DONTNEED"), (5, "POSIX_FADV_NOREUSE"))
        if hasattr(os, name)}


@syscall("fadvise64", "fd, off, off, int")
def sys_fadvise64(fd, offset, length, advice):
    fd = check_fd(fd)
    advice = s32(advice)
    if advice not in (0, 1, 2, 3, 4, 5) or s64(length) < 0:
        return NEG_EINVAL
    os.fstat(fd)
    if advice in FADV:                 # advice only: hosts without it lose nothing
        if _stat.S_ISFIFO(os.fstat(fd).st_mode):
            return -lerrno.ESPIPE
        os.posix_fadvise(fd, s64(offset), s64(length), FADV[advice])
    return 0


SYNC_FILE_RANGE_VALID = 0x7     # WAIT_BEFORE | WRITE | WAIT_AFTER


@syscall("sync_file_range", "fd, off, off, hex", level=PARTIAL,
         note="checked as Linux (EINVAL, EBADF, ESPIPE); a range with WRITE or WAIT_AFTER syncs the whole file's data")
def sys_sync_file_range(fd, offset, nbytes, flags):
    offset, nbytes = s64(offset), s64(nbytes)
    if flags & 0xFFFFFFFF & ~SYNC_FILE_RANGE_VALID or flags >> 32:
        return NEG_EINVAL
    end = s64((offset + nbytes) & 0xFFFFFFFFFFFFFFFF)     # loff_t arithmetic wraps
    if offset < 0 or end < 0 or end < offset:
        return NEG_EINVAL
    m = os.fstat(check_fd(fd)).st_mode
    if not (_stat.S_ISREG(m) or _stat.S_ISBLK(m) or _stat.S_ISDIR(m) or _stat.S_ISLNK(m)):
        return -lerrno.ESPIPE
    if flags & 0x6:
        (getattr(os, "fdatasync", None) or os.fsync)(fd)
    return 0


@syscall("readahead", "fd, off, size", note="EBADF for an fd not open for reading, EINVAL for a non-regular file; "
         "the read-ahead itself is the host's")
def sys_readahead(fd, offset, count):
    fd = check_fd(fd)
    m = os.fstat(fd).st_mode
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
        return NEG_EBADF
    if not _stat.S_ISREG(m):
        return NEG_EINVAL
    if 3 in FADV:
        try:
            os.posix_fadvise(fd, s64(offset), count, FADV[3])
        except OSError:
            pass                        # a hint only
    return 0


@syscall("umask", "mode")
def sys_umask(mask):
    mask &= 0o777
    old = os.umask(mask)     # the host applies it to every file the guest creates
    proc.umask = mask
    return old
