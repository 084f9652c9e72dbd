"""Event-fd helpers the event modules share (signalfd4 is in syscalls/sigwait.py).

epoll lives in syscalls/epoll.py (and epoll_emu.py where the host model has
none), eventfd2 in syscalls/eventfd.py, timerfd in syscalls/timerfd.py and
pidfd in syscalls/pidfd.py.  Each validates arguments like Linux, translates
the guest's flag bits *by name* and hands new fds to the guest through the
helpers below.
"""
from __future__ import annotations

import os
import socket

from elfuse_py.host import events as host
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc


# ----- guest (Linux AArch64) constants ------------------------------------------------------

_L_O_NONBLOCK, _L_O_CLOEXEC = 0o4000, 0o2000000


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


def _emulated_pair(cloexec: bool, nonblock: bool) -> tuple[int, int] | int:
    """(guest fd, emulator peer) of a new socketpair for an emulated event fd, or -errno.

    The peer goes to the emulator's reserved range, non-blocking; the guest's
    end gets the guest's O_CLOEXEC/O_NONBLOCK.  EMFILE when either range is full.
    """
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd, peer = a.detach(), b.detach()
    try:
        peer = proc.fds.reserve(peer)
    except OSError:                      # the emulator's reserved range is full
        os.close(fd)
        os.close(peer)
        return -lerrno.EMFILE
    fd = _guest_fd(fd)
    if fd < 0:
        os.close(peer)
        return fd
    os.set_blocking(peer, False)
    os.set_inheritable(fd, not cloexec)
    os.set_blocking(fd, not nonblock)
    return fd, peer


def _need(kind: str) -> int | None:
    return None if kind in host.AVAILABLE else -lerrno.ENOSYS


def _scatter(views: list, data: bytes) -> None:
    """Copy `data` into the guest buffers `views`, in order (a read's result)."""
    pos = 0
    for v in views:
        n = min(len(v), len(data) - pos)
        v[:n] = data[pos:pos + n]
        pos += n
        if pos >= len(data):
            break
