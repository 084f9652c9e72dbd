"""Lazy handler areas: a syscall's module is imported on the number's first call.

Importing every handler area at boot cost ~12 ms of each start-up, for a
program that calls a handful of syscalls.  So `fill_in()` gives each number
that the static index (`syscalls/handler_index.py`, generated from the table)
says some module registers, and whose module is not loaded yet, a
placeholder entry `(FirstCall, RAW6)`: RAW6 hands the six argument registers
over raw.  The first call imports the module, takes the number's real table
entry (the module's import registered it, host model and all), puts
`(handler, decode)` in the slot and runs the handler on the registers
decoded as that entry says.  Every later call finds the real entry: the hot
path (`dispatch[nr]` in runtime/cpu.py) is unchanged.

Code that wraps dispatch entries (the thread-parking layer, the epoll
emulation's read/write counting) asks `entry()` first, which fills the slot
if it still holds a placeholder; a placeholder someone wrapped anyway keeps
serving through the wrapper (it only ever replaces itself).  The parking
layer, which wraps some forty calls when a process's second thread appears,
uses `wrap_when_loaded` instead for the numbers not called yet: the wrapper
goes on when the module loads, and a first thread does not import a dozen
handler areas (~10 ms) the program may never call.

What a module's import registers elsewhere (`signals.register_interruptible`
of its helpers, fork hooks, WRAP entries of the parked calls) concerns only
state that module's own handlers create, so it is in place before it is needed.
"""
from __future__ import annotations

import struct

from elfuse_py.syscalls.handler_index import INDEX
from elfuse_py.syscalls.table import TABLE, decoder

_RAW6 = struct.Struct("<6Q")
RAW6 = _RAW6.unpack_from            # a placeholder's "decoder": the registers as they are


def numbers() -> dict[int, str]:
    """Number -> the module that registers it, from the static index."""
    return {nr: mod for mod, nrs in INDEX.items() for nr in nrs}


def load(nr: int, module: str):
    """Import `module` and return number `nr`'s real dispatch entry (None: no handler).

    The handler's blocking helpers and its no-restart rule reach the signals
    layer here, before the handler first runs (runtime/signals.py reads both
    when a guest signal interrupts a host call).
    """
    __import__(module)              # (importlib itself would cost start-up)
    e = TABLE[nr]
    if e.handler is None:
        return None
    from elfuse_py.runtime import signals
    if e.interruptible:
        signals.register_interruptible(e.handler)
    if not e.restart:
        signals.register_no_restart(nr)
    return e.handler, decoder(e)


class FirstCall:
    """The placeholder handler of number `nr` in `dispatch` until its module is imported."""

    __slots__ = ("dispatch", "nr", "module", "on_unknown", "real", "placeholder", "wrap")

    def __init__(self, dispatch: list, nr: int, module: str, on_unknown) -> None:
        self.dispatch, self.nr, self.module, self.on_unknown = dispatch, nr, module, on_unknown
        self.real = None
        self.placeholder = (self, RAW6)
        self.wrap = None                # handler -> wrapped handler, applied at load

    def fill(self):
        """Load the real entry and put it in the slot unless someone wrapped the placeholder."""
        if self.real is None:
            real = load(self.nr, self.module) or (None, None)
            if real[0] is not None and self.wrap is not None:
                real = (self.wrap(real[0]), real[1])
            self.real = real
        d, nr = self.dispatch, self.nr
        if list.__getitem__(d, nr) is self.placeholder:
            d[nr] = self.real if self.real[0] is not None else None
        return self.real

    def __call__(self, *raw):
        fn, decode = self.real or self.fill()
        if fn is None:
            return self.on_unknown(self.nr)  # the module marks it unsupported (or this host lacks it)
        return fn(*decode(_RAW6.pack(*raw))) if decode else fn()


def entry(dispatch: list, nr: int):
    """`dispatch[nr]` with a placeholder replaced by the real entry (for code that wraps it)."""
    e = list.__getitem__(dispatch, nr)
    if e is not None and type(e[0]) is FirstCall and e is e[0].placeholder:
        e[0].fill()
        return list.__getitem__(dispatch, nr)
    return e


def wrap_when_loaded(dispatch: list, nr: int, factory) -> bool:
    """If `dispatch[nr]` still waits for its module, have `factory(handler)` replace
    the handler when it loads, and say True; False if the entry is there now."""
    e = list.__getitem__(dispatch, nr)
    if e is not None and type(e[0]) is FirstCall and e is e[0].placeholder and e[0].real is None:
        e[0].wrap = factory
        return True
    return False


def fill_all(dispatch: list) -> None:
    """Replace every placeholder in `dispatch` (the --strace tracer needs the real entries)."""
    for nr in range(len(dispatch)):
        entry(dispatch, nr)


def fill_in(dispatch: list, on_unknown) -> list:
    """Fill `dispatch` (the list the CPU hook will index): the real entry of each
    number whose module is loaded, a placeholder for each other one some module
    registers, None elsewhere."""
    lazy = numbers()
    for nr, e in TABLE.items():
        if nr >= len(dispatch):
            continue
        if e.handler is not None:
            dispatch[nr] = (e.handler, decoder(e))
        elif e.module is None and nr in lazy:
            dispatch[nr] = FirstCall(dispatch, nr, lazy[nr], on_unknown).placeholder
        else:
            dispatch[nr] = None
    return dispatch


# Handler areas a fork child usually calls on its way to an execve (opening and
# redirecting fds, closing them, the exec itself).  The parent imports them before
# its first fork, so that every child does not import them again: each child's
# imports are its own, and cost a fork+exec ~2 ms.
FORK_CHILD_AREAS = tuple("elfuse_py.syscalls." + m
                         for m in ("execve", "fdops", "fileio", "ioctl", "dirs"))
_fork_ready = False


def before_fork() -> None:
    """In a process about to fork for the first time: import what its children need."""
    global _fork_ready
    if not _fork_ready:
        _fork_ready = True
        for name in FORK_CHILD_AREAS:
            __import__(name)
