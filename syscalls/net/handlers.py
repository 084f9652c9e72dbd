"""The socket syscall handlers (@syscall): Linux semantics on host sockets.

Guest fd == host fd.  On a Linux host under the default policy most calls are
a translated host call; the policies (policies.py) take over where the host
cannot do what Linux does.  Checks follow net/socket.c and net/unix/af_unix.c
in order: fd first (EBADF, ENOTSOCK), then lengths (EINVAL), then memory
(EFAULT), then the operation.
"""
from __future__ import annotations

import errno as _herr
import fcntl
import os
import socket as _s
import struct
import time

from elfuse_py.host import caps as hostcaps
from elfuse_py.runtime import lerrno, signals
from elfuse_py.runtime.memory import GuestFault
from elfuse_py.runtime.process import proc

from syscalls.args import s32, s64
from syscalls.table import syscall
from syscalls.net import consts as C
from syscalls.net import framing, msg as M, policies, sockaddr as SA
from elfuse_py.host import sockets as host
from syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc
_I32 = struct.Struct("<i")
SIGPIPE = 13
_NAMEBUF = 256


def _err() -> int:
    return -lerrno.to_linux(ffi.errno)


# ----- signals ---------------------------------------------------------------------------
def _interrupted(fd: int, send: bool) -> int:
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


def _hptr(addr: int):
    return ffi.cast("void *", proc.mem.host_base + addr)


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
        return _err()
    return 0


def sock_domain(fd: int) -> int:
    """The guest domain of socket fd (raises OSError EBADF/ENOTSOCK)."""
    st = proc.fds.get(fd)
    if isinstance(st, SockState):
        return st.family
    so_domain = getattr(_s, "SO_DOMAIN", None)
    if so_domain is not None:
        return C.GUEST_FAMILY.get(_host_int_opt(fd, _s.SOL_SOCKET, so_domain), -1)
    buf = ffi.new("char[]", _NAMEBUF)
    ln = ffi.new("socklen_t *", _NAMEBUF)
    host.check(libc.getsockname(fd, buf, ln))
    return C.GUEST_FAMILY.get(host.split_host_sockaddr(ffi.buffer(buf, ln[0])[:])[0], -1)


def _host_type(fd: int) -> int:
    return _host_int_opt(fd, _s.SOL_SOCKET, _s.SO_TYPE)


def _apply_flags(fd: int, flags: int) -> None:
    """SOCK_NONBLOCK/SOCK_CLOEXEC with fcntl (hosts without them in `type`)."""
    if flags & C.SOCK_NONBLOCK:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    if flags & C.SOCK_CLOEXEC:
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)


def _new_fd(fd: int) -> int:
    """A host fd that must not sit in the reserved range (else EMFILE)."""
    if fd >= proc.fds.limit:
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
        _apply_flags(fd, flags)
    if state is not None:
        proc.fds.set(fd, state)
        if policies.needs_registry():
            policies.register(fd, state)


@syscall("socket", "int, hex, int", ret="fd")
def sys_socket(domain, stype, protocol):
    family, protocol = s32(domain), s32(protocol)
    chk = _check_type(family, s32(stype), protocol)
    if isinstance(chk, int):
        return chk
    base, flags = chk
    caps = hostcaps.caps()
    hfam, htype, state = _host_socket_args(family, base, flags, caps, pair=False)
    hproto = 0 if family == C.AF_UNIX else protocol
    fd = libc.socket(hfam, htype, hproto)
    if fd < 0:
        return _err()
    fd = _new_fd(fd)
    if fd < 0:
        return fd
    if state is not None:
        state.protocol = protocol
    _install_state(fd, state, flags, caps)
    return fd


@syscall("socketpair", "int, hex, int, ptr")
def sys_socketpair(domain, stype, protocol, sv):
    family, protocol = s32(domain), s32(protocol)
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
        return _err()
    a, b = pair[0], pair[1]
    if a >= proc.fds.limit or b >= proc.fds.limit:
        os.close(a)
        os.close(b)
        return -lerrno.EMFILE
    proc.fds.on_close(a)
    proc.fds.on_close(b)
    creds = (os.getpid(), os.geteuid(), os.getegid())
    for fd in (a, b):
        st = None
        if state is not None or not caps.peercred:
            st = SockState(family, base, protocol, framed=state is not None and state.framed)
            st.pair_creds = creds
        _install_state(fd, st, flags, caps)
    proc.mem.write(sv, struct.pack("<ii", a, b))
    return 0


# ----- names -------------------------------------------------------------------------------

def _guest_addr(addr: int, addrlen: int) -> bytes:
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
        raw = _guest_addr(addr, addrlen)
    except M.LinuxError as e:
        return -e.err
    st = proc.fds.get(fd)
    caps = hostcaps.caps()
    if family == C.AF_UNIX:
        if op == "bind" and len(raw) == 2 and SA.guest_family(raw) == C.AF_UNIX:
            return _autobind(fd, st, caps)
        if op == "connect" and len(raw) >= 2 and SA.guest_family(raw) == C.AF_UNSPEC \
                and _host_type(fd) == _s.SOCK_DGRAM:
            sa = host.host_sockaddr(_s.AF_UNSPEC, b"")
            return 0 if libc.connect(fd, sa, len(sa)) == 0 else _err()
        bad = policies.validate_unix(raw)
        if bad:
            return -bad
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
            _passcred_autobind(fd, st, caps)
        name = policies.unix_op(op, fd, raw, st, _host_type(fd))
        if name is not None:
            st = _state_for(fd, family)
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
                return _err()
            policies.register_bound(raw, st)
            return 0
    else:
        hraw = SA.guest_to_host(raw)
    fn = libc.bind if op == "bind" else libc.connect
    if fn(fd, hraw, len(hraw)) < 0:
        return _err()
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


def _state_for(fd: int, family: int) -> SockState:
    st = proc.fds.get(fd)
    if not isinstance(st, SockState):
        t = C.GUEST_TYPE.get(_host_type(fd), 0)
        st = SockState(family, t, 0)
        proc.fds.set(fd, st)
    return st


def _autobind(fd: int, st, caps) -> int:
    if caps.abstract:
        sa = host.host_sockaddr(_s.AF_UNIX, b"")
        return 0 if libc.bind(fd, sa, len(sa)) == 0 else _err()
    if st is not None and st.name is not None:
        return 0                          # unix_autobind: already bound is fine
    htype = _host_type(fd)
    gtype = policies.guest_type(st, htype)
    name = policies.autobind_name(gtype)
    policies.bind_abstract(fd, name, htype, gtype)
    st = _state_for(fd, C.AF_UNIX)
    st.name = SA.guest_unix(True, name)
    if st.framed and policies.needs_registry():
        policies.register_bound(st.name, st)
    _note_binder(fd, caps)
    return 0


def _note_binder(fd: int, caps) -> None:
    """Where SCM_CREDENTIALS are emulated, a bound datagram socket leaves its
    binder's credentials for receivers (policies.record_binder)."""
    if not caps.passcred and _host_type(fd) == _s.SOCK_DGRAM:
        policies.record_binder(fd)


def _passcred_autobind(fd: int, st: SockState, caps) -> None:
    """Linux autobinds an unbound SO_PASSCRED socket on connect and send
    (unix_dgram_sendmsg, unix_stream_connect); emulated SO_PASSCRED must too."""
    if caps.passcred or st.name is not None:
        return
    try:
        if len(SA.host_to_guest(_host_name(libc.getsockname, fd))) > 2:
            return                       # bound to a host path already
    except OSError:
        return
    _autobind(fd, st, caps)


@syscall("bind", "fd, ptr, int")
def sys_bind(fd, addr, addrlen):
    return _bind_or_connect("bind", s32(fd), addr, addrlen)


@syscall("connect", "fd, ptr, int", interruptible=True)
def sys_connect(fd, addr, addrlen):
    try:
        return _bind_or_connect("connect", s32(fd), addr, addrlen)
    except InterruptedError:
        return _interrupted(s32(fd), True)


@syscall("listen", "fd, int")
def sys_listen(fd, backlog):
    fd = s32(fd)
    e = sock_check(fd)
    if e:
        return e
    b = s32(backlog)
    if b < 0 or b > 4096:
        b = 4096
    return 0 if libc.listen(fd, b) == 0 else _err()


def _host_name(fn, fd: int) -> bytes:
    buf = ffi.new("char[]", _NAMEBUF)
    ln = ffi.new("socklen_t *", _NAMEBUF)
    host.check(fn(fd, buf, ln))
    return ffi.buffer(buf, ln[0])[:]


def guest_name_from_host(hraw: bytes) -> bytes:
    """Guest sockaddr for a host one, mapping emulated abstract names back."""
    g = SA.host_to_guest(hraw)
    if len(g) > 3 and SA.guest_family(g) == C.AF_UNIX and g[2:3] != b"\0":
        caps = hostcaps.caps()
        if not caps.abstract:
            back = policies.guest_name_of_host_path(g[2:].rstrip(b"\0"))
            if back is not None:
                return back
    return g


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
        name = guest_name_from_host(_host_name(libc.getpeername if peer else libc.getsockname, fd))
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
    buf = ffi.new("char[]", _NAMEBUF)
    ln = ffi.new("socklen_t *", _NAMEBUF)
    while True:
        nfd = libc.accept(fd, buf, ln)
        if nfd >= 0 or ffi.errno != _herr.EINTR:
            break
    if nfd < 0:
        return _err()
    nfd = _new_fd(nfd)
    if nfd < 0:
        return nfd
    _apply_flags(nfd, flags)
    if not (flags & C.SOCK_NONBLOCK):
        fl = fcntl.fcntl(nfd, fcntl.F_GETFL)
        if fl & os.O_NONBLOCK:          # BSD accept inherits O_NONBLOCK; Linux does not
            fcntl.fcntl(nfd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    lst = proc.fds.get(fd)
    if isinstance(lst, SockState):
        st = SockState(lst.family, lst.type, lst.protocol, framed=lst.framed)
        st.name = lst.name
        st.passcred = lst.passcred
        proc.fds.set(nfd, st)
        if lst.framed and policies.needs_registry():
            policies.register(nfd, st)
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
        return _interrupted(s32(fd), False)


@syscall("accept4", "fd, ptr, ptr, hex", ret="fd", interruptible=True)
def sys_accept4(fd, addr, lenp, flags):
    try:
        return _accept(fd, addr, lenp, flags)
    except InterruptedError:
        return _interrupted(s32(fd), False)


@syscall("shutdown", "fd, int")
def sys_shutdown(fd, how):
    fd = s32(fd)
    e = sock_check(fd)
    if e:
        return e
    how = s32(how)
    table = {C.SHUT_RD: _s.SHUT_RD, C.SHUT_WR: _s.SHUT_WR, C.SHUT_RDWR: _s.SHUT_RDWR}
    if how not in table:
        return -lerrno.EINVAL
    return 0 if libc.shutdown(fd, table[how]) == 0 else _err()


# ----- data ----------------------------------------------------------------------------------

def epipe_signals(fd: int) -> bool:
    """Whether EPIPE on fd also raises SIGPIPE: Linux's stream protocols do
    (unix_stream_sendmsg, sk_stream_error); SOCK_SEQPACKET returns EPIPE alone."""
    st = proc.fds.get(fd)
    if isinstance(st, SockState):
        return st.type != C.SOCK_SEQPACKET
    buf = ffi.new("int *")
    ln = ffi.new("socklen_t *", 4)
    if libc.getsockopt(fd, _s.SOL_SOCKET, _s.SO_TYPE, buf, ln) < 0:
        return True                      # not a socket: a pipe or FIFO
    return buf[0] != getattr(_s, "SOCK_SEQPACKET", -1)


def _epipe(ret: int, flags: int, fd: int) -> int:
    if ret == -lerrno.EPIPE and not flags & C.MSG_NOSIGNAL and epipe_signals(fd):
        proc.post_signal(SIGPIPE)
    return ret


@syscall("sendto", "fd, buf_in, size, hex, ptr, int", interruptible=True)
def sys_sendto(fd, buf, n, flags, addr, addrlen):
    fd = s32(fd)
    try:
        flags = s32(flags)
        st = proc.fds.get(fd) if proc.fds.valid(fd) else None
        if st is not None and getattr(st, "framed", False) or addr:
            return _sendmsg_views(fd, [proc.mem.view(buf, n)] if n else [], addr, addrlen, b"", flags)
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        if n:
            proc.mem.check(buf, n, 1)
        r = libc.sendto(fd, _hptr(buf), n, C.msg_to_host(flags), ffi.NULL, 0)
        if r < 0:
            return _epipe(_err(), flags, fd)
        return r
    except InterruptedError:
        return _interrupted(fd, True)


@syscall("recvfrom", "fd, buf_out, size, hex, ptr, ptr", interruptible=True)
def sys_recvfrom(fd, buf, n, flags, addr, lenp):
    fd = s32(fd)
    flags = s32(flags)
    try:
        st = proc.fds.get(fd) if proc.fds.valid(fd) else None
        if st is not None or addr:
            e = sock_check(fd)
            if e:
                return e
            try:
                views = [proc.mem.view(buf, n, write=True)] if n else []
            except GuestFault:
                return _recv_fault(fd, flags)
            r, name, _ctl, mflags = _recv_views(fd, views, flags, bool(addr), 0)
            if r < 0:
                return r
            if addr and name is not None:
                SA.write_guest(addr, lenp, name)
            elif addr and lenp:
                SA.write_guest(addr, lenp, b"")
            return r
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        if n:
            try:
                proc.mem.check(buf, n, 2)
            except GuestFault:
                return _recv_fault(fd, flags, n)
        r = libc.recvfrom(fd, _hptr(buf), n, C.msg_to_host(flags), ffi.NULL, ffi.NULL)
        return r if r >= 0 else _err()
    except InterruptedError:
        return _interrupted(fd, False)


def _recv_fault(fd: int, flags: int, n: int = 0) -> int:
    """A bad buffer: Linux only faults when data arrives, so an empty
    non-blocking socket still says EAGAIN (and a bad fd EBADF/ENOTSOCK).
    TCP's MSG_TRUNC discards without touching the buffer at all."""
    e = sock_check(fd)
    if e:
        return e
    if flags & C.MSG_TRUNC and sock_domain(fd) in (C.AF_INET, C.AF_INET6) \
            and _host_type(fd) == _s.SOCK_STREAM:
        r = libc.recvfrom(fd, ffi.NULL, n, C.msg_to_host(flags), ffi.NULL, ffi.NULL)
        return r if r >= 0 else _err()
    nonblock = flags & C.MSG_DONTWAIT or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
    if nonblock:
        import select
        if not select.select([fd], [], [], 0)[0]:
            return -lerrno.EAGAIN
    return -lerrno.EFAULT


def _sendmsg_views(fd: int, views: list, name_addr: int, namelen: int, control: bytes,
                   flags: int, hname: bytes = b"") -> int:
    """sendmsg core: views of guest data, guest name (or a host one), guest control bytes."""
    e = sock_check(fd)
    if e:
        return e
    st = proc.fds.get(fd)
    family = st.family if isinstance(st, SockState) else None
    if name_addr:
        try:
            raw = _guest_addr(name_addr, namelen)
        except M.LinuxError as ex:
            return -ex.err
        if family is None:
            family = sock_domain(fd)
        if raw and family == C.AF_UNIX and SA.guest_family(raw) == C.AF_UNIX:
            bad = policies.validate_unix(raw)
            if bad:
                return -bad
            mapped = policies.to_host_sendto(raw)
            if mapped is not None:
                hname, link = mapped
                if link is not None:
                    try:
                        return _sendmsg_views(fd, views, 0, 0, control, flags, hname)
                    finally:
                        os.unlink(link)
            else:
                hname = unix_host_sockaddr(raw)
        elif raw:
            hname = SA.guest_to_host(raw)
    if isinstance(st, SockState) and st.passcred and family == C.AF_UNIX:
        _passcred_autobind(fd, st, hostcaps.caps())
    hcontrol = b""
    if control:
        if family is None:
            family = sock_domain(fd)
        if family != C.AF_UNIX and _raw_control():
            # IP/IPv6/SOL_SOCKET cmsgs mean the same to a generic-Linux LP64 host,
            # whose ip_cmsg_send checks them (and ignores SCM_RIGHTS, as Linux does).
            hcontrol, control = control, b""
    if control:
        try:
            fds, creds = M.parse_send_control(control, family == C.AF_UNIX)
        except M.LinuxError as ex:
            return -ex.err
        if fds and policies.needs_registry():
            for f in fds:
                s = proc.fds.get(f)
                if isinstance(s, SockState) and s.type == C.SOCK_SEQPACKET:
                    policies.register(f, s)
        hcontrol = M.host_control(fds, creds)
    hflags = C.msg_to_host(flags)
    if isinstance(st, SockState) and st.framed:
        if flags & C.MSG_OOB:
            return -lerrno.EOPNOTSUPP
        r = framing.send_frame(fd, views, hcontrol, hflags)
        if r < 0:
            return _epipe(-lerrno.to_linux(-r), flags, fd)
        return r
    iov, keep = host.iovec_array(views)
    m = ffi.new("struct msghdr *")
    m.msg_iov = iov
    m.msg_iovlen = len(views)
    if hname:
        nb = ffi.from_buffer(hname)
        m.msg_name = nb
        m.msg_namelen = len(hname)
    if hcontrol:
        cb = ffi.from_buffer(hcontrol)
        m.msg_control = cb
        m.msg_controllen = len(hcontrol)
    r = libc.sendmsg(fd, m, hflags)
    if r < 0:
        return _epipe(_err(), flags, fd)
    return r


def _raw_control() -> bool:
    """Control messages of a non-AF_UNIX socket may pass through untranslated: a
    Linux host with asm-generic numbers and LP64 cmsg layout (x86_64, arm64)."""
    return hostcaps.caps().linux_sockopts and host.CMSG_HDR.size == M.CMSGHDR.size


def _recv_views(fd: int, views: list, flags: int, want_name: bool, guest_ctl: int
                ) -> tuple[int, bytes | None, bytes, int]:
    """recvmsg core -> (result or -errno, guest name, guest control bytes, guest msg_flags)."""
    st = proc.fds.get(fd)
    hflags = C.msg_to_host(flags)
    ctl_size = M.host_recv_control_size()
    raw_ctl = guest_ctl and st is None and _raw_control() and \
        sock_domain(fd) in (C.AF_INET, C.AF_INET6)
    if raw_ctl:
        ctl_size = guest_ctl       # the host truncates and sets MSG_CTRUNC itself
    want_total = sum(len(v) for v in views)
    passcred = isinstance(st, SockState) and st.passcred
    sender = b""
    if isinstance(st, SockState) and st.framed:
        r, length, hctl, hmf = framing.recv_frame(fd, views, hflags, ctl_size)
        if r < 0:
            return -lerrno.to_linux(-r), None, b"", 0
        mflags = C.msg_from_host(hmf)
        if length > want_total:
            mflags |= C.MSG_TRUNC
            if flags & C.MSG_TRUNC:
                r = length
        name = st.peer if want_name else None
        if want_name and name is None:
            try:
                name = guest_name_from_host(_host_name(libc.getpeername, fd))
            except OSError:
                name = b""
    else:
        iov, keep = host.iovec_array(views)
        m = ffi.new("struct msghdr *")
        m.msg_iov = iov
        m.msg_iovlen = len(views)
        nbuf = ffi.new("char[]", _NAMEBUF)
        m.msg_name = nbuf
        m.msg_namelen = _NAMEBUF
        cbuf = ffi.new("char[]", ctl_size)
        m.msg_control = cbuf
        m.msg_controllen = ctl_size
        while True:
            r = libc.recvmsg(fd, m, hflags)
            if r >= 0 or ffi.errno != _herr.EINTR:
                break
        if r < 0:
            return _err(), None, b"", 0
        mflags = C.msg_from_host(m.msg_flags)
        hctl = ffi.buffer(cbuf, m.msg_controllen)[:]
        if passcred and m.msg_namelen:
            sender = ffi.buffer(nbuf, m.msg_namelen)[:]
        if raw_ctl:
            name = None
            if want_name:
                nl = m.msg_namelen
                name = guest_name_from_host(ffi.buffer(nbuf, nl)[:]) if nl else b""
            return r, name, hctl, mflags
        name = None
        if want_name:
            nl = m.msg_namelen
            if isinstance(st, SockState) and st.peer is not None and st.type != C.SOCK_DGRAM:
                name = st.peer
            else:
                name = guest_name_from_host(ffi.buffer(nbuf, nl)[:]) if nl else b""
    others = [] if hctl and _raw_control() else None
    fds, creds = M.parse_host_control(hctl, others) if hctl else ([], None)
    fds_ok = []
    for f in fds:
        if f >= proc.fds.limit:
            os.close(f)
            continue
        proc.fds.on_close(f)
        if policies.needs_registry():
            s = policies.lookup(f)
            if s is not None:
                proc.fds.set(f, s)
        fds_ok.append(f)
    if passcred and creds is None:
        creds = _emulated_creds(fd, st, sender)
    if creds is not None and not (passcred or hostcaps.caps().passcred):
        creds = None
    gctl, cflags = M.build_guest_control(guest_ctl, creds, fds_ok, bool(flags & C.MSG_CMSG_CLOEXEC),
                                         others)
    if len(fds_ok) < len(fds):
        cflags |= C.MSG_CTRUNC
    return r, name, gctl, mflags | cflags


def _emulated_creds(fd: int, st: SockState, sender: bytes = b"") -> tuple[int, int, int]:
    """SCM_CREDENTIALS where the host has none: the peer's credentials when the
    host can tell them, else those recorded by a bound datagram sender, else
    Linux's 'unknown' (pid 0, uid/gid -1)."""
    if st.pair_creds is not None:
        return st.pair_creds
    pc = host.peer_credentials(fd)
    if pc is not None and pc[0]:
        return pc
    if sender:
        bc = policies.binder_credentials(sender)
        if bc is not None:
            return bc
    return pc or (0, 0xFFFFFFFF, 0xFFFFFFFF)


def _read_msghdr(addr: int) -> tuple:
    return proc.mem.unpack(M.MSGHDR, addr)


def _do_sendmsg(fd: int, mh: int, flags: int) -> int:
    name, namelen, _pad, iov, iovlen, control, controllen, _mf = _read_msghdr(mh)
    if not name:
        namelen = 0
    if namelen < 0:
        return -lerrno.EINVAL
    namelen = min(namelen, SA.SOCKADDR_STORAGE)
    views = M.iov_views(iov, iovlen, False)
    if controllen > M.INT_MAX:
        return -lerrno.ENOBUFS
    ctl = proc.mem.read(control, controllen) if controllen else b""
    return _sendmsg_views(fd, views, name if namelen else 0, namelen, ctl, flags)


def _do_recvmsg(fd: int, mh: int, flags: int) -> int:
    name, namelen, _pad, iov, iovlen, control, controllen, _mf = _read_msghdr(mh)
    if name and namelen < 0:
        return -lerrno.EINVAL
    views = M.iov_views(iov, iovlen, True)
    if controllen:
        proc.mem.check(control, min(controllen, 1 << 20), 2)
    r, gname, gctl, mflags = _recv_views(fd, views, flags, bool(name), min(controllen, 1 << 20))
    if r < 0:
        return r
    mem = proc.mem
    if name:
        n = min(max(namelen, 0), len(gname or b""))
        if n:
            mem.write(name, gname[:n])
        mem.put_u32(mh + 8, len(gname or b""))
    if gctl:
        mem.write(control, gctl)
    mem.put_u64(mh + 40, len(gctl))
    mem.put_u32(mh + 48, mflags)
    return r


def _wrap(fn, *args) -> int:
    try:
        return fn(*args)
    except M.LinuxError as e:
        return -e.err


@syscall("sendmsg", "fd, ptr, hex", interruptible=True)
def sys_sendmsg(fd, mh, flags):
    fd = s32(fd)
    try:
        e = sock_check(fd)
        if e:
            return e
        return _wrap(_do_sendmsg, fd, mh, s32(flags))
    except InterruptedError:
        return _interrupted(fd, True)


@syscall("recvmsg", "fd, ptr, hex", interruptible=True)
def sys_recvmsg(fd, mh, flags):
    fd = s32(fd)
    try:
        e = sock_check(fd)
        if e:
            return e
        return _wrap(_do_recvmsg, fd, mh, s32(flags))
    except InterruptedError:
        return _interrupted(fd, False)


@syscall("sendmmsg", "fd, ptr, uint, hex")
def sys_sendmmsg(fd, vec, vlen, flags):
    fd = s32(fd)
    e = sock_check(fd)
    if e:
        return e
    vlen = min(vlen & 0xFFFFFFFF, M.UIO_MAXIOV)
    flags = s32(flags)
    done = 0
    while done < vlen:
        mh = vec + done * M.MMSGHDR_SIZE
        try:
            r = _wrap(_do_sendmsg, fd, mh, flags)
        except GuestFault:
            r = -lerrno.EFAULT
        except InterruptedError:
            if not done:
                return _interrupted(fd, True)
            _mmsg_keep_count()
            return done
        if r < 0:
            return done if done else r
        proc.mem.put_u32(mh + 56, r)
        done += 1
    return done


_TIMESPEC = struct.Struct("<qq")


def _mmsg_keep_count() -> None:
    """A signal cut a sendmmsg/recvmmsg short after some messages: the count is the
    result (not EINTR) and the call must not be restarted."""
    signals.keep_result()
    ffi.errno = 0


@syscall("recvmmsg", "fd, ptr, uint, hex, ptr")
def sys_recvmmsg(fd, vec, vlen, flags, timeout):
    fd = s32(fd)
    flags = s32(flags)
    deadline = None
    if timeout:
        sec, nsec = proc.mem.unpack(_TIMESPEC, timeout)
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            return -lerrno.EINVAL
        deadline = time.monotonic() + sec + nsec / 1e9
    e = sock_check(fd)
    if e:
        return e
    vlen = min(vlen & 0xFFFFFFFF, M.UIO_MAXIOV)
    done = 0
    while done < vlen:
        mh = vec + done * M.MMSGHDR_SIZE
        try:
            r = _wrap(_do_recvmsg, fd, mh, flags)
        except GuestFault:
            r = -lerrno.EFAULT
        except InterruptedError:
            if not done:
                return _interrupted(fd, False)
            _mmsg_keep_count()
            break
        if r < 0:
            return done if done else r
        proc.mem.put_u32(mh + 56, r)
        done += 1
        if flags & C.MSG_WAITFORONE:
            flags |= C.MSG_DONTWAIT
        if deadline is not None and time.monotonic() >= deadline:
            break
    if deadline is not None and done:
        # do_recvmmsg leaves the time that was left in *timeout (0 once it ran out).
        left = max(0.0, deadline - time.monotonic())
        sec = int(left)
        proc.mem.pack(_TIMESPEC, timeout, sec, int((left - sec) * 1e9))
    return done


# ----- options ------------------------------------------------------------------------------

# The blocking host calls of recvmsg/sendmsg/recvmmsg/sendmmsg sit in these
# helpers, below the handler's own frame: let guest signals interrupt them.
signals.register_interruptible(_recv_views, _sendmsg_views)
