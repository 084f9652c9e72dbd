"""Linux AArch64 socket constants and their host equivalents, matched by name.

Guest values are the asm-generic numbers an AArch64 Linux program passes; host
values are looked up by the same name: socket options in the host floor's
table (`elfuse_py.host.sockets.sockopt`), flags and families in Python's
`socket` module, so a table is right on Linux and macOS alike.  A name the host lacks maps to None, and the
policy code decides what to do about it (emulate, or the errno Linux gives for
a missing feature).
"""
from __future__ import annotations

import socket as _s

# ----- address families ---------------------------------------------------------------
AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6 = 0, 1, 2, 10
AF_NETLINK, AF_PACKET = 16, 17
NPROTO = 46                      # AF_MAX on current kernels: family >= this is EAFNOSUPPORT
FAMILIES = {AF_UNIX: "AF_UNIX", AF_INET: "AF_INET", AF_INET6: "AF_INET6"}

# ----- socket types -------------------------------------------------------------------
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
SOCK_TYPE_MASK = 0xF
SOCK_MAX = 11
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000
TYPES = {SOCK_STREAM: "SOCK_STREAM", SOCK_DGRAM: "SOCK_DGRAM", SOCK_RAW: "SOCK_RAW",
         SOCK_RDM: "SOCK_RDM", SOCK_SEQPACKET: "SOCK_SEQPACKET"}

# ----- levels and options ---------------------------------------------------------------
SOL_SOCKET = 1
IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6 = 0, 6, 17, 41

# option name -> Linux number, per level.  Values are asm-generic (AArch64).
SO_NAMES = {
    "SO_DEBUG": 1, "SO_REUSEADDR": 2, "SO_TYPE": 3, "SO_ERROR": 4, "SO_DONTROUTE": 5,
    "SO_BROADCAST": 6, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10,
    "SO_NO_CHECK": 11, "SO_PRIORITY": 12, "SO_LINGER": 13, "SO_BSDCOMPAT": 14,
    "SO_REUSEPORT": 15, "SO_PASSCRED": 16, "SO_PEERCRED": 17, "SO_RCVLOWAT": 18,
    "SO_SNDLOWAT": 19, "SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21, "SO_TIMESTAMP": 29,
    "SO_ACCEPTCONN": 30, "SO_PEERSEC": 31, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33,
    "SO_PASSSEC": 34, "SO_TIMESTAMPNS": 35, "SO_MARK": 36, "SO_PROTOCOL": 38,
    "SO_DOMAIN": 39, "SO_RXQ_OVFL": 40, "SO_PEEK_OFF": 42, "SO_BUSY_POLL": 46,
    "SO_INCOMING_CPU": 49, "SO_COOKIE": 57, "SO_PEERGROUPS": 59, "SO_ZEROCOPY": 60,
}
SO = {v: k for k, v in SO_NAMES.items()}
TCP_NAMES = {"TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5,
             "TCP_KEEPCNT": 6}
TCP = {v: k for k, v in TCP_NAMES.items()}
IP_NAMES = {"IP_TOS": 1, "IP_TTL": 2, "IP_MULTICAST_TTL": 33, "IP_MULTICAST_LOOP": 34}
IP = {v: k for k, v in IP_NAMES.items()}
IPV6_NAMES = {"IPV6_UNICAST_HOPS": 16, "IPV6_MULTICAST_LOOP": 19, "IPV6_V6ONLY": 26}
IPV6 = {v: k for k, v in IPV6_NAMES.items()}
# guest level -> (host level, {guest opt: name})
LEVELS = {
    SOL_SOCKET: ("SOL_SOCKET", SO),
    IPPROTO_TCP: ("IPPROTO_TCP", TCP),
    IPPROTO_IP: ("IPPROTO_IP", IP),
    IPPROTO_IPV6: ("IPPROTO_IPV6", IPV6),
}
# Options whose value is a plain int (translated as is).
INT_OPTS = {"SO_DEBUG", "SO_REUSEADDR", "SO_DONTROUTE", "SO_BROADCAST", "SO_SNDBUF",
            "SO_RCVBUF", "SO_KEEPALIVE", "SO_OOBINLINE", "SO_REUSEPORT", "SO_RCVLOWAT",
            "SO_SNDLOWAT", "SO_TIMESTAMP", "SO_PRIORITY", "SO_ACCEPTCONN", "SO_PEEK_OFF",
            "SO_TIMESTAMPNS", "SO_MARK", "SO_RXQ_OVFL", "SO_BUSY_POLL", "SO_INCOMING_CPU",
            "SO_ZEROCOPY",
            "TCP_NODELAY", "TCP_MAXSEG", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
            "IP_TOS", "IP_TTL", "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP",
            "IPV6_UNICAST_HOPS", "IPV6_MULTICAST_LOOP", "IPV6_V6ONLY"}

# ----- message flags ------------------------------------------------------------------
MSG_NAMES = {
    "MSG_OOB": 0x1, "MSG_PEEK": 0x2, "MSG_DONTROUTE": 0x4, "MSG_CTRUNC": 0x8,
    "MSG_TRUNC": 0x20, "MSG_DONTWAIT": 0x40, "MSG_EOR": 0x80, "MSG_WAITALL": 0x100,
    "MSG_CONFIRM": 0x800, "MSG_ERRQUEUE": 0x2000, "MSG_NOSIGNAL": 0x4000, "MSG_MORE": 0x8000,
    "MSG_WAITFORONE": 0x10000, "MSG_CMSG_CLOEXEC": 0x40000000,
}
MSG_OOB, MSG_PEEK, MSG_CTRUNC, MSG_TRUNC = 0x1, 0x2, 0x8, 0x20
MSG_DONTWAIT, MSG_EOR, MSG_WAITALL, MSG_NOSIGNAL = 0x40, 0x80, 0x100, 0x4000
MSG_MORE, MSG_WAITFORONE, MSG_CMSG_CLOEXEC = 0x8000, 0x10000, 0x40000000
# Flags handled by the emulator itself, never passed to the host.
MSG_EMULATED = MSG_NOSIGNAL | MSG_CMSG_CLOEXEC | MSG_WAITFORONE | MSG_MORE | 0x800

SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
# SOL_SOCKET cmsgs __sock_cmsg_send accepts on a non-AF_UNIX socket besides
# those two (which it ignores there): SO_MARK, SO_PRIORITY,
# SO_TIMESTAMPING_OLD, SCM_TXTIME.  Not emulated: the message is dropped.
SOCK_CMSG_SEND_OTHER = {36, 12, 37, 61}
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
SCM_MAX_FD = 253                 # include/net/scm.h


def host_value(name: str) -> int | None:
    """The host's value for a constant name (MSG_* flags), or None if the host has
    no such thing.  Socket option numbers are the host floor's (host.sockopt)."""
    v = getattr(_s, name, None)
    return None if v is None else int(v)


def _flag_table(names: dict[str, int]) -> list[tuple[int, int]]:
    out = []
    for name, gval in names.items():
        hval = host_value(name)
        if hval is not None:
            out.append((gval, hval))
    return out


# (guest bit, host bit) for the flags the host can take directly.
_MSG_TO_HOST = [(g, h) for g, h in _flag_table(MSG_NAMES) if not g & MSG_EMULATED]
_MSG_FROM_HOST = _flag_table({k: v for k, v in MSG_NAMES.items()
                              if k in ("MSG_OOB", "MSG_TRUNC", "MSG_CTRUNC", "MSG_EOR",
                                       "MSG_ERRQUEUE", "MSG_DONTWAIT")})
_MSG_KNOWN = 0
for _v in MSG_NAMES.values():
    _MSG_KNOWN |= _v


def msg_to_host(flags: int) -> int:
    """Host MSG_* bits for guest `flags` (emulated and unknown bits are dropped;
    Linux ignores unknown send/recv flags too)."""
    out = 0
    for g, h in _MSG_TO_HOST:
        if flags & g:
            out |= h
    return out


def msg_from_host(flags: int) -> int:
    """Guest msg_flags for host recvmsg result flags."""
    out = 0
    for g, h in _MSG_FROM_HOST:
        if flags & h:
            out |= g
    return out


HOST_FAMILY = {AF_UNIX: _s.AF_UNIX, AF_INET: _s.AF_INET, AF_INET6: _s.AF_INET6,
               AF_UNSPEC: _s.AF_UNSPEC}
GUEST_FAMILY = {v: k for k, v in HOST_FAMILY.items()}
HOST_TYPE = {SOCK_STREAM: _s.SOCK_STREAM, SOCK_DGRAM: _s.SOCK_DGRAM, SOCK_RAW: _s.SOCK_RAW,
             SOCK_SEQPACKET: _s.SOCK_SEQPACKET}
if hasattr(_s, "SOCK_RDM"):
    HOST_TYPE[SOCK_RDM] = _s.SOCK_RDM
GUEST_TYPE = {v: k for k, v in HOST_TYPE.items()}
