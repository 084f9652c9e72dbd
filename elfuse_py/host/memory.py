"""Host memory calls whose availability or numbers differ between Linux and macOS.

mremap exists on Linux only (elsewhere moving a mapping copies it); msync's
flag values are each host's <sys/mman.h> (the mmap module exports no MS_*);
and only Linux lets the emulator read its own memory through /proc/self/mem,
which the CPU core's register probe needs.  `resident` counts the bytes of a
host range that are in memory (mincore, on both hosts).
"""
from __future__ import annotations

import mmap

from elfuse_py.host import platform

_LINUX_MODEL = platform.IS_LINUX and platform.MODEL == "linux"
HAVE_MREMAP = _LINUX_MODEL        # the macOS model takes the Mac's copying path
# Passed to the real host's msync: the real host's numbers.
MS_ASYNC, MS_INVALIDATE = 1, 2
MS_SYNC = 4 if platform.IS_LINUX else 0x10
# MAP_NORESERVE (the mmap module does not export it): <sys/mman.h>'s value on the
# real host.  Without it Linux charges every writable private mapping to the
# commit limit, so a large reservation could fail; macOS never charges.
MAP_NORESERVE = 0x4000 if platform.IS_LINUX else 0x40
# The CPU core locates unicorn's register file by reading its own memory
# through this file, where a wrong address is an error rather than a crash.
# None on a Mac and under its model: the hook then reads registers with
# uc_reg_read_batch, as a Mac does.
SELF_MEM = "/proc/self/mem" if _LINUX_MODEL else None


_HOST_PAGE = mmap.PAGESIZE
_mincore = False        # the libc's mincore through ctypes, looked up on first use (ctypes costs start-up)


def resident(addr: int, length: int) -> int | None:
    """Bytes of host memory [addr, addr+length) that are resident (whole host pages); None if unknown."""
    global _mincore
    import ctypes
    if _mincore is False:
        _mincore = getattr(ctypes.CDLL(None, use_errno=True), "mincore", None)
    if _mincore is None or length <= 0:
        return None if _mincore is None else 0
    start = addr & ~(_HOST_PAGE - 1)
    pages = (addr + length - start + _HOST_PAGE - 1) // _HOST_PAGE
    vec = ctypes.create_string_buffer(pages)
    if _mincore(ctypes.c_void_p(start), ctypes.c_size_t(pages * _HOST_PAGE), vec) != 0:
        return None
    return sum(1 for b in vec.raw if b & 1) * _HOST_PAGE
