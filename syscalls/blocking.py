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
on a ready fd.  SO_RCVTIMEO/SO_SNDTIMEO bound those waits (EAGAIN).
ppoll/pselect6/epoll_pwait park on their whole fd set with their deadline; at
the deadline they return 0 with the result sets cleared, as Linux does.

Calls that would block half-way or on something poll cannot see get their own
treatment, each below: big writes (non-blocking, the rest written as the fd
drains), connect (non-blocking, then SO_ERROR), recvmmsg/sendmmsg (step by
step), wait4/waitid (WNOHANG, woken by a pidfd or a WNOWAIT probe),
rt_sigsuspend/rt_sigtimedwait (park with the mask), flock/F_SETLKW (try,
retry every poll period).

open() of a FIFO waiting for its other end runs on a helper host thread.
Not covered (still block every thread): blocking calls not listed in _WRAP.
"""
from __future__ import annotations

import os
import select
import socket
import stat
import struct
import threading
import time

from elfuse_py.host import sockets as hostsock
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from syscalls import poll
from syscalls.numbers import SYSCALL_NUMBERS

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


def _plain(fd: int) -> bool:
    """True unless the emulator implements this fd's I/O itself (FdState.intercepts_io:
    framed SEQPACKET, emulated eventfd): those keep the plain park-and-restart."""
    st = proc.fds.state.get(fd)
    return st is None or not st.intercepts_io


def _would_block(fd: int, ev: int) -> bool:
    """True if a blocking call on guest fd `fd` waiting for `ev` would wait in the host."""
    if not proc.fds.valid(fd) or _ready(fd, ev):
        return False
    try:
        return os.get_blocking(fd)
    except OSError:
        return False


# SO_RCVTIMEO / SO_SNDTIMEO: the host's struct timeval.
_TIMEVAL = hostsock.TIMEVAL
_SO_TIMEO = {_IN: getattr(socket, "SO_RCVTIMEO", None), _OUT: getattr(socket, "SO_SNDTIMEO", None)}


def _sock_deadline(fd: int, ev: int) -> int | None:
    """The CLOCK_MONOTONIC deadline a socket's SO_RCVTIMEO/SO_SNDTIMEO puts on a call
    that starts waiting now (None: no timeout, or not a socket)."""
    opt = _SO_TIMEO.get(ev)
    if opt is None:
        return None
    from elfuse_py.host.sockets import ffi as sffi, libc as slibc
    buf = sffi.new("char[16]")
    ln = sffi.new("socklen_t *", 16)
    if slibc.getsockopt(fd, socket.SOL_SOCKET, opt, buf, ln) < 0 or ln[0] < _TIMEVAL.size:
        return None
    sec, usec = _TIMEVAL.unpack(sffi.buffer(buf, _TIMEVAL.size))
    if sec <= 0 and usec <= 0:
        return None
    return time.monotonic_ns() + sec * 1_000_000_000 + usec * 1000


def _eagain() -> int:
    return -lerrno.EAGAIN


def _park(fd: int, ev: int, orig_x0: int) -> int | None:
    """Park on `fd` until `ev`; the syscall restarts then (EAGAIN at the socket's timeout)."""
    deadline = _sock_deadline(fd, ev)
    return threads.wait_fds({fd: ev}, deadline, orig_x0, _eagain if deadline else None)


def _fd_call(fn, ev: int, flags_arg: int | None):
    """Wrap a handler whose first argument is the fd (read, recvmsg, accept...)."""
    def wrapped(*a):
        if len(threads.threads) > 1:
            fd = a[0] & 0xFFFFFFFF
            if (flags_arg is None or not a[flags_arg] & _L_MSG_DONTWAIT) and _would_block(fd, ev):
                return _park(fd, ev, a[0])
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


# ----- sendfile ---------------------------------------------------------------------------
# sendfile into a pipe or socket blocks like a big write: same treatment, the
# handler called again for what is left (it moves *offset / the file position).

def _sendfile(fn):
    def wrapped(out_fd, in_fd, offp, count):
        if len(threads.threads) > 1:
            ofd = out_fd & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(ofd) and _plain(ofd) \
                    and os.get_blocking(ofd)
            except OSError:
                blocking = False
            if blocking:
                if not _ready(ofd, _OUT):
                    return _park(ofd, _OUT, out_fd)
                r = _nonblocking(fn, (out_fd, in_fd, offp, count), ofd, None)
                if r == -lerrno.EAGAIN:
                    return _park(ofd, _OUT, out_fd)
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

                deadline = _sock_deadline(ofd, _OUT)
                return threads.wait_fds({ofd: _OUT}, deadline, out_fd,
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
    from elfuse_py.host.sockets import ffi as sffi, libc as slibc
    buf = sffi.new("int *")
    ln = sffi.new("socklen_t *", 4)
    if slibc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_TYPE, buf, ln) < 0:
        return False
    return buf[0] == socket.SOCK_STREAM


def _recv_call(fn, kind: str, flags_arg: int):
    """Wrap recvfrom/recvmsg: park while nothing is there; MSG_WAITALL as above."""
    def wrapped(*a):
        if len(threads.threads) > 1:
            fd = a[0] & 0xFFFFFFFF
            flags = a[flags_arg]
            if not flags & _L_MSG_DONTWAIT:
                if _would_block(fd, _IN):
                    return _park(fd, _IN, a[0])
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
    b[flags_arg] = (b[flags_arg] & ~_L_MSG_WAITALL) | _L_MSG_DONTWAIT
    r = _errno_result(fn, *b)
    if r == -lerrno.EAGAIN:
        return _park(fd, _IN, a[0])
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

    deadline = _sock_deadline(fd, _IN)
    return threads.wait_fds({fd: _IN}, deadline, a[0], on_timeout=lambda: done[0],
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


def _errno_result(fn, *a) -> int:
    try:
        return fn(*a)
    except OSError as e:
        if e.errno is None:
            raise
        return -lerrno.to_linux(e.errno)


def _nonblocking(fn, a, fd: int, flags_arg: int | None) -> int:
    if flags_arg is not None:
        b = list(a)
        b[flags_arg] |= _L_MSG_DONTWAIT
        return _errno_result(fn, *b)
    os.set_blocking(fd, False)
    try:
        return _errno_result(fn, *a)
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
        if len(threads.threads) > 1:
            fd = a[0] & 0xFFFFFFFF
            if (flags_arg is None or not a[flags_arg] & _L_MSG_DONTWAIT) and proc.fds.valid(fd):
                small = one_buffer and a[2] <= _PIPE_BUF
                if small and _ready(fd, _OUT):
                    return fn(*a)    # the common case: nothing more to ask the host
                st = proc.fds.state.get(fd)
                try:
                    blocking = os.get_blocking(fd)
                except OSError:
                    blocking = False
                if blocking:
                    if small or (st is not None and st.intercepts_io):
                        if not _ready(fd, _OUT):
                            return _park(fd, _OUT, a[0])
                    else:
                        return _write_nowait(fn, kind, flags_arg, a, fd)
        return fn(*a)
    wrapped._blocking_wrapper = True
    return wrapped


def _write_nowait(fn, kind: str, flags_arg: int | None, a, fd: int) -> int | None:
    if not _ready(fd, _OUT):
        return _park(fd, _OUT, a[0])
    r = _nonblocking(fn, a, fd, flags_arg)
    if r == -lerrno.EAGAIN:          # a datagram bigger than the room left: wait for more
        return _park(fd, _OUT, a[0])
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

    deadline = _sock_deadline(fd, _OUT)
    return threads.wait_fds({fd: _OUT}, deadline, a[0], on_timeout=lambda: done[0],
                            on_ready=more, on_eintr=lambda: done[0])


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
                    _, wanted = poll.read_fdsets(nfd, ptrs)
                    want = {fd: poll.to_host(ev) for fd, ev in wanted.items()}
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


# ----- recvmmsg / sendmmsg ---------------------------------------------------------------
# Blocking recvmmsg waits for each of its vlen datagrams (until MSG_WAITFORONE's
# first one, or its timeout, checked after each datagram); sendmmsg waits for
# room for each.  With other threads every step is MSG_DONTWAIT and the thread
# parks between them; the result is the count of messages moved.

_MMSGHDR = 64                        # struct mmsghdr: msghdr (56) + msg_len, padded
_L_MSG_WAITFORONE = 0x10000


def _recvmmsg(fn, ev: int = select.POLLIN):
    def wrapped(fd, vec, vlen, flags, *rest):
        if len(threads.threads) > 1 and not flags & _L_MSG_DONTWAIT:
            hfd = fd & 0xFFFFFFFF
            n = vlen & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd) \
                    and _plain(hfd)
            except OSError:
                blocking = False
            if blocking and 0 < n <= 1024:
                deadline = None
                if ev == _IN and rest and rest[0]:
                    deadline = _deadline_ts(rest[0])
                    if deadline is False:      # zero or invalid: the handler decides
                        return fn(fd, vec, vlen, flags, *rest)
                if not _ready(hfd, ev):
                    return _park(hfd, ev, fd)
                args = (0,) if rest else ()
                r = _errno_result(fn, fd, vec, n, flags | _L_MSG_DONTWAIT, *args)
                if r == -lerrno.EAGAIN:
                    return _park(hfd, ev, fd)
                if r <= 0 or r >= n or (ev == _IN and flags & _L_MSG_WAITFORONE):
                    return r
                done = [r]

                def more() -> int | None:
                    if deadline is not None and time.monotonic_ns() >= deadline:
                        return done[0]
                    k = _errno_result(fn, fd, vec + done[0] * _MMSGHDR, n - done[0],
                                      flags | _L_MSG_DONTWAIT, *args)
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
        if len(threads.threads) > 1 and not flags & _L_MSG_DONTWAIT and 0 < n <= 1024:
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd) \
                    and _plain(hfd)
            except OSError:
                blocking = False
            if blocking:
                if not _ready(hfd, _OUT):
                    return _park(hfd, _OUT, fd)
                st = {"i": 0, "rest": b"", "off": 0}

                def step() -> int | None:
                    while st["i"] < n:
                        hdr = vec + st["i"] * _MMSGHDR
                        if not st["rest"]:
                            k = _errno_result(fn, fd, hdr, 1, flags | _L_MSG_DONTWAIT)
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

                deadline = _sock_deadline(hfd, _OUT)
                return threads.wait_fds({hfd: _OUT}, deadline, fd, on_timeout=partial,
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

def _later():
    """A `check` for wait_fds that says yes once one poll period has passed."""
    not_before = time.monotonic_ns() + int(threads.IDLE_POLL * 1e9)
    return lambda: time.monotonic_ns() >= not_before


def _connect(fn):
    def wrapped(fd, addr, addrlen):
        if len(threads.threads) > 1:
            hfd = fd & 0xFFFFFFFF
            try:
                blocking = proc.fds.valid(hfd) and os.get_blocking(hfd)
            except OSError:
                blocking = False
            if blocking:
                r = _nonblocking(fn, (fd, addr, addrlen), hfd, None)
                if r == -lerrno.EAGAIN:
                    deadline = _sock_deadline(hfd, _OUT)
                    return threads.wait_fds({}, deadline, fd, _eagain if deadline else None,
                                            check=_later())
                if r == -lerrno.EINPROGRESS:
                    def done() -> int:
                        from elfuse_py.host.sockets import ffi as sffi, libc as slibc
                        buf = sffi.new("int *")
                        ln = sffi.new("socklen_t *", 4)
                        if slibc.getsockopt(hfd, socket.SOL_SOCKET, socket.SO_ERROR, buf, ln) < 0:
                            return -lerrno.to_linux(sffi.errno)
                        return -lerrno.to_linux(buf[0]) if buf[0] else 0
                    deadline = _sock_deadline(hfd, _OUT)
                    return threads.wait_fds({hfd: _OUT}, deadline, fd,
                                            on_timeout=lambda: -lerrno.EINPROGRESS, on_ready=done)
                return r
        return fn(fd, addr, addrlen)
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
        if len(threads.threads) > 1 and size == 8:
            from elfuse_py.runtime import signals
            st = signals.st
            m = proc.mem.unpack(_SIGSET, set_)[0] & ~signals.UNBLOCKABLE
            if not st.pending & ~m:
                st.saved_mask = st.mask          # restored once the handler is set up
                signals.set_mask(m)
                return threads.wait_fds({}, None, set_, on_eintr=lambda: -lerrno.EINTR)
        return fn(set_, size)
    wrapped._blocking_wrapper = True
    return wrapped


def _rt_sigtimedwait(fn):
    def wrapped(set_, info, timeout, size):
        if len(threads.threads) > 1 and size == 8:
            from elfuse_py.runtime import signals
            import signal as hs
            st = signals.st
            want = proc.mem.unpack(_SIGSET, set_)[0] & ~signals.UNBLOCKABLE
            deadline = _deadline_ts(timeout)
            hosts = signals.host_set(want)
            me = threads.current

            def available() -> bool:
                if st.pending & want or any(want & (1 << (s - 1)) for s in me.sigpending):
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
        if len(threads.threads) > 1 and not op & _L_LOCK_NB and op & 3:
            r = _errno_result(fn, fd, op | _L_LOCK_NB)
            if r != -lerrno.EAGAIN:            # EWOULDBLOCK
                return r
            return threads.wait_fds({}, None, fd, check=_later())
        return fn(fd, op)
    wrapped._blocking_wrapper = True
    return wrapped


def _fcntl(fn):
    nowait = {_L_F_SETLKW: _L_F_SETLK, _L_F_OFD_SETLKW: _L_F_OFD_SETLK}

    def wrapped(fd, cmd, arg):
        c = cmd & 0xFFFFFFFF
        if c in nowait and len(threads.threads) > 1:
            r = _errno_result(fn, fd, nowait[c], arg)
            if r not in (-lerrno.EAGAIN, -lerrno.EACCES):
                return r
            return threads.wait_fds({}, None, fd, check=_later())
        return fn(fd, cmd, arg)
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


# ----- open of a FIFO -----------------------------------------------------------------------
# A blocking open() of a FIFO waits in the kernel until the other end is
# opened, often by another guest thread, and nothing can be polled for that
# meanwhile.  So with several threads the open runs on a helper host thread
# while the guest thread is parked on a pipe the helper writes when it is done.

def _fifo_path(dirfd: int, pathname: int, flags: int) -> tuple | None:
    """(host path, dir fd) of the guest path if it names a FIFO, else None."""
    from syscalls import fsflags as F
    from syscalls.fdargs import at_path, guest_path
    try:
        path, dfd = at_path(dirfd, guest_path(pathname), not flags & F.O_NOFOLLOW)
        return (path, dfd) if stat.S_ISFIFO(os.stat(path, dir_fd=dfd).st_mode) else None
    except Exception:  # noqa: BLE001 - bad path or pointer: the handler reports it
        return None


def _release(fifo: tuple, reader: bool) -> None:
    """Complete an abandoned helper's open by opening the FIFO's other end
    (non-blocking) for a moment: a FIFO end nobody waits for must not stay."""
    path, dfd = fifo
    try:
        os.close(os.open(path, (os.O_WRONLY if reader else os.O_RDONLY) | os.O_NONBLOCK,
                         dir_fd=dfd))
    except OSError:
        pass


def _openat(fn):
    from syscalls import fsflags as F

    def wrapped(dirfd, pathname, flags, mode):
        f = flags & 0xFFFFFFFF
        if len(threads.threads) < 2 or f & (F.O_NONBLOCK | F.O_PATH) \
                or f & F.O_ACCMODE == F.O_RDWR:
            return fn(dirfd, pathname, flags, mode)
        fifo = _fifo_path(dirfd, pathname, f)
        if fifo is None:
            return fn(dirfd, pathname, flags, mode)
        done_r, done_w = (proc.fds.reserve(x) for x in os.pipe())
        box: dict = {}

        def work() -> None:
            try:
                r = fn(dirfd, pathname, flags, mode)
            except OSError as e:
                r = -lerrno.to_linux(e.errno)
            except Exception:  # noqa: BLE001 - guest memory gone and the like
                r = -lerrno.EFAULT
            with lock:
                box["r"] = r
                if box.get("abandoned") and r >= 0:
                    os.close(r)          # the guest stopped waiting (a signal)
            # The helper owns the write end: the waiter may be gone already
            # (its read end closed: EPIPE).
            try:
                os.write(done_w, b"x")
            except OSError:
                pass
            os.close(done_w)

        def result() -> int:
            return box["r"]

        def abandon() -> int:
            with lock:
                r = box.get("r")
                if r is not None:
                    return r             # finished just as the signal came: keep it
                box["abandoned"] = True
            _release(fifo, f & F.O_ACCMODE == F.O_RDONLY)
            return -lerrno.EINTR

        def cleanup() -> None:
            os.close(done_r)

        lock = threading.Lock()
        threading.Thread(target=work, daemon=True, name="elfuse-fifo-open").start()
        return threads.wait_fds({done_r: _IN}, None, dirfd, on_ready=result,
                                cleanup=cleanup, on_eintr=abandon)
    wrapped._blocking_wrapper = True
    return wrapped


# name -> wrapper factory
_WRAP = {
    "openat": _openat,
    "connect": _connect,
    "sendfile": _sendfile,
    "rt_sigsuspend": _rt_sigsuspend,
    "rt_sigtimedwait": _rt_sigtimedwait,
    "flock": _flock,
    "fcntl": _fcntl,
    "recvmmsg": _recvmmsg,
    "sendmmsg": _sendmmsg,
    "wait4": _wait4,
    "waitid": _waitid,
    "read": lambda fn: _fd_call(fn, _IN, None),
    "readv": lambda fn: _fd_call(fn, _IN, None),
    "recvfrom": lambda fn: _recv_call(fn, "recvfrom", 3),
    "recvmsg": lambda fn: _recv_call(fn, "recvmsg", 2),
    "accept": lambda fn: _fd_call(fn, _IN, None),
    "accept4": lambda fn: _fd_call(fn, _IN, None),
    "write": lambda fn: _write_call(fn, "write", None),
    "writev": lambda fn: _write_call(fn, "writev", None),
    "sendto": lambda fn: _write_call(fn, "sendto", 3),
    "sendmsg": lambda fn: _write_call(fn, "sendmsg", 2),
    "ppoll": _ppoll,
    "pselect6": _pselect6,
    "epoll_pwait": lambda fn: _epoll(fn, False),
    "epoll_pwait2": lambda fn: _epoll(fn, True),
}


def install() -> None:
    """Wrap the blocking syscalls in the live dispatch list (idempotent)."""
    if proc.syscalls is None:
        return
    d = proc.syscalls.dispatch
    for name, factory in _WRAP.items():
        nr = SYSCALL_NUMBERS[name]
        entry = d[nr]
        if entry is None or getattr(entry[0], "_blocking_wrapper", False):
            continue
        fn, nargs = entry
        w = factory(fn)
        d[nr] = (w, nargs)

