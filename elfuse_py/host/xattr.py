"""Host extended attributes: one interface, Linux's os.*xattr and macOS's libc calls.

The guest speaks Linux: names carry a namespace ("user.x", "trusted.x",
"security.x", "system.posix_acl_access").  Linux hosts take them as they are.
macOS has one flat namespace and its own signatures (a position and an
options argument: XATTR_NOFOLLOW, XATTR_CREATE, XATTR_REPLACE), so there the
guest's "user." names map to the bare host name and every other namespace is
EOPNOTSUPP, as Linux gives on a filesystem that does not support it.  Python
on macOS has no os.getxattr, so the macOS calls go through ctypes (only a Mac
exercises them).

`target` is a host path (str/bytes) or an open fd; `follow` says whether a
final symlink is followed.  Errors raise OSError with the host errno.
"""
from __future__ import annotations

import ctypes
import errno
import os

from elfuse_py.host import platform

class _Linux:
    AVAILABLE = hasattr(os, "getxattr")

    @staticmethod
    def get(target, name: bytes, follow: bool) -> bytes:
        return os.getxattr(target, name, follow_symlinks=follow)

    @staticmethod
    def list(target, follow: bool) -> list[bytes]:
        return [os.fsencode(x) for x in os.listxattr(target, follow_symlinks=follow)]

    @staticmethod
    def set(target, name: bytes, value: bytes, create: bool, replace: bool, follow: bool) -> None:
        flags = (os.XATTR_CREATE if create else 0) | (os.XATTR_REPLACE if replace else 0)
        os.setxattr(target, name, value, flags, follow_symlinks=follow)

    @staticmethod
    def remove(target, name: bytes, follow: bool) -> None:
        os.removexattr(target, name, follow_symlinks=follow)


class _Darwin:
    # <sys/xattr.h>
    _NOFOLLOW, _CREATE, _REPLACE = 0x1, 0x2, 0x4
    _USER = b"user."
    _libc = ctypes.CDLL(None, use_errno=True)
    AVAILABLE = hasattr(_libc, "getxattr")

    @classmethod
    def _host_name(cls, name: bytes) -> bytes:
        if not name.startswith(cls._USER) or len(name) == len(cls._USER):
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return name[len(cls._USER):]

    @classmethod
    def _call(cls, fn: str, target, *args) -> int:
        if isinstance(target, int):
            r = getattr(cls._libc, "f" + fn)(target, *args)
        else:
            r = getattr(cls._libc, fn)(os.fsencode(target), *args)
        if r < 0:
            e = ctypes.get_errno()
            if e == getattr(errno, "ENOATTR", 93):
                e = errno.ENODATA          # Linux's name for "no such attribute"
            raise OSError(e, os.strerror(e))
        return r

    @classmethod
    def _opts(cls, follow: bool) -> int:
        return 0 if follow else cls._NOFOLLOW

    @classmethod
    def get(cls, target, name: bytes, follow: bool) -> bytes:
        n = cls._host_name(name)
        size = cls._call("getxattr", target, n, None, ctypes.c_size_t(0), ctypes.c_uint32(0), cls._opts(follow))
        buf = ctypes.create_string_buffer(max(size, 1))
        got = cls._call("getxattr", target, n, buf, ctypes.c_size_t(size), ctypes.c_uint32(0), cls._opts(follow))
        return buf.raw[:got]

    @classmethod
    def list(cls, target, follow: bool) -> list[bytes]:
        size = cls._call("listxattr", target, None, ctypes.c_size_t(0), cls._opts(follow))
        buf = ctypes.create_string_buffer(max(size, 1))
        got = cls._call("listxattr", target, buf, ctypes.c_size_t(size), cls._opts(follow))
        return [cls._USER + x for x in buf.raw[:got].split(b"\0") if x]

    @classmethod
    def set(cls, target, name: bytes, value: bytes, create: bool, replace: bool, follow: bool) -> None:
        opts = cls._opts(follow) | (cls._CREATE if create else 0) | (cls._REPLACE if replace else 0)
        cls._call("setxattr", target, cls._host_name(name), value, ctypes.c_size_t(len(value)),
                  ctypes.c_uint32(0), opts)

    @classmethod
    def remove(cls, target, name: bytes, follow: bool) -> None:
        cls._call("removexattr", target, cls._host_name(name), cls._opts(follow))


class _None:
    AVAILABLE = False


XATTR = {"linux": _Linux, "darwin": _Darwin}.get(platform.KIND, _None)
AVAILABLE = XATTR.AVAILABLE
