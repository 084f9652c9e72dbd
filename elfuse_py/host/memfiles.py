"""Anonymous files: a file with no name, for memfd_create, /proc snapshots and exec state.

Linux has memfd_create (sealing included); macOS does not, and an unlinked
temporary file has the same file semantics without seals.  One interface,
chosen once:

- `anonymous(name, cloexec, sealing)`: a read-write fd on a new empty file;
- `snapshot(data)`: a read-only fd on a file holding `data`, at offset 0,
  an open file of its own (a reader's offset is not shared with any writer);
- `HAVE_SEALS`: whether F_ADD_SEALS/F_GET_SEALS work on `anonymous` files.
"""
from __future__ import annotations

import os

from elfuse_py.host import platform


class _Linux:
    HAVE_SEALS = hasattr(os, "memfd_create") and hasattr(os, "MFD_ALLOW_SEALING")

    @staticmethod
    def anonymous(name: str, cloexec: bool, sealing: bool = False) -> int:
        flags = (os.MFD_CLOEXEC if cloexec else 0) | (os.MFD_ALLOW_SEALING if sealing else 0)
        return os.memfd_create(name, flags)

    @classmethod
    def snapshot(cls, data: bytes) -> int:
        wfd = cls.anonymous("elfuse-snapshot", True)
        try:
            os.write(wfd, data)
            # Reopening through /proc gives an independent, read-only open file.
            return os.open(f"/proc/self/fd/{wfd}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(wfd)


class _Portable:
    HAVE_SEALS = False

    @staticmethod
    def anonymous(name: str, cloexec: bool, sealing: bool = False) -> int:
        import tempfile                     # not at start-up: a plain run never needs it
        fd, path = tempfile.mkstemp(prefix="elfuse-memfd-")
        os.unlink(path)
        os.set_inheritable(fd, not cloexec)
        return fd

    @staticmethod
    def snapshot(data: bytes) -> int:
        import tempfile
        wfd, path = tempfile.mkstemp(prefix="elfuse-proc-")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            os.unlink(path)
            os.write(wfd, data)
        finally:
            os.close(wfd)
        return fd


_IMPL = _Linux if platform.IS_LINUX and platform.MODEL == "linux" and hasattr(os, "memfd_create") \
    and os.path.isdir("/proc/self/fd") else _Portable
HAVE_SEALS = _IMPL.HAVE_SEALS
anonymous = _IMPL.anonymous
snapshot = _IMPL.snapshot
