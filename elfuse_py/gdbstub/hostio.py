"""vFile packets: gdb reads the guest's files through the stub, as the guest sees them.

gdb's default sysroot, "target:", asks the stub for the files the guest names:
the program when gdb was given none, and a dynamic program's interpreter and
libraries.  The stub resolves each path as the guest's own open would
(runtime/paths.host_path: inside the guest root of -L first), so a dynamically
linked program under -L is debugged with its libraries' symbols and no
`set sysroot`.

Read-only: an open for writing, unlink and pwrite fail with EACCES.  The
guest's /proc, /dev and /sys are not served.  No host fd stays open between
packets (the emulator's reserved fds are few and the guest's numbers are the
host's): a handle remembers the host path, and each pread opens, reads and
closes it.  Errors use the protocol's own errno values (File-I/O "Errno
Values"), translated from the host's by name.
"""
from __future__ import annotations

import errno
import os
import stat
import struct

from elfuse_py.gdbstub.packets import escape
from elfuse_py.runtime import paths

# The remote protocol's errno values, by name; anything else is EUNKNOWN.
FIO_ERRNO = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EBADF": 9, "EACCES": 13, "EFAULT": 14,
             "EBUSY": 16, "EEXIST": 17, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21, "EINVAL": 22,
             "ENFILE": 23, "EMFILE": 24, "EFBIG": 27, "ENOSPC": 28, "ESPIPE": 29, "EROFS": 30,
             "ENAMETOOLONG": 91}
EUNKNOWN = 9999
FIO_O_ACCMODE, FIO_O_CREAT, FIO_O_TRUNC = 0x3, 0x200, 0x400
FIO_S_IFREG, FIO_S_IFDIR, FIO_S_IFCHR = 0o100000, 0o40000, 0o20000
# struct stat of the protocol: big-endian dev, ino, mode, nlink, uid, gid, rdev (32 bits),
# size, blksize, blocks (64 bits), atime, mtime, ctime (32 bits).
FIO_STAT = struct.Struct(">7I3Q3I")
MAX_HANDLES = 256
_KERNEL_DIRS = (b"/proc", b"/dev", b"/sys")


def _error(name_or_errno) -> bytes:
    name = name_or_errno if isinstance(name_or_errno, str) else errno.errorcode.get(name_or_errno, "")
    return b"F-1,%x" % FIO_ERRNO.get(name, EUNKNOWN)


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF


class HostIO:
    """The vFile handles of one gdb connection."""

    def __init__(self, max_reply: int) -> None:
        self.files: dict[int, str] = {}
        self.next = 1
        self.max_reply = max_reply

    def handle(self, pkt: bytes) -> bytes:
        op, _, args = pkt[len(b"vFile:"):].partition(b":")
        fields = args.split(b",") if args else []
        try:
            fn = {b"setfs": self._setfs, b"open": self._open, b"close": self._close,
                  b"pread": self._pread, b"pwrite": self._readonly, b"unlink": self._readonly,
                  b"fstat": self._fstat, b"readlink": self._readlink}.get(op)
            if fn is None:
                return b""
            return fn(fields)
        except OSError as e:
            return _error(e.errno)
        except (ValueError, IndexError):
            return _error("EINVAL")

    def _resolve(self, hexpath: bytes, follow: bool = True) -> str | None:
        guest = bytes.fromhex(hexpath.decode())
        if any(guest == d or guest.startswith(d + b"/") for d in _KERNEL_DIRS):
            return None
        return paths.host_path(guest, follow)

    def _setfs(self, fields: list[bytes]) -> bytes:
        return b"F0"                          # one guest, one file system view

    def _readonly(self, fields: list[bytes]) -> bytes:
        return _error("EACCES")

    def _open(self, fields: list[bytes]) -> bytes:
        host = self._resolve(fields[0])
        flags = int(fields[1], 16)
        if flags & (FIO_O_ACCMODE | FIO_O_CREAT | FIO_O_TRUNC):
            return _error("EACCES")
        if host is None:
            return _error("ENOENT")
        if len(self.files) >= MAX_HANDLES:
            return _error("EMFILE")
        os.close(os.open(host, os.O_RDONLY))   # it exists and may be read: now, not at pread
        fd = self.next
        self.next += 1
        self.files[fd] = host
        return b"F%x" % fd

    def _close(self, fields: list[bytes]) -> bytes:
        return b"F0" if self.files.pop(int(fields[0], 16), None) is not None else _error("EBADF")

    def _pread(self, fields: list[bytes]) -> bytes:
        host = self.files.get(int(fields[0], 16))
        count, offset = int(fields[1], 16), int(fields[2], 16)
        if host is None:
            return _error("EBADF")
        fd = os.open(host, os.O_RDONLY)
        try:
            data = os.pread(fd, min(count, self.max_reply), offset)
        finally:
            os.close(fd)
        # The reply escapes its binary data; keep the escaped reply within the packet size.
        out = escape(data)
        while len(out) > self.max_reply:
            data = data[:len(data) // 2]
            out = escape(data)
        return b"F%x;" % len(data) + out

    def _fstat(self, fields: list[bytes]) -> bytes:
        host = self.files.get(int(fields[0], 16))
        if host is None:
            return _error("EBADF")
        st = os.stat(host)
        kind = (FIO_S_IFREG if stat.S_ISREG(st.st_mode) else FIO_S_IFDIR if stat.S_ISDIR(st.st_mode)
                else FIO_S_IFCHR if stat.S_ISCHR(st.st_mode) else 0)
        data = FIO_STAT.pack(_u32(st.st_dev), _u32(st.st_ino), kind | (st.st_mode & 0o7777),
                             _u32(st.st_nlink), _u32(st.st_uid), _u32(st.st_gid), _u32(st.st_rdev),
                             st.st_size, st.st_blksize if hasattr(st, "st_blksize") else 4096,
                             st.st_blocks if hasattr(st, "st_blocks") else 0,
                             _u32(int(st.st_atime)), _u32(int(st.st_mtime)), _u32(int(st.st_ctime)))
        return b"F%x;" % len(data) + escape(data)

    def _readlink(self, fields: list[bytes]) -> bytes:
        host = self._resolve(fields[0], follow=False)
        if host is None:
            return _error("ENOENT")
        target = os.readlink(os.fsencode(host))
        return b"F%x;" % len(target) + escape(target)
