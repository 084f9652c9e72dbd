"""The emulator's own diagnostics channel (warnings, --strace, fault lines, bug reports).

The guest's fd 2 is the guest's: the emulator never writes there.  Its
messages go to one of:

- a duplicate of the stderr the emulator was started with (the default),
  kept in the reserved fd range (runtime/fdtable.py), so a guest that closes
  or redirects its fd 2 neither silences the emulator nor receives its
  messages in its file or on a socket;
- a file named by `-D FILE` / ELFUSE_LOG=FILE (appended to, as qemu's -D);
- nowhere, with `-q` / ELFUSE_QUIET=1.

The channel survives the guest's execve: the exec'd emulator gets the same
fd back (syscalls/execve.py carries it) instead of taking the new image's
fd 2, which by then may be a file the guest redirected it to.
"""
from __future__ import annotations

import os
import sys

_fd = 2
_file: str | None = None
_quiet = False
_carried: int | None = None         # the channel an exec'd image inherited (-1: silenced)


def configure(file: str | None = None, quiet: bool = False) -> None:
    """Choose the channel before the machine is made (the CLI's -D / -q)."""
    global _file, _quiet
    _file, _quiet = file, quiet


def carry(fd: int) -> None:
    """In an exec'd image: the channel the image before it used (an inherited fd, or -1)."""
    global _carried
    _carried = fd


def open_channel() -> int | None:
    """A host fd for the channel (the caller moves it into the reserved range); None: silent."""
    if _carried is not None:
        return None if _carried < 0 else _carried
    if _quiet:
        return None
    if _file:
        try:
            return os.open(_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as e:
            sys.__stderr__.write(f"elfuse-py: cannot open log file {_file}: {e.strerror}\n")
    try:
        return os.dup(2)
    except OSError:
        # Started with stderr closed: the emulator's diagnostics go nowhere, as a
        # native program's would.
        return None


def set_fd(fd: int) -> None:
    """Use host fd `fd` (-1: none) from now on; Python's own stderr (tracebacks in
    helper threads, warnings) goes there too, never to the guest's fd 2."""
    global _fd
    _fd = fd
    if fd < 0:
        # No channel: discard.  (Opening /dev/null would take the lowest free fd,
        # which is a guest number: a closed fd 2 would look open to the guest.)
        sys.stderr = _Discard()
        return
    try:
        sys.stderr = open(fd, "w", buffering=1, closefd=False, errors="backslashreplace")
    except (OSError, ValueError):
        pass


class _Discard:
    """A text stream that drops what is written (sys.stderr with no channel)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def get_fd() -> int:
    return _fd


def emit(text: str) -> None:
    """Write one or more complete lines; never raises."""
    if _fd < 0:
        return
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
