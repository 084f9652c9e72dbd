"""inotify: file-change notification.

On a Linux host the guest gets a real inotify fd: the event records it reads
(struct inotify_event) and the IN_* event bits are the Linux ABI on both
sides.  Other hosts have no inotify; there the calls are ENOSYS, which
programs treat as "no inotify in this kernel" and fall back to polling.
"""
from __future__ import annotations

import os

from elfuse_py.host import events as host_events
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.process import proc

from syscalls.args import s32
from syscalls.table import not_supported, syscall

IN_CLOEXEC, IN_NONBLOCK = 0o2000000, 0o4000     # = Linux O_CLOEXEC, O_NONBLOCK
_HOST_INIT_FLAGS = [(IN_CLOEXEC, "O_CLOEXEC"), (IN_NONBLOCK, "O_NONBLOCK")]
PATH_MAX = 4096

_libc = None


def _lib():
    """libc's inotify entry points, declared on first use (not at start-up)."""
    global _libc
    if _libc is None:
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("""int inotify_init1(int flags);
                    int inotify_add_watch(int fd, const char *path, uint32_t mask);
                    int inotify_rm_watch(int fd, int wd);""")
        _libc = (ffi, ffi.dlopen(None))
    return _libc


def _check(ret: int) -> int:
    if ret < 0:
        ffi, _ = _lib()
        return -lerrno.to_linux(ffi.errno)
    return ret


if host_events.HAVE_INOTIFY:
    @syscall("inotify_init1", "hex")
    def sys_inotify_init1(flags):
        flags = s32(flags)
        if flags & ~(IN_CLOEXEC | IN_NONBLOCK):
            return -lerrno.EINVAL
        host = 0
        for bit, name in _HOST_INIT_FLAGS:
            if flags & bit:
                host |= getattr(os, name)
        fd = _check(_lib()[1].inotify_init1(host))
        if fd >= proc.fds.limit:
            os.close(fd)
            return -lerrno.EMFILE
        return fd

    @syscall("inotify_add_watch", "fd, path, hex")
    def sys_inotify_add_watch(fd, path, mask):
        fd = fd & 0xFFFFFFFF
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        try:
            guest = proc.mem.cstr(path, PATH_MAX)
        except ValueError:
            return -lerrno.ENAMETOOLONG
        host = paths.host_path(guest) if guest[:1] == b"/" else os.fsdecode(guest)
        return _check(_lib()[1].inotify_add_watch(fd, os.fsencode(host), mask & 0xFFFFFFFF))

    @syscall("inotify_rm_watch", "fd, int")
    def sys_inotify_rm_watch(fd, wd):
        fd = fd & 0xFFFFFFFF
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        return _check(_lib()[1].inotify_rm_watch(fd, s32(wd)))
else:
    for _name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
        not_supported(_name, "the host has no inotify; programs fall back to polling")
