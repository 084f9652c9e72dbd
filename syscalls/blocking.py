"""Calls that would block the host while other guest threads should run.

Guest threads are serialised on one host thread (elfuse_py/threads.py), so a
handler blocking in the host (accept, recv on an empty socket, read on an
empty pipe, ppoll with nothing ready...) would stop every guest thread, and a
guest whose other thread is the one that would make the call ready deadlocks.

When a second thread appears, the dispatch entries of those syscalls are
wrapped (single-threaded processes keep the bare handlers: no cost on the hot
path).  The wrapper asks the host with a zero-timeout poll whether the call
can proceed; if not, and the fd is a blocking one (and no MSG_DONTWAIT), the
thread is parked on the host fd (`threads.wait_fds`) and the syscall is
*restarted* from its SVC once the fd is ready: the handler itself always runs
on a ready fd.  ppoll/pselect6/epoll_pwait park on their whole fd set with
their deadline; at the deadline they return 0 with the result sets cleared, as
Linux does.

Not covered (still block every thread): a blocking write larger than the free
buffer space, connect to a full backlog, wait4/waitid, recvmmsg, SO_RCVTIMEO
(the park waits for readiness without the socket's timeout).
"""
from __future__ import annotations

import os
import select
import struct
import time

from elfuse_py import threads
from elfuse_py.process import proc

from . import table
from .numbers import SYSCALL_NUMBERS

_IN, _OUT, _PRI = select.POLLIN, select.POLLOUT, select.POLLPRI
_L_MSG_DONTWAIT = 0x40
_TIMESPEC = struct.Struct("<qq")
_PFD = struct.Struct("<ihh")
# Linux poll bits -> host (the names, for readiness prediction only).
_L_POLL = ((0x001, _IN), (0x002, _PRI), (0x004, _OUT), (0x040, _IN), (0x080, _PRI),
           (0x100, _OUT), (0x200, _OUT), (0x2000, _IN))


def _ready(fd: int, ev: int) -> bool:
    p = select.poll()
    p.register(fd, ev)
    try:
        return bool(p.poll(0))
    except OSError:
        return True                  # let the handler report it


def _would_block(fd: int, ev: int) -> bool:
    """True if a blocking call on guest fd `fd` waiting for `ev` would wait in the host."""
    if not proc.fds.valid(fd) or _ready(fd, ev):
        return False
    try:
        return os.get_blocking(fd)
    except OSError:
        return False


def _fd_call(fn, ev: int, flags_arg: int | None):
    """Wrap a handler whose first argument is the fd (read, recvmsg, accept...)."""
    def wrapped(*a):
        if len(threads.threads) > 1:
            fd = a[0] & 0xFFFFFFFF
            if (flags_arg is None or not a[flags_arg] & _L_MSG_DONTWAIT) and _would_block(fd, ev):
                return threads.wait_fds({fd: ev}, None, a[0])
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


def _deadline_ts(tsp: int) -> int | None | bool:
    """CLOCK_MONOTONIC deadline (ns) from a guest timespec; None = forever, False = no wait."""
    if not tsp:
        return None
    sec, nsec = proc.mem.unpack(_TIMESPEC, tsp)
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return False                 # the handler reports EINVAL
    if sec == 0 and nsec == 0:
        return False
    return time.monotonic_ns() + sec * 1_000_000_000 + nsec


def _any_ready(pollset: dict[int, int]) -> bool:
    p = select.poll()
    for fd, ev in pollset.items():
        p.register(fd, ev)
    try:
        return bool(p.poll(0))
    except OSError:
        return True


def _ppoll(fn):
    def wrapped(fds, nfds, tsp, sigmask, sigsetsize):
        if len(threads.threads) > 1:
            try:
                deadline = _deadline_ts(tsp)
                n = nfds & 0xFFFFFFFF
                if deadline is not False and 0 <= n <= proc.fds.limit:
                    raw = proc.mem.read(fds, _PFD.size * n)
                    proc.mem.check(fds, _PFD.size * n, 2)
                    want: dict[int, int] = {}
                    for i in range(n):
                        fd, ev, _r = _PFD.unpack_from(raw, i * _PFD.size)
                        if fd >= 0:
                            hev = 0
                            for lbit, hbit in _L_POLL:
                                if ev & lbit:
                                    hev |= hbit
                            want[fd] = want.get(fd, 0) | hev
                    if not _any_ready(want):
                        def on_timeout():
                            # Linux: every revents 0, result 0.
                            buf = bytearray(raw)
                            for i in range(n):
                                fd, ev, _r = _PFD.unpack_from(buf, i * _PFD.size)
                                _PFD.pack_into(buf, i * _PFD.size, fd, ev, 0)
                            proc.mem.write(fds, bytes(buf))
                            return 0
                        return threads.wait_fds(want, deadline, fds, on_timeout)
            except Exception:  # noqa: BLE001 - bad pointers etc.: the handler reports them
                pass
        return fn(fds, nfds, tsp, sigmask, sigsetsize)
    wrapped._blocking_wrapper = True
    return wrapped


def _pselect6(fn):
    def wrapped(n, inp, outp, exp, tsp, sig):
        if len(threads.threads) > 1:
            try:
                deadline = _deadline_ts(tsp)
                nfd = min(n & 0xFFFFFFFF, proc.fds.limit)
                if deadline is not False and 0 <= nfd <= 4096:
                    nbytes = (nfd + 63) // 64 * 8
                    ptrs = (inp, outp, exp)
                    sets = [int.from_bytes(proc.mem.read(p, nbytes), "little") if p else 0
                            for p in ptrs]
                    want: dict[int, int] = {}
                    for fd in range(nfd):
                        bit = 1 << fd
                        ev = (_IN if sets[0] & bit else 0) | (_OUT if sets[1] & bit else 0) \
                            | (_PRI if sets[2] & bit else 0)
                        if ev:
                            want[fd] = ev
                    if not _any_ready(want):
                        def on_timeout():
                            for p in ptrs:            # Linux: the sets come back empty
                                if p:
                                    proc.mem.write(p, bytes(nbytes))
                            return 0
                        return threads.wait_fds(want, deadline, n, on_timeout)
            except Exception:  # noqa: BLE001 - the handler reports bad arguments
                pass
        return fn(n, inp, outp, exp, tsp, sig)
    wrapped._blocking_wrapper = True
    return wrapped


def _epoll(fn, timeout_is_ts: bool):
    def wrapped(epfd, events, maxevents, timeout, sigmask, sigsetsize):
        if len(threads.threads) > 1:
            try:
                if timeout_is_ts:
                    deadline = _deadline_ts(timeout)
                else:
                    t = timeout & 0xFFFFFFFF
                    t = t - (1 << 32) if t & 0x80000000 else t
                    deadline = None if t < 0 else (
                        False if t == 0 else time.monotonic_ns() + t * 1_000_000)
                fd = epfd & 0xFFFFFFFF
                if deadline is not False and 0 < (maxevents & 0xFFFFFFFF) < 1 << 31 \
                        and proc.fds.valid(fd) and not _ready(fd, _IN):
                    return threads.wait_fds({fd: _IN}, deadline, epfd, lambda: 0)
            except Exception:  # noqa: BLE001 - the handler reports bad arguments
                pass
        return fn(epfd, events, maxevents, timeout, sigmask, sigsetsize)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- wait4 / waitid ------------------------------------------------------------------

_L_WNOHANG, _L_WUNTRACED, _L_WCONTINUED = 1, 2, 8
_L_WEXITED, _L_WSTOPPED_ID = 4, 2


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _child_probe(idtype: int, ident: int, wopts: int):
    """A callable telling whether a wait for (host idtype, ident) would return now,
    without reaping anything (waitid WNOWAIT|WNOHANG); always True where the host
    cannot say (the restarted call then asks with WNOHANG itself)."""
    opts = wopts | os.WNOHANG | getattr(os, "WNOWAIT", 0)
    # The call itself just found nothing: no need to ask again within one poll period
    # (and a probe that disagrees with the call cannot spin the scheduler).
    not_before = time.monotonic_ns() + int(threads.IDLE_POLL * 1e9)

    def probe() -> bool:
        if time.monotonic_ns() < not_before:
            return False
        if not hasattr(os, "waitid") or not opts & getattr(os, "WNOWAIT", 0):
            return True
        try:
            return os.waitid(idtype, ident, opts) is not None
        except ChildProcessError:
            return True              # the restarted call reports ECHILD
        except OSError:
            return True
    return probe


def _park_wait(orig_x0: int, idtype: int, ident: int, wopts: int):
    """Park the calling thread until a child matching the wait can be reaped."""
    pollset: dict[int, int] = {}
    cleanup = None
    if idtype == getattr(os, "P_PID", None) and hasattr(os, "pidfd_open"):
        # Linux: a pidfd polls readable when that child exits: wake at once.
        try:
            pfd = proc.fds.reserve(os.pidfd_open(ident))
        except OSError:
            pfd = -1
        if pfd >= 0:
            pollset[pfd] = _IN

            def cleanup(fd=pfd):
                os.close(fd)
    return threads.wait_fds(pollset, None, orig_x0, check=_child_probe(idtype, ident, wopts),
                            cleanup=cleanup)


def _host_wait_opts(exited: bool, stopped: bool, continued: bool) -> int:
    return (os.WEXITED if exited else 0) | (os.WSTOPPED if stopped else 0) \
        | (os.WCONTINUED if continued else 0)


def _wait4(fn):
    def wrapped(pid, wstatus, options, rusage):
        if len(threads.threads) > 1 and not options & _L_WNOHANG:
            # Ask without waiting; if no child is ready yet, let the other threads run.
            r = fn(pid, wstatus, options | _L_WNOHANG, rusage)
            if r != 0:
                return r
            p = _s32(pid)
            if p < -1:
                idtype, ident = os.P_PGID, -p
            elif p == -1:
                idtype, ident = os.P_ALL, 0
            elif p == 0:
                idtype, ident = os.P_PGID, os.getpgrp()
            else:
                idtype, ident = os.P_PID, p
            return _park_wait(pid, idtype, ident,
                              _host_wait_opts(True, bool(options & _L_WUNTRACED),
                                              bool(options & _L_WCONTINUED)))
        return fn(pid, wstatus, options, rusage)
    wrapped._blocking_wrapper = True
    return wrapped


_P_IDTYPES = {0: "P_ALL", 1: "P_PID", 2: "P_PGID"}


def _waitid(fn):
    def wrapped(idtype, id_, infop, options, rusage):
        name = _P_IDTYPES.get(_s32(idtype))
        if len(threads.threads) > 1 and not options & _L_WNOHANG and infop and name \
                and hasattr(os, name):
            r = fn(idtype, id_, infop, options | _L_WNOHANG, rusage)
            # With WNOHANG and no child ready Linux returns 0 with si_pid 0.
            if r != 0 or proc.mem.u32(infop + 16) != 0:
                return r
            ident = _s32(id_)
            if name == "P_PGID" and ident == 0:
                ident = os.getpgrp()
            return _park_wait(idtype, getattr(os, name), ident,
                              _host_wait_opts(bool(options & _L_WEXITED),
                                              bool(options & _L_WSTOPPED_ID),
                                              bool(options & _L_WCONTINUED)))
        return fn(idtype, id_, infop, options, rusage)
    wrapped._blocking_wrapper = True
    return wrapped


# name -> wrapper factory
_WRAP = {
    "wait4": _wait4,
    "waitid": _waitid,
    "read": lambda fn: _fd_call(fn, _IN, None),
    "readv": lambda fn: _fd_call(fn, _IN, None),
    "recvfrom": lambda fn: _fd_call(fn, _IN, 3),
    "recvmsg": lambda fn: _fd_call(fn, _IN, 2),
    "accept": lambda fn: _fd_call(fn, _IN, None),
    "accept4": lambda fn: _fd_call(fn, _IN, None),
    "write": lambda fn: _fd_call(fn, _OUT, None),
    "writev": lambda fn: _fd_call(fn, _OUT, None),
    "sendto": lambda fn: _fd_call(fn, _OUT, 3),
    "sendmsg": lambda fn: _fd_call(fn, _OUT, 2),
    "ppoll": _ppoll,
    "pselect6": _pselect6,
    "epoll_pwait": lambda fn: _epoll(fn, False),
    "epoll_pwait2": lambda fn: _epoll(fn, True),
}


def install() -> None:
    """Wrap the blocking syscalls in the live dispatch list (idempotent)."""
    d = table.current_dispatch
    if d is None:
        return
    for name, factory in _WRAP.items():
        nr = SYSCALL_NUMBERS[name]
        entry = d[nr]
        if entry is None or getattr(entry[0], "_blocking_wrapper", False):
            continue
        fn, nargs = entry
        w = factory(fn)
        d[nr] = (w, nargs)


threads.on_multi.append(install)
