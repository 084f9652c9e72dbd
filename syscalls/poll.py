"""ppoll and pselect6: readiness of sockets, pipes and files.

Linux POLL* bits are translated to the host's by name (select module), fd
readiness comes from the host's poll(2).  A host poll without POLLRDHUP
(macOS, and the Linux that plays one) gets it from the socket layer
(syscalls/net/readiness.py) for the sockets a guest asks it of: POLLIN is
polled for them too, and a socket with unread data whose read side may still
shut is looked at again every 20 ms while nothing else is ready.  A signal-mask argument replaces the
guest's blocked mask for the duration of the wait (elfuse_py.runtime.signals): a signal
it unblocks ends the wait with EINTR and is delivered under that mask, after
which the old mask comes back, as Linux's restore_saved_sigmask does.
"""
from __future__ import annotations

import os
import select
import struct
import time

from elfuse_py.runtime import lerrno
from elfuse_py.runtime import signals
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import readiness
from elfuse_py.syscalls.args import FOREVER_SEC, POLL_MS_MAX, s32
from elfuse_py.syscalls.net import readiness as sockready
from elfuse_py.syscalls.table import syscall

# Linux poll bits (asm-generic/poll.h)
POLL_NAMES = {"POLLIN": 0x1, "POLLPRI": 0x2, "POLLOUT": 0x4, "POLLERR": 0x8, "POLLHUP": 0x10,
              "POLLNVAL": 0x20, "POLLRDNORM": 0x40, "POLLRDBAND": 0x80, "POLLWRNORM": 0x100,
              "POLLWRBAND": 0x200, "POLLMSG": 0x400, "POLLRDHUP": 0x2000}
POLL_MAP = [(g, getattr(select, n)) for n, g in POLL_NAMES.items() if hasattr(select, n)]
POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDHUP = 0x2000
_ALWAYS = POLLERR | POLLHUP | POLLNVAL
_RDHUP_SLICE_MS = 20
_H_NVAL = getattr(select, "POLLNVAL", 0x20)

PFD = struct.Struct("<ihh")
TIMESPEC = struct.Struct("<qq")
SIGSET_SIZE = 8


def to_host(ev: int) -> int:
    out = 0
    for g, h in POLL_MAP:
        if ev & g:
            out |= h
    return out


def from_host(ev: int) -> int:
    out = 0
    for g, h in POLL_MAP:
        if ev & h:
            out |= g
    return out


def read_fdsets(n: int, ptrs: tuple) -> tuple[list[int], dict[int, int]]:
    """pselect6's three guest fd_sets of `n` fds (NULL pointers are empty):
    (each set as an int, {fd: the Linux poll events it is selected for})."""
    nbytes = (n + 63) // 64 * 8
    sets = [int.from_bytes(proc.mem.read(p, nbytes), "little") if p and nbytes else 0
            for p in ptrs]
    wanted: dict[int, int] = {}
    for fd in range(n):
        bit = 1 << fd
        ev = (POLLIN if sets[0] & bit else 0) | (POLLOUT if sets[1] & bit else 0) \
            | (POLLPRI if sets[2] & bit else 0)
        if ev:
            wanted[fd] = ev
    return sets, wanted


def read_timeout(tsp: int) -> float | None:
    """Seconds from a guest timespec (None: wait forever); EINVAL when malformed."""
    if not tsp:
        return None
    sec, nsec = proc.mem.unpack(TIMESPEC, tsp)
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise OSError(22, "timespec")
    if sec >= FOREVER_SEC:
        return None                 # (ppoll then stores no time left)
    return sec + nsec / 1e9


def write_remaining(tsp: int, deadline: float | None) -> None:
    """Linux stores the time left; a read-only timespec is not an error."""
    if not tsp or deadline is None:
        return
    left = max(0.0, deadline - time.monotonic())
    sec = int(left)
    try:
        proc.mem.pack(TIMESPEC, tsp, sec, int((left - sec) * 1e9))
    except Exception:  # noqa: BLE001 - GuestFault: ignored as Linux does
        pass


def host_poll(wanted: dict[int, int], timeout: float | None) -> dict[int, int]:
    """{fd: linux events} -> {fd: linux revents} (POLLNVAL for closed/reserved fds)."""
    if readiness.ACTIVE:
        computed = readiness.emulated_in(wanted)
        if computed:
            return _poll_computed(wanted, computed, timeout)
    if sockready.emulated() and any(ev & POLLRDHUP for ev in wanted.values()):
        return _poll_rdhup(wanted, timeout)
    p = select.poll()
    out: dict[int, int] = {}
    for fd, ev in wanted.items():
        if not proc.fds.valid(fd):
            out[fd] = POLLNVAL
            continue
        p.register(fd, to_host(ev))
    ms = None if timeout is None else (0 if out else min(int(timeout * 1000 + 0.999999), POLL_MS_MAX))
    if ms is not None and timeout is not None and 0 < timeout * 1000 < 1:
        ms = 1
    for fd, rev in p.poll(ms):
        out[fd] = from_host(rev)
    return out


def _poll_rdhup(wanted: dict[int, int], timeout: float | None) -> dict[int, int]:
    """host_poll for a host without POLLRDHUP: POLLIN is polled too where the guest
    asked POLLRDHUP, and the socket layer says whether the read side is shut."""
    deadline = None if timeout is None else time.monotonic() + timeout
    quiet: set[int] = set()         # RDHUP-only sockets with unread data: looked at per slice
    while True:
        p = select.poll()
        out: dict[int, int] = {}
        for fd, ev in wanted.items():
            if not proc.fds.valid(fd):
                out[fd] = POLLNVAL
                continue
            hev = to_host(ev)
            if ev & POLLRDHUP and fd not in quiet:
                hev |= to_host(POLLIN)
            p.register(fd, hev)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ms = None if left is None else int(left * 1000 + 0.999999)
        if out:
            ms = 0
        elif quiet:
            ms = _RDHUP_SLICE_MS if ms is None else min(ms, _RDHUP_SLICE_MS)
        for fd, rev in p.poll(ms):
            out[fd] = from_host(rev)
        for fd in quiet:
            out.setdefault(fd, 0)
            out[fd] |= POLLIN               # its unread data is still there (or gone: the peek says)
        for fd, rev in list(out.items()):
            if wanted[fd] & POLLRDHUP and not rev & POLLNVAL and sockready.rdhup(fd, rev):
                out[fd] = rev | POLLRDHUP | POLLIN
        ready = any(rev & (wanted[fd] | _ALWAYS) for fd, rev in out.items())
        if ready or ms == 0 or (deadline is not None and time.monotonic() >= deadline):
            return {fd: rev for fd, rev in out.items() if rev}
        for fd, rev in out.items():
            if rev & POLLIN and not wanted[fd] & POLLIN:
                quiet.add(fd)


def _poll_computed(wanted: dict[int, int], computed: dict, timeout: float | None) -> dict[int, int]:
    """host_poll with fds whose readiness the emulator computes (an emulated epoll):
    ask them, and sleep on the host fds they watch (syscalls/readiness.py)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    plain = {fd: ev for fd, ev in wanted.items() if fd not in computed}
    while True:
        out = host_poll(plain, 0) if plain else {}
        for fd, st in computed.items():
            rev = st.readiness(fd) & (wanted[fd] | _ALWAYS)
            if rev:
                out[fd] = rev
        left = None if deadline is None else deadline - time.monotonic()
        if out or (left is not None and left <= 0):
            return out
        pollfds = {fd: to_host(ev) for fd, ev in plain.items()}
        selfds: dict[int, int] = {}
        recheck = False
        for fd, st in computed.items():
            p, s, r = st.wait_set(fd)
            readiness.merge(pollfds, p)
            readiness.merge(selfds, s)
            recheck |= r
        if recheck:
            left = readiness.RECHECK if left is None else min(left, readiness.RECHECK)
        readiness.sleep(pollfds, selfds, left)


def check_sigmask(sigmask: int, size: int) -> int | None:
    """The guest's temporary mask (None without one), or -EINVAL / GuestFault."""
    if sigmask and size != SIGSET_SIZE:
        return -lerrno.EINVAL
    if sigmask:
        return struct.unpack("<Q", proc.mem.read(sigmask, SIGSET_SIZE))[0] | (1 << 63)
    return None


def mask_enter(tagged: int | None) -> bool:
    """Install the temporary mask; True if a signal it unblocks is already pending
    (the call then returns EINTR at once, delivering under that mask)."""
    if tagged is None:
        return False
    st = proc.sig
    old = st.mask
    signals.set_mask(tagged & ~(1 << 63))
    st.saved_mask = old                  # restored by deliver_pending after delivery
    os.getpid()                          # let a host signal unblocked just now run its handler
    return bool(st.pending & ~st.mask)


def mask_leave(tagged: int | None) -> None:
    """The wait completed normally: the old mask comes back at once."""
    if tagged is None:
        return
    st = proc.sig
    old, st.saved_mask = st.saved_mask, None
    if old is not None:
        signals.set_mask(old)


@syscall("ppoll", "ptr, uint, ptr, ptr, size", interruptible=True, restart=False)
def sys_ppoll(fds, nfds, tsp, sigmask, sigsetsize):
    if nfds > proc.fds.ceiling:
        return -lerrno.EINVAL
    timeout = read_timeout(tsp)
    tmask = check_sigmask(sigmask, sigsetsize)
    if tmask is not None and tmask < 0:
        return tmask
    deadline = None if timeout is None else time.monotonic() + timeout
    mem = proc.mem
    raw = bytearray(mem.read(fds, PFD.size * nfds)) if nfds else bytearray()
    mem.check(fds, PFD.size * nfds, 2)
    entries = [PFD.unpack_from(raw, i * PFD.size) for i in range(nfds)]
    wanted: dict[int, int] = {}
    for fd, ev, _r in entries:
        if fd >= 0:
            wanted[fd] = wanted.get(fd, 0) | (ev & 0xFFFF)
    if mask_enter(tmask):
        return -lerrno.EINTR
    try:
        got = host_poll(wanted, timeout)
    except InterruptedError:
        write_remaining(tsp, deadline)
        raise                            # -EINTR; the old mask returns after delivery
    mask_leave(tmask)
    count = 0
    for i, (fd, ev, _r) in enumerate(entries):
        rev = 0
        if fd >= 0 and fd in got:
            rev = got[fd] & ((ev & 0xFFFF) | _ALWAYS)
        if rev:
            count += 1
        PFD.pack_into(raw, i * PFD.size, fd, ev, rev - 0x10000 if rev & 0x8000 else rev)
    if nfds:
        mem.write(fds, raw)
    write_remaining(tsp, deadline)
    return count


_SEL_IN = POLLIN | POLLHUP | POLLERR
_SEL_OUT = POLLOUT | POLLERR
_SEL_EX = POLLPRI


@syscall("pselect6", "int, ptr, ptr, ptr, ptr, ptr", interruptible=True, restart=False)
def sys_pselect6(n, inp, outp, exp, tsp, sig):
    n = s32(n)
    if n < 0:
        return -lerrno.EINVAL
    n = min(n, proc.fds.limit)
    timeout = read_timeout(tsp)
    tmask = None
    if sig:
        ss, sslen = proc.mem.unpack(struct.Struct("<QQ"), sig)
        tmask = check_sigmask(ss, sslen)
        if tmask is not None and tmask < 0:
            return tmask
    deadline = None if timeout is None else time.monotonic() + timeout
    nbytes = (n + 63) // 64 * 8
    sets, wanted = read_fdsets(n, (inp, outp, exp))
    for ptr in (inp, outp, exp):
        if ptr and nbytes:
            proc.mem.check(ptr, nbytes, 2)      # the result is written back
    if any(not proc.fds.valid(fd) for fd in wanted):
        return -lerrno.EBADF
    if mask_enter(tmask):
        return -lerrno.EINTR
    try:
        got = host_poll(wanted, timeout)
    except InterruptedError:
        write_remaining(tsp, deadline)
        raise
    mask_leave(tmask)
    if any(v & POLLNVAL for v in got.values()):
        return -lerrno.EBADF
    res = [0, 0, 0]
    count = 0
    for fd, rev in got.items():
        bit = 1 << fd
        for i, mask in enumerate((_SEL_IN, _SEL_OUT, _SEL_EX)):
            if sets[i] & bit and rev & mask:
                res[i] |= bit
                count += 1
    for ptr, val in zip((inp, outp, exp), res):
        if ptr and nbytes:
            proc.mem.write(ptr, val.to_bytes(nbytes, "little"))
    write_remaining(tsp, deadline)
    return count


# _poll_rdhup waits one call below host_poll: let guest signals interrupt it there too.
signals.register_interruptible(_poll_rdhup)
