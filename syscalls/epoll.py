"""epoll_create1, epoll_ctl, epoll_pwait, epoll_pwait2.

Where the host model has epoll (Linux: `elfuse_py.host.events.HAVE_EPOLL`)
the objects are the host kernel's, reached through elfuse_py.host.events, so
readiness, edge triggering and EPOLLONESHOT are exactly the kernel's; this
module validates arguments like Linux, translates the event bits *by name*
and moves struct epoll_event in and out of guest memory.

Where it has none (macOS, and the macOS host model on Linux) the same
four calls are the portable emulation of syscalls/epoll_emu.py.  Which one is
registered is decided once, at import: neither path pays for the other.

Guest struct layout (Linux AArch64): struct epoll_event is 16 bytes (u32
events, 4 bytes padding, u64 data).
"""
from __future__ import annotations

import os
import select
import struct

from elfuse_py.host import events as host
from elfuse_py.runtime import lerrno, signals
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import epoll_emu as emu, poll
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.events import _L_O_CLOEXEC, _guest_fd
from elfuse_py.syscalls.table import PARTIAL, syscall

_L_EPOLL_CTL = {1: "ADD", 2: "DEL", 3: "MOD"}
# guest epoll event bit -> host constant name in the select module
_L_EPOLL_BITS = {
    0x001: "EPOLLIN", 0x002: "EPOLLPRI", 0x004: "EPOLLOUT", 0x008: "EPOLLERR",
    0x010: "EPOLLHUP", 0x040: "EPOLLRDNORM", 0x080: "EPOLLRDBAND", 0x100: "EPOLLWRNORM",
    0x200: "EPOLLWRBAND", 0x400: "EPOLLMSG", 0x2000: "EPOLLRDHUP", 1 << 28: "EPOLLEXCLUSIVE",
    1 << 30: "EPOLLONESHOT", 1 << 31: "EPOLLET",
}
# EPOLLWAKEUP (1 << 29) needs CAP_BLOCK_SUSPEND; Linux silently drops it without, as we do.

_EP_MAX_EVENTS = 0x7FFFFFFF // 16
_EPOLL_EVENT = struct.Struct("<I4xQ")
_TIMESPEC = struct.Struct("<qq")

_G2H_EPOLL = [(g, getattr(select, n)) for g, n in _L_EPOLL_BITS.items() if hasattr(select, n)]
_H2G_EPOLL = [(h, g) for g, h in _G2H_EPOLL]
_HOST_CTL = {"ADD": host.CTL_ADD, "DEL": host.CTL_DEL, "MOD": host.CTL_MOD}

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


# ----- the host kernel's epoll ------------------------------------------------------------------

def native_epoll_create1(flags):
    flags = s32(flags)
    if flags & ~_L_O_CLOEXEC:
        return -lerrno.EINVAL
    return _guest_fd(host.epoll_create(bool(flags & _L_O_CLOEXEC)))


def native_epoll_ctl(epfd, op, fd, event):
    op = s32(op)
    name = _L_EPOLL_CTL.get(op)
    if name is None:
        return -lerrno.EINVAL
    if not proc.fds.valid(epfd) or not proc.fds.valid(fd):
        return -lerrno.EBADF
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


def native_epoll_pwait(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    t = s32(timeout)
    return _epoll_wait(epfd, events, maxevents, -1 if t < 0 else t, sigmask, sigsetsize)


def native_epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    if timeout:
        sec, nsec = proc.mem.unpack(_TIMESPEC, timeout)
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            return -lerrno.EINVAL
        ms = min(sec * 1000 + (nsec + 999_999) // 1_000_000, 0x7FFFFFFF)
    else:
        ms = -1
    return _epoll_wait(epfd, events, maxevents, ms, sigmask, sigsetsize)


# ----- the emulation (syscalls/epoll_emu.py) ----------------------------------------------------

def emulated_epoll_create1(flags):
    flags = s32(flags)
    if flags & ~_L_O_CLOEXEC:
        return -lerrno.EINVAL
    hfd, state = emu.create()
    fd = _guest_fd(hfd)
    if fd < 0:
        return fd
    if not flags & _L_O_CLOEXEC:
        os.set_inheritable(fd, True)
    proc.fds.set(fd, state)
    return fd


def emulated_epoll_ctl(epfd, op, fd, event):
    return emu.ctl(epfd, s32(op), fd, event)


def emulated_epoll_pwait(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    tmask = poll.check_sigmask(sigmask, sigsetsize)
    if tmask is not None and tmask < 0:
        return tmask
    t = s32(timeout)
    return emu.pwait(epfd, events, s32(maxevents), None if t < 0 else t / 1000, tmask)


def emulated_epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize):
    seconds = poll.read_timeout(timeout)          # EFAULT, or EINVAL when malformed
    tmask = poll.check_sigmask(sigmask, sigsetsize)
    if tmask is not None and tmask < 0:
        return tmask
    return emu.pwait(epfd, events, s32(maxevents), seconds, tmask)


# ----- registration: one of the two, chosen once ------------------------------------------------

_native = host.HAVE_EPOLL
syscall("epoll_create1", "hex", ret="fd",
        note="host kernel epoll on Linux; a poll/select-based emulation on macOS (docs/macos.md)")(
    native_epoll_create1 if _native else emulated_epoll_create1)
syscall("epoll_ctl", "fd, int, fd, ptr")(
    native_epoll_ctl if _native else emulated_epoll_ctl)
syscall("epoll_pwait", "fd, ptr, int, int, ptr, size", interruptible=True, restart=False)(
    native_epoll_pwait if _native else emulated_epoll_pwait)
syscall("epoll_pwait2", "fd, ptr, int, ptr, ptr, size", level=PARTIAL,
        note="timeout rounded up to milliseconds", interruptible=True, restart=False)(
    native_epoll_pwait2 if _native else emulated_epoll_pwait2)
