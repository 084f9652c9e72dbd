"""The thin host seam under the socket layer: raw libc socket calls and the
few things only one host can do.

Everything above this module speaks Linux; this module owns the host's C
layouts (msghdr, cmsg alignment, sockaddr's sun_len byte on macOS) and the
host-only calls (macOS bindat/connectat and LOCAL_PEERCRED/LOCAL_PEERPID,
Linux SO_PEERCRED and /proc/self/fd).  Calls go through cffi with guest
buffers passed by host address, so data is never copied through Python.
"""
from __future__ import annotations

import os
import socket as _s
import struct
from elfuse_py.host import platform
from elfuse_py.host.cdefs import load_ffi

DARWIN = platform.IS_DARWIN
LINUX = platform.IS_LINUX

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


# ----- credentials ---------------------------------------------------------------------------

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
    so_peercred = getattr(_s, "SO_PEERCRED", None)
    if so_peercred is None:
        return None
    buf = ffi.new("int[3]")
    ln = ffi.new("socklen_t *", 12)
    if libc.getsockopt(fd, _s.SOL_SOCKET, so_peercred, buf, ln) < 0:
        return None
    return (buf[0], buf[1] & 0xFFFFFFFF, buf[2] & 0xFFFFFFFF)   # uid/gid -1: unknown


# ----- binding/connecting under a directory fd (long paths) ---------------------------------

def bindat_or_connectat(op: str, dirfd: int, fd: int, name: bytes) -> None:
    """bind/connect `fd` to `name` relative to directory `dirfd`.

    macOS has bindat/connectat.  Linux resolves /proc/self/fd/DIRFD/NAME through
    the fd it pins, so there is no window between checking and using the path.
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
    if len(path) < SUN_PATH_MAX:
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
