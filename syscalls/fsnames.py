"""Names in directories: readlinkat, faccessat and faccessat2, mknodat,
unlinkat, renameat and renameat2, symlinkat and linkat.

Each resolves its guest *at() path(s) through syscalls.fdargs.at_path; the
calls that act on a link itself do not follow a final symlink.  renameat2's
flags go by meaning to the host's renameat2 or renameatx_np.  mkdirat is in
syscalls/dirs.py.
"""
from __future__ import annotations

import ctypes
import os

from elfuse_py.host import fs as hostfs
from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import abi
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import (NEG_EINVAL, at_path, case_twin, check_fd, guest_path, oserr, proc_relative,
                             refuse_case_twin)
from elfuse_py.syscalls.table import PARTIAL, syscall


# ----- readlink, access --------------------------------------------------------------

@syscall("readlinkat", "dirfd, path, ptr, int")
def sys_readlinkat(dirfd, pathname, buf, bufsiz):
    bufsiz = s32(bufsiz)
    if bufsiz <= 0:
        return NEG_EINVAL
    p = proc_relative(dirfd, guest_path(pathname))
    target = paths.readlink_special(p)
    if target is None:
        path, dfd = at_path(dirfd, p, False)
        target = os.readlink(path, dir_fd=dfd)
    target = target[:bufsiz]
    proc.mem.write(buf, target)
    return len(target)


def _access(dirfd: int, pathname: int, mode: int, flags: int) -> int:
    mode &= 0xFFFFFFFF
    if mode & ~7 or flags & ~F.AT_ALLOWED["faccessat2"]:
        return NEG_EINVAL
    p = proc_relative(dirfd, guest_path(pathname))
    if p[:5] == b"/proc":
        special = paths.stat_special(p, not flags & F.AT_SYMLINK_NOFOLLOW)
        if special is not None:
            return _access_by_mode(special.st_mode, mode)
    if not p and flags & F.AT_EMPTY_PATH:
        d = s32(dirfd)
        path, dfd = (b".", None) if d == F.AT_FDCWD else (b"/dev/fd/%d" % check_fd(d), None)
    else:
        path, dfd = at_path(dirfd, p, not flags & F.AT_SYMLINK_NOFOLLOW)
    hmode = os.F_OK
    for lin, host in F.ACCESS_MODES.items():
        if mode & lin:
            hmode |= host
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    if os.access(path, hmode, dir_fd=dfd, effective_ids=bool(flags & F.AT_EACCESS),
                 follow_symlinks=follow):
        return 0
    # os.access hides errno: recover it.  A failing lookup gives its own error
    # (ENOENT, ENOTDIR, ELOOP, EACCES on a search permission); otherwise it is
    # a permission refusal, or EROFS for write access on a read-only mount.
    os.stat(path, dir_fd=dfd, follow_symlinks=follow)
    if mode & 2:
        try:
            if os.statvfs(path if dfd is None else b"/dev/fd/%d" % dfd).f_flag & os.ST_RDONLY:
                return -lerrno.EROFS
        except OSError:
            pass
    return -lerrno.EACCES


def _access_by_mode(st_mode: int, mode: int) -> int:
    """access() for a synthesised /proc entry, from its mode bits (root reads and writes all)."""
    if mode & 1 and not st_mode & 0o111:
        return -lerrno.EACCES
    if mode & 6 and os.geteuid() != 0:
        if (mode & 4 and not st_mode & 0o444) or (mode & 2 and not st_mode & 0o200):
            return -lerrno.EACCES
    return 0


@syscall("faccessat", "dirfd, path, int")
def sys_faccessat(dirfd, pathname, mode):
    return _access(dirfd, pathname, mode, 0)


@syscall("faccessat2", "dirfd, path, int, hex")
def sys_faccessat2(dirfd, pathname, mode, flags):
    return _access(dirfd, pathname, mode, flags & 0xFFFFFFFF)


# ----- mknod, unlink, rename, links --------------------------------------------------

@syscall("mknodat", "dirfd, path, mode, hex")
def sys_mknodat(dirfd, pathname, mode, dev):
    mode &= 0xFFFFFFFF
    ftype = mode & F.S_IFMT or F.S_IFREG
    perm = mode & F.S_IALLUGO
    if ftype == F.S_IFDIR:
        return -lerrno.EPERM
    if ftype not in (F.S_IFREG, F.S_IFCHR, F.S_IFBLK, F.S_IFIFO, F.S_IFSOCK):
        return NEG_EINVAL
    path, dfd = at_path(dirfd, guest_path(pathname))
    refuse_case_twin(path, dfd)
    if ftype == F.S_IFREG:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, perm, dir_fd=dfd))
    elif ftype == F.S_IFIFO:
        os.mkfifo(path, perm, dir_fd=dfd)
    else:
        major, minor = abi.decode_dev(dev & 0xFFFFFFFF)
        os.mknod(path, F.mode_to_host(ftype | perm), os.makedev(major, minor), dir_fd=dfd)
    return 0


@syscall("unlinkat", "dirfd, path, hex")
def sys_unlinkat(dirfd, pathname, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["unlinkat"]:
        return NEG_EINVAL
    path, dfd = at_path(dirfd, guest_path(pathname), False)
    if flags & F.AT_REMOVEDIR:
        os.rmdir(path, dir_fd=dfd)
    else:
        os.unlink(path, dir_fd=dfd)
    return 0


# renameat2's flags by meaning, for the host's call (host/fs.py: renameat2 or renameatx_np).
_RENAME_MEANINGS = {F.RENAME_NOREPLACE: "noreplace", F.RENAME_EXCHANGE: "exchange",
                    F.RENAME_WHITEOUT: "whiteout"}


def _rename(olddirfd, oldpath, newdirfd, newpath, flags: int) -> int:
    if flags & ~(F.RENAME_NOREPLACE | F.RENAME_EXCHANGE | F.RENAME_WHITEOUT) or (
            flags & F.RENAME_EXCHANGE and flags & (F.RENAME_NOREPLACE | F.RENAME_WHITEOUT)):
        return NEG_EINVAL
    src, sdfd = at_path(olddirfd, guest_path(oldpath), False)
    dst, ddfd = at_path(newdirfd, guest_path(newpath), False)
    if hostfs.CASE_CHECKS:
        twin = case_twin(dst, ddfd)
        # Renaming a file to another case of its own name is fine; landing on
        # a different file that only differs in case is not.
        if twin is not None and not os.path.samestat(
                os.stat(src, dir_fd=sdfd, follow_symlinks=False),
                os.stat(os.path.join(os.path.dirname(os.fsdecode(dst)), twin), dir_fd=ddfd,
                        follow_symlinks=False)):
            return -lerrno.EEXIST
    if not flags:
        os.rename(src, dst, src_dir_fd=sdfd, dst_dir_fd=ddfd)
        return 0
    fname, by_meaning = hostfs.RENAME
    fn = getattr(hostfs.libc, fname, None) if fname else None
    try:
        hflags = F.bits_to_host(flags, {bit: by_meaning[m] for bit, m in _RENAME_MEANINGS.items()
                                        if m in by_meaning})
    except KeyError:
        return NEG_EINVAL
    if fn is None:
        return NEG_EINVAL
    at_cwd = hostfs.AT_FDCWD
    r = fn(at_cwd if sdfd is None else sdfd, ctypes.c_char_p(src),
           at_cwd if ddfd is None else ddfd, ctypes.c_char_p(dst), ctypes.c_uint(hflags))
    if r != 0:
        raise oserr(ctypes.get_errno())
    return 0


@syscall("renameat", "dirfd, path, dirfd, path")
def sys_renameat(olddirfd, oldpath, newdirfd, newpath):
    return _rename(olddirfd, oldpath, newdirfd, newpath, 0)


@syscall("renameat2", "dirfd, path, dirfd, path, hex", level=PARTIAL,
         note="RENAME_NOREPLACE/EXCHANGE where the host has renameat2 or renameatx_np")
def sys_renameat2(olddirfd, oldpath, newdirfd, newpath, flags):
    return _rename(olddirfd, oldpath, newdirfd, newpath, flags & 0xFFFFFFFF)


@syscall("symlinkat", "path, dirfd, path")
def sys_symlinkat(target, newdirfd, linkpath):
    t = guest_path(target)          # the link's contents: stored as the guest wrote them
    path, dfd = at_path(newdirfd, guest_path(linkpath), False)
    refuse_case_twin(path, dfd)
    os.symlink(t, path, dir_fd=dfd)
    return 0


@syscall("linkat", "dirfd, path, dirfd, path, hex")
def sys_linkat(olddirfd, oldpath, newdirfd, newpath, flags):
    flags &= 0xFFFFFFFF
    if flags & ~F.AT_ALLOWED["linkat"]:
        return NEG_EINVAL
    src, sdfd = at_path(olddirfd, guest_path(oldpath), bool(flags & F.AT_SYMLINK_FOLLOW))
    dst, ddfd = at_path(newdirfd, guest_path(newpath), False)
    refuse_case_twin(dst, ddfd)
    os.link(src, dst, src_dir_fd=sdfd, dst_dir_fd=ddfd,
            follow_symlinks=bool(flags & F.AT_SYMLINK_FOLLOW))
    return 0
