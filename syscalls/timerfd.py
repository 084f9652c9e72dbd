"""timerfd_create/settime/gettime: the host kernel's timerfd on Linux hosts, an emulation elsewhere.

Where the host model has no timerfd (macOS, and the macOS host model on
Linux: elfuse_py.host.events.HAVE_TIMERFD), `TimerfdEmu` provides one:

- the guest's fd is one end of a host socketpair; the emulator keeps the
  other end (in its reserved range, non-blocking);
- the timer is two numbers, the next expiration on the timer's clock and the
  interval (ns), with the clock translated as clock_gettime does
  (syscalls/time.py CLOCKS: BOOTTIME is MONOTONIC where the host has no boot
  clock; the *_ALARM clocks, allowed with CAP_WAKE_ALARM as on Linux, are
  their plain clocks and wake nothing from suspend);
- the expiration count a read returns is computed from the clock at the read
  (1 + the intervals elapsed since the next expiration), so nothing has to tick;
- for poll/select/epoll, the wake-up thread (syscalls/wakeup.py: one thread,
  a heap of due times, for every timer) writes one byte to the emulator's end
  at the expiration; a read or a settime takes it back.  The fd is readable
  exactly while expirations are pending (from the moment the thread runs,
  which is a scheduling latency after the due time);
- a blocking read waits in poll() for that byte (bounded by the due time, so
  it never depends on the thread alone), interruptible by guest signals;
  with several guest threads the thread parks instead.

Across fork a Linux timerfd is one timer shared by parent and child.  Here
each process has its own copy of the timer state (the socketpair is shared):
both see every expiration, a settime in one does not move the other's timer,
and a read in one takes the readiness byte the other may be polling for
(its reads still count right).  Across execve the timer carries on.
"""
from __future__ import annotations

import functools
import os
import select
import socket
import struct
import time as _time

from elfuse_py.host import events as host
from elfuse_py.host.sockets import ffi as sffi, libc as slibc
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import wakeup
from elfuse_py.syscalls.events import (_L_O_CLOEXEC, _L_O_NONBLOCK, _emulated_pair, _fd_flags, _guest_fd, _host_fd_flags,
                             _need, _scatter)
from elfuse_py.syscalls.table import syscall
from elfuse_py.syscalls.time import CLOCKS

_L_TFD_TIMER_ABSTIME, _L_TFD_TIMER_CANCEL_ON_SET = 1, 2
_L_CLOCK_REALTIME, _L_CLOCK_MONOTONIC, _L_CLOCK_BOOTTIME = 0, 1, 7
_L_CLOCK_REALTIME_ALARM, _L_CLOCK_BOOTTIME_ALARM = 8, 9
_ALARM_NAMES = {_L_CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
                _L_CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM"}
# guest clock id -> host clock constant name in the time module (the host kernel's timerfd)
_L_TIMERFD_CLOCKS = {_L_CLOCK_REALTIME: "CLOCK_REALTIME", _L_CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
                     _L_CLOCK_BOOTTIME: "CLOCK_BOOTTIME"}
_TIMERFD_CLOCKS = set(_L_TIMERFD_CLOCKS) | set(_ALARM_NAMES)   # what Linux's timerfd accepts

_ITIMERSPEC = struct.Struct("<qqqq")
NSEC = 1_000_000_000
_HOST_CLOCKS = {g: getattr(_time, n) for g, n in _L_TIMERFD_CLOCKS.items() if hasattr(_time, n)}
_HOST_CLOCKS.update({g: host.TIMERFD_ALARM_CLOCKS[n] for g, n in _ALARM_NAMES.items()
                     if n in host.TIMERFD_ALARM_CLOCKS})
# The timerfd_settime flags have no Python names before 3.13; the values are the kernel ABI.
_HOST_TFD_ABSTIME = getattr(os, "TFD_TIMER_ABSTIME", 1)
_HOST_TFD_CANCEL_ON_SET = getattr(os, "TFD_TIMER_CANCEL_ON_SET", 2)
_MSG_DONTWAIT = socket.MSG_DONTWAIT
# The wake-up thread re-reads the timer's clock at least this often, so a
# clock that moves apart from CLOCK_MONOTONIC (the wall clock being set, a
# host that sleeps) costs at most this much lateness.
_MAX_SLEEP_NS = NSEC
_MAX_POLL_MS = 3_600_000


def _drain(fd: int) -> None:
    """Take every readiness byte waiting in the guest's end (never blocks)."""
    buf = sffi.new("char[64]")
    while slibc.recvfrom(fd, buf, 64, _MSG_DONTWAIT, sffi.NULL, sffi.NULL) > 0:
        pass


def _ns(sec: int, nsec: int) -> int:
    return sec * NSEC + nsec


def _spec(ns: int) -> tuple[int, int]:
    return ns // NSEC, ns % NSEC


class TimerfdEmu(FdState):
    """An emulated timerfd (see the module docstring).  Fields are guarded by wakeup.lock."""

    intercepts_io = True

    def __init__(self, peer: int, clock: int) -> None:
        self.peer = peer                 # the emulator's end of the socketpair
        self.clock = clock               # Linux clock id
        self.due: int | None = None      # next expiration, ns on the timer's clock
        self.interval = 0                # ns; 0 for a one-shot timer
        self.signalled = False           # a readiness byte was written (this process)
        self.gen = 0                     # bumped at each change: older wake-ups are void
        self.closed = False

    def carried_fds(self) -> tuple[int, ...]:
        return () if self.closed else (self.peer,)

    def after_exec(self, fd: int = -1) -> None:
        with wakeup.lock:
            self._arm(self._now())

    def release(self) -> None:
        with wakeup.lock:
            if self.closed:
                return
            self.closed = True
            self.gen += 1
            os.close(self.peer)

    def _now(self) -> int:
        return _time.clock_gettime_ns(CLOCKS[self.clock])

    def _ticks(self, now: int) -> int:
        if self.due is None or now < self.due:
            return 0
        return 1 + (now - self.due) // self.interval if self.interval else 1

    def _arm(self, now: int) -> None:
        """Ask the wake-up thread for the next expiration (wakeup.lock held)."""
        self.gen += 1
        if self.due is None or self.signalled or self.closed:
            return
        delta = min(max(self.due - now, 0), _MAX_SLEEP_NS)
        wakeup.call_at(_time.monotonic_ns() + delta, functools.partial(self._fire, self.gen))

    def _fire(self, gen: int) -> None:
        """On the wake-up thread: make the fd readable if the timer has expired."""
        if gen != self.gen or self.closed or self.signalled or self.due is None:
            return
        now = self._now()
        if now < self.due:
            self._arm(now)
            return
        try:
            os.write(self.peer, b"\1")
        except OSError:
            pass
        self.signalled = True

    def _unsignal(self, fd: int) -> None:
        _drain(fd)
        self.signalled = False

    def current(self, now: int) -> tuple[int, int, int, int]:
        """(interval s, ns, time to the next expiration s, ns), as timerfd_gettime says it."""
        left = 0
        if self.due is not None:
            if now < self.due:
                left = self.due - now
            elif self.interval:
                left = self.due + self._ticks(now) * self.interval - now
        return (*_spec(self.interval), *_spec(left))

    def settime(self, fd: int, absolute: bool, interval: int, value: int) -> tuple[int, int, int, int]:
        with wakeup.lock:
            now = self._now()
            old = self.current(now)
            self._unsignal(fd)
            self.interval = interval
            self.due = None if not value else value if absolute else now + value
            self._arm(now)
        return old

    def io_read(self, fd: int, views: list) -> int:
        if sum(len(v) for v in views) < 8:
            return -lerrno.EINVAL
        while True:
            with wakeup.lock:
                now = self._now()
                n = self._ticks(now)
                if n:
                    self.due = self.due + n * self.interval if self.interval else None
                    self._unsignal(fd)
                    self._arm(now)
                    break
                blocking = os.get_blocking(fd)
                due = self.due
            if not blocking:
                return -lerrno.EAGAIN
            if threads.multi():
                return threads.wait_fds({fd: select.POLLIN}, None, fd,
                                        check=lambda: due is not None and self._now() >= due)
            # The byte normally ends the wait; the due time bounds it all the same.
            p = select.poll()
            p.register(fd, select.POLLIN)
            p.poll(None if due is None else min((max(due - now, 0) + 999_999) // 1_000_000, _MAX_POLL_MS))
        _scatter(views, n.to_bytes(8, "little"))
        return 8

    def io_write(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL            # a timerfd has no write


def _emulated(fd: int) -> TimerfdEmu | int:
    """The emulated timer behind guest `fd`, or -EBADF / -EINVAL (not a timerfd) as Linux."""
    st = proc.fds.get(fd) if proc.fds.valid(fd) else None
    if isinstance(st, TimerfdEmu):
        return st
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    os.fstat(fd)                         # EBADF for a closed fd
    return -lerrno.EINVAL


def _create_emulated(clockid: int, cloexec: bool, nonblock: bool) -> int:
    pair = _emulated_pair(cloexec, nonblock)
    if isinstance(pair, int):
        return pair
    fd, peer = pair
    proc.fds.set(fd, TimerfdEmu(peer, clockid))
    return fd


@syscall("timerfd_create", "clockid, hex", ret="fd",
         note="host kernel timerfd on Linux; elsewhere a socketpair woken by a helper thread "
              "(docs/macos.md)")
def sys_timerfd_create(clockid, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(_L_O_CLOEXEC | _L_O_NONBLOCK) or clockid not in _TIMERFD_CLOCKS:
        return -lerrno.EINVAL
    if clockid in _ALARM_NAMES and not host.can_wake_alarm():
        return -lerrno.EPERM            # needs CAP_WAKE_ALARM
    if not host.HAVE_TIMERFD:
        if clockid not in CLOCKS:
            return -lerrno.EINVAL
        return _create_emulated(clockid, *_fd_flags(flags))
    hclock = _HOST_CLOCKS.get(clockid)
    if hclock is None:
        return -lerrno.EINVAL
    if (e := _need("timerfd")) is not None:
        return e
    return _guest_fd(host.timerfd_create(hclock, _host_fd_flags(*_fd_flags(flags))))


def _valid_spec(new: tuple) -> bool:
    isec, insec, vsec, vnsec = new
    return isec >= 0 and vsec >= 0 and 0 <= insec < NSEC and 0 <= vnsec < NSEC


@syscall("timerfd_settime", "fd, hex, ptr, ptr")
def sys_timerfd_settime(fd, flags, new_value, old_value):
    flags &= 0xFFFFFFFF
    if not host.HAVE_TIMERFD:
        new = proc.mem.unpack(_ITIMERSPEC, new_value)
        if flags & ~(_L_TFD_TIMER_ABSTIME | _L_TFD_TIMER_CANCEL_ON_SET) or not _valid_spec(new):
            return -lerrno.EINVAL
        st = _emulated(fd)
        if isinstance(st, int):
            return st
        # TFD_TIMER_CANCEL_ON_SET is accepted; a clock being set never cancels here.
        old = st.settime(fd, bool(flags & _L_TFD_TIMER_ABSTIME), _ns(*new[:2]), _ns(*new[2:]))
        if old_value:
            proc.mem.pack(_ITIMERSPEC, old_value, *old)
        return 0
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    if flags & ~(_L_TFD_TIMER_ABSTIME | _L_TFD_TIMER_CANCEL_ON_SET):
        return -lerrno.EINVAL
    if (e := _need("timerfd")) is not None:
        return e
    new = proc.mem.unpack(_ITIMERSPEC, new_value)
    if old_value:
        proc.mem.check(old_value, _ITIMERSPEC.size, 2)
    hflags = (_HOST_TFD_ABSTIME if flags & _L_TFD_TIMER_ABSTIME else 0) | \
             (_HOST_TFD_CANCEL_ON_SET if flags & _L_TFD_TIMER_CANCEL_ON_SET else 0)
    old = host.timerfd_settime(fd, hflags, new)
    if old_value:
        proc.mem.pack(_ITIMERSPEC, old_value, *old)
    return 0


@syscall("timerfd_gettime", "fd, ptr")
def sys_timerfd_gettime(fd, curr_value):
    if not host.HAVE_TIMERFD:
        st = _emulated(fd)
        if isinstance(st, int):
            return st
        with wakeup.lock:
            cur = st.current(st._now())
        proc.mem.pack(_ITIMERSPEC, curr_value, *cur)
        return 0
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    if (e := _need("timerfd")) is not None:
        return e
    proc.mem.check(curr_value, _ITIMERSPEC.size, 2)
    proc.mem.pack(_ITIMERSPEC, curr_value, *host.timerfd_gettime(fd))
    return 0
