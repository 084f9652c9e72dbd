"""ELF parsing and segment mapping for AArch64 executables.

Owns: the checks that reject what the emulator cannot run (with the clear
one-line message and exit status 126 a shell gives for "cannot execute"), and
placing PT_LOAD segments, with their protections, into guest memory.

Loading needs only the ELF header, the program headers and PT_INTERP, so they
are read with `struct` (Elf64_Ehdr / Elf64_Phdr): pyelftools (and the
construct and DWARF modules it imports) cost ~20-50 ms of every start-up.
"""
from __future__ import annotations

import os
import struct

from loader.space import PAGE, GuestSpace, page_down, page_up

PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4


class ElfError(Exception):
    """The file cannot be executed; `status` is the exit status a shell would give."""

    def __init__(self, message: str, status: int = 126, errno_name: str = "ENOEXEC"):
        super().__init__(message)
        self.status = status
        self.errno_name = errno_name


# Elf64_Ehdr after e_ident: e_type e_machine e_version e_entry e_phoff e_shoff
# e_flags e_ehsize e_phentsize e_phnum (the section fields are not needed).
_EHDR = struct.Struct("<HHIQQQIHHH")
_EHDR_SIZE = 64
# Elf64_Phdr: p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
_PHDR = struct.Struct("<IIQQQQQQ")
ET_EXEC, ET_DYN = 2, 3
EM_AARCH64 = 183
_ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_EM_NAMES = {3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 22: "EM_S390",
             40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV", 258: "EM_LOONGARCH"}


class LoadedImage:
    """Where one ELF file landed in guest memory."""

    __slots__ = ("path", "entry", "base", "phdr", "phent", "phnum", "brk", "interp")

    def __init__(self, path: str, entry: int, base: int, phdr: int, phent: int, phnum: int,
                 brk: int, interp: str | None):
        self.path = path
        self.entry = entry          # the ELF's entry point, relocated
        self.base = base            # load bias (0 for ET_EXEC)
        self.phdr = phdr            # guest address of the program headers
        self.phent = phent
        self.phnum = phnum
        self.brk = brk              # first page after the highest segment
        self.interp = interp        # PT_INTERP path, if any

    def __repr__(self) -> str:
        return "LoadedImage(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"

    def __eq__(self, other: object) -> bool:
        return (type(other) is LoadedImage
                and all(getattr(self, k) == getattr(other, k) for k in self.__slots__))


class _Phdr:
    """One program header (the fields the loader uses)."""

    __slots__ = ("p_type", "p_flags", "p_offset", "p_vaddr", "p_filesz", "p_memsz")

    def __init__(self, raw: bytes, off: int):
        (self.p_type, self.p_flags, self.p_offset, self.p_vaddr, _paddr, self.p_filesz,
         self.p_memsz, _align) = _PHDR.unpack_from(raw, off)


class _Elf:
    """The parsed headers: the Ehdr fields and the program headers."""

    __slots__ = ("e_type", "e_entry", "e_phoff", "e_phentsize", "e_phnum", "segments")


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
    """(headers, segments, PT_INTERP path or None); ElfError for anything we cannot run."""
    head = f.read(_EHDR_SIZE)
    if head[:4] != b"\x7fELF":
        raise ElfError(f"{path}: cannot execute: not an ELF file")
    try:
        return _parse_headers(f, head, path)
    except ElfError:
        raise
    except (struct.error, ValueError, OSError) as e:
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF ({e})") from None


def _parse_headers(f, head: bytes, path: str):
    if len(head) < 6 or head[4] != 2:       # EI_CLASS: ELFCLASS64
        raise ElfError(f"{path}: cannot execute: 32-bit ELF, only AArch64 (64-bit) is supported")
    if head[5] != 1:                        # EI_DATA: ELFDATA2LSB
        raise ElfError(f"{path}: cannot execute: big-endian ELF is not supported")
    if len(head) < _EHDR_SIZE:
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF (short ELF header)")
    elf = _Elf()
    e_type, e_machine, _ver, elf.e_entry, elf.e_phoff, _shoff, _flags, _ehsize, elf.e_phentsize, \
        elf.e_phnum = _EHDR.unpack_from(head, 16)
    elf.e_type = e_type
    if e_machine != EM_AARCH64:
        name = _EM_NAMES.get(e_machine, f"machine {e_machine}")
        raise ElfError(f"{path}: cannot execute: ELF for {name}, not AArch64")
    if e_type not in (ET_EXEC, ET_DYN):
        name = _ET_NAMES.get(e_type, f"{e_type:#x}")
        raise ElfError(f"{path}: cannot execute: ELF type {name} is not an executable")
    if elf.e_phnum and elf.e_phentsize < _PHDR.size:
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF (e_phentsize {elf.e_phentsize})")
    f.seek(elf.e_phoff)
    raw = f.read(elf.e_phentsize * elf.e_phnum)
    if len(raw) != elf.e_phentsize * elf.e_phnum:
        raise ElfError(f"{path}: cannot execute: truncated or malformed ELF (program headers past end of file)")
    elf.segments = [_Phdr(raw, i * elf.e_phentsize) for i in range(elf.e_phnum)]
    interp = None
    for seg in elf.segments:
        if seg.p_type == PT_INTERP:
            f.seek(seg.p_offset)
            name = f.read(seg.p_filesz)
            if len(name) != seg.p_filesz:
                raise ElfError(f"{path}: cannot execute: truncated or malformed ELF (PT_INTERP past end of file)")
            interp = os.fsdecode(name.split(b"\0", 1)[0])
    return elf, elf.segments, interp


def _prot(flags: int) -> int:
    return (1 if flags & PF_R else 0) | (2 if flags & PF_W else 0) | (4 if flags & PF_X else 0)


def load_elf(mem: GuestSpace, path: str, base: int | None = None) -> LoadedImage:
    """Map `path`'s PT_LOAD segments into `mem`; ET_DYN images go at `base` (or a default)."""
    with _open_elf(path) as f:
        elf, _, interp = _parse(f, path)
        loads = [s for s in elf.segments if s.p_type == PT_LOAD]
        if not loads:
            raise ElfError(f"{path}: cannot execute: no loadable segments")
        lo = min(page_down(s.p_vaddr) for s in loads)
        hi = max(page_up(s.p_vaddr + s.p_memsz) for s in loads)
        if elf.e_type == ET_DYN:
            want = mem.ET_DYN_BASE if base is None else base
            start = mem.find_free(hi - lo, want)
            bias = start - lo
        else:
            bias = 0
            if not mem.is_free(lo, hi - lo):
                raise ElfError(f"{path}: cannot execute: segments overlap the emulator's layout")
        # A page shared by two segments gets the union of their permissions.
        page_prot: dict[int, int] = {}
        for h in loads:
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
        for h in loads:
            if h.p_filesz:
                f.seek(h.p_offset)
                data = f.read(h.p_filesz)
                if len(data) != h.p_filesz:
                    raise ElfError(f"{path}: cannot execute: truncated ELF (segment past end of file)")
                a = h.p_vaddr + bias
                win[a:a + len(data)] = data
        phdr = 0
        for h in elf.segments:
            if h.p_type == PT_PHDR:
                phdr = h.p_vaddr + bias
        if not phdr:
            # No PT_PHDR: the headers are where the first segment maps e_phoff.
            for h in loads:
                if h.p_offset <= elf.e_phoff < h.p_offset + h.p_filesz:
                    phdr = h.p_vaddr + bias + elf.e_phoff - h.p_offset
        return LoadedImage(path=name, entry=elf.e_entry + bias, base=bias, phdr=phdr,
                           phent=elf.e_phentsize, phnum=elf.e_phnum, brk=hi + bias,
                           interp=interp)
