"""rtnetlink (NETLINK_ROUTE) requests answered from the host's interfaces.

Pure message work, no fds: `handle(data, portid, strict, cap_ack)` takes the
bytes a guest sent to the kernel (portid 0) and returns the datagrams Linux
would queue on the socket in answer, following net/netlink/af_netlink.c
(netlink_rcv_skb, netlink_ack, netlink_dump) and net/core/rtnetlink.c
(rtnetlink_rcv_msg), net/ipv4/devinet.c and net/ipv6/addrconf.c:

- RTM_GETLINK dump (and the single-link form by ifi_index or IFLA_IFNAME):
  RTM_NEWLINK with IFLA_IFNAME, IFLA_OPERSTATE, IFLA_LINKMODE,
  IFLA_MTU, IFLA_GROUP, IFLA_CARRIER, IFLA_ADDRESS, IFLA_BROADCAST;
- RTM_GETADDR dump for AF_INET, AF_INET6 or AF_UNSPEC (IPv4 first, as
  rtnl_dump_all walks the families): RTM_NEWADDR with IFA_ADDRESS,
  IFA_LOCAL, IFA_BROADCAST, IFA_LABEL (IPv4), IFA_FLAGS and IFA_CACHEINFO;
- dumps are NLM_F_MULTI parts ended by NLMSG_DONE; with NETLINK_GET_STRICT_CHK
  a dump request's header is checked as Linux checks it (EINVAL);
- anything else of rtnetlink: NLMSG_ERROR with -EOPNOTSUPP for a GET Linux
  has but we do not emulate (routes, neighbours, rules...), -EPERM for a
  change (NEW/DEL/SET: CAP_NET_ADMIN), and an ACK (error 0) when NLM_F_ACK asks.

The host's data (elfuse_py.host.netif) comes by meaning (flag names, link
types) and is turned into Linux numbers here.  Statistics (IFLA_STATS*), queue
lengths and queueing disciplines are not reported: the host does not tell them the
same way, and omitting them is what getifaddrs tolerates (ifa_data NULL).
"""
from __future__ import annotations

import os
import struct

from elfuse_py.host import netif
from elfuse_py.runtime import lerrno

NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLMSG_MIN_TYPE = 0x10
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_DUMP_FILTERED = 0x20
NLM_F_CAPPED = 0x100
RTM_BASE, RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 16, 18, 20, 22
RTM_MAX = 123                      # RTM_GETTUNNEL + 1 - 1 (the newest kind the kernel knows)
AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10

HDR = struct.Struct("<IHHII")       # nlmsghdr: len, type, flags, seq, pid
IFINFO = struct.Struct("<BxHiII")   # ifinfomsg: family, pad, type, index, flags, change
IFADDR = struct.Struct("<BBBBi")    # ifaddrmsg: family, prefixlen, flags, scope, index
RTA = struct.Struct("<HH")
DGRAM_MAX = 4096                    # bytes of messages per datagram (a page, as glibc reads)

IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU = 1, 2, 3, 4
IFLA_TXQLEN, IFLA_OPERSTATE, IFLA_LINKMODE, IFLA_GROUP, IFLA_CARRIER = 13, 16, 17, 27, 33
IFLA_EXT_MASK, IFLA_ALT_IFNAME = 29, 53
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS = 1, 2, 3, 4, 6, 8
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254
IF_OPER_UNKNOWN, IF_OPER_DOWN, IF_OPER_UP = 0, 2, 6
ARPHRD = {"ether": 1, "loopback": 772, "none": 0xFFFE}
IFF = {"UP": 0x1, "BROADCAST": 0x2, "DEBUG": 0x4, "LOOPBACK": 0x8, "POINTOPOINT": 0x10,
       "NOTRAILERS": 0x20, "RUNNING": 0x40, "NOARP": 0x80, "PROMISC": 0x100, "ALLMULTI": 0x200,
       "MASTER": 0x400, "SLAVE": 0x800, "MULTICAST": 0x1000, "PORTSEL": 0x2000,
       "AUTOMEDIA": 0x4000, "DYNAMIC": 0x8000, "LOWER_UP": 0x10000, "DORMANT": 0x20000,
       "ECHO": 0x40000}
FAMILY = {"inet": AF_INET, "inet6": AF_INET6}


def align(n: int) -> int:
    return (n + 3) & ~3


def rta(kind: int, data: bytes) -> bytes:
    raw = RTA.pack(RTA.size + len(data), kind) + data
    return raw + bytes(align(len(raw)) - len(raw))


def message(mtype: int, flags: int, seq: int, pid: int, body: bytes) -> bytes:
    body += bytes(align(len(body)) - len(body))
    return HDR.pack(HDR.size + len(body), mtype, flags, seq, pid & 0xFFFFFFFF) + body


def parse_attrs(raw: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + RTA.size <= len(raw):
        ln, kind = RTA.unpack_from(raw, pos)
        if ln < RTA.size or pos + ln > len(raw):
            break
        out.setdefault(kind & 0x3FFF, raw[pos + RTA.size:pos + ln])
        pos += align(ln)
    return out


# ----- what is reported -------------------------------------------------------------------

def link_flags(itf: netif.Interface) -> int:
    names = set(itf.flags)
    if "RUNNING" in names and "UP" in names:
        names.add("LOWER_UP")           # macOS has no LOWER_UP: a running link has its carrier
    return sum(IFF[n] for n in names if n in IFF)


def newlink(itf: netif.Interface, flags: int, seq: int, pid: int) -> bytes:
    iff = link_flags(itf)
    loop = itf.link_type == "loopback"
    if loop:
        oper = IF_OPER_UNKNOWN
    else:
        oper = IF_OPER_UP if iff & IFF["LOWER_UP"] and iff & IFF["UP"] else IF_OPER_DOWN
    body = IFINFO.pack(AF_UNSPEC, ARPHRD[itf.link_type], itf.index, iff, 0)
    body += rta(IFLA_IFNAME, itf.name.encode() + b"\0")
    body += rta(IFLA_OPERSTATE, bytes([oper]))
    body += rta(IFLA_LINKMODE, b"\0")
    if itf.mtu:
        body += rta(IFLA_MTU, struct.pack("<I", itf.mtu))
    body += rta(IFLA_GROUP, struct.pack("<I", 0))
    body += rta(IFLA_CARRIER, bytes([1 if iff & IFF["LOWER_UP"] else 0]))
    if itf.mac or loop:
        mac = itf.mac or bytes(6)
        body += rta(IFLA_ADDRESS, mac)
        body += rta(IFLA_BROADCAST, bytes(len(mac)) if loop else b"\xff" * len(mac))
    return message(RTM_NEWLINK, flags, seq, pid, body)


def _scope(a: netif.Address) -> int:
    if a.family == "inet":
        return RT_SCOPE_HOST if a.addr[0] == 127 else RT_SCOPE_UNIVERSE
    if a.addr == bytes(15) + b"\1":
        return RT_SCOPE_HOST
    if a.addr[0] == 0xFE and a.addr[1] & 0xC0 == 0x80:
        return RT_SCOPE_LINK
    return RT_SCOPE_UNIVERSE


def newaddr(itf: netif.Interface, a: netif.Address, flags: int, seq: int, pid: int) -> bytes:
    fam = FAMILY[a.family]
    body = IFADDR.pack(fam, a.prefixlen, IFA_F_PERMANENT, _scope(a), itf.index)
    body += rta(IFA_ADDRESS, a.peer or a.addr)
    if fam == AF_INET:
        body += rta(IFA_LOCAL, a.addr)
        if a.broadcast:
            body += rta(IFA_BROADCAST, a.broadcast)
        body += rta(IFA_LABEL, itf.name.encode() + b"\0")
    body += rta(IFA_FLAGS, struct.pack("<I", IFA_F_PERMANENT))
    body += rta(IFA_CACHEINFO, struct.pack("<IIII", 0xFFFFFFFF, 0xFFFFFFFF, 0, 0))
    return message(RTM_NEWADDR, flags, seq, pid, body)


# ----- requests ---------------------------------------------------------------------------

class Error(Exception):
    """A request fails with this Linux errno (answered by NLMSG_ERROR)."""

    def __init__(self, err: int) -> None:
        self.err = err


def _dump_links(req: bytes, strict: bool) -> tuple[list, int]:
    if strict:
        if len(req) < IFINFO.size:
            raise Error(lerrno.EINVAL)
        _fam, itype, index, iflags, change = IFINFO.unpack_from(req)
        if itype or iflags or change or req[1] or index:
            raise Error(lerrno.EINVAL)     # "Invalid values in header for link dump request"
    return [(itf, None) for itf in netif.interfaces()], 0


def _dump_addrs(req: bytes, strict: bool) -> tuple[list, int]:
    fam = req[0] if req else AF_UNSPEC
    index = 0
    answer = 0
    if strict:
        if len(req) < IFADDR.size:
            raise Error(lerrno.EINVAL)
        fam, plen, aflags, scope, index = IFADDR.unpack_from(req)
        if plen or aflags or scope:
            raise Error(lerrno.EINVAL)
        if index:
            answer = NLM_F_DUMP_FILTERED
    itfs = netif.interfaces()
    if index and not any(i.index == index for i in itfs):
        raise Error(lerrno.ENODEV)
    out = []
    for want in ("inet", "inet6"):
        if fam not in (AF_UNSPEC, FAMILY[want]) and fam in (AF_INET, AF_INET6):
            continue
        for itf in itfs:
            if index and itf.index != index:
                continue
            out.extend((itf, a) for a in itf.addrs if a.family == want)
    return out, answer


def _get_link(req: bytes, seq: int, pid: int) -> bytes:
    if len(req) < IFINFO.size:
        raise Error(lerrno.EINVAL)
    index = IFINFO.unpack_from(req)[2]
    attrs = parse_attrs(req[IFINFO.size:])
    name = attrs.get(IFLA_IFNAME) or attrs.get(IFLA_ALT_IFNAME)
    if not index and name is None:
        raise Error(lerrno.EINVAL)
    for itf in netif.interfaces():
        if (index and itf.index == index) or (not index and itf.name.encode() == name.rstrip(b"\0")):
            return newlink(itf, 0, seq, pid)
    raise Error(lerrno.ENODEV)


def _ack(hdr: bytes, whole: bytes, err: int, seq: int, pid: int, cap_ack: bool) -> bytes:
    """netlink_ack: NLMSG_ERROR carrying the error and the request (its payload only on error)."""
    flags = 0
    if err and not cap_ack:
        orig = whole
    else:
        orig = hdr
        flags |= NLM_F_CAPPED
    return message(NLMSG_ERROR, flags, seq, pid, struct.pack("<i", -err) + orig)


def _pack(messages: list[bytes]) -> list[bytes]:
    """Several messages per datagram, up to DGRAM_MAX bytes, as the kernel fills a dump's skbs."""
    out: list[bytes] = []
    cur = b""
    for m in messages:
        if cur and len(cur) + len(m) > DGRAM_MAX:
            out.append(cur)
            cur = b""
        cur += m
    if cur:
        out.append(cur)
    return out


def handle(data: bytes, portid: int, strict: bool, cap_ack: bool) -> list[bytes]:
    """The datagrams the kernel queues in answer to `data` sent by socket `portid`."""
    out: list[bytes] = []
    pos = 0
    while len(data) - pos >= HDR.size:
        ln, mtype, flags, seq, _pid = HDR.unpack_from(data, pos)
        if ln < HDR.size or ln > len(data) - pos:
            break
        whole = data[pos:pos + ln]
        payload = whole[HDR.size:]
        err = 0
        dumped = False
        if flags & NLM_F_REQUEST and mtype >= NLMSG_MIN_TYPE:
            try:
                res = _request(mtype, flags, payload, seq, portid, strict)
                if res is not None:
                    out.extend(res)
                    dumped = bool(flags & NLM_F_DUMP) and mtype in (RTM_GETLINK, RTM_GETADDR)
            except Error as e:
                err = e.err
        if not dumped and (flags & NLM_F_ACK or err):
            out.append(_ack(whole[:HDR.size], whole, err, seq, portid, cap_ack))
        pos += min(align(ln), len(data) - pos)
    return out


def _request(mtype: int, flags: int, payload: bytes, seq: int, portid: int,
             strict: bool) -> list[bytes] | None:
    """One rtnetlink request: its answer datagrams (None: nothing but a possible ACK)."""
    if mtype > RTM_MAX:
        raise Error(lerrno.EOPNOTSUPP)
    if not payload:
        return None                     # "all the messages must have at least 1 byte length"
    kind = (mtype - RTM_BASE) & 3
    if kind != 2:                       # NEW, DEL, SET: CAP_NET_ADMIN, never emulated
        raise Error(lerrno.EPERM if os.geteuid() != 0 else lerrno.EOPNOTSUPP)
    if flags & NLM_F_DUMP == NLM_F_DUMP and mtype in (RTM_GETLINK, RTM_GETADDR):
        try:
            if mtype == RTM_GETLINK:
                items, answer = _dump_links(payload, strict)
                msgs = [newlink(itf, NLM_F_MULTI | answer, seq, portid) for itf, _ in items]
            else:
                items, answer = _dump_addrs(payload, strict)
                msgs = [newaddr(itf, a, NLM_F_MULTI | answer, seq, portid) for itf, a in items]
        except Error as e:
            # The dump callback failed: its error ends the dump in NLMSG_DONE (dump_done_errno).
            return [message(NLMSG_DONE, NLM_F_MULTI, seq, portid, struct.pack("<i", -e.err))]
        # NLMSG_DONE comes in a datagram of its own, as netlink_dump sends it: the
        # dump callback that finds nothing more to add is the one that ends it.
        done = message(NLMSG_DONE, NLM_F_MULTI | answer, seq, portid, struct.pack("<i", 0))
        return _pack(msgs) + [done]
    if mtype == RTM_GETLINK:
        return [_get_link(payload, seq, portid)]
    raise Error(lerrno.EOPNOTSUPP)
