"""Host seam for the event-loop syscalls: epoll, eventfd and timerfd objects.

The guest's epoll/eventfd/timerfd fds are host fds.  On a Linux host they are
the host kernel's own objects, reached through libc with cffi (not Python's
select.epoll: that object owns its fd and retries EINTR, and the guest's fd
must be closable by the guest and interruptible by signals).  The guest's
64-bit epoll_data goes to the host kernel as-is, so it follows the
registration exactly as on Linux.

Everything here speaks *host* values; the syscall layer translates the
guest's flags by name.  `AVAILABLE` says which objects this host provides,
the `HAVE_*` flags which ones the host *model* uses; without them the
syscall layer emulates epoll (syscalls/epoll_emu.py), eventfd
(syscalls/eventfd.py), timerfd (syscalls/timerfd.py) and pidfd
(syscalls/pidfd.py) with pipes, sockets and a helper thread, as on macOS.
"""
from __future__ import annotations

import os
import platform as _pyplatform
import select

from elfuse_py.host import platform
from elfuse_py.host.cdefs import load_ffi

ffi = None
AVAILABLE: set[str] = set()
lib = None

if platform.IS_LINUX:
    # struct epoll_event is packed on x86 only (the kernel's EPOLL_PACKED).
    ffi = load_ffi("events_x86" if _pyplatform.machine() in ("x86_64", "AMD64", "i686", "i386") else "events")
    try:
        lib = ffi.dlopen(None)
        AVAILABLE.update(("epoll", "eventfd", "timerfd"))
    except OSError:  # pragma: no cover - no libc symbols
        lib = None

# What the host *model* provides natively: the Linux kernel's objects, except
# on macOS and under the macOS host model (ELFUSE_HOST_COMPAT=darwin on Linux),
# where the syscall layer runs its portable emulations instead (the same code a
# Mac runs).  Nothing above this module asks for the host's objects otherwise.
_MODEL_NATIVE = platform.MODEL != "darwin"
HAVE_EPOLL = "epoll" in AVAILABLE and _MODEL_NATIVE
HAVE_EVENTFD = "eventfd" in AVAILABLE and _MODEL_NATIVE
HAVE_TIMERFD = "timerfd" in AVAILABLE and _MODEL_NATIVE
HAVE_INOTIFY = platform.IS_LINUX and _MODEL_NATIVE
HAVE_PIDFD = platform.IS_LINUX and hasattr(os, "pidfd_open") and _MODEL_NATIVE

# How the host's poll(2) shows a stream socket's half-close, for the epoll
# emulation's EPOLLRDHUP and EPOLLHUP (a fact of the real host kernel, not of
# the model).  Linux: POLLRDHUP once the peer shut down writing, POLLHUP only
# when both directions are shut.  macOS: no POLLRDHUP; poll runs over kevent
# and sets POLLHUP as soon as the read filter (asked with POLLIN) or the write
# filter (POLLOUT) reaches EOF, and then leaves POLLOUT out (XNU
# bsd/kern/sys_generic.c, poll_callback).
POLLHUP_ON_HALF_CLOSE = not platform.IS_LINUX
_POLLRDHUP = getattr(select, "POLLRDHUP", 0)


def _poll1(fd: int, events: int) -> int:
    p = select.poll()
    p.register(fd, events)
    r = p.poll(0)
    return r[0][1] if r else 0


def socket_eof(fd: int) -> tuple[bool, bool]:
    """(the peer sends no more, this end sends no more) for a connected stream
    socket, even with data still waiting before the end; (False, False) where
    the host cannot tell."""
    if _POLLRDHUP:
        rev = _poll1(fd, select.POLLIN | _POLLRDHUP)
        both = bool(rev & select.POLLHUP)
        return bool(rev & _POLLRDHUP) or both, both
    return (bool(_poll1(fd, select.POLLIN) & select.POLLHUP),
            bool(_poll1(fd, select.POLLOUT) & select.POLLHUP))


# The alarm clocks of the host kernel's timerfd (kernel ABI values: Python has no names).
TIMERFD_ALARM_CLOCKS = {"CLOCK_REALTIME_ALARM": 8, "CLOCK_BOOTTIME_ALARM": 9} if platform.IS_LINUX else {}
_CAP_WAKE_ALARM = 35


def can_wake_alarm() -> bool:
    """May this process set wake-up alarms (timerfd's *_ALARM clocks)?

    Linux asks for CAP_WAKE_ALARM (the effective set in /proc/self/status);
    a host without capabilities (macOS) answers as root or not.
    """
    if platform.MODEL == "linux":      # a host with /proc (not the macOS model)
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("CapEff:"):
                        return bool(int(line.split()[1], 16) >> _CAP_WAKE_ALARM & 1)
        except (OSError, ValueError, IndexError):
            pass
    return os.geteuid() == 0


# Host EPOLL_CTL_* ops (Linux values; these are host numbers used only here).
CTL_ADD, CTL_DEL, CTL_MOD = 1, 2, 3


def _check(r: int) -> int:
    if r < 0:
        e = ffi.errno
        raise OSError(e, os.strerror(e))
    return r


def epoll_create(cloexec: bool) -> int:
    return _check(lib.epoll_create1(os.O_CLOEXEC if cloexec else 0))


def epoll_ctl(epfd: int, op: int, fd: int, events: int, data: int) -> None:
    ev = ffi.new("struct epoll_event *")
    ev.events = events
    ev.data = data
    _check(lib.epoll_ctl(epfd, op, fd, ev))


def epoll_wait(epfd: int, maxevents: int, timeout_ms: int) -> list[tuple[int, int]]:
    """Ready (host events, data) pairs; blocks up to timeout_ms (<0: forever). EINTR raises."""
    buf = ffi.new("struct epoll_event[]", maxevents)
    n = _check(lib.epoll_wait(epfd, buf, maxevents, timeout_ms))
    return [(buf[i].events, buf[i].data) for i in range(n)]


def eventfd(initval: int, flags: int) -> int:
    return _check(lib.eventfd(initval, flags))


def timerfd_create(clockid: int, flags: int) -> int:
    return _check(lib.timerfd_create(clockid, flags))


def timerfd_settime(fd: int, flags: int, new: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Arm/disarm; `new` and the result are (interval s, ns, value s, ns)."""
    nv = ffi.new("struct h_itimerspec *")
    old = ffi.new("struct h_itimerspec *")
    nv.it_interval.tv_sec, nv.it_interval.tv_nsec, nv.it_value.tv_sec, nv.it_value.tv_nsec = new
    _check(lib.timerfd_settime(fd, flags, nv, old))
    return (old.it_interval.tv_sec, old.it_interval.tv_nsec, old.it_value.tv_sec, old.it_value.tv_nsec)


def timerfd_gettime(fd: int) -> tuple[int, int, int, int]:
    cur = ffi.new("struct h_itimerspec *")
    _check(lib.timerfd_gettime(fd, cur))
    return (cur.it_interval.tv_sec, cur.it_interval.tv_nsec, cur.it_value.tv_sec, cur.it_value.tv_nsec)
