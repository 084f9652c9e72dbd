"""Guest fd and path arguments, shared by the file-system handler modules.

Owns the checks a file syscall makes before its host call: a guest fd must be
in the guest's range (check_fd), an fd the host hands out must stay below the
guest's limit (new_fd, fd_ceiling), a guest path is a C string of at most
PATH_MAX (guest_path), and an *at() path is resolved through the sysroot
(at_path; a path relative to a directory fd of the guest's /proc is that
directory's guest path joined to it: proc_relative).  Also the -errno results the handlers share (NEG_EBADF, NEG_EINVAL,
NEG_EFAULT) and oserr, an OSError for a host errno.

Guest paths go through elfuse_py.runtime.paths (looked up at call time: later
layers replace its functions).  The handler modules (fileio, fdops, dirs,
fsnames, fsmeta, ioctl, xattr) import from here; this module imports none of
them.
"""
from __future__ import annotations

import errno as _errno
import os

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, log, paths
from elfuse_py.runtime.fdtable import DirState
from elfuse_py.runtime.memory import GuestFault
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32

# The -errno results the file handlers share.
NEG_EBADF = -lerrno.EBADF
NEG_EINVAL = -lerrno.EINVAL
NEG_EFAULT = -lerrno.EFAULT
PATH_MAX = 4096


def oserr(err: int) -> OSError:
    return OSError(err, os.strerror(err))


# ----- argument helpers ---------------------------------------------------------------

def guest_path(addr: int) -> bytes:
    """A guest path argument: EFAULT for NULL/unmapped, ENAMETOOLONG past PATH_MAX."""
    if addr == 0:
        raise GuestFault(0)
    try:
        return proc.mem.cstr(addr, PATH_MAX)
    except ValueError:
        raise oserr(_errno.ENAMETOOLONG) from None


def at_path(dirfd: int, p: bytes, follow: bool = True) -> tuple[bytes, int | None]:
    """(host path, dir_fd) for a guest *at() path: dirfd is ignored for absolute paths.

    `follow` False: a symlink in the last component is not resolved inside the
    sysroot (lstat, readlink, unlink, rename…)."""
    if p[:1] == b"/":
        return os.fsencode(paths.host_path(p, follow)), None
    dirfd = s32(dirfd)
    if dirfd == F.AT_FDCWD:
        if paths.special_cwd and p:        # the cwd is a synthesised directory (/proc)
            return os.fsencode(paths.host_path(paths.special_cwd + b"/" + p, follow)), None
        if paths.root is not None:         # inside a chroot: `..` stops at its root
            rooted = paths.rooted(p)
            if rooted is not None:
                return os.fsencode(paths.host_path(rooted, follow)), None
        return p, None
    if not proc.fds.valid(dirfd):
        raise oserr(_errno.EBADF)
    st = proc.fds.state.get(dirfd)
    if st is not None and isinstance(st, DirState) and st.guest_dir and p:
        return os.fsencode(paths.host_path(paths.FromDir(st.guest_dir + b"/" + p), follow)), None
    if paths.root is not None and p:       # inside a chroot: `..` from a directory fd stops at its root
        try:
            rooted = paths.rooted(p, proc.fds.path_of(dirfd))
        except OSError:
            rooted = None
        if rooted is not None:
            return os.fsencode(paths.host_path(rooted, follow)), None
    return p, dirfd


def proc_relative(dirfd: int, p: bytes) -> bytes:
    """`p` relative to a directory fd of the guest's /proc, as the absolute guest path;
    any other path unchanged (the synthesised files are found by their absolute names)."""
    if not p:
        return p
    if p[:1] == b"/":
        return paths.canonical_proc(p) if p[:6] != b"/proc/" and paths.maybe_proc(p) else p
    d = s32(dirfd)
    if d == F.AT_FDCWD:
        if paths.special_cwd:
            return paths.special_cwd + b"/" + p
        # proc/self/fd/N from "/", ../proc from /tmp: the guest's /proc, not the host's
        return paths.canonical_proc(p, os.getcwdb()) if paths.maybe_proc(p) else p
    if d < 0:
        return p
    st = proc.fds.state.get(d)
    if st is not None and isinstance(st, DirState) and st.guest_dir:
        return paths.FromDir(st.guest_dir + b"/" + p)
    if paths.maybe_proc(p) and proc.fds.valid(d):
        try:
            base = os.fsencode(proc.fds.path_of(d))
        except OSError:
            return p
        return paths.canonical_proc(p, base)
    return p


def check_fd(fd: int) -> int:
    """A guest fd argument (unsigned int) that must be in the guest's range, else EBADF."""
    fd &= 0xFFFFFFFF
    if fd >= proc.fds.limit:
        raise oserr(_errno.EBADF)
    return fd


def fd_ceiling() -> int:
    """First fd number the guest may not be given: its RLIMIT_NOFILE soft limit
    (kept by the emulator, below the reserved range: runtime/fdtable.py)."""
    return proc.fds.ceiling


def new_fd(fd: int) -> int:
    """Guard a host-allocated fd: one at or past the guest's limit is EMFILE for the guest."""
    if fd >= proc.fds.ceiling:
        os.close(fd)
        raise oserr(_errno.EMFILE)
    return fd


def case_twin(path: bytes | str, dfd: int | None) -> str | None:
    """On a case-insensitive volume: the existing name that `path` would silently reuse, else None.

    A guest that creates "A" next to "a" there would get "a" back: refuse with
    EEXIST instead (callers raise it) and say why on the emulator's own stream.
    """
    path = os.fsdecode(path)
    parent, name = os.path.split(path.rstrip("/"))
    parent = parent or "."
    if not name or name in (".", "..") or not hostfs.case_insensitive(parent, dfd):
        return None
    try:
        dirfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
        try:
            entries = os.listdir(dirfd)
        finally:
            os.close(dirfd)
    except OSError:
        return None
    if name in entries:
        return None                      # the same name: no collision
    folded = name.casefold()
    twin = next((e for e in entries if e.casefold() == folded), None)
    if twin is not None:
        log.warn_once(f"case:{twin}", f"refusing to create {name!r} next to {twin!r}: this volume "
                      "ignores case (use a case-sensitive volume for the guest's files: docs/macos.md)")
    return twin


def refuse_case_twin(path: bytes | str, dfd: int | None) -> None:
    """Raise EEXIST if creating `path` would land on a differently-cased existing name."""
    if hostfs.CASE_CHECKS and case_twin(path, dfd) is not None:
        raise oserr(_errno.EEXIST)
