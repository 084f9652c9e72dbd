"""Per-socket emulator state (an FdState): only sockets a host policy touches
have one; on a Linux host under the default policy most sockets have none.

It records what the host socket cannot tell: the guest's type, domain and
protocol when the host socket is a stand-in (SEQPACKET fallback) or the host
cannot report them (a raw socket's protocol on macOS), whether the stream
carries framed messages, the guest-visible names when the host names differ
(abstract names as files, long paths bound under a directory fd), and the
options and facts the host does not keep: SO_PASSCRED, SO_PEEK_OFF and
SO_PRIORITY where they are emulated, a socketpair's creator credentials, the
peer's credentials where the host cannot tell them (creds.py), and for
POLLRDHUP without the host's (readiness.py) an own SHUT_RD and a socketpair's
other end.
"""
from __future__ import annotations

from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.lerrno import to_linux
from elfuse_py.syscalls.net.framing import recv_frame, send_frame


class SockState(FdState):
    """Picklable: survives execve with the fd table."""

    # Emulated options and facts (class defaults: also right for states made before them).
    peek_off = -1                                  # SO_PEEK_OFF (-1: off)
    priority = 0                                   # SO_PRIORITY
    peer_creds: tuple[int, int, int] | None = None  # the peer's, taken at connect/accept/listen
    rd_shut = False                                # own SHUT_RD (POLLRDHUP)
    partner: tuple[int, int, int] | None = None     # socketpair's other end: (dev, ino, ctime_ns)

    def __init__(self, family: int, stype: int, protocol: int, *, framed: bool = False) -> None:
        self.family = family
        self.type = stype
        self.protocol = protocol
        self.framed = framed
        self.intercepts_io = framed
        self.name: bytes | None = None       # guest sockaddr bytes of our own name
        self.peer: bytes | None = None       # guest sockaddr bytes of the peer's name
        self.passcred = False
        self.pair_creds: tuple[int, int, int] | None = None

    def io_read(self, fd: int, views: list) -> int:
        n = recv_frame(fd, views, 0)[0]
        return n if n >= 0 else -to_linux(-n)

    def io_write(self, fd: int, views: list) -> int:
        n = send_frame(fd, views, b"", 0)     # SEQPACKET: EPIPE without SIGPIPE, as Linux
        return n if n >= 0 else -to_linux(-n)

    def __repr__(self) -> str:
        return (f"SockState(family={self.family}, type={self.type}, proto={self.protocol}, "
                f"framed={self.framed}, name={self.name!r})")
