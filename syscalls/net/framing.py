"""SEQPACKET message boundaries over a host SOCK_STREAM (the macOS fallback).

Every message travels as an 8-byte header (magic, payload length) followed by
the payload, in one host sendmsg; SCM_RIGHTS rides on that sendmsg, so it is
received with the header.  A reader takes one header, then exactly that
payload: bytes beyond the guest's buffer are discarded and MSG_TRUNC is
reported, as SEQPACKET does.  A zero-length message is a header alone, and a
reader tells it from EOF.
"""
from __future__ import annotations

import errno
import select
import struct

from elfuse_py.host import sockets as host
from elfuse_py.runtime import signals

FRAME_MAGIC = 0x53514B50        # "PKQS": marks a framed SEQPACKET-over-STREAM header

_HDR = struct.Struct("<II")
ffi, libc = host.ffi, host.libc
_MSG_WAITALL = __import__("socket").MSG_WAITALL
_MSG_PEEK = __import__("socket").MSG_PEEK
_MSG_DONTWAIT = __import__("socket").MSG_DONTWAIT
_SOL_SOCKET = __import__("socket").SOL_SOCKET
_SO_SNDBUF = __import__("socket").SO_SNDBUF


# Linux's default wmem (net.core.wmem_default): a SEQPACKET message is EMSGSIZE
# past sk_sndbuf - 32.  The host stream's buffer may be smaller (macOS: 8 KiB),
# which must not shrink the largest message a guest may send.
_LINUX_WMEM_DEFAULT = 212992


def _max_message(fd: int) -> int:
    buf = ffi.new("int *")
    ln = ffi.new("socklen_t *", 4)
    sndbuf = buf[0] if libc.getsockopt(fd, _SOL_SOCKET, _SO_SNDBUF, buf, ln) == 0 else 0
    return max(sndbuf, _LINUX_WMEM_DEFAULT) - 32


def _wait_writable(fd: int) -> None:
    p = select.poll()
    p.register(fd, select.POLLOUT)
    p.poll()


def send_frame(fd: int, views: list, control: bytes, hflags: int) -> int:
    """Send one framed message; returns the payload length or -errno (host)."""
    total = sum(len(v) for v in views)
    if total > _LINUX_WMEM_DEFAULT - 32 and total > _max_message(fd):
        return -errno.EMSGSIZE
    hdr = bytearray(_HDR.pack(FRAME_MAGIC, total))
    parts = [memoryview(hdr)] + list(views)
    sent_any = False
    while parts:
        iov, keep = host.iovec_array(parts)
        msg = ffi.new("struct msghdr *")
        msg.msg_iov = iov
        msg.msg_iovlen = len(parts)
        cbuf = None
        if control and not sent_any:
            cbuf = ffi.from_buffer(control)
            msg.msg_control = cbuf
            msg.msg_controllen = len(control)
        try:
            n = libc.sendmsg(fd, msg, hflags)
        except InterruptedError:
            if not sent_any:
                raise                    # nothing went out: the guest sees EINTR
            # Never leave half a frame: finish it, the signal is delivered after.
            signals.keep_result()
            ffi.errno = 0
            continue
        if n < 0:
            e = ffi.errno
            if e == errno.EAGAIN and sent_any:
                # Never leave half a frame on the stream: wait and finish it.
                # poll, not select: a guest may hold fds past FD_SETSIZE.
                try:
                    _wait_writable(fd)
                except InterruptedError:
                    signals.keep_result()    # as above: finish the frame first
                continue
            if e == errno.EINTR:
                continue
            return -e
        sent_any = True
        # Drop what went out.
        while parts and n >= len(parts[0]):
            n -= len(parts[0])
            parts.pop(0)
        if parts and n:
            parts[0] = parts[0][n:]
    return total


def _recv_exact(fd: int, buf: memoryview, hflags: int) -> int:
    got = 0
    while got < len(buf):
        n = libc.recvfrom(fd, ffi.from_buffer(buf[got:]), len(buf) - got,
                          hflags | _MSG_WAITALL, ffi.NULL, ffi.NULL)
        if n < 0:
            if ffi.errno == errno.EINTR:
                continue
            return -ffi.errno
        if n == 0:
            break
        got += n
    return got


def recv_frame(fd: int, views: list, hflags: int, control_size: int = 0
               ) -> tuple[int, int, bytes, int]:
    """Receive one framed message into `views`.

    Returns (bytes stored or -errno, full message length, host control bytes,
    host msg_flags).  EOF gives (0, -1, b"", 0).
    """
    hdr = bytearray(_HDR.size)
    hv = memoryview(hdr)
    peek = hflags & _MSG_PEEK
    iov, keep = host.iovec_array([hv])
    msg = ffi.new("struct msghdr *")
    msg.msg_iov = iov
    msg.msg_iovlen = 1
    cbuf = None
    if control_size:
        cbuf = ffi.new("char[]", control_size)
        msg.msg_control = cbuf
        msg.msg_controllen = control_size
    while True:
        n = libc.recvmsg(fd, msg, (hflags & ~_MSG_PEEK) | _MSG_WAITALL if not peek
                         else hflags | _MSG_WAITALL)
        if n < 0 and ffi.errno == errno.EINTR:
            continue
        break
    if n < 0:
        e = ffi.errno
        # An unconnected host stream says EINVAL; Linux's SEQPACKET says ENOTCONN.
        return -(errno.ENOTCONN if e == errno.EINVAL else e), 0, b"", 0
    if n == 0:
        return 0, -1, b"", 0
    control = ffi.buffer(cbuf, msg.msg_controllen)[:] if cbuf is not None else b""
    mflags = msg.msg_flags
    if n < _HDR.size:
        rest = _recv_exact(fd, hv[n:], hflags & ~_MSG_DONTWAIT)
        if rest < 0:
            return rest, 0, b"", 0
    magic, length = _HDR.unpack(hdr)
    if magic != FRAME_MAGIC:
        return -errno.EPROTO, 0, b"", 0
    if peek:
        whole = bytearray(_HDR.size + length)
        w = _recv_exact(fd, memoryview(whole), hflags & ~_MSG_DONTWAIT)
        if w < 0:
            return w, 0, b"", 0
        data = memoryview(whole)[_HDR.size:]
        return scatter(data, views), length, control, mflags
    stored = 0
    remaining = length
    for v in views:
        if not remaining:
            break
        take = min(len(v), remaining)
        r = _recv_exact(fd, v[:take], hflags & ~_MSG_DONTWAIT)
        if r < 0:
            return r, 0, b"", 0
        stored += r
        remaining -= r
        if r < take:
            return stored, length, control, mflags
    if remaining:
        junk = memoryview(bytearray(min(remaining, 65536)))
        while remaining:
            r = _recv_exact(fd, junk[:min(remaining, len(junk))], hflags & ~_MSG_DONTWAIT)
            if r <= 0:
                break
            remaining -= r
    return stored, length, control, mflags


def scatter(data: memoryview, views: list) -> int:
    """Copy `data` into `views` in order; returns the bytes copied."""
    off = 0
    for v in views:
        if off >= len(data):
            break
        k = min(len(v), len(data) - off)
        v[:k] = data[off:off + k]
        off += k
    return off


def inq(fd: int) -> int:
    """SIOCINQ/FIONREAD of a framed SEQPACKET socket: the payload bytes queued
    (Linux sums every queued message of a SEQPACKET socket), headers left out."""
    import fcntl
    import termios
    n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    if n <= 0:
        return n
    buf = bytearray(n)
    got = libc.recvfrom(fd, ffi.from_buffer(buf), n, _MSG_PEEK | _MSG_DONTWAIT, ffi.NULL, ffi.NULL)
    if got <= 0:
        return 0
    total = off = 0
    while off + _HDR.size <= got:
        magic, length = _HDR.unpack_from(buf, off)
        if magic != FRAME_MAGIC:
            break
        total += min(length, got - off - _HDR.size)
        off += _HDR.size + length
    return total

