"""Waiting for the emulator's child processes: one `waitid` on every host.

The guest's waitid (and the peeks that wait4, pidfd and SIGCHLD delivery
need: "has this child exited?" without reaping it, WNOWAIT) want the host's
waitid.  Python has `os.waitid` on Linux, but on macOS only from Python 3.13
on (CPython gh-113536: the call was excluded for problems in ancient macOS
releases).  macOS's libc has had a working waitid(2) for a long time, so where
Python lacks the name this module calls the libc's directly through ctypes.

The libc path needs the host's idtype_t values and siginfo_t layout, which
differ: macOS puts si_pid at offset 12, Linux at 16 (after padding for its
union).  Options are the host's own values, taken from `os` by name (WEXITED,
WSTOPPED, WCONTINUED, WNOWAIT exist on both hosts in every Python).

Results have the shape of `os.waitid_result` (si_pid, si_uid, si_signo,
si_status, si_code), or None when WNOHANG found nothing, as `os.waitid` does.
Under the macOS host model on Linux (Python < 3.13 hides the name) the libc
path runs with Linux's layout; only a Mac runs it with macOS's.
"""
from __future__ import annotations

import errno
import os
import struct

from elfuse_py.host import platform


class WaitResult(tuple):
    """waitid's answer where os.waitid is missing, shaped as its waitid_result: the tuple
    (si_pid, si_uid, si_signo, si_status, si_code), each also by name.  Written out, not
    a collections.namedtuple: that package costs ~1.5 ms of every start-up, and the
    namedtuple compiles its own source at import."""

    __slots__ = ()

    def __new__(cls, si_pid: int, si_uid: int, si_signo: int, si_status: int, si_code: int):
        return tuple.__new__(cls, (si_pid, si_uid, si_signo, si_status, si_code))

    si_pid = property(lambda self: self[0])
    si_uid = property(lambda self: self[1])
    si_signo = property(lambda self: self[2])
    si_status = property(lambda self: self[3])
    si_code = property(lambda self: self[4])


# idtype_t, and where siginfo_t keeps signo, code, pid, uid, status.
_LAYOUT = {
    "linux": ({"P_ALL": 0, "P_PID": 1, "P_PGID": 2}, struct.Struct("<i4xi4xiIi")),
    "darwin": ({"P_ALL": 0, "P_PID": 1, "P_PGID": 2}, struct.Struct("<i4xiiIi")),
}
_SIGINFO_SIZE = 128     # both hosts' siginfo_t fit (Linux 128, macOS 104)

WEXITED, WSTOPPED, WCONTINUED = os.WEXITED, os.WSTOPPED, os.WCONTINUED
WNOHANG = os.WNOHANG
WNOWAIT = getattr(os, "WNOWAIT", 0)
IDTYPES = ("P_ALL", "P_PID", "P_PGID")

_libc = None


def _libc_waitid(idtype: str, ident: int, options: int) -> WaitResult | None:
    global _libc
    import ctypes                       # (only on a host without os.waitid: not at start-up)
    ids, layout = _LAYOUT[platform.KIND]
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.waitid.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_void_p, ctypes.c_int]
    buf = ctypes.create_string_buffer(_SIGINFO_SIZE)
    while True:
        if _libc.waitid(ids[idtype], ident & 0xFFFFFFFF, buf, options) == 0:
            break
        e = ctypes.get_errno()
        if e != errno.EINTR:
            raise OSError(e, os.strerror(e))
        # EINTR: back in Python, the host signal handlers run now; one that
        # must cut the wait short raises (PEP 475 retries the rest, as here).
    signo, code, pid, uid, status = layout.unpack_from(buf.raw)
    if pid == 0:
        return None
    return WaitResult(pid, uid, signo, status, code)


def waitid(idtype: str, ident: int, options: int) -> WaitResult | None:
    """The host's waitid(idtype, ident, options); `idtype` is "P_ALL", "P_PID" or
    "P_PGID", `options` host bits.  Raises OSError (ChildProcessError…)."""
    if hasattr(os, "waitid"):
        return os.waitid(getattr(os, idtype), ident, options)
    return _libc_waitid(idtype, ident, options)


def peek(idtype: str, ident: int, options: int) -> WaitResult | None:
    """Like waitid with WNOHANG|WNOWAIT: a child that a wait would report, left unreaped."""
    return waitid(idtype, ident, options | WNOHANG | WNOWAIT)
