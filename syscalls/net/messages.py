"""Socket data: sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg.

Owns the data path: the sendmsg/recvmsg cores (`_sendmsg_views`,
`_recv_views`) over host sockets or framed SEQPACKET (framing.py), control
messages (SCM_RIGHTS, SCM_CREDENTIALS, emulated credentials, raw IP cmsgs on a
Linux host), the msghdr/mmsghdr walk, and SIGPIPE after EPIPE
(`epipe_signals`, also asked by fs.py for write on a socket).  The blocking
host calls sit in the two cores, registered with the signals layer as
interruptible at the end of this module.
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

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import syscall
from elfuse_py.syscalls.net import consts as C
from elfuse_py.syscalls.net import creds, framing, msg as M, netlink, peekoff, policies, sockaddr as SA
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.names import (guest_addr, guest_name_from_host, host_name, passcred_autobind,
                                sender_name_from_host, unix_host_sockaddr)
from elfuse_py.syscalls.net.sockets import NAMEBUF, err, host_type, interrupted, sock_check, sock_domain
from elfuse_py.syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc
SIGPIPE = 13


def _hptr(addr: int):
    return ffi.cast("void *", proc.mem.host_base + addr)


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
    try:
        flags = s32(flags)
        st = proc.fds.get(fd) if proc.fds.valid(fd) else None
        if st is not None and getattr(st, "intercepts_io", False) or addr:
            return _sendmsg_views(fd, [proc.mem.view(buf, n)] if n else [], addr, addrlen, b"", flags)
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        if n:
            proc.mem.check(buf, n, 1)
        r = libc.sendto(fd, _hptr(buf), n, C.msg_to_host(flags), ffi.NULL, 0)
        if r < 0:
            return _epipe(err(), flags, fd)
        return r
    except InterruptedError:
        return interrupted(fd, True)


@syscall("recvfrom", "fd, buf_out, size, hex, ptr, ptr", interruptible=True)
def sys_recvfrom(fd, buf, n, flags, addr, lenp):
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
        return r if r >= 0 else err()
    except InterruptedError:
        return interrupted(fd, False)


def _recv_fault(fd: int, flags: int, n: int = 0) -> int:
    """A bad buffer: Linux only faults when data arrives, so an empty
    non-blocking socket still says EAGAIN (and a bad fd EBADF/ENOTSOCK).
    TCP's MSG_TRUNC discards without touching the buffer at all."""
    e = sock_check(fd)
    if e:
        return e
    if flags & C.MSG_TRUNC and sock_domain(fd) in (C.AF_INET, C.AF_INET6) \
            and host_type(fd) == _s.SOCK_STREAM:
        r = libc.recvfrom(fd, ffi.NULL, n, C.msg_to_host(flags), ffi.NULL, ffi.NULL)
        return r if r >= 0 else err()
    nonblock = flags & C.MSG_DONTWAIT or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
    if nonblock:
        import select
        p = select.poll()                 # not select: fds past FD_SETSIZE
        p.register(fd, select.POLLIN)
        if not p.poll(0):
            return -lerrno.EAGAIN
    return -lerrno.EFAULT


def _sendmsg_views(fd: int, views: list, name_addr: int, namelen: int, control: bytes,
                   flags: int, hname: bytes = b"") -> int:
    """sendmsg core: views of guest data, guest name (or a host one), guest control bytes."""
    e = sock_check(fd)
    if e:
        return e
    st = proc.fds.get(fd)
    if isinstance(st, netlink.NetlinkState):
        return _netlink_send(st, views, name_addr, namelen, flags)
    family = st.family if isinstance(st, SockState) else None
    if name_addr:
        try:
            raw = guest_addr(name_addr, namelen)
        except M.LinuxError as ex:
            return -ex.err
        if family is None:
            family = sock_domain(fd)
        if raw and family == C.AF_UNIX and SA.guest_family(raw) == C.AF_UNIX:
            bad = policies.validate_unix(raw)
            if bad:
                return -bad
            raw = policies.in_root(raw)
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
        passcred_autobind(fd, st, hostcaps.caps())
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
            fds, ucred = M.parse_send_control(control, family == C.AF_UNIX)
        except M.LinuxError as ex:
            return -ex.err
        if fds and policies.needs_registry():
            for f in fds:
                s = proc.fds.get(f)
                if isinstance(s, SockState) and s.type == C.SOCK_SEQPACKET:
                    policies.register(f, s)
        hcontrol = M.host_control(fds, ucred)
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
        return _epipe(err(), flags, fd)
    return r


def _netlink_send(st, views: list, name_addr: int, namelen: int, flags: int) -> int:
    """netlink_sendmsg: the emulated kernel answers at once (control messages are ignored)."""
    if flags & C.MSG_OOB:
        return -lerrno.EOPNOTSUPP
    dest = None
    if name_addr:
        try:
            d = netlink.parse_addr(guest_addr(name_addr, namelen))
        except M.LinuxError as ex:
            return -ex.err
        if isinstance(d, int):
            return d
        dest = d
    return st.send(b"".join(bytes(v) for v in views), dest)


def _raw_control() -> bool:
    """Control messages of a non-AF_UNIX socket may pass through untranslated: a
    Linux host with asm-generic numbers and LP64 cmsg layout (x86_64, arm64)."""
    return hostcaps.caps().linux_sockopts and host.CMSG_HDR.size == M.CMSGHDR.size


def _recv_views(fd: int, views: list, flags: int, want_name: bool, guest_ctl: int
                ) -> tuple[int, bytes | None, bytes, int]:
    """recvmsg core -> (result or -errno, guest name, guest control bytes, guest msg_flags)."""
    st = proc.fds.get(fd)
    if peekoff.applies(st):
        res = peekoff.recv(fd, st, views, flags, _recv_core, want_name, guest_ctl)
    else:
        res = _recv_core(fd, views, flags, want_name, guest_ctl)
    return res[:4]


def _recv_core(fd: int, views: list, flags: int, want_name: bool, guest_ctl: int
               ) -> tuple[int, bytes | None, bytes, int, int]:
    """_recv_views, plus the whole message's length where it is known (framed), else -1."""
    st = proc.fds.get(fd)
    length = -1
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
            return -lerrno.to_linux(-r), None, b"", 0, -1
        mflags = C.msg_from_host(hmf)
        if length > want_total:
            mflags |= C.MSG_TRUNC
            if flags & C.MSG_TRUNC:
                r = length
        name = st.peer if want_name else None
        if want_name and name is None:
            try:
                name = sender_name_from_host(host_name(libc.getpeername, fd))
            except OSError:
                name = b""
    else:
        nl = isinstance(st, netlink.NetlinkState)
        full = netlink.real_length(fd) if nl and flags & C.MSG_TRUNC else -1
        iov, keep = host.iovec_array(views)
        m = ffi.new("struct msghdr *")
        m.msg_iov = iov
        m.msg_iovlen = len(views)
        nbuf = ffi.new("char[]", NAMEBUF)
        m.msg_name = nbuf
        m.msg_namelen = NAMEBUF
        cbuf = ffi.new("char[]", ctl_size)
        m.msg_control = cbuf
        m.msg_controllen = ctl_size
        while True:
            r = libc.recvmsg(fd, m, hflags)
            if r >= 0 or ffi.errno != _herr.EINTR:
                break
        if r < 0:
            return err(), None, b"", 0, -1
        mflags = C.msg_from_host(m.msg_flags)
        hctl = ffi.buffer(cbuf, m.msg_controllen)[:]
        if nl:
            if not flags & C.MSG_PEEK:
                st.push()                    # the next part of a dump, now that there is room
            if full > r and mflags & C.MSG_TRUNC:
                r = full
            return r, netlink.sockaddr(0) if want_name else None, b"", mflags, -1
        if passcred and m.msg_namelen:
            sender = ffi.buffer(nbuf, m.msg_namelen)[:]
        if raw_ctl:
            name = None
            if want_name:
                nl = m.msg_namelen
                name = guest_name_from_host(ffi.buffer(nbuf, nl)[:]) if nl else b""
            return r, name, hctl, mflags, -1
        name = None
        if want_name:
            nl = m.msg_namelen
            if isinstance(st, SockState) and st.peer is not None and st.type != C.SOCK_DGRAM:
                name = st.peer
            else:
                name = sender_name_from_host(ffi.buffer(nbuf, nl)[:nl])
    others = [] if hctl and _raw_control() else None
    fds, ucred = M.parse_host_control(hctl, others) if hctl else ([], None)
    fds_ok = []
    for f in fds:
        if f >= proc.fds.ceiling:
            os.close(f)
            continue
        proc.fds.on_close(f)
        if policies.needs_registry():
            s = policies.lookup(f)
            if s is not None:
                proc.fds.set(f, s)
        fds_ok.append(f)
    if passcred and ucred is None:
        ucred = _emulated_creds(fd, st, sender)
    if ucred is not None and not (passcred or hostcaps.caps().passcred):
        ucred = None
    gctl, cflags = M.build_guest_control(guest_ctl, ucred, fds_ok, bool(flags & C.MSG_CMSG_CLOEXEC),
                                         others)
    if len(fds_ok) < len(fds):
        cflags |= C.MSG_CTRUNC
    return r, name, gctl, mflags | cflags, length


def _emulated_creds(fd: int, st: SockState, sender: bytes = b"") -> tuple[int, int, int]:
    """SCM_CREDENTIALS where the host has none: the peer's credentials as the policy
    knows them (creds.peer_creds), else those recorded by a bound datagram sender,
    else Linux's 'unknown' (pid 0, uid/gid -1)."""
    pc = creds.peer_creds(fd, st)
    if pc is not None and pc[0]:
        return pc
    if sender:
        bc = creds.binder_credentials(sender)
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
    try:
        e = sock_check(fd)
        if e:
            return e
        return _wrap(_do_sendmsg, fd, mh, s32(flags))
    except InterruptedError:
        return interrupted(fd, True)


@syscall("recvmsg", "fd, ptr, hex", interruptible=True)
def sys_recvmsg(fd, mh, flags):
    try:
        e = sock_check(fd)
        if e:
            return e
        return _wrap(_do_recvmsg, fd, mh, s32(flags))
    except InterruptedError:
        return interrupted(fd, False)


@syscall("sendmmsg", "fd, ptr, uint, hex")
def sys_sendmmsg(fd, vec, vlen, flags):
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
                return interrupted(fd, True)
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
                return interrupted(fd, False)
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


# The blocking host calls of recvmsg/sendmsg/recvmmsg/sendmmsg sit in these
# helpers, below the handler's own frame: let guest signals interrupt them.
signals.register_interruptible(_recv_views, _recv_core, _sendmsg_views)
