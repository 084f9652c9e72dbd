"""inotify: file-change notification.

On a Linux host the guest gets a real inotify fd: the event records it reads
(struct inotify_event) and the IN_* event bits are the Linux ABI on both
sides.  Hosts without inotify (macOS, and the macOS host model on Linux) get
the twin of syscalls/notify_twin.py: a pipe-backed fd whose events come from
polling the watched paths (elfuse_py/host/fswatch.py).
"""
from __future__ import annotations

import os

from elfuse_py.host import events as host_events
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import PARTIAL, syscall

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


_NATIVE = "host kernel inotify; hosts without it get a polling twin (syscalls/notify_twin.py)"

if host_events.HAVE_INOTIFY:
    @syscall("inotify_init1", "hex", ret="fd", note=_NATIVE)
    def sys_inotify_init1(flags):
        flags = s32(flags)
        if flags & ~(IN_CLOEXEC | IN_NONBLOCK):
            return -lerrno.EINVAL
        host = 0
        for bit, name in _HOST_INIT_FLAGS:
            if flags & bit:
                host |= getattr(os, name)
        fd = _check(_lib()[1].inotify_init1(host))
        if fd >= proc.fds.ceiling:
            os.close(fd)
            return -lerrno.EMFILE
        return fd

    @syscall("inotify_add_watch", "fd, path, hex", note=_NATIVE)
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

    @syscall("inotify_rm_watch", "fd, int", note=_NATIVE)
    def sys_inotify_rm_watch(fd, wd):
        fd = fd & 0xFFFFFFFF
        if not proc.fds.valid(fd):
            return -lerrno.EBADF
        return _check(_lib()[1].inotify_rm_watch(fd, s32(wd)))
else:
    from elfuse_py.syscalls import notify_twin as twin

    _TWIN = "no host inotify: a twin polling the watched paths (syscalls/notify_twin.py)"

    @syscall("inotify_init1", "hex", ret="fd", level=PARTIAL, note=_TWIN)
    def sys_inotify_init1(flags):
        return twin.init1(s32(flags))

    @syscall("inotify_add_watch", "fd, path, hex", level=PARTIAL, note=_TWIN)
    def sys_inotify_add_watch(fd, path, mask):
        return twin.add_watch(fd, path, mask & 0xFFFFFFFF)

    @syscall("inotify_rm_watch", "fd, int", level=PARTIAL, note=_TWIN)
    def sys_inotify_rm_watch(fd, wd):
        return twin.rm_watch(fd, s32(wd))
