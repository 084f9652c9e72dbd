"""The interface ioctls Linux answers on any socket (net/core/dev_ioctl.c), from the host's interfaces.

glibc's and musl's if_nametoindex()/if_indextoname() ask SIOCGIFINDEX and
SIOCGIFNAME on a socket; other programs read an interface's flags, MTU,
hardware address and IPv4 address the same way.  The answers come from the
same host data as rtnetlink (elfuse_py.host.netif), so both views agree.
Only the reading requests: the setting ones need CAP_NET_ADMIN (EPERM).
"""
from __future__ import annotations

import struct

from elfuse_py.host import netif
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.net import rtnetlink
from elfuse_py.syscalls.net.sockets import sock_check

IFNAMSIZ = 16
IFREQ_SIZE = 40
SIOCGIFNAME, SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFADDR = 0x8910, 0x8912, 0x8913, 0x8915
SIOCGIFBRDADDR, SIOCGIFNETMASK, SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX = \
    0x8919, 0x891B, 0x8921, 0x8927, 0x8933
SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFMTU, SIOCSIFNAME, SIOCSIFHWADDR = 0x8914, 0x8916, 0x8922, 0x8923, 0x8924
SETTERS = (SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFMTU, SIOCSIFNAME, SIOCSIFHWADDR)
AF_INET = 2


def _by_name(arg: int) -> tuple[bytearray, netif.Interface]:
    req = bytearray(proc.mem.read(arg, IFREQ_SIZE))
    name = bytes(req[:IFNAMSIZ - 1]).split(b"\0")[0]
    for itf in netif.interfaces():
        if itf.name.encode() == name:
            return req, itf
    raise LookupError


def _sockaddr_in(addr: bytes) -> bytes:
    return struct.pack("<H", AF_INET) + b"\0\0" + addr + bytes(8)


def _first_inet(itf: netif.Interface):
    for a in itf.addrs:
        if a.family == "inet":
            return a
    return None


def _mask(prefixlen: int) -> bytes:
    return struct.pack(">I", (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF if prefixlen else 0)


def _answer(request: int, req: bytearray, itf: netif.Interface) -> int:
    if request == SIOCGIFINDEX:
        struct.pack_into("<i", req, 16, itf.index)
    elif request == SIOCGIFFLAGS:
        struct.pack_into("<H", req, 16, rtnetlink.link_flags(itf) & 0xFFFF)
    elif request == SIOCGIFMTU:
        struct.pack_into("<i", req, 16, itf.mtu)
    elif request == SIOCGIFHWADDR:
        mac = (itf.mac or b"")[:14]
        req[16:32] = struct.pack("<H", rtnetlink.ARPHRD[itf.link_type]) + mac + bytes(14 - len(mac))
    else:
        a = _first_inet(itf)
        if a is None:
            return -lerrno.EADDRNOTAVAIL
        if request == SIOCGIFADDR:
            req[16:32] = _sockaddr_in(a.addr)
        elif request == SIOCGIFNETMASK:
            req[16:32] = _sockaddr_in(_mask(a.prefixlen))
        else:
            req[16:32] = _sockaddr_in(a.broadcast or bytes(4))
    return 0


def handler(request: int):
    """The ioctl handler for one of the requests above: (fd, arg) -> 0 or -errno."""
    def run(fd: int, arg: int) -> int:
        e = sock_check(fd)
        if e:
            return -lerrno.ENOTTY if e == -lerrno.ENOTSOCK else e
        if request in SETTERS:
            proc.mem.read(arg, IFREQ_SIZE)
            return -lerrno.EPERM
        if request == SIOCGIFNAME:
            req = bytearray(proc.mem.read(arg, IFREQ_SIZE))
            index = struct.unpack_from("<i", req, 16)[0]
            for itf in netif.interfaces():
                if itf.index == index:
                    req[:IFNAMSIZ] = itf.name.encode()[:IFNAMSIZ - 1].ljust(IFNAMSIZ, b"\0")
                    proc.mem.write(arg, bytes(req))
                    return 0
            return -lerrno.ENODEV
        try:
            req, itf = _by_name(arg)
        except LookupError:
            return -lerrno.ENODEV
        r = _answer(request, req, itf)
        if r == 0:
            proc.mem.write(arg, bytes(req))
        return r
    return run


REQUESTS = (SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFBRDADDR, SIOCGIFNETMASK, SIOCGIFMTU,
            SIOCGIFHWADDR, SIOCGIFINDEX) + SETTERS
IOCTLS = {r: handler(r) for r in REQUESTS}
