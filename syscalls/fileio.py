"""Data through fds: read, write and their vector and positioned forms
(readv, writev, pread64, pwrite64, preadv, pwritev, preadv2, pwritev2), lseek,
sendfile and copy_file_range.

Guest buffers are used in place, as views of guest memory.  Like Linux, a
count is clamped to MAX_RW_COUNT and a buffer whose tail is unmapped
transfers what fits.  An fd whose emulator state intercepts I/O
(FdState.intercepts_io) is read and written through that state.  A write to
a broken pipe returns EPIPE and raises SIGPIPE as Linux does.  lseek on a
directory moves its getdents64 position (syscalls.dirs.DirState).
"""
from __future__ import annotations

import errno as _errno
import os
import struct

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.memory import PROT_READ, PROT_WRITE, GuestFault
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s64
from elfuse_py.runtime.fdtable import DirState   # (its home: syscalls.dirs is not needed to write)
from elfuse_py.syscalls.seals import refuse_write, seals_of
from elfuse_py.syscalls.fdargs import NEG_EBADF, NEG_EFAULT, NEG_EINVAL, check_fd, oserr
from elfuse_py.syscalls.table import PARTIAL, syscall
from elfuse_py.syscalls import hostgaps

MAX_RW_COUNT = 0x7FFFF000          # Linux clamps every read/write to this
TASK_SIZE = 1 << 48                # access_ok() bound for 48-bit user addresses
IOV_MAX = 1024
SIGPIPE = 13                       # Linux signal number
_IOVEC = struct.Struct("<Qq")


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
        raise oserr(_errno.EINVAL)
    mem = proc.mem
    out = []
    total = 0
    for base, length in _IOVEC.iter_unpack(mem.read(iov, 16 * iovcnt)):
        if length < 0:
            raise oserr(_errno.EINVAL)
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
        from elfuse_py.syscalls.net.messages import epipe_signals   # (rare: not at start-up)
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
        return NEG_EBADF
    if count > MAX_RW_COUNT:
        if buf + count > TASK_SIZE:
            return NEG_EFAULT
        count = MAX_RW_COUNT
    try:
        view = proc.mem.view(buf, count, write=True)
    except GuestFault:
        count = _prefix(buf, count, PROT_WRITE)
        if not count:
            os.read(fd, 0)          # surface EBADF/EISDIR before EFAULT, as Linux orders them
            return NEG_EFAULT
        view = proc.mem.view(buf, count, write=True)
    st = fds.state.get(fd)
    if st is not None and st.intercepts_io:
        return st.io_read(fd, [view])
    if not count:
        # read(2) itself: a readv of nothing returns 0 without asking the file,
        # and some answer a zero-length read with an error (inotify, eventfd: EINVAL).
        return len(os.read(fd, 0))
    return os.readv(fd, [view])


@syscall("write", "fd, buf_in, size", interruptible=True)
def sys_write(fd, buf, count):
    fd &= 0xFFFFFFFF
    fds = proc.fds
    if fd >= fds.limit:
        return NEG_EBADF
    if count > MAX_RW_COUNT:
        if buf + count > TASK_SIZE:
            return NEG_EFAULT
        count = MAX_RW_COUNT
    try:
        view = proc.mem.view(buf, count)
    except GuestFault:
        count = _prefix(buf, count, PROT_READ)
        if not count:
            os.write(fd, b"")
            return NEG_EFAULT
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
    fd = check_fd(fd)
    views = guest_iovecs(iov, iovcnt, True)
    st = proc.fds.state.get(fd)
    if st is not None and st.intercepts_io:
        return st.io_read(fd, views)
    return os.readv(fd, views)


@syscall("writev", "fd, ptr, int", interruptible=True)
def sys_writev(fd, iov, iovcnt):
    fd = check_fd(fd)
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
        raise oserr(_errno.EINVAL)
    return off


def _positional(fd: int):
    """The fd's state when it answers positional I/O itself (/proc/self/mem), else None."""
    st = proc.fds.state.get(fd)
    return st if st is not None and getattr(st, "positional_io", False) else None


def _preadv(fd: int, views: list, off: int) -> int:
    if (st := _positional(fd)) is not None:
        return st.pio(fd, views, off, False)
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
    if (st := _positional(fd)) is not None:
        return st.pio(fd, views, off, True)
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
    fd = check_fd(fd)
    off = _offset(off)
    view = _io_view(buf, count, True)
    if view is None:
        os.pread(fd, 0, off)
        return NEG_EFAULT
    return _preadv(fd, [view], off)


@syscall("pwrite64", "fd, buf_in, size, off", interruptible=True)
def sys_pwrite64(fd, buf, count, off):
    fd = check_fd(fd)
    off = _offset(off)
    view = _io_view(buf, count, False)
    try:
        if view is None:
            os.pwrite(fd, b"", off)
            return NEG_EFAULT
        if (err := refuse_write(fd, off, off + len(view))):
            return err
        return _pwritev(fd, [view], off)
    except BrokenPipeError:
        return _epipe()


@syscall("preadv", "fd, ptr, int, off, hex", interruptible=True)
def sys_preadv(fd, iov, iovcnt, pos_l, pos_h):
    # 64-bit: the whole offset is in pos_l.
    fd = check_fd(fd)
    off = _offset(pos_l)
    return _preadv(fd, guest_iovecs(iov, iovcnt, True), off)


@syscall("pwritev", "fd, ptr, int, off, hex")
def sys_pwritev(fd, iov, iovcnt, pos_l, pos_h):
    fd = check_fd(fd)
    off = _offset(pos_l)
    try:
        views = guest_iovecs(iov, iovcnt, False)
        if (err := refuse_write(fd, off, off + sum(len(v) for v in views))):
            return err
        return _pwritev(fd, views, off)
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
        raise oserr(_errno.EOPNOTSUPP) from None


@syscall("preadv2", "fd, ptr, int, off, hex, hex", level=PARTIAL,
         note="RWF_* flags only where the host's Python exposes them")
def sys_preadv2(fd, iov, iovcnt, pos_l, pos_h, flags):
    fd = check_fd(fd)
    hflags = _rwf(flags) if iovcnt else 0     # an empty vector returns before the flags are read
    views = guest_iovecs(iov, iovcnt, True)
    if s64(pos_l) == -1:
        if hflags:
            raise oserr(_errno.EOPNOTSUPP)
        st = proc.fds.state.get(fd)
        return st.io_read(fd, views) if st is not None and st.intercepts_io else os.readv(fd, views)
    off = _offset(pos_l)
    return os.preadv(fd, views, off, hflags) if hflags else _preadv(fd, views, off)


@syscall("pwritev2", "fd, ptr, int, off, hex, hex", level=PARTIAL,
         note="RWF_* flags only where the host's Python exposes them")
def sys_pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags):
    fd = check_fd(fd)
    hflags = _rwf(flags) if iovcnt else 0     # an empty vector returns before the flags are read
    views = guest_iovecs(iov, iovcnt, False)
    if seals_of(fd) is not None:
        start = os.lseek(fd, 0, os.SEEK_CUR) if s64(pos_l) == -1 else max(s64(pos_l), 0)
        if (err := refuse_write(fd, start, start + sum(len(v) for v in views))):
            return err
    try:
        if s64(pos_l) == -1:
            if hflags:
                raise oserr(_errno.EOPNOTSUPP)
            st = proc.fds.state.get(fd)
            return st.io_write(fd, views) if st is not None and st.intercepts_io else os.writev(fd, views)
        off = _offset(pos_l)
        return os.pwritev(fd, views, off, hflags) if hflags else _pwritev(fd, views, off)
    except BrokenPipeError:
        return _epipe()


# ----- lseek -------------------------------------------------------------------------

@syscall("lseek", "fd, off, int")
def sys_lseek(fd, offset, whence):
    fd = check_fd(fd)
    offset = s64(offset)
    host_whence = F.SEEK_WHENCE.get(whence & 0xFFFFFFFF)
    if host_whence is None:
        return NEG_EINVAL
    st = proc.fds.state.get(fd)
    if isinstance(st, DirState):
        if host_whence == os.SEEK_SET:
            new = offset
        elif host_whence == os.SEEK_CUR:
            new = st.pos + offset
        else:
            return NEG_EINVAL
        if new < 0:
            return NEG_EINVAL
        if new == 0:
            st.entries = None
        st.pos = new
        return new
    return os.lseek(fd, offset, host_whence)


# ----- sendfile / copy_file_range ------------------------------------------------------

@syscall("sendfile", "fd, fd, ptr, size", interruptible=True)
def sys_sendfile(out_fd, in_fd, offp, count):
    out_fd, in_fd = check_fd(out_fd), check_fd(in_fd)
    count = min(count, MAX_RW_COUNT)
    off = None
    if offp:
        off = s64(proc.mem.u64(offp))
        if off < 0:
            return NEG_EINVAL
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
    fd_in, fd_out = check_fd(fd_in), check_fd(fd_out)
    if flags & 0xFFFFFFFF:
        return NEG_EINVAL
    if not hasattr(os, "copy_file_range"):
        return hostgaps.missing("copy_file_range")
    oi = s64(proc.mem.u64(off_in)) if off_in else None
    oo = s64(proc.mem.u64(off_out)) if off_out else None
    if (oi is not None and oi < 0) or (oo is not None and oo < 0):
        return NEG_EINVAL
    n = os.copy_file_range(fd_in, fd_out, min(length, MAX_RW_COUNT), oi, oo)
    if off_in:
        proc.mem.put_u64(off_in, oi + n)
    if off_out:
        proc.mem.put_u64(off_out, oo + n)
    return n
