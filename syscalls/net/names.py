"""Socket addresses: bind, connect, getsockname, getpeername, accept/accept4.

Owns the guest<->host sockaddr step for these calls: reading a guest address
(`guest_addr`), AF_UNIX names through the policies (abstract names, autobind,
bound-path records, binder credentials), the host sockaddr of a plain AF_UNIX
name (`unix_host_sockaddr`), mapping host names back (`guest_name_from_host`,
`sender_name_from_host`), and where the host cannot tell a peer's credentials
the steps that leave and take them at connect and accept (creds.py).
messages.py uses these for sendto/sendmsg names and recvfrom/recvmsg senders.
"""
from __future__ import annotations

import errno as _herr
import fcntl
import os
import socket as _s

from elfuse_py.host import caps as hostcaps
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.memory import GuestFault
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import syscall
from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import creds, msg as M, netlink, policies, sockaddr as SA
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.sockets import (NAMEBUF, apply_flags, err, host_type, interrupted, new_fd,
                                  sock_check, sock_domain, state_for)
from elfuse_py.syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc


def guest_addr(addr: int, addrlen: int) -> bytes:
    addrlen = s32(addrlen)
    if addrlen < 0 or addrlen > SA.SOCKADDR_STORAGE:
        raise M.LinuxError(lerrno.EINVAL)
    return proc.mem.read(addr, addrlen) if addrlen else b""


def _bind_or_connect(op: str, fd: int, addr: int, addrlen: int) -> int:
    try:
        family = sock_domain(fd)
    except OSError as e:
        return -lerrno.to_linux(e.errno)
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    try:
        raw = guest_addr(addr, addrlen)
    except M.LinuxError as e:
        return -e.err
    st = proc.fds.get(fd)
    if isinstance(st, netlink.NetlinkState):
        return netlink.bind(st, raw) if op == "bind" else netlink.connect(st, raw)
    caps = hostcaps.caps()
    if family == C.AF_UNIX:
        if op == "bind" and len(raw) == 2 and SA.guest_family(raw) == C.AF_UNIX:
            return _autobind(fd, st, caps)
        if op == "connect" and len(raw) >= 2 and SA.guest_family(raw) == C.AF_UNSPEC \
                and host_type(fd) == _s.SOCK_DGRAM:
            sa = host.host_sockaddr(_s.AF_UNSPEC, b"")
            return 0 if libc.connect(fd, sa, len(sa)) == 0 else err()
        bad = policies.validate_unix(raw)
        if bad:
            return -bad
        raw = policies.in_root(raw)
        if op == "bind" and st is not None and st.name is not None:
            # unix_bind_bsd creates the path before it looks at the socket.
            abstract, path = SA.unix_name(raw)
            if not abstract and os.path.lexists(path):
                return -lerrno.EADDRINUSE
            return -lerrno.EINVAL
        registry = policies.needs_registry()
        if registry and op == "connect":
            bad = policies.connect_type_error(raw, st)
            if bad:
                return -bad
        if op == "connect" and isinstance(st, SockState) and st.passcred:
            passcred_autobind(fd, st, caps)
        if op == "connect" and creds.needed() and host_type(fd) == _s.SOCK_STREAM:
            creds.before_connect(fd)          # where the acceptor finds our credentials
        name = policies.unix_op(op, fd, raw, st, host_type(fd))
        if name is not None:
            st = state_for(fd, family)
            if op == "bind":
                st.name = name
                if registry and st.framed:
                    policies.register_bound(raw, st)
                _note_binder(fd, caps)
            else:
                st.peer = name
            return 0
        hraw = unix_host_sockaddr(raw)
        if op == "bind" and registry and isinstance(st, SockState) and st.framed:
            r = libc.bind(fd, hraw, len(hraw))
            if r < 0:
                return err()
            policies.register_bound(raw, st)
            return 0
    else:
        hraw = SA.guest_to_host(raw)
    fn = libc.bind if op == "bind" else libc.connect
    if fn(fd, hraw, len(hraw)) < 0:
        return err()
    if op == "bind" and family == C.AF_UNIX:
        _note_binder(fd, caps)
    if op == "connect" and st is not None and family == C.AF_UNIX:
        st.peer = None
    return 0


def unix_host_sockaddr(raw: bytes) -> bytes:
    """Host sockaddr_un for a validated guest one that needs no policy.  A path
    filling the whole sun_path has no room for its NUL: Linux accepts that."""
    abstract, path = SA.unix_name(raw)
    if abstract:
        return host.host_sockaddr(_s.AF_UNIX, b"\0" + path)
    return host.host_sockaddr(_s.AF_UNIX, path + b"\0" if len(path) < host.SUN_PATH_MAX else path)


def _autobind(fd: int, st, caps) -> int:
    if caps.abstract:
        sa = host.host_sockaddr(_s.AF_UNIX, b"")
        return 0 if libc.bind(fd, sa, len(sa)) == 0 else err()
    if st is not None and st.name is not None:
        return 0                          # unix_autobind: already bound is fine
    htype = host_type(fd)
    gtype = policies.guest_type(st, htype)
    name = policies.autobind_name(gtype)
    policies.bind_abstract(fd, name, htype, gtype)
    st = state_for(fd, C.AF_UNIX)
    st.name = SA.guest_unix(True, name)
    if st.framed and policies.needs_registry():
        policies.register_bound(st.name, st)
    _note_binder(fd, caps)
    return 0


def _note_binder(fd: int, caps) -> None:
    """Where SCM_CREDENTIALS are emulated, a bound datagram socket leaves its
    binder's credentials for receivers (creds.record_binder)."""
    if not caps.passcred and host_type(fd) == _s.SOCK_DGRAM:
        creds.record_binder(fd)


def passcred_autobind(fd: int, st: SockState, caps) -> None:
    """Linux autobinds an unbound SO_PASSCRED socket on connect and send
    (unix_dgram_sendmsg, unix_stream_connect); emulated SO_PASSCRED must too."""
    if caps.passcred or st.name is not None:
        return
    try:
        if len(SA.host_to_guest(host_name(libc.getsockname, fd))) > 2:
            return                       # bound to a host path already
    except OSError:
        return
    _autobind(fd, st, caps)


@syscall("bind", "fd, ptr, int")
def sys_bind(fd, addr, addrlen):
    return _bind_or_connect("bind", fd, addr, addrlen)


@syscall("connect", "fd, ptr, int", interruptible=True)
def sys_connect(fd, addr, addrlen):
    try:
        r = _bind_or_connect("connect", fd, addr, addrlen)
    except InterruptedError:
        return interrupted(fd, True)
    if r == 0 and creds.needed() and host_type(fd) == _s.SOCK_STREAM \
            and sock_domain(fd) == C.AF_UNIX:
        creds.after_connect(fd, state_for(fd, C.AF_UNIX))   # the listener's credentials
    return r


def host_name(fn, fd: int) -> bytes:
    buf = ffi.new("char[]", NAMEBUF)
    ln = ffi.new("socklen_t *", NAMEBUF)
    host.check(fn(fd, buf, ln))
    return ffi.buffer(buf, ln[0])[:]


def guest_name_from_host(hraw: bytes) -> bytes:
    """Guest sockaddr for a host one, mapping emulated abstract names back (and,
    inside a chroot, a path under the root to its name there)."""
    g = SA.host_to_guest(hraw)
    if len(g) > 3 and SA.guest_family(g) == C.AF_UNIX and g[2:3] != b"\0":
        caps = hostcaps.caps()
        if not caps.abstract:
            back = policies.guest_name_of_host_path(g[2:].rstrip(b"\0"))
            if back is not None:
                return policies.root_name(back)
        return policies.root_name(g)
    return g


def sender_name_from_host(hraw: bytes) -> bytes:
    """A received message's sender for the guest: as guest_name_from_host, but an
    unnamed AF_UNIX sender is no name at all (msg_namelen 0), as unix_copy_addr."""
    if not hraw:
        return b""
    g = guest_name_from_host(hraw)
    return b"" if g == SA.guest_unix(False, b"") else g


def _getname(fd, addr, lenp, peer: bool) -> int:
    fd = s32(fd)
    e = sock_check(fd)
    if e:
        return e
    st = proc.fds.get(fd)
    name = None
    if isinstance(st, SockState):
        name = st.peer if peer else st.name
    if name is None:
        name = guest_name_from_host(host_name(libc.getpeername if peer else libc.getsockname, fd))
    SA.write_guest(addr, lenp, name)
    return 0


@syscall("getsockname", "fd, ptr, ptr")
def sys_getsockname(fd, addr, lenp):
    return _getname(fd, addr, lenp, False)


@syscall("getpeername", "fd, ptr, ptr")
def sys_getpeername(fd, addr, lenp):
    return _getname(fd, addr, lenp, True)


def _accept(fd, addr, lenp, flags) -> int:
    fd = s32(fd)
    flags = s32(flags)
    if flags & ~(C.SOCK_CLOEXEC | C.SOCK_NONBLOCK):
        return -lerrno.EINVAL
    e = sock_check(fd)
    if e:
        return e
    buf = ffi.new("char[]", NAMEBUF)
    ln = ffi.new("socklen_t *", NAMEBUF)
    while True:
        nfd = libc.accept(fd, buf, ln)
        if nfd >= 0 or ffi.errno != _herr.EINTR:
            break
    if nfd < 0:
        return err()
    nfd = new_fd(nfd)
    if nfd < 0:
        return nfd
    apply_flags(nfd, flags)
    if not (flags & C.SOCK_NONBLOCK):
        fl = fcntl.fcntl(nfd, fcntl.F_GETFL)
        if fl & os.O_NONBLOCK:          # BSD accept inherits O_NONBLOCK; Linux does not
            fcntl.fcntl(nfd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    lst = proc.fds.get(fd)
    st = None
    if isinstance(lst, SockState):
        st = SockState(lst.family, lst.type, lst.protocol, framed=lst.framed)
        st.name = lst.name
        st.passcred = lst.passcred
        proc.fds.set(nfd, st)
        if lst.framed and policies.needs_registry():
            policies.register(nfd, st)
    if creds.needed() and sock_domain(nfd) == C.AF_UNIX:
        # The client's credentials, taken at its connect (creds.before_connect).
        creds.after_accept(st or state_for(nfd, C.AF_UNIX), ffi.buffer(buf, ln[0])[:])
    if addr:
        try:
            SA.write_guest(addr, lenp, guest_name_from_host(ffi.buffer(buf, ln[0])[:]))
        except (GuestFault, OSError) as e:
            os.close(nfd)
            proc.fds.on_close(nfd)
            return -lerrno.EFAULT if isinstance(e, GuestFault) else -lerrno.to_linux(e.errno)
    return nfd


@syscall("accept", "fd, ptr, ptr", ret="fd", interruptible=True)
def sys_accept(fd, addr, lenp):
    try:
        return _accept(fd, addr, lenp, 0)
    except InterruptedError:
        return interrupted(fd, False)


@syscall("accept4", "fd, ptr, ptr, hex", ret="fd", interruptible=True)
def sys_accept4(fd, addr, lenp, flags):
    try:
        return _accept(fd, addr, lenp, flags)
    except InterruptedError:
        return interrupted(fd, False)
