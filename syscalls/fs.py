"""File-system and file-descriptor syscalls."""
from __future__ import annotations

import os

from elfuse_py import lerrno
from elfuse_py.process import proc

from .table import syscall


@syscall("write", "fd, buf_in, size")
def sys_write(fd, buf, count):
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    return os.write(fd, proc.mem.view(buf, count))


@syscall("read", "fd, buf_out, size")
def sys_read(fd, buf, count):
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    return os.readv(fd, [proc.mem.view(buf, count, write=True)])


def guest_iovecs(iov: int, iovcnt: int, write: bool) -> list[memoryview]:
    """Views of the guest buffers an iovec array describes (EINVAL past IOV_MAX)."""
    if iovcnt > 1024:
        raise OSError(22, "iovcnt")
    mem = proc.mem
    raw = mem.read(iov, 16 * iovcnt)
    out = []
    for i in range(iovcnt):
        base = int.from_bytes(raw[16 * i:16 * i + 8], "little")
        length = int.from_bytes(raw[16 * i + 8:16 * i + 16], "little")
        if length:
            out.append(mem.view(base, length, write=write))
    return out


@syscall("writev", "fd, ptr, int")
def sys_writev(fd, iov, iovcnt):
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    views = guest_iovecs(iov, iovcnt, False)
    return os.writev(fd, views) if views else os.write(fd, b"")
