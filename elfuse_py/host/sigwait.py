"""Host seam for waiting on signals: what the host offers besides signal handlers.

A guest that blocks a signal and then waits for it (sigtimedwait, sigwait,
signalfd) needs the host to hold the signal while it is blocked and to hand
it over later, with its siginfo.  Two hosts, two answers:

- Linux (`KERNEL_QUEUE`): the host kernel does both.  A blocked signal stays
  pending in the host kernel; `take` removes one with sigtimedwait and a zero
  timeout (the raw siginfo, which on Linux has the guest's layout: sender's
  pid and uid, sigqueue's value, a child's status); `wait` blocks in Python's
  sigwaitinfo/sigtimedwait; `signalfd` makes a host signalfd whose readiness
  says, without taking anything, that such a signal arrived.
- macOS: Python has neither sigtimedwait nor sigwaitinfo, and the kernel has
  no signalfd.  `KERNEL_QUEUE` is False and the signals layer keeps the
  portable branch: it catches the blocked signals the guest waits for with a
  handler that only queues them (elfuse_py/runtime/signals.py).  Under
  ELFUSE_HOST_COMPAT=darwin a Linux host takes that same branch.

Everything here speaks *host* signal numbers; the runtime translates.
"""
from __future__ import annotations

import os
from elfuse_py.host.hostsig import sig as hs     # (not `signal`: its enum costs start-up)

from elfuse_py.host import children, platform

HAVE_SIGTIMEDWAIT = hasattr(hs, "sigtimedwait") and hasattr(hs, "sigwaitinfo") \
    and platform.MODEL != "darwin"
HAVE_SIGNALFD = platform.IS_LINUX and platform.MODEL != "darwin"
# The host kernel can hold the guest's blocked signals and hand them over with siginfo.
KERNEL_QUEUE = HAVE_SIGTIMEDWAIT and HAVE_SIGNALFD

SIGINFO_SIZE = 128
_libc = None

# The emulator's own wake-up signal between guest processes (runtime/siginbox.py):
# a host signal that no guest signal is mapped to, so that it only ever means
# "look at your inbox".  macOS: SIGINFO (ignored by default; Linux has none).
# Linux, and the macOS host model on it: SIGPWR (30 on every Linux Python runs
# on; the model hides signal.SIGPWR as a Mac's Python lacks it), whose guest
# twin then travels between guests only through the inbox, like the
# real-time signals.  Its default action is to terminate: the emulator
# ignores it across its own execve until the new image has its handler.
WAKE_SIGNAL = int(hs.SIGINFO) if hasattr(hs, "SIGINFO") else 30


def _c():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _sigset(hosts):
    import ctypes
    buf = ctypes.create_string_buffer(256)      # >= sizeof(sigset_t) on every libc
    lc = _c()
    lc.sigemptyset(buf)
    for h in hosts:
        lc.sigaddset(buf, int(h))
    return buf


def pending() -> set[int]:
    """Host signals pending for this thread or the process."""
    return {int(h) for h in hs.sigpending()}


# rt_sigtimedwait's number where it is known: the raw call keeps si_code as the
# kernel gave it (glibc's sigtimedwait folds SI_TKILL into SI_USER).
_NR_RT_SIGTIMEDWAIT = {"x86_64": 128, "aarch64": 137, "arm64": 137, "riscv64": 137}


def take(hsig: int) -> bytes | None:
    """Remove pending host signal `hsig` (sigtimedwait, zero timeout): its raw siginfo, or None.

    Linux only (KERNEL_QUEUE).  The bytes are the host's siginfo_t, which on
    a Linux host has the Linux layout (the caller fixes si_signo).
    """
    import ctypes
    info = ctypes.create_string_buffer(SIGINFO_SIZE)
    zero = (ctypes.c_long * 2)(0, 0)
    nr = _NR_RT_SIGTIMEDWAIT.get(os.uname().machine)
    lc = _c()
    if nr is not None:
        kset = ctypes.c_uint64(1 << (hsig - 1))
        r = lc.syscall(ctypes.c_long(nr), ctypes.byref(kset), info, zero, ctypes.c_long(8))
    else:
        r = lc.sigtimedwait(_sigset((hsig,)), info, zero)
    if r < 0:
        return None
    return info.raw


def wait(hosts: set[int], timeout: float | None):
    """Block until a host signal of `hosts` is pending and take it (Python's
    sigwaitinfo/sigtimedwait): its struct_siginfo, None at the timeout.
    EINTR (a handler raised) propagates.  Linux only (HAVE_SIGTIMEDWAIT)."""
    if timeout is None:
        return hs.sigwaitinfo(hosts)
    return hs.sigtimedwait(hosts, timeout)


# Peeking at a child's state change without reaping it: waitid with WNOWAIT
# (host/children.py: os.waitid, or the libc's where Python lacks it).
HAVE_CHILD_PEEK = bool(children.WNOWAIT)
_CLD_NAMES = {getattr(os, n): n for n in ("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED",
                                          "CLD_STOPPED", "CLD_CONTINUED") if hasattr(os, n)}


def peek_child() -> tuple[str, int, int, int] | None:
    """A child whose exit, stop or continue can be waited for, left unreaped:
    (CLD_* name, pid, uid, status: an exit code or a host signal number), or None."""
    if not HAVE_CHILD_PEEK:
        return None
    try:
        r = children.peek("P_ALL", 0, children.WEXITED | children.WSTOPPED | children.WCONTINUED)
    except OSError:
        return None
    if r is None or not r.si_pid or r.si_code not in _CLD_NAMES:
        return None
    return _CLD_NAMES[r.si_code], r.si_pid, r.si_uid, r.si_status


def signalfd(fd: int, hosts: set[int]) -> int:
    """Create (fd -1) or re-mask a host signalfd over `hosts` (non-blocking, close-on-exec)."""
    lc = _c()
    r = lc.signalfd(fd, _sigset(hosts), os.O_NONBLOCK | os.O_CLOEXEC)
    if r < 0:
        import ctypes
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r
