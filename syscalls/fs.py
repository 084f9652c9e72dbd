"""File-system and file-descriptor syscalls.

Owns the handlers for I/O on fds (read/write and their vector and positioned
forms), opening and closing, fd duplication and fcntl, stat/statx/statfs,
directories (getdents64, mkdir, chdir, getcwd), names (link, symlink, rename,
unlink, readlink), permissions and times, and pipes.  ioctl is in
syscalls/ioctl.py.

Guest fds are host fds, so most handlers validate the fd against the guest's
range, translate constants by name (syscalls.fsflags, syscalls.ttyflags) and
structs (syscalls.abi), and make the honest host call.  Guest paths go through
elfuse_py.runtime.paths (looked up at call time: later layers replace its functions).
"""
from __future__ import annotations

import ctypes
import errno as _errno
import fcntl
import os
import stat as _stat
import struct
import time

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.memory import PROT_READ, PROT_WRITE, GuestFault
from elfuse_py.runtime.process import proc

from syscalls import abi
from syscalls import fsflags as F
from syscalls.args import s32, s64
from syscalls.table import PARTIAL, syscall

_EBADF = -lerrno.EBADF
_EINVAL = -lerrno.EINVAL
_EFAULT = -lerrno.EFAULT
MAX_RW_COUNT = 0x7FFFF000          # Linux clamps every read/write to this
TASK_SIZE = 1 << 48                # access_ok() bound for 48-bit user addresses
IOV_MAX = 1024
PATH_MAX = 4096
SIGPIPE = 13                       # Linux signal number
_IOVEC = struct.Struct("<Qq")
_INT = struct.Struct("<i")
_INT2 = struct.Struct("<ii")
_U64 = struct.Struct("<Q")


def _oserr(err: int) -> OSError:
    return OSError(err, os.strerror(err))


# ----- argument helpers ---------------------------------------------------------------

def guest_path(addr: int) -> bytes:
    """A guest path argument: EFAULT for NULL/unmapped, ENAMETOOLONG past PATH_MAX."""
    if addr == 0:
        raise GuestFault(0)
    try:
        return proc.mem.cstr(addr, PATH_MAX)
    except ValueError:
        raise _oserr(_errno.ENAMETOOLONG) from None


def at_path(dirfd: int, p: bytes, follow: bool = True) -> tuple[bytes, int | None]:
    """(host path, dir_fd) for a guest *at() path: dirfd is ignored for absolute paths.

    `follow` False: a symlink in the last component is not resolved inside the
    sysroot (lstat, readlink, unlink, rename…)."""
    if p[:1] == b"/":
        return os.fsencode(paths.host_path(p, follow)), None
    dirfd = s32(dirfd)
    if dirfd == F.AT_FDCWD:
        return p, None
    if not proc.fds.valid(dirfd):
        raise _oserr(_errno.EBADF)
    return p, dirfd


def _fd(fd: int) -> int:
    """A guest fd argument (unsigned int) that must be in the guest's range, else EBADF."""
    fd &= 0xFFFFFFFF
    if fd >= proc.fds.limit:
        raise _oserr(_errno.EBADF)
    return fd


def _fd_ceiling() -> int:
    """First fd number the guest may not be given: the reserved range, or lower
    if the guest lowered its RLIMIT_NOFILE (kept by the emulator, not the host)."""
    ceiling = proc.fds.limit
    nofile = proc.task.nofile
    if nofile is not None and nofile[0] < ceiling:
        return nofile[0]
    return ceiling


def _new_fd(fd: int) -> int:
    """Guard a host-allocated fd: one at or past the guest's limit is EMFILE for the guest."""
    if fd >= proc.fds.limit or (proc.task.nofile is not None and fd >= _fd_ceiling()):
        os.close(fd)
        raise _oserr(_errno.EMFILE)
    return fd


def _prefix(addr: int, n: int, prot: int) -> int:
    """How many bytes from `addr` (up to n) are mapped with `prot` (for partial I/O)."""
    mem = proc.mem
    got = 0
    while got < n:
        r = mem.region_at(addr + got)
        if r is None or (r.prot & prot) != prot:
            break
        got = r.end - addr
    return min(got, n)


def guest_iovecs(iov: int, iovcnt: int, write: bool) -> list[memoryview]:
    """Views of the guest buffers an iovec array describes.

    EINVAL past IOV_MAX or for a negative length, EFAULT for a bad array or
    buffer; the total is clamped to MAX_RW_COUNT like Linux.
    """
    if iovcnt > IOV_MAX:
        raise _oserr(_errno.EINVAL)
    mem = proc.mem
    out = []
    total = 0
    for base, length in _IOVEC.iter_unpack(mem.read(iov, 16 * iovcnt)):
        if length < 0:
            raise _oserr(_errno.EINVAL)
        if length:
            if total + length > MAX_RW_COUNT:
                length = MAX_RW_COUNT - total
                if length <= 0:
                    break
            total += length
            out.append(mem.view(base, length, write=write))
    return out


def _epipe(fd: int = -1) -> int:
    # Python ignores SIGPIPE, so the host reports EPIPE; Linux would also raise SIGPIPE
    # (except on a SOCK_SEQPACKET socket: syscalls/net decides for sockets).
    if fd >= 0:
        from syscalls.net.messages import epipe_signals
        if not epipe_signals(fd):
            return -lerrno.EPIPE
    proc.post_signal(SIGPIPE)
    return -lerrno.EPIPE


# ----- read / write -------------------------------------------------------------------

@syscall("read", "fd, buf_out, size", interruptible=True)
def sys_read(fd, buf, count):
    fd &= 0xFFFFFFFF
    fds = proc.fds
    if fd >= fds.limit:
        return _EBADF
    if count > MAX_RW_COUNT:
        if buf + count > TASK_SIZE:
            return _EFAULT
        count = MAX_RW_COUNT
    try:
        view = proc.mem.view(buf, count, write=True)
    except GuestFault:
        count = _prefix(buf, count, PROT_WRITE)
        if not count:
            os.read(fd, 0)          # surface EBADF/EISDIR before EFAULT, as Linux orders them
            return _EFAULT
        view = proc.mem.view(buf, count, write=True)
    st = fds.state.get(fd)
    if st is not None and st.intercepts_io:
        return st.io_read(fd, [view])
    return os.readv(fd, [view])


@syscall("write", "fd, buf_in, size", interruptible=True)
def sys_write(fd, buf, count):
    fd &= 0xFFFFFFFF
    fds = proc.fds
    if fd >= fds.limit:
        return _EBADF
    if count > MAX_RW_COUNT:
        if buf + count > TASK_SIZE:
            return _EFAULT
        count = MAX_RW_COUNT
    try:
        view = proc.mem.view(buf, count)
    except GuestFault:
        count = _prefix(buf, count, PROT_READ)
        if not count:
            os.write(fd, b"")
            return _EFAULT
        view = proc.mem.view(buf, count)
    st = fds.state.get(fd)
    try:
        if st is not None and st.intercepts_io:
            return st.io_write(fd, [view])
        return os.write(fd, view)
    except BrokenPipeError:
        return _epipe(fd)


@syscall("readv", "fd, ptr, int", interruptible=True)
def sys_readv(fd, iov, iovcnt):
    fd = _fd(fd)
    views = guest_iovecs(iov, iovcnt, True)
    st = proc.fds.state.get(fd)
    if st is not None and st.intercepts_io:
        return st.io_read(fd, views)
    return os.readv(fd, views)


@syscall("writev", "fd, ptr, int", interruptible=True)
def sys_writev(fd, iov, iovcnt):
    fd = _fd(fd)
    views = guest_iovecs(iov, iovcnt, False)
    st = proc.fds.state.get(fd)
    try:
        if st is not None and st.intercepts_io:
            return st.io_write(fd, views)
        return os.writev(fd, views)
    except BrokenPipeError:
        return _epipe(fd)


def _offset(off: int) -> int:
    off = s64(off)
    if off < 0:
        raise _oserr(_errno.EINVAL)
    return off


def _preadv(fd: int, views: list, off: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, views, off)
    n = 0
    for v in views:            # hosts without preadv: one pread per buffer
        data = os.pread(fd, len(v), off + n)
        v[:len(data)] = data
        n += len(data)
        if len(data) < len(v):
            break
    return n


def _pwritev(fd: int, views: list, off: int) -> int:
    if hasattr(os, "pwritev"):
        return os.pwritev(fd, views, off)
    n = 0
    for v in views:
        k = os.pwrite(fd, v, off + n)
        n += k
        if k < len(v):
            break
    return n


def _io_view(buf: int, count: int, write: bool) -> memoryview | None:
    """The guest buffer of a read (write=True) or write, as Linux would use it.

    Like Linux, a buffer whose tail is unmapped transfers what fits; None
    means not one byte is accessible (EFAULT once the fd has been checked).
    """
    if count > MAX_RW_COUNT:
        if buf + count > TASK_SIZE:
            return None
        count = MAX_RW_COUNT
    try:
        return proc.mem.view(buf, count, write=write)
    except GuestFault:
        count = _prefix(buf, count, PROT_WRITE if write else PROT_READ)
        return proc.mem.view(buf, count, write=write) if count else None


@syscall("pread64", "fd, buf_out, size, off", interruptible=True)
def sys_pread64(fd, buf, count, off):
    fd = _fd(fd)
    off = _offset(off)
    view = _io_view(buf, count, True)
    if view is None:
        os.pread(fd, 0, off)
        return _EFAULT
    return _preadv(fd, [view], off)


@syscall("pwrite64", "fd, buf_in, size, off", interruptible=True)
def sys_pwrite64(fd, buf, count, off):
    fd = _fd(fd)
    off = _offset(off)
    view = _io_view(buf, count, False)
    try:
        if view is None:
            os.pwrite(fd, b"", off)
            return _EFAULT
        return os.pwrite(fd, view, off)
    except BrokenPipeError:
        return _epipe()


@syscall("preadv", "fd, ptr, int, off, hex", interruptible=True)
def sys_preadv(fd, iov, iovcnt, pos_l, pos_h):
    # 64-bit: the whole offset is in pos_l.
    fd = _fd(fd)
    off = _offset(pos_l)
    return _preadv(fd, guest_iovecs(iov, iovcnt, True), off)


@syscall("pwritev", "fd, ptr, int, off, hex")
def sys_pwritev(fd, iov, iovcnt, pos_l, pos_h):
    fd = _fd(fd)
    off = _offset(pos_l)
    try:
        return _pwritev(fd, guest_iovecs(iov, iovcnt, False), off)
    except BrokenPipeError:
        return _epipe()


# RWF_* flags of preadv2/pwritev2: Linux bit -> host os.RWF_* (Linux hosts only).
RWF_FLAGS = {lin: getattr(os, name) for lin, name in
             ((1, "RWF_HIPRI"), (2, "RWF_DSYNC"), (4, "RWF_SYNC"), (8, "RWF_NOWAIT"),
              (0x10, "RWF_APPEND")) if hasattr(os, name)}


def _rwf(flags: int) -> int:
    try:
        return F.bits_to_host(flags & 0xFFFFFFFF, RWF_FLAGS)
    except KeyError:
        raise _oserr(_errno.EOPNOTSUPP) from None


@syscall("preadv2", "fd, ptr, int, off, hex, hex", level=PARTIAL,
         note="RWF_* flags only where the host's Python exposes them")
def sys_preadv2(fd, iov, iovcnt, pos_l, pos_h, flags):
    fd = _fd(fd)
    hflags = _rwf(flags)
    views = guest_iovecs(iov, iovcnt, True)
    if s64(pos_l) == -1:
        if hflags:
            raise _oserr(_errno.EOPNOTSUPP)
        return os.readv(fd, views)
    off = _offset(pos_l)
    return os.preadv(fd, views, off, hflags) if hflags else _preadv(fd, views, off)


@syscall("pwritev2", "fd, ptr, int, off, hex, hex", level=PARTIAL,
         note="RWF_* flags only where the host's Python exposes them")
def sys_pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags):
    fd = _fd(fd)
    hflags = _rwf(flags)
    views = guest_iovecs(iov, iovcnt, False)
    try:
        if s64(pos_l) == -1:
            if hflags:
                raise _oserr(_errno.EOPNOTSUPP)
            return os.writev(fd, views)
        off = _offset(pos_l)
        return os.pwritev(fd, views, off, hflags) if hflags else _pwritev(fd, views, off)
    except BrokenPipeError:
        return _epipe()


# ----- open / close / lseek -----------------------------------------------------------

_O_PATH_KEEP = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_CLOEXEC | F.O_PATH


@syscall("openat", "dirfd, path, oflags, mode", ret="fd", interruptible=True)
def sys_openat(dirfd, pathname, flags, mode):
    p = guest_path(pathname)
    flags &= 0xFFFFFFFF
    mode &= F.S_IALLUGO
    fd = paths.open_special(p, flags, mode)
    if fd is not None:
        return fd
    if flags & F.O_PATH:
        flags &= _O_PATH_KEEP       # Linux ignores every other flag with O_PATH
    elif flags & F.__O_TMPFILE:
        # Linux: exactly O_TMPFILE (no O_CREAT) and a writable access mode.
        if (flags & (F.O_TMPFILE | F.O_CREAT)) != F.O_TMPFILE or not flags & (F.O_WRONLY | F.O_RDWR):
            return _EINVAL
    try:
        hflags = F.open_flags_to_host(flags)
    except KeyError as e:
        if flags & F.O_PATH and e.args[0] == "O_PATH":
            # Hosts without O_PATH (macOS): a read-only open is the nearest equivalent.
            hflags = F.open_flags_to_host(flags & ~F.O_PATH)
        else:
            return -lerrno.EOPNOTSUPP
    path, dfd = at_path(dirfd, p, not flags & F.O_NOFOLLOW)
    fd = _new_fd(os.open(path, hflags, mode, dir_fd=dfd))
    proc.fds.on_close(fd)               # a new file: no emulator state may linger on its number
    if not flags & F.O_CLOEXEC:
        os.set_inheritable(fd, True)     # Python's os.open always adds O_CLOEXEC
    return fd


@syscall("close", "fd")
def sys_close(fd):
    fd = _fd(fd)
    try:
        os.close(fd)
    finally:
        proc.fds.on_close(fd)
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4


@syscall("close_range", "uint, uint, hex")
def sys_close_range(first, last, flags):
    first &= 0xFFFFFFFF
    last &= 0xFFFFFFFF
    flags &= 0xFFFFFFFF
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        return _EINVAL
    fds = proc.fds
    last = min(last, fds.limit - 1)      # the emulator's reserved fds stay open
    if first > last:
        return 0
    if flags & CLOSE_RANGE_CLOEXEC:
        for name in os.listdir("/dev/fd"):
            fd = int(name)
            if first <= fd <= last:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass
        return 0
    os.closerange(first, last + 1)
    for fd in [fd for fd in fds.state if first <= fd <= last]:
        fds.on_close(fd)
    return 0


class DirState(FdState):
    """Directory listing of an fd for getdents64: a snapshot and a position.

    The position is the index of the next entry; each record's d_off is the
    index after it, so lseek(fd, d_off, SEEK_SET) resumes there.  Seeking to 0
    (rewinddir) drops the snapshot so the next call sees a fresh listing.
    Shared by dup'd fds, like the open file description's offset on Linux.
    """

    def __init__(self) -> None:
        self.entries: list | None = None
        self.pos = 0


def _list_dir(fd: int) -> list[tuple[bytes, int, int]]:
    st = os.fstat(fd)
    if not _stat.S_ISDIR(st.st_mode):
        raise _oserr(_errno.ENOTDIR)
    try:
        parent = os.stat(b"..", dir_fd=fd).st_ino
    except OSError:
        parent = st.st_ino
    out = [(b".", st.st_ino, F.DT_DIR), (b"..", parent, F.DT_DIR)]
    # scandir reads through a dup sharing the host offset, which an lseek
    # before the first getdents64 may have moved: list from the start.
    os.lseek(fd, 0, os.SEEK_SET)
    with os.scandir(fd) as it:
        for e in it:
            if e.is_symlink():
                dt = F.DT_LNK
            elif e.is_dir(follow_symlinks=False):
                dt = F.DT_DIR
            elif e.is_file(follow_symlinks=False):
                dt = F.DT_REG
            else:
                try:
                    m = e.stat(follow_symlinks=False).st_mode
                    dt = F.LINUX_FTYPE_TO_DT.get(F.mode_to_linux(m) & F.S_IFMT, F.DT_UNKNOWN)
                except OSError:
                    dt = F.DT_UNKNOWN
            out.append((os.fsencode(e.name), e.inode(), dt))
    if _is_own_fd_dir(st):
        # The host's /proc/self/fd also lists the emulator's reserved fds and
        # scandir's own dup: the guest sees only its fds that are open now.
        out = out[:2] + [x for x in out[2:] if x[0].isdigit() and _guest_fd_open(int(x[0]))]
    elif _is_other_fd_dir(fd):
        # Another process's /proc/PID/fd: when it is an emulated guest too
        # (a fork child, the parent shell) its emulator's fds sit in the same
        # reserved range as ours, which no guest can name.
        limit = proc.fds.limit
        out = out[:2] + [x for x in out[2:] if not x[0].isdigit() or int(x[0]) < limit]
    return out


def _is_other_fd_dir(fd: int) -> bool:
    try:
        where = hostfs.fd_path(fd)
    except OSError:
        return False
    parts = where.split("/")
    return len(parts) == 4 and parts[1] == "proc" and parts[2].isdigit() and parts[3] == "fd"


def _is_own_fd_dir(st: os.stat_result) -> bool:
    try:
        own = os.stat("/proc/self/fd")
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _guest_fd_open(fd: int) -> bool:
    if not proc.fds.valid(fd):
        return False
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@syscall("getdents64", "fd, ptr, uint")
def sys_getdents64(fd, dirp, count):
    fd = _fd(fd)
    count &= 0xFFFFFFFF
    fds = proc.fds
    st = fds.state.get(fd)
    if not isinstance(st, DirState):
        os.fstat(fd)                      # EBADF for a closed fd before anything else
        st = DirState()
        fds.set(fd, st)
    if st.entries is None:
        try:
            st.entries = _list_dir(fd)
        except OSError:
            fds.on_close(fd)
            raise
    entries = st.entries
    out = bytearray()
    pos = st.pos
    pack = abi.pack_dirent64
    while pos < len(entries):
        name, ino, dt = entries[pos]
        rec = pack(ino, pos + 1, dt, name)
        if len(out) + len(rec) > count:
            break
        out += rec
        pos += 1
    if not out and pos < len(entries):
        return _EINVAL                    # buffer too small for the next entry
    proc.mem.write(dirp, out)
    st.pos = pos
    return len(out)


@syscall("lseek", "fd, off, int")
def sys_lseek(fd, offset, whence):
    fd = _fd(fd)
    offset = s64(offset)
    host_whence = F.SEEK_WHENCE.get(whence & 0xFFFFFFFF)
    if host_whence is None:
        return _EINVAL
    st = proc.fds.state.get(fd)
    if isinstance(st, DirState):
        if host_whence == os.SEEK_SET:
            new = offset
        elif host_whence == os.SEEK_CUR:
            new = st.pos + offset
        else:
            return _EINVAL
        if new < 0:
            return _EINVAL
        if new == 0:
            st.entries = None
        st.pos = new
        return new
    return os.lseek(fd, offset, host_whence)


# ----- stat family ---------------------------------------------------------------------

def _stat_at(dirfd: int, pathname: int, flags: int, allowed: int) -> os.stat_result:
    if flags & ~allowed:
        raise _oserr(_errno.EINVAL)
    p = b"" if pathname == 0 and flags & F.AT_EMPTY_PATH else guest_path(pathname)
    if not p and flags & F.AT_EMPTY_PATH:
        d = s32(dirfd)
        if d == F.AT_FDCWD:
            return os.stat(".")
        return os.fstat(_fd(d))
    path, dfd = at_path(dirfd, p, not flags & F.AT_SYMLINK_NOFOLLOW)
    return os.stat(path, dir_fd=dfd, follow_symlinks=not flags & F.AT_SYMLINK_NOFOLLOW)


@syscall("fstat", "fd, ptr")
def sys_fstat(fd, buf):
    fd = _fd(fd)
    proc.mem.write(buf, abi.pack_stat(os.fstat(fd)))
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
        return _EINVAL
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
    path = os.fsencode(paths.host_path(p)) if p[:1] == b"/" else p
    proc.mem.write(buf, _pack_statfs(path))
    return 0


@syscall("fstatfs", "fd, ptr")
def sys_fstatfs(fd, buf):
    proc.mem.write(buf, _pack_statfs(_fd(fd)))
    return 0


# ----- names: readlink, access, cwd, mkdir, mknod, unlink, rename, links ---------------

@syscall("readlinkat", "dirfd, path, ptr, int")
def sys_readlinkat(dirfd, pathname, buf, bufsiz):
    bufsiz = s32(bufsiz)
    if bufsiz <= 0:
        return _EINVAL
    p = guest_path(pathname)
    target = paths.readlink_special(p)
    if target is None:
        path, dfd = at_path(dirfd, p, False)
        target = os.readlink(path, dir_fd=dfd)
    target = target[:bufsiz]
    proc.mem.write(buf, target)
    return len(target)


def _access(dirfd: int, pathname: int, mode: int, flags: int) -> int:
    mode &= 0xFFFFFFFF
    if mode & ~7 or flags & ~F.AT_ALLOWED["faccessat2"]:
        return _EINVAL
    p = guest_path(pathname)
    if not p and flags & F.AT_EMPTY_PATH:
        d = s32(dirfd)
        path, dfd = (b".", None) if d == F.AT_FDCWD else (b"/dev/fd/%d" % _fd(d), None)
    else:
        path, dfd = at_path(dirfd, p, not flags & F.AT_SYMLINK_NOFOLLOW)
    hmode = os.F_OK
    for lin, host in F.ACCESS_MODES.items():
        if mode & lin:
            hmode |= host
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    if os.access(path, hmode, dir_fd=dfd, effective_ids=bool(flags & F.AT_EACCESS),
                 follow_symlinks=follow):
        return 0
    # os.access hides errno: recover it.  A failing lookup gives its own error
    # (ENOENT, ENOTDIR, ELOOP, EACCES on a search permission); otherwise it is
    # a permission refusal, or EROFS for write access on a read-only mount.
    os.stat(path, dir_fd=dfd, follow_symlinks=follow)
    if mode & 2:
        try:
            if os.statvfs(path if dfd is None else b"/dev/fd/%d" % dfd).f_flag & os.ST_RDONLY:
                return -lerrno.EROFS
        except OSError:
            pass
    return -lerrno.EACCES


@syscall("faccessat", "dirfd, path, int")
def sys_faccessat(dirfd, pathname, mode):
    return _access(dirfd, pathname, mode, 0)


@syscall("faccessat2", "dirfd, path, int, hex")
def sys_faccessat2(dirfd, pathname, mode, flags):
    return _access(dirfd, pathname, mode, flags & 0xFFFFFFFF)


@syscall("getcwd", "ptr, size")
def sys_getcwd(buf, size):
    cwd = os.getcwdb() + b"\0"
    if len(cwd) > size:
        return -lerrno.ERANGE
    proc.mem.write(buf, cwd)
    return len(cwd)


@syscall("chdir", "path")
def sys_chdir(pathname):
    p = guest_path(pathname)
    os.chdir(os.fsencode(paths.host_path(p)) if p[:1] == b"/" else p)
    return 0


@syscall("fchdir", "fd")
def sys_fchdir(fd):
    os.fchdir(_fd(fd))
    return 0


@syscall("mkdirat", "dirfd, path, mode")
def sys_mkdirat(dirfd, pathname, mode):
    path, dfd = at_path(dirfd, guest_path(pathname))
    os.mkdir(path, mode & F.S_IALLUGO, dir_fd=dfd)
    return 0


@syscall("mknodat", "dirfd, path, mode, hex")
def sys_mknodat(dirfd, pathname, mode, dev):
    mode &= 0xFFFFFFFF
    ftype = mode & F.S_IFMT or F.S_IFREG
    perm = mode & F.S_IALLUGO
    if ftype == F.S_IFDIR:
        return -lerrno.EPERM
    if ftype not in (F.S_IFREG, F.S_IFCHR, F.S_IFBLK, F.S_IFIFO, F.S_IFSOCK):
        return _EINVAL
    path, dfd = at_path(dirfd, guest_path(pathname))
    if ftype == F.S_IFREG:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, perm, dir_fd=dfd))
    elif ftype == F.S_IFIFO:
        os.mkfifo(path, perm, dir_fd=dfd)
    else:
        major, minor = abi.decode_dev(dev & 0xFFFFFFFF)
        os.mknod(path, F.mode_to_host(ftype | perm), os.makedev(major, minor), dir_fd=dfd)
    return 0


@syscall("unlinkat", "dirfd, path, hex")
def sys_unlinkat(dirfd, pathname, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["unlinkat"]:
        return _EINVAL
    path, dfd = at_path(dirfd, guest_path(pathname), False)
    if flags & F.AT_REMOVEDIR:
        os.rmdir(path, dir_fd=dfd)
    else:
        os.unlink(path, dir_fd=dfd)
    return 0


# renameat2's flags by meaning, for the host's call (host/fs.py: renameat2 or renameatx_np).
_RENAME_MEANINGS = {F.RENAME_NOREPLACE: "noreplace", F.RENAME_EXCHANGE: "exchange",
                    F.RENAME_WHITEOUT: "whiteout"}


def _rename(olddirfd, oldpath, newdirfd, newpath, flags: int) -> int:
    if flags & ~(F.RENAME_NOREPLACE | F.RENAME_EXCHANGE | F.RENAME_WHITEOUT) or (
            flags & F.RENAME_EXCHANGE and flags & (F.RENAME_NOREPLACE | F.RENAME_WHITEOUT)):
        return _EINVAL
    src, sdfd = at_path(olddirfd, guest_path(oldpath), False)
    dst, ddfd = at_path(newdirfd, guest_path(newpath), False)
    if not flags:
        os.rename(src, dst, src_dir_fd=sdfd, dst_dir_fd=ddfd)
        return 0
    fname, by_meaning = hostfs.RENAME
    fn = getattr(hostfs.libc, fname, None) if fname else None
    try:
        hflags = F.bits_to_host(flags, {bit: by_meaning[m] for bit, m in _RENAME_MEANINGS.items()
                                        if m in by_meaning})
    except KeyError:
        return _EINVAL
    if fn is None:
        return _EINVAL
    at_cwd = hostfs.AT_FDCWD
    r = fn(at_cwd if sdfd is None else sdfd, ctypes.c_char_p(src),
           at_cwd if ddfd is None else ddfd, ctypes.c_char_p(dst), ctypes.c_uint(hflags))
    if r != 0:
        raise _oserr(ctypes.get_errno())
    return 0


@syscall("renameat", "dirfd, path, dirfd, path")
def sys_renameat(olddirfd, oldpath, newdirfd, newpath):
    return _rename(olddirfd, oldpath, newdirfd, newpath, 0)


@syscall("renameat2", "dirfd, path, dirfd, path, hex", level=PARTIAL,
         note="RENAME_NOREPLACE/EXCHANGE where the host has renameat2 or renameatx_np")
def sys_renameat2(olddirfd, oldpath, newdirfd, newpath, flags):
    return _rename(olddirfd, oldpath, newdirfd, newpath, flags & 0xFFFFFFFF)


@syscall("symlinkat", "path, dirfd, path")
def sys_symlinkat(target, newdirfd, linkpath):
    t = guest_path(target)          # the link's contents: stored as the guest wrote them
    path, dfd = at_path(newdirfd, guest_path(linkpath), False)
    os.symlink(t, path, dir_fd=dfd)
    return 0


@syscall("linkat", "dirfd, path, dirfd, path, hex")
def sys_linkat(olddirfd, oldpath, newdirfd, newpath, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["linkat"]:
        return _EINVAL
    src, sdfd = at_path(olddirfd, guest_path(oldpath), bool(flags & F.AT_SYMLINK_FOLLOW))
    dst, ddfd = at_path(newdirfd, guest_path(newpath), False)
    os.link(src, dst, src_dir_fd=sdfd, dst_dir_fd=ddfd,
            follow_symlinks=bool(flags & F.AT_SYMLINK_FOLLOW))
    return 0


# ----- permissions, ownership, times, sizes -------------------------------------------

@syscall("fchmod", "fd, mode")
def sys_fchmod(fd, mode):
    os.fchmod(_fd(fd), mode & F.S_IALLUGO)
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
    os.fchown(_fd(fd), _id(uid), _id(gid))
    return 0


@syscall("fchownat", "dirfd, path, int, int, hex")
def sys_fchownat(dirfd, pathname, uid, gid, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["fchownat"]:
        return _EINVAL
    p = guest_path(pathname)
    if not p and flags & F.AT_EMPTY_PATH:
        d = s32(dirfd)
        if d == F.AT_FDCWD:
            os.chown(b".", _id(uid), _id(gid))
        else:
            os.fchown(_fd(d), _id(uid), _id(gid))
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
        return _EINVAL
    ts = None
    if times:
        raw = proc.mem.read(times, 32)
        ts = [abi.TIMESPEC.unpack_from(raw, 0), abi.TIMESPEC.unpack_from(raw, 16)]
        for _sec, nsec in ts:
            if nsec not in (UTIME_NOW, UTIME_OMIT) and not 0 <= nsec < 1_000_000_000:
                return _EINVAL
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    d = s32(dirfd)
    if pathname == 0:
        # Linux extension: a NULL path means the file dirfd refers to (futimens).
        if d == F.AT_FDCWD:
            return _EFAULT
        if flags & F.AT_SYMLINK_NOFOLLOW:
            return _EINVAL
        target, dfd, follow = _fd(d), None, True
    else:
        p = guest_path(pathname)
        if not p and flags & F.AT_EMPTY_PATH and d != F.AT_FDCWD:
            target, dfd, follow = _fd(d), None, True
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
    os.truncate(os.fsencode(paths.host_path(p)) if p[:1] == b"/" else p, s64(length))
    return 0


@syscall("ftruncate", "fd, off")
def sys_ftruncate(fd, length):
    length = s64(length)
    if length < 0:
        return _EINVAL
    os.ftruncate(_fd(fd), length)
    return 0


@syscall("fsync", "fd")
def sys_fsync(fd):
    os.fsync(_fd(fd))
    return 0


@syscall("fdatasync", "fd")
def sys_fdatasync(fd):
    (getattr(os, "fdatasync", None) or os.fsync)(_fd(fd))
    return 0


@syscall("sync")
def sys_sync():
    os.sync()
    return 0


@syscall("syncfs", "fd")
def sys_syncfs(fd):
    os.fstat(_fd(fd))
    os.sync()                 # no portable per-filesystem sync: syncing all is a superset
    return 0


FALLOC_FL_KEEP_SIZE = 1


@syscall("fallocate", "fd, int, off, off", level=PARTIAL,
         note="mode 0 only (posix_fallocate); other modes EOPNOTSUPP")
def sys_fallocate(fd, mode, offset, length):
    fd = _fd(fd)
    offset, length = s64(offset), s64(length)
    if offset < 0 or length <= 0:
        return _EINVAL
    if s32(mode) != 0 or not hasattr(os, "posix_fallocate"):
        return -lerrno.EOPNOTSUPP
    os.posix_fallocate(fd, offset, length)
    return 0


FADV = {lin: getattr(os, name) for lin, name in
        ((0, "POSIX_FADV_NORMAL"), (1, "POSIX_FADV_RANDOM"), (2, "POSIX_FADV_SEQUENTIAL"),
         (3, "POSIX_FADV_WILLNEED"), (4, "POSIX_FADV_DONTNEED"), (5, "POSIX_FADV_NOREUSE"))
        if hasattr(os, name)}


@syscall("fadvise64", "fd, off, off, int")
def sys_fadvise64(fd, offset, length, advice):
    fd = _fd(fd)
    advice = s32(advice)
    if advice not in (0, 1, 2, 3, 4, 5) or s64(length) < 0:
        return _EINVAL
    os.fstat(fd)
    if advice in FADV:                 # advice only: hosts without it lose nothing
        if _stat.S_ISFIFO(os.fstat(fd).st_mode):
            return -lerrno.ESPIPE
        os.posix_fadvise(fd, s64(offset), s64(length), FADV[advice])
    return 0


@syscall("umask", "mode")
def sys_umask(mask):
    mask &= 0o777
    old = os.umask(mask)     # the host applies it to every file the guest creates
    proc.umask = mask
    return old


# ----- dup / fcntl / flock / pipes -----------------------------------------------------

@syscall("dup", "fd", ret="fd")
def sys_dup(fd):
    fd = _fd(fd)
    new = _new_fd(fcntl.fcntl(fd, fcntl.F_DUPFD, 0))
    proc.fds.on_dup(fd, new)
    return new


@syscall("dup3", "fd, fd, oflags", ret="fd")
def sys_dup3(old, new, flags):
    old = _fd(old)
    new &= 0xFFFFFFFF
    flags &= 0xFFFFFFFF
    if flags & ~F.O_CLOEXEC or old == new:
        return _EINVAL
    if new >= _fd_ceiling():
        return _EBADF
    os.dup2(old, new, inheritable=not flags & F.O_CLOEXEC)
    proc.fds.on_dup(old, new)
    return new


HOST_FLOCK, HOST_FLOCK_FIELDS = hostfs.HOST_FLOCK, hostfs.HOST_FLOCK_FIELDS


def _fcntl_lock(fd: int, cmd: int, arg: int) -> int:
    l_type, l_whence, l_start, l_len, l_pid = proc.mem.unpack(abi.FLOCK, arg)
    htype = F.LOCK_TYPES.get(l_type)
    hwhence = F.SEEK_WHENCE.get(l_whence) if l_whence in (0, 1, 2) else None
    if htype is None or hwhence is None:
        return _EINVAL
    vals = {"type": htype, "whence": hwhence, "start": l_start, "len": l_len, "pid": l_pid}
    res = fcntl.fcntl(fd, F.LOCK_CMDS[cmd],
                      HOST_FLOCK.pack(*(vals[k] for k in HOST_FLOCK_FIELDS)))
    if cmd in F.GETLK_CMDS:
        got = dict(zip(HOST_FLOCK_FIELDS, HOST_FLOCK.unpack(res)))
        whence_back = {v: k for k, v in F.SEEK_WHENCE.items()}
        proc.mem.pack(abi.FLOCK, arg, F.LOCK_TYPES_TO_LINUX.get(got["type"], F.F_UNLCK),
                      whence_back.get(got["whence"], 0), got["start"], got["len"], got["pid"])
    return 0


@syscall("fcntl", "fd, int, hex", level=PARTIAL,
         note="F_SETSIG/F_GETSIG, leases, F_NOTIFY and F_*OWN_EX are EINVAL", interruptible=True)
def sys_fcntl(fd, cmd, arg):
    fd = _fd(fd)
    cmd = s32(cmd)
    fds = proc.fds
    if cmd == F.F_GETFD:
        return F.FD_CLOEXEC if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else 0
    if cmd == F.F_SETFD:
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC if arg & F.FD_CLOEXEC else 0)
        return 0
    if cmd == F.F_GETFL:
        return F.open_flags_to_linux(fcntl.fcntl(fd, fcntl.F_GETFL))
    if cmd == F.F_SETFL:
        fcntl.fcntl(fd, fcntl.F_SETFL, F.setfl_to_host(fcntl.fcntl(fd, fcntl.F_GETFL), arg))
        return 0
    if cmd in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        if arg >= _fd_ceiling():
            fcntl.fcntl(fd, fcntl.F_GETFD)       # a closed fd is EBADF first, as Linux
            return _EINVAL
        hcmd = fcntl.F_DUPFD if cmd == F.F_DUPFD else fcntl.F_DUPFD_CLOEXEC
        new = _new_fd(fcntl.fcntl(fd, hcmd, arg))
        fds.on_dup(fd, new)
        return new
    if cmd in F.LOCK_CMDS:
        return _fcntl_lock(fd, cmd, arg)
    if cmd in F.INT_CMDS:
        return fcntl.fcntl(fd, F.INT_CMDS[cmd], s32(arg))
    if cmd in F.SEAL_CMDS:
        if cmd == F.F_GET_SEALS:
            return F.bits_to_linux(fcntl.fcntl(fd, F.SEAL_CMDS[cmd]), F.SEAL_BITS)
        try:
            seals = F.bits_to_host(arg & 0xFFFFFFFF, F.SEAL_BITS)
        except KeyError:
            return _EINVAL
        return fcntl.fcntl(fd, F.SEAL_CMDS[cmd], seals)
    return _EINVAL


LOCK_OPS = {1: fcntl.LOCK_SH, 2: fcntl.LOCK_EX, 8: fcntl.LOCK_UN}
LOCK_NB = 4


@syscall("flock", "fd, int", interruptible=True)
def sys_flock(fd, op):
    fd = _fd(fd)
    op = s32(op)
    hop = LOCK_OPS.get(op & ~LOCK_NB)
    if hop is None:
        return _EINVAL
    fcntl.flock(fd, hop | (fcntl.LOCK_NB if op & LOCK_NB else 0))
    return 0


PIPE_FLAGS = {F.O_CLOEXEC: os.O_CLOEXEC, F.O_NONBLOCK: os.O_NONBLOCK}
if hasattr(os, "O_DIRECT"):
    PIPE_FLAGS[F.O_DIRECT] = os.O_DIRECT


@syscall("pipe2", "ptr, oflags")
def sys_pipe2(fds_ptr, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.PIPE2_ALLOWED:
        return _EINVAL
    try:
        hflags = F.bits_to_host(flags, PIPE_FLAGS)
    except KeyError:
        return _EINVAL
    proc.mem.check(fds_ptr, 8, PROT_WRITE)
    if hasattr(os, "pipe2"):
        r, w = os.pipe2(hflags)
    else:
        r, w = os.pipe()
        for fd in (r, w):
            os.set_inheritable(fd, not flags & F.O_CLOEXEC)
            if flags & F.O_NONBLOCK:
                os.set_blocking(fd, False)
    if max(r, w) >= _fd_ceiling():
        os.close(r)
        os.close(w)
        return -lerrno.EMFILE
    proc.fds.on_close(r)
    proc.fds.on_close(w)
    proc.mem.pack(_INT2, fds_ptr, r, w)
    return 0


# ----- sendfile / copy_file_range ------------------------------------------------------

@syscall("sendfile", "fd, fd, ptr, size", interruptible=True)
def sys_sendfile(out_fd, in_fd, offp, count):
    out_fd, in_fd = _fd(out_fd), _fd(in_fd)
    count = min(count, MAX_RW_COUNT)
    off = None
    if offp:
        off = s64(proc.mem.u64(offp))
        if off < 0:
            return _EINVAL
    try:
        n = hostfs.sendfile(out_fd, in_fd, off, count)
    except BrokenPipeError:
        return _epipe()
    if offp:
        proc.mem.put_u64(offp, off + n)
    return n


@syscall("copy_file_range", "fd, ptr, fd, ptr, size, hex", level=PARTIAL,
         note="ENOSYS where the host has no copy_file_range (libc then falls back)")
def sys_copy_file_range(fd_in, off_in, fd_out, off_out, length, flags):
    fd_in, fd_out = _fd(fd_in), _fd(fd_out)
    if flags & 0xFFFFFFFF:
        return _EINVAL
    if not hasattr(os, "copy_file_range"):
        return -lerrno.ENOSYS
    oi = s64(proc.mem.u64(off_in)) if off_in else None
    oo = s64(proc.mem.u64(off_out)) if off_out else None
    if (oi is not None and oi < 0) or (oo is not None and oo < 0):
        return _EINVAL
    n = os.copy_file_range(fd_in, fd_out, min(length, MAX_RW_COUNT), oi, oo)
    if off_in:
        proc.mem.put_u64(off_in, oi + n)
    if off_out:
        proc.mem.put_u64(off_out, oo + n)
    return n
