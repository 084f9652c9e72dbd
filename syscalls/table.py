"""The syscall table: one entry per AArch64 syscall number.

Each entry names the syscall, its handler, its support level and a one-line
note, plus an argument spec used only by the strace printer.  Handler modules
register with the :func:`syscall` decorator, each entry recording the module
that registered it; `syscalls.lazy` builds the list the CPU hook indexes by
number (importing a handler's module on the number's first call), and
`syscalls.registry` hands it to the runtime at boot.

Handlers take the register values they need (the count comes from the
function's signature), decoded by the entry's argument kinds: fd, dirfd,
signal and clockid arrive as signed C ints, uint as an unsigned one, the rest
as raw 64-bit values (`ARG_CODES`).  They return the result as a Python int: a value, or
``-errno`` with a *Linux* errno.  They may instead raise ``OSError`` (host
errno, translated by name), ``GuestFault`` (-EFAULT), or return ``None`` when
they have set the registers themselves (exit, execve, rt_sigreturn).
"""
from __future__ import annotations

import struct
import sys
from _collections_abc import Callable     # (collections.abc's own: the package costs start-up)

from elfuse_py.syscalls.numbers import SYSCALL_NAMES, SYSCALL_NUMBERS

FULL = "full"          # behaves as on Linux
PARTIAL = "partial"    # the common cases; the note says what is missing
ENOSYS_LEVEL = "enosys"  # deliberately -ENOSYS, as Linux without the feature


class Syscall:
    """One entry of the table (a plain class: `dataclasses` costs milliseconds of start-up)."""

    __slots__ = ("nr", "name", "handler", "level", "note", "args", "ret", "interruptible", "restart",
                 "module")

    def __init__(self, nr: int, name: str, handler: Callable | None = None, level: str = ENOSYS_LEVEL,
                 note: str = "", args: tuple[str, ...] = (), ret: str = "int",
                 interruptible: bool = False, restart: bool = True, module: str | None = None) -> None:
        self.nr = nr
        self.name = name
        self.handler = handler
        self.level = level
        self.note = note
        self.args = args
        self.ret = ret                  # how strace shows the result: int, hex, fd
        # A guest signal may cut the handler's blocking host call short (-EINTR,
        # or a re-run under SA_RESTART unless `restart` is False: the calls Linux
        # never restarts after a handler, signal(7)).
        self.interruptible = interruptible
        self.restart = restart
        # The module whose import made this entry (None: nobody registered it yet).
        # The lazy dispatch (syscalls/lazy.py) imports it on the number's first call.
        self.module = module

    def __repr__(self) -> str:
        return "Syscall(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


TABLE: dict[int, Syscall] = {nr: Syscall(nr, name) for nr, name in SYSCALL_NAMES.items()}


def syscall(name: str, args: str = "", level: str = FULL, note: str = "", ret: str = "int",
            interruptible: bool = False, restart: bool = True) -> Callable[[Callable], Callable]:
    """Register the decorated function as the handler of syscall `name`.

    `args` is a comma-separated list of argument kinds (fd, dirfd, int, uint,
    long, hex, ptr, path, str, buf_in, buf_out, size, oflags, mode, signal,
    flags...): strace prints by them, and those in ARG_CODES also decode the
    register (a C int fd arrives sign-extended from its low 32 bits).  `interruptible` marks a
    handler whose blocking host call a guest signal may interrupt; `restart`
    False marks one Linux never restarts after a handler (signal(7)).
    """
    nr = SYSCALL_NUMBERS[name]

    def register(fn: Callable) -> Callable:
        TABLE[nr] = Syscall(nr, name, fn, level, note,
                            tuple(a.strip() for a in args.split(",") if a.strip()), ret,
                            interruptible, restart, _caller_module())
        return fn

    return register


def not_supported(name: str, note: str) -> None:
    """Mark `name` as deliberately returning -ENOSYS (no warning is printed)."""
    nr = SYSCALL_NUMBERS[name]
    TABLE[nr] = Syscall(nr, name, None, ENOSYS_LEVEL, note, module=_caller_module())


def _caller_module() -> str:
    """The module registering an entry: the caller of syscall()'s decorator or of
    not_supported() (a handler may be defined in one module and registered by another;
    what matters is whose import makes the entry)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back              # a helper of this module (none today)
    return frame.f_globals["__name__"] if frame is not None else "?"


# Argument decoding, driven by the entry's kinds: the kernel takes these as C
# (unsigned) ints and ignores the upper half of the register, so the handler
# gets them already truncated and sign-extended; every other kind is the raw
# 64-bit register value.  Each entry becomes one struct format over the
# register file, so decoding costs the same single unpack as raw arguments.
ARG_CODES = {"fd": "i4x", "dirfd": "i4x", "signal": "i4x", "clockid": "i4x", "uint": "I4x"}
_DECODERS: dict[str, Callable] = {}


def decoder(entry: Syscall) -> Callable | None:
    """The function that turns the register file into `entry`'s handler arguments (None: it takes none)."""
    n = entry.handler.__code__.co_argcount
    if not n:
        return None
    kinds = entry.args
    fmt = "<" + "".join(ARG_CODES.get(kinds[i] if i < len(kinds) else "", "Q") for i in range(n))
    dec = _DECODERS.get(fmt)
    if dec is None:
        dec = _DECODERS[fmt] = struct.Struct(fmt).unpack_from
    return dec
