"""What the loader needs of guest memory: an interface it is given, never imported.

The runtime's guest memory satisfies it; the loader places images and the
initial stack through these calls only, so it never imports the floor it
writes into.  The layout constants (where ET_DYN images, the interpreter and
the stack go) are the address space's choice, read from the object.
"""
from __future__ import annotations

PAGE = 4096          # the Linux AArch64 guest page size the emulator gives programs


def page_up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


def page_down(n: int) -> int:
    return n & ~(PAGE - 1)


class GuestSpace:
    """The interface (documentation only, duck-typed: `typing.Protocol` would cost start-up time)."""

    ET_DYN_BASE: int         # where a PIE goes unless told otherwise
    INTERP_BASE: int         # where the program interpreter goes
    STACK_TOP: int           # the initial stack ends here
    TASK_SIZE: int           # guest addresses end here (Linux's TASK_SIZE)
    window: memoryview       # the whole guest address space, byte-addressed
    brk_start: int
    brk_cur: int

    def map(self, addr: int, length: int, prot: int, name: str = "") -> None: ...
    def unmap(self, addr: int, length: int) -> None: ...
    def write(self, addr: int, data: bytes) -> None: ...
    def find_free(self, length: int, hint: int = 0) -> int: ...
    def is_free(self, addr: int, length: int) -> bool: ...
