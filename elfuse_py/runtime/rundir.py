"""The emulator's private per-user runtime directory (created 0700, checked).

Emulators of one user share it: abstract socket names live there as files
(syscalls/net/policies.py), and so does the registry of live guests that the
synthesised /proc reads (elfuse_py/runtime/guests.py) and each guest's
signal inbox (sigq/, elfuse_py/runtime/siginbox.py).  It is
$ELFUSE_RUNTIME_DIR, else $XDG_RUNTIME_DIR, else /tmp, plus elfuse-py-<uid>.
"""
from __future__ import annotations

import errno
import os
import stat

_path: str | None = None


def runtime_dir() -> str:
    """The directory, created on first use; EACCES if someone else's or not private."""
    global _path
    if _path is not None:
        return _path
    base = os.environ.get("ELFUSE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = os.path.join(base, f"elfuse-py-{os.getuid()}")
    if len(path) > 60:                         # keep room for "/a-<hash>" within 104 bytes
        path = f"/tmp/elfuse-py-{os.getuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)                        # never follow a planted symlink
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise OSError(errno.EACCES, f"unsafe runtime directory {path}")
    _path = path
    return path


def created() -> bool:
    """True once runtime_dir() has been called in this process."""
    return _path is not None


def subdir(name: str) -> str:
    """runtime_dir()/name, created 0700 if missing."""
    path = os.path.join(runtime_dir(), name)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    return path
