"""Guest path -> host path translation (the guest root, /proc emulation hook).

Without a sysroot a guest path is the host path.  With one (`--sysroot`,
ELFUSE_SYSROOT) an absolute guest path resolves inside it first and falls back
to the host path where the sysroot has no such file.
"""
from __future__ import annotations

import os

sysroot: str | None = None


def host_path(guest: bytes) -> str:
    """The host path for a guest path given as bytes."""
    path = os.fsdecode(guest)
    if sysroot and path.startswith("/"):
        candidate = os.path.join(sysroot, path.lstrip("/"))
        if os.path.lexists(candidate):
            return candidate
    return path


def open_special(guest: bytes, flags: int, mode: int) -> int | None:
    """An fd for a path the emulator synthesises (/proc/self/maps, …), or None.

    `flags` are Linux open flags.  The procfs module replaces this function.
    """
    return None


def readlink_special(guest: bytes) -> bytes | None:
    """The link target of an emulated link (/proc/self/exe, /proc/self/fd/N), or None."""
    return None
