"""What the host can do with pipes beyond read and write: tee(2), and finding a pipe's other end.

One interface, two implementations chosen once:

- `tee(fd_in, fd_out, n, nonblock)`: the host kernel's tee(2) where the host
  model is Linux (libc through ctypes); None elsewhere (macOS has no tee, and
  the macOS host model's seccomp filter refuses it), and the syscall layer
  emulates it.
- `write_end(read_fd, candidates)`: among open fds, one that is the write end
  of the same pipe as `read_fd` (the emulation refills the pipe through it).
  Linux: both ends share one inode (fstat's st_dev/st_ino) and the write end
  is O_WRONLY.  macOS: each end has its own inode; libproc's
  proc_pidfdinfo(PROC_PIDFDPIPEINFO) tells each end's handle and its peer's.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat
import struct

from elfuse_py.host import platform

_LIBC = ctypes.CDLL(None, use_errno=True)


class _Linux:
    @staticmethod
    def write_end(read_fd: int, candidates) -> int | None:
        st = os.fstat(read_fd)
        for fd in candidates:
            if fd == read_fd:
                continue
            try:
                o = os.fstat(fd)
                if (o.st_dev, o.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISFIFO(o.st_mode):
                    continue
                if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                    return fd
            except OSError:
                continue
        return None


class _Darwin:
    PROC_PIDFDPIPEINFO = 6
    # struct pipe_fdinfo: proc_fileinfo (24 bytes) + pipe_info {vinfo_stat (136), pipe_handle, pipe_peerhandle, status}
    _SIZE = 24 + 136 + 8 + 8 + 4 + 4
    _HANDLES = struct.Struct("=QQ")

    @classmethod
    def _handles(cls, fd: int) -> tuple[int, int] | None:
        fn = getattr(_LIBC, "proc_pidfdinfo", None)
        if fn is None:
            try:
                fn = ctypes.CDLL("/usr/lib/libproc.dylib").proc_pidfdinfo
            except OSError:
                return None
        buf = ctypes.create_string_buffer(cls._SIZE)
        n = fn(os.getpid(), fd, cls.PROC_PIDFDPIPEINFO, buf, cls._SIZE)
        if n < cls._SIZE - 8:
            return None
        return cls._HANDLES.unpack_from(buf.raw, 24 + 136)

    @classmethod
    def write_end(cls, read_fd: int, candidates) -> int | None:
        mine = cls._handles(read_fd)
        if mine is None:
            return None
        for fd in candidates:
            if fd == read_fd:
                continue
            h = cls._handles(fd)
            if h is not None and h[0] == mine[1]:
                return fd
        return None


_IMPL = _Darwin if platform.IS_DARWIN else _Linux
_TEE = getattr(_LIBC, "tee", None) if platform.IS_LINUX and platform.MODEL == "linux" else None
_SPLICE_F_NONBLOCK = 2


def tee(fd_in: int, fd_out: int, n: int, nonblock: bool) -> int | None:
    """The host's tee(2): bytes duplicated; OSError on failure; None: the host has none."""
    if _TEE is None:
        return None
    _TEE.restype = ctypes.c_ssize_t
    r = _TEE(fd_in, fd_out, ctypes.c_size_t(n), ctypes.c_uint(_SPLICE_F_NONBLOCK if nonblock else 0))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def write_end(read_fd: int, candidates) -> int | None:
    """An fd among `candidates` that writes into the pipe `read_fd` reads from, or None."""
    try:
        return _IMPL.write_end(read_fd, candidates)
    except OSError as e:
        if e.errno == errno.EBADF:
            return None
        raise
