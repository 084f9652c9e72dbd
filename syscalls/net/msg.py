"""msghdr, cmsghdr and mmsghdr: guest (Linux AArch64) layouts, Linux's checks,
and the translation of SCM_RIGHTS / SCM_CREDENTIALS to and from the host.

Guest layouts: msghdr {void *name; int namelen; struct iovec *iov; size_t
iovlen; void *control; size_t controllen; int flags} (56 bytes); cmsghdr
{size_t len; int level; int type} aligned to 8; mmsghdr = msghdr + u32 len.
"""
from __future__ import annotations

import errno as _herr
import fcntl
import os
import socket as _s
import struct

from elfuse_py.host import caps as hostcaps
from elfuse_py.host import ids
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.net import consts as C
from elfuse_py.host import sockets as host

MSGHDR = struct.Struct("<QiIQQQQi4x")     # name, namelen, pad, iov, iovlen, control, controllen, flags
MMSGHDR_SIZE = 64
IOVEC = struct.Struct("<QQ")
CMSGHDR = struct.Struct("<Qii")
UCRED = struct.Struct("<iII")
UIO_MAXIOV = 1024
INT_MAX = 0x7FFFFFFF


def cmsg_align(n: int) -> int:
    return (n + 7) & ~7


def cmsg_len(n: int) -> int:
    return CMSGHDR.size + n


def cmsg_space(n: int) -> int:
    return CMSGHDR.size + cmsg_align(n)


class LinuxError(Exception):
    """A Linux errno decided by the emulator (not a host error)."""

    def __init__(self, err: int):
        super().__init__(err)
        self.err = err


def iov_views(iov: int, iovlen: int, write: bool) -> list[memoryview]:
    """Guest buffers of an iovec array (EMSGSIZE past UIO_MAXIOV, EINVAL for a
    negative length, EFAULT for a bad array or buffer)."""
    if iovlen > UIO_MAXIOV:
        raise LinuxError(lerrno.EMSGSIZE)
    if iovlen == 0:
        return []
    mem = proc.mem
    raw = mem.read(iov, 16 * iovlen)
    out = []
    for base, length in IOVEC.iter_unpack(raw):
        if length > 0x7FFFFFFFFFFFFFFF:
            raise LinuxError(lerrno.EINVAL)
        if length:
            out.append(mem.view(base, length, write=write))
    return out


# ----- sending ---------------------------------------------------------------------------------

def parse_send_control(raw: bytes, is_unix: bool) -> tuple[list[int], tuple | None]:
    """(fds, creds) from a guest control buffer, with __scm_send's checks."""
    fds: list[int] = []
    creds = None
    off = 0
    n = len(raw)
    while off + CMSGHDR.size <= n:
        clen, level, ctype = CMSGHDR.unpack_from(raw, off)
        if clen < CMSGHDR.size or clen > n - off:
            raise LinuxError(lerrno.EINVAL)
        if level == C.SOL_SOCKET:
            data = raw[off + CMSGHDR.size:off + clen]
            if not is_unix:
                # __sock_cmsg_send: SCM_RIGHTS/SCM_CREDENTIALS "are semantically in
                # SOL_UNIX" and ignored; a few others are dropped; the rest EINVAL.
                if ctype not in (C.SCM_RIGHTS, C.SCM_CREDENTIALS) and \
                        ctype not in C.SOCK_CMSG_SEND_OTHER:
                    raise LinuxError(lerrno.EINVAL)
            elif ctype == C.SCM_RIGHTS:
                num = len(data) // 4
                if num > 0:
                    if num + len(fds) > C.SCM_MAX_FD:
                        raise LinuxError(lerrno.EINVAL)
                    for (fd,) in struct.iter_unpack("<i", data[:num * 4]):
                        if not proc.fds.valid(fd):
                            raise LinuxError(lerrno.EBADF)
                        try:
                            os.fstat(fd)
                        except OSError:
                            raise LinuxError(lerrno.EBADF) from None
                        fds.append(fd)
            elif ctype == C.SCM_CREDENTIALS:
                if clen != cmsg_len(UCRED.size):
                    raise LinuxError(lerrno.EINVAL)
                pid, uid, gid = UCRED.unpack_from(data)
                check_creds(pid, uid, gid)
                creds = (pid, uid, gid)
            else:
                raise LinuxError(lerrno.EINVAL)
        off += cmsg_align(clen)
    return fds, creds


def check_creds(pid: int, uid: int, gid: int) -> None:
    """scm_check_creds for an unprivileged sender."""
    root = os.geteuid() == 0
    if pid != os.getpid() and not root:
        raise LinuxError(lerrno.EPERM)
    uids = set(ids.getresuid())
    gids = set(ids.getresgid())
    if (uid not in uids or gid not in gids) and not root:
        raise LinuxError(lerrno.EPERM)
    if pid != os.getpid():
        # __scm_send looks the pid up (find_get_pid): a pid nobody has is ESRCH.
        try:
            os.kill(pid, 0) if pid > 0 else None
        except ProcessLookupError:
            raise LinuxError(lerrno.ESRCH) from None
        except OSError:
            pass
        if pid <= 0:
            raise LinuxError(lerrno.ESRCH)


def host_control(fds: list[int], creds: tuple | None) -> bytes:
    """Host control bytes: one SCM_RIGHTS cmsg holding every fd (Linux merges
    them too; macOS only reads the first cmsg) and, where the host has it,
    SCM_CREDENTIALS."""
    out = bytearray()
    if fds:
        data = struct.pack(f"={len(fds)}i", *fds)
        out += host.CMSG_HDR.pack(host.cmsg_align(host.CMSG_HDR.size) + len(data),
                                  _s.SOL_SOCKET, _s.SCM_RIGHTS)
        out += b"\0" * (host.cmsg_align(host.CMSG_HDR.size) - host.CMSG_HDR.size)
        out += data + b"\0" * (host.cmsg_align(len(data)) - len(data))
    if creds is not None and hostcaps.caps().passcred and host.SCM_CREDENTIALS is not None:
        data = struct.pack("=iII", *creds)
        out += host.CMSG_HDR.pack(host.cmsg_align(host.CMSG_HDR.size) + len(data),
                                  _s.SOL_SOCKET, host.SCM_CREDENTIALS)
        out += b"\0" * (host.cmsg_align(host.CMSG_HDR.size) - host.CMSG_HDR.size)
        out += data + b"\0" * (host.cmsg_align(len(data)) - len(data))
    return bytes(out)


# ----- receiving -------------------------------------------------------------------------------

def host_recv_control_size() -> int:
    return host.cmsg_space(4 * C.SCM_MAX_FD) + host.cmsg_space(12)


def parse_host_control(raw: bytes, others: list | None = None) -> tuple[list[int], tuple | None]:
    """(received host fds, (pid, uid, gid) or None) from host control bytes; any
    other cmsg is appended to `others` as (level, type, data) if given (only where
    host and guest numbers and layouts agree: SCM_TIMESTAMP*, SCM_SECURITY...)."""
    fds: list[int] = []
    creds = None
    off = 0
    hdr = host.CMSG_HDR
    while off + hdr.size <= len(raw):
        clen, level, ctype = hdr.unpack_from(raw, off)
        if clen < hdr.size:
            break
        data = raw[off + host.cmsg_align(hdr.size):off + clen]
        if level == _s.SOL_SOCKET and ctype == _s.SCM_RIGHTS:
            fds.extend(x for (x,) in struct.iter_unpack("=i", data[:len(data) // 4 * 4]))
        elif level == _s.SOL_SOCKET and ctype == host.SCM_CREDENTIALS:
            creds = struct.unpack_from("=iII", data)
        elif others is not None:
            others.append((level, ctype, data))
        off += host.cmsg_align(clen)
    return fds, creds


def _put_cmsg(out: bytearray, room: int, level: int, ctype: int, data: bytes) -> tuple[int, int]:
    """put_cmsg: append one cmsg within `room` -> (room left, MSG_CTRUNC or 0)."""
    if room < CMSGHDR.size:
        return room, C.MSG_CTRUNC
    cmlen = cmsg_len(len(data))
    flags = 0
    if room < cmlen:
        flags, cmlen = C.MSG_CTRUNC, room
    out += (CMSGHDR.pack(cmlen, level, ctype) + data)[:cmlen]
    step = min(cmsg_space(len(data)), room)
    out += b"\0" * (step - cmlen)
    return room - step, flags


def build_guest_control(guest_len: int, creds: tuple | None, fds: list[int],
                        cloexec: bool, others: list | None = None) -> tuple[bytes, int]:
    """Linux's scm_recv into a guest buffer of `guest_len` bytes, after the
    receive timestamps and other cmsgs (`others`, put first as unix_dgram_recvmsg does).

    Returns (bytes to store, extra msg_flags).  Fds that do not fit are closed
    and MSG_CTRUNC is set, as put_cmsg/scm_detach_fds do.
    """
    out = bytearray()
    flags = 0
    room = guest_len
    for level, ctype, data in others or ():
        room, f = _put_cmsg(out, room, level, ctype, data)
        flags |= f
    if creds is not None:
        data = UCRED.pack(*creds)
        if room < CMSGHDR.size:
            flags |= C.MSG_CTRUNC
        else:
            clen = cmsg_len(len(data))
            full = CMSGHDR.pack(clen, C.SOL_SOCKET, C.SCM_CREDENTIALS) + data
            if room < clen:
                flags |= C.MSG_CTRUNC
                full = CMSGHDR.pack(clen, C.SOL_SOCKET, C.SCM_CREDENTIALS) + data
                full = full[:room]
            step = min(cmsg_space(len(data)), room)
            out += full.ljust(step, b"\0")[:step]
            room -= step
    if fds:
        fdmax = (room - CMSGHDR.size) // 4 if room > CMSGHDR.size else 0
        keep = fds[:max(fdmax, 0)]
        for fd in fds[len(keep):]:
            try:
                os.close(fd)
            except OSError:
                pass
        if cloexec:
            for fd in keep:
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
        if keep:
            data = struct.pack(f"<{len(keep)}i", *keep)
            clen = cmsg_len(len(data))
            step = min(cmsg_space(len(data)), room)
            out += (CMSGHDR.pack(clen, C.SOL_SOCKET, C.SCM_RIGHTS) + data).ljust(step, b"\0")[:step]
            room -= step
        if len(keep) < len(fds):
            flags |= C.MSG_CTRUNC
    return bytes(out), flags


def einval() -> OSError:
    return OSError(_herr.EINVAL, "invalid")
