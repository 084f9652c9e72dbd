"""Socket creation and the helpers every socket handler shares.

Owns socket/socketpair (Linux's type/family/protocol checks, the host socket
arguments, the fallback state of a framed SEQPACKET), listen and shutdown, and
the shared helpers: `err` (host errno as -Linux errno), `interrupted` (EINTR
and the no-restart rule of SO_RCVTIMEO/SO_SNDTIMEO), `sock_check`,
`sock_domain`, `sock_protocol`, `host_type`, `state_for`, `apply_flags`, `new_fd`.

Guest fd == host fd.  On a Linux host under the default policy most calls are
a translated host call; the policies (policies.py) take over where the host
cannot do what Linux does.  Checks follow net/socket.c and net/unix/af_unix.c
in order: fd first (EBADF, ENOTSOCK), then lengths (EINVAL), then memory
(EFAULT), then the operation.  Addresses are names.py's, data messages.py's,
options sockopt.py's.
"""
from __future__ import annotations

import fcntl
import os
import socket as _s
import struct

from elfuse_py.host import caps as hostcaps
from elfuse_py.runtime import lerrno, signals
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import syscall
from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import creds, netlink, policies, readiness
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc
NAMEBUF = 256


def err() -> int:
    return -lerrno.to_linux(ffi.errno)


def interrupted(fd: int, send: bool) -> int:
    """-EINTR for a blocking call a guest signal cut short.  sock_intr_errno: a
    socket with SO_RCVTIMEO/SO_SNDTIMEO (accept/recv: RCV; send/connect: SND)
    says EINTR even under SA_RESTART, so the signals layer must not restart it."""
    # cffi puts its saved errno back into C errno before every call: a stale EINTR
    # there would make the signals layer take a later *completed* call for an
    # interrupted one.
    ffi.errno = 0
    opt = _s.SO_SNDTIMEO if send else _s.SO_RCVTIMEO
    buf = ffi.new("char[16]")
    ln = ffi.new("socklen_t *", 16)
    if libc.getsockopt(fd, _s.SOL_SOCKET, opt, buf, ln) == 0 and \
            ffi.buffer(buf, ln[0])[:].strip(b"\0"):
        signals.keep_result()
    return -lerrno.EINTR


def _host_int_opt(fd: int, level: int, opt: int) -> int:
    buf = ffi.new("int *")
    ln = ffi.new("socklen_t *", 4)
    host.check(libc.getsockopt(fd, level, opt, buf, ln))
    return buf[0]


def sock_check(fd: int) -> int:
    """0 if fd is an open socket the guest may use, else -EBADF / -ENOTSOCK."""
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    buf = ffi.new("int *")
    ln = ffi.new("socklen_t *", 4)
    if libc.getsockopt(fd, _s.SOL_SOCKET, _s.SO_TYPE, buf, ln) < 0:
        return err()
    return 0


def sock_domain(fd: int) -> int:
    """The guest domain of socket fd (raises OSError EBADF/ENOTSOCK)."""
    st = proc.fds.get(fd)
    if isinstance(st, SockState):
        return st.family
    return C.GUEST_FAMILY.get(host.socket_family(fd), -1)


def host_type(fd: int) -> int:
    return _host_int_opt(fd, _s.SOL_SOCKET, _s.SO_TYPE)


def default_protocol(family: int, base: int) -> int:
    """The protocol Linux reports for protocol 0 (inet_create picks TCP or UDP)."""
    if family in (C.AF_INET, C.AF_INET6):
        return {C.SOCK_STREAM: 6, C.SOCK_DGRAM: 17}.get(base, 0)
    return 0


def sock_protocol(fd: int, st) -> int:
    """SO_PROTOCOL: the host's answer (Linux), else the one recorded at socket()
    (a protocol other than the family's default), else the default."""
    p = host.socket_protocol(fd)
    if p is not None:
        return p
    if isinstance(st, SockState) and st.protocol:
        return st.protocol
    if isinstance(st, SockState) and st.type:
        return default_protocol(st.family, st.type)
    return default_protocol(sock_domain(fd), C.GUEST_TYPE.get(host_type(fd), 0))


def state_for(fd: int, family: int) -> SockState:
    """The socket's SockState, made (from the host's type) if it has none yet."""
    st = proc.fds.get(fd)
    if not isinstance(st, SockState):
        t = C.GUEST_TYPE.get(host_type(fd), 0)
        st = SockState(family, t, 0)
        proc.fds.set(fd, st)
    return st


def apply_flags(fd: int, flags: int) -> None:
    """SOCK_NONBLOCK/SOCK_CLOEXEC with fcntl (hosts without them in `type`)."""
    if flags & C.SOCK_NONBLOCK:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    if flags & C.SOCK_CLOEXEC:
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)


def new_fd(fd: int) -> int:
    """A host fd that must not sit in the reserved range (else EMFILE)."""
    if fd >= proc.fds.ceiling:
        os.close(fd)
        return -lerrno.EMFILE
    proc.fds.on_close(fd)
    return fd


def _check_type(family: int, stype: int, protocol: int) -> int | tuple[int, int]:
    """Linux's socket()/socketpair() argument checks -> (base type, flags) or -errno."""
    flags = stype & ~C.SOCK_TYPE_MASK
    if flags & ~(C.SOCK_CLOEXEC | C.SOCK_NONBLOCK):
        return -lerrno.EINVAL
    base = stype & C.SOCK_TYPE_MASK
    if family < 0 or family >= C.NPROTO:
        return -lerrno.EAFNOSUPPORT
    if base >= C.SOCK_MAX:
        return -lerrno.EINVAL
    if family not in C.FAMILIES:
        return -lerrno.EAFNOSUPPORT
    if family == C.AF_UNIX:
        if protocol and protocol != C.AF_UNIX:
            return -lerrno.EPROTONOSUPPORT
        if base == C.SOCK_RAW:
            base = C.SOCK_DGRAM
        if base not in (C.SOCK_STREAM, C.SOCK_DGRAM, C.SOCK_SEQPACKET):
            return -lerrno.ESOCKTNOSUPPORT
    elif base not in C.HOST_TYPE:
        return -lerrno.ESOCKTNOSUPPORT
    return base, flags


def _host_socket_args(family: int, base: int, flags: int, caps, pair: bool):
    """(host family, host type incl. flags, fallback state or None)."""
    hfam = C.HOST_FAMILY[family]
    state = None
    if family == C.AF_UNIX and base == C.SOCK_SEQPACKET and not caps.seqpacket:
        # Fallback: a framed STREAM for socket() and socketpair() alike.  (A DGRAM
        # pair would keep boundaries too, but reports no EOF when the peer closes,
        # and macOS caps AF_UNIX datagrams at net.local.dgram.maxdgram = 2 KiB.)
        htype = _s.SOCK_STREAM
        state = SockState(family, base, 0, framed=True)
    else:
        htype = C.HOST_TYPE[base]
    if caps.sock_flags:
        if flags & C.SOCK_NONBLOCK:
            htype |= _s.SOCK_NONBLOCK
        if flags & C.SOCK_CLOEXEC:
            htype |= _s.SOCK_CLOEXEC
    return hfam, htype, state


def _install_state(fd: int, state: SockState | None, flags: int, caps) -> None:
    if not caps.sock_flags:
        apply_flags(fd, flags)
    if state is not None:
        proc.fds.set(fd, state)
        if policies.needs_registry():
            policies.register(fd, state)


@syscall("socket", "int, hex, int", ret="fd")
def sys_socket(domain, stype, protocol):
    family, protocol = s32(domain), s32(protocol)
    if family == C.AF_NETLINK:
        return netlink.create(s32(stype), protocol)     # emulated on every host
    chk = _check_type(family, s32(stype), protocol)
    if isinstance(chk, int):
        return chk
    base, flags = chk
    caps = hostcaps.caps()
    hfam, htype, state = _host_socket_args(family, base, flags, caps, pair=False)
    hproto = 0 if family == C.AF_UNIX else protocol
    fd = libc.socket(hfam, htype, hproto)
    if fd < 0:
        return err()
    fd = new_fd(fd)
    if fd < 0:
        return fd
    if state is not None:
        state.protocol = protocol
    elif protocol and protocol != default_protocol(family, base) \
            and host.sockopt("SO_PROTOCOL") is None:
        state = SockState(family, base, protocol)   # macOS cannot say SO_PROTOCOL
    _install_state(fd, state, flags, caps)
    return fd


@syscall("socketpair", "int, hex, int, ptr")
def sys_socketpair(domain, stype, protocol, sv):
    family, protocol = s32(domain), s32(protocol)
    if family == C.AF_NETLINK:
        return netlink.check_args(s32(stype), protocol) or -lerrno.EOPNOTSUPP
    chk = _check_type(family, s32(stype), protocol)
    if isinstance(chk, int):
        return chk
    base, flags = chk
    if family != C.AF_UNIX:
        return -lerrno.EOPNOTSUPP
    proc.mem.check(sv, 8, 2)
    caps = hostcaps.caps()
    hfam, htype, state = _host_socket_args(family, base, flags, caps, pair=True)
    pair = ffi.new("int[2]")
    if libc.socketpair(hfam, htype, 0, pair) < 0:
        return err()
    a, b = pair[0], pair[1]
    if a >= proc.fds.ceiling or b >= proc.fds.ceiling:
        os.close(a)
        os.close(b)
        return -lerrno.EMFILE
    proc.fds.on_close(a)
    proc.fds.on_close(b)
    mine = creds.own()
    track = readiness.emulated()
    for fd, other in ((a, b), (b, a)):
        st = None
        if state is not None or not caps.peercred or track:
            st = SockState(family, base, protocol, framed=state is not None and state.framed)
            st.pair_creds = mine
            if track:
                st.partner = readiness.key(other)      # POLLRDHUP after its SHUT_WR
        _install_state(fd, st, flags, caps)
    proc.mem.write(sv, struct.pack("<ii", a, b))
    return 0


@syscall("listen", "fd, int")
def sys_listen(fd, backlog):
    e = sock_check(fd)
    if e:
        return e
    b = s32(backlog)
    if b < 0 or b > 4096:
        b = 4096
    if libc.listen(fd, b) != 0:
        return err()
    if creds.needed() and sock_domain(fd) == C.AF_UNIX:
        creds.after_listen(fd, state_for(fd, C.AF_UNIX))
    return 0


@syscall("shutdown", "fd, int")
def sys_shutdown(fd, how):
    e = sock_check(fd)
    if e:
        return e
    how = s32(how)
    table = {C.SHUT_RD: _s.SHUT_RD, C.SHUT_WR: _s.SHUT_WR, C.SHUT_RDWR: _s.SHUT_RDWR}
    if how not in table:
        return -lerrno.EINVAL
    if libc.shutdown(fd, table[how]) != 0:
        return err()
    if readiness.emulated():
        readiness.note_shutdown(fd, how, state_for(fd, sock_domain(fd)))
    return 0
