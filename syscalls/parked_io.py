"""Parked data I/O: the calls that would block half-way, or on what poll cannot see.

With other guest threads (see syscalls/parking.py) a plain park-and-restart
is not enough for these, each treated below:

- sendfile into a pipe or socket: like a big write;
- recvfrom/recvmsg: park while nothing is there; MSG_WAITALL on a stream
  socket takes what is there and reads the rest as it arrives;
- write/writev/sendto/sendmsg bigger than the free buffer space: made
  non-blocking, the rest written as the fd drains;
- recvmmsg/sendmmsg: message by message, parked in between;
- connect: made non-blocking, then SO_ERROR (or a retry every poll period
  while an AF_UNIX backlog is full).
"""
from __future__ import annotations

import os
import select
import _socket as socket    # (the C module: its constants, without socket.py's enum and selectors imports)
import struct
import time

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.parking import (IN, OUT, L_MSG_DONTWAIT, WRAP, deadline_ts, eagain,
                              errno_result, later, park, ready, sock_deadline, would_block)
from elfuse_py.host.sockets import ffi as sffi, libc as slibc


def _plain(fd: int) -> bool:
    """True unless the emulator implements this fd's I/O itself (FdState.intercepts_io:
    framed SEQPACKET, emulated eventfd): those keep the plain park-and-restart."""
    st = proc.fds.state.get(fd)
    return st is None or not st.intercepts_io


# ----- sendfile ---------------------------------------------------------------------------
# sendfile into a pipe or socket blocks like a big write: same treatment, the
# handler called again for what is left (it moves *offset / the file position).

def _sendfile(fn):
    def wrapped(out_fd, in_fd, offp, count):
        if threads.multi():
            ofd = out_fd & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(ofd) and _plain(ofd) \
                    and os.get_blocking(ofd)
            except OSError:
                blocking = False
            if blocking:
                if not ready(ofd, OUT):
                    return park(ofd, OUT, out_fd)
                r = _nonblocking(fn, (out_fd, in_fd, offp, count), ofd, None)
                if r == -lerrno.EAGAIN:
                    return park(ofd, OUT, out_fd)
                if r <= 0 or r >= count:
                    return r
                done = [r]

                def more() -> int | None:
                    k = _nonblocking(fn, (out_fd, in_fd, offp, count - done[0]), ofd, None)
                    if k == -lerrno.EAGAIN:
                        return None
                    if k <= 0:
                        return done[0]       # end of the input, or an error after a part
                    done[0] += k
                    return done[0] if done[0] >= count else None

                deadline = sock_deadline(ofd, OUT)
                return threads.wait_fds({ofd: OUT}, deadline, out_fd,
                                        on_timeout=lambda: done[0], on_ready=more,
                                        on_eintr=lambda: done[0])
        return fn(out_fd, in_fd, offp, count)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- MSG_WAITALL ----------------------------------------------------------------------
# recv(MSG_WAITALL) on a stream socket waits until the whole buffer is filled:
# with other threads the first part is taken without waiting and the rest is
# read as it arrives, the thread parked in between.

_L_MSG_WAITALL = 0x100


def _is_stream(fd: int) -> bool:
    buf = sffi.new("int *")
    ln = sffi.new("socklen_t *", 4)
    if slibc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_TYPE, buf, ln) < 0:
        return False
    return buf[0] == socket.SOCK_STREAM


def _recv_call(fn, kind: str, flags_arg: int):
    """Wrap recvfrom/recvmsg: park while nothing is there; MSG_WAITALL as above."""
    def wrapped(*a):
        if threads.multi():
            fd = a[0] & 0xFFFFFFFF
            flags = a[flags_arg]
            if not flags & L_MSG_DONTWAIT:
                if would_block(fd, IN):
                    return park(fd, IN, a[0])
                if flags & _L_MSG_WAITALL and _plain(fd) and _is_stream(fd):
                    return _recv_waitall(fn, kind, flags_arg, a, fd)
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


def _recv_waitall(fn, kind: str, flags_arg: int, a, fd: int) -> int | None:
    try:
        blocking = os.get_blocking(fd)
    except OSError:
        blocking = False
    if not blocking:
        return fn(*a)
    b = list(a)
    b[flags_arg] = (b[flags_arg] & ~_L_MSG_WAITALL) | L_MSG_DONTWAIT
    r = errno_result(fn, *b)
    if r == -lerrno.EAGAIN:
        return park(fd, IN, a[0])
    if r <= 0:
        return r
    try:
        parts = [(a[1], a[2])] if kind == "recvfrom" else \
            _iov_bytes(*proc.mem.unpack(_MSGHDR_IOV, a[1]))
    except Exception:  # noqa: BLE001 - the handler read them: cannot fail now
        return r
    if r >= sum(n for _, n in parts):
        return r
    done = [r]

    def more() -> int | None:
        os.set_blocking(fd, False)
        try:
            while True:
                skip, views = done[0], []
                for addr, n in parts:
                    if skip >= n:
                        skip -= n
                        continue
                    views.append(proc.mem.view(addr + skip, n - skip, write=True))
                    skip = 0
                if not views:
                    return done[0]
                k = os.readv(fd, views)
                if k == 0:
                    return done[0]            # EOF: what came so far
                done[0] += k
        except BlockingIOError:
            return None
        except OSError:
            return done[0]
        finally:
            try:
                os.set_blocking(fd, True)
            except OSError:
                pass

    deadline = sock_deadline(fd, IN)
    return threads.wait_fds({fd: IN}, deadline, a[0], on_timeout=lambda: done[0],
                            on_ready=more, on_eintr=lambda: done[0])


# ----- writes ---------------------------------------------------------------------------
# A blocking write of more than the free buffer space would block the host in
# the middle of the copy, after the readiness check said "writable".  With other
# threads the call is made non-blocking: what fits goes now, and the rest is
# written as the fd becomes writable again, the thread parked meanwhile; the
# result is the total, as a blocking write returns.  (On a socket MSG_DONTWAIT
# does it per call; for write/writev O_NONBLOCK is set around the call, which
# other processes sharing the open file could observe for that instant.)

_IOV = struct.Struct("<QQ")
_MSGHDR_IOV = struct.Struct("<16xQQ")      # struct msghdr: msg_iov, msg_iovlen at 16
_L_MSG_NOSIGNAL = 0x4000


def _nonblocking(fn, a, fd: int, flags_arg: int | None) -> int:
    if flags_arg is not None:
        b = list(a)
        b[flags_arg] |= L_MSG_DONTWAIT
        return errno_result(fn, *b)
    os.set_blocking(fd, False)
    try:
        return errno_result(fn, *a)
    finally:
        try:
            os.set_blocking(fd, True)
        except OSError:
            pass


def _iov_bytes(iov: int, n: int) -> list[tuple[int, int]]:
    if not 0 < n <= 1024:
        return []
    raw = proc.mem.read(iov, _IOV.size * n)
    return [_IOV.unpack_from(raw, i * _IOV.size) for i in range(n)]


def _write_parts(kind: str, a) -> list[tuple[int, int]]:
    """The (guest address, length) pieces a write-like call sends, in order."""
    if kind == "write" or kind == "sendto":
        return [(a[1], a[2])]
    if kind == "writev":
        return _iov_bytes(a[1], a[2] & 0xFFFFFFFF)
    iov, n = proc.mem.unpack(_MSGHDR_IOV, a[1])        # sendmsg
    return _iov_bytes(iov, n)


def _rest(parts: list[tuple[int, int]], done: int) -> bytes:
    out = []
    for addr, n in parts:
        if done >= n:
            done -= n
            continue
        out.append(proc.mem.read(addr + done, n - done))
        done = 0
    return b"".join(out)


_PIPE_BUF = 4096     # a write this small fits once poll says POLLOUT (a free pipe slot,
                    # a quarter of the socket's send buffer)


def _write_call(fn, kind: str, flags_arg: int | None):
    """Wrap write/writev/sendto/sendmsg (see above)."""
    one_buffer = kind in ("write", "sendto")

    def wrapped(*a):
        if threads.multi():
            fd = a[0] & 0xFFFFFFFF
            if (flags_arg is None or not a[flags_arg] & L_MSG_DONTWAIT) and proc.fds.valid(fd):
                small = one_buffer and a[2] <= _PIPE_BUF
                if small and ready(fd, OUT):
                    return fn(*a)    # the common case: nothing more to ask the host
                st = proc.fds.state.get(fd)
                try:
                    blocking = os.get_blocking(fd)
                except OSError:
                    blocking = False
                if blocking:
                    if small or (st is not None and st.intercepts_io):
                        if not ready(fd, OUT):
                            return park(fd, OUT, a[0])
                    else:
                        return _write_nowait(fn, kind, flags_arg, a, fd)
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


def _write_nowait(fn, kind: str, flags_arg: int | None, a, fd: int) -> int | None:
    if not ready(fd, OUT):
        return park(fd, OUT, a[0])
    r = _nonblocking(fn, a, fd, flags_arg)
    if r == -lerrno.EAGAIN:          # a datagram bigger than the room left: wait for more
        return park(fd, OUT, a[0])
    if r <= 0:
        return r
    try:
        parts = _write_parts(kind, a)
    except Exception:  # noqa: BLE001 - the handler read them: cannot fail now
        return r
    total = sum(n for _, n in parts)
    if r >= total:
        return r
    # Part of a stream write went: the rest follows as the fd drains.
    rest = _rest(parts, r)
    done = [r, 0]                    # bytes written in all, offset into rest

    def more() -> int | None:
        os.set_blocking(fd, False)
        try:
            while done[1] < len(rest):
                n = os.write(fd, rest[done[1]:])
                done[0] += n
                done[1] += n
        except BlockingIOError:
            return None
        except OSError:
            return done[0]           # EPIPE etc. after a partial write: its count
        finally:
            try:
                os.set_blocking(fd, True)
            except OSError:
                pass
        return done[0]

    deadline = sock_deadline(fd, OUT)
    return threads.wait_fds({fd: OUT}, deadline, a[0], on_timeout=lambda: done[0],
                            on_ready=more, on_eintr=lambda: done[0])


# ----- recvmmsg / sendmmsg ---------------------------------------------------------------
# Blocking recvmmsg waits for each of its vlen datagrams (until MSG_WAITFORONE's
# first one, or its timeout, checked after each datagram); sendmmsg waits for
# room for each.  With other threads every step is MSG_DONTWAIT and the thread
# parks between them; the result is the count of messages moved.

_MMSGHDR = 64                        # struct mmsghdr: msghdr (56) + msg_len, padded
_L_MSG_WAITFORONE = 0x10000


def _recvmmsg(fn, ev: int = select.POLLIN):
    def wrapped(fd, vec, vlen, flags, *rest):
        if threads.multi() and not flags & L_MSG_DONTWAIT:
            hfd = fd & 0xFFFFFFFF
            n = vlen & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd) \
                    and _plain(hfd)
            except OSError:
                blocking = False
            if blocking and 0 < n <= 1024:
                deadline = None
                if ev == IN and rest and rest[0]:
                    deadline = deadline_ts(rest[0])
                    if deadline is False:      # zero or invalid: the handler decides
                        return fn(fd, vec, vlen, flags, *rest)
                if not ready(hfd, ev):
                    return park(hfd, ev, fd)
                args = (0,) if rest else ()
                r = errno_result(fn, fd, vec, n, flags | L_MSG_DONTWAIT, *args)
                if r == -lerrno.EAGAIN:
                    return park(hfd, ev, fd)
                if r <= 0 or r >= n or (ev == IN and flags & _L_MSG_WAITFORONE):
                    return r
                done = [r]

                def more() -> int | None:
                    if deadline is not None and time.monotonic_ns() >= deadline:
                        return done[0]
                    k = errno_result(fn, fd, vec + done[0] * _MMSGHDR, n - done[0],
                                     flags | L_MSG_DONTWAIT, *args)
                    if k == -lerrno.EAGAIN:
                        return None
                    if k <= 0:
                        return done[0]
                    done[0] += k
                    return done[0] if done[0] >= n else None

                return threads.wait_fds({hfd: ev}, deadline, fd, on_timeout=lambda: done[0],
                                        on_ready=more, on_eintr=lambda: done[0])
        return fn(fd, vec, vlen, flags, *rest)
    wrapped._blocking_wrapper = True
    return wrapped


def _sendmmsg(fn):
    """sendmmsg: message by message with MSG_DONTWAIT; a stream message that only
    partly fits is finished (as a blocking sendmsg would) before the next."""
    def wrapped(fd, vec, vlen, flags):
        hfd = fd & 0xFFFFFFFF
        n = vlen & 0xFFFFFFFF
        if threads.multi() and not flags & L_MSG_DONTWAIT and 0 < n <= 1024:
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd) \
                    and _plain(hfd)
            except OSError:
                blocking = False
            if blocking:
                if not ready(hfd, OUT):
                    return park(hfd, OUT, fd)
                st = {"i": 0, "rest": b"", "off": 0}

                def step() -> int | None:
                    while st["i"] < n:
                        hdr = vec + st["i"] * _MMSGHDR
                        if not st["rest"]:
                            k = errno_result(fn, fd, hdr, 1, flags | L_MSG_DONTWAIT)
                            if k == -lerrno.EAGAIN:
                                return None
                            if k <= 0:
                                return st["i"] if st["i"] else k
                            parts = _iov_bytes(*proc.mem.unpack(_MSGHDR_IOV, hdr))
                            sent = proc.mem.u32(hdr + 56)
                            total = sum(ln for _, ln in parts)
                            if sent >= total:
                                st["i"] += 1
                                continue
                            st["rest"], st["off"] = _rest(parts, sent), 0
                        os.set_blocking(hfd, False)
                        try:
                            while st["off"] < len(st["rest"]):
                                st["off"] += os.write(hfd, st["rest"][st["off"]:])
                        except BlockingIOError:
                            return None
                        except OSError:
                            return st["i"] + 1      # the partly sent one counts
                        finally:
                            try:
                                os.set_blocking(hfd, True)
                            except OSError:
                                pass
                        proc.mem.put_u32(hdr + 56, proc.mem.u32(hdr + 56) + len(st["rest"]))
                        st["rest"], st["off"] = b"", 0
                        st["i"] += 1
                    return n

                r = step()
                if r is not None:
                    return r

                def partial() -> int:
                    return st["i"] + (1 if st["rest"] else 0) or -lerrno.EAGAIN

                deadline = sock_deadline(hfd, OUT)
                return threads.wait_fds({hfd: OUT}, deadline, fd, on_timeout=partial,
                                        on_ready=step, on_eintr=lambda: partial()
                                        if st["i"] or st["rest"] else -lerrno.EINTR)
        return fn(fd, vec, vlen, flags)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- connect ----------------------------------------------------------------------------
# A blocking connect waits for the handshake (TCP) or for room in the listener's
# backlog (AF_UNIX).  With other threads it is made non-blocking: EINPROGRESS
# parks until the socket is writable and then reports SO_ERROR; EAGAIN (a full
# AF_UNIX backlog, which poll cannot announce) retries every IDLE_POLL.

def _connect(fn):
    def wrapped(fd, addr, addrlen):
        if threads.multi():
            hfd = fd & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd)
            except OSError:
                blocking = False
            if blocking:
                r = _nonblocking(fn, (fd, addr, addrlen), hfd, None)
                if r == -lerrno.EAGAIN:
                    deadline = sock_deadline(hfd, OUT)
                    return threads.wait_fds({}, deadline, fd, eagain if deadline else None,
                                            check=later())
                if r == -lerrno.EINPROGRESS:
                    def done() -> int:
                        buf = sffi.new("int *")
                        ln = sffi.new("socklen_t *", 4)
                        if slibc.getsockopt(hfd, socket.SOL_SOCKET, socket.SO_ERROR, buf, ln) < 0:
                            return -lerrno.to_linux(sffi.errno)
                        return -lerrno.to_linux(buf[0]) if buf[0] else 0
                    deadline = sock_deadline(hfd, OUT)
                    return threads.wait_fds({hfd: OUT}, deadline, fd,
                                            on_timeout=lambda: -lerrno.EINPROGRESS, on_ready=done)
                return r
        return fn(fd, addr, addrlen)
    wrapped._blocking_wrapper = True
    return wrapped


# name -> wrapper factory, for parking.install()
WRAP.update({
    "connect": _connect,
    "sendfile": _sendfile,
    "recvmmsg": _recvmmsg,
    "sendmmsg": _sendmmsg,
    "recvfrom": lambda fn: _recv_call(fn, "recvfrom", 3),
    "recvmsg": lambda fn: _recv_call(fn, "recvmsg", 2),
    "write": lambda fn: _write_call(fn, "write", None),
    "writev": lambda fn: _write_call(fn, "writev", None),
    "sendto": lambda fn: _write_call(fn, "sendto", 3),
    "sendmsg": lambda fn: _write_call(fn, "sendmsg", 2),
})
