"""Load a program image into a fresh guest address space: ELF, interpreter, stack and auxv.

The caller (the composition root, for the first program and for each exec'd
one) gives the address space, the CPU's hwcaps and a resolver from guest paths
to host paths (the sysroot); this module imports nothing of the runtime.

`load_program` first does every check Linux makes before execve's point of no
return (`elf.check_program`: the program's headers, its PT_INTERP and the
interpreter's headers), so those failures leave the address space untouched;
only then does it map anything (see loader/elf.py for what fails afterwards).
"""
from __future__ import annotations

import os
from _collections_abc import Callable     # (collections.abc's own: the package costs start-up)

from elfuse_py.loader import stack as st
from elfuse_py.loader.elf import fatal_error, check_program, load_elf
from elfuse_py.loader.space import PAGE, GuestSpace, page_up


class Program:
    """What load_program produced."""

    __slots__ = ("exe", "entry", "sp", "auxv")

    def __init__(self, exe: str, entry: int, sp: int, auxv: bytes) -> None:
        self.exe = exe          # host path of the program file
        self.entry = entry      # where the CPU starts: the interpreter's entry if there is one
        self.sp = sp            # the initial stack pointer
        self.auxv = auxv        # the auxiliary vector as written (/proc/self/auxv)


def load_program(mem: GuestSpace, path: str, argv: list[bytes], envp: list[bytes], execfn: bytes,
                 *, resolve: Callable[[bytes], str], hwcap: tuple[int, int]) -> Program:
    """Map `path` (and its PT_INTERP, found through `resolve`) and build the initial stack."""
    info, interp_info = check_program(path, resolve)
    image = load_elf(mem, info)
    entry = image.entry
    interp_base = 0
    if interp_info is not None:
        interp = load_elf(mem, interp_info, base=mem.INTERP_BASE, interp=True)
        interp_base, entry = interp.base, interp.entry
    if entry >= mem.TASK_SIZE:
        # load_elf_binary(): BAD_ADDR(elf_entry) is EINVAL after the point of no return.
        raise fatal_error(path, f"entry point {entry:#x} is outside the address space", "EINVAL")
    mem.brk_start = mem.brk_cur = page_up(image.brk)
    try:
        st.map_stack(mem, executable=image.exec_stack)
    except (OSError, MemoryError):
        raise fatal_error(path, "no room for the stack", "ENOMEM") from None
    auxv = [
        (st.AT_PHDR, image.phdr), (st.AT_PHENT, image.phent), (st.AT_PHNUM, image.phnum),
        (st.AT_PAGESZ, PAGE), (st.AT_BASE, interp_base), (st.AT_FLAGS, 0),
        (st.AT_ENTRY, image.entry), (st.AT_UID, os.getuid()), (st.AT_EUID, os.geteuid()),
        (st.AT_GID, os.getgid()), (st.AT_EGID, os.getegid()), (st.AT_SECURE, 0),
        (st.AT_HWCAP, hwcap[0]), (st.AT_HWCAP2, hwcap[1]),
        (st.AT_CLKTCK, os.sysconf("SC_CLK_TCK")), (st.AT_MINSIGSTKSZ, st.MINSIGSTKSZ),
    ]
    sp, auxv_bytes = st.build_stack(mem, argv, envp, auxv, execfn)
    return Program(exe=image.path, entry=entry, sp=sp, auxv=auxv_bytes)
