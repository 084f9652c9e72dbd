"""setsockopt/getsockopt: options translated by name, values by meaning.

Host numbers come from the host floor's table (`host.sockopt`), which has only
the options the host has.  Emulated where a policy owns the answer or the host
lacks the option: SO_TYPE/SO_DOMAIN/SO_PROTOCOL (the SockState, else the host,
else the family's default protocol), SO_PASSCRED and SO_PEERCRED without host
support (creds.py), SO_PEEK_OFF (peekoff.py) and SO_PRIORITY where the host
has none (macOS), and SO_SNDLOWAT, which Linux never lets a program set.
SO_ERROR values are host errnos translated to Linux's.
"""
from __future__ import annotations

import os
import socket as _s
import struct

from elfuse_py.host import caps as hostcaps
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import syscall
from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import creds, netlink
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.sockets import err, sock_check, sock_domain, sock_protocol, state_for
from elfuse_py.syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc
_OPT_BUF = 256
_I32 = struct.Struct("<i")
# Linux options a host may lack, kept in the SockState (name -> attribute): SO_PEEK_OFF
# moves recv's MSG_PEEK (peekoff.py); SO_PRIORITY only queues on Linux's own devices.
_EMULATED = {"SO_PEEK_OFF": "peek_off", "SO_PRIORITY": "priority"}


def _host_opt(level: int, opt: int) -> tuple[int, int, str] | None:
    """(host level, host option, name) for a guest (level, option), or None."""
    entry = C.LEVELS.get(level)
    if entry is None:
        return None
    hlevel_name, names = entry
    name = names.get(opt)
    if name is None:
        return None
    hlevel = host.sockopt_level(hlevel_name)
    hopt = host.sockopt(name)
    if hlevel is None or hopt is None:
        return None
    return hlevel, hopt, name


def _unknown(fd: int, level: int) -> int:
    """What Linux says for an option it does not know on this socket."""
    if level == C.SOL_SOCKET:
        return -lerrno.ENOPROTOOPT
    try:
        fam = sock_domain(fd)
    except OSError:
        fam = -1
    if fam == C.AF_UNIX:
        return -lerrno.EOPNOTSUPP
    return -lerrno.ENOPROTOOPT


_WINDOW = 1 << 40


def _direct_ok(fd: int) -> bool:
    """Options may go straight to the host: a Linux host with the generic numbers
    (the guest's level/option/value mean the same there) and no emulator state."""
    return hostcaps.caps().linux_sockopts and proc.fds.get(fd) is None


@syscall("setsockopt", "fd, int, int, ptr, int")
def sys_setsockopt(fd, level, optname, optval, optlen):
    level, opt, optlen = s32(level), s32(optname), s32(optlen)
    if optlen < 0:                     # __sys_setsockopt checks this before the fd
        return -lerrno.EINVAL
    if proc.fds.valid(fd) and _direct_ok(fd):
        if optval >= _WINDOW or optval + max(optlen, 0) > _WINDOW:
            e = sock_check(fd)
            return e or -lerrno.EFAULT
        # The host kernel faults on the window's unmapped (PROT_NONE) pages itself.
        r = libc.setsockopt(fd, level, opt, ffi.cast("void *", proc.mem.host_base + optval),
                            optlen)
        return 0 if r == 0 else err()
    e = sock_check(fd)
    if e:
        return e
    if optlen < 0:
        return -lerrno.EINVAL
    nst = proc.fds.get(fd)
    if level == netlink.SOL_NETLINK and isinstance(nst, netlink.NetlinkState):
        return netlink.setsockopt(nst, opt, proc.mem.read(optval, min(optlen, 4)) if optlen else b"")
    caps = hostcaps.caps()
    if level == C.SOL_SOCKET and opt == C.SO_NAMES["SO_PASSCRED"] and not caps.passcred:
        if optlen < 4:
            return -lerrno.EINVAL
        val = _I32.unpack(proc.mem.read(optval, 4))[0]
        state_for(fd, sock_domain(fd)).passcred = bool(val)
        return 0
    if level == C.SOL_SOCKET and opt in (3, 4, 17, 19, 30, 38, 39):
        # SO_TYPE, SO_ERROR, SO_PEERCRED, SO_ACCEPTCONN, SO_PROTOCOL, SO_DOMAIN are
        # read-only, and Linux never sets SO_SNDLOWAT (the host might).
        if optlen < 4:
            return -lerrno.EINVAL
        proc.mem.read(optval, 4)
        return -lerrno.ENOPROTOOPT
    name = C.SO.get(opt) if level == C.SOL_SOCKET else None
    if name in _EMULATED and host.sockopt(name) is None:
        if optlen < 4:
            return -lerrno.EINVAL
        val = _I32.unpack(proc.mem.read(optval, 4))[0]
        if name == "SO_PRIORITY" and not 0 <= val <= 6 and os.geteuid() != 0:
            return -lerrno.EPERM           # sk_set_prio_allowed: 0..6 without CAP_NET_ADMIN
        setattr(state_for(fd, sock_domain(fd)), _EMULATED[name], val)
        return 0
    h = _host_opt(level, opt)
    if h is None:
        return _unknown(fd, level)
    hlevel, hopt, name = h
    data = proc.mem.read(optval, optlen) if optlen else b""
    if name in C.INT_OPTS and optlen < 4:
        return -lerrno.EINVAL
    if name in ("SO_RCVTIMEO", "SO_SNDTIMEO"):
        if optlen < 16:
            return -lerrno.EINVAL
        sec, usec = struct.unpack_from("<qq", data)
        if usec < 0 or usec >= 1000000:
            return -lerrno.LINUX_ERRNO["EDOM"]
        data = struct.pack("=qq", sec, usec) if not host.DARWIN else struct.pack("=qi4x", sec, usec)
    elif name == "SO_LINGER":
        if optlen < 8:
            return -lerrno.EINVAL
        data = data[:8]
    elif name in C.INT_OPTS:
        data = data[:4]
    buf = ffi.from_buffer(data) if data else ffi.NULL
    return 0 if libc.setsockopt(fd, hlevel, hopt, buf, len(data)) == 0 else err()


def _put(optval: int, optlenp: int, want: int, value: bytes) -> int:
    n = min(want, len(value))
    if n:
        proc.mem.write(optval, value[:n])
    proc.mem.put_u32(optlenp, n)
    return 0


@syscall("getsockopt", "fd, int, int, ptr, ptr")
def sys_getsockopt(fd, level, optname, optval, optlenp):
    level, opt = s32(level), s32(optname)
    if proc.fds.valid(fd) and _direct_ok(fd):
        if optval >= _WINDOW - _OPT_BUF or optlenp >= _WINDOW - 4:
            e = sock_check(fd)
            return e or -lerrno.EFAULT
        hb = proc.mem.host_base
        r = libc.getsockopt(fd, level, opt, ffi.cast("void *", hb + optval),
                            ffi.cast("socklen_t *", hb + optlenp))
        return 0 if r == 0 else err()
    e = sock_check(fd)
    if e:
        return e
    want = _I32.unpack(proc.mem.read(optlenp, 4))[0]
    if want < 0:
        return -lerrno.EINVAL
    st = proc.fds.get(fd)
    if level == netlink.SOL_NETLINK and isinstance(st, netlink.NetlinkState):
        if want < 4:
            return -lerrno.EINVAL
        v = netlink.getsockopt(st, opt)
        return v if isinstance(v, int) else _put(optval, optlenp, want, v)
    caps = hostcaps.caps()
    name = C.SO.get(opt) if level == C.SOL_SOCKET else None
    if name in ("SO_TYPE", "SO_DOMAIN", "SO_PROTOCOL"):
        if name == "SO_PROTOCOL":
            v = sock_protocol(fd, st)
        elif isinstance(st, SockState) and st.type:
            v = st.type if name == "SO_TYPE" else st.family
        else:
            v = _host_sock_ident(fd, name)
        return _put(optval, optlenp, want, _I32.pack(v))
    if name in _EMULATED and host.sockopt(name) is None:
        v = getattr(st, _EMULATED[name]) if isinstance(st, SockState) \
            else getattr(SockState, _EMULATED[name])
        return _put(optval, optlenp, want, _I32.pack(v))
    if name == "SO_SNDLOWAT":
        return _put(optval, optlenp, want, _I32.pack(1))     # Linux's, never settable
    if name == "SO_PASSCRED" and not caps.passcred:
        v = int(isinstance(st, SockState) and st.passcred)
        return _put(optval, optlenp, want, _I32.pack(v))
    if name == "SO_PEERCRED" and (not caps.peercred or (isinstance(st, SockState)
                                                        and st.pair_creds is not None)):
        pid, uid, gid = creds.peer_creds(fd, st) or (0, 0xFFFFFFFF, 0xFFFFFFFF)
        return _put(optval, optlenp, want,
                    struct.pack("<iII", pid, uid & 0xFFFFFFFF, gid & 0xFFFFFFFF))
    h = _host_opt(level, opt)
    if h is None:
        return _unknown(fd, level)
    hlevel, hopt, name = h
    buf = ffi.new("char[]", _OPT_BUF)
    ln = ffi.new("socklen_t *", _OPT_BUF)
    if libc.getsockopt(fd, hlevel, hopt, buf, ln) < 0:
        return err()
    raw = ffi.buffer(buf, ln[0])[:]
    if name == "SO_ERROR":
        v = struct.unpack_from("=i", raw)[0]
        raw = _I32.pack(lerrno.to_linux(v) if v else 0)
    elif name in ("SO_RCVTIMEO", "SO_SNDTIMEO"):
        if host.DARWIN:
            sec, usec = struct.unpack_from("=qi", raw)
        else:
            sec, usec = struct.unpack_from("=qq", raw)
        raw = struct.pack("<qq", sec, usec)
    elif name == "SO_PEERCRED":
        raw = raw[:12]
    elif name in C.INT_OPTS:
        v = struct.unpack_from("=i", raw)[0] if len(raw) >= 4 else raw[0]
        if name in ("SO_KEEPALIVE", "SO_REUSEADDR", "SO_BROADCAST", "SO_OOBINLINE",
                    "SO_REUSEPORT", "SO_DEBUG", "SO_DONTROUTE", "SO_ACCEPTCONN", "TCP_NODELAY",
                    "IPV6_V6ONLY", "SO_TIMESTAMP") and v:
            v = 1                  # BSDs report the option bit, Linux 1
        raw = _I32.pack(v)
    return _put(optval, optlenp, want, raw)


def _host_sock_ident(fd: int, name: str) -> int:
    if name == "SO_TYPE":
        buf = ffi.new("int *")
        ln = ffi.new("socklen_t *", 4)
        host.check(libc.getsockopt(fd, _s.SOL_SOCKET, _s.SO_TYPE, buf, ln))
        return C.GUEST_TYPE.get(buf[0], buf[0])
    return sock_domain(fd)
