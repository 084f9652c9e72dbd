"""Linux sockaddr layouts in guest memory, and their host equivalents.

Guest (Linux AArch64) addresses start with a little-endian u16 family;
sockaddr_un has a 108-byte sun_path, sockaddr_in is 16 bytes, sockaddr_in6 28.
The host's byte layout (macOS puts a length byte before an 8-bit family) is the
host seam's business (`host.host_sockaddr` / `host.split_host_sockaddr`).
"""
from __future__ import annotations

import struct

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.net import consts as C
from elfuse_py.host import sockets as host

SUN_PATH = 108
SOCKADDR_UN_SIZE = 110
SOCKADDR_STORAGE = 128
_U16 = struct.Struct("<H")


def guest_family(raw: bytes) -> int:
    return _U16.unpack_from(raw)[0] if len(raw) >= 2 else -1


def read_guest(addr: int, addrlen: int) -> bytes:
    """The guest's sockaddr bytes (move_addr_to_kernel: EINVAL, then EFAULT)."""
    if addrlen < 0 or addrlen > SOCKADDR_STORAGE:
        raise OSError(_host_einval(), "addrlen")
    if addrlen == 0:
        return b""
    return proc.mem.read(addr, addrlen)


def _host_einval() -> int:
    import errno
    return errno.EINVAL


def unix_name(raw: bytes) -> tuple[bool, bytes]:
    """(abstract?, name) of a validated guest sockaddr_un.

    A path name ends at its first NUL or at addrlen (Linux accepts an addrlen
    that leaves the terminating NUL out); an abstract name is every byte after
    the leading NUL, up to addrlen.
    """
    path = raw[2:]
    if path[:1] == b"\0":
        return True, path[1:]
    nul = path.find(b"\0")
    return False, path if nul < 0 else path[:nul]


def guest_unix(abstract: bool, name: bytes) -> bytes:
    """Linux's sockaddr_un bytes (exactly addrlen long) for a name."""
    fam = _U16.pack(C.AF_UNIX)
    if abstract:
        return fam + b"\0" + name
    if not name:
        return fam                         # unbound: just the family
    return fam + name + b"\0"


def host_to_guest(raw: bytes) -> bytes:
    """Guest sockaddr bytes for host sockaddr bytes (family by name)."""
    hfam, payload = host.split_host_sockaddr(raw)
    gfam = C.GUEST_FAMILY.get(hfam)
    if gfam is None:
        return _U16.pack(C.AF_UNSPEC)
    if gfam == C.AF_UNIX:
        if host.DARWIN:
            # macOS reports the whole sun_path array; Linux the name and its NUL.
            nul = payload.find(b"\0")
            payload = payload if nul < 0 else payload[:nul + 1]
            if payload == b"\0":
                payload = b""
        return _U16.pack(gfam) + payload
    if gfam == C.AF_INET:
        return _U16.pack(gfam) + payload[:14].ljust(14, b"\0")
    if gfam == C.AF_INET6:
        return _U16.pack(gfam) + payload[:26].ljust(26, b"\0")
    return _U16.pack(gfam) + payload


def guest_to_host(raw: bytes) -> bytes:
    """Host sockaddr bytes for guest ones (family by name; the rest of the
    layout is identical for AF_UNIX/AF_INET/AF_INET6)."""
    if len(raw) < 2:
        return raw
    gfam = _U16.unpack_from(raw)[0]
    hfam = C.HOST_FAMILY.get(gfam)
    if hfam is None:
        hfam = 0xFF                  # a family no host has: the host rejects it
    if host.DARWIN and gfam == C.AF_INET6:
        pass
    return host.host_sockaddr(hfam, raw[2:])


def write_guest(addr: int, lenp: int, name: bytes) -> None:
    """move_addr_to_user: copy min(*lenp, len(name)) bytes, store the full length."""
    if not lenp:
        return
    mem = proc.mem
    want = struct.unpack("<i", mem.read(lenp, 4))[0]
    if want < 0:
        raise OSError(_host_einval(), "addrlen")
    n = min(want, len(name))
    if n:
        mem.write(addr, name[:n])
    mem.write(lenp, struct.pack("<I", len(name)))


def check_guest_len(lenp: int) -> int:
    """Read *addrlen up front (Linux reads it before the operation for accept)."""
    v = struct.unpack("<i", proc.mem.read(lenp, 4))[0]
    if v < 0:
        return -lerrno.EINVAL
    return v
