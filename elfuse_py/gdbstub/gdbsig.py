"""Linux signal numbers <-> gdb's (the remote protocol speaks gdb's own numbering).

gdb numbers signals its own way (include/gdb/signals.def: SIGBUS is 10, SIGUSR1
30, SIGCHLD 20...), so stop replies and C/S packets are translated by name.
Linux real-time signals: 32 is gdb's REALTIME_32 (77), 33-63 are 45-75 and 64
is 78.  A signal gdb has no name for (SIGSTKFLT) is GDB_SIGNAL_UNKNOWN.
"""
from __future__ import annotations

from elfuse_py.runtime.signums import SIGNAL_NAMES

GDB_SIGNAL_UNKNOWN = 143
_GDB_BY_NAME = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
    "SIGFPE": 8, "SIGKILL": 9, "SIGBUS": 10, "SIGSEGV": 11, "SIGSYS": 12, "SIGPIPE": 13,
    "SIGALRM": 14, "SIGTERM": 15, "SIGURG": 16, "SIGSTOP": 17, "SIGTSTP": 18, "SIGCONT": 19,
    "SIGCHLD": 20, "SIGTTIN": 21, "SIGTTOU": 22, "SIGIO": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
    "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGUSR1": 30, "SIGUSR2": 31, "SIGPWR": 32,
}


def _tables() -> tuple[dict[int, int], dict[int, int]]:
    to_gdb: dict[int, int] = {0: 0}
    for num, name in SIGNAL_NAMES.items():
        to_gdb[num] = _GDB_BY_NAME.get(name, GDB_SIGNAL_UNKNOWN)
    to_gdb[32] = 77
    for num in range(33, 64):
        to_gdb[num] = 45 + num - 33
    to_gdb[64] = 78
    from_gdb = {g: n for n, g in to_gdb.items() if g != GDB_SIGNAL_UNKNOWN}
    return to_gdb, from_gdb


TO_GDB, FROM_GDB = _tables()


def to_gdb(sig: int) -> int:
    return TO_GDB.get(sig, GDB_SIGNAL_UNKNOWN)


def from_gdb(gsig: int) -> int:
    """The Linux signal for gdb's number (0 for none or one Linux lacks)."""
    return FROM_GDB.get(gsig, 0)
