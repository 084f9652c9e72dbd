"""The engine's mid-block exit checks: found, verified, and switched off.

unicorn 2 compiles a call to a helper, check_exit_request (qemu/tcg/tcg-op.c),
after every guest load and store.  It serves a stop requested from inside a
memory hook, and it is why an asynchronous uc_emu_stop (from another host
thread) is not exact: the helper sees the request after the access, leaves
the block there and resumes at the start of that instruction, so the access
runs twice (`ldr x0, [x0]` follows a list one node too far; a STLXR that
succeeded runs again).  It also costs a helper call per access: a sieve runs
~18% faster without it.

The emulator needs neither.  Its memory hooks never stop the engine (guest
faults leave through unicorn's own exit, not this helper), and without the
helper a stop request is seen only where a translated block starts, before
any instruction of it ran, with the PC set to that block's start: an exact
stop from any thread, at no cost to the code that runs (runtime/preempt.py).

unicorn has the switch, `uc->no_exit_request` (its arm32 translator sets it
around IT blocks), but no API for it.  `locate` finds the byte in the engine
object and checks the neighbourhood before anything is written:
`mapped_block_count` is the only word that follows a uc_mem_map_ptr and an
uc_mem_unmap of a probe page (+1, then back), and from there the fields that
uc_priv.h declares after it must hold what a fresh engine holds (page size
and mask, host page sizes, cache line, next_pc 0, the flag bytes, init_done).
Anything else (another unicorn, another layout) leaves the checks on, and
the emulator keeps its block-hook stops.  The flag is read when a block is
translated, so a change takes effect with a flush of the translated code
(`set_checks`).
"""
from __future__ import annotations

import struct

from elfuse_py.runtime.uc import ffi, flush_tb_cache, lib

# How far into the engine object the probe looks (the fields sought are at
# ~2 KiB on Linux x86-64; the object is larger than this: after them come 64
# sigjmp_bufs).
_SPAN = 4096
# An address no guest holds at engine creation (mapped and unmapped at once).
_PROBE_ADDR = (1 << 47) - (1 << 20)
# Offsets from mapped_block_count (uc_priv.h, unicorn 2.1, LP64):
#   +0 mapped_block_count, +4 mapped_block_cache_index, +8 qemu_thread_data,
#   +16 target_page_size, +20 target_page_align, +24 qemu_host_page_size,
#   +32 qemu_real_host_page_size, +40 qemu_icache_linesize, +44 context_content,
#   +48 cpu_context_size, +56 next_pc, +64 hook_insert, +65 first_tb,
#   +66 no_exit_request, +67 init_done.
_NO_EXIT_REQUEST = 66


def _changed_words(a: bytes, b: bytes) -> list[int]:
    """Offsets of the aligned 32-bit words that differ between `a` and `b` (few: one
    big-integer XOR instead of a loop over a thousand words)."""
    diff = int.from_bytes(a, "little") ^ int.from_bytes(b, "little")
    out = []
    while diff:
        low = (diff & -diff).bit_length() - 1
        word = low // 32
        out.append(4 * word)
        diff >>= 32 * (word + 1)
        diff <<= 32 * (word + 1)
    return out


def _plausible(raw: bytes, m: int, page: int) -> bool:
    if m + 68 > len(raw):
        return False
    size, align = struct.unpack_from("<II", raw, m + 16)
    host, real = struct.unpack_from("<QQ", raw, m + 24)
    icache, _content, ctx_size = struct.unpack_from("<iii", raw, m + 40)
    (next_pc,) = struct.unpack_from("<Q", raw, m + 56)
    hook_insert, first_tb, no_exit, init_done = raw[m + 64:m + 68]
    return (size == page and align in (page - 1, ~(page - 1) & 0xFFFFFFFF)
            and host in (4096, 16384, 65536) and real == host
            and 16 <= icache <= 512 and 0 < ctx_size < 1 << 20 and next_pc == 0
            and hook_insert == 0 and first_tb in (0, 1) and no_exit == 0 and init_done == 1)


def locate(uc, page: int):
    """The address of engine `uc`'s no_exit_request byte, or None.

    Call on an initialised engine (a register was written) that has no
    memory mapped and has not run; `page` is its guest page size."""
    major = ffi.new("unsigned int *")
    minor = ffi.new("unsigned int *")
    lib.uc_version(major, minor)
    if major[0] != 2:
        return None
    base = ffi.cast("char *", uc)
    view = ffi.buffer(base, _SPAN)
    probe = ffi.new("char[]", page)
    before = view[:]
    if lib.uc_mem_map_ptr(uc, _PROBE_ADDR, page, 1, probe):
        return None
    try:
        mapped = view[:]
    finally:
        lib.uc_mem_unmap(uc, _PROBE_ADDR, page)
    after = view[:]
    word = struct.Struct("<I").unpack_from
    found = [m for m in _changed_words(before, mapped)
             if word(mapped, m)[0] == word(before, m)[0] + 1 == word(after, m)[0] + 1
             and _plausible(after, m, page)]
    if len(found) != 1:
        return None
    return base + found[0] + _NO_EXIT_REQUEST


def set_checks(uc, flag, on: bool) -> None:
    """Compile exit checks after guest memory accesses (on) or not (off) from
    now on; the code translated so far is dropped so that all of it agrees."""
    want = b"\x00" if on else b"\x01"
    if flag[0] != want:
        flag[0] = want
        flush_tb_cache(uc)
