"""Event-loop syscalls: eventfd2, timerfd, (signalfd4); epoll is in syscalls/epoll.py.

The objects are host kernel objects reached through elfuse_py.host.events, so
eventfd counters and timer expirations are exactly the host kernel's; this
module validates arguments like Linux, translates the guest's flag bits and
constants *by name* and moves the guest's structs in and out of guest memory.

Guest struct layout (Linux AArch64): struct itimerspec is four s64.
"""
from __future__ import annotations

import os
import socket
import struct
import time

from elfuse_py.host import events as host
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from syscalls.args import s32
from syscalls.table import not_supported, syscall

# ----- guest (Linux AArch64) constants ------------------------------------------------------

_L_O_NONBLOCK, _L_O_CLOEXEC = 0o4000, 0o2000000
_L_EFD_SEMAPHORE = 1
_L_TFD_TIMER_ABSTIME, _L_TFD_TIMER_CANCEL_ON_SET = 1, 2
_L_CLOCK_REALTIME_ALARM, _L_CLOCK_BOOTTIME_ALARM = 8, 9
# guest clock id -> host clock constant name in the time module
_L_TIMERFD_CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 7: "CLOCK_BOOTTIME"}

_ITIMERSPEC = struct.Struct("<qqqq")

# ----- host translations, built by name -------------------------------------------------------

_HOST_CLOCKS = {g: getattr(time, n) for g, n in _L_TIMERFD_CLOCKS.items() if hasattr(time, n)}
_HOST_EFD_SEMAPHORE = getattr(os, "EFD_SEMAPHORE", 1)
# The timerfd_settime flags have no Python names before 3.13; the values are the kernel ABI.
_HOST_TFD_ABSTIME = getattr(os, "TFD_TIMER_ABSTIME", 1)
_HOST_TFD_CANCEL_ON_SET = getattr(os, "TFD_TIMER_CANCEL_ON_SET", 2)


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


# A host signalfd would see the emulator's host signals, not the guest's emulated
# ones; it needs a signalfd fed by the signal-delivery layer.
not_supported("signalfd4", "signals are emulated; signalfd is not implemented (ENOSYS, as "
                           "a kernel without CONFIG_SIGNALFD)")
