"""The initial process stack: argc, argv, envp and the auxiliary vector.

Laid out exactly as Linux's create_elf_tables(): strings at the top, then
AT_RANDOM bytes, then (16-byte aligned) argc, argv[], NULL, envp[], NULL, auxv.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.loader.space import GuestSpace

STACK_SIZE = 8 << 20

AT_NULL, AT_IGNORE, AT_EXECFD, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE = 0, 1, 2, 3, 4, 5, 6, 7
AT_FLAGS, AT_ENTRY, AT_NOTELF, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM = 8, 9, 10, 11, 12, 13, 14, 15
AT_HWCAP, AT_CLKTCK, AT_SECURE, AT_BASE_PLATFORM, AT_RANDOM, AT_HWCAP2 = 16, 17, 23, 24, 25, 26
AT_EXECFN, AT_SYSINFO_EHDR, AT_MINSIGSTKSZ = 31, 33, 51

# Linux arm64 reports the size of its signal frame (without SVE state).
MINSIGSTKSZ = 5120


def map_stack(mem: GuestSpace, executable: bool = False) -> None:
    """The initial stack: read-write, and executable when PT_GNU_STACK asks for it
    (arm64 Linux's default without the header is a non-executable stack)."""
    mem.map(mem.STACK_TOP - STACK_SIZE, STACK_SIZE, 7 if executable else 3, "[stack]")


def build_stack(mem: GuestSpace, argv: list[bytes], envp: list[bytes],
                auxv: list[tuple[int, int]], execfn: bytes, platform: bytes = b"aarch64") -> tuple[int, bytes]:
    """Write the initial stack below mem.STACK_TOP; returns (sp, auxv bytes as written).

    The strings and the table are laid out in one buffer and written to guest
    memory with one call (not one per string).
    """
    pos = mem.STACK_TOP - 16
    chunks: list[bytes] = []                # from `top` downwards

    def push_bytes(data: bytes) -> int:
        nonlocal pos
        pos -= len(data)
        chunks.append(data)
        return pos

    execfn_addr = push_bytes(execfn + b"\0")
    env_addrs = [push_bytes(e + b"\0") for e in reversed(envp)][::-1]
    arg_addrs = [push_bytes(a + b"\0") for a in reversed(argv)][::-1]
    platform_addr = push_bytes(platform + b"\0")
    aligned = pos & ~15
    push_bytes(bytes(pos - aligned))
    random_addr = push_bytes(os.urandom(16))
    full_auxv = list(auxv) + [(AT_RANDOM, random_addr), (AT_EXECFN, execfn_addr),
                              (AT_PLATFORM, platform_addr), (AT_NULL, 0)]
    words = [len(argv)] + arg_addrs + [0] + env_addrs + [0]
    for k, v in full_auxv:
        words += [k, v]
    table = struct.pack(f"<{len(words)}Q", *words)
    sp = (pos - len(table)) & ~15
    chunks.append(bytes(pos - len(table) - sp))
    chunks.append(table)
    chunks.reverse()
    mem.write(sp, b"".join(chunks))
    auxv_bytes = struct.pack(f"<{2 * len(full_auxv)}Q", *[x for kv in full_auxv for x in kv])
    return sp, auxv_bytes
