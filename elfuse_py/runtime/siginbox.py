"""Signals between guest processes, with their siginfo: one inbox per guest process.

A Mac has no real-time signals and no sigqueue, and a Python signal handler
gets no siginfo and merges repeated arrivals of one signal, so neither host
signals nor the host kernel's queue can carry what Linux promises between
two processes: real-time signals queued (never merged, up to
RLIMIT_SIGPENDING), each with its si_code, si_pid, si_uid and si_value, in
order; glibc's internal 32 and 33; sigqueue's value of a standard signal.
The same transport therefore serves every host (Linux, macOS and the macOS
model on Linux), so all three run one code path:

- every guest process owns an **inbox**, a file `sigq/<pid>` in the user's
  private runtime directory (runtime/rundir.py), made when its first image
  boots (the parent makes a fork child's before fork returns to the guest,
  so a signal sent at once to the new pid is not lost) and removed when the
  guest ends (a SIGKILLed guest's file is cleared by the next top-level
  guest: `sweep`);
- a sender appends one 128-byte Linux siginfo record under flock, then sends
  the host's **wake-up signal** (`host/sigwait.WAKE_SIGNAL`: SIGINFO on
  macOS, SIGPWR on Linux - a host signal no guest signal is mapped to, so
  it means only "look at your inbox");
- the receiver's handler for it (runtime/signals.py `_on_wake`) drains the
  whole inbox into the guest's own queue (proc.sig.infos) at its next
  delivery point: a blocking host call is cut short with EINTR like for any
  host signal, and a guest running CPU-bound code is stopped by the watcher
  thread.  Records of one sender arrive in the order sent.

Which signals take this path (`signals.send_to_process`): every signal a
guest sends another guest's process with a siginfo the host cannot carry -
the real-time ones (32..64), and any signal sent with rt_sigqueueinfo or
pidfd_send_signal's siginfo.  A plain kill() of a standard signal stays a host
kill (the host kernel applies SIG_DFL, stops and continues; standard
signals merge anyway).  A process without an inbox is not a guest (or is
gone): the host signal is sent where the host has one, else the call fails
as Linux would for a process that cannot be reached.
"""
from __future__ import annotations

import fcntl
import os

from elfuse_py.host import sigwait as hostsig
from elfuse_py.runtime import lerrno, rundir
from elfuse_py.runtime.process import proc

RECORD = 128                     # one Linux siginfo_t per record
WAKE = hostsig.WAKE_SIGNAL
_fd = -1                         # our inbox (reserved fd range), -1 until opened
_owner = 0                       # the pid whose inbox _fd is
_dir: str | None = None


def _path(pid: int) -> str:
    global _dir
    if _dir is None:
        _dir = rundir.subdir("sigq")
    return os.path.join(_dir, str(pid))


def open_own(fresh: bool) -> None:
    """Open (or create) this process's inbox.  `fresh`: a top-level guest's first
    image, whose pid no guest had before: an old file is a dead guest's."""
    global _fd, _owner
    me = os.getpid()
    if _fd >= 0 and _owner == me:
        if os.path.exists(_path(me)):
            return
        os.close(_fd)           # an earlier guest of this process (the Python API) removed it
        _fd = -1
    close_inherited()
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | (os.O_TRUNC if fresh else 0)
    try:
        fd = os.open(_path(me), flags, 0o600)
    except OSError:
        return                   # no runtime directory: guests cannot reach us (kill still works)
    _fd, _owner = proc.fds.reserve(fd), me


def close_inherited() -> None:
    """A fork child: the parent's inbox descriptor is not ours."""
    global _fd
    if _fd >= 0 and _owner != os.getpid():
        try:
            os.close(_fd)
        except OSError:
            pass
        _fd = -1


def prepare_child(pid: int) -> None:
    """Parent side of fork: the child's inbox exists before the guest learns its pid."""
    try:
        fd = os.open(_path(pid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        os.close(fd)
    except OSError:
        pass


def remove_own() -> None:
    """Exit hook: the guest ends, its inbox goes (records still in it are lost, as on Linux)."""
    if _fd >= 0 and _owner == os.getpid():
        try:
            os.unlink(_path(_owner))
        except OSError:
            pass


def sweep() -> None:
    """Remove the inboxes of guests that died without their exit hook (SIGKILL)."""
    try:
        d = os.path.dirname(_path(0))
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        if not n.isdigit():
            continue
        try:
            os.kill(int(n), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(d, n))
            except OSError:
                pass
        except OSError:
            pass


def has_inbox(pid: int) -> bool:
    try:
        return os.path.exists(_path(pid))
    except OSError:
        return False


def send(pid: int, info: bytes) -> int | None:
    """Post `info` (a Linux siginfo, 128 bytes) to guest process `pid` and wake it.

    0 when posted; None when `pid` has no inbox (not a guest); a negative
    Linux errno (ESRCH: the inbox was a dead guest's)."""
    try:
        fd = os.open(_path(pid), os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except PermissionError:
        return -lerrno.EPERM     # another user's guest
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, bytes(info[:RECORD]).ljust(RECORD, b"\0"))
    finally:
        os.close(fd)             # (closing drops the lock)
    try:
        os.kill(pid, WAKE)
    except ProcessLookupError:
        try:
            os.unlink(_path(pid))
        except OSError:
            pass
        return -lerrno.ESRCH
    except PermissionError:
        return -lerrno.EPERM
    return 0


def waiting(pid: int) -> bool:
    """True while guest process `pid`'s inbox holds records it has not taken."""
    try:
        return os.stat(_path(pid)).st_size > 0
    except OSError:
        return False


def drain() -> list[bytes]:
    """Take every record waiting in this process's inbox, oldest first."""
    if _fd < 0 or _owner != os.getpid():
        return []
    fd = _fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if not size:
                return []
            data = os.pread(fd, size, 0)
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        return []
    n = len(data) // RECORD
    return [data[i * RECORD:(i + 1) * RECORD] for i in range(n)]


def guest_pids() -> list[int]:
    """The pids that have an inbox (guests of this user; some may be gone)."""
    try:
        return [int(n) for n in os.listdir(os.path.dirname(_path(0))) if n.isdigit()]
    except OSError:
        return []
