"""openat2 (struct open_how, RESOLVE_* path-walk restrictions) and open_tree.

openat2 checks its struct and flags as Linux does (fs/open.c build_open_flags:
strict about unknown bits, unlike openat), then, when `resolve` restricts the
walk, walks the path itself one component at a time in the guest's name space
(the sysroot and /proc as every other path), enforcing:

- RESOLVE_NO_SYMLINKS: any symlink met is ELOOP (a trailing one is opened
  itself with O_PATH|O_NOFOLLOW);
- RESOLVE_NO_MAGICLINKS: /proc's magic links (/proc/PID/fd/N, exe, cwd, root,
  ns/*) are ELOOP;
- RESOLVE_BENEATH: an absolute path, an absolute link or a `..` above the
  starting directory is EXDEV;
- RESOLVE_IN_ROOT: the starting directory is the root: absolute paths and
  links restart there and `..` stops there;
- RESOLVE_NO_XDEV: crossing a mount point (a change of st_dev) is EXDEV.

The walk checks names and then opens the guest path it resolved, so a
concurrent rename between the two is not caught (Linux's walk is atomic).
RESOLVE_CACHED is EAGAIN with O_CREAT/O_TRUNC/O_TMPFILE, as Linux; otherwise
it is accepted (every lookup here is "cached" enough).
"""
from __future__ import annotations

import os
import stat as _stat
import struct

from elfuse_py.runtime import lerrno, paths
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fdargs import check_fd, guest_path
from elfuse_py.syscalls.fdops import open_guest
from elfuse_py.syscalls.table import PARTIAL, syscall

_OPEN_HOW = struct.Struct("<QQQ")
OPEN_HOW_SIZE_VER0 = 24
PAGE = 4096
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x01, 0x02, 0x04
RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_CACHED = 0x08, 0x10, 0x20
VALID_RESOLVE = 0x3F
# Every open flag Linux knows (VALID_OPEN_FLAGS); O_LARGEFILE included (arm64 sets it).
VALID_OPEN_FLAGS = (F.O_ACCMODE | F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC | F.O_APPEND
                    | F.O_NONBLOCK | F.O_DSYNC | F.O_ASYNC | F.O_DIRECTORY | F.O_NOFOLLOW
                    | F.O_DIRECT | F.O_LARGEFILE | F.O_NOATIME | F.O_CLOEXEC | F.O_SYNC
                    | F.O_PATH | F.__O_TMPFILE)
O_PATH_FLAGS = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_PATH | F.O_CLOEXEC
_MAXSYMLINKS = 40


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _is_magic(guest: bytes) -> bool:
    """A /proc magic link: /proc/PID|self|thread-self/{fd/N, exe, cwd, root, ns/*} (and task/TID/...)."""
    parts = guest.strip(b"/").split(b"/")
    if len(parts) < 3 or parts[0] != b"proc":
        return False
    rest = parts[2:]
    if len(rest) >= 3 and rest[0] == b"task":
        rest = rest[2:]
    return (len(rest) == 1 and rest[0] in (b"exe", b"cwd", b"root")) or \
           (len(rest) == 2 and rest[0] in (b"fd", b"ns", b"map_files"))


def _lstat(guest: bytes) -> os.stat_result:
    """lstat of a guest path, /proc's synthesised entries included (hosts without a /proc)."""
    if guest[:6] == b"/proc/" or guest == b"/proc":
        st = paths.stat_special(guest, False)
        if st is not None:
            return st
    return os.lstat(paths.host_path(guest, follow=False))


def _start_dir(dirfd: int) -> bytes:
    """The guest path of the walk's starting directory."""
    if s32(dirfd) == F.AT_FDCWD:
        return paths.special_cwd or os.fsencode(paths.guest_path(os.getcwd()))
    fd = check_fd(dirfd)
    st = proc.fds.state.get(fd)
    if getattr(st, "guest_dir", None):
        return st.guest_dir
    if not _stat.S_ISDIR(os.fstat(fd).st_mode):
        raise _err(20)                                 # ENOTDIR
    return os.fsencode(paths.guest_path(proc.fds.path_of(fd)))


def resolve(dirfd: int, p: bytes, resolve_flags: int, open_flags: int) -> bytes:
    """The absolute guest path `p` names from `dirfd` under the RESOLVE_* restrictions."""
    start = _start_dir(dirfd)
    root = start if resolve_flags & RESOLVE_IN_ROOT else b"/"
    base = [c for c in start.split(b"/") if c]
    floor = len(base) if resolve_flags & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) else 0
    no_links = resolve_flags & RESOLVE_NO_SYMLINKS
    stack = list(base)
    if p[:1] == b"/":
        if resolve_flags & RESOLVE_BENEATH:
            raise _err(18)                             # EXDEV
        stack = [c for c in root.split(b"/") if c]
    todo = [c for c in p.split(b"/") if c and c != b"."][::-1]
    dev = _lstat(b"/" + b"/".join(stack)).st_dev
    links = 0
    while todo:
        part = todo.pop()
        if part == b".":
            continue
        if part == b"..":
            if len(stack) <= floor:
                if resolve_flags & RESOLVE_BENEATH:
                    raise _err(18)
                continue                               # IN_ROOT (or /): stay at the root
            stack.pop()
            continue
        stack.append(part)
        here = b"/" + b"/".join(stack)
        try:
            st = _lstat(here)
        except FileNotFoundError:
            if todo:
                raise
            break                                      # a name O_CREAT may create
        last = not todo
        if _stat.S_ISLNK(st.st_mode):
            if last and open_flags & F.O_NOFOLLOW:
                if no_links and not open_flags & F.O_PATH:
                    raise _err(40)
                break                                  # the link itself (ELOOP/O_PATH from the open)
            if no_links or (resolve_flags & RESOLVE_NO_MAGICLINKS and _is_magic(here)):
                raise _err(40)                         # ELOOP
            links += 1
            if links > _MAXSYMLINKS:
                raise _err(40)
            target = paths.readlink_special(here) if here[:6] == b"/proc/" else None
            if target is None:
                target = os.readlink(os.fsencode(paths.host_path(here, follow=False)))
            stack.pop()
            if target[:1] == b"/":
                if resolve_flags & RESOLVE_BENEATH:
                    raise _err(18)
                stack = [c for c in root.split(b"/") if c]
            todo.extend(c for c in reversed(target.split(b"/")) if c and c != b".")
            continue
        if resolve_flags & RESOLVE_NO_XDEV and st.st_dev != dev:
            raise _err(18)
        if not last and not _stat.S_ISDIR(st.st_mode):
            raise _err(20)                             # ENOTDIR
    return b"/" + b"/".join(stack)


@syscall("openat2", "dirfd, path, ptr, size", ret="fd", level=PARTIAL, interruptible=True,
         note="open_how checked as Linux; RESOLVE_* enforced by the emulator's own walk (not atomic "
              "against a concurrent rename)")
def sys_openat2(dirfd, pathname, how, size):
    if size < OPEN_HOW_SIZE_VER0:
        return -lerrno.EINVAL
    if size > PAGE:
        return -lerrno.E2BIG
    raw = proc.mem.read(how, size)
    if any(raw[OPEN_HOW_SIZE_VER0:]):
        return -lerrno.E2BIG
    flags, mode, res = _OPEN_HOW.unpack_from(raw)
    # fs/open.c build_open_flags, in its order.
    if flags & ~VALID_OPEN_FLAGS:
        return -lerrno.EINVAL
    if flags & (F.O_CREAT | F.__O_TMPFILE):
        if mode & ~0o7777:
            return -lerrno.EINVAL
    elif mode:
        return -lerrno.EINVAL
    if flags & F.__O_TMPFILE:
        if (flags & (F.O_TMPFILE | F.O_CREAT)) != F.O_TMPFILE or not flags & (F.O_WRONLY | F.O_RDWR):
            return -lerrno.EINVAL
    elif flags & F.O_PATH and flags & ~O_PATH_FLAGS:
        return -lerrno.EINVAL
    if res & ~VALID_RESOLVE or (res & RESOLVE_BENEATH and res & RESOLVE_IN_ROOT):
        return -lerrno.EINVAL
    if res & RESOLVE_CACHED and flags & (F.O_CREAT | F.O_TRUNC | F.__O_TMPFILE):
        return -lerrno.EAGAIN
    p = guest_path(pathname)
    if not p:
        return -lerrno.ENOENT
    if res & ~RESOLVE_CACHED:
        p = resolve(dirfd, p, res, flags)
        dirfd = F.AT_FDCWD
    return open_guest(dirfd, p, flags, mode)


OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, F.O_CLOEXEC
AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT, AT_EMPTY_PATH, AT_RECURSIVE = 0x100, 0x800, 0x1000, 0x8000


@syscall("open_tree", "dirfd, path, hex", ret="fd", level=PARTIAL,
         note="without OPEN_TREE_CLONE an O_PATH open of the path, as Linux; a clone is EPERM (no CAP_SYS_ADMIN)")
def sys_open_tree(dirfd, pathname, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW
                 | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC):
        return -lerrno.EINVAL
    if flags & AT_RECURSIVE and not flags & OPEN_TREE_CLONE:
        return -lerrno.EINVAL
    if flags & OPEN_TREE_CLONE:
        return -lerrno.EPERM
    p = guest_path(pathname)
    oflags = F.O_PATH | (F.O_CLOEXEC if flags & OPEN_TREE_CLOEXEC else 0) | \
        (F.O_NOFOLLOW if flags & AT_SYMLINK_NOFOLLOW else 0)
    if not p:
        if not flags & AT_EMPTY_PATH:
            return -lerrno.ENOENT
        p = b"."
    return open_guest(dirfd, p, oflags, 0)
