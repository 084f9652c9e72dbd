"""cffi binding to the libunicorn shared library shipped by the `unicorn` wheel.

This module owns the loaded library handles and unicorn's constants; the C
declarations live in cdefs.py.
Everything on the syscall path (register batches, the interrupt hook, memory
mapping) goes through here rather than through the ctypes-based Python
binding, which costs an order of magnitude more per call.
"""
from __future__ import annotations

import os
import sys

from elfuse_py.host import prebind
from elfuse_py.host.cdefs import load_ffi

ffi = load_ffi("unicorn")

# Constants from unicorn.h (stable ABI values).
UC_ARCH_ARM64 = 2
UC_MODE_ARM = 0
UC_HOOK_INTR = 1
UC_PROT_NONE, UC_PROT_READ, UC_PROT_WRITE, UC_PROT_EXEC = 0, 1, 2, 4
UC_CTL_UC_PAGE_SIZE = 1
UC_CTL_CPU_MODEL = 7
UC_CTL_TB_REMOVE_CACHE = 9
UC_CTL_TB_FLUSH = 10
UC_CTL_TLB_FLUSH = 11
UC_CTL_TLB_TYPE = 12
UC_CTL_IO_WRITE = 1
UC_CPU_ARM64_MAX = 3
UC_TLB_VIRTUAL = 1
UC_HOOK_TLB_FILL = 1 << 17
UC_MEM_READ, UC_MEM_WRITE, UC_MEM_FETCH = 16, 17, 18

UC_ERR_NAMES = {
    0: "OK", 1: "NOMEM", 6: "READ_UNMAPPED", 7: "WRITE_UNMAPPED", 8: "FETCH_UNMAPPED",
    10: "INSN_INVALID", 12: "WRITE_PROT", 13: "READ_PROT", 14: "FETCH_PROT",
    16: "READ_UNALIGNED", 17: "WRITE_UNALIGNED", 18: "FETCH_UNALIGNED", 21: "EXCEPTION",
}


def uc_ctl_write(ctl_type: int, nargs: int) -> int:
    """The UC_CTL_WRITE(type, nr) macro."""
    return ctl_type | (nargs << 26) | (UC_CTL_IO_WRITE << 30)


def find_libunicorn() -> str:
    """The library the `unicorn` wheel installed."""
    # The wheel's package directory, found as the import system would find the
    # package, without importing it (its ctypes binding costs start-up) or the
    # importlib package (warnings...): the first sys.path entry holding unicorn/.
    for entry in sys.path:
        pkg = os.path.join(entry or os.curdir, "unicorn")
        if os.path.isfile(os.path.join(pkg, "__init__.py")):
            break
    else:
        raise ImportError("the 'unicorn' package is not installed")
    libdir = os.path.join(pkg, "lib")
    # os.listdir, not glob: glob imports re and fnmatch at every start-up.
    try:
        names = sorted(os.listdir(libdir))
    except OSError:
        names = []
    for prefix, suffix in (("libunicorn.so", ""), ("libunicorn", ".dylib"), ("unicorn.dll", "")):
        found = [n for n in names if n.startswith(prefix) and n.endswith(suffix)]
        if found:
            return os.path.join(libdir, found[0])
    raise ImportError(f"no libunicorn shared library in {libdir}")


# Finding the library by its path avoids importing the ctypes binding (and
# its start-up cost) just to learn where the wheel put the .so.
# The library refers to its own ~30 000 exported functions and tables by
# name (~29 700 data relocations, ~7 700 PLT slots).  The copy host/prebind.py
# makes has them bound to the library's own definitions already: its dlopen
# is ~1 ms instead of ~3, and no PLT slot goes through the lazy resolver
# (~0.5 ms of hello's run).  Without a copy, RTLD_LAZY binds the PLT slots on
# first call (binding all ~7 700 at dlopen costs ~0.8 ms), and RTLD_DEEPBIND
# (glibc) binds a symbol the library defines to that definition, as the copy
# does, looked up there first rather than after every object of the process
# (~0.3 ms less).  Its only imports are 84 glibc functions, which resolve to
# the same glibc either way (an LD_PRELOAD interposer of one of them, a
# malloc replacement say, is bypassed inside unicorn, which frees only what
# it allocated).  RTLD_DEEPBIND is absent on macOS and musl: 0.
# ELFUSE_LIBUNICORN names another build to open, as it is.
LIBRARY = os.environ.get("ELFUSE_LIBUNICORN") or prebind.library(find_libunicorn())
lib = ffi.dlopen(LIBRARY, os.RTLD_LAZY | getattr(os, "RTLD_DEEPBIND", 0))
libc = ffi.dlopen(None)


def flush_tlb(uc) -> None:
    """Drop every cached guest-page translation of engine `uc`.

    unicorn flushes its TLB itself when a mapping appears or disappears or
    its writability changes, but not when only read or execute permission
    goes away; a stale entry would keep such a page usable by the guest.
    """
    lib.uc_ctl(uc, uc_ctl_write(UC_CTL_TLB_FLUSH, 0))


def flush_tb(uc) -> None:
    """Drop every translated block of engine `uc` (an execve: none of the old code stays)."""
    lib.uc_ctl(uc, uc_ctl_write(UC_CTL_TB_FLUSH, 0))


def remove_tb_cache(uc, start: int, end: int) -> None:
    """Drop the translated blocks of guest code in [start, end): the emulator wrote
    into it from the host side (/proc/self/mem), which unicorn cannot see."""
    lib.uc_ctl(uc, uc_ctl_write(UC_CTL_TB_REMOVE_CACHE, 2),
               ffi.cast("uint64_t", start), ffi.cast("uint64_t", end))


def flush_tb_cache(uc) -> None:
    """Drop every translated block of engine `uc`.  Hooks are compiled into blocks
    when they are translated (uc_hook_add does not touch blocks that exist), so
    a block hook added now reaches code already translated only after this."""
    lib.uc_ctl(uc, uc_ctl_write(UC_CTL_TB_FLUSH, 0))


def check(err: int, what: str) -> None:
    if err:
        raise RuntimeError(f"{what}: {ffi.string(lib.uc_strerror(err)).decode()}")
