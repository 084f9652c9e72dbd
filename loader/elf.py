"""ELF parsing and segment mapping for AArch64 executables (via pyelftools).

Owns: the checks that reject what the emulator cannot run (with the clear
one-line message and exit status 126 a shell gives for "cannot execute"), and
placing PT_LOAD segments, with their protections, into guest memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from elftools.common.exceptions import ELFError as _PyElfError
from elftools.elf.elffile import ELFFile

from loader.space import PAGE, GuestSpace, page_down, page_up

PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4


class ElfError(Exception):
    """The file cannot be executed; `status` is the exit status a shell would give."""

    def __init__(self, message: str, status: int = 126, errno_name: str = "ENOEXEC"):
        super().__init__(message)
        self.status = status
        self.errno_name = errno_name


@dataclass(slots=True)
class LoadedImage:
    path: str
    entry: int          # the ELF's entry point, relocated
    base: int           # load bias (0 for ET_EXEC)
    phdr: int           # guest address of the program headers
    phent: int
    phnum: int
    brk: int            # first page after the highest segment
    interp: str | None  # PT_INTERP path, if any


def _open_elf(path: str):
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ElfError(f"{path}: No such file or directory", 127, "ENOENT") from None
    except IsADirectoryError:
        raise ElfError(f"{path}: Is a directory", 126, "EACCES") from None
    except PermissionError:
        raise ElfError(f"{path}: Permission denied", 126, "EACCES") from None
    if os.path.isdir(path):
        f.close()
        raise ElfError(f"{path}: Is a directory", 126, "EACCES")
    return f


def check_elf(path: str) -> None:
    """Raise ElfError unless `path` is an AArch64 ELF executable we can load."""
    with _open_elf(path) as f:
        _parse(f, path)


def _parse(f, path: str):
    magic = f.read(4)
    f.seek(0)
    if magic != b"\x7fELF":
        raise ElfError(f"{path}: cannot execute: not an ELF file")
    try:
        elf = ELFFile(f)
        if elf.elfclass != 64:
            raise ElfError(f"{path}: cannot execute: 32-bit ELF, only AArch64 (64-bit) is supported")
        if not elf.little_endian:
            raise ElfError(f"{path}: cannot execute: big-endian ELF is not supported")
        if elf["e_machine"] != "EM_AARCH64":
            raise ElfError(f"{path}: cannot execute: ELF for {elf['e_machine']}, not AArch64")
        if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
            raise ElfError(f"{path}: cannot execute: ELF type {elf['e_type']} is not an executable")
        segments = [s.header for s in elf.iter_segments()]
        interp = None
        for seg in elf.iter_segments():
            if seg.header.p_type == "PT_INTERP":
                interp = seg.get_interp_name()
        return elf, segments, interp
    except ElfError:
        raise
    except (_PyElfError, ValueError, KeyError, OSError, EOFError, AssertionError) as e:
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF ({e})") from None
    except Exception as e:  # construct raises its own hierarchy on short reads
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF ({type(e).__name__})") from None


def _prot(flags: int) -> int:
    return (1 if flags & PF_R else 0) | (2 if flags & PF_W else 0) | (4 if flags & PF_X else 0)


def load_elf(mem: GuestSpace, path: str, base: int | None = None) -> LoadedImage:
    """Map `path`'s PT_LOAD segments into `mem`; ET_DYN images go at `base` (or a default)."""
    with _open_elf(path) as f:
        elf, _, interp = _parse(f, path)
        loads = [s for s in elf.iter_segments() if s.header.p_type == "PT_LOAD"]
        if not loads:
            raise ElfError(f"{path}: cannot execute: no loadable segments")
        lo = min(page_down(s.header.p_vaddr) for s in loads)
        hi = max(page_up(s.header.p_vaddr + s.header.p_memsz) for s in loads)
        if elf["e_type"] == "ET_DYN":
            want = mem.ET_DYN_BASE if base is None else base
            start = mem.find_free(hi - lo, want)
            bias = start - lo
        else:
            bias = 0
            if not mem.is_free(lo, hi - lo):
                raise ElfError(f"{path}: cannot execute: segments overlap the emulator's layout")
        # A page shared by two segments gets the union of their permissions.
        page_prot: dict[int, int] = {}
        for s in loads:
            h = s.header
            for p in range(page_down(h.p_vaddr + bias), page_up(h.p_vaddr + bias + h.p_memsz), PAGE):
                page_prot[p] = page_prot.get(p, 0) | _prot(h.p_flags)
        name = os.path.abspath(path)
        run_start = prev = None
        for p in sorted(page_prot) + [None]:
            if run_start is not None and (p is None or p != prev + PAGE or page_prot[p] != page_prot[run_start]):
                mem.map(run_start, prev + PAGE - run_start, page_prot[run_start], name)
                run_start = None
            if p is not None and run_start is None:
                run_start = p
            prev = p
        win = mem.window
        for s in loads:
            h = s.header
            if h.p_filesz:
                f.seek(h.p_offset)
                data = f.read(h.p_filesz)
                if len(data) != h.p_filesz:
                    raise ElfError(f"{path}: cannot execute: truncated ELF (segment past end of file)")
                a = h.p_vaddr + bias
                win[a:a + len(data)] = data
        phdr = 0
        for s in elf.iter_segments():
            if s.header.p_type == "PT_PHDR":
                phdr = s.header.p_vaddr + bias
        if not phdr:
            # No PT_PHDR: the headers are where the first segment maps e_phoff.
            for s in loads:
                h = s.header
                if h.p_offset <= elf["e_phoff"] < h.p_offset + h.p_filesz:
                    phdr = h.p_vaddr + bias + elf["e_phoff"] - h.p_offset
        return LoadedImage(path=name, entry=elf["e_entry"] + bias, base=bias, phdr=phdr,
                           phent=elf["e_phentsize"], phnum=elf["e_phnum"], brk=hi + bias,
                           interp=interp)
