"""Host memory calls whose availability or numbers differ between Linux and macOS.

mremap exists on Linux only (elsewhere moving a mapping copies it); msync's
flag values are each host's <sys/mman.h> (the mmap module exports no MS_*);
and only Linux lets the emulator read its own memory through /proc/self/mem,
which the CPU core's register probe needs.
"""
from __future__ import annotations

from elfuse_py.host import platform

_LINUX_MODEL = platform.IS_LINUX and platform.MODEL == "linux"
HAVE_MREMAP = _LINUX_MODEL        # the macOS model takes the Mac's copying path
# Passed to the real host's msync: the real host's numbers.
MS_ASYNC, MS_INVALIDATE = 1, 2
MS_SYNC = 4 if platform.IS_LINUX else 0x10
# The CPU core locates unicorn's register file by reading its own memory
# through this file, where a wrong address is an error rather than a crash.
# None on a Mac and under its model: the hook then reads registers with
# uc_reg_read_batch, as a Mac does.
SELF_MEM = "/proc/self/mem" if _LINUX_MODEL else None
