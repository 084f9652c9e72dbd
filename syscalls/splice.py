"""splice, tee and vmsplice (fs/splice.c), as copies through the emulator on every host.

The host's splice family is Linux-only (macOS has none; the macOS host model
refuses it), so the data is moved with read/write/pread/pwrite on both
hosts, with Linux's checks in Linux's order:

- splice: len 0 is 0 before anything else; unknown flag bits EINVAL; bad fds
  EBADF (also an fd not open for reading/writing); an offset given for a pipe
  ESPIPE; neither side a pipe, or both the same pipe, EINVAL; an O_APPEND
  output EINVAL; an offset on a file that cannot pread/pwrite EINVAL; a
  negative offset EINVAL.  SPLICE_F_NONBLOCK (or a non-blocking pipe) makes
  an empty input pipe / a full output pipe EAGAIN; otherwise the call waits
  (with several guest threads the thread is parked and the call restarted,
  syscalls/parking.py).  SPLICE_F_MOVE/MORE/GIFT are hints and change nothing
  (Linux ignores them too, except MORE on sockets).  At most 64 KiB move per
  call (a pipe's default capacity); from a file the offset advances only by
  what the pipe took, so nothing is lost; from a socket or other stream a
  chunk of at most PIPE_BUF is read, which a pipe write takes whole.
- tee: both fds pipes (EINVAL otherwise, or if the same pipe).  Where the host
  model is Linux the host's tee(2) does it (elfuse_py.host.pipes).  Elsewhere
  it is emulated by draining what the input pipe holds (without blocking),
  writing up to `len` of it to the output pipe and writing all of it back
  into the input pipe through a write end of that same pipe the process holds
  (found by elfuse_py.host.pipes.write_end).  Limits of the emulation: it
  needs such a write end in this process (else EINVAL: not emulated); a
  writer in *another* process that writes during the few microseconds between
  the drain and the refill gets its bytes placed before the refilled ones, and
  a reader in another process in that window finds the pipe empty.  Within
  one process nothing can interleave (guest threads run one at a time).
- vmsplice: a pipe's write end takes the guest's iovecs (as writev), its read
  end fills them (as readv); not a pipe EBADF, more than 1024 iovecs EINVAL.
"""
from __future__ import annotations

import fcntl
import os
import select
import stat
import struct

from elfuse_py.host import fs as hostfs
from elfuse_py.host import pipes as hostpipes
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.fileio import guest_iovecs
from elfuse_py.syscalls.parking import park, would_block
from elfuse_py.syscalls.table import PARTIAL, syscall

SPLICE_F_MOVE, SPLICE_F_NONBLOCK, SPLICE_F_MORE, SPLICE_F_GIFT = 1, 2, 4, 8
SPLICE_F_ALL = 0xF
CHUNK = 65536                 # a pipe's default capacity (16 pages)
PIPE_BUF = 4096               # what a pipe write takes whole or not at all
UIO_MAXIOV = 1024
_OFF = struct.Struct("<q")
_IN, _OUT = select.POLLIN, select.POLLOUT


def _is_pipe(fd: int) -> bool:
    return stat.S_ISFIFO(os.fstat(fd).st_mode)


def _mode(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_GETFL)


def _readable(fl: int) -> bool:
    return fl & os.O_ACCMODE in (os.O_RDONLY, os.O_RDWR)


def _writable(fl: int) -> bool:
    return fl & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)


def _ready(fd: int, ev: int) -> bool:
    p = select.poll()
    p.register(fd, ev)
    return bool(p.poll(0))


def _wait(fd: int, ev: int, nonblock: bool, orig_x0: int) -> int | None:
    """0 when `fd` is ready for `ev` (or the call may block in the host), -EAGAIN when it
    must not wait, None when the thread was parked (the call restarts later)."""
    if _ready(fd, ev):
        return 0
    if nonblock:
        return -lerrno.EAGAIN
    if threads.multi() and would_block(fd, ev):
        return park(fd, ev, orig_x0)
    return 0


def _file_offset(fd: int, addr: int) -> tuple[int | None, int]:
    """(offset, 0) for the file side's loff_t pointer (None: no pointer, the file's
    own position), or (None, -EINVAL) for a file that cannot seek or a negative offset."""
    if not addr:
        return None, 0
    if not _can_seek(fd):
        return None, -lerrno.EINVAL
    off = proc.mem.unpack(_OFF, addr)[0]
    if off < 0:
        return None, -lerrno.EINVAL
    return off, 0


def _can_seek(fd: int) -> bool:
    try:
        os.lseek(fd, 0, os.SEEK_CUR)
        return True
    except OSError:
        return False


@syscall("splice", "fd, ptr, fd, ptr, size, hex", level=PARTIAL,
         note="read/write copies of at most 64 KiB per call on every host", interruptible=True)
def sys_splice(fd_in, off_in, fd_out, off_out, n, flags):
    if not n:
        return 0
    if flags & ~SPLICE_F_ALL & 0xFFFFFFFF:
        return -lerrno.EINVAL
    for fd in (fd_in, fd_out):
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
    fl_in, fl_out = _mode(fd_in), _mode(fd_out)          # EBADF for closed fds
    ipipe, opipe = _is_pipe(fd_in), _is_pipe(fd_out)
    if (ipipe and off_in) or (opipe and off_out):
        return -lerrno.ESPIPE
    if not _readable(fl_in) or not _writable(fl_out):
        return -lerrno.EBADF
    nonblock = bool(flags & SPLICE_F_NONBLOCK)
    n = min(n, CHUNK)
    if ipipe and opipe:
        if os.fstat(fd_in).st_ino == os.fstat(fd_out).st_ino and \
                os.fstat(fd_in).st_dev == os.fstat(fd_out).st_dev:
            return -lerrno.EINVAL
        nonblock = nonblock or bool((fl_in | fl_out) & os.O_NONBLOCK)
        return _pipe_to_pipe(fd_in, fd_out, n, nonblock)
    if ipipe:
        if fl_out & os.O_APPEND:
            return -lerrno.EINVAL
        off, err = _file_offset(fd_out, off_out)
        if err:
            return err
        nonblock = nonblock or bool(fl_in & os.O_NONBLOCK)
        r = _wait(fd_in, _IN, nonblock, fd_in)
        if r != 0:
            return r
        data = os.read(fd_in, n)
        if not data:
            return 0
        w = _write_all(fd_out, data, off)
        if off_out:
            proc.mem.pack(_OFF, off_out, off + w)
        return w
    if opipe:
        off, err = _file_offset(fd_in, off_in)
        if err:
            return err
        nonblock = nonblock or bool(fl_out & os.O_NONBLOCK)
        r = _wait(fd_out, _OUT, nonblock, fd_in)
        if r != 0:
            return r
        return _file_to_pipe(fd_in, off, off_in, fd_out, n)
    return -lerrno.EINVAL


def _write_all(fd: int, data: bytes, off: int | None) -> int:
    done = 0
    while done < len(data):
        if off is None:
            w = os.write(fd, data[done:])
        else:
            w = os.pwrite(fd, data[done:], off + done)
        if w <= 0:
            break
        done += w
    return done


def _file_to_pipe(fd_in: int, off: int | None, off_in: int, fd_out: int, n: int) -> int:
    seekable = off is not None or _can_seek(fd_in)
    if not seekable:
        # A stream: what is read is gone, so read no more than the pipe takes whole.
        data = os.read(fd_in, min(n, PIPE_BUF))
        return _write_all(fd_out, data, None) if data else 0
    pos = off if off is not None else os.lseek(fd_in, 0, os.SEEK_CUR)
    data = os.pread(fd_in, n, pos)
    if not data:
        return 0
    try:
        w = os.write(fd_out, data)
    except BlockingIOError:
        return -lerrno.EAGAIN
    if off is not None:
        proc.mem.pack(_OFF, off_in, pos + w)
    else:
        os.lseek(fd_in, pos + w, os.SEEK_SET)
    return w


def _pipe_to_pipe(fd_in: int, fd_out: int, n: int, nonblock: bool) -> int | None:
    r = _wait(fd_in, _IN, nonblock, fd_in)
    if r != 0:
        return r
    r = _wait(fd_out, _OUT, nonblock, fd_in)
    if r != 0:
        return r
    # Without blocking, read no more than one atomic pipe write so nothing read is lost.
    data = os.read(fd_in, min(n, PIPE_BUF) if nonblock else n)
    if not data:
        return 0
    return _write_all(fd_out, data, None)


@syscall("tee", "fd, fd, size, hex", level=PARTIAL,
         note="the host's tee on Linux; elsewhere emulated by drain and refill through the "
              "pipe's write end in this process (EINVAL without one)", interruptible=True)
def sys_tee(fd_in, fd_out, n, flags):
    if flags & ~SPLICE_F_ALL & 0xFFFFFFFF:
        return -lerrno.EINVAL
    if not n:
        return 0
    for fd in (fd_in, fd_out):
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
    fl_in, fl_out = _mode(fd_in), _mode(fd_out)
    if not _is_pipe(fd_in) or not _is_pipe(fd_out) or not _readable(fl_in) or not _writable(fl_out):
        return -lerrno.EINVAL
    a, b = os.fstat(fd_in), os.fstat(fd_out)
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        return -lerrno.EINVAL
    nonblock = bool(flags & SPLICE_F_NONBLOCK) or bool((fl_in | fl_out) & os.O_NONBLOCK)
    r = _wait(fd_in, _IN, nonblock, fd_in)
    if r != 0:
        return r
    r = _wait(fd_out, _OUT, nonblock, fd_in)
    if r != 0:
        return r
    done = hostpipes.tee(fd_in, fd_out, min(n, CHUNK), nonblock)
    if done is not None:
        return done
    return _tee_emulated(fd_in, fd_out, min(n, CHUNK))


def _tee_emulated(fd_in: int, fd_out: int, n: int) -> int:
    refill = hostpipes.write_end(fd_in, hostfs.open_fds(proc.fds.limit))
    if refill is None:
        return -lerrno.EINVAL
    held = _drain(fd_in)
    if not held:
        return 0                          # writers gone and nothing held: EOF
    try:
        try:
            w = os.write(fd_out, held[:n])
        except BlockingIOError:
            return -lerrno.EAGAIN
    finally:
        _refill(refill, held)
    return w


def _drain(fd: int) -> bytes:
    was = os.get_blocking(fd)
    os.set_blocking(fd, False)
    parts = []
    try:
        while True:
            try:
                b = os.read(fd, CHUNK)
            except BlockingIOError:
                break
            if not b:
                break
            parts.append(b)
    finally:
        os.set_blocking(fd, was)
    return b"".join(parts)


def _refill(fd: int, data: bytes) -> None:
    """Put drained bytes back (blocking: the pipe had room for them a moment ago)."""
    was = os.get_blocking(fd)
    os.set_blocking(fd, True)
    try:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except InterruptedError:
                continue
    finally:
        os.set_blocking(fd, was)


@syscall("vmsplice", "fd, ptr, size, hex", level=PARTIAL,
         note="copies (writev/readv) between the guest's iovecs and the pipe", interruptible=True)
def sys_vmsplice(fd, iov, nr_segs, flags):
    if flags & ~SPLICE_F_ALL & 0xFFFFFFFF:
        return -lerrno.EINVAL
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    try:
        fl = _mode(fd)
    except OSError:
        return -lerrno.EBADF
    write = _writable(fl)
    if not write and not _readable(fl):
        return -lerrno.EBADF
    if nr_segs > UIO_MAXIOV:
        return -lerrno.EINVAL
    views = guest_iovecs(iov, nr_segs, not write) if nr_segs else []
    if not sum(len(v) for v in views):
        return 0
    if not _is_pipe(fd):
        return -lerrno.EBADF
    nonblock = bool(flags & SPLICE_F_NONBLOCK) or bool(fl & os.O_NONBLOCK)
    r = _wait(fd, _OUT if write else _IN, nonblock, fd)
    if r != 0:
        return r
    try:
        return os.writev(fd, views) if write else os.readv(fd, views)
    except BlockingIOError:
        return -lerrno.EAGAIN

