"""Host memory calls whose availability or numbers differ between Linux and macOS.

mremap exists on Linux only (elsewhere moving a mapping copies it); msync's
flag values are each host's <sys/mman.h> (the mmap module exports no MS_*);
and only Linux lets the emulator read its own memory through /proc/self/mem,
which the CPU core's register probe needs.  `resident` counts the bytes of a
host range that are in memory (mincore, on both hosts).  `small_pages` runs
a call with Linux's transparent huge pages off for what it first touches.
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


# <linux/prctl.h>: whether the process's new anonymous pages may be transparent huge pages.
_PR_SET_THP_DISABLE, _PR_GET_THP_DISABLE = 41, 42


def small_pages(fn):
    """fn(), with transparent huge pages off for the memory it first touches (Linux hosts;
    elsewhere, or where the setting cannot be changed, just fn()).

    A region that asks for huge pages (madvise) gets a whole 2 MiB page, zeroed,
    at its first write, and the kernel may compact memory first to find one.
    Touched with the setting off, its first 2 MiB get ordinary pages for good;
    what lies beyond gets huge pages as before.  The setting is the process's
    (inherited by fork and kept across execve), so it is put back as it was.
    """
    if not platform.IS_LINUX:
        return fn()
    from elfuse_py.host.cdefs import load_ffi     # (loaded by the CPU core already)
    ffi = load_ffi("unicorn")
    libc = ffi.dlopen(None)
    off = ffi.cast("unsigned long", 0)
    if libc.prctl(_PR_GET_THP_DISABLE, off, off, off, off) != 0:     # already off, or refused
        return fn()
    if libc.prctl(_PR_SET_THP_DISABLE, ffi.cast("unsigned long", 1), off, off, off) != 0:
        return fn()
    try:
        return fn()
    finally:
        libc.prctl(_PR_SET_THP_DISABLE, off, off, off, off)


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
