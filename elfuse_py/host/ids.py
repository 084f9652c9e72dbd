"""The process's user and group ids: real, effective and saved, on every host.

Guests change ids with setresuid/setresgid: glibc and musl implement seteuid
and setegid with them, so every program that drops or regains privileges
uses them.  Linux hosts have the calls (`os.setresuid`…).  macOS has no
saved-id calls at all (no setresuid, no getresuid): there this module keeps
the saved ids itself and reaches the requested (real, effective, saved)
triple with the BSD calls, setreuid(real, saved) and then seteuid(effective).
BSD's setreuid sets the saved id to the new effective one when the real id
changes or the effective id differs from the real one, which is how the
saved id is placed; seteuid never touches it.

Permission follows Linux's rule for a caller without CAP_SETUID/CAP_SETGID
(an effective uid other than 0): each id given must be one of the current
real, effective or saved ids, else EPERM; the host then checks again.  Under
the macOS host model on Linux the same path runs (Linux's setreuid places the
saved id the same way).
"""
from __future__ import annotations

import errno
import os

_HAVE_RES = all(hasattr(os, n) for n in ("setresuid", "setresgid", "getresuid", "getresgid"))


class _Saved:
    """The saved ids where the host cannot report them (set at start: the effective ones)."""
    uid = os.geteuid()
    gid = os.getegid()


def getresuid() -> tuple[int, int, int]:
    if _HAVE_RES:
        return os.getresuid()
    return os.getuid(), os.geteuid(), _Saved.uid


def getresgid() -> tuple[int, int, int]:
    if _HAVE_RES:
        return os.getresgid()
    return os.getgid(), os.getegid(), _Saved.gid


def _target(cur: tuple[int, int, int], want: tuple[int, int, int], privileged: bool
            ) -> tuple[int, int, int]:
    if not privileged and any(w != -1 and w not in cur for w in want):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))
    return tuple(c if w == -1 else w for c, w in zip(cur, want))


def _apply(cur, new, setre, sete) -> None:
    """Reach `new` (real, effective, saved) from `cur` with BSD's calls."""
    if new == cur:
        return
    if (new[0], new[2]) != (cur[0], cur[2]):
        setre(new[0], new[2])         # real, and (as BSD places it) saved = effective
    sete(new[1])


def setresuid(r: int, e: int, s: int) -> None:
    """Linux setresuid: -1 leaves an id unchanged.  Raises OSError (EPERM)."""
    if _HAVE_RES:
        os.setresuid(r, e, s)
        return
    cur = getresuid()
    new = _target(cur, (r, e, s), cur[1] == 0)
    _apply(cur, new, os.setreuid, os.seteuid)
    _Saved.uid = new[2]


def setresgid(r: int, e: int, s: int) -> None:
    """Linux setresgid: -1 leaves an id unchanged.  Raises OSError (EPERM)."""
    if _HAVE_RES:
        os.setresgid(r, e, s)
        return
    cur = getresgid()
    new = _target(cur, (r, e, s), os.geteuid() == 0)
    _apply(cur, new, os.setregid, os.setegid)
    _Saved.gid = new[2]


def note_setuid(uid: int, privileged: bool) -> None:
    """After a successful setuid(): a privileged caller set the saved id too."""
    if privileged:
        _Saved.uid = uid


def note_setgid(gid: int, privileged: bool) -> None:
    if privileged:
        _Saved.gid = gid


def note_setreuid(r: int, e: int, old_real: int) -> None:
    """After a successful setreuid(): Linux sets the saved id to the new effective
    one when the real id is set or the effective one differs from the old real id."""
    if r != -1 or (e != -1 and e != old_real):
        _Saved.uid = os.geteuid()


def note_setregid(r: int, e: int, old_real: int) -> None:
    if r != -1 or (e != -1 and e != old_real):
        _Saved.gid = os.getegid()
