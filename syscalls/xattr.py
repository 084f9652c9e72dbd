"""Extended attributes: {,l,f}{get,set,list,remove}xattr.

Paths go through the sysroot like every other path (the l* variants do not
follow a final symlink).  Linux's own argument rules are applied first (name
1..255 bytes, values up to XATTR_SIZE_MAX, size 0 asks for the length, a too
small buffer is ERANGE) and the host floor (elfuse_py/host/xattr.py) does the
rest: Linux's own calls, or macOS's, where only the "user." namespace exists
and the others are EOPNOTSUPP, as Linux gives for a filesystem without them
(`ls -l`, which asks for ACLs and SELinux labels, treats that as "none").
"""
from __future__ import annotations

from elfuse_py.host import xattr as hostx
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import at_path, check_fd, guest_path
from elfuse_py.syscalls.table import PARTIAL, syscall
from elfuse_py.syscalls import hostgaps

XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_LIST_MAX = 65536
_L_XATTR_CREATE, _L_XATTR_REPLACE = 1, 2
_HAVE = hostx.AVAILABLE
_NOTE = "macOS hosts: the user. namespace only (others EOPNOTSUPP)"


def _target(kind: str, arg: int):
    """(host path or fd, follow_symlinks) for the path/lpath/fd argument."""
    if kind == "f":
        fd = check_fd(arg)
        if not proc.fds.valid(fd):
            raise OSError(9, "EBADF")
        return fd, True
    p = guest_path(arg)
    follow = kind == ""
    path, _ = at_path(-100 & 0xFFFFFFFF, p, follow)     # AT_FDCWD
    return path, follow


def _name(addr: int) -> bytes | int:
    try:
        n = proc.mem.cstr(addr, XATTR_NAME_MAX + 1)
    except ValueError:
        return -lerrno.ERANGE
    if not n or len(n) > XATTR_NAME_MAX:
        return -lerrno.ERANGE
    return n


def _get(kind, target, name, value, size):
    n = _name(name)
    if isinstance(n, int):
        return n
    t, follow = _target(kind, target)
    if not _HAVE:
        return hostgaps.missing("xattr")
    size = min(size, XATTR_SIZE_MAX)
    data = hostx.XATTR.get(t, n, follow)
    if size == 0:
        return len(data)
    if len(data) > size:
        return -lerrno.ERANGE
    proc.mem.write(value, data)
    return len(data)


def _list(kind, target, buf, size):
    t, follow = _target(kind, target)
    if not _HAVE:
        return hostgaps.missing("xattr")
    names = b"".join(x + b"\0" for x in hostx.XATTR.list(t, follow))
    if size == 0:
        return len(names)
    if len(names) > min(size, XATTR_LIST_MAX):
        return -lerrno.ERANGE
    proc.mem.write(buf, names)
    return len(names)


def _set(kind, target, name, value, size, flags):
    flags = s32(flags)
    if flags & ~(_L_XATTR_CREATE | _L_XATTR_REPLACE):
        return -lerrno.EINVAL
    n = _name(name)
    if isinstance(n, int):
        return n
    if size > XATTR_SIZE_MAX:
        return -lerrno.E2BIG
    data = proc.mem.read(value, size) if size else b""
    t, follow = _target(kind, target)
    if not _HAVE:
        return hostgaps.missing("xattr")
    hostx.XATTR.set(t, n, data, bool(flags & _L_XATTR_CREATE), bool(flags & _L_XATTR_REPLACE), follow)
    return 0


def _remove(kind, target, name):
    n = _name(name)
    if isinstance(n, int):
        return n
    t, follow = _target(kind, target)
    if not _HAVE:
        return hostgaps.missing("xattr")
    hostx.XATTR.remove(t, n, follow)
    return 0


_LEVEL = "full" if _HAVE else PARTIAL


@syscall("getxattr", "path, str, ptr, size", level=_LEVEL, note=_NOTE)
def sys_getxattr(path, name, value, size):
    return _get("", path, name, value, size)


@syscall("lgetxattr", "path, str, ptr, size", level=_LEVEL, note=_NOTE)
def sys_lgetxattr(path, name, value, size):
    return _get("l", path, name, value, size)


@syscall("fgetxattr", "fd, str, ptr, size", level=_LEVEL, note=_NOTE)
def sys_fgetxattr(fd, name, value, size):
    return _get("f", fd, name, value, size)


@syscall("listxattr", "path, ptr, size", level=_LEVEL, note=_NOTE)
def sys_listxattr(path, buf, size):
    return _list("", path, buf, size)


@syscall("llistxattr", "path, ptr, size", level=_LEVEL, note=_NOTE)
def sys_llistxattr(path, buf, size):
    return _list("l", path, buf, size)


@syscall("flistxattr", "fd, ptr, size", level=_LEVEL, note=_NOTE)
def sys_flistxattr(fd, buf, size):
    return _list("f", fd, buf, size)


@syscall("setxattr", "path, str, buf_in, size, hex", level=_LEVEL, note=_NOTE)
def sys_setxattr(path, name, value, size, flags):
    return _set("", path, name, value, size, flags)


@syscall("lsetxattr", "path, str, buf_in, size, hex", level=_LEVEL, note=_NOTE)
def sys_lsetxattr(path, name, value, size, flags):
    return _set("l", path, name, value, size, flags)


@syscall("fsetxattr", "fd, str, buf_in, size, hex", level=_LEVEL, note=_NOTE)
def sys_fsetxattr(fd, name, value, size, flags):
    return _set("f", fd, name, value, size, flags)


@syscall("removexattr", "path, str", level=_LEVEL, note=_NOTE)
def sys_removexattr(path, name):
    return _remove("", path, name)


@syscall("lremovexattr", "path, str", level=_LEVEL, note=_NOTE)
def sys_lremovexattr(path, name):
    return _remove("l", path, name)


@syscall("fremovexattr", "fd, str", level=_LEVEL, note=_NOTE)
def sys_fremovexattr(fd, name):
    return _remove("f", fd, name)
