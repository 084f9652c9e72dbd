"""Another host process's memory: process_vm_readv/process_vm_writev where the host model is Linux.

One interface, two implementations chosen once:

- Linux (and not the macOS host model): the host kernel's
  process_vm_readv/process_vm_writev through libc, with the host kernel's own
  permission check (ptrace access: Yama, same user...), and `window_at(pid,
  base, size)` reading /proc/PID/maps to confirm that the target has a guest
  window reserved at the same host address as ours (a forked emulator does).
- macOS (and the model): nothing.  macOS has no such call (mach_vm_read needs
  task_for_pid, which an unsigned process does not get), so the syscall
  layer answers another process with EPERM, as Linux does without ptrace rights.
"""
from __future__ import annotations

import ctypes
import os

from elfuse_py.host import platform

AVAILABLE = platform.IS_LINUX and platform.MODEL == "linux"
_LIBC = ctypes.CDLL(None, use_errno=True) if AVAILABLE else None


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def window_at(pid: int, base: int, size: int) -> bool:
    """True if process `pid` has a mapping starting at `base` and one ending at `base + size`."""
    if not AVAILABLE:
        return False
    start = end = False
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                lo, hi = (int(x, 16) for x in line.split(None, 1)[0].split("-"))
                start = start or lo == base
                end = end or hi == base + size
    except (OSError, ValueError):
        return False
    return start and end


def transfer(pid: int, local: list[tuple[int, int]], remote: list[tuple[int, int]],
             write: bool) -> int:
    """The host call on host addresses; bytes moved, or OSError (EFAULT, EPERM, ESRCH...)."""
    if not AVAILABLE:
        raise OSError(1, "not available on this host")
    lv = (_Iovec * max(len(local), 1))(*[_Iovec(a, n) for a, n in local])
    rv = (_Iovec * max(len(remote), 1))(*[_Iovec(a, n) for a, n in remote])
    fn = _LIBC.process_vm_writev if write else _LIBC.process_vm_readv
    fn.restype = ctypes.c_ssize_t
    r = fn(pid, lv, ctypes.c_ulong(len(local)), rv, ctypes.c_ulong(len(remote)), ctypes.c_ulong(0))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
