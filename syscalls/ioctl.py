"""ioctl: tty requests (termios, window size, process group, flush/flow,
pseudo-terminal masters), the generic FIONREAD/FIONBIO/FIOCLEX/FIONCLEX, and
the interface queries of sockets (SIOCGIFINDEX, SIOCGIFNAME...: net/ifioctl.py).

Requests are Linux AArch64 numbers (below); each maps to a host call through
Python's termios/fcntl/os functions, with struct termios translated field by
field (syscalls.ttyflags).  Unknown requests are ENOTTY, as Linux answers for
a file that does not implement them.

The `termios` module and the translation tables load on the first request
that needs them (`_termios`), not with this module: nearly every program's
first ioctl is the window-size query of its C library's stdio, answered
without them where the host's number is known (host/tty.py), ~0.5 ms of its
start-up.
"""
from __future__ import annotations

import fcntl
import os
import struct
import sys

from elfuse_py.host import tty as hosttty
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import NEG_EINVAL, check_fd, new_fd
from elfuse_py.syscalls.table import PARTIAL, syscall

# The tty requests, Linux AArch64's numbers (asm-generic/ioctls.h).
TCGETS, TCSETS, TCSETSW, TCSETSF = 0x5401, 0x5402, 0x5403, 0x5404
TCSBRK, TCXONC, TCFLSH = 0x5409, 0x540A, 0x540B
TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCOUTQ = 0x540E, 0x540F, 0x5410, 0x5411
TIOCGWINSZ, TIOCSWINSZ = 0x5413, 0x5414
FIONREAD = 0x541B
FIONBIO, TIOCNOTTY = 0x5421, 0x5422
TIOCGSID = 0x5429
FIONCLEX, FIOCLEX = 0x5450, 0x5451
TIOCGPTN, TIOCSPTLCK = 0x80045430, 0x40045431     # _IOR('T', 0x30, u32), _IOW('T', 0x31, int)
TIOCGPTPEER = 0x5441

_INT = struct.Struct("<i")


def _termios():
    """The host's termios module, imported on the first request that needs it."""
    import termios
    return termios


def _ttyflags():
    """The struct termios translation (it imports termios itself)."""
    from elfuse_py.syscalls import ttyflags
    return ttyflags


def _tcgets(fd: int, arg: int) -> int:
    proc.mem.write(arg, _ttyflags().termios_to_linux(_termios().tcgetattr(fd)))
    return 0


def _tcsets(when: str):
    def handler(fd: int, arg: int) -> int:
        termios, ttyflags = _termios(), _ttyflags()
        raw = proc.mem.read(arg, ttyflags.TERMIOS.size)
        cur = termios.tcgetattr(fd)
        termios.tcsetattr(fd, getattr(termios, when), ttyflags.termios_to_host(raw, cur))
        return 0
    return handler


def _tiocgwinsz(fd: int, arg: int) -> int:
    res = fcntl.ioctl(fd, hosttty.TIOCGWINSZ or _termios().TIOCGWINSZ, b"\0" * 8)
    proc.mem.pack(abi.WINSIZE, arg, *struct.unpack("HHHH", res))
    return 0


def _tiocswinsz(fd: int, arg: int) -> int:
    vals = proc.mem.unpack(abi.WINSIZE, arg)
    fcntl.ioctl(fd, _termios().TIOCSWINSZ, struct.pack("HHHH", *vals))
    return 0


def _tiocgpgrp(fd: int, arg: int) -> int:
    proc.mem.pack(_INT, arg, os.tcgetpgrp(fd))
    return 0


def _tiocspgrp(fd: int, arg: int) -> int:
    os.tcsetpgrp(fd, proc.mem.unpack(_INT, arg)[0])
    return 0


def _int_out(name: str):
    def handler(fd: int, arg: int) -> int:
        req = getattr(_termios(), name, None)
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
    fcntl.ioctl(fd, _termios().TIOCSCTTY, s32(arg))
    return 0


def _tiocnotty(fd: int, arg: int) -> int:
    fcntl.ioctl(fd, _termios().TIOCNOTTY)
    return 0


def _tcflsh(fd: int, arg: int) -> int:
    name = _ttyflags().TCFLSH_ARGS.get(s32(arg))
    if name is None:
        return NEG_EINVAL
    termios = _termios()
    termios.tcflush(fd, getattr(termios, name))
    return 0


def _tcxonc(fd: int, arg: int) -> int:
    name = _ttyflags().TCXONC_ARGS.get(s32(arg))
    if name is None:
        return NEG_EINVAL
    termios = _termios()
    termios.tcflow(fd, getattr(termios, name))
    return 0


def _tcsbrk(fd: int, arg: int) -> int:
    if s32(arg):
        _termios().tcdrain(fd)
    else:
        _termios().tcsendbreak(fd, 0)
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


IOCTLS = {
    TIOCGPTN: _tiocgptn, TIOCSPTLCK: _tiocsptlck, TIOCGPTPEER: _tiocgptpeer,
    TCGETS: _tcgets, TCSETS: _tcsets("TCSANOW"),
    TCSETSW: _tcsets("TCSADRAIN"), TCSETSF: _tcsets("TCSAFLUSH"),
    TIOCGWINSZ: _tiocgwinsz, TIOCSWINSZ: _tiocswinsz,
    TIOCGPGRP: _tiocgpgrp, TIOCSPGRP: _tiocspgrp,
    FIONREAD: _fionread, TIOCOUTQ: _int_out("TIOCOUTQ"),
    TIOCGSID: _int_out("TIOCGSID"),
    FIONBIO: _fionbio, FIOCLEX: _fioclex(True), FIONCLEX: _fioclex(False),
    TIOCSCTTY: _tiocsctty, TIOCNOTTY: _tiocnotty,
    TCFLSH: _tcflsh, TCXONC: _tcxonc, TCSBRK: _tcsbrk,
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
    except Exception as e:  # noqa: BLE001 - only termios.error is answered here
        # (termios.error is no OSError; it comes only from a handler that loaded termios)
        termios = sys.modules.get("termios")
        if termios is not None and isinstance(e, termios.error):
            return -lerrno.to_linux(e.args[0])
        raise
