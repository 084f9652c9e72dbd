"""Event-loop syscalls: epoll, eventfd2, timerfd (signalfd4 is in syscalls/sigwait.py).

The objects are host kernel objects reached through elfuse_py.host.events, so
readiness, edge triggering, EPOLLONESHOT, eventfd counters and timer
expirations are exactly the host kernel's; this module validates arguments
like Linux, translates the guest's flag bits and constants *by name* and
moves the guest's structs in and out of guest memory.

Guest struct layouts (Linux AArch64): struct epoll_event is 16 bytes
(u32 events, 4 bytes padding, u64 data); struct itimerspec is four s64.
"""
from __future__ import annotations

import os
import select
import socket
import struct
import time

from elfuse_py.host import events as host
from elfuse_py.runtime import lerrno, signals
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from syscalls.args import s32
from syscalls.table import PARTIAL, syscall

# ----- guest (Linux AArch64) constants ------------------------------------------------------

_L_O_NONBLOCK, _L_O_CLOEXEC = 0o4000, 0o2000000
_L_EPOLL_CTL = {1: "ADD", 2: "DEL", 3: "MOD"}
# guest epoll event bit -> host constant name in the select module
_L_EPOLL_BITS = {
    0x001: "EPOLLIN", 0x002: "EPOLLPRI", 0x004: "EPOLLOUT", 0x008: "EPOLLERR",
    0x010: "EPOLLHUP", 0x040: "EPOLLRDNORM", 0x080: "EPOLLRDBAND", 0x100: "EPOLLWRNORM",
    0x200: "EPOLLWRBAND", 0x400: "EPOLLMSG", 0x2000: "EPOLLRDHUP", 1 << 28: "EPOLLEXCLUSIVE",
    1 << 30: "EPOLLONESHOT", 1 << 31: "EPOLLET",
}
# EPOLLWAKEUP (1 << 29) needs CAP_BLOCK_SUSPEND; Linux silently drops it without, as we do.
_L_EFD_SEMAPHORE = 1
_L_TFD_TIMER_ABSTIME, _L_TFD_TIMER_CANCEL_ON_SET = 1, 2
_L_CLOCK_REALTIME_ALARM, _L_CLOCK_BOOTTIME_ALARM = 8, 9
# guest clock id -> host clock constant name in the time module
_L_TIMERFD_CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 7: "CLOCK_BOOTTIME"}

_EP_MAX_EVENTS = 0x7FFFFFFF // 16
_EPOLL_EVENT = struct.Struct("<I4xQ")
_ITIMERSPEC = struct.Struct("<qqqq")
_TIMESPEC = struct.Struct("<qq")

# ----- host translations, built by name -------------------------------------------------------

_G2H_EPOLL = [(g, getattr(select, n)) for g, n in _L_EPOLL_BITS.items() if hasattr(select, n)]
_H2G_EPOLL = [(h, g) for g, h in _G2H_EPOLL]
_HOST_CTL = {"ADD": host.CTL_ADD, "DEL": host.CTL_DEL, "MOD": host.CTL_MOD}
_HOST_CLOCKS = {g: getattr(time, n) for g, n in _L_TIMERFD_CLOCKS.items() if hasattr(time, n)}
_HOST_EFD_SEMAPHORE = getattr(os, "EFD_SEMAPHORE", 1)
# The timerfd_settime flags have no Python names before 3.13; the values are the kernel ABI.
_HOST_TFD_ABSTIME = getattr(os, "TFD_TIMER_ABSTIME", 1)
_HOST_TFD_CANCEL_ON_SET = getattr(os, "TFD_TIMER_CANCEL_ON_SET", 2)


def _g2h_events(ev: int) -> int:
    out = 0
    for g, h in _G2H_EPOLL:
        if ev & g:
            out |= h
    return out


def _h2g_events(ev: int) -> int:
    out = 0
    for h, g in _H2G_EPOLL:
        if ev & h:
            out |= g
    return out


def _fd_flags(flags: int) -> tuple[bool, bool]:
    """(cloexec, nonblock) from guest O_CLOEXEC/O_NONBLOCK-valued bits."""
    return bool(flags & _L_O_CLOEXEC), bool(flags & _L_O_NONBLOCK)


def _host_fd_flags(cloexec: bool, nonblock: bool) -> int:
    return (os.O_CLOEXEC if cloexec else 0) | (os.O_NONBLOCK if nonblock else 0)


def _guest_fd(fd: int) -> int:
    """Hand a new host fd to the guest, or EMFILE past the guest's fd limit."""
    if not proc.fds.valid(fd):
        os.close(fd)
        return -lerrno.EMFILE
    proc.fds.on_close(fd)   # no stale per-fd state from an earlier owner of the number
    return fd


def _need(kind: str) -> int | None:
    return None if kind in host.AVAILABLE else -lerrno.ENOSYS


# ----- epoll ----------------------------------------------------------------------------------

@syscall("epoll_create1", "hex", ret="fd",
         note="host kernel epoll (Linux hosts)")
def sys_epoll_create1(flags):
    flags = s32(flags)
    if flags & ~_L_O_CLOEXEC:
        return -lerrno.EINVAL
    if (e := _need("epoll")) is not None:
        return e
    return _guest_fd(host.epoll_create(bool(flags & _L_O_CLOEXEC)))


@syscall("epoll_ctl", "fd, int, fd, ptr")
def sys_epoll_ctl(epfd, op, fd, event):
    op = s32(op)
    name = _L_EPOLL_CTL.get(op)
    if name is None:
        return -lerrno.EINVAL
    if not proc.fds.valid(epfd) or not proc.fds.valid(fd):
        return -lerrno.EBADF
    if (e := _need("epoll")) is not None:
        return e
    events = data = 0
    if name != "DEL":
        events, data = proc.mem.unpack(_EPOLL_EVENT, event)
    host.epoll_ctl(epfd, _HOST_CTL[name], fd, _g2h_events(events), data)
    return 0


def _epoll_wait(epfd: int, events: int, maxevents: int, timeout_ms: int,
                sigmask: int, sigsetsize: int) -> int:
    epfd, maxevents = s32(epfd), s32(maxevents)
    if maxevents <= 0 or maxevents > _EP_MAX_EVENTS:
        return -lerrno.EINVAL
    if sigmask and sigsetsize != 8:
        return -lerrno.EINVAL
    if not proc.fds.valid(epfd):
        return -lerrno.EBADF
    if (e := _need("epoll")) is not None:
        return e
    mem = proc.mem
    mem.check(events, maxevents * _EPOLL_EVENT.size, 2)
    if sigmask and proc.signal_hook is not None:      # the signals layer is set up
        ready = _wait_with_mask(epfd, maxevents, timeout_ms, mem.u64(sigmask))
        if ready is None:
            return -lerrno.EINTR
    else:
        try:
            ready = host.epoll_wait(epfd, maxevents, timeout_ms)
        except InterruptedError:
            return -lerrno.EINTR
    for i, (ev, data) in enumerate(ready):
        mem.pack(_EPOLL_EVENT, events + i * _EPOLL_EVENT.size, _h2g_events(ev), data)
    return len(ready)


def _wait_with_mask(epfd: int, maxevents: int, timeout_ms: int, mask: int):
    """Wait with the guest's signal mask replaced by `mask` (as pselect/ppoll do).

    Interrupted (or a signal `mask` unblocks is already pending): None, and the
    old mask is restored after the handler runs, as Linux's saved sigmask.
    """
    st = proc.sig
    old = st.mask
    try:
        signals.set_mask(mask)      # a host signal blocked until now may arrive right here
        if st.pending & ~st.mask:
            raise InterruptedError
        ready = host.epoll_wait(epfd, maxevents, timeout_ms)
    except InterruptedError:
        st.saved_mask = old
        st.undelivered = True
        proc.cpu.pending = True
        return None
    signals.set_mask(old)
    return ready


@syscall("epoll_pwait", "fd, ptr, int, int, ptr, size", interruptible=True, restart=False)
def sys_epoll_pwait(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    t = s32(timeout)
    return _epoll_wait(epfd, events, maxevents, -1 if t < 0 else t, sigmask, sigsetsize)


@syscall("epoll_pwait2", "fd, ptr, int, ptr, ptr, size", level=PARTIAL,
         note="timeout rounded up to milliseconds", interruptible=True, restart=False)
def sys_epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    if timeout:
        sec, nsec = proc.mem.unpack(_TIMESPEC, timeout)
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            return -lerrno.EINVAL
        ms = min(sec * 1000 + (nsec + 999_999) // 1_000_000, 0x7FFFFFFF)
    else:
        ms = -1
    return _epoll_wait(epfd, events, maxevents, ms, sigmask, sigsetsize)


# ----- eventfd --------------------------------------------------------------------------------

_EVENTFD_MAX = 0xFFFFFFFFFFFFFFFE


class EventfdEmu(FdState):
    """An eventfd on a host without one (macOS, and the macOS host model on Linux).

    The guest's fd is one end of a host socketpair; the emulator keeps the
    other end (in its reserved range).  One byte waits in the guest's end
    exactly while the counter is non-zero, so poll/select/epoll see POLLIN
    when a read would succeed, and POLLOUT as the socket's writability.
    The counter lives in this process: unlike Linux's, it is not shared with
    a forked child.
    """

    intercepts_io = True

    def __init__(self, peer: int, count: int, semaphore: bool) -> None:
        self.peer = peer
        self.count = count
        self.semaphore = semaphore
        self.signalled = False

    def _sync(self, fd: int) -> None:
        if self.count and not self.signalled:
            os.write(self.peer, b"\1")
            self.signalled = True
        elif not self.count and self.signalled:
            os.read(fd, 1)
            self.signalled = False

    def io_read(self, fd: int, views: list) -> int:
        if sum(len(v) for v in views) < 8:
            return -lerrno.EINVAL
        if not self.count:
            if not os.get_blocking(fd):
                return -lerrno.EAGAIN
            os.read(fd, 1)           # no writer can come in this process: blocks as Linux would
        value = 1 if self.semaphore else self.count
        self.count -= value
        self._sync(fd)
        _scatter(views, value.to_bytes(8, "little"))
        return 8

    def io_write(self, fd: int, views: list) -> int:
        data = b"".join(bytes(v) for v in views)[:8]
        if len(data) < 8:
            return -lerrno.EINVAL
        value = int.from_bytes(data, "little")
        if value == 0xFFFFFFFFFFFFFFFF:
            return -lerrno.EINVAL
        if self.count + value > _EVENTFD_MAX:
            return -lerrno.EAGAIN    # Linux blocks until a read; nothing else can read here
        self.count += value
        self._sync(fd)
        return 8


def _scatter(views: list, data: bytes) -> None:
    pos = 0
    for v in views:
        n = min(len(v), len(data) - pos)
        v[:n] = data[pos:pos + n]
        pos += n
        if pos >= len(data):
            break


def _eventfd_emulated(initval: int, semaphore: bool, cloexec: bool, nonblock: bool) -> int:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd, peer = a.detach(), b.detach()
    peer = proc.fds.reserve(peer)
    fd = _guest_fd(fd)
    if fd < 0:
        os.close(peer)
        return fd
    os.set_inheritable(fd, not cloexec)
    os.set_blocking(fd, not nonblock)
    st = EventfdEmu(peer, initval, semaphore)
    st._sync(fd)
    proc.fds.set(fd, st)
    return fd


@syscall("eventfd2", "uint, hex", ret="fd",
         note="host kernel eventfd on Linux; a socketpair-backed emulation elsewhere")
def sys_eventfd2(initval, flags):
    flags = s32(flags)
    if flags & ~(_L_EFD_SEMAPHORE | _L_O_CLOEXEC | _L_O_NONBLOCK):
        return -lerrno.EINVAL
    if not host.HAVE_EVENTFD:
        return _eventfd_emulated(initval, bool(flags & _L_EFD_SEMAPHORE), *_fd_flags(flags))
    hflags = _host_fd_flags(*_fd_flags(flags)) | (_HOST_EFD_SEMAPHORE if flags & _L_EFD_SEMAPHORE else 0)
    return _guest_fd(host.eventfd(initval, hflags))


# ----- timerfd --------------------------------------------------------------------------------

@syscall("timerfd_create", "int, hex", ret="fd", note="host kernel timerfd (Linux hosts)")
def sys_timerfd_create(clockid, flags):
    clockid, flags = s32(clockid), s32(flags)
    if flags & ~(_L_O_CLOEXEC | _L_O_NONBLOCK):
        return -lerrno.EINVAL
    if clockid in (_L_CLOCK_REALTIME_ALARM, _L_CLOCK_BOOTTIME_ALARM):
        return -lerrno.EPERM        # needs CAP_WAKE_ALARM, which the guest never has here
    hclock = _HOST_CLOCKS.get(clockid)
    if hclock is None:
        return -lerrno.EINVAL
    if (e := _need("timerfd")) is not None:
        return e
    return _guest_fd(host.timerfd_create(hclock, _host_fd_flags(*_fd_flags(flags))))


@syscall("timerfd_settime", "fd, hex, ptr, ptr")
def sys_timerfd_settime(fd, flags, new_value, old_value):
    flags = s32(flags)
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
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    if (e := _need("timerfd")) is not None:
        return e
    proc.mem.check(curr_value, _ITIMERSPEC.size, 2)
    proc.mem.pack(_ITIMERSPEC, curr_value, *host.timerfd_gettime(fd))
    return 0
