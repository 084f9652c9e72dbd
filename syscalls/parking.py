"""Parking a guest thread on a call that would block the host: the machinery.

Guest threads are serialised on one host thread (elfuse_py/runtime/threads.py),
so a handler blocking in the host (accept, recv on an empty socket, read on an
empty pipe, ppoll with nothing ready...) would stop every guest thread, and a
guest whose other thread is the one that would make the call ready deadlocks.

When a second thread appears, `install()` (registered in proc.threads.on_multi by
syscalls/registry.py) wraps the dispatch entries of the calls named in `WRAP`
(single-threaded processes keep the bare handlers: no cost on the hot path).
The wrapper asks the host with a zero-timeout poll whether the call can
proceed; if not, and the fd is a blocking one (and no MSG_DONTWAIT), the
thread is parked on the host fd (`threads.wait_fds`) and the syscall is
*restarted* from its SVC once the fd is ready: the handler itself always runs
on a ready fd.  SO_RCVTIMEO/SO_SNDTIMEO bound those waits (EAGAIN).

This module owns that machinery: the readiness checks, `park` (with the
socket's timeout), the plain park-and-restart wrapper (read, readv, accept,
accept4), deadlines from guest timespecs, the name -> wrapper table `WRAP`
and `install()`.  The calls that need more than a park add their wrappers to
`WRAP` from their own modules, which syscalls/registry.py imports with this one
(when the second thread appears: a single-threaded run loads none of them):

  syscalls/parked_io.py     sendfile, recv(MSG_WAITALL), big writes,
                            recvmmsg/sendmmsg, connect
  syscalls/parked_waits.py  ppoll/pselect6/epoll_pwait, rt_sigsuspend/
                            rt_sigtimedwait, flock/F_SETLKW, wait4/waitid
  syscalls/parked_open.py   open() of a FIFO (on a helper host thread)

Not covered (still block every thread): blocking calls not listed in WRAP.
"""
from __future__ import annotations

import os
import select
import _socket as socket    # (the C module: its constants, without socket.py's enum and selectors imports)
import struct
import time
from collections.abc import Callable

from elfuse_py.host import sockets as hostsock
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import lazy
from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS
from elfuse_py.host.sockets import ffi as sffi, libc as slibc

IN, OUT = select.POLLIN, select.POLLOUT
L_MSG_DONTWAIT = 0x40
_TIMESPEC = struct.Struct("<qq")


# ----- readiness and the park ------------------------------------------------------------

def ready(fd: int, ev: int) -> bool:
    p = select.poll()
    p.register(fd, ev)
    try:
        return bool(p.poll(0))
    except OSError:
        return True                  # let the handler report it


def would_block(fd: int, ev: int) -> bool:
    """True if a blocking call on guest fd `fd` waiting for `ev` would wait in the host."""
    if not proc.fds.valid(fd) or ready(fd, ev):
        return False
    try:
        return os.get_blocking(fd)
    except OSError:
        return False


# SO_RCVTIMEO / SO_SNDTIMEO: the host's struct timeval.
_TIMEVAL = hostsock.TIMEVAL
_SO_TIMEO = {IN: getattr(socket, "SO_RCVTIMEO", None), OUT: getattr(socket, "SO_SNDTIMEO", None)}


def sock_deadline(fd: int, ev: int) -> int | None:
    """The CLOCK_MONOTONIC deadline a socket's SO_RCVTIMEO/SO_SNDTIMEO puts on a call
    that starts waiting now (None: no timeout, or not a socket)."""
    opt = _SO_TIMEO.get(ev)
    if opt is None:
        return None
    buf = sffi.new("char[16]")
    ln = sffi.new("socklen_t *", 16)
    if slibc.getsockopt(fd, socket.SOL_SOCKET, opt, buf, ln) < 0 or ln[0] < _TIMEVAL.size:
        return None
    sec, usec = _TIMEVAL.unpack(sffi.buffer(buf, _TIMEVAL.size))
    if sec <= 0 and usec <= 0:
        return None
    return time.monotonic_ns() + sec * 1_000_000_000 + usec * 1000


def eagain() -> int:
    return -lerrno.EAGAIN


def park(fd: int, ev: int, orig_x0: int) -> int | None:
    """Park on `fd` until `ev`; the syscall restarts then (EAGAIN at the socket's timeout)."""
    deadline = sock_deadline(fd, ev)
    return threads.wait_fds({fd: ev}, deadline, orig_x0, eagain if deadline else None)


def _fd_call(fn, ev: int, flags_arg: int | None):
    """Wrap a handler whose first argument is the fd (read, recvmsg, accept...)."""
    def wrapped(*a):
        if threads.multi():
            fd = a[0] & 0xFFFFFFFF
            if (flags_arg is None or not a[flags_arg] & L_MSG_DONTWAIT) and would_block(fd, ev):
                return park(fd, ev, a[0])
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- helpers of the parked calls -------------------------------------------------------

def errno_result(fn, *a) -> int:
    """The handler's result, a host OSError it raises turned into -Linux errno."""
    try:
        return fn(*a)
    except OSError as e:
        if e.errno is None:
            raise
        return -lerrno.to_linux(e.errno)


def deadline_ts(tsp: int) -> int | None | bool:
    """CLOCK_MONOTONIC deadline (ns) from a guest timespec; None = forever, False = no wait."""
    if not tsp:
        return None
    sec, nsec = proc.mem.unpack(_TIMESPEC, tsp)
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        return False                 # the handler reports EINVAL
    if sec == 0 and nsec == 0:
        return False
    return time.monotonic_ns() + sec * 1_000_000_000 + nsec


def later():
    """A `check` for wait_fds that says yes once one poll period has passed."""
    not_before = time.monotonic_ns() + int(threads.IDLE_POLL * 1e9)
    return lambda: time.monotonic_ns() >= not_before


# ----- the table and install() -----------------------------------------------------------
# name -> wrapper factory: the calls a plain park covers are here; the modules
# of the other parked calls (see above) add theirs as they are imported.
WRAP: dict[str, Callable] = {
    "read": lambda fn: _fd_call(fn, IN, None),
    "readv": lambda fn: _fd_call(fn, IN, None),
    "accept": lambda fn: _fd_call(fn, IN, None),
    "accept4": lambda fn: _fd_call(fn, IN, None),
}


def install() -> None:
    """Wrap the blocking syscalls in the live dispatch list (idempotent)."""
    if proc.syscalls is None:
        return
    d = proc.syscalls.dispatch
    for name, factory in WRAP.items():
        nr = SYSCALL_NUMBERS[name]
        if lazy.wrap_when_loaded(d, nr, factory):
            continue                       # wrapped when its module loads, at its first call
        entry = lazy.entry(d, nr)
        if entry is None or getattr(entry[0], "_blocking_wrapper", False):
            continue
        fn, decode = entry
        w = factory(fn)
        d[nr] = (w, decode)

