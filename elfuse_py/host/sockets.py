"""The thin host seam under the socket layer: raw libc socket calls and the
few things only one host can do.

Everything above this module speaks Linux; this module owns the host's C
layouts (msghdr, cmsg alignment, sockaddr's sun_len byte on macOS), the host's
socket option numbers (`sockopt`: only the options the host model has), and
the host-only calls (macOS bindat/connectat, LOCAL_PEERCRED/LOCAL_PEERPID and
SO_NREAD; Linux SO_PEERCRED, SO_PROTOCOL, SO_DOMAIN and /proc/self/fd).  Calls
go through cffi with guest buffers passed by host address, so data is never
copied through Python.

Under the macOS host model on Linux (ELFUSE_HOST_COMPAT=darwin) this module
answers as macOS does: the option table is macOS's (with the running kernel's
numbers), there is no SO_PROTOCOL/SO_DOMAIN/SO_PEERCRED to ask, no /proc for
binding under a directory fd, and no POLLRDHUP.  macOS's own calls
(LOCAL_PEERCRED, bindat, SO_NREAD) do not exist on the Linux that plays the
Mac, so the layers above run what they run when the host cannot answer.
"""
from __future__ import annotations

import os
import select as _select
import _socket as _s      # (socket.py's names come from it; socket.py would import enum)
import struct
from elfuse_py.host import platform
from elfuse_py.host.cdefs import load_ffi

DARWIN = platform.IS_DARWIN
LINUX = platform.IS_LINUX
_MAC_MODEL = platform.MODEL == "darwin"     # a Mac, or Linux playing one

ffi = load_ffi("sockets_darwin" if DARWIN else "sockets_linux")
if DARWIN:
    CMSG_ALIGN_TO = 4
    CMSG_HDR = struct.Struct("=Iii")          # cmsg_len is a socklen_t
else:
    CMSG_ALIGN_TO = struct.calcsize("P")
    CMSG_HDR = struct.Struct("=Qii" if struct.calcsize("P") == 8 else "=Iii")  # size_t cmsg_len

libc = ffi.dlopen(None)
SUN_PATH_MAX = 104 if DARWIN else 108         # host sockaddr_un.sun_path size
SOCKADDR_MAX = 128
# SO_RCVTIMEO / SO_SNDTIMEO: the host's struct timeval (two longs on Linux; on
# macOS a long and an int, padded to 16 bytes).
TIMEVAL = struct.Struct("<qq" if LINUX else "<qi4x")


def iovec_array(views: list):
    """A host iovec array over memoryviews (guest memory in place, no copy) and
    the buffer objects that must stay alive while it is used."""
    iov = ffi.new("struct iovec[]", max(1, len(views)))
    keep = []
    for i, v in enumerate(views):
        buf = ffi.from_buffer(v)
        keep.append(buf)
        iov[i].iov_base = buf
        iov[i].iov_len = len(v)
    return iov, keep


def cmsg_align(n: int) -> int:
    return (n + CMSG_ALIGN_TO - 1) & ~(CMSG_ALIGN_TO - 1)


def cmsg_space(n: int) -> int:
    return cmsg_align(CMSG_HDR.size) + cmsg_align(n)


def err() -> OSError:
    """An OSError carrying the host errno of the last libc call."""
    e = ffi.errno
    return OSError(e, os.strerror(e))


def check(rc: int) -> int:
    if rc < 0:
        raise err()
    return rc


# ----- sockaddr byte layouts ---------------------------------------------------------------
# The host's sockaddr bytes from (host family, family payload), and back.  On
# Linux the 16-bit family comes first; the BSDs have a length byte and an
# 8-bit family.

def host_sockaddr(hfamily: int, payload: bytes) -> bytes:
    if DARWIN:
        total = 2 + len(payload)
        return bytes((min(total, 255), hfamily)) + payload
    return struct.pack("=H", hfamily) + payload


def split_host_sockaddr(raw: bytes) -> tuple[int, bytes]:
    """(host family, payload) of host sockaddr bytes."""
    if len(raw) < 2:
        return (_s.AF_UNSPEC, b"")
    if DARWIN:
        return raw[1], raw[2:]
    return struct.unpack_from("=H", raw)[0], raw[2:]


# ----- socket options: the host's numbers, for the options the host has ---------------------
# Linux option name -> the host's option number.  macOS's are XNU's <sys/socket.h>,
# <netinet/tcp.h>, <netinet/in.h> and <netinet6/in6.h>; a Linux host with the
# asm-generic numbering (x86_64, arm64, riscv...) has them all by number, another
# Linux host those Python's socket module names.  Levels are Python's names
# (SOL_SOCKET is 0xffff on macOS, 1 on Linux; the IPPROTO_* agree).
_DARWIN_OPTS = {
    "SO_DEBUG": 0x1, "SO_ACCEPTCONN": 0x2, "SO_REUSEADDR": 0x4, "SO_KEEPALIVE": 0x8,
    "SO_DONTROUTE": 0x10, "SO_BROADCAST": 0x20, "SO_OOBINLINE": 0x100, "SO_REUSEPORT": 0x200,
    "SO_TIMESTAMP": 0x400, "SO_SNDBUF": 0x1001, "SO_RCVBUF": 0x1002, "SO_SNDLOWAT": 0x1003,
    "SO_RCVLOWAT": 0x1004, "SO_SNDTIMEO": 0x1005, "SO_RCVTIMEO": 0x1006, "SO_ERROR": 0x1007,
    "SO_TYPE": 0x1008,
    "SO_LINGER": 0x1080,            # SO_LINGER_SEC: seconds, as Linux's (SO_LINGER is in ticks)
    "TCP_NODELAY": 0x1, "TCP_MAXSEG": 0x2,
    "TCP_KEEPIDLE": 0x10,           # TCP_KEEPALIVE
    "TCP_KEEPINTVL": 0x101, "TCP_KEEPCNT": 0x102,
    "IP_TOS": 3, "IP_TTL": 4, "IP_MULTICAST_TTL": 10, "IP_MULTICAST_LOOP": 11,
    "IPV6_UNICAST_HOPS": 4, "IPV6_MULTICAST_LOOP": 11, "IPV6_V6ONLY": 27,
}
_LINUX_GENERIC_OPTS = {
    "SO_DEBUG": 1, "SO_REUSEADDR": 2, "SO_TYPE": 3, "SO_ERROR": 4, "SO_DONTROUTE": 5,
    "SO_BROADCAST": 6, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10,
    "SO_NO_CHECK": 11, "SO_PRIORITY": 12, "SO_LINGER": 13, "SO_BSDCOMPAT": 14,
    "SO_REUSEPORT": 15, "SO_PASSCRED": 16, "SO_PEERCRED": 17, "SO_RCVLOWAT": 18,
    "SO_SNDLOWAT": 19, "SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21, "SO_TIMESTAMP": 29,
    "SO_ACCEPTCONN": 30, "SO_PEERSEC": 31, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33,
    "SO_PASSSEC": 34, "SO_TIMESTAMPNS": 35, "SO_MARK": 36, "SO_PROTOCOL": 38,
    "SO_DOMAIN": 39, "SO_RXQ_OVFL": 40, "SO_PEEK_OFF": 42, "SO_BUSY_POLL": 46,
    "SO_INCOMING_CPU": 49, "SO_COOKIE": 57, "SO_PEERGROUPS": 59, "SO_ZEROCOPY": 60,
    "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6,
    "IP_TOS": 1, "IP_TTL": 2, "IP_MULTICAST_TTL": 33, "IP_MULTICAST_LOOP": 34,
    "IPV6_UNICAST_HOPS": 16, "IPV6_MULTICAST_LOOP": 19, "IPV6_V6ONLY": 26,
}
# The asm-generic numbering, told by options no model hides.
LINUX_GENERIC = LINUX and (_s.SOL_SOCKET, _s.SO_RCVLOWAT, _s.SO_RCVTIMEO, _s.IPPROTO_TCP,
                           _s.TCP_NODELAY) == (1, 18, 20, 6, 1)


def _option_table() -> dict[str, int]:
    if DARWIN:
        return dict(_DARWIN_OPTS)
    if LINUX_GENERIC:
        linux = dict(_LINUX_GENERIC_OPTS)
    else:
        linux = {n: int(getattr(_s, n)) for n in _LINUX_GENERIC_OPTS if hasattr(_s, n)}
    if _MAC_MODEL:
        # The Linux that plays a Mac has exactly the options macOS has.
        return {n: v for n, v in linux.items() if n in _DARWIN_OPTS}
    return linux


OPTIONS = _option_table()


def sockopt(name: str) -> int | None:
    """The host's number for the Linux socket option `name`, or None if the host has none."""
    return OPTIONS.get(name)


def sockopt_level(name: str) -> int | None:
    """The host's number for a level (SOL_SOCKET, IPPROTO_TCP...)."""
    v = getattr(_s, name, None)
    return None if v is None else int(v)


def _int_opt(fd: int, opt: int) -> int:
    buf = ffi.new("int *")
    ln = ffi.new("socklen_t *", 4)
    if libc.getsockopt(fd, _s.SOL_SOCKET, opt, buf, ln) < 0:
        raise err()
    return buf[0]


def socket_type(fd: int) -> int | None:
    """The host SO_TYPE of `fd`, or None if it is not an open socket."""
    try:
        return _int_opt(fd, _s.SO_TYPE)
    except OSError:
        return None


def socket_family(fd: int) -> int:
    """The host address family of socket `fd` (OSError EBADF/ENOTSOCK): Linux's
    SO_DOMAIN, else (macOS has none) the family of its own name."""
    opt = sockopt("SO_DOMAIN")
    if opt is not None:
        return _int_opt(fd, opt)
    buf = ffi.new("char[]", SOCKADDR_MAX)
    ln = ffi.new("socklen_t *", SOCKADDR_MAX)
    check(libc.getsockname(fd, buf, ln))
    return split_host_sockaddr(ffi.buffer(buf, ln[0])[:])[0]


def socket_protocol(fd: int) -> int | None:
    """The protocol of socket `fd` as the host tells it (Linux SO_PROTOCOL), or None
    where the host cannot tell (macOS)."""
    opt = sockopt("SO_PROTOCOL")
    return None if opt is None else _int_opt(fd, opt)


# ----- credentials ---------------------------------------------------------------------------

# Whether the host can tell the credentials of a connected AF_UNIX socket's peer:
# Linux SO_PEERCRED, macOS LOCAL_PEERCRED + LOCAL_PEERPID.  The Linux that plays a
# Mac has neither (LOCAL_PEERCRED is not Linux's, SO_PEERCRED not the Mac's), so
# the socket layer's own records answer there.
PEER_CREDENTIALS = DARWIN or sockopt("SO_PEERCRED") is not None


def peer_credentials(fd: int) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the peer of a connected AF_UNIX socket, or None if unknown."""
    if DARWIN:
        # LOCAL_PEERCRED (SOL_LOCAL=0, opt 1) -> struct xucred {u_int version; uid_t uid;
        # short ngroups; gid_t groups[16]}; LOCAL_PEERPID (opt 2) -> pid_t.
        buf = ffi.new("char[]", 76)
        ln = ffi.new("socklen_t *", 76)
        if libc.getsockopt(fd, 0, 1, buf, ln) < 0:
            return None
        raw = ffi.buffer(buf, ln[0])[:]
        uid = struct.unpack_from("=I", raw, 4)[0]
        ngroups = struct.unpack_from("=h", raw, 8)[0]
        gid = struct.unpack_from("=I", raw, 12)[0] if ngroups > 0 else uid
        pbuf = ffi.new("int *")
        ln[0] = 4
        pid = pbuf[0] if libc.getsockopt(fd, 0, 2, pbuf, ln) == 0 else 0
        return (pid, uid, gid)
    so_peercred = sockopt("SO_PEERCRED")
    if so_peercred is None:
        return None
    buf = ffi.new("int[3]")
    ln = ffi.new("socklen_t *", 12)
    if libc.getsockopt(fd, _s.SOL_SOCKET, so_peercred, buf, ln) < 0:
        return None
    return (buf[0], buf[1] & 0xFFFFFFFF, buf[2] & 0xFFFFFFFF)   # uid/gid -1: unknown


# The host's SCM_CREDENTIALS (struct ucred) control message, where it has one (Linux);
# macOS has only SCM_CREDS (struct cmsgcred, sent by choice), and LOCAL_PEERCRED.
SCM_CREDENTIALS = None if _MAC_MODEL else getattr(_s, "SCM_CREDENTIALS", None)


# ----- what is queued ------------------------------------------------------------------------

def next_message_size(fd: int) -> int:
    """Bytes of the first queued datagram (macOS SO_NREAD; Linux FIONREAD, which is
    the next datagram's size on a datagram socket)."""
    if DARWIN:
        return _int_opt(fd, 0x1020) or 0
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def peek_byte(fd: int) -> int:
    """recv(fd, 1 byte, MSG_PEEK|MSG_DONTWAIT): 1 with data queued, 0 at end of
    stream, else -errno (host).  Nothing is consumed; a pending socket error is
    (so callers do not ask while the host reports one)."""
    b = ffi.new("char[1]")
    n = libc.recvfrom(fd, b, 1, _s.MSG_PEEK | _s.MSG_DONTWAIT, ffi.NULL, ffi.NULL)
    return n if n >= 0 else -ffi.errno


# poll(2) reports a socket's read side shut down (peer SHUT_WR or close, own
# SHUT_RD) as POLLRDHUP on Linux; macOS has no such bit (its poll folds EV_EOF
# into POLLHUP), and neither has the Linux that plays a Mac.
POLL_RDHUP = getattr(_select, "POLLRDHUP", None)


# ----- binding/connecting under a directory fd (long paths) ---------------------------------

def bindat_or_connectat(op: str, dirfd: int, fd: int, name: bytes) -> None:
    """bind/connect `fd` to `name` relative to directory `dirfd`.

    macOS has bindat/connectat.  Linux resolves /proc/self/fd/DIRFD/NAME through
    the fd it pins, so there is no window between checking and using the path.
    The Linux that plays a Mac has neither (no /proc, no bindat): it takes the
    relative name from inside the directory.
    """
    if DARWIN:
        sa = host_sockaddr(_s.AF_UNIX, name + b"\0")
        if op == "bind":
            check(libc.bindat(dirfd, sa, len(sa)))
        else:
            check(libc.connectat(dirfd, fd, sa, len(sa)))
        return
    fn = libc.bind if op == "bind" else libc.connect
    path = b"/proc/self/fd/%d/" % dirfd + name
    if not _MAC_MODEL and len(path) < SUN_PATH_MAX:
        sa = host_sockaddr(_s.AF_UNIX, path + b"\0")
        check(fn(fd, sa, len(sa)))
        return
    # Too long even through /proc: a relative name from inside the directory.
    # The emulator runs guest code on one host thread, so a brief fchdir is safe;
    # the directory is still the one pinned by dirfd (no check/use window).
    if len(name) > SUN_PATH_MAX:
        raise OSError(36, "name too long")
    here = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_CLOEXEC)
    try:
        os.fchdir(dirfd)
        sa = host_sockaddr(_s.AF_UNIX, name + b"\0" if len(name) < SUN_PATH_MAX else name)
        check(fn(fd, sa, len(sa)))
    finally:
        os.fchdir(here)
        os.close(here)
