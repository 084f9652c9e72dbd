"""SO_PEEK_OFF where the host has none (macOS, and the Linux that plays one).

Linux keeps a peek offset per socket (sk_peek_off, -1: off).  When it is set,
recv with MSG_PEEK starts that many bytes in (a stream: into the queued bytes;
a datagram or SEQPACKET socket: into the first message) and moves it on by
what it copied (sk_peek_offset_fwd); a normal recv moves it back by what it
consumed, never below 0 (sk_peek_offset_bwd: a stream by the bytes read, a
message socket by the whole message).  Here the offset lives in the SockState
(sockopt.py sets it) and a peek at an offset peeks `offset + wanted` bytes (or
the whole first datagram) into a scratch buffer through the ordinary receive
path, then hands the guest the part past the offset.

Not done: an offset past the end of the first datagram (Linux walks on into
the next ones); read()/readv() do not move the offset back (recv/recvmsg do);
a blocking stream peek that waits for bytes beyond the offset polls every 10 ms.
"""
from __future__ import annotations

import fcntl
import os
import time

from elfuse_py.host import sockets as host
from elfuse_py.runtime import lerrno

from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net.framing import scatter
from elfuse_py.syscalls.net.state import SockState


def applies(st) -> bool:
    """A peek offset is set on a socket whose host has no SO_PEEK_OFF of its own."""
    return isinstance(st, SockState) and st.peek_off >= 0 and host.sockopt("SO_PEEK_OFF") is None


def _nonblocking(fd: int, flags: int) -> bool:
    return bool(flags & C.MSG_DONTWAIT) or bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)


def recv(fd: int, st: SockState, views: list, flags: int, core, *args):
    """recvmsg through `core(fd, views, flags, *args)` -> (r, name, ctl, mflags, length),
    with the socket's emulated peek offset applied."""
    stream = st.type == C.SOCK_STREAM
    if not flags & C.MSG_PEEK:
        before = host.next_message_size(fd) if st.type == C.SOCK_DGRAM and st.peek_off else 0
        res = core(fd, views, flags, *args)
        r, length = res[0], res[4]
        if r >= 0:
            used = r if stream else max(length, before, r)
            st.peek_off = max(0, st.peek_off - used)
        return res
    off = st.peek_off
    want = sum(len(v) for v in views)
    size = off + want
    if st.type == C.SOCK_DGRAM:
        size = max(size, host.next_message_size(fd))
    while True:
        scratch = bytearray(size)
        r, name, ctl, mflags, length = core(fd, [memoryview(scratch)] if size else [], flags,
                                            *args)
        if r < 0:
            return r, name, ctl, mflags, length
        if not stream:
            break
        if r == 0 or r > off:
            break                             # end of stream, or bytes past the offset
        if _nonblocking(fd, flags):
            return -lerrno.EAGAIN, None, b"", 0, -1
        time.sleep(0.01)                      # Linux waits for more than the offset
    full = length if length >= 0 else r
    n = max(0, min(want, full - off))
    scatter(memoryview(scratch)[off:off + n], views)
    st.peek_off = off + n
    if stream:
        return n, name, ctl, mflags, length
    mflags &= ~C.MSG_TRUNC
    if full - off > want:
        mflags |= C.MSG_TRUNC
    return (max(0, full - off) if flags & C.MSG_TRUNC else n), name, ctl, mflags, length
