"""AF_NETLINK sockets, emulated: NETLINK_ROUTE answered by the emulator, never a host netlink socket.

macOS has no netlink, and the macOS host model must not use Linux's, so
every host does the same: the guest's fd is one end of a host AF_UNIX
SOCK_DGRAM socketpair, the other end (the "kernel") sits in the emulator's
reserved fd range.  A message the guest sends (send/sendto/sendmsg/
sendmmsg/write/writev) is answered at once by rtnetlink.handle and the
answer's datagrams are written to the kernel end, so:

- the guest reads them with read/recv/recvfrom/recvmsg straight from the host
  socket, one datagram per read, MSG_PEEK and MSG_DONTWAIT working as
  datagrams do; recvmsg's name is the kernel's sockaddr_nl (pid 0), and
  MSG_TRUNC as a request flag gives the datagram's real length on every host
  (`real_length`: a peek into a scratch buffer first);
- poll, select and epoll see the host socket's readiness: POLLIN exactly
  when an answer is queued, POLLOUT always;
- answers that do not fit in the socket's buffer wait in the state
  (`pending`) and are pushed after each receive, as Linux continues a dump
  when the reader has taken the previous part (netlink_dump from recvmsg).

Ports: bind() with nl_pid 0, or the first send, auto-binds (Linux's
netlink_autobind: the process id first, then -4096, -4097, ...), an explicit
nl_pid is taken if no socket of this process holds it (EADDRINUSE), and
getsockname() reports it.  Multicast groups may be joined (rtnetlink lets an
unprivileged socket listen) but nothing is ever announced: the emulator
sees no interface changes.  Sending to another port or a group: ECONNREFUSED
/ EPERM, as for an unprivileged sender with no such listener.

Protocols other than NETLINK_ROUTE are EPROTONOSUPPORT, as a kernel built
without them answers (honest: their messages are not emulated).  State is
per process: a forked child shares the socket, but an answer is pushed by
the process that asked.
"""
from __future__ import annotations

import errno as _herr
import os
import socket as _s
import struct

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import rtnetlink
from elfuse_py.syscalls.net.state import SockState

NETLINK_ROUTE = 0
MAX_LINKS = 32
SOL_NETLINK = 270
# SOL_NETLINK options kept (and, where they change answers, honoured)
NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP, NETLINK_PKTINFO = 1, 2, 3
NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS = 4, 5
NETLINK_LISTEN_ALL_NSID, NETLINK_LIST_MEMBERSHIPS, NETLINK_CAP_ACK = 8, 9, 10
NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 11, 12
_BOOL_OPTS = {NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS,
              NETLINK_LISTEN_ALL_NSID, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK}
SOCKADDR_NL = struct.Struct("<HxxIi")         # nl_family, pad, nl_pid, nl_groups
_BUF = 256 * 1024                             # socket buffers: an answer never waits for room
_ROUTE_GROUPS = 32                            # RTNLGRP_MAX is larger; bits 1..32 of nl_groups

_ports: set[int] = set()                      # portids held by this process's sockets


def sockaddr(pid: int, groups: int = 0) -> bytes:
    return SOCKADDR_NL.pack(C.AF_NETLINK, pid & 0xFFFFFFFF, groups)


class NetlinkState(SockState):
    """One guest netlink socket: the kernel end of its socketpair and the netlink facts."""

    def __init__(self, stype: int, protocol: int, kernel: int) -> None:
        super().__init__(C.AF_NETLINK, stype, protocol)
        self.intercepts_io = True
        self.kernel = kernel                  # emulator fd (reserved range)
        self.portid = 0
        self.groups = 0
        self.dst = (0, 0)                     # connect()ed portid, group
        self.opts: dict[int, int] = {}
        self.pending: list[bytes] = []
        self.closed = False
        self.name = sockaddr(0)
        self.peer = sockaddr(0)

    # ----- FdState --------------------------------------------------------------------------
    def carried_fds(self) -> tuple[int, ...]:
        return () if self.closed else (self.kernel,)

    def after_exec(self, fd: int) -> None:
        if self.portid:
            _ports.add(self.portid)            # the new image's table of held ports

    def release(self) -> None:
        if not self.closed:
            self.closed = True
            _ports.discard(self.portid)
            os.close(self.kernel)

    def io_read(self, fd: int, views: list) -> int:
        try:
            if not sum(len(v) for v in views):
                return 0                      # sock_read_iter: a zero-length read takes nothing
            n = os.readv(fd, views)
        except OSError as e:
            return -lerrno.to_linux(e.errno)
        self.push()
        return n

    def io_write(self, fd: int, views: list) -> int:
        return self.send(b"".join(bytes(v) for v in views), None)

    # ----- the protocol ---------------------------------------------------------------------
    def bind_port(self, pid: int) -> int:
        """Take port `pid` (0: auto-assign); 0 or -errno."""
        if self.portid:
            return 0 if pid in (0, self.portid) else -lerrno.EINVAL
        if pid:
            if pid in _ports:
                return -lerrno.EADDRINUSE
        else:
            pid = os.getpid()
            rover = -4096
            while pid in _ports:
                pid = rover
                rover -= 1
        _ports.add(pid)
        self.portid = pid
        self.name = sockaddr(pid, self.groups)
        return 0

    def send(self, data: bytes, dest: tuple[int, int] | None) -> int:
        """netlink_sendmsg of `data` to `dest` (portid, groups; None: the connected one)."""
        dpid, dgroups = self.dst if dest is None else dest
        if dgroups:
            return -lerrno.EPERM              # rtnetlink: no NL_CFG_F_NONROOT_SEND
        if len(data) > _BUF - 32:
            return -lerrno.EMSGSIZE
        if not self.portid:
            self.bind_port(0)
        if dpid:
            return -lerrno.ECONNREFUSED       # no other netlink user socket is emulated
        strict = bool(self.opts.get(NETLINK_GET_STRICT_CHK))
        cap = bool(self.opts.get(NETLINK_CAP_ACK))
        self.pending.extend(rtnetlink.handle(data, self.portid, strict, cap))
        self.push()
        return len(data)

    def push(self) -> None:
        """Move queued answers into the socket while it has room."""
        while self.pending and not self.closed:
            try:
                os.write(self.kernel, self.pending[0])
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (_herr.ENOBUFS, _herr.EAGAIN):
                    return
                raise
            self.pending.pop(0)


def check_args(stype: int, protocol: int) -> int:
    """0, or the -errno of socket(AF_NETLINK, stype, protocol) (__sys_socket, netlink_create)."""
    if stype & ~C.SOCK_TYPE_MASK & ~(C.SOCK_CLOEXEC | C.SOCK_NONBLOCK):
        return -lerrno.EINVAL
    base = stype & C.SOCK_TYPE_MASK
    if base >= C.SOCK_MAX:
        return -lerrno.EINVAL
    if base not in (C.SOCK_RAW, C.SOCK_DGRAM):
        return -lerrno.ESOCKTNOSUPPORT
    if protocol < 0 or protocol >= MAX_LINKS or protocol != NETLINK_ROUTE:
        return -lerrno.EPROTONOSUPPORT
    return 0


def create(stype: int, protocol: int) -> int:
    """socket(AF_NETLINK, stype, protocol) -> the guest fd or -errno."""
    e = check_args(stype, protocol)
    if e:
        return e
    flags = stype & ~C.SOCK_TYPE_MASK
    base = stype & C.SOCK_TYPE_MASK
    a, b = _s.socketpair(_s.AF_UNIX, _s.SOCK_DGRAM)
    for s, opt in ((a, _s.SO_RCVBUF), (b, _s.SO_SNDBUF)):
        try:
            s.setsockopt(_s.SOL_SOCKET, opt, _BUF)
        except OSError:
            pass
    fd, kernel = a.detach(), b.detach()
    try:
        kernel = proc.fds.reserve(kernel)
    except OSError:
        os.close(fd)
        os.close(kernel)
        return -lerrno.ENOBUFS
    if fd >= proc.fds.limit:
        os.close(fd)
        os.close(kernel)
        return -lerrno.EMFILE
    proc.fds.on_close(fd)
    os.set_blocking(kernel, False)
    os.set_blocking(fd, not flags & C.SOCK_NONBLOCK)
    os.set_inheritable(fd, not flags & C.SOCK_CLOEXEC)
    proc.fds.set(fd, NetlinkState(base, protocol, kernel))
    return fd


def parse_addr(raw: bytes) -> tuple[int, int] | int:
    """A guest sockaddr_nl -> (nl_pid, nl_groups), or -errno (EINVAL: short or not AF_NETLINK)."""
    if len(raw) < SOCKADDR_NL.size:
        return -lerrno.EINVAL
    fam, pid, groups = SOCKADDR_NL.unpack_from(raw)
    if fam != C.AF_NETLINK:
        return -lerrno.EINVAL
    return pid, groups & 0xFFFFFFFF


def bind(st: NetlinkState, raw: bytes) -> int:
    a = parse_addr(raw)
    if isinstance(a, int):
        return a
    pid, groups = a
    r = st.bind_port(pid)
    if r:
        return r
    st.groups = groups
    st.name = sockaddr(st.portid, groups)
    return 0


def connect(st: NetlinkState, raw: bytes) -> int:
    if len(raw) >= 2 and struct.unpack_from("<H", raw)[0] == C.AF_UNSPEC:
        st.dst = (0, 0)                       # disconnect
        st.peer = sockaddr(0)
        return 0
    a = parse_addr(raw)
    if isinstance(a, int):
        return a
    pid, groups = a
    if groups:
        return -lerrno.EPERM
    if not st.portid:
        st.bind_port(0)
    st.dst = (pid, 0)
    st.peer = sockaddr(pid)
    return 0


def sendto_dest(raw: bytes) -> tuple[int, int] | int:
    """The destination of a sendto/sendmsg name (msg_namelen given): (pid, groups) or -errno."""
    return parse_addr(raw)


def setsockopt(st: NetlinkState, opt: int, data: bytes) -> int:
    """SOL_NETLINK options (netlink_setsockopt)."""
    if len(data) < 4:
        return -lerrno.EINVAL
    val = struct.unpack_from("<I", data)[0]
    if opt in (NETLINK_ADD_MEMBERSHIP, NETLINK_DROP_MEMBERSHIP):
        if not val or val > _ROUTE_GROUPS * 4:
            return -lerrno.EINVAL
        if val <= 32:
            bit = 1 << (val - 1)
            st.groups = st.groups | bit if opt == NETLINK_ADD_MEMBERSHIP else st.groups & ~bit
        return 0
    if opt in _BOOL_OPTS:
        st.opts[opt] = 1 if val else 0
        return 0
    return -lerrno.ENOPROTOOPT


def getsockopt(st: NetlinkState, opt: int) -> bytes | int:
    if opt == NETLINK_LIST_MEMBERSHIPS:
        return struct.pack("<I", st.groups & 0xFFFFFFFF)
    if opt in _BOOL_OPTS:
        return struct.pack("<i", st.opts.get(opt, 0))
    return -lerrno.ENOPROTOOPT


def real_length(fd: int) -> int:
    """The length of the datagram at the head of the socket (a non-destructive peek), -1 if none."""
    s = _s.socket(fileno=fd)
    try:
        return len(s.recv(_BUF, _s.MSG_PEEK | _s.MSG_DONTWAIT))
    except OSError:
        return -1
    finally:
        s.detach()
