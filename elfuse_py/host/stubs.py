"""A tiny native function for unicorn's block hook: stop the engine when a flag is set.

The runtime's guest-thread time slices (runtime/preempt.py) need, at the
start of every translated block, "if (*flag) uc_emu_stop(uc)".  A Python
callback there would cost far more than the guest code, and the project
builds no C, so this module writes that function as a few machine
instructions for the host CPU into one executable page:

    hook(uc, address, size, user_data)   user_data -> {uint64 flag; void *uc_emu_stop}
        if user_data->flag == 0: return
        tail-call user_data->uc_emu_stop(uc)      (uc is still the first argument)

x86-64 (System V: user_data in rcx)      arm64 (AAPCS64: user_data in x3)
    mov  rax, [rcx]                          ldr  x9, [x3]
    test rax, rax                            cbnz x9, 1f
    jnz  1f                                  ret
    ret                                   1: ldr  x16, [x3, #8]
 1: jmp  qword [rcx + 8]                     br   x16

The page is written while writable and then made read+execute (never both).
On macOS arm64 that needs a MAP_JIT mapping and pthread_jit_write_protect_np
around the write, plus an instruction-cache invalidation; only a Mac runs
that path.  Where any step fails, `block_stop_hook()` returns None and the
caller keeps its slower fallback.
"""
from __future__ import annotations

import mmap
import os

from elfuse_py.host import platform

_CODE = {
    "x86_64": bytes.fromhex("488b01" "4885c0" "7501" "c3" "ff6108"),
    "arm64": bytes.fromhex("690040f9" "490000b5" "c0035fd6" "700440f9" "00021fd6"),
}
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_PROT_READ, _PROT_WRITE, _PROT_EXEC = 1, 2, 4
_MAP_PRIVATE, _MAP_ANON_LINUX, _MAP_ANON_DARWIN, _MAP_JIT_DARWIN = 0x2, 0x20, 0x1000, 0x800

_cached: list = []


def _libc():
    import ctypes                   # (when the stub is made: ctypes costs start-up)
    lc = ctypes.CDLL(None, use_errno=True)
    lc.mmap.restype = ctypes.c_void_p
    lc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                        ctypes.c_int, ctypes.c_long]
    lc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return lc


def _linux_page(code: bytes) -> int | None:
    import ctypes
    lc = _libc()
    size = mmap.PAGESIZE
    addr = lc.mmap(None, size, _PROT_READ | _PROT_WRITE, _MAP_PRIVATE | _MAP_ANON_LINUX, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        return None
    ctypes.memmove(addr, code, len(code))
    if lc.mprotect(addr, size, _PROT_READ | _PROT_EXEC) != 0:
        return None
    if _ARCH.get(os.uname().machine.lower()) == "arm64":
        # Linux makes a newly executable user page coherent with the data cache
        # when it maps it (set_pte_at): nothing to flush by hand.
        pass
    return addr


def _darwin_page(code: bytes) -> int | None:
    import ctypes
    lc = _libc()
    size = mmap.PAGESIZE
    arm = _ARCH.get(os.uname().machine.lower()) == "arm64"
    if not arm:
        addr = lc.mmap(None, size, _PROT_READ | _PROT_WRITE, _MAP_PRIVATE | _MAP_ANON_DARWIN, -1, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            return None
        ctypes.memmove(addr, code, len(code))
        return addr if lc.mprotect(addr, size, _PROT_READ | _PROT_EXEC) == 0 else None
    # Apple silicon: W^X per thread on a MAP_JIT mapping.
    addr = lc.mmap(None, size, _PROT_READ | _PROT_WRITE | _PROT_EXEC,
                   _MAP_PRIVATE | _MAP_ANON_DARWIN | _MAP_JIT_DARWIN, -1, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        return None
    toggle = getattr(lc, "pthread_jit_write_protect_np", None)
    if toggle is None:
        return None
    toggle.argtypes = [ctypes.c_int]
    toggle(0)
    try:
        ctypes.memmove(addr, code, len(code))
    finally:
        toggle(1)
    inval = getattr(lc, "sys_icache_invalidate", None)
    if inval is not None:
        inval.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        inval(addr, len(code))
    return addr


def block_stop_hook() -> int | None:
    """Address of the native hook described above, or None where it cannot be made."""
    if _cached:
        return _cached[0]
    code = _CODE.get(_ARCH.get(os.uname().machine.lower(), ""))
    addr = None
    if code is not None:
        try:
            addr = _darwin_page(code) if platform.IS_DARWIN else _linux_page(code)
        except (OSError, AttributeError, ValueError):
            addr = None
    _cached.append(addr)
    return addr
