"""Host readiness asked the same way on macOS and Linux, and fds whose readiness the emulator computes.

poll(2) is the host's readiness call, with one macOS trap: there it answers
POLLNVAL for ttys and other character devices, so those are asked with
select(2), which is right for them on both hosts.  `probe` asks without
waiting; `sleep` blocks until one of the fds may be ready, or the timeout.
Both take {fd: host poll events} for poll and, separately, for select (the
character devices); nothing here checks which host this is.

Some guest fds have no host readiness of their own: the emulator computes
it (an emulated epoll instance, syscalls/epoll_emu.py).  Their FdState sets
`computes_readiness` and has

    readiness(fd) -> the Linux poll bits ready now; asking changes nothing
    wait_set(fd)  -> (pollfds, selfds, recheck): the host fds to sleep on until
                     that may change ({fd: host poll events}; selfds are for
                     select), and whether something no fd wakes a sleeper for
                     may change it too (then ask again every RECHECK seconds)

ppoll/pselect6 (syscalls/poll.py) and the thread-parking layer
(syscalls/parked_waits.py) expand such fds with them.  `ACTIVE` stays False
until one exists in this process, so nobody else pays for the look-up.
"""
from __future__ import annotations

import os
import select
import stat

from elfuse_py.runtime import signals
from elfuse_py.runtime.process import proc

RECHECK = 0.02          # seconds between looks when no host fd can wake a sleeper
ACTIVE = False          # an fd with computed readiness exists (set by syscalls/epoll_emu.py)

_H_IN = select.POLLIN | getattr(select, "POLLRDNORM", 0)
_H_OUT = select.POLLOUT | getattr(select, "POLLWRNORM", 0) | getattr(select, "POLLWRBAND", 0)
_H_EX = select.POLLPRI | getattr(select, "POLLRDBAND", 0)
H_NVAL = getattr(select, "POLLNVAL", 0x20)
# select() takes fds below FD_SETSIZE only (1024 on both hosts' Python builds).
_SELECT_LIMIT = 1024


def is_char_device(fd: int) -> bool:
    try:
        return stat.S_ISCHR(os.fstat(fd).st_mode)
    except OSError:
        return False


def emulated(fd: int):
    """The FdState of `fd` if the emulator computes its readiness, else None."""
    if not ACTIVE:
        return None
    st = proc.fds.state.get(fd)
    return st if st is not None and st.computes_readiness else None


def emulated_in(fds) -> dict:
    """{fd: state} for those of `fds` whose readiness the emulator computes."""
    if not ACTIVE:
        return {}
    states = proc.fds.state
    out = {}
    for fd in fds:
        st = states.get(fd)
        if st is not None and st.computes_readiness:
            out[fd] = st
    return out


def merge(into: dict[int, int], more: dict[int, int]) -> None:
    for fd, ev in more.items():
        into[fd] = into.get(fd, 0) | ev


def _select_sets(fds: dict[int, int]) -> tuple[list, list, list]:
    return ([fd for fd, ev in fds.items() if ev & _H_IN],
            [fd for fd, ev in fds.items() if ev & _H_OUT],
            [fd for fd, ev in fds.items() if ev & _H_EX])


def _select_probe(fds: dict[int, int]) -> dict[int, int]:
    """select(2) with no wait, as poll revents; a closed fd is POLLNVAL."""
    small = {fd: ev for fd, ev in fds.items() if fd < _SELECT_LIMIT}
    out: dict[int, int] = {}
    try:
        r, w, x = select.select(*_select_sets(small), 0)
    except InterruptedError:
        raise
    except OSError:                      # a closed fd among them: ask one by one
        for fd, ev in small.items():
            try:
                os.fstat(fd)
            except OSError:
                out[fd] = H_NVAL
                continue
            out.update(_select_probe({fd: ev}))
        return out
    for fd in r:
        out[fd] = out.get(fd, 0) | (small[fd] & _H_IN)
    for fd in w:
        out[fd] = out.get(fd, 0) | (small[fd] & _H_OUT)
    for fd in x:
        out[fd] = out.get(fd, 0) | (small[fd] & _H_EX)
    # Past FD_SETSIZE only poll can ask; a POLLNVAL there means "cannot tell".
    big = {fd: ev for fd, ev in fds.items() if fd >= _SELECT_LIMIT}
    for fd, rev in _poll(big, 0).items():
        if not rev & H_NVAL:
            out[fd] = rev
    return out


def _poll(fds: dict[int, int], ms) -> dict[int, int]:
    p = select.poll()
    for fd, ev in fds.items():
        p.register(fd, ev)
    return dict(p.poll(ms))


def probe(pollfds: dict[int, int], selfds: dict[int, int]) -> dict[int, int]:
    """{fd: host revents} of the fds ready now (poll for `pollfds`, select for `selfds`)."""
    out = _poll(pollfds, 0) if pollfds else {}
    if selfds:
        for fd, rev in _select_probe(selfds).items():
            out[fd] = out.get(fd, 0) | rev
    return out


RECHECK_MAX = 86400.0


def sleep(pollfds: dict[int, int], selfds: dict[int, int], timeout: float | None) -> None:
    """Block until one of the fds may be ready or `timeout` seconds (None: no limit) pass.

    Returns early when a fd is ready (or closed); the caller probes again.  A
    guest signal interrupts it (InterruptedError), like the handler's own
    blocking call.
    """
    if timeout is not None and timeout > RECHECK_MAX:
        timeout = RECHECK_MAX       # the caller loops: the host calls cannot take more
    ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999999))
    if not selfds:
        if not pollfds:
            select.select([], [], [], None if timeout is None else max(0.0, timeout))
            return
        p = select.poll()
        for fd, ev in pollfds.items():
            p.register(fd, ev)
        p.poll(ms)
        return
    every = dict(pollfds)
    merge(every, selfds)
    if max(every) >= _SELECT_LIMIT:
        # select cannot take them all: poll the others, look at the devices in slices.
        wait = RECHECK if timeout is None else min(RECHECK, max(0.0, timeout))
        p = select.poll()
        for fd, ev in pollfds.items():
            p.register(fd, ev)
        p.poll(int(wait * 1000 + 0.999999))
        return
    try:
        select.select(*_select_sets(every), None if timeout is None else max(0.0, timeout))
    except InterruptedError:
        raise
    except OSError:
        pass                             # a closed fd: the caller's probe finds it


# Guest signals cut the wait short (elfuse_py.runtime.signals looks for the
# frame doing the blocking call).
signals.register_interruptible(sleep)
