"""Guest path -> host path translation: the guest root (sysroot) and the /proc seam.

Without a sysroot a guest path is the host path (one decode, nothing else: this
runs on every open/stat).  With one (`--sysroot`, ELFUSE_SYSROOT, like
qemu-user's -L / QEMU_LD_PREFIX) an absolute guest path is resolved inside it
first, one component at a time:

- `..` at the sysroot's root stays at the root, so a guest path never climbs out;
- a symlink met inside the sysroot is followed *inside* it: an absolute target
  (`/lib -> /usr/lib`) restarts from the sysroot's root, a relative one goes on
  from the link's directory;
- if the sysroot has no such file, the host path is used instead (the guest
  still sees the host's /tmp, /home, …).

The same holds below a directory fd (the union root): a directory the guest
opens by an absolute name keeps its canonical guest path (`canonical_dir`,
kept by the fd's state in syscalls/dirs.py), and names relative to it are
resolved as that path joined to the name, sysroot first, then the host; its
listing is both sides' (`union_sources`), sysroot first, without duplicates.

/proc, /dev and /sys always come from the host: they belong to the kernel, not
to the distribution image.  What the guest's /proc holds is answered by the
special-file provider installed at boot (`install_special_files`: procfs):
the host path a generic call uses (`proc_host_path`), opens, link targets
and stat results (`open_special`, `readlink_special`, `stat_special`).

After the guest's chroot(2) (`root`, a host directory: set_root) every
absolute path resolves inside that directory only (runtime/rootdir: `..`
stays at it, links followed inside it, no host fallback, and /dev, /sys are
whatever the root holds, as on Linux); /proc is served only when the root has
a /proc directory to mount it on.  A relative path is resolved the same way
while the cwd is inside the root (`rooted`).  A chroot inside a sysroot names
a directory of the sysroot, since its path went through host_path first.
"""
from __future__ import annotations

import errno
import os

from elfuse_py.runtime import rootdir

sysroot: str | None = None
# The guest's root after chroot(2): a host directory (its real path), or None
# for the original one (the sysroot, else the host's /).  Inherited by fork
# (a module global) and across execve (the exec state carries it).
root: str | None = None
# The guest's working directory when it is one the emulator synthesises (a
# directory of the guest's /proc on a host without one: the host's cwd is then
# an empty private stand-in); None when the host's cwd is the guest's.
special_cwd: bytes | None = None

# Links followed while resolving one path before giving ELOOP, as Linux's MAXSYMLINKS.
_MAXSYMLINKS = 40
# Top-level directories that always come from the host.
_HOST_ONLY = (b"proc", b"dev", b"sys")


def set_sysroot(path: str | None) -> None:
    """Use `path` (made absolute) as the guest root; None for none."""
    global sysroot
    sysroot = os.path.abspath(path) if path else None


def host_path(guest: bytes, follow: bool = True) -> str:
    """The host path for a guest path given as bytes.

    `follow` says whether a symlink in the last component is followed (False
    for lstat, readlink, unlink, O_NOFOLLOW …); links in earlier components
    are always followed.
    """
    if root is not None:
        return _in_root(guest, follow)
    if guest[:5] == b"/proc" and (guest[5:6] == b"/" or len(guest) == 5):
        return proc_host_path(guest, follow)
    if guest[:1] == b"/" and maybe_proc(guest):
        canon = canonical_proc(guest)
        if canon is not guest:
            return proc_host_path(canon, follow)
    if sysroot is None or guest[:1] != b"/":
        return os.fsdecode(guest)
    found = resolve_in_sysroot(guest, follow)
    return found if found is not None else os.fsdecode(guest)


def maybe_proc(p: bytes):
    """Cheap test (one C-level search, on every path): could a path be another
    spelling of a /proc path (see canonical_proc)?  Truthy if so.

    The compiled search replaces this function on its first call: `re` (with
    enum) costs ~3 ms, which a run that never names a path does not pay.
    Callers look it up as `paths.maybe_proc` each time."""
    global maybe_proc
    import re
    maybe_proc = re.compile(rb"proc|dev|fd|std").search
    return maybe_proc(p)


# /dev names that are links into the process's own /proc/self/fd on Linux
# (and the fdesc file system on a Mac): the guest's fd table answers them.
_DEV_FD = {b"stdin": b"0", b"stdout": b"1", b"stderr": b"2"}


def canonical_proc(p: bytes, base: bytes | None = None) -> bytes:
    """`p` as /proc/... when it is another spelling of a path of the guest's /proc:
    //proc, /./proc, /x/../proc, proc/... relative to a directory `base` (a host
    path) that is /, and /dev/fd/N, /dev/stdin... (links to /proc/self/fd/N).
    Anything else is returned unchanged (the same object).

    The components before /proc are taken lexically; from /proc on, procfs
    resolves them itself (/proc/self/cwd/.. is not /proc/self)."""
    full = p if p[:1] == b"/" else (base.rstrip(b"/") + b"/" + p if base is not None else None)
    if full is None:
        return p
    out: list[bytes] = []
    parts = full.split(b"/")
    for i, c in enumerate(parts):
        if c in (b"", b"."):
            continue
        if c == b"..":
            if out:
                out.pop()
            continue
        out.append(c)
        if out == [b"proc"]:
            rest = b"/".join(parts[i + 1:])
            canon = b"/proc/" + rest if rest else b"/proc"
            return p if canon == p else canon
        if len(out) == 2 and out[0] == b"dev" and (c == b"fd" or c in _DEV_FD):
            rest = b"/".join(parts[i + 1:])
            canon = b"/proc/self/fd" if c == b"fd" else b"/proc/self/fd/" + _DEV_FD[c]
            return canon + b"/" + rest if rest else canon
        if len(out) > 2:
            return p
    return p


def proc_through_links(path: bytes, base: bytes | None = None) -> bytes | None:
    """If host path `path` (relative to directory `base`, else the cwd) reaches /proc
    through symlinks (a link the guest made to /proc/self/fd, to /dev/fd...): the
    /proc path it names, for the guest's /proc to answer; else None.

    Resolved one component at a time, following links by their text until
    /proc is reached: the rest is /proc's to resolve (its links are magic)."""
    if not path.startswith(b"/"):
        path = (base if base is not None else os.getcwdb()).rstrip(b"/") + b"/" + path
    todo = [c for c in reversed(path.split(b"/"))]
    done: list[bytes] = []
    links = 0
    while todo:
        c = todo.pop()
        if c in (b"", b"."):
            continue
        if c == b"..":
            if done:
                done.pop()
            continue
        done.append(c)
        if done == [b"proc"]:
            rest = b"/".join(reversed(todo)).strip(b"/")
            return b"/proc/" + rest if rest else b"/proc"
        if len(done) == 2 and done[0] == b"dev" and (c == b"fd" or c in _DEV_FD):
            # /dev/fd is /proc/self/fd (a link on Linux, fdesc on a Mac)
            rest = b"/".join(reversed(todo)).strip(b"/")
            canon = b"/proc/self/fd" if c == b"fd" else b"/proc/self/fd/" + _DEV_FD[c]
            return canon + b"/" + rest if rest else canon
        if not todo:
            break
        try:
            target = os.readlink(b"/" + b"/".join(done))
        except OSError:
            continue                     # not a link (or not there): the host will say
        links += 1
        if links > _MAXSYMLINKS:
            return None
        done.pop()
        if target.startswith(b"/"):
            done = []
        todo.extend(reversed(target.split(b"/")))
    return None


def resolve_in_sysroot(guest: bytes, follow: bool = True) -> str | None:
    """The host path of absolute `guest` inside the sysroot, or None if it has no such file."""
    root = os.fsencode(sysroot)
    parts = [p for p in guest.split(b"/") if p and p != b"."]
    if parts and parts[0] in _HOST_ONLY:
        return None
    # `stack` holds the resolved components below the root; `todo` what is left.
    stack: list[bytes] = []
    todo = parts[::-1]
    links = 0
    while todo:
        part = todo.pop()
        if part == b".":
            continue
        if part == b"..":
            if stack:
                stack.pop()
            continue
        stack.append(part)
        if not follow and not todo:
            break
        here = root + b"/" + b"/".join(stack)
        try:
            target = os.readlink(here)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.EINVAL:      # exists, not a link
                continue
            if e.errno == errno.ENOTDIR:     # a file used as a directory: let the host say so
                return os.fsdecode(here + b"/" + b"/".join(todo[::-1]))
            return None
        links += 1
        if links > _MAXSYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        stack.pop()
        if target.startswith(b"/"):
            stack = []
        todo.extend(p for p in reversed(target.split(b"/")) if p and p != b".")
    if stack and stack[0] in _HOST_ONLY:
        return None
    here = root + (b"/" + b"/".join(stack) if stack else b"")
    if not os.path.lexists(here):
        return None
    return os.fsdecode(here)


def canonical_dir(guest: bytes) -> bytes:
    """The canonical guest path of absolute directory path `guest` under the sysroot:
    links and `..` resolved the way `host_path` resolves them (inside the
    sysroot first, `..` never above its root; else the host's real path)."""
    found = resolve_in_sysroot(guest, True)
    if found is not None:
        return os.fsencode(guest_path(found))
    return os.fsencode(os.path.realpath(os.fsdecode(guest)))


def union_sources(guest_dir: bytes) -> list[str]:
    """The host directories a guest directory of the union root lists: the
    sysroot's one first, then the host's of the same name, each where it is a
    directory (one entry when only one side has it; /proc, /dev and /sys are the host's)."""
    out = []
    if sysroot is not None:
        found = resolve_in_sysroot(guest_dir, True)
        if found is not None and os.path.isdir(found):
            out.append(found)
    host = os.fsdecode(guest_dir)
    if os.path.isdir(host) and not any(os.path.samefile(host, o) for o in out):
        out.append(host)
    return out


def set_root(host_dir: str | None) -> None:
    """chroot(2): make host directory `host_dir` the guest's root (None: the original root)."""
    global root
    host_dir = os.path.realpath(host_dir) if host_dir else None
    original = os.path.realpath(sysroot) if sysroot else "/"
    root = None if host_dir == original else host_dir


def _is_proc(guest: bytes) -> bool:
    return guest[:5] == b"/proc" and (guest[5:6] == b"/" or len(guest) == 5)


class FromDir(bytes):
    """A /proc guest path reached through a directory fd opened before a chroot
    (openat(fd, "root")): found even when the new root has no /proc."""


def _proc_hidden(guest: bytes = b"") -> bool:
    """Inside a chroot whose root has no /proc to mount it on, /proc does not exist
    (as on Linux), except through a directory fd of it the guest still holds."""
    return root is not None and type(guest) is not FromDir and not os.path.isdir(root + "/proc")


def _in_root(guest: bytes, follow: bool) -> str:
    if guest[:1] != b"/":
        return os.fsdecode(guest)
    if _is_proc(guest) and not _proc_hidden(guest):
        return proc_host_path(guest, follow)
    return os.fsdecode(rootdir.resolve(os.fsencode(root), guest, follow))


def rooted(p: bytes, base: str | None = None) -> bytes | None:
    """Inside a chroot, relative path `p` as the absolute guest path it names from
    host directory `base` (default: the cwd), so `..` stops at the root; or None:
    no chroot, or a base outside the root (there, as on Linux, a relative path is
    the host's)."""
    if root is None or p[:1] == b"/":
        return None
    cwd = os.getcwd() if base is None else base
    if cwd != root and not cwd.startswith(root + "/"):
        return None
    return os.fsencode(cwd[len(root):] or "/") + b"/" + p


def cwd_name() -> bytes:
    """getcwd(2)'s answer for the host cwd: the guest's name for it (below the
    sysroot: the path inside it), or inside a chroot the path below its root, and
    "(unreachable)" with the path from the original root when the cwd is outside it."""
    cwd = os.getcwd()
    if root is None:
        return os.fsencode(_sysroot_name(cwd))
    if cwd == root or cwd.startswith(root + "/"):
        return os.fsencode(cwd[len(root):] or "/")
    return b"(unreachable)" + os.fsencode(_sysroot_name(cwd))


def _sysroot_name(host: str) -> str:
    if sysroot and (host == sysroot or host.startswith(sysroot + "/")):
        return host[len(sysroot):] or "/"
    return host


def guest_path(host: str) -> str:
    """The guest's name for a host path: the root's or sysroot's prefix taken off (for /proc/self/exe…)."""
    if root is not None and (host == root or host.startswith(root + "/")):
        return host[len(root):] or "/"
    if sysroot and (host == sysroot or host.startswith(sysroot + "/")):
        return host[len(sysroot):] or "/"
    return host


class NoSpecialFiles:
    """The special-file provider before one is installed: nothing is synthesised."""

    @staticmethod
    def proc_host_path(guest: bytes, follow: bool = True) -> str:
        return os.fsdecode(guest)

    @staticmethod
    def open_special(guest: bytes, flags: int, mode: int) -> int | None:
        return None

    @staticmethod
    def readlink_special(guest: bytes) -> bytes | None:
        return None

    @staticmethod
    def stat_special(guest: bytes, follow: bool):
        return None

    @staticmethod
    def special_dir(guest: bytes) -> bytes | None:
        return None


class LazySpecialFiles:
    """Stands for the provider until the guest names a /proc path: `load()` then
    returns the real one, which replaces this (the guest /proc costs ~4 ms of
    imports, which a run that never looks at /proc does not pay).  Every
    provider call answers None for a path outside /proc, and so does this."""

    def __init__(self, load) -> None:
        self._load = load

    def _real(self):
        global special_files
        if special_files is self:
            special_files = self._load()
        return special_files

    def proc_host_path(self, guest: bytes, follow: bool = True) -> str:
        return self._real().proc_host_path(guest, follow)    # (called for /proc paths only)

    def open_special(self, guest: bytes, flags: int, mode: int) -> int | None:
        return self._real().open_special(guest, flags, mode) if _is_proc(guest) else None

    def readlink_special(self, guest: bytes) -> bytes | None:
        return self._real().readlink_special(guest) if _is_proc(guest) else None

    def stat_special(self, guest: bytes, follow: bool):
        return self._real().stat_special(guest, follow) if _is_proc(guest) else None

    def special_dir(self, guest: bytes) -> bytes | None:
        return self._real().special_dir(guest) if _is_proc(guest) else None


# Who answers for the paths the emulator synthesises (the guest's /proc): the
# procfs module (behind a LazySpecialFiles), installed at boot by the composition root.
special_files = NoSpecialFiles


def install_special_files(provider) -> None:
    """Route /proc paths, synthesised files and links through `provider` (elfuse_py.runtime.procfs,
    or a LazySpecialFiles that imports it on the first /proc path)."""
    global special_files
    special_files = provider


def proc_host_path(guest: bytes, follow: bool = True) -> str:
    """Host path for a /proc/… guest path (procfs maps /proc/self/exe to the guest program).

    `follow` False: a link in the last component is named itself, not its target."""
    return special_files.proc_host_path(guest, follow)


def open_special(guest: bytes, flags: int, mode: int) -> int | None:
    """An fd for a path the emulator synthesises (/proc/self/maps, …), or None.

    `flags` are Linux open flags.
    """
    if root is not None and _proc_hidden(guest):
        return None
    return special_files.open_special(guest, flags, mode)


def readlink_special(guest: bytes) -> bytes | None:
    """The link target of an emulated link (/proc/self/exe, /proc/self/fd/N), or None."""
    if root is not None and _proc_hidden(guest):
        return None
    return special_files.readlink_special(guest)


def stat_special(guest: bytes, follow: bool):
    """A stat result (os.stat_result's attributes) for a path the emulator synthesises, or None.

    `follow` False: a link in the last component is described itself (lstat)."""
    if root is not None and _proc_hidden(guest):
        return None
    return special_files.stat_special(guest, follow)


def special_dir(guest: bytes) -> bytes | None:
    """The canonical guest path of a directory the emulator synthesises with no host
    counterpart (chdir there sets `special_cwd`), or None for a host directory."""
    if root is not None and _proc_hidden(guest):
        return None
    return special_files.special_dir(guest)
