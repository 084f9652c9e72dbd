"""A copy of libunicorn whose references to itself are bound ahead of time.

The unicorn wheel's library exports every one of its ~30 000 functions and
tables, and refers to them through the symbol table: ~29 700 data
relocations (R_*_64, GLOB_DAT) and ~7 700 PLT slots name its own symbols.
The dynamic loader looks each of them up by name when the library is
opened (~2 ms of every start-up, even with RTLD_DEEPBIND), and the PLT
slots one by one on first call (~220 of them during hello's run, each
through the lazy resolver).  Where the library defines the symbol, the
answer is known before the process starts: its own definition (this is
what RTLD_DEEPBIND asks for, and what `-Bsymbolic` would have linked in).

`write` makes that copy, once per installed library: each such data
relocation becomes a RELATIVE one (library base + the symbol's value + the
addend), and each such PLT slot holds the function's own offset, which the
lazy loader turns into its address by adding the base, as it does for the
slot's usual PLT-stub value.  Symbols the library does not define (its ~84
glibc functions), TLS and IFUNC symbols, and absolute ones keep their
relocations.  `tests/test_prebind.py` checks, slot by slot, that the copy
loads to the same values as the wheel's library with every symbol resolved.

`library` picks the copy when one made from the installed library exists
(named by that library's size, mtime and inode), else the library itself.
Only ELF shared objects with RELA relocations for x86-64 and AArch64 are
rewritten; on macOS (a Mach-O dylib) `library` returns the original.
The copy lives beside the start-up bundle (`elfuse_py/__pycache__`); the
Makefile's install step writes it with the bundle (`python -m
elfuse_py.bundle`), and so does a CLI run that found it missing (`refresh`,
at its exit, where Python may write bytecode).
"""
from __future__ import annotations

import os
import struct
import sys
import time

_FORMAT = 1                             # bump when the rewrite changes: old copies are not used
_PREFIX = f"prebound{_FORMAT}."

# e_machine -> (data relocation to a symbol (S + A), GOT entry (S; A is 0), PLT slot, RELATIVE)
_RELOC_TYPES = {
    62: (1, 6, 7, 8),                   # EM_X86_64: R_X86_64_64, GLOB_DAT, JUMP_SLOT, RELATIVE
    183: (257, 1025, 1026, 1027),       # EM_AARCH64: R_AARCH64_ABS64, GLOB_DAT, JUMP_SLOT, RELATIVE
}
_DT_TAGS = {"DT_PLTRELSZ": 2, "DT_SYMTAB": 6, "DT_RELA": 7, "DT_RELASZ": 8, "DT_RELAENT": 9,
                   "DT_PLTREL": 20, "DT_JMPREL": 23}
_STT_TLS, _STT_GNU_IFUNC = 6, 10
_SHN_UNDEF, _SHN_ABS = 0, 0xFFF1

_CLAIM_STALE_S = 60                     # a claim to write the copy older than this is a dead writer's
_wanted: tuple[str, str, int] | None = None     # (original, copy, pid) when the copy was missing


def cache_dir() -> str:
    """Where copies live: the package's __pycache__ (beside the start-up bundle)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "__pycache__")


def copy_path(original: str, directory: str | None = None) -> str:
    """The name of the copy made from `original` as it is now (stat fails: OSError)."""
    st = os.stat(original)
    name = f"{_PREFIX}{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}.{os.path.basename(original)}"
    return os.path.join(directory or cache_dir(), name)


def library(original: str, directory: str | None = None) -> str:
    """The file to open for `original`: its current copy if one exists, else `original`."""
    global _wanted
    try:
        candidate = copy_path(original, directory)
    except OSError:
        return original
    if os.path.exists(candidate):
        return candidate
    _wanted = (original, candidate, os.getpid())
    return original


def rewrite(image: bytearray) -> tuple[int, int]:
    """Bind `image`'s (a shared object's bytes) references to its own symbols, in place.

    Returns (data relocations made RELATIVE, PLT slots filled).  Raises
    ValueError for a file this does not rewrite (not a 64-bit little-endian
    ELF shared object for x86-64 or AArch64 with RELA relocations).
    """
    if image[:6] != b"\x7fELF\x02\x01" or struct.unpack_from("<H", image, 16)[0] != 3:
        raise ValueError("not a 64-bit little-endian ELF shared object")
    machine = struct.unpack_from("<H", image, 18)[0]
    if machine not in _RELOC_TYPES:
        raise ValueError(f"machine {machine} not handled")
    r_abs, r_glob_dat, r_jump_slot, r_relative = _RELOC_TYPES[machine]
    loads, dynamic = _segments(image)
    tags = _dynamic_tags(image, dynamic)

    def file_offset(vaddr: int, size: int = 8) -> int:
        for start, offset, filesz in loads:
            if start <= vaddr and vaddr + size <= start + filesz:
                return vaddr - start + offset
        raise ValueError(f"address {vaddr:#x} is not in the file")

    if tags.get("DT_RELAENT", 24) != 24 or ("DT_JMPREL" in tags and tags.get("DT_PLTREL") != 7):
        raise ValueError("not RELA relocations")
    symtab = file_offset(tags["DT_SYMTAB"], 24)

    def own_symbol_value(info: int) -> int | None:
        """The value of relocation `info`'s symbol if the library defines it (else None)."""
        st_info, _other, shndx, value = struct.unpack_from("<BBHQ", image, symtab + 24 * (info >> 32) + 4)
        if shndx in (_SHN_UNDEF, _SHN_ABS) or (st_info & 0xF) in (_STT_TLS, _STT_GNU_IFUNC):
            return None
        return value

    relocated = 0
    if "DT_RELA" in tags:
        rela = file_offset(tags["DT_RELA"], tags["DT_RELASZ"])
        for entry in range(rela, rela + tags["DT_RELASZ"], 24):
            r_offset, r_info, r_addend = struct.unpack_from("<QQq", image, entry)
            kind = r_info & 0xFFFFFFFF
            if kind != r_abs and not (kind == r_glob_dat and r_addend == 0):
                continue
            value = own_symbol_value(r_info)
            if value is not None:
                struct.pack_into("<QQq", image, entry, r_offset, r_relative, value + r_addend)
                relocated += 1
    filled = 0
    if "DT_JMPREL" in tags:
        jmprel = file_offset(tags["DT_JMPREL"], tags["DT_PLTRELSZ"])
        for entry in range(jmprel, jmprel + tags["DT_PLTRELSZ"], 24):
            r_offset, r_info, r_addend = struct.unpack_from("<QQq", image, entry)
            if r_info & 0xFFFFFFFF != r_jump_slot or r_addend != 0:
                continue
            value = own_symbol_value(r_info)
            if value is not None:
                # The lazy loader adds the base to what the slot holds (normally
                # the PLT stub's offset); holding the function's, it needs no lookup.
                struct.pack_into("<Q", image, file_offset(r_offset), value)
                filled += 1
    return relocated, filled


def _segments(image: bytearray) -> tuple[list[tuple[int, int, int]], tuple[int, int]]:
    """The PT_LOAD segments as (vaddr, file offset, file size), and PT_DYNAMIC's (offset, size)."""
    phoff = struct.unpack_from("<Q", image, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", image, 54)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", image, phoff + i * phentsize)
        if p_type == 1:
            loads.append((vaddr, offset, filesz))
        elif p_type == 2:
            dynamic = (offset, filesz)
    if dynamic is None:
        raise ValueError("no dynamic section")
    return loads, dynamic


def _dynamic_tags(image: bytearray, dynamic: tuple[int, int]) -> dict[str, int]:
    names = {v: k for k, v in _DT_TAGS.items()}
    tags = {}
    offset, size = dynamic
    for entry in range(offset, offset + size, 16):
        tag, value = struct.unpack_from("<qQ", image, entry)
        if tag == 0:
            break
        if tag in names:
            tags[names[tag]] = value
    return tags


def write(original: str, directory: str | None = None) -> str:
    """Write the copy of `original` (replacing older copies in `directory`); returns its path."""
    target = copy_path(original, directory)
    with open(original, "rb") as f:
        image = bytearray(f.read())
    rewrite(image)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(image)
        os.chmod(tmp, os.stat(original).st_mode & 0o777)
        os.replace(tmp, target)         # a loader sees no file or the whole copy
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    base = os.path.basename(original)
    for name in os.listdir(os.path.dirname(target)):
        if name.startswith("prebound") and name.endswith("." + base) and name != os.path.basename(target):
            try:
                os.unlink(os.path.join(os.path.dirname(target), name))
            except OSError:
                pass
    return target


def refresh() -> None:
    """At the end of a CLI run: write the copy `library` found missing (errors ignored).

    Only in the process that opened the library, only where Python may
    write bytecode (the copy sits with it), and by one run at a time: the
    many emulators a harness starts at once after an install would each
    write 24 MB otherwise (a claim file; one older than a minute is stale).
    """
    if _wanted is None or sys.dont_write_bytecode:
        return
    original, copy, pid = _wanted
    if pid != os.getpid() or os.path.exists(copy):
        return
    claim = copy + ".writing"
    try:
        try:
            os.close(os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            if time.time() - os.stat(claim).st_mtime < _CLAIM_STALE_S:
                return                  # another run is writing it
            os.utime(claim)             # (its writer died: take it over)
        try:
            write(original, os.path.dirname(copy))
        finally:
            os.unlink(claim)
    except (OSError, ValueError, struct.error):     # a cache: the next run opens the original
        pass

