"""POLLRDHUP where the host's poll(2) has none (macOS, and the Linux that plays one).

Linux reports POLLRDHUP (with POLLIN) once a socket's read side is shut: the
peer shut down writing or closed, or the socket itself did SHUT_RD.  poll.py
asks `rdhup(fd, revents)` for each socket the guest asked it of, with the
Linux revents the host reported; the answer comes from, in order:

1. an own SHUT_RD, kept in the SockState (`note_shutdown`): the only way a
   datagram socket gets RDHUP (Linux does not pass a datagram peer's shutdown on);
2. for stream and SEQPACKET sockets, the host's POLLERR|POLLHUP (a reset or
   closed connection; never probed, so the pending error stays for the guest's
   recv), else a one-byte MSG_PEEK|MSG_DONTWAIT recv: 0 is end of stream, an
   error (ENOTCONN, EINVAL) an unconnected or listening socket;
3. with data still queued (the peek cannot see past it), the host's POLLHUP,
   or for one end of a socketpair a record left by the other end's SHUT_WR
   (`types/w-<dev>-<ino>`, with its ctime against recycled inodes).

Not covered: a connected (not socketpair) peer's SHUT_WR while our unread data
is still queued is reported once that data is read.
"""
from __future__ import annotations

import os

from elfuse_py.host import sockets as host
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import policies
from elfuse_py.syscalls.net.state import SockState

POLLIN, POLLERR, POLLHUP, POLLRDHUP = 0x1, 0x8, 0x10, 0x2000


def emulated() -> bool:
    """The host poll has no POLLRDHUP: the socket layer keeps what rdhup() needs."""
    return host.POLL_RDHUP is None


def key(fd: int) -> tuple[int, int, int] | None:
    """(st_dev, st_ino, st_ctime_ns) of an open socket: who it is, across processes."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


def _shut_record(k: tuple[int, int, int]) -> str:
    return os.path.join(policies.runtime_dir(), "types", "w-%x-%x" % (k[0], k[1]))


def note_shutdown(fd: int, how: int, st: SockState) -> None:
    """Remember a successful shutdown(): SHUT_RD in the state, SHUT_WR of a stream
    socket in the registry for the other end of a socketpair."""
    if how in (C.SHUT_RD, C.SHUT_RDWR):
        st.rd_shut = True
    if how in (C.SHUT_WR, C.SHUT_RDWR) and st.type in (C.SOCK_STREAM, C.SOCK_SEQPACKET) \
            and st.family == C.AF_UNIX:
        k = key(fd)
        if k is not None:
            try:
                policies.store_record(_shut_record(k), (k[2],))
            except OSError:
                pass                       # best effort: the other end sees it once drained


def _partner_shut(st) -> bool:
    k = st.partner if isinstance(st, SockState) else None
    if k is None:
        return False
    try:
        return policies.load_record(_shut_record(k)) == (k[2],)
    except OSError:
        return False


def rdhup(fd: int, revents: int) -> bool:
    """Whether Linux would report POLLRDHUP for socket `fd`, given the Linux
    revents the host reported (POLLIN when the caller knows data is queued)."""
    st = proc.fds.get(fd)
    if isinstance(st, SockState) and st.type:
        stype = st.type
        if st.rd_shut:
            return True
    else:
        htype = host.socket_type(fd)
        if htype is None:
            return False                   # pipes and files have no RDHUP
        stype = C.GUEST_TYPE.get(htype, htype)
    if stype not in (C.SOCK_STREAM, C.SOCK_SEQPACKET):
        return False
    if revents & POLLERR:
        return bool(revents & POLLHUP)
    if not revents & (POLLIN | POLLHUP):
        return False
    n = host.peek_byte(fd)
    if n == 0:
        return True
    if n > 0:
        return bool(revents & POLLHUP) or _partner_shut(st)
    return False
