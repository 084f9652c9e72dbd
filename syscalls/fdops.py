"""Opening, closing and duplicating fds: openat, close, close_range, dup,
dup3, fcntl (fd flags, status flags, F_DUPFD, record locks, seals), flock
and pipe2.

Guest fds are host fds.  One the host hands out at or past the guest's
limit is EMFILE (syscalls.fdargs.new_fd), and the fd table (proc.fds) is
told of every open, close and dup, so no emulator state lingers on a reused
number.  ioctl is in syscalls/ioctl.py.
"""
from __future__ import annotations

import fcntl
import os
import stat
import struct

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.memory import PROT_WRITE
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi, dirs
from elfuse_py.syscalls.seals import seals_of
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import (NEG_EBADF, NEG_EINVAL, at_path, check_fd, fd_ceiling, guest_path, new_fd,
                             proc_relative, refuse_case_twin)
from elfuse_py.syscalls.table import PARTIAL, syscall
from elfuse_py.syscalls import hostgaps

_INT2 = struct.Struct("<ii")


# ----- open / close ------------------------------------------------------------------

_O_PATH_KEEP = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_CLOEXEC | F.O_PATH


class OPathState(FdState):
    """An O_PATH fd on a host without O_PATH: opened read-only, but read and write are EBADF
    (and so are the calls that need more than a path: fchown, fchmod)."""

    intercepts_io = True
    o_path = True

    def io_read(self, fd: int, views: list) -> int:
        return NEG_EBADF

    def io_write(self, fd: int, views: list) -> int:
        return NEG_EBADF


class UnionOPathState(OPathState, dirs.UnionDirState):
    """An O_PATH directory of the union root on a host without O_PATH."""


def _absolute(path: str | bytes, dfd: int | None) -> str:
    """The absolute host path of `path`, relative to dir fd `dfd` (None: the cwd)."""
    path = os.fsdecode(path)
    if os.path.isabs(path):
        return os.path.normpath(path)
    base = os.getcwd() if dfd is None else proc.fds.path_of(dfd)
    return os.path.normpath(os.path.join(base, path))


@syscall("openat", "dirfd, path, oflags, mode", ret="fd", interruptible=True)
def sys_openat(dirfd, pathname, flags, mode):
    return open_guest(dirfd, guest_path(pathname), flags, mode)


def open_guest(dirfd: int, p: bytes, flags: int, mode: int) -> int:
    """openat's work for guest path `p` (openat2 and open_tree come here after their own checks)."""
    p = proc_relative(dirfd, p)
    flags &= 0xFFFFFFFF
    mode &= F.S_IALLUGO
    fd = paths.open_special(p, flags, mode)
    if fd is not None:
        return fd
    if flags & F.O_PATH:
        flags &= _O_PATH_KEEP       # Linux ignores every other flag with O_PATH
    elif flags & F.__O_TMPFILE:
        # Linux: exactly O_TMPFILE (no O_CREAT) and a writable access mode.
        if (flags & (F.O_TMPFILE | F.O_CREAT)) != F.O_TMPFILE or not flags & (F.O_WRONLY | F.O_RDWR):
            return NEG_EINVAL
    opath = None
    try:
        hflags = F.open_flags_to_host(flags)
    except KeyError as e:
        if flags & F.O_PATH and e.args[0] == "O_PATH":
            # Hosts without O_PATH (macOS): a read-only open is the nearest
            # equivalent, and the fd refuses I/O as an O_PATH one does.
            hflags = F.open_flags_to_host(flags & ~F.O_PATH)
            opath = OPathState()
        elif e.args[0] == "O_TMPFILE":
            return hostgaps.missing("O_TMPFILE")
        else:
            return -lerrno.EOPNOTSUPP
    path, dfd = at_path(dirfd, p, not flags & F.O_NOFOLLOW)
    if flags & F.O_CREAT and hostfs.CASE_CHECKS:
        refuse_case_twin(path, dfd)
    fd = new_fd(os.open(path, hflags, mode, dir_fd=dfd))
    if p[:6] != b"/proc/":
        st = os.fstat(fd)
        if st.st_dev == hostfs.PROC_DEV or proc.fds.is_emulators(st):
            # Reached the host's /proc, or a file one of the emulator's fds has
            # open, by a path that does not name /proc: through a link the guest
            # made (/tmp/l -> /proc/self)?  Then the guest's /proc answers.
            try:
                other = _open_via_proc(path, dfd, flags, hflags, mode)
            except BaseException:
                os.close(fd)
                raise
            if other is not None:
                os.close(fd)
                return other
    fds = proc.fds
    fds.on_close(fd)                    # a new file: no emulator state may linger on its number
    if fds.paths is not None:           # a host that cannot name open files: remember it
        fds.opened(fd, _absolute(path, dfd))
    if opath is not None:
        fds.set(fd, opath)
    if paths.sysroot is not None and p[:1] == b"/" and p[:5] != b"/proc":
        # A directory of the union root: names below it resolve sysroot first, then host.
        dirs.attach_union(fd, p, bool(flags & F.O_PATH), UnionOPathState if opath is not None else dirs.UnionDirState)
    if not flags & F.O_CLOEXEC:
        os.set_inheritable(fd, True)     # Python's os.open always adds O_CLOEXEC
    return fd


def _open_via_proc(path, dfd: int | None, flags: int, hflags: int, mode: int) -> int | None:
    """The fd the guest's /proc gives for `path` if links lead it into /proc, else None."""
    base = os.fsencode(proc.fds.path_of(dfd)) if dfd is not None else None
    target = paths.proc_through_links(os.fsencode(path), base)
    if target is None:
        return None
    fd = paths.open_special(target, flags, mode)
    if fd is not None:
        return fd
    fd = new_fd(os.open(paths.host_path(target, not flags & F.O_NOFOLLOW), hflags, mode))
    proc.fds.on_close(fd)
    if not flags & F.O_CLOEXEC:
        os.set_inheritable(fd, True)
    return fd


@syscall("close", "fd")
def sys_close(fd):
    fd = check_fd(fd)
    try:
        os.close(fd)
    finally:
        proc.fds.on_close(fd)
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4


@syscall("close_range", "uint, uint, hex")
def sys_close_range(first, last, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) or first > last:
        return NEG_EINVAL
    fds = proc.fds
    last = min(last, fds.limit - 1)      # the emulator's reserved fds stay open
    if first > last:
        return 0
    if flags & CLOSE_RANGE_CLOEXEC:
        for name in os.listdir("/dev/fd"):
            fd = int(name)
            if first <= fd <= last:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass
        return 0
    os.closerange(first, last + 1)
    for fd in [fd for fd in fds.state if first <= fd <= last]:
        fds.on_close(fd)
    return 0


# ----- dup / fcntl / flock / pipes -----------------------------------------------------

@syscall("dup", "fd", ret="fd")
def sys_dup(fd):
    fd = check_fd(fd)
    new = new_fd(fcntl.fcntl(fd, fcntl.F_DUPFD, 0))
    proc.fds.on_dup(fd, new)
    return new


@syscall("dup3", "fd, fd, oflags", ret="fd")
def sys_dup3(old, new, flags):
    old = check_fd(old)
    new &= 0xFFFFFFFF
    flags &= 0xFFFFFFFF
    if flags & ~F.O_CLOEXEC or old == new:
        return NEG_EINVAL
    if new >= fd_ceiling():
        return NEG_EBADF
    os.dup2(old, new, inheritable=not flags & F.O_CLOEXEC)
    proc.fds.on_dup(old, new)
    return new


HOST_FLOCK, HOST_FLOCK_FIELDS = hostfs.HOST_FLOCK, hostfs.HOST_FLOCK_FIELDS


# Open-file-description locks on a host without them (macOS): the process's
# POSIX record locks stand in.  What differs: they belong to the process, so
# threads share them and closing any fd of the file drops them.
_OFD_STAND_IN = {F.F_OFD_GETLK: F.F_GETLK, F.F_OFD_SETLK: F.F_SETLK, F.F_OFD_SETLKW: F.F_SETLKW}
_OFD_CMDS = frozenset(_OFD_STAND_IN)


def _fcntl_lock(fd: int, cmd: int, arg: int) -> int:
    l_type, l_whence, l_start, l_len, l_pid = proc.mem.unpack(abi.FLOCK, arg)
    htype = F.LOCK_TYPES.get(l_type)
    hwhence = F.SEEK_WHENCE.get(l_whence) if l_whence in (0, 1, 2) else None
    if htype is None or hwhence is None:
        return NEG_EINVAL
    if cmd in _OFD_CMDS and l_pid != 0:
        return NEG_EINVAL                 # Linux: an OFD lock request has l_pid 0
    vals = {"type": htype, "whence": hwhence, "start": l_start, "len": l_len, "pid": l_pid}
    hcmd = F.LOCK_CMDS.get(cmd)
    if hcmd is None:
        hcmd = F.LOCK_CMDS[_OFD_STAND_IN[cmd]]
    res = fcntl.fcntl(fd, hcmd, HOST_FLOCK.pack(*(vals[k] for k in HOST_FLOCK_FIELDS)))
    if cmd in F.GETLK_CMDS:
        got = dict(zip(HOST_FLOCK_FIELDS, HOST_FLOCK.unpack(res)))
        whence_back = {v: k for k, v in F.SEEK_WHENCE.items()}
        pid = -1 if cmd in _OFD_CMDS and got["type"] != fcntl.F_UNLCK else got["pid"]
        proc.mem.pack(abi.FLOCK, arg, F.LOCK_TYPES_TO_LINUX.get(got["type"], F.F_UNLCK),
                      whence_back.get(got["whence"], 0), got["start"], got["len"], pid)
    return 0


# Pipe capacity on a host without F_GETPIPE_SZ/F_SETPIPE_SZ (macOS): its pipes
# grow to 64 KiB by themselves, which is also Linux's default capacity.  A
# request up to that is met as it stands; more cannot be given.
_PIPE_CAPACITY = 65536


def _pipe_size(fd: int, cmd: int, arg: int) -> int:
    st = os.fstat(fd)
    if not stat.S_ISFIFO(st.st_mode):
        return NEG_EBADF
    if cmd == F.F_GETPIPE_SZ:
        return _PIPE_CAPACITY
    size = s32(arg)
    if size < 0:
        return NEG_EINVAL
    return _PIPE_CAPACITY if size <= _PIPE_CAPACITY else -lerrno.EPERM


@syscall("fcntl", "fd, int, hex", level=PARTIAL,
         note="F_SETSIG/F_GETSIG, leases, F_NOTIFY and F_*OWN_EX are EINVAL", interruptible=True)
def sys_fcntl(fd, cmd, arg):
    fd = check_fd(fd)
    cmd = s32(cmd)
    fds = proc.fds
    if cmd == F.F_GETFD:
        return F.FD_CLOEXEC if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else 0
    if cmd == F.F_SETFD:
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC if arg & F.FD_CLOEXEC else 0)
        return 0
    if cmd == F.F_GETFL:
        flags = F.open_flags_to_linux(fcntl.fcntl(fd, fcntl.F_GETFL))
        return flags | F.O_PATH if isinstance(fds.get(fd), OPathState) else flags
    if cmd == F.F_SETFL:
        fcntl.fcntl(fd, fcntl.F_SETFL, F.setfl_to_host(fcntl.fcntl(fd, fcntl.F_GETFL), arg))
        return 0
    if cmd in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        if arg >= fd_ceiling():
            fcntl.fcntl(fd, fcntl.F_GETFD)       # a closed fd is EBADF first, as Linux
            return NEG_EINVAL
        hcmd = fcntl.F_DUPFD if cmd == F.F_DUPFD else fcntl.F_DUPFD_CLOEXEC
        new = new_fd(fcntl.fcntl(fd, hcmd, arg))
        fds.on_dup(fd, new)
        return new
    if cmd in F.LOCK_CMDS or (cmd in _OFD_CMDS and F.LOCK_CMDS):
        return _fcntl_lock(fd, cmd, arg)
    if cmd in F.INT_CMDS:
        return fcntl.fcntl(fd, F.INT_CMDS[cmd], s32(arg))
    if cmd in (F.F_GETPIPE_SZ, F.F_SETPIPE_SZ):
        return _pipe_size(fd, cmd, arg)
    sealed = seals_of(fd)
    if sealed is not None and cmd in (F.F_ADD_SEALS, F.F_GET_SEALS):
        return sealed.seals if cmd == F.F_GET_SEALS else sealed.add(fd, arg & 0xFFFFFFFF)
    if cmd in F.SEAL_CMDS:
        if cmd == F.F_GET_SEALS:
            return F.bits_to_linux(fcntl.fcntl(fd, F.SEAL_CMDS[cmd]), F.SEAL_BITS)
        try:
            seals = F.bits_to_host(arg & 0xFFFFFFFF, F.SEAL_BITS)
        except KeyError:
            return NEG_EINVAL
        return fcntl.fcntl(fd, F.SEAL_CMDS[cmd], seals)
    return NEG_EINVAL


LOCK_OPS = {1: fcntl.LOCK_SH, 2: fcntl.LOCK_EX, 8: fcntl.LOCK_UN}
LOCK_NB = 4


@syscall("flock", "fd, int", interruptible=True)
def sys_flock(fd, op):
    fd = check_fd(fd)
    op = s32(op)
    hop = LOCK_OPS.get(op & ~LOCK_NB)
    if hop is None:
        return NEG_EINVAL
    fcntl.flock(fd, hop | (fcntl.LOCK_NB if op & LOCK_NB else 0))
    return 0


PIPE_FLAGS = {F.O_CLOEXEC: os.O_CLOEXEC, F.O_NONBLOCK: os.O_NONBLOCK}
if hasattr(os, "O_DIRECT"):
    PIPE_FLAGS[F.O_DIRECT] = os.O_DIRECT


@syscall("pipe2", "ptr, oflags")
def sys_pipe2(fds_ptr, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.PIPE2_ALLOWED:
        return NEG_EINVAL
    try:
        hflags = F.bits_to_host(flags, PIPE_FLAGS)
    except KeyError:
        return NEG_EINVAL
    proc.mem.check(fds_ptr, 8, PROT_WRITE)
    if hasattr(os, "pipe2"):
        r, w = os.pipe2(hflags)
    else:
        r, w = os.pipe()
        for fd in (r, w):
            os.set_inheritable(fd, not flags & F.O_CLOEXEC)
            if flags & F.O_NONBLOCK:
                os.set_blocking(fd, False)
    if max(r, w) >= fd_ceiling():
        os.close(r)
        os.close(w)
        return -lerrno.EMFILE
    proc.fds.on_close(r)
    proc.fds.on_close(w)
    proc.mem.pack(_INT2, fds_ptr, r, w)
    return 0
