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
