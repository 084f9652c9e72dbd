"""ioctl: tty requests (termios, window size, process group, flush/flow,
pseudo-terminal masters), the generic FIONREAD/FIONBIO/FIOCLEX/FIONCLEX, and
the interface queries of sockets (SIOCGIFINDEX, SIOCGIFNAME...: net/ifioctl.py).

Requests are Linux AArch64 numbers (syscalls.ttyflags); each maps to a host
call through Python's termios/fcntl/os functions, with struct termios
translated field by field.  Unknown requests are ENOTTY, as Linux answers
for a file that does not implement them.
"""
from __future__ import annotations

import fcntl
import os
import struct
import termios

from elfuse_py.host import tty as hosttty
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi, ttyflags
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import NEG_EINVAL, check_fd, new_fd
from elfuse_py.syscalls.table import PARTIAL, syscall

_INT = struct.Struct("<i")


def _tcgets(fd: int, arg: int) -> int:
    proc.mem.write(arg, ttyflags.termios_to_linux(termios.tcgetattr(fd)))
    return 0


def _tcsets(when: int):
    def handler(fd: int, arg: int) -> int:
        raw = proc.mem.read(arg, ttyflags.TERMIOS.size)
        cur = termios.tcgetattr(fd)
        termios.tcsetattr(fd, when, ttyflags.termios_to_host(raw, cur))
        return 0
    return handler


def _tiocgwinsz(fd: int, arg: int) -> int:
    res = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    proc.mem.pack(abi.WINSIZE, arg, *struct.unpack("HHHH", res))
    return 0


def _tiocswinsz(fd: int, arg: int) -> int:
    vals = proc.mem.unpack(abi.WINSIZE, arg)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *vals))
    return 0


def _tiocgpgrp(fd: int, arg: int) -> int:
    proc.mem.pack(_INT, arg, os.tcgetpgrp(fd))
    return 0


def _tiocspgrp(fd: int, arg: int) -> int:
    os.tcsetpgrp(fd, proc.mem.unpack(_INT, arg)[0])
    return 0


def _int_out(name: str):
    req = getattr(termios, name, None)

    def handler(fd: int, arg: int) -> int:
        if req is None:
            return -lerrno.ENOTTY
        res = fcntl.ioctl(fd, req, b"\0\0\0\0")
        proc.mem.pack(_INT, arg, struct.unpack("i", res)[0])
        return 0
    return handler


_host_fionread = _int_out("FIONREAD")


def _fionread(fd: int, arg: int) -> int:
    st = proc.fds.get(fd)
    # A framed SEQPACKET socket (the macOS fallback, syscalls/net/framing.py) holds
    # frame headers in its host queue: count the guest's payload bytes only.
    if getattr(st, "framed", False):
        from elfuse_py.syscalls.net import framing      # (loaded with the socket already)
        proc.mem.pack(_INT, arg, framing.inq(fd))
        return 0
    # An emulated object that knows what a read would find (the inotify twin).
    inq = getattr(st, "fionread", None)
    if inq is not None:
        proc.mem.pack(_INT, arg, inq(fd))
        return 0
    return _host_fionread(fd, arg)


def _fionbio(fd: int, arg: int) -> int:
    os.set_blocking(fd, not proc.mem.unpack(_INT, arg)[0])
    return 0


def _fioclex(on: bool):
    def handler(fd: int, arg: int) -> int:
        os.set_inheritable(fd, not on)
        return 0
    return handler


def _tiocsctty(fd: int, arg: int) -> int:
    fcntl.ioctl(fd, termios.TIOCSCTTY, s32(arg))
    return 0


def _tiocnotty(fd: int, arg: int) -> int:
    fcntl.ioctl(fd, termios.TIOCNOTTY)
    return 0


def _tcflsh(fd: int, arg: int) -> int:
    name = ttyflags.TCFLSH_ARGS.get(s32(arg))
    if name is None:
        return NEG_EINVAL
    termios.tcflush(fd, getattr(termios, name))
    return 0


def _tcxonc(fd: int, arg: int) -> int:
    name = ttyflags.TCXONC_ARGS.get(s32(arg))
    if name is None:
        return NEG_EINVAL
    termios.tcflow(fd, getattr(termios, name))
    return 0


def _tcsbrk(fd: int, arg: int) -> int:
    if s32(arg):
        termios.tcdrain(fd)
    else:
        termios.tcsendbreak(fd, 0)
    return 0


# Pseudo-terminal master ioctls (the host's numbers, None where it has none).
_HOST_TIOCGPTN, _HOST_TIOCSPTLCK, _HOST_TIOCGPTPEER = hosttty.TIOCGPTN, hosttty.TIOCSPTLCK, hosttty.TIOCGPTPEER


def _tiocgptn(fd: int, arg: int) -> int:
    if _HOST_TIOCGPTN is None:
        return -lerrno.ENOTTY
    res = fcntl.ioctl(fd, _HOST_TIOCGPTN, b"\0\0\0\0")
    proc.mem.pack(_INT, arg, struct.unpack("i", res)[0])
    return 0


def _tiocsptlck(fd: int, arg: int) -> int:
    if _HOST_TIOCSPTLCK is None:
        return -lerrno.ENOTTY
    fcntl.ioctl(fd, _HOST_TIOCSPTLCK, struct.pack("i", proc.mem.unpack(_INT, arg)[0]))
    return 0


def _tiocgptpeer(fd: int, arg: int) -> int:
    if _HOST_TIOCGPTPEER is None:
        return -lerrno.ENOTTY
    try:
        hflags = F.open_flags_to_host(arg & 0xFFFFFFFF)
    except KeyError:
        return NEG_EINVAL
    # fcntl.ioctl's int form returns the call's result: the new fd.
    new = new_fd(fcntl.ioctl(fd, _HOST_TIOCGPTPEER, hflags))
    proc.fds.on_close(new)
    return new


T = ttyflags
IOCTLS = {
    T.TIOCGPTN: _tiocgptn, T.TIOCSPTLCK: _tiocsptlck, T.TIOCGPTPEER: _tiocgptpeer,
    T.TCGETS: _tcgets, T.TCSETS: _tcsets(termios.TCSANOW),
    T.TCSETSW: _tcsets(termios.TCSADRAIN), T.TCSETSF: _tcsets(termios.TCSAFLUSH),
    T.TIOCGWINSZ: _tiocgwinsz, T.TIOCSWINSZ: _tiocswinsz,
    T.TIOCGPGRP: _tiocgpgrp, T.TIOCSPGRP: _tiocspgrp,
    T.FIONREAD: _fionread, T.TIOCOUTQ: _int_out("TIOCOUTQ"),
    T.TIOCGSID: _int_out("TIOCGSID"),
    T.FIONBIO: _fionbio, T.FIOCLEX: _fioclex(True), T.FIONCLEX: _fioclex(False),
    T.TIOCSCTTY: _tiocsctty, T.TIOCNOTTY: _tiocnotty,
    T.TCFLSH: _tcflsh, T.TCXONC: _tcxonc, T.TCSBRK: _tcsbrk,
}
# The socket ioctls (0x89xx: SIOCGIFINDEX, SIOCGIFNAME... net/ifioctl.py) join the
# table on the first request in their range: the socket layer they need costs start-up.
_SOCK_IOCTL_RANGE = range(0x8900, 0x8A00)


def _handler(request: int):
    handler = IOCTLS.get(request)
    if handler is None and request in _SOCK_IOCTL_RANGE:
        from elfuse_py.syscalls.net import ifioctl
        IOCTLS.update(ifioctl.IOCTLS)
        handler = IOCTLS.get(request)
    return handler


@syscall("ioctl", "fd, hex, hex", level=PARTIAL,
         note="tty (termios, winsize, pgrp, flush/flow), FIONREAD/FIONBIO/FIOCLEX and the "
              "SIOCGIF* interface queries on sockets; others ENOTTY", interruptible=True)
def sys_ioctl(fd, request, arg):
    fd = check_fd(fd)
    handler = _handler(request & 0xFFFFFFFF)
    if handler is None:
        os.fstat(fd)                 # EBADF first, as Linux checks the fd before the request
        return -lerrno.ENOTTY
    try:
        return handler(fd, arg)
    except termios.error as e:
        return -lerrno.to_linux(e.args[0])
