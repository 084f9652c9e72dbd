"""/proc/self/mem: the guest's address space as a file, at guest addresses.

The host's /proc/self/mem is the emulator's own memory (the Python process),
which the guest must never read or write.  A guest open of its mem file
(every spelling: /proc/self, /proc/PID, task/TID, thread-self) gets an
anonymous file carrying `MemState`: the file's offset is the guest address,
and read/write/pread/pwrite/readv/writev/preadv/pwritev copy between the
guest's buffer and guest memory, as Linux's mem_rw() does:

- the transfer stops at the first page that is not mapped; if that is the
  first byte, the call fails with EIO (a short count otherwise);
- like the kernel's FOLL_FORCE access, a write goes into a private mapping
  whatever its protection (how a debugger plants a breakpoint in text), but
  not into a read-only shared one;
- PROT_NONE pages end the transfer (EIO) here, where Linux's FOLL_FORCE could
  read them: the emulator may keep them inaccessible on the host, and a
  host fault would end the emulator.

Translated code of a written executable range is dropped, so the guest runs
what it wrote.
"""
from __future__ import annotations

import os

from elfuse_py.runtime import lerrno, uc
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.memory import WINDOW_SIZE
from elfuse_py.runtime.process import proc

_PROT_READ, _PROT_WRITE, _PROT_EXEC = 1, 2, 4


def _span(addr: int, want: int, write: bool) -> int:
    """How many bytes from guest `addr` (at most `want`) the transfer may touch."""
    mem = proc.mem
    got = 0
    while got < want:
        a = addr + got
        if a < 0 or a >= WINDOW_SIZE:
            break
        r = mem.region_at(a)
        if r is None or not r.prot or (write and r.shared and not r.prot & _PROT_WRITE):
            break
        got += min(r.end - a, want - got)
    return got


def transfer(views: list, addr: int, write: bool) -> int:
    """Copy between the caller's buffers and guest memory at `addr`: a count or -EIO."""
    mem = proc.mem
    window = mem.window
    want = sum(len(v) for v in views)
    n = _span(addr, want, write)
    if want and not n:
        return -lerrno.EIO
    done = 0
    for v in views:
        k = min(len(v), n - done)
        if k <= 0:
            break
        a = addr + done
        if write:
            window[a:a + k] = v[:k]
        else:
            v[:k] = window[a:a + k]
        done += k
    if write and done:
        _drop_code(addr, addr + done)
    return done


def _drop_code(start: int, end: int) -> None:
    for r in proc.mem.regions_in(start, end - start):
        if r.prot & _PROT_EXEC:
            uc.remove_tb_cache(proc.cpu.uc, max(start, r.start), min(end, r.end))


class MemState(FdState):
    """An open /proc/self/mem: the host file's offset is the guest address."""

    intercepts_io = True
    positional_io = True

    def __init__(self, readable: bool, writable: bool) -> None:
        self.readable = readable
        self.writable = writable

    def io_read(self, fd: int, views: list) -> int:
        return self._at_offset(fd, views, False)

    def io_write(self, fd: int, views: list) -> int:
        return self._at_offset(fd, views, True)

    def pio(self, fd: int, views: list, off: int, write: bool) -> int:
        if not (self.writable if write else self.readable):
            return -lerrno.EBADF
        return transfer(views, off, write)

    def _at_offset(self, fd: int, views: list, write: bool) -> int:
        off = os.lseek(fd, 0, os.SEEK_CUR)
        n = self.pio(fd, views, off, write)
        if n > 0:
            os.lseek(fd, off + n, os.SEEK_SET)
        return n
