"""The emulator's own diagnostics channel (warnings, --strace, fault lines).

It writes to a duplicate of the original stderr kept in the reserved fd
range, so a guest that closes or redirects its fd 2 does not silence the
emulator or receive its messages on a socket.
"""
from __future__ import annotations

import os

_fd = 2


def set_fd(fd: int) -> None:
    global _fd
    _fd = fd


def get_fd() -> int:
    return _fd


def emit(text: str) -> None:
    """Write one or more complete lines; never raises."""
    data = text.encode("utf-8", "backslashreplace")
    try:
        while data:
            n = os.write(_fd, data)
            data = data[n:]
    except OSError:
        pass


_warned: set[str] = set()


def warn_once(key: str, text: str) -> None:
    if key not in _warned:
        _warned.add(key)
        emit(f"elfuse-py: {text}\n")
