"""epoll where the host model has none (macOS, and the macOS host model on Linux).

Only POSIX calls a Mac's Python has: poll/select, a socket, fstat, ioctl
FIONREAD, recv(MSG_PEEK).  syscalls/epoll.py sends the calls here when
`elfuse_py.host.events.HAVE_EPOLL` is False.

The guest's epoll fd is a real host fd, a placeholder: an AF_UNIX datagram
socket bound to a fresh name in the temp directory that is unlinked at once.
Nothing can send to it (it is never readable and needs no reserved fd) and
getsockname still tells it apart, so an epoll fd that comes back through
SCM_RIGHTS is recognised.  Its FdState, `EpollEmu`, holds the interest list
{fd: Item}.  A wait asks the host about every armed fd at once
(readiness.probe: poll, and select for character devices, where macOS's poll
says POLLNVAL) and sleeps on them with the host's poll/select until one is
ready, the timeout passes or a guest signal comes.  To ppoll/pselect6, to
another (emulated) epoll and to the thread-parking layer the fd is readable
when a wait would report something (FdState.computes_readiness).

As Linux (fs/eventpoll.c): the epoll_ctl checks in the kernel's order (EFAULT,
EBADF, EPERM for files without poll, EINVAL for epfd == fd / not an epoll /
EPOLLEXCLUSIVE misuse, ELOOP for loops and chains deeper than EP_MAX_NESTS,
EEXIST, ENOENT), EPOLLERR/EPOLLHUP always reported, EPOLLONESHOT disarmed until
EPOLL_CTL_MOD, EPOLLWAKEUP dropped (no CAP_BLOCK_SUSPEND), level-triggered fds
reported round-robin when more are ready than maxevents, the 64-bit data as
given.

Approximations (docs/macos.md says the same):

- EPOLLET.  Linux reports an ET fd on each wake-up of its file (new data, new
  room).  Here a ready ET fd is reported when (a) a ready bit was not ready at
  the last look, (b) more bytes wait than at the last look (FIONREAD), or (c)
  the guest made a read-family call on that fd since the report (for the input
  bits; a write-family call for the output bits).  (c) is what re-arms the
  read-until-EAGAIN or short-read pattern; the counting wrappers go into the
  dispatch list once an ET item exists (read, readv, recv*, accept*; write,
  writev, send*).  A partial read may give one extra report; a report is
  missed only if the guest consumes through another call (splice, sendfile, a
  dup of the fd) and exactly as many bytes come back.  While an ET fd stays
  ready after its report, a sleeping wait looks at it every RECHECK seconds.
- EPOLLRDHUP (macOS has no POLLRDHUP): a readable stream socket whose
  recv(MSG_PEEK|MSG_DONTWAIT) gives 0 bytes.  Linux sets it when the FIN
  arrives; here once the data before it is read.
- EPOLLEXCLUSIVE is checked and accepted; every waiter wakes.
- Closing: Linux drops an item when its *file* is closed.  Here it goes when
  its fd number is closed (close, dup2 over it, a new file on the number: the
  FdTable close hook), and when poll says POLLNVAL or fstat shows another
  file on the number.  (On Linux an item outlives the close of its fd while a
  dup keeps the file open; here it does not.)
- fork: the child has a copy of the interest list as it was.  Linux shares
  the instance: a ctl, an ONESHOT disarm or an ET report in one process shows
  in the other.
- An epoll fd sent to another process is not an epoll there.
- A wait costs O(interest list), not O(ready) as on Linux.
"""
from __future__ import annotations

import fcntl
import os
import socket
import stat
import struct
import termios
import time
import weakref

from elfuse_py.host import events as hostev
from elfuse_py.host.sockets import ffi as sffi, libc as slibc
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import lazy, poll, readiness
from elfuse_py.syscalls.net import readiness as sockready
from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS

# ----- Linux values ---------------------------------------------------------------------------

EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR, EPOLLHUP = 0x001, 0x002, 0x004, 0x008, 0x010
EPOLLRDNORM, EPOLLRDBAND, EPOLLWRNORM, EPOLLWRBAND = 0x040, 0x080, 0x100, 0x200
EPOLLRDHUP = 0x2000
EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET = 1 << 28, 1 << 29, 1 << 30, 1 << 31
_PRIVATE = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET
_EXCLUSIVE_OK = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
_ALWAYS = EPOLLERR | EPOLLHUP
_IN_BITS = EPOLLIN | EPOLLRDNORM | EPOLLRDBAND | EPOLLPRI | EPOLLRDHUP
_READ_SIDE = EPOLLRDBAND | EPOLLPRI | EPOLLRDHUP
_OUT_BITS = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND
EP_MAX_NESTS = 4
CTL_ADD, CTL_DEL, CTL_MOD = 1, 2, 3
EPOLL_EVENT = struct.Struct("<I4xQ")
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT.size
_TASK_SIZE = 1 << 48                      # access_ok()'s bound
_READY = EPOLLIN | EPOLLRDNORM            # what an epoll fd polls when it has events

_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
_STREAMS = {socket.SOCK_STREAM, getattr(socket, "SOCK_SEQPACKET", socket.SOCK_STREAM)}
_H_IN = poll.to_host(EPOLLIN)
_H_HUP = poll.to_host(EPOLLHUP)
_HUP_ON_HALF_CLOSE = hostev.POLLHUP_ON_HALF_CLOSE
_peekbuf = sffi.new("char[1]")
_intbuf = sffi.new("int *")
_intlen = sffi.new("socklen_t *")


class Item:
    """One registered fd: what the guest asked for, and what ET remembers of it."""

    __slots__ = ("events", "data", "ident", "kind", "host", "off", "last", "count", "gen")

    def __init__(self, events: int, data: int, ident, kind: str) -> None:
        self.ident = ident      # (st_dev, st_ino), an epoll's token, or None (cannot tell)
        self.kind = kind        # stream (a stream socket), sock, chr, epoll, fd
        self.set(events, data)

    def set(self, events: int, data: int) -> None:
        self.events, self.data, self.off = events, data, False
        ev = events & 0xFFFF & ~EPOLLRDHUP
        # Anything of the read side is asked with POLLIN too: EPOLLRDHUP needs it, and
        # macOS's poll loses its read subscription on an event it was not asked for.
        self.host = poll.to_host(ev) | (_H_IN if events & _READ_SIDE else 0)
        self.last, self.count, self.gen = 0, None, (0, 0)     # ET: as good as new

    def __getstate__(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state) -> None:
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)


# ----- per-fd bookkeeping shared by every instance -------------------------------------------

# the placeholder names of the instances this process has made (SCM_RIGHTS recognition)
_names: set = set()
# fd -> the instances that fd is registered in (for the close hook)
_watch: dict[int, weakref.WeakSet] = {}
# fd -> [read-family calls, write-family calls] seen on it, for the fds of ET items
_gens: dict[int, list[int]] = {}
_counted = None           # the dispatch list the counting wrappers went into
_IN_CALLS = ("read", "readv", "recvfrom", "recvmsg", "recvmmsg", "accept", "accept4")
_OUT_CALLS = ("write", "writev", "sendto", "sendmsg", "sendmmsg")


def attach(process) -> None:
    """What the emulation needs of the process: to hear of every fd the guest closes
    (hosts without epoll).  Called when this module is imported (the first epoll call,
    or unpickling a carried instance) and by syscalls.registry for each new image."""
    if not hostev.HAVE_EPOLL and process.fds is not None \
            and on_fd_close not in process.fds.close_hooks:
        process.fds.close_hooks.append(on_fd_close)


def on_fd_close(fd: int) -> None:
    """FdTable close hook: the guest closed `fd` (or put another file on its number)."""
    ws = _watch.pop(fd, None)
    if ws:
        for ep in list(ws):
            if ep.items.pop(fd, None) is not None:
                ep.changes += 1
    _gens.pop(fd, None)


def _counting(fn, slot: int):
    gens, states = _gens, proc.fds.state

    def wrapped(*a):
        if gens:
            fd = a[0] & 0xFFFFFFFF
            g = gens.get(fd)
            if g is not None:
                g[slot] += 1
                if slot:
                    st = states.get(fd)
                    if st is not None and st.intercepts_io:
                        g[0] += 1        # an emulated eventfd: a write makes it readable
        return fn(*a)
    wrapped._blocking_wrapper = getattr(fn, "_blocking_wrapper", False)   # syscalls/parking.py
    return wrapped


def _track(fd: int) -> list[int]:
    """Count the guest's reads and writes on `fd` from now on (ET, see the module doc)."""
    global _counted
    table = proc.syscalls
    if table is not None and _counted is not table.dispatch:
        d = table.dispatch
        for slot, names in ((0, _IN_CALLS), (1, _OUT_CALLS)):
            for name in names:
                nr = SYSCALL_NUMBERS.get(name)
                entry = lazy.entry(d, nr) if nr is not None else None   # its module loaded
                if entry is not None:
                    fn, decode = entry
                    d[nr] = (_counting(fn, slot), decode)
        _counted = d
    return _gens.setdefault(fd, [0, 0])


# ----- host facts about a target fd ------------------------------------------------------------

_no_poll: set | None = None


def _no_poll_devices() -> set:
    """The character devices Linux's drivers give no poll (mem devices): EPERM there."""
    global _no_poll
    if _no_poll is None:
        _no_poll = set()
        for path in ("/dev/null", "/dev/zero", "/dev/full"):
            try:
                _no_poll.add(os.stat(path).st_rdev)
            except OSError:
                pass
    return _no_poll


def _ident(st: os.stat_result):
    return (st.st_dev, st.st_ino) if st.st_ino else None   # macOS sockets have no inode number


def _kind(fd: int, st: os.stat_result) -> str | None:
    """How to watch `fd`, or None if Linux could not poll it (EPERM)."""
    m = st.st_mode
    if stat.S_ISREG(m) or stat.S_ISDIR(m) or stat.S_ISBLK(m):
        return None
    if stat.S_ISCHR(m):
        return None if st.st_rdev in _no_poll_devices() else "chr"
    if stat.S_ISSOCK(m):
        if isinstance(proc.fds.state.get(fd), EpollEmu):
            return "epoll"
        _intlen[0] = 4
        stype = _intbuf[0] if slibc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_TYPE,
                                                _intbuf, _intlen) == 0 else None
        if stype in _STREAMS:
            return "stream"
        if stype == socket.SOCK_DGRAM and epoll_of(fd, st) is not None:
            return "epoll"
        return "sock"
    return "fd"


def _nread(fd: int) -> int | None:
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return None


def _peer_shut(fd: int) -> bool:
    """A readable stream socket whose peer shut down writing: nothing before the
    end (recv(MSG_PEEK) gives 0), or the host's poll says so behind the data --
    or, on a host whose poll has no POLLRDHUP, the socket layer's records do
    (syscalls/net/readiness.py: SHUT_RD, a socketpair partner's SHUT_WR)."""
    if sockready.emulated():
        return sockready.rdhup(fd, poll.POLLIN)     # it peeks itself
    n = slibc.recvfrom(fd, _peekbuf, 1, _PEEK, sffi.NULL, sffi.NULL)
    return n == 0 or (n > 0 and hostev.socket_eof(fd)[0])


def _linux_hup(fd: int, ready: int) -> int:
    """A stream socket the host's poll says POLLHUP for, where that means only one
    side reached its end (macOS): the bits Linux would give (EPOLLHUP only when
    both are shut; EPOLLOUT, which such a host leaves out, taken as writable)."""
    rd, wr = hostev.socket_eof(fd)
    ready &= ~EPOLLHUP
    if rd:
        ready |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP
    if rd and wr:
        ready |= EPOLLHUP
    return ready | EPOLLOUT | EPOLLWRNORM


def _sockname(fd: int):
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        return s.getsockname()
    except OSError:
        return None
    finally:
        s.detach()


# ----- the instance ---------------------------------------------------------------------------

class EpollEmu(FdState):
    """An emulated epoll instance: the interest list of one guest epoll fd (and its dups)."""

    intercepts_io = True          # read/write on an epoll fd: EINVAL
    computes_readiness = True

    def __init__(self, name) -> None:
        self.name = name                          # the placeholder's socket name (None: unnamed)
        self.token = os.urandom(8)                # tells instances apart (nested items)
        self.items: dict[int, Item] = {}
        self.changes = 0                          # bumped by each change to the list
        readiness.ACTIVE = True
        if name:
            _names.add(name)

    def __setstate__(self, state) -> None:        # after execve
        self.__dict__.update(state)
        readiness.ACTIVE = True
        if self.name:
            _names.add(self.name)
        for fd in self.items:
            _watch.setdefault(fd, weakref.WeakSet()).add(self)

    def io_read(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL

    def io_write(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL

    def add(self, fd: int, item: Item) -> None:
        self.items[fd] = item
        self.changes += 1
        _watch.setdefault(fd, weakref.WeakSet()).add(self)

    def drop(self, fd: int) -> None:
        self.items.pop(fd, None)
        self.changes += 1
        ws = _watch.get(fd)
        if ws is not None:
            ws.discard(self)

    # FdState.computes_readiness: what ppoll, another epoll and parked threads ask
    def readiness(self, fd: int, depth: int = 0) -> int:
        return _READY if self.scan(1, False, depth)[0] else 0

    def wait_set(self, fd: int, depth: int = 0):
        return self.scan(0, False, depth)[1:]

    def scan(self, maxevents: int, observe: bool, depth: int = 0):
        """Look at the interest list once: (reports, pollfds, selfds, recheck).

        reports: up to `maxevents` items to report now, as (fd, item, events,
        FIONREAD count); with maxevents 0 none, but what would be reported goes
        into the sleep set, so a sleeper wakes at once.  Without reports, what
        a sleeper waits on (see readiness.py).  `observe`: ET items remember
        what this look saw (a wait does; a peek changes nothing).
        """
        items = self.items
        pollfds: dict[int, int] = {}
        selfds: dict[int, int] = {}
        for fd, it in items.items():
            if not it.off and it.kind != "epoll":
                (selfds if it.kind == "chr" else pollfds)[fd] = it.host
        rev = readiness.probe(pollfds, selfds) if pollfds or selfds else {}
        reports: list = []
        wait_p: dict[int, int] = {}
        wait_s: dict[int, int] = {}
        recheck = False
        stale = []
        for fd, it in items.items():
            if it.off:
                continue
            inner = None
            h = 0
            if it.kind == "epoll":
                inner = _epoll_at(fd, it.ident)
                if inner is None:
                    stale.append(fd)
                    continue
                ready = _READY if depth <= EP_MAX_NESTS and inner.scan(1, False, depth + 1)[0] else 0
            else:
                h = rev.get(fd, 0)
                if h & readiness.H_NVAL:
                    stale.append(fd)             # closed behind our back
                    continue
                ready = poll.from_host(h)
                if it.kind == "stream":
                    if _HUP_ON_HALF_CLOSE and h & _H_HUP:
                        ready = _linux_hup(fd, ready)
                    elif it.events & EPOLLRDHUP and ready & EPOLLIN and _peer_shut(fd):
                        ready |= EPOLLRDHUP
            ready &= (it.events | _ALWAYS) & ~_PRIVATE
            target = wait_s if it.kind == "chr" else wait_p
            if ready:
                fresh, count = True, None
                if it.events & EPOLLET:
                    fresh, count = _et_fresh(fd, it, ready)
                    if not fresh and observe:
                        it.last, it.count = ready, count
                if fresh:
                    if maxevents:
                        if not _same_file(fd, it):
                            stale.append(fd)
                            continue
                        reports.append((fd, it, ready, count))
                        if len(reports) >= maxevents:
                            break
                    elif inner is not None:
                        _, p, s, r = inner.scan(0, False, depth + 1)
                        readiness.merge(wait_p, p)
                        readiness.merge(wait_s, s)
                        recheck |= r
                    else:
                        target[fd] = target.get(fd, 0) | it.host
                    continue
                # ET, reported and still ready: only what is not ready yet can wake us;
                # more input (or an error) is noticed by looking again.
                if ready & (_ALWAYS | _IN_BITS) or inner is not None:
                    recheck = True
                    if ready & _ALWAYS or inner is not None:
                        continue
                rest = it.host & ~poll.to_host(ready)
                if rest:
                    target[fd] = target.get(fd, 0) | rest
                continue
            if it.events & EPOLLET and observe:
                it.last, it.count = 0, None           # seen not ready: the next readiness is new
            if inner is not None:
                _, p, s, r = inner.scan(0, False, depth + 1)
                readiness.merge(wait_p, p)
                readiness.merge(wait_s, s)
                recheck |= r
                continue
            busy = h & it.host       # ready for the host, nothing to report (EPOLLRDHUP alone)
            if busy:
                recheck = True
            if it.host & ~busy:
                target[fd] = target.get(fd, 0) | (it.host & ~busy)
        for fd in stale:
            self.drop(fd)
        if reports:
            return reports, {}, {}, False
        return reports, wait_p, wait_s, recheck

    def commit(self, reports: list) -> None:
        """The reports reached the guest: ONESHOT disarms, ET remembers, LT goes to the back."""
        items = self.items
        for fd, it, ready, count in reports:
            if it.events & EPOLLET:
                g = _gens.get(fd) or (0, 0)
                it.last, it.count, it.gen = ready, count, (g[0], g[1])
            if it.events & EPOLLONESHOT:
                it.off = True
            elif not it.events & EPOLLET and items.get(fd) is it:
                items[fd] = items.pop(fd)        # Linux re-queues a level-triggered item at the tail


def _et_fresh(fd: int, it: Item, ready: int) -> tuple[bool, int | None]:
    """Is this ready ET item's readiness new since its last report? (and its FIONREAD count)"""
    g = _gens.get(fd)
    if g is None:
        g = _track(fd)               # after execve: count again
    count = _nread(fd) if ready & EPOLLIN and it.kind != "epoll" else None
    if ready & ~it.last:
        return True, count
    if ready & _IN_BITS and (g[0] != it.gen[0] or (
            count is not None and it.count is not None and count > it.count)):
        return True, count
    if ready & _OUT_BITS and g[1] != it.gen[1]:
        return True, count
    return False, count


def _same_file(fd: int, it: Item) -> bool:
    if it.kind == "epoll":
        return _epoll_at(fd, it.ident) is not None
    if it.ident is None:
        return True
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == it.ident


def _epoll_at(fd: int, token: bytes):
    st = proc.fds.state.get(fd)
    return st if isinstance(st, EpollEmu) and st.token == token else None


def epoll_of(fd: int, st: os.stat_result | None = None):
    """The EpollEmu of guest fd `fd`, or None if it is no epoll; OSError if it is closed.

    An fd with no state may be an epoll fd that came back through SCM_RIGHTS:
    its placeholder's socket name says which."""
    s = proc.fds.state.get(fd)
    if s is not None:
        return s if isinstance(s, EpollEmu) else None
    if st is None:
        st = os.fstat(fd)
    if not _names or not stat.S_ISSOCK(st.st_mode):
        return None
    name = _sockname(fd)
    if name in _names:
        for v in list(proc.fds.state.values()):
            if isinstance(v, EpollEmu) and v.name == name:
                proc.fds.set(fd, v)
                return v
    return None


# ----- epoll_create1 --------------------------------------------------------------------------

def create() -> tuple[int, EpollEmu]:
    """A new placeholder host fd (close-on-exec) and its empty instance."""
    import tempfile                  # only once a guest makes an epoll
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = None
    path = os.path.join(tempfile.gettempdir(), "elfuse-ep-" + os.urandom(6).hex())
    try:
        s.bind(path)
        name = s.getsockname()
    except OSError:                  # a long TMPDIR, a read-only one: unnamed, still an epoll
        pass
    try:
        os.unlink(path)
    except OSError:
        pass
    return s.detach(), EpollEmu(name)


# ----- epoll_ctl ------------------------------------------------------------------------------

def ctl(epfd: int, op: int, fd: int, event: int) -> int:
    events = data = 0
    if op != CTL_DEL:
        events, data = proc.mem.unpack(EPOLL_EVENT, event)
    if not proc.fds.valid(epfd) or not proc.fds.valid(fd):
        return -lerrno.EBADF
    ep = epoll_of(epfd)                    # EBADF (OSError) when closed
    st = os.fstat(fd)
    kind = _kind(fd, st)
    if kind is None:
        return -lerrno.EPERM
    events &= ~EPOLLWAKEUP
    if ep is None:
        return -lerrno.EINVAL
    target = epoll_of(fd, st) if kind == "epoll" else None
    if target is ep:
        return -lerrno.EINVAL
    if op != CTL_DEL and events & EPOLLEXCLUSIVE:
        if op == CTL_MOD or (op == CTL_ADD and (target is not None or events & ~_EXCLUSIVE_OK)):
            return -lerrno.EINVAL
    if op == CTL_ADD and target is not None and _too_deep(ep, target):
        return -lerrno.ELOOP
    it = ep.items.get(fd)
    if it is not None and not _same_file(fd, it):
        ep.drop(fd)                        # another file on a number we missed the close of
        it = None
    if op == CTL_ADD:
        if it is not None:
            return -lerrno.EEXIST
        ep.add(fd, Item(events, data, target.token if target is not None else _ident(st), kind))
    elif op == CTL_DEL:
        if it is None:
            return -lerrno.ENOENT
        ep.drop(fd)
        return 0
    elif op == CTL_MOD:
        if it is None:
            return -lerrno.ENOENT
        if it.events & EPOLLEXCLUSIVE:
            return -lerrno.EINVAL
        it.set(events, data)
        ep.changes += 1
    else:
        return -lerrno.EINVAL
    if events & EPOLLET:
        _track(fd)
    return 0


def _too_deep(ep: EpollEmu, target: EpollEmu) -> bool:
    """Linux's ep_loop_check: would adding `target` into `ep` close a loop, or
    make a chain of more than EP_MAX_NESTS epolls inside epolls?"""
    down = _depth_below(target, ep, 0)
    if down > EP_MAX_NESTS:
        return True
    parents: dict[int, list] = {}
    for v in {id(s): s for s in proc.fds.state.values() if isinstance(s, EpollEmu)}.values():
        for fd, it in v.items.items():
            inner = _epoll_at(fd, it.ident) if it.kind == "epoll" else None
            if inner is not None:
                parents.setdefault(id(inner), []).append(v)
    return down + 1 + _depth_above(ep, parents, 0) > EP_MAX_NESTS


def _depth_below(e: EpollEmu, into: EpollEmu, depth: int) -> int:
    result = 0
    for fd, it in e.items.items():
        inner = _epoll_at(fd, it.ident) if it.kind == "epoll" else None
        if inner is None:
            continue
        if inner is into or depth > EP_MAX_NESTS:
            return EP_MAX_NESTS + 1
        result = max(result, _depth_below(inner, into, depth + 1) + 1)
        if result > EP_MAX_NESTS:
            break
    return result


def _depth_above(e: EpollEmu, parents: dict, depth: int) -> int:
    if depth > EP_MAX_NESTS:
        return EP_MAX_NESTS + 1
    return max((_depth_above(p, parents, depth + 1) + 1 for p in parents.get(id(e), ())), default=0)


# ----- epoll_pwait / epoll_pwait2 ---------------------------------------------------------------

def pwait(epfd: int, events: int, maxevents: int, timeout: float | None, tmask: int | None) -> int:
    """The wait, after the caller read the timeout (seconds; None: forever) and the
    temporary signal mask (poll.check_sigmask's tagged value, or None)."""
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        return -lerrno.EINVAL
    if events + maxevents * EPOLL_EVENT.size > _TASK_SIZE:
        return -lerrno.EFAULT
    if not proc.fds.valid(epfd):
        return -lerrno.EBADF
    ep = epoll_of(epfd)
    if ep is None:
        return -lerrno.EINVAL
    g = _gens.get(epfd)
    if g is not None:
        g[0] += 1                  # this epoll inside another, edge-triggered: a wait consumes
    if poll.mask_enter(tmask):
        return -lerrno.EINTR
    reports = _wait(ep, maxevents, timeout)     # a guest signal: InterruptedError, -EINTR
    poll.mask_leave(tmask)
    if not reports:
        return 0
    # Linux puts the events back when it cannot copy them out: check first, then commit.
    proc.mem.check(events, len(reports) * EPOLL_EVENT.size, 2)
    ep.commit(reports)
    proc.mem.write(events, b"".join(EPOLL_EVENT.pack(ready, it.data)
                                    for _fd, it, ready, _c in reports))
    return len(reports)


def _wait(ep: EpollEmu, maxevents: int, timeout: float | None) -> list:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        reports, pollfds, selfds, recheck = ep.scan(maxevents, True)
        if reports:
            return reports
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return []
        if recheck:
            left = readiness.RECHECK if left is None else min(left, readiness.RECHECK)
        readiness.sleep(pollfds, selfds, left)


attach(proc)            # (before the machine exists, syscalls.registry attaches it later)
