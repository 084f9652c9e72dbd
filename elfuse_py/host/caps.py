"""What the host kernel can do natively, probed once, lazily.

Nothing here runs at emulator start-up: the first socket syscall calls
:func:`caps`, so programs that never touch sockets pay nothing.

``ELFUSE_HOST_COMPAT=darwin`` makes a Linux host report macOS's answers, so
every macOS fallback (SEQPACKET over STREAM/DGRAM, file-backed abstract names,
credentials from the peer, 104-byte sun_path, fcntl for SOCK_NONBLOCK and
SOCK_CLOEXEC, emulated MSG_NOSIGNAL) runs and can be tested on Linux.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

from elfuse_py.host import platform


@dataclass(frozen=True)
class HostCaps:
    compat: str               # "" (native answers) or "darwin"
    seqpacket: bool           # AF_UNIX SOCK_SEQPACKET exists
    abstract: bool            # AF_UNIX abstract namespace exists
    passcred: bool            # SO_PASSCRED / SCM_CREDENTIALS with struct ucred
    peercred: bool            # SO_PEERCRED (else LOCAL_PEERCRED/LOCAL_PEERPID)
    sock_flags: bool          # SOCK_NONBLOCK / SOCK_CLOEXEC in socket()'s type
    msg_nosignal: bool        # MSG_NOSIGNAL exists
    sun_path_max: int         # bytes in the host's sockaddr_un.sun_path
    linux_sockopts: bool = False  # a Linux host with the generic (asm-generic) option numbers:
                                  # socket options pass through unchanged, by meaning


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
                        msg_nosignal=False, sun_path_max=104)
    return HostCaps(
        compat="", seqpacket=_probe_seqpacket(), abstract=_probe_abstract(),
        passcred=hasattr(socket, "SO_PASSCRED") and hasattr(socket, "SCM_CREDENTIALS"),
        peercred=hasattr(socket, "SO_PEERCRED"),
        sock_flags=hasattr(socket, "SOCK_NONBLOCK") and hasattr(socket, "SOCK_CLOEXEC"),
        msg_nosignal=hasattr(socket, "MSG_NOSIGNAL"), sun_path_max=108,
        linux_sockopts=_probe_generic_sockopts())


def _probe_generic_sockopts() -> bool:
    """True on a Linux host whose socket option numbers are asm-generic's (x86_64,
    arm64, riscv...): a guest (level, option) then means the same on the host."""
    if not platform.IS_LINUX:
        return False
    s = socket
    return (s.SOL_SOCKET, s.SO_RCVLOWAT, s.SO_PASSCRED, s.SO_RCVTIMEO, s.SO_PEERCRED,
            s.IPPROTO_TCP, s.TCP_NODELAY) == (1, 18, 16, 20, 17, 6, 1)


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
