"""Linux AArch64 syscalls: the table and the handler modules that fill it.

Importing this package imports every handler module, each of which registers
its handlers in `syscalls.table.TABLE`.
"""
from __future__ import annotations

from elfuse_py import lerrno, log

from . import table
from .table import ENOSYS_LEVEL, TABLE, dispatch_list

# Handler modules, by area.  Import order does not matter.
from . import events, fs, futex, info, mem, memfd, net, notify, poll, proc, sched, signal, time, xattr  # noqa: E402,F401
from . import blocking  # noqa: E402,F401  (wraps the calls above once threads exist)


def on_unknown(nr: int) -> int:
    """Result for a number with no handler: -ENOSYS, and one warning unless expected."""
    entry = TABLE.get(nr)
    if entry is None:
        log.warn_once(f"nr{nr}", f"unknown syscall number {nr}")
    elif entry.level != ENOSYS_LEVEL or not entry.note:
        log.warn_once(entry.name, f"unsupported syscall {entry.name} (nr {nr})")
    return -lerrno.ENOSYS


__all__ = ["TABLE", "dispatch_list", "on_unknown", "table"]
