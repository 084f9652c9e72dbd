"""ELF checks and segment mapping for AArch64 executables, by the rules of Linux's binfmt_elf.

Owns: reading and validating the ELF header, program headers and PT_INTERP
(`read_elf`, `check_program`), and placing PT_LOAD segments, with their
protections, into guest memory (`load_elf`).

Linux's `load_elf_binary()` has a *point of no return* (`begin_new_exec`), and
this module keeps it: everything checked before it fails the execve with an
errno and the caller's image intact; everything after it kills the new process
with SIGSEGV.  Measured against Linux 6.x on x86-64 with the same mutations:

before (execve fails; the CLI prints one line and exits 126, or 127 for ENOENT):
  - not `\\x7fELF`, e_type not ET_EXEC/ET_DYN, e_machine not EM_AARCH64:
    ENOEXEC.  (We also refuse ELFCLASS32 and big-endian headers, which Linux's
    arm64 handler does not look at: no real AArch64 file has them.)
  - e_phentsize != 56, e_phnum == 0 or the table over 64 KiB, the table not
    inside the file: ENOEXEC.
  - a PT_LOAD whose file bytes lie past the end of the file: ENOEXEC.  Here we
    differ on purpose: Linux maps it and the process dies by SIGSEGV or SIGBUS
    when it gets there; a truncated file is refused with a clear message.
  - the first PT_INTERP (later ones are ignored, as Linux ignores them):
    p_filesz < 2 or > PATH_MAX, or not NUL-terminated: ENOEXEC; past the end
    of the file: EIO; then the named file is opened as open_exec does
    (ENOENT, EACCES for a directory or a file without exec permission,
    ENAMETOOLONG, ELOOP...), its 64-byte header must read (EIO), be an ELF
    (ELIBBAD) for AArch64 (ELIBBAD) with a valid program header table (ELIBBAD).
    The interpreter's own PT_INTERP is never looked at, so a program naming
    itself loads twice, as on Linux, and there is no recursion.
after (SIGSEGV, status 139; `ElfError.segv` is set):
  - no PT_LOAD, p_filesz > p_memsz, p_vaddr and p_offset not congruent modulo
    the page size, p_memsz
    or p_vaddr + p_memsz past the guest's address space (TASK_SIZE: the
    1 TiB window), an ET_EXEC range that overlaps memory already in use or
    lies below the first page, no room for an ET_DYN image, the host refusing
    the memory (ENOMEM), e_entry past TASK_SIZE.
  An e_entry inside the address space but outside every segment is loaded and
  faults on its first instruction, as on Linux.

Work is proportional to the number of program headers and to the bytes read
from the file, never to p_memsz: huge segments are mapped in one call each
(fresh host pages are already zero) and refused by the address space when
they do not fit.
"""
from __future__ import annotations

import errno as _errno
import os
import stat
import struct

from elfuse_py.loader.shebang import visible
from elfuse_py.loader.space import PAGE, GuestSpace, page_down, page_up

PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
PF_X, PF_W, PF_R = 1, 2, 4
ET_EXEC, ET_DYN = 2, 3
EM_AARCH64 = 183
PATH_MAX = 4096
PHDR_TABLE_MAX = 65536       # load_elf_phdrs(): the whole table at most 64 KiB

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_U64 = (1 << 64) - 1

_ETYPE_NAMES = {0: "ET_NONE", 1: "ET_REL", 4: "ET_CORE"}
_MACHINE_NAMES = {3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 40: "EM_ARM",
                  62: "EM_X86_64", 243: "EM_RISCV"}
_STRERROR = {"ENOEXEC": "Exec format error", "ENOENT": "No such file or directory",
             "EACCES": "Permission denied", "EIO": "Input/output error",
             "ELIBBAD": "Accessing a corrupted shared library", "ELOOP": "Too many levels of symbolic links",
             "ENAMETOOLONG": "File name too long", "ENOTDIR": "Not a directory",
             "EINVAL": "Invalid argument", "ENOMEM": "Cannot allocate memory"}


class ElfError(Exception):
    """The file cannot be executed.

    `errno_name` is the Linux errno execve gives; `status` is the exit status a
    shell gives (127 for ENOENT, 126 otherwise).  `segv` is set when Linux
    detects the problem after the point of no return: the new process then
    dies with SIGSEGV (status 139) instead of execve failing.
    """

    def __init__(self, message: str, status: int = 126, errno_name: str = "ENOEXEC",
                 segv: bool = False):
        super().__init__(message)
        self.status = 139 if segv else status
        self.errno_name = errno_name
        self.segv = segv


def _fail(path: str, what: str, errno_name: str = "ENOEXEC") -> ElfError:
    status = 127 if errno_name == "ENOENT" else 126
    return ElfError(f"{visible(path)}: cannot execute: {what}", status, errno_name)


def fatal_error(path: str, what: str, errno_name: str) -> ElfError:
    # Linux has already replaced the image: the process gets SIGSEGV.
    return ElfError(f"{visible(path)}: cannot load: {what} ({errno_name}): Segmentation fault",
                    139, errno_name, segv=True)


class Phdr:
    """One program header (plain class: no dataclasses at start-up)."""
    __slots__ = ("type", "flags", "offset", "vaddr", "filesz", "memsz")

    def __init__(self, type: int, flags: int, offset: int, vaddr: int, filesz: int,
                 memsz: int) -> None:
        self.type, self.flags, self.offset = type, flags, offset
        self.vaddr, self.filesz, self.memsz = vaddr, filesz, memsz

    def __repr__(self) -> str:
        return (f"Phdr(type={self.type:#x}, flags={self.flags}, offset={self.offset:#x}, "
                f"vaddr={self.vaddr:#x}, filesz={self.filesz:#x}, memsz={self.memsz:#x})")


class ElfInfo:
    """A validated ELF header and program header table (nothing mapped yet)."""
    __slots__ = ("path", "type", "entry", "phoff", "phentsize", "phnum", "file_size", "phdrs",
                 "interp", "exec_stack")

    def __init__(self, path: str, type: int, entry: int, phoff: int, phentsize: int, phnum: int,
                 file_size: int, phdrs: list[Phdr] | None = None, interp: bytes | None = None,
                 exec_stack: bool = False) -> None:
        self.path, self.type, self.entry = path, type, entry
        self.phoff, self.phentsize, self.phnum, self.file_size = phoff, phentsize, phnum, file_size
        self.phdrs = [] if phdrs is None else phdrs
        self.interp = interp            # the first PT_INTERP's name, without the NUL
        self.exec_stack = exec_stack    # PT_GNU_STACK with PF_X

    @property
    def loads(self) -> list[Phdr]:
        return [p for p in self.phdrs if p.type == PT_LOAD]


class LoadedImage:
    """Where a loaded ELF ended up in guest memory."""
    __slots__ = ("path", "entry", "base", "phdr", "phent", "phnum", "brk", "interp", "exec_stack")

    def __init__(self, path: str, entry: int, base: int, phdr: int, phent: int, phnum: int,
                 brk: int, interp: str | None, exec_stack: bool = False) -> None:
        self.path = path
        self.entry = entry          # the ELF's entry point, relocated
        self.base = base            # load bias (0 for ET_EXEC)
        self.phdr = phdr            # guest address of the program headers
        self.phent, self.phnum = phent, phnum
        self.brk = brk              # first page after the highest segment
        self.interp = interp        # PT_INTERP path, if any
        self.exec_stack = exec_stack


def _errno_name(e: OSError) -> str:
    return _errno.errorcode.get(e.errno or 0, "EIO")


def _open_elf(path: str, *, errno_only: bool = False) -> int:
    """Open `path` as open_exec() does: a regular file (EACCES otherwise); returns an fd."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
        # refused as not a regular file); it changes nothing for a file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK)
    except ValueError:                       # an embedded NUL cannot name a file
        raise _fail(path, "No such file or directory", "ENOENT") from None
    except OSError as e:
        name = _errno_name(e)
        if name == "EISDIR":
            name = "EACCES"
        raise _fail(path, _STRERROR.get(name, e.strerror or name), name) from None
    try:
        st = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise _fail(path, e.strerror or "cannot stat", _errno_name(e)) from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "Is a directory" if stat.S_ISDIR(st.st_mode) else "Permission denied"
        raise _fail(path, what, "EACCES")
    return fd


def _pread(fd: int, n: int, off: int) -> bytes:
    if off < 0 or off > _U64 or n <= 0:
        return b""
    try:
        return os.pread(fd, n, off)
    except (OSError, OverflowError, ValueError):
        return b""


def _parse(fd: int, path: str, fail) -> ElfInfo:
    """Validate the ELF header and program headers of the open file `fd`.

    `fail(what, errno_name)` builds the exception: ENOEXEC for a program,
    ELIBBAD for an interpreter (as Linux reports a bad one).
    """
    size = os.fstat(fd).st_size
    head = _pread(fd, _EHDR.size, 0)
    if head[:4] != b"\x7fELF":
        raise fail("not an ELF file", None)
    if len(head) < _EHDR.size:
        raise fail("truncated ELF header", None)
    (ident, e_type, e_machine, _ver, e_entry, e_phoff, _shoff, _flags, _ehsize,
     e_phentsize, e_phnum, _shentsize, _shnum, _shstrndx) = _EHDR.unpack(head)
    if ident[4] == 1:
        raise fail("32-bit ELF, only AArch64 (64-bit) is supported", None)
    if ident[4] != 2:
        raise fail(f"unknown ELF class {ident[4]}", None)
    if ident[5] == 2:
        raise fail("big-endian ELF is not supported", None)
    if ident[5] != 1:
        raise fail(f"unknown ELF data encoding {ident[5]}", None)
    if e_type not in (ET_EXEC, ET_DYN):
        raise fail(f"ELF type {_ETYPE_NAMES.get(e_type, hex(e_type))} is not an executable", None)
    if e_machine != EM_AARCH64:
        raise fail(f"ELF for {_MACHINE_NAMES.get(e_machine, f'machine {e_machine}')}, not AArch64", None)
    if e_phentsize != _PHDR.size:
        raise fail(f"program header size {e_phentsize}, not {_PHDR.size}", None)
    table = e_phnum * e_phentsize
    if table == 0 or table > PHDR_TABLE_MAX:
        raise fail(f"bad program header count {e_phnum}", None)
    raw = _pread(fd, table, e_phoff)
    if len(raw) != table:
        raise fail("truncated or malformed ELF (program headers past the end of the file)", None)
    info = ElfInfo(path=path, type=e_type, entry=e_entry, phoff=e_phoff, phentsize=e_phentsize,
                   phnum=e_phnum, file_size=size)
    for p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align in _PHDR.iter_unpack(raw):
        info.phdrs.append(Phdr(p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz))
    for p in info.phdrs:
        if p.type == PT_GNU_STACK:
            info.exec_stack = bool(p.flags & PF_X)       # the last one wins, as in Linux
        elif p.type == PT_LOAD and p.filesz and p.memsz and (
                p.offset > size or p.filesz > size - p.offset):
            # Deliberately before the point of no return (Linux maps it and the
            # process dies by SIGSEGV/SIGBUS): a truncated file is refused clearly.
            raise fail("truncated ELF (a segment extends past the end of the file)", None)
    return info


def _read_interp_name(fd: int, info: ElfInfo, path: str) -> None:
    """The first PT_INTERP's name, checked as load_elf_binary() does."""
    for p in info.phdrs:
        if p.type != PT_INTERP:
            continue
        if p.filesz > PATH_MAX or p.filesz < 2:
            raise _fail(path, f"bad PT_INTERP size {p.filesz}", "ENOEXEC")
        data = _pread(fd, p.filesz, p.offset)
        if len(data) != p.filesz:
            raise _fail(path, "PT_INTERP past the end of the file: Input/output error", "EIO")
        if data[-1:] != b"\0":
            raise _fail(path, "PT_INTERP is not NUL-terminated", "ENOEXEC")
        info.interp = data[:data.index(b"\0")]
        return


def read_elf(path: str) -> ElfInfo:
    """The validated headers of program `path` (ElfError as execve would fail)."""
    fd = _open_elf(path)
    try:
        info = _parse(fd, path, lambda what, _e: _fail(path, what))
        _read_interp_name(fd, info, path)
        return info
    finally:
        os.close(fd)


def check_elf(path: str) -> None:
    """Raise ElfError unless `path` is an AArch64 ELF executable we can load."""
    read_elf(path)


def read_interp(name: bytes, host: str, program: str) -> ElfInfo:
    """Open and check the interpreter `name` (at host path `host`) as Linux does before
    the point of no return: open_exec's errors, then ELIBBAD or EIO for a bad header."""
    shown = os.fsdecode(name)

    def bad(what: str, errno_name: str) -> ElfError:
        status = 127 if errno_name == "ENOENT" else 126
        return ElfError(f"{visible(program)}: cannot execute: bad ELF interpreter "
                        f"{visible(shown)}: {what}", status, errno_name)

    if len(name) >= PATH_MAX or any(len(c) > 255 for c in name.split(b"/")):
        raise bad(_STRERROR["ENAMETOOLONG"], "ENAMETOOLONG")
    if not name:
        # open_exec("") opens the working directory: not a regular file.
        raise bad(_STRERROR["EACCES"], "EACCES")
    try:
        fd = _open_elf(host)
    except ElfError as e:
        raise bad(_STRERROR.get(e.errno_name, e.errno_name), e.errno_name) from None
    try:
        if not os.access(host, os.X_OK):
            raise bad(_STRERROR["EACCES"], "EACCES")
        if len(_pread(fd, _EHDR.size, 0)) < _EHDR.size:
            raise bad("short header: " + _STRERROR["EIO"], "EIO")
        return _parse(fd, host, lambda what, _e: bad(what, "ELIBBAD"))
    finally:
        os.close(fd)


def check_program(path: str, resolve) -> tuple[ElfInfo, ElfInfo | None]:
    """Everything Linux checks before the point of no return: the program and its
    interpreter (found through `resolve`, guest path -> host path)."""
    info = read_elf(path)
    interp = None
    if info.interp is not None:
        try:
            host = resolve(info.interp)
        except (OSError, ValueError):
            host = os.fsdecode(info.interp)
        interp = read_interp(info.interp, host, path)
    return info, interp


def _prot(flags: int) -> int:
    return (1 if flags & PF_R else 0) | (2 if flags & PF_W else 0) | (4 if flags & PF_X else 0)


def _runs(spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Page-aligned (start, end, prot) spans -> disjoint runs; a page covered by several
    segments gets the union of their protections.  O(n log n) in the number of spans."""
    events: list[tuple[int, int, int]] = []
    for lo, hi, prot in spans:
        if hi > lo:
            events.append((lo, 1, prot))
            events.append((hi, -1, prot))
    events.sort()
    counts = [0] * 8
    out: list[tuple[int, int, int]] = []
    prev = None
    for addr, delta, prot in events:
        if prev is not None and addr > prev:
            cur = 0
            for p in range(8):
                if counts[p]:
                    cur |= p
            if any(counts):
                if out and out[-1][1] == prev and out[-1][2] == cur:
                    out[-1] = (out[-1][0], addr, cur)
                else:
                    out.append((prev, addr, cur))
        counts[prot] += delta
        prev = addr
    return out


def load_elf(mem: GuestSpace, path: str | ElfInfo, base: int | None = None, *,
             interp: bool = False) -> LoadedImage:
    """Map the PT_LOAD segments into `mem`; ET_DYN images go at `base` (or a default).

    `path` may be the ElfInfo `read_elf` returned.  Errors after the headers
    are ElfError with `segv` set (Linux's point of no return).  An interpreter
    (`interp`) of type ET_EXEC replaces what is mapped at its addresses, as
    load_elf_interp()'s MAP_FIXED does.
    """
    info = read_elf(path) if isinstance(path, str) else path
    path = info.path
    top = mem.TASK_SIZE
    loads = [p for p in info.loads if p.memsz]
    if not loads:
        raise fatal_error(path, "no loadable segments", "EINVAL")
    for p in loads:
        if p.filesz > p.memsz:
            raise fatal_error(path, "a segment's p_filesz exceeds its p_memsz", "EINVAL")
        if p.memsz > top or p.vaddr > top - p.memsz:
            raise fatal_error(path, "a segment lies past the end of the address space", "ENOMEM")
        if p.filesz:
            if (p.vaddr - p.offset) % PAGE:
                raise fatal_error(path, "a segment's p_vaddr and p_offset differ modulo the page size",
                             "EINVAL")
    lo = min(page_down(p.vaddr) for p in loads)
    hi = max(page_up(p.vaddr + p.memsz) for p in loads)
    if info.type == ET_DYN:
        want = mem.ET_DYN_BASE if base is None else base
        try:
            start = mem.find_free(hi - lo, want)
        except (MemoryError, OSError):
            raise fatal_error(path, "no room in the address space for the image", "ENOMEM") from None
        bias = start - lo
    else:
        bias = 0
        if interp:
            # load_elf_interp() maps an ET_EXEC interpreter with MAP_FIXED.
            if lo >= PAGE and hi <= top:
                mem.unmap(lo, hi - lo)
        if not mem.is_free(lo, hi - lo):
            raise fatal_error(path, f"segments at {lo:#x}-{hi:#x} overlap memory in use", "EEXIST")
    entry = (info.entry + bias) & _U64
    name = os.path.abspath(path)
    runs = _runs([(page_down(p.vaddr + bias), page_up(p.vaddr + bias + p.memsz), _prot(p.flags))
                  for p in loads])
    for start, end, prot in runs:
        try:
            mem.map(start, end - start, prot, name)
        except (OSError, MemoryError) as e:
            raise fatal_error(path, f"cannot map {end - start:#x} bytes at {start:#x}: "
                         f"{getattr(e, 'strerror', None) or e}", "ENOMEM") from None
    fd = _open_elf(path)
    try:
        win = mem.window
        for p in loads:
            if p.filesz:
                a = p.vaddr + bias
                view = win[a:a + p.filesz]
                done = 0
                while done < p.filesz:
                    n = os.preadv(fd, [view[done:]], p.offset + done)
                    if n <= 0:          # the file shrank since it was checked
                        raise fatal_error(path, "a segment extends past the end of the file", "EIO")
                    done += n
    finally:
        os.close(fd)
    phdr = 0
    for p in info.phdrs:
        if p.type == PT_PHDR:
            phdr = p.vaddr + bias
    if not phdr:
        # No PT_PHDR: the headers are where the first segment maps e_phoff.
        for p in loads:
            if p.offset <= info.phoff < p.offset + p.filesz:
                phdr = p.vaddr + bias + info.phoff - p.offset
                break
    interp_name = os.fsdecode(info.interp) if info.interp is not None else None
    return LoadedImage(path=name, entry=entry, base=bias, phdr=phdr & _U64,
                       phent=info.phentsize, phnum=info.phnum, brk=hi + bias,
                       interp=interp_name, exec_stack=info.exec_stack)
