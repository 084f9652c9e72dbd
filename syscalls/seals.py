"""The seals of a memfd on a host without file seals (macOS), kept and enforced here.

Kept out of memfd.py (memfd_create, the area that makes them) so that
every program's write path can ask `refuse_write` without loading
memfd_create's area and the host's memory-file seam.
"""
from __future__ import annotations

import fcntl
import os

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

# File seals (Linux <uapi/linux/fcntl.h>).
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE, F_SEAL_FUTURE_WRITE = 1, 2, 4, 8, 16
_ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE


class SealState(FdState):
    """The seals of a memfd on a host without file seals (macOS): kept and enforced here.

    The write paths (write, pwrite, ftruncate, fallocate, a writable shared
    mmap) ask `refuse(fd, start, end)` first.  Dup'd fds share the object, as
    they share the file on Linux; a forked child gets a copy, so seals one
    process adds later are not seen by the other (Linux keeps them on the
    inode), and an fd passed with SCM_RIGHTS arrives without them.
    """

    intercepts_io = True

    def __init__(self, seals: int) -> None:
        self.seals = seals

    def io_read(self, fd: int, views: list) -> int:
        return os.readv(fd, views)

    def io_write(self, fd: int, views: list) -> int:
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        err = self.refuse(fd, pos, pos + sum(len(v) for v in views))
        return err if err else os.writev(fd, views)

    def refuse(self, fd: int, start: int, end: int) -> int:
        """-EPERM if writing bytes [start, end) breaks a seal, else 0 (a shrink passes end < size)."""
        if self.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) and end > start:
            return -lerrno.EPERM
        size = os.fstat(fd).st_size
        if self.seals & F_SEAL_GROW and end > size:
            return -lerrno.EPERM
        if self.seals & F_SEAL_SHRINK and end < size and start == end:
            return -lerrno.EPERM
        return 0

    def add(self, fd: int, seals: int) -> int:
        """F_ADD_SEALS."""
        if seals & ~_ALL_SEALS:
            return -lerrno.EINVAL
        if self.seals & F_SEAL_SEAL:
            return -lerrno.EPERM
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            return -lerrno.EPERM          # Linux: sealing needs an fd open for writing
        self.seals |= seals
        return 0


def seals_of(fd: int):
    """The SealState of `fd`, or None (a host with real seals never has one)."""
    st = proc.fds.get(fd)
    return st if isinstance(st, SealState) else None


def refuse_write(fd: int, start: int, end: int) -> int:
    """-EPERM where a seal forbids writing [start, end) of `fd` (truncation: start == end), else 0."""
    st = seals_of(fd)
    return st.refuse(fd, start, end) if st is not None else 0
