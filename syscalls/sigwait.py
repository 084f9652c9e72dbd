"""Waiting for signals: signalfd4 and rt_sigtimedwait.

Both take pending signals of a set without delivering them (Linux's
dequeue_signal, here `signals.take`), and both must wake the moment such a
signal arrives - also from another process while the guest blocks it, when
it sits in the host kernel.  The waiters of elfuse_py/runtime/sigwaiters.py
are the common piece: a host pipe the signals layer keeps readable exactly
while a watched signal is pending (see runtime/signals.py for how the host's
signals reach them on Linux and on macOS).

signalfd4: the guest's fd is the read end of such a pipe (its state a
`SignalFd`), so poll, select and epoll see it readable exactly when a read
would return a record, and only readable.  A read takes up to size/128
pending signals of its mask as 128-byte struct signalfd_siginfo records.
It survives execve and fork (each process reads its own pending signals).

rt_sigtimedwait: a transient waiter over the set waits, on every host (the
host's own sigtimedwait would never see the signals other guests post to
the inbox of runtime/siginbox.py, nor could a Mac's Python call it): the
siginfo, EAGAIN at the timeout, EINTR for another handled signal.  Where the
host kernel keeps blocked signals (KERNEL_QUEUE: Linux) the waiter's byte
comes from the host signalfd watcher and `take` pulls them with their
siginfo; elsewhere the watcher thread catches them.
"""
from __future__ import annotations

import math
import os
import select
import struct
import time

from elfuse_py.runtime import lerrno, signals, sigwaiters, threads
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.signals import UNBLOCKABLE
from elfuse_py.runtime.sigwaiters import SignalWaiter

from elfuse_py.syscalls.events import _scatter
from elfuse_py.syscalls.table import PARTIAL, syscall

_SIGSET = struct.Struct("<Q")
_TIMESPEC = struct.Struct("<qq")
_L_SFD_CLOEXEC, _L_SFD_NONBLOCK = 0o2000000, 0o4000
SSI_SIZE = 128
# struct signalfd_siginfo (include/uapi/linux/signalfd.h): signo, errno, code, pid,
# uid, fd, tid, band, overrun, trapno, status, int, ptr, utime, stime, addr,
# addr_lsb, pad, syscall, call_addr, arch, 28 bytes of padding.
_SSI = struct.Struct("<IiiIIiIIIIiiQQQQHHiQI28x")
assert _SSI.size == SSI_SIZE


# ----- siginfo -> signalfd_siginfo ------------------------------------------------------------
# Which union member a siginfo carries: kernel/signal.c siginfo_layout() for arm64.

SI_USER, SI_KERNEL, SI_TIMER, SI_SIGIO = 0, 0x80, -2, -5
# signal -> (highest kernel si_code, layout) for kernel-generated codes
_KERNEL_CODES = {4: (11, "fault"), 8: (15, "fault"), 11: (10, "fault"), 7: (5, "fault"),
                 5: (6, "fault"), 17: (6, "chld"), 29: (6, "poll"), 31: (2, "sys")}
_NSIGPOLL = 6


def _layout(sig: int, code: int) -> str:
    if SI_USER < code < SI_KERNEL:
        limit, layout = _KERNEL_CODES.get(sig, (0, ""))
        if layout and code <= limit:
            if sig == 7 and code in (4, 5):
                return "mceerr"            # BUS_MCEERR_AR/AO
            return layout
        return "poll" if code <= _NSIGPOLL else "kill"
    if code == SI_TIMER:
        return "timer"
    if code == SI_SIGIO:
        return "poll"
    return "rt" if code < 0 else "kill"


def ssi_from_siginfo(info: bytes) -> bytes:
    """A Linux siginfo (128 bytes) as struct signalfd_siginfo (signalfd_copyinfo)."""
    info = bytes(info).ljust(128, b"\0")
    signo, errno_, code = struct.unpack_from("<iii", info, 0)
    f = dict(pid=0, uid=0, fd=0, tid=0, band=0, overrun=0, trapno=0, status=0, int_=0, ptr=0,
             utime=0, stime=0, addr=0, lsb=0, syscall=0, call_addr=0, arch=0)
    lay = _layout(signo, code)
    if lay in ("kill", "rt", "chld"):
        f["pid"], f["uid"] = struct.unpack_from("<iI", info, 16)
    if lay in ("rt", "timer"):
        f["int_"], f["ptr"] = struct.unpack_from("<i", info, 24)[0], struct.unpack_from("<Q", info, 24)[0]
    if lay == "timer":
        f["tid"], f["overrun"] = struct.unpack_from("<iI", info, 16)
    elif lay == "poll":
        f["band"] = struct.unpack_from("<q", info, 16)[0] & 0xFFFFFFFF
        f["fd"] = struct.unpack_from("<i", info, 24)[0]
    elif lay in ("fault", "mceerr"):
        f["addr"] = struct.unpack_from("<Q", info, 16)[0]
        if lay == "mceerr":
            f["lsb"] = struct.unpack_from("<H", info, 24)[0]
    elif lay == "chld":
        f["status"] = struct.unpack_from("<i", info, 24)[0]
        f["utime"], f["stime"] = (v & 0xFFFFFFFFFFFFFFFF for v in struct.unpack_from("<qq", info, 32))
    elif lay == "sys":
        f["call_addr"], f["syscall"], f["arch"] = (struct.unpack_from("<Q", info, 16)[0],
                                                   *struct.unpack_from("<iI", info, 24))
    return _SSI.pack(signo & 0xFFFFFFFF, errno_, code, f["pid"] & 0xFFFFFFFF, f["uid"], f["fd"],
                     f["tid"] & 0xFFFFFFFF, f["band"], f["overrun"], f["trapno"], f["status"],
                     f["int_"], f["ptr"], f["utime"], f["stime"], f["addr"], f["lsb"], 0,
                     f["syscall"], f["call_addr"], f["arch"])


# ----- waiting on a waiter's pipe ---------------------------------------------------------------

# While blocked, look at the pending set this often: a signal whose host handler
# ran just before the host call began interrupts no host call.
CHECK_PERIOD = 0.1


def _wait_readable(fd: int, deadline: float | None = None) -> bool:
    """Block until `fd` is readable or the CLOCK_MONOTONIC `deadline` passed: True.
    False when a signal to deliver is pending (the call is marked interrupted);
    a handled guest signal arriving during the host poll raises InterruptedError."""
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        if signals.interrupt_pending():
            return False
        chunk = CHECK_PERIOD
        if deadline is not None:
            chunk = min(chunk, deadline - time.monotonic())
            if chunk <= 0:
                return True
        if p.poll(math.ceil(chunk * 1000)):
            return True


signals.register_interruptible(_wait_readable)


# ----- signalfd4 ---------------------------------------------------------------------------------

class SignalFd(SignalWaiter):
    """A guest signalfd: the read end of a waiter's pipe; reads dequeue pending signals."""

    intercepts_io = True

    def io_read(self, fd: int, views: list) -> int | None:
        n = sum(len(v) for v in views) // SSI_SIZE
        if not n:
            return -lerrno.EINVAL
        settled = False
        while True:
            got = signals.take(self.mask, n)
            if got:
                _scatter(views, b"".join(ssi_from_siginfo(i) for i in got))
                return len(got) * SSI_SIZE
            if not settled:
                settled = True
                signals.settle(self.mask)      # one arriving from the host kernel right now
                continue
            if not os.get_blocking(fd):
                return -lerrno.EAGAIN
            signals.notify_waiters()           # no stale byte in the pipe before waiting on it
            if threads.multi():
                return threads.wait_fds({fd: select.POLLIN}, None, fd)
            if not _wait_readable(fd):
                return -lerrno.EINTR           # (re-run under SA_RESTART, as Linux's -ERESTARTSYS)
            settled = False

    def io_write(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL

    def fdinfo_lines(self, fd: int) -> str:
        return f"sigmask:\t{self.mask:016x}\n"           # signalfd_show_fdinfo


@syscall("signalfd4", "fd, ptr, size, hex", ret="fd", level=PARTIAL,
         note="a pipe kept readable while a signal of the mask is pending (fstat: a FIFO); "
              "on macOS a signal from another process has no sender (SIGCHLD: a waitable child's)")
def sys_signalfd4(fd, mask_ptr, sizemask, flags):
    if sizemask != 8:
        return -lerrno.EINVAL
    mask = proc.mem.unpack(_SIGSET, mask_ptr)[0] & ~UNBLOCKABLE
    flags &= 0xFFFFFFFF
    if flags & ~(_L_SFD_CLOEXEC | _L_SFD_NONBLOCK):
        return -lerrno.EINVAL
    if fd != -1:
        if fd < 0 or not proc.fds.valid(fd):
            return -lerrno.EBADF
        os.fstat(fd)                            # EBADF for a closed fd
        st = proc.fds.get(fd)
        if not isinstance(st, SignalFd):
            return -lerrno.EINVAL
        st.mask = mask                          # flags are not applied on an update (Linux)
        sigwaiters.mask_changed()
        return fd
    st = SignalFd(mask)
    r = st.open(cloexec=bool(flags & _L_SFD_CLOEXEC), nonblock=bool(flags & _L_SFD_NONBLOCK))
    proc.fds.on_close(r)        # no stale per-fd state from an earlier owner of the number
    proc.fds.set(r, st)
    sigwaiters.register(st)
    return r


# ----- rt_sigtimedwait ---------------------------------------------------------------------------

class _TimedWait(SignalWaiter):
    transient = True


def _give(raw: bytes, info: int) -> int:
    if info:
        proc.mem.write(info, raw[:signals.SIGINFO_SIZE])
    return struct.unpack_from("<i", raw, 0)[0]


@syscall("rt_sigtimedwait", "ptr, ptr, ptr, size", interruptible=True, restart=False)
def sys_rt_sigtimedwait(set_, info, timeout, size):
    if size != 8:
        return -lerrno.EINVAL
    mem = proc.mem
    want = mem.unpack(_SIGSET, set_)[0] & ~UNBLOCKABLE
    tmo = None
    if timeout:
        sec, nsec = mem.unpack(_TIMESPEC, timeout)
        if sec < 0 or not 0 <= nsec < 1000000000:
            return -lerrno.EINVAL
        tmo = sec + nsec / 1e9
    got = signals.take(want, 1)
    if got:
        return _give(got[0], info)
    if tmo == 0 and not signals.host_pending(want):
        return -lerrno.EAGAIN
    # A waiter over the set, on every host: signals other guests post to our
    # inbox (runtime/siginbox.py) never reach the host's sigtimedwait.
    return _wait_portable(want, tmo, info)


def _wait_portable(want: int, tmo: float | None, info: int) -> int:
    """No sigtimedwait on this host: a transient waiter over `want` (the signals
    layer catches the blocked ones for it) and a poll on its pipe."""
    st = proc.sig
    w = _TimedWait(want)
    w.open()
    sigwaiters.register(w)
    try:
        deadline = None if tmo is None else time.monotonic() + tmo
        while True:
            got = signals.take(want, 1)
            if got:
                return _give(got[0], info)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                signals.settle(want)
                got = signals.take(want, 1)
                return _give(got[0], info) if got else -lerrno.EAGAIN
            signals.notify_waiters()
            if not _wait_readable(w.rfd, deadline):
                raise InterruptedError
    except InterruptedError:
        # Another handled signal - or one of the set the guest does not block.
        st.interrupted = False
        got = signals.take(want, 1)
        return _give(got[0], info) if got else -lerrno.EINTR
    finally:
        w.release()
