"""Directories: listing one (getdents64, with DirState, its per-fd
snapshot and position), creating one (mkdirat), and the working directory
(getcwd, chdir, fchdir, and chroot: the guest's root, kept by the path layer).

/proc/self/fd lists only the guest's open fds, and another process's
/proc/PID/fd hides the emulator's reserved range.  lseek on a directory
(seekdir, rewinddir) is in syscalls/fileio.py and moves DirState's position.
"""
from __future__ import annotations

import errno as _errno
import os
import stat as _stat

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.fdtable import DirState
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.fdargs import NEG_EINVAL, at_path, check_fd, guest_path, oserr, proc_relative, refuse_case_twin
from elfuse_py.syscalls.table import syscall


# ----- getdents64 --------------------------------------------------------------------
# DirState (elfuse_py/runtime/fdtable.py): an fd's listing snapshot and position;
# the guest's /proc directories list themselves (DirState.listing).

def _list_dir(fd: int) -> list[tuple[bytes, int, int]]:
    st = os.fstat(fd)
    if not _stat.S_ISDIR(st.st_mode):
        raise oserr(_errno.ENOTDIR)
    try:
        parent = os.stat(b"..", dir_fd=fd).st_ino
    except OSError:
        parent = st.st_ino
    out = [(b".", st.st_ino, F.DT_DIR), (b"..", parent, F.DT_DIR)]
    # scandir reads through a dup sharing the host offset, which an lseek
    # before the first getdents64 may have moved: list from the start.
    os.lseek(fd, 0, os.SEEK_SET)
    with os.scandir(fd) as it:
        for e in it:
            if e.is_symlink():
                dt = F.DT_LNK
            elif e.is_dir(follow_symlinks=False):
                dt = F.DT_DIR
            elif e.is_file(follow_symlinks=False):
                dt = F.DT_REG
            else:
                try:
                    m = e.stat(follow_symlinks=False).st_mode
                    dt = F.LINUX_FTYPE_TO_DT.get(F.mode_to_linux(m) & F.S_IFMT, F.DT_UNKNOWN)
                except OSError:
                    dt = F.DT_UNKNOWN
            out.append((os.fsencode(e.name), e.inode(), dt))
    if _is_own_fd_dir(st):
        # The host's /proc/self/fd also lists the emulator's reserved fds and
        # scandir's own dup: the guest sees only its fds that are open now.
        out = out[:2] + [x for x in out[2:] if x[0].isdigit() and proc.fds.is_open(int(x[0]))]
    elif _is_other_fd_dir(fd):
        # Another process's /proc/PID/fd: when it is an emulated guest too
        # (a fork child, the parent shell) its emulator's fds sit in the same
        # reserved range as ours, which no guest can name.
        limit = proc.fds.limit
        out = out[:2] + [x for x in out[2:] if not x[0].isdigit() or int(x[0]) < limit]
    return out


def _is_other_fd_dir(fd: int) -> bool:
    try:
        where = proc.fds.path_of(fd)
    except OSError:
        return False
    parts = where.split("/")
    return len(parts) == 4 and parts[1] == "proc" and parts[2].isdigit() and parts[3] == "fd"


def _is_own_fd_dir(st: os.stat_result) -> bool:
    if not hostfs.HAS_FD_DIR:
        return False                  # no host /proc: the guest's /proc lists itself
    try:
        own = os.stat("/proc/self/fd")
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class UnionDirState(DirState):
    """A directory the guest opened by an absolute name under a sysroot (the union root):
    names below it resolve as `guest_dir` joined to them (syscalls/fdargs.py at_path),
    and it lists the sysroot's directory and the host's of the same name together,
    the sysroot's entries first and each name once.  An O_PATH one cannot be listed (EBADF)."""

    def __init__(self, guest_dir: bytes, opath: bool = False) -> None:
        super().__init__()
        self.guest_dir = guest_dir
        self.opath = opath

    def listing(self) -> list[tuple[bytes, int, int]] | None:
        if self.opath:
            raise oserr(_errno.EBADF)
        sources = paths.union_sources(self.guest_dir)
        if len(sources) < 2:
            return None                   # one side only: the fd's own listing
        out: list = []
        seen: set[bytes] = set()
        for where in sources:
            fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for entry in _list_dir(fd):
                    if entry[0] not in seen:
                        seen.add(entry[0])
                        out.append(entry)
            finally:
                os.close(fd)
        return out


def attach_union(fd: int, guest: bytes, opath: bool, state_cls=UnionDirState) -> None:
    """Give `fd`, a directory just opened by absolute guest path `guest`, its union-root state
    (only with a sysroot: without one a guest path is the host path)."""
    if paths.sysroot is None or guest[:1] != b"/" or not _stat.S_ISDIR(os.fstat(fd).st_mode):
        return
    proc.fds.set(fd, state_cls(paths.canonical_dir(guest), opath))


@syscall("getdents64", "fd, ptr, uint")
def sys_getdents64(fd, dirp, count):
    fd = check_fd(fd)
    fds = proc.fds
    st = fds.state.get(fd)
    if not isinstance(st, DirState):
        os.fstat(fd)                      # EBADF for a closed fd before anything else
        st = DirState()
        fds.set(fd, st)
    if st.entries is None:
        try:
            listing = st.listing()
            st.entries = _list_dir(fd) if listing is None else listing
        except OSError:
            fds.on_close(fd)
            raise
    entries = st.entries
    out = bytearray()
    pos = st.pos
    pack = abi.pack_dirent64
    while pos < len(entries):
        name, ino, dt = entries[pos]
        rec = pack(ino, pos + 1, dt, name)
        if len(out) + len(rec) > count:
            break
        out += rec
        pos += 1
    if not out and pos < len(entries):
        return NEG_EINVAL                 # buffer too small for the next entry
    proc.mem.write(dirp, out)
    st.pos = pos
    return len(out)


# ----- working directory, mkdir ------------------------------------------------------

@syscall("getcwd", "ptr, size")
def sys_getcwd(buf, size):
    cwd = (paths.special_cwd or paths.cwd_name()) + b"\0"
    if len(cwd) > size:
        return -lerrno.ERANGE
    proc.mem.write(buf, cwd)
    return len(cwd)


@syscall("chdir", "path")
def sys_chdir(pathname):
    p = proc_relative(F.AT_FDCWD, guest_path(pathname))
    special = paths.special_dir(p) if p[:5] == b"/proc" else None
    # (a synthesised directory: the host's cwd is its private stand-in)
    os.chdir(os.fsencode(paths.host_path(special or p)) if p[:1] == b"/" else at_path(F.AT_FDCWD, p)[0])
    paths.special_cwd = special
    return 0


@syscall("fchdir", "fd")
def sys_fchdir(fd):
    fd = check_fd(fd)
    st = proc.fds.state.get(fd)
    special = paths.special_dir(st.guest_dir) if isinstance(st, DirState) and st.guest_dir else None
    os.fchdir(fd)
    paths.special_cwd = special
    return 0


@syscall("mkdirat", "dirfd, path, mode")
def sys_mkdirat(dirfd, pathname, mode):
    path, dfd = at_path(dirfd, guest_path(pathname))
    refuse_case_twin(path, dfd)
    os.mkdir(path, mode & F.S_IALLUGO, dir_fd=dfd)
    return 0


@syscall("chroot", "path", note="the guest's root is kept by the path layer (runtime/paths.root), "
         "never the host's chroot: it composes with -L, is inherited by fork and execve")
def sys_chroot(pathname):
    # Linux's order: the path's own errors, then search permission on the
    # directory, then CAP_SYS_CHROOT (the guest's euid 0).
    p = guest_path(pathname)
    host = at_path(F.AT_FDCWD, p)[0]
    if not _stat.S_ISDIR(os.stat(host).st_mode):
        return -lerrno.ENOTDIR
    root = os.geteuid() == 0
    if not root and not os.access(host, os.X_OK):
        return -lerrno.EACCES
    if not root:
        return -lerrno.EPERM
    paths.set_root(os.path.abspath(os.fsdecode(host)))
    return 0
