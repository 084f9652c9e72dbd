"""Parked waits: calls whose whole point is to wait, parked with their deadline.

With other guest threads (see syscalls/parking.py) these park instead of
waiting in the host:

- ppoll/pselect6/epoll_pwait(2) park on their whole fd set with their
  deadline; at the deadline they return 0 with the result sets cleared, as
  Linux does (an emulated epoll fd, in the set or waited on, parks on the fds
  it watches);
- rt_sigsuspend/rt_sigtimedwait park with the mask until a signal is pending;
- flock and F_SETLKW/F_OFD_SETLKW try without waiting and retry every poll
  period;
- wait4/waitid ask with WNOHANG and park, woken by a pidfd or a WNOWAIT probe.
"""
from __future__ import annotations

import os
import select
import struct
import time

from elfuse_py.host import children
from elfuse_py.host import events as hostev
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import readiness
from elfuse_py.syscalls.parking import IN, OUT, WRAP, deadline_ts, errno_result, later, ready
from elfuse_py.runtime import signals

# ----- ppoll / pselect6 / epoll_pwait ----------------------------------------------------
# Parked on their whole fd set (epoll: on the epoll fd) with their deadline; at
# the deadline they return 0 with the result sets cleared, as Linux does.

_PRI = select.POLLPRI
_PFD = struct.Struct("<ihh")
# Linux poll bits -> host (the names, for readiness prediction only).
_L_POLL = ((0x001, IN), (0x002, _PRI), (0x004, OUT), (0x040, IN), (0x080, _PRI),
           (0x100, OUT), (0x200, OUT), (0x2000, IN))


def _any_ready(pollset: dict[int, int]) -> bool:
    p = select.poll()
    for fd, ev in pollset.items():
        p.register(fd, ev)
    try:
        return bool(p.poll(0))
    except OSError:
        return True


def _computed_wait(want: dict[int, int]):
    """`want` ({fd: host events}) with the fds whose readiness the emulator computes
    (emulated epolls, syscalls/readiness.py) expanded into the host fds they watch:
    None when there are none; else (ready now?, host pollset, check).  The check
    (asked every poll period) says yes when one of them became readable in a way
    no host fd signals, or another thread changed its interest list."""
    computed = readiness.emulated_in(want)
    if not computed:
        return None
    asked = {fd: st for fd, st in computed.items() if want[fd] & IN}
    if any(st.readiness(fd) for fd, st in asked.items()):
        return True, None, None
    pollset = {fd: ev for fd, ev in want.items() if fd not in computed}
    periodic = False
    for fd, st in asked.items():
        p, s, r = st.wait_set(fd)
        readiness.merge(pollset, p)
        periodic |= bool(s) or r          # character devices are asked with select there
    changes = {fd: st.changes for fd, st in asked.items()}

    def check() -> bool:
        return any(st.changes != changes[fd] or (periodic and st.readiness(fd))
                   for fd, st in asked.items())
    return _any_ready(pollset), pollset, check


def _park_or_call(want: dict[int, int], deadline, orig_x0: int, on_timeout):
    """Park on `want` (expanding computed-readiness fds) unless something is ready:
    the wait_fds result, or False when the handler should run now."""
    computed = _computed_wait(want)
    check = None
    if computed is not None:
        now, want, check = computed
        if now:
            return False
    elif _any_ready(want):
        return False
    return threads.wait_fds(want, deadline, orig_x0, on_timeout, check=check)


def _ppoll(fn):
    def wrapped(fds, nfds, tsp, sigmask, sigsetsize):
        if threads.multi():
            try:
                deadline = deadline_ts(tsp)
                n = nfds & 0xFFFFFFFF
                if deadline is not False and 0 <= n <= proc.fds.ceiling:
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
                    def on_timeout():
                        # Linux: every revents 0, result 0.
                        buf = bytearray(raw)
                        for i in range(n):
                            fd, ev, _r = _PFD.unpack_from(buf, i * _PFD.size)
                            _PFD.pack_into(buf, i * _PFD.size, fd, ev, 0)
                        proc.mem.write(fds, bytes(buf))
                        return 0
                    r = _park_or_call(want, deadline, fds, on_timeout)
                    if r is not False:
                        return r
            except Exception:  # noqa: BLE001 - bad pointers etc.: the handler reports them
                pass
        return fn(fds, nfds, tsp, sigmask, sigsetsize)
    wrapped._blocking_wrapper = True
    return wrapped


def _pselect6(fn):
    # pselect6's own module: loaded by now (this wraps its handler), not at a first thread.
    from elfuse_py.syscalls import poll

    def wrapped(n, inp, outp, exp, tsp, sig):
        if threads.multi():
            try:
                deadline = deadline_ts(tsp)
                nfd = min(n & 0xFFFFFFFF, proc.fds.limit)
                if deadline is not False and 0 <= nfd <= 4096:
                    nbytes = (nfd + 63) // 64 * 8
                    ptrs = (inp, outp, exp)
                    _, wanted = poll.read_fdsets(nfd, ptrs)
                    want = {fd: poll.to_host(ev) for fd, ev in wanted.items()}

                    def on_timeout():
                        for p in ptrs:            # Linux: the sets come back empty
                            if p:
                                proc.mem.write(p, bytes(nbytes))
                        return 0
                    r = _park_or_call(want, deadline, n, on_timeout)
                    if r is not False:
                        return r
            except Exception:  # noqa: BLE001 - the handler reports bad arguments
                pass
        return fn(n, inp, outp, exp, tsp, sig)
    wrapped._blocking_wrapper = True
    return wrapped


def _epoll(fn, timeout_is_ts: bool):
    def wrapped(epfd, events, maxevents, timeout, sigmask, sigsetsize):
        if threads.multi():
            try:
                if timeout_is_ts:
                    deadline = deadline_ts(timeout)
                else:
                    t = timeout & 0xFFFFFFFF
                    t = t - (1 << 32) if t & 0x80000000 else t
                    deadline = None if t < 0 else (
                        False if t == 0 else time.monotonic_ns() + t * 1_000_000)
                fd = epfd & 0xFFFFFFFF
                if deadline is not False and 0 < (maxevents & 0xFFFFFFFF) < 1 << 31 \
                        and proc.fds.valid(fd):
                    if readiness.emulated(fd) is not None:     # the emulated epoll
                        r = _park_or_call({fd: IN}, deadline, epfd, lambda: 0)
                        if r is not False:
                            return r
                    elif not ready(fd, IN):
                        return threads.wait_fds({fd: IN}, deadline, epfd, lambda: 0)
            except Exception:  # noqa: BLE001 - the handler reports bad arguments
                pass
        return fn(epfd, events, maxevents, timeout, sigmask, sigsetsize)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- signal waits -----------------------------------------------------------------------
# rt_sigsuspend and rt_sigtimedwait wait in the host (sigsuspend, sigtimedwait):
# with other threads the thread parks instead, with its mask, until a signal
# it does not block is pending (threads.steer sends the main thread its share)
# or, for sigtimedwait, one of its set is pending here or in the host kernel.

_SIGSET = struct.Struct("<Q")


def _rt_sigsuspend(fn):
    def wrapped(set_, size):
        if threads.multi() and size == 8:
            st = proc.sig
            m = proc.mem.unpack(_SIGSET, set_)[0] & ~signals.UNBLOCKABLE
            signals.drop_ignored(m)              # an ignored signal ends no wait
            if not st.pending & ~m:
                st.saved_mask = st.mask          # restored once the handler is set up
                signals.set_mask(m)
                return threads.wait_fds({}, None, set_, on_eintr=lambda: -lerrno.EINTR)
        return fn(set_, size)
    wrapped._blocking_wrapper = True
    return wrapped


def _rt_sigtimedwait(fn):
    def wrapped(set_, info, timeout, size):
        if threads.multi() and size == 8:
            import signal as hs
            st = proc.sig
            want = proc.mem.unpack(_SIGSET, set_)[0] & ~signals.UNBLOCKABLE
            deadline = deadline_ts(timeout)
            hosts = signals.host_set(want)
            me = proc.threads.current

            def available() -> bool:
                if st.pending & want or any(want & (1 << (s - 1)) for s in tuple(me.sigpending)):
                    return True
                return bool(hosts and hs.sigpending() & hosts)

            if deadline is not False and not available():
                return threads.wait_fds({}, deadline, set_, on_timeout=lambda: -lerrno.EAGAIN,
                                        check=available, on_eintr=lambda: -lerrno.EINTR)
        return fn(set_, info, timeout, size)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- file locks ---------------------------------------------------------------------------
# flock and F_SETLKW/F_OFD_SETLKW wait for another holder: with other threads the
# lock is tried without waiting and the thread retries every IDLE_POLL.

_L_LOCK_NB = 4
_L_F_SETLK, _L_F_SETLKW, _L_F_OFD_SETLK, _L_F_OFD_SETLKW = 6, 7, 37, 38


def _flock(fn):
    def wrapped(fd, op):
        if threads.multi() and not op & _L_LOCK_NB and op & 3:
            r = errno_result(fn, fd, op | _L_LOCK_NB)
            if r != -lerrno.EAGAIN:            # EWOULDBLOCK
                return r
            return threads.wait_fds({}, None, fd, check=later())
        return fn(fd, op)
    wrapped._blocking_wrapper = True
    return wrapped


def _fcntl(fn):
    nowait = {_L_F_SETLKW: _L_F_SETLK, _L_F_OFD_SETLKW: _L_F_OFD_SETLK}

    def wrapped(fd, cmd, arg):
        c = cmd & 0xFFFFFFFF
        if c in nowait and threads.multi():
            r = errno_result(fn, fd, nowait[c], arg)
            if r not in (-lerrno.EAGAIN, -lerrno.EACCES):
                return r
            return threads.wait_fds({}, None, fd, check=later())
        return fn(fd, cmd, arg)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- wait4 / waitid ------------------------------------------------------------------

_L_WNOHANG, _L_WUNTRACED, _L_WCONTINUED = 1, 2, 8
_L_WEXITED, _L_WSTOPPED_ID = 4, 2


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _child_probe(idtype: str, ident: int, wopts: int):
    """A callable telling whether a wait for (idtype name, ident) would return now,
    without reaping anything (waitid WNOWAIT|WNOHANG); always True where the host
    cannot say (the restarted call then asks with WNOHANG itself)."""
    # The call itself just found nothing: no need to ask again within one poll period
    # (and a probe that disagrees with the call cannot spin the scheduler).
    not_before = time.monotonic_ns() + int(threads.IDLE_POLL * 1e9)

    def probe() -> bool:
        if time.monotonic_ns() < not_before:
            return False
        if not children.WNOWAIT:
            return True
        try:
            return children.peek(idtype, ident, wopts) is not None
        except ChildProcessError:
            return True              # the restarted call reports ECHILD
        except OSError:
            return True
    return probe


def _park_wait(orig_x0: int, idtype: str, ident: int, wopts: int):
    """Park the calling thread until a child matching the wait can be reaped."""
    pollset: dict[int, int] = {}
    cleanup = None
    if idtype == "P_PID" and hostev.HAVE_PIDFD:
        # Linux: a pidfd polls readable when that child exits: wake at once.
        try:
            pfd = proc.fds.reserve(os.pidfd_open(ident))
        except OSError:
            pfd = -1
        if pfd >= 0:
            pollset[pfd] = IN
            cleanup = lambda: os.close(pfd)
    return threads.wait_fds(pollset, None, orig_x0, check=_child_probe(idtype, ident, wopts),
                            cleanup=cleanup)


def _host_wait_opts(exited: bool, stopped: bool, continued: bool) -> int:
    return (children.WEXITED if exited else 0) | (children.WSTOPPED if stopped else 0) \
        | (children.WCONTINUED if continued else 0)


def _wait4(fn):
    def wrapped(pid, wstatus, options, rusage):
        if threads.multi() and not options & _L_WNOHANG:
            # Ask without waiting; if no child is ready yet, let the other threads run.
            r = fn(pid, wstatus, options | _L_WNOHANG, rusage)
            if r != 0:
                return r
            p = _s32(pid)
            if p < -1:
                idtype, ident = "P_PGID", -p
            elif p == -1:
                idtype, ident = "P_ALL", 0
            elif p == 0:
                idtype, ident = "P_PGID", os.getpgrp()
            else:
                idtype, ident = "P_PID", p
            return _park_wait(pid, idtype, ident,
                              _host_wait_opts(True, bool(options & _L_WUNTRACED),
                                              bool(options & _L_WCONTINUED)))
        return fn(pid, wstatus, options, rusage)
    wrapped._blocking_wrapper = True
    return wrapped


_P_IDTYPES = {0: "P_ALL", 1: "P_PID", 2: "P_PGID"}


_P_PIDFD = 3


def _waitid_pidfd(fn, idtype, id_, infop, options, rusage):
    """waitid(P_PIDFD) with other threads: the pidfd (the host's, or the emulated one,
    syscalls/pidfd.py) polls readable once the child exits, so park on it."""
    fd = _s32(id_)
    try:
        blocking = proc.fds.valid(fd) and os.get_blocking(fd)
    except OSError:
        blocking = False
    if not blocking:                 # a bad fd, or PIDFD_NONBLOCK: the handler answers at once
        return fn(idtype, id_, infop, options, rusage)
    r = fn(idtype, id_, infop, options | _L_WNOHANG, rusage)
    if r != 0 or proc.mem.u32(infop + 16) != 0:
        return r
    stops = options & (_L_WSTOPPED_ID | _L_WCONTINUED)
    return threads.wait_fds({fd: IN}, None, idtype, check=later() if stops else None)


def _waitid(fn):
    def wrapped(idtype, id_, infop, options, rusage):
        if _s32(idtype) == _P_PIDFD and threads.multi() and not options & _L_WNOHANG and infop:
            return _waitid_pidfd(fn, idtype, id_, infop, options, rusage)
        name = _P_IDTYPES.get(_s32(idtype))
        if threads.multi() and not options & _L_WNOHANG and infop and name:
            r = fn(idtype, id_, infop, options | _L_WNOHANG, rusage)
            # With WNOHANG and no child ready Linux returns 0 with si_pid 0.
            if r != 0 or proc.mem.u32(infop + 16) != 0:
                return r
            ident = _s32(id_)
            if name == "P_PGID" and ident == 0:
                ident = os.getpgrp()
            return _park_wait(idtype, name, ident,
                              _host_wait_opts(bool(options & _L_WEXITED),
                                              bool(options & _L_WSTOPPED_ID),
                                              bool(options & _L_WCONTINUED)))
        return fn(idtype, id_, infop, options, rusage)
    wrapped._blocking_wrapper = True
    return wrapped


# name -> wrapper factory, for parking.install()
WRAP.update({
    "rt_sigsuspend": _rt_sigsuspend,
    "rt_sigtimedwait": _rt_sigtimedwait,
    "flock": _flock,
    "fcntl": _fcntl,
    "wait4": _wait4,
    "waitid": _waitid,
    "ppoll": _ppoll,
    "pselect6": _pselect6,
    "epoll_pwait": lambda fn: _epoll(fn, False),
    "epoll_pwait2": lambda fn: _epoll(fn, True),
})
