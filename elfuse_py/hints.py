"""What to tell a user whose program did not start: the CLI's hints after a load error.

The loader's error says what failed ("/lib/ld-linux-aarch64.so.1: No such
file or directory", "ELF for EM_X86_64"); this module says why and what to do
about it, from a look at the files involved:

- a dynamically linked program whose interpreter (PT_INTERP) is missing, or
  is not a Linux AArch64 program, needs a guest root: `-L ROOT` or
  ELFUSE_SYSROOT;
- a program for another architecture given under `-L ROOT` whose path
  names an AArch64 file inside ROOT was probably meant as ROOT/... (the
  program path on the command line is a host path, as with qemu-user);
- any other foreign ELF: elfuse-py runs Linux AArch64 programs only.

Each function returns the lines to print (no `elfuse-py: ` lead), or [] when
it has nothing to add.
"""
from __future__ import annotations

import os
import struct
from typing import Callable

EM_AARCH64 = 183
PT_INTERP = 3
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
MACHINE_NAMES = {3: "x86 (32-bit)", 62: "x86-64", 40: "32-bit ARM", 183: "AArch64",
                 243: "RISC-V", 8: "MIPS", 21: "PowerPC64", 22: "s390"}


def _header(path: str) -> tuple[int, bytes | None] | None:
    """(e_machine, PT_INTERP contents or None) of a 64-bit little-endian ELF, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(_EHDR.size)
            if len(head) < _EHDR.size or head[:4] != b"\x7fELF":
                return None
            if head[4] != 2 or head[5] != 1:        # only ELF64 LE has the fields read below
                return struct.unpack_from("<H", head, 18)[0] if head[5] == 1 else 0, None
            (_ident, _type, machine, _v, _entry, phoff, _sh, _fl, _eh, phentsize, phnum,
             *_rest) = _EHDR.unpack(head)
            for i in range(min(phnum, 256)):
                f.seek(phoff + i * phentsize)
                ph = f.read(_PHDR.size)
                if len(ph) < _PHDR.size:
                    break
                p_type, _flags, offset, _va, _pa, filesz, *_ = _PHDR.unpack(ph)
                if p_type == PT_INTERP:
                    f.seek(offset)
                    return machine, f.read(min(filesz, 4096)).split(b"\0")[0]
            return machine, None
    except OSError:
        return None


def machine_of(path: str) -> int | None:
    h = _header(path)
    return h[0] if h else None


def interpreter_of(path: str) -> bytes | None:
    """The PT_INTERP path of an ELF (None for a static program or a non-ELF)."""
    h = _header(path)
    return h[1] if h else None


_SYSROOT_HINT = ("hint: give it a Linux AArch64 root holding the interpreter and the "
                 "libraries: elfuse-py -L ROOT {prog}  (or ELFUSE_SYSROOT=ROOT)")


def for_load_error(program: str, elf_path: str, sysroot: str | None,
                   resolve: Callable[[bytes], str]) -> list[str]:
    """Lines explaining why `program` (resolved to the ELF `elf_path`) did not load.

    `resolve` maps a guest path to the host path the emulator uses (the sysroot's).
    """
    h = _header(elf_path)
    if h is None:
        return []
    machine, interp = h
    if machine == EM_AARCH64:
        return _dynamic(program, interp, sysroot, resolve) if interp else []
    return _foreign(program, elf_path, machine, sysroot)


def _dynamic(program: str, interp: bytes, sysroot: str | None, resolve) -> list[str]:
    shown = os.fsdecode(interp)
    host = resolve(interp)
    where = f" in the guest root {sysroot}" if sysroot else ""
    if not os.path.exists(host):
        lines = [f"{program} is dynamically linked: its interpreter {shown} was not found{where}"]
    elif machine_of(host) != EM_AARCH64:
        lines = [f"{program} is dynamically linked: its interpreter {shown} (host file {host}) "
                 f"is not a Linux AArch64 program"]
    else:
        return []
    if sysroot:
        lines.append(f"hint: {sysroot} does not look like a Linux AArch64 root (-L / ELFUSE_SYSROOT "
                     f"must name one that has {shown} and the program's libraries)")
    else:
        lines.append(_SYSROOT_HINT.format(prog=program))
    return lines


def _foreign(program: str, elf_path: str, machine: int, sysroot: str | None) -> list[str]:
    if sysroot and os.path.isabs(program):
        inside = os.path.join(sysroot, program.lstrip("/"))
        if os.path.isfile(inside) and machine_of(os.path.realpath(inside)) == EM_AARCH64:
            return [f"hint: {program} is the host's {MACHINE_NAMES.get(machine, 'foreign')} "
                    f"program; the guest root's is {inside}: elfuse-py -L {sysroot} {inside}  "
                    f"(the program path is a host path; -L applies to the paths the guest uses)"]
    what = MACHINE_NAMES.get(machine)
    if what is None:
        return []
    return [f"hint: elfuse-py runs Linux AArch64 programs; {program} is built for {what}"]


def check_sysroot(path: str, source: str) -> str | None:
    """An error message when the guest root `path` is unusable; `source` names where
    it came from as the user wrote it ("-L ", "ELFUSE_SYSROOT=")."""
    if not os.path.exists(path):
        return f"{source}{path}: no such directory"
    if not os.path.isdir(path):
        return f"{source}{path}: not a directory (it must name the guest's root directory)"
    return None
