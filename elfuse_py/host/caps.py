"""What the host kernel can do natively, probed once, lazily.

Nothing here runs at emulator start-up: the first socket syscall calls
:func:`caps`, so programs that never touch sockets pay nothing.

``ELFUSE_HOST_COMPAT=darwin`` makes a Linux host report macOS's answers, so
every macOS fallback (SEQPACKET over STREAM/DGRAM, file-backed abstract names,
credentials from the peer, 104-byte sun_path, fcntl for SOCK_NONBLOCK and
SOCK_CLOEXEC, emulated MSG_NOSIGNAL) runs and can be tested on Linux.  What
the Linux that plays a Mac cannot do like a Mac (ask LOCAL_PEERCRED) it reports
as missing (`peer_lookup`), and the socket layer's own records answer instead.
"""
from __future__ import annotations

import socket
from collections import namedtuple

from elfuse_py.host import platform
from elfuse_py.host import sockets as hostsock


# A frozen record (a namedtuple: `dataclasses` costs milliseconds of start-up).
#   compat          "" (native answers) or "darwin"
#   seqpacket       AF_UNIX SOCK_SEQPACKET exists
#   abstract        AF_UNIX abstract namespace exists
#   passcred        SO_PASSCRED / SCM_CREDENTIALS with struct ucred
#   peercred        SO_PEERCRED (else LOCAL_PEERCRED/LOCAL_PEERPID)
#   sock_flags      SOCK_NONBLOCK / SOCK_CLOEXEC in socket()'s type
#   msg_nosignal    MSG_NOSIGNAL exists
#   sun_path_max    bytes in the host's sockaddr_un.sun_path
#   peer_lookup     the host tells a connected AF_UNIX peer's credentials
#                   (SO_PEERCRED or LOCAL_PEERCRED); else the emulator's records
#   linux_sockopts  a Linux host with the generic (asm-generic) option numbers:
#                   socket options pass through unchanged, by meaning
HostCaps = namedtuple("HostCaps", ["compat", "seqpacket", "abstract", "passcred", "peercred",
                                   "sock_flags", "msg_nosignal", "sun_path_max", "peer_lookup",
                                   "linux_sockopts"], defaults=(True, False))


_caps: HostCaps | None = None


def _probe_seqpacket() -> bool:
    try:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except (OSError, AttributeError):
        return False
    a.close()
    b.close()
    return True


def _probe_abstract() -> bool:
    if not platform.IS_LINUX:
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind(b"")           # autobind: lands in the abstract namespace on Linux
        return s.getsockname().startswith(b"\0")
    except OSError:
        return False
    finally:
        s.close()


def probe(compat: str | None = None) -> HostCaps:
    """Probe the host (no caching); `compat` overrides ELFUSE_HOST_COMPAT."""
    if compat is None:
        compat = platform.COMPAT
    if compat == "darwin" or platform.IS_DARWIN:
        return HostCaps(compat="darwin" if not platform.IS_DARWIN else "", seqpacket=False,
                        abstract=False, passcred=False, peercred=False, sock_flags=False,
                        msg_nosignal=False, sun_path_max=104,
                        peer_lookup=platform.IS_DARWIN)
    return HostCaps(
        compat="", seqpacket=_probe_seqpacket(), abstract=_probe_abstract(),
        passcred=hostsock.sockopt("SO_PASSCRED") is not None and hasattr(socket, "SCM_CREDENTIALS"),
        peercred=hostsock.sockopt("SO_PEERCRED") is not None,
        sock_flags=hasattr(socket, "SOCK_NONBLOCK") and hasattr(socket, "SOCK_CLOEXEC"),
        msg_nosignal=hasattr(socket, "MSG_NOSIGNAL"), sun_path_max=108,
        peer_lookup=hostsock.PEER_CREDENTIALS,
        # A Linux host with asm-generic option numbers (x86_64, arm64, riscv...):
        # a guest (level, option) then means the same on the host.
        linux_sockopts=hostsock.LINUX_GENERIC)


def caps() -> HostCaps:
    """The host's capabilities, probed on first use."""
    global _caps
    if _caps is None:
        _caps = probe()
    return _caps


def reset(compat: str | None = None) -> HostCaps:
    """Re-probe (tests use this to switch policies in one process)."""
    global _caps
    _caps = probe(compat)
    return _caps
