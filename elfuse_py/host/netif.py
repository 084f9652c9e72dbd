"""The host's network interfaces, as the guest's rtnetlink and interface ioctls report them.

One interface, `interfaces()`, over two implementations of the host-specific
part, chosen once from `platform.KIND`:

- the list and the indices come from Python's `socket.if_nameindex()` (both hosts);
- flags, link-layer address and IP addresses from the host libc's
  getifaddrs(3) through cffi.  `struct ifaddrs` is the same on both hosts,
  the sockaddrs it points to are not: Linux's start with a 16-bit family and
  give the link layer as AF_PACKET `sockaddr_ll`; macOS's start with `sa_len`
  and an 8-bit family and give it as AF_LINK `sockaddr_dl`, whose `ifa_data`
  is a `struct if_data` holding the MTU.  On Linux the MTU comes from the
  SIOCGIFMTU ioctl (no /sys: the macOS host model must not read it);
- macOS embeds the scope (interface index) of a link-local IPv6 address in
  bytes 2-3 of the address (the KAME convention): it is cleared here.

Everything is returned by meaning: flags as names (``"UP"``, ``"LOOPBACK"``,
...), the link type as a name (``"ether"``, ``"loopback"``, ``"none"``),
addresses as raw network-order bytes with their family as ``"inet"`` or
``"inet6"``.  The syscall layer turns these into Linux numbers.
"""
from __future__ import annotations

import fcntl
import socket
import struct

from elfuse_py.host import platform
from elfuse_py.host.cdefs import load_ffi

_ffi = load_ffi("netif")
_libc = _ffi.dlopen(None)


class Address:
    """One interface address (plain class: no dataclasses at start-up)."""
    __slots__ = ("family", "addr", "prefixlen", "broadcast", "peer")

    def __init__(self, family: str, addr: bytes, prefixlen: int, broadcast: bytes | None = None,
                 peer: bytes | None = None) -> None:
        self.family = family            # "inet" or "inet6"
        self.addr = addr                # 4 or 16 bytes, network order
        self.prefixlen = prefixlen
        self.broadcast = broadcast
        self.peer = peer                # point-to-point destination

    def __repr__(self) -> str:
        return f"Address({self.family}, {self.addr.hex()}/{self.prefixlen})"


class Interface:
    """One host network interface."""
    __slots__ = ("index", "name", "flags", "mtu", "link_type", "mac", "addrs")

    def __init__(self, index: int, name: str, flags: frozenset = frozenset(), mtu: int = 0,
                 link_type: str = "none", mac: bytes = b"", addrs: list | None = None) -> None:
        self.index, self.name = index, name
        self.flags = flags              # names: UP, BROADCAST, LOOPBACK, RUNNING, MULTICAST...
        self.mtu = mtu
        self.link_type = link_type      # "ether", "loopback" or "none"
        self.mac = mac
        self.addrs = [] if addrs is None else addrs

    def __repr__(self) -> str:
        return f"Interface({self.index}, {self.name!r}, mtu={self.mtu}, {self.link_type})"


def _prefixlen(mask: bytes) -> int:
    n = 0
    for b in mask:
        if b == 0xFF:
            n += 8
            continue
        while b & 0x80:
            n += 1
            b = (b << 1) & 0xFF
        break
    return n


class _Linux:
    """glibc/musl's getifaddrs: `sa_family` is a 16-bit field; AF_PACKET for the link layer."""

    FLAGS = {"UP": 0x1, "BROADCAST": 0x2, "DEBUG": 0x4, "LOOPBACK": 0x8, "POINTOPOINT": 0x10,
             "NOTRAILERS": 0x20, "RUNNING": 0x40, "NOARP": 0x80, "PROMISC": 0x100,
             "ALLMULTI": 0x200, "MASTER": 0x400, "SLAVE": 0x800, "MULTICAST": 0x1000,
             "PORTSEL": 0x2000, "AUTOMEDIA": 0x4000, "DYNAMIC": 0x8000, "LOWER_UP": 0x10000,
             "DORMANT": 0x20000, "ECHO": 0x40000}
    AF_LINK = 17                 # AF_PACKET
    # ARPHRD_* of sockaddr_ll.sll_hatype
    LINK_TYPES = {1: "ether", 772: "loopback"}
    SIOCGIFMTU = 0x8921

    @staticmethod
    def family(sa) -> int:
        return struct.unpack("=H", bytes(_ffi.buffer(sa, 2)))[0]

    @classmethod
    def link(cls, ent) -> tuple[str, bytes, int]:
        raw = bytes(_ffi.buffer(ent.ifa_addr, 20))       # struct sockaddr_ll
        _fam, _proto, _idx, hatype, _pkt, halen = struct.unpack_from("=HHiHBB", raw)
        return cls.LINK_TYPES.get(hatype, "none"), raw[12:12 + min(halen, 8)], 0

    @classmethod
    def mtu(cls, name: str) -> int:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                res = fcntl.ioctl(s.fileno(), cls.SIOCGIFMTU,
                                  struct.pack("16si20x", name.encode()[:15], 0))
            return struct.unpack_from("i", res, 16)[0]
        except OSError:
            return 0

    @staticmethod
    def raw(sa, n: int) -> bytes:
        return bytes(_ffi.buffer(sa, n))

    @staticmethod
    def fix_inet6(addr: bytes) -> bytes:
        return addr


class _Darwin:
    """macOS's getifaddrs: `sa_len` then an 8-bit family; AF_LINK sockaddr_dl for the link layer."""

    FLAGS = {"UP": 0x1, "BROADCAST": 0x2, "DEBUG": 0x4, "LOOPBACK": 0x8, "POINTOPOINT": 0x10,
             "NOTRAILERS": 0x20, "RUNNING": 0x40, "NOARP": 0x80, "PROMISC": 0x100,
             "ALLMULTI": 0x200, "MULTICAST": 0x8000}
    AF_LINK = 18
    # IFT_* of sockaddr_dl.sdl_type: ethernet, 802.11 and bridges look like ethernet
    LINK_TYPES = {0x06: "ether", 0x47: "ether", 0xD1: "ether", 0x18: "loopback"}

    @staticmethod
    def family(sa) -> int:
        return bytes(_ffi.buffer(sa, 2))[1]

    @classmethod
    def link(cls, ent) -> tuple[str, bytes, int]:
        sa_len = bytes(_ffi.buffer(ent.ifa_addr, 1))[0]
        raw = bytes(_ffi.buffer(ent.ifa_addr, max(sa_len, 8)))
        sdl_type, nlen, alen = raw[4], raw[5], raw[6]
        mac = raw[8 + nlen:8 + nlen + alen]
        mtu = 0
        if ent.ifa_data != _ffi.NULL:        # struct if_data: ifi_mtu after 8 one-byte fields
            mtu = struct.unpack_from("=I", bytes(_ffi.buffer(ent.ifa_data, 12)), 8)[0]
        return cls.LINK_TYPES.get(sdl_type, "none"), mac, mtu

    @staticmethod
    def mtu(name: str) -> int:
        return 0

    @staticmethod
    def raw(sa, n: int) -> bytes:
        """n bytes of a sockaddr; past its sa_len they are zero (netmasks come shortened)."""
        b = bytes(_ffi.buffer(sa, n))
        ln = b[0]
        return b[:ln] + bytes(n - ln) if ln < n else b

    @staticmethod
    def fix_inet6(addr: bytes) -> bytes:
        if addr[0] == 0xFE and addr[1] & 0xC0 == 0x80:     # fe80::/10: drop the KAME scope
            return addr[:2] + b"\0\0" + addr[4:]
        return addr


_IMPL = _Darwin if platform.IS_DARWIN else _Linux


def _inet(sa, fam: int) -> bytes | None:
    if sa == _ffi.NULL:
        return None
    if fam == socket.AF_INET:
        return _IMPL.raw(sa, 8)[4:8]
    return _IMPL.fix_inet6(_IMPL.raw(sa, 24)[8:24])


def interfaces() -> list[Interface]:
    """The host's interfaces in index order, with their flags, MTU, link address and IP addresses."""
    byname: dict[str, Interface] = {}
    try:
        pairs = socket.if_nameindex()
    except OSError:
        pairs = []
    for idx, name in pairs:
        byname[name] = Interface(idx, name)
    head = _ffi.new("struct ifaddrs **")
    if _libc.getifaddrs(head) != 0:
        return sorted(byname.values(), key=lambda i: i.index)
    try:
        ent = head[0]
        while ent != _ffi.NULL:
            _one(byname, ent)
            ent = ent.ifa_next
    finally:
        _libc.freeifaddrs(head[0])
    out = sorted(byname.values(), key=lambda i: i.index)
    for itf in out:
        if not itf.mtu:
            itf.mtu = _IMPL.mtu(itf.name)
    return out


def _one(byname: dict, ent) -> None:
    name = _ffi.string(ent.ifa_name).decode(errors="replace")
    itf = byname.get(name)
    if itf is None:
        return                       # an alias label (eth0:1) or gone meanwhile
    itf.flags = frozenset(n for n, bit in _IMPL.FLAGS.items() if ent.ifa_flags & bit)
    if ent.ifa_addr == _ffi.NULL:
        return
    fam = _IMPL.family(ent.ifa_addr)
    if fam == _IMPL.AF_LINK:
        itf.link_type, itf.mac, mtu = _IMPL.link(ent)
        itf.mtu = itf.mtu or mtu
        return
    if fam not in (socket.AF_INET, socket.AF_INET6):
        return
    addr = _inet(ent.ifa_addr, fam)
    mask = _inet(ent.ifa_netmask, fam) if ent.ifa_netmask != _ffi.NULL else None
    a = Address("inet" if fam == socket.AF_INET else "inet6", addr,
                _prefixlen(mask) if mask else (32 if fam == socket.AF_INET else 128))
    other = _inet(ent.ifa_dstaddr, fam) if ent.ifa_dstaddr != _ffi.NULL else None
    if other is not None:
        if ent.ifa_flags & _IMPL.FLAGS["POINTOPOINT"]:
            a.peer = other
        elif fam == socket.AF_INET and ent.ifa_flags & _IMPL.FLAGS["BROADCAST"]:
            a.broadcast = other
    itf.addrs.append(a)
