"""The emulator's private per-user runtime directory (created 0700, checked).

Emulators of one user share it: abstract socket names live there as files
(syscalls/net/policies.py), and so does the registry of live guests that the
synthesised /proc reads (elfuse_py/runtime/guests.py).  It is
$ELFUSE_RUNTIME_DIR, else $XDG_RUNTIME_DIR, else /tmp, plus elfuse-py-<uid>.

A directory at that path that is not ours (another user's, a symlink, not
private) is never used: the next of elfuse-py-<uid>-1 .. -<_TRIES> that is
(or can be made) ours is, so the emulators of one user still meet in the same
one, and if someone holds all of those, a fresh unique directory
(mkdtemp).  "Ours" is checked without following links (lstat) and again on
the opened directory (fstat: the same inode, a directory, our uid, mode 0700).
"""
from __future__ import annotations

import os
import stat
import tempfile

_path: str | None = None
_TRIES = 8


def _ours(path: str) -> bool:
    """True if `path` is a directory we own, private (no group/other bits), not a link."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fst = os.fstat(fd)
    finally:
        os.close(fd)
    return (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino) and fst.st_uid == os.getuid() \
        and not fst.st_mode & 0o077


def _make(path: str) -> bool:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    return _ours(path)


def runtime_dir() -> str:
    """The directory, created on first use (see the module docstring for which one)."""
    global _path
    if _path is not None:
        return _path
    inherited = os.environ.get("ELFUSE_RUNTIME_DIR_IN_USE")
    if inherited and _ours(inherited):         # the one the emulator before this execve used
        _path = inherited
        return _path
    base = os.environ.get("ELFUSE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    name = f"elfuse-py-{os.getuid()}"
    path = os.path.join(base, name)
    if len(path) > 60:                         # keep room for "/a-<hash>" within 104 bytes
        base, path = "/tmp", f"/tmp/{name}"
    for i in range(_TRIES + 1):
        candidate = path if i == 0 else f"{path}-{i}"
        if _make(candidate):
            _path = candidate
            break
    else:
        _path = tempfile.mkdtemp(prefix=name + "-", dir=base)     # 0700, unique, ours
    # The emulators this one starts (the guest's execve) use the same one.
    os.environ["ELFUSE_RUNTIME_DIR_IN_USE"] = _path
    return _path


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
