"""Safe unpacking of tar members into a root directory, as if chrooted there.

Every member path is resolved *inside* the root, one component at a time, the
way the guest (and dpkg in a chroot) would see it: a symlink met on the way is
followed inside the root (an absolute target restarts at the root, `..` stops
at the root), so `bin/bash` lands in `usr/bin/bash` once `bin -> usr/bin`
exists, and a planted `lib -> /etc` followed by `lib/passwd` writes the
root's `etc/passwd`, never the host's.  The host's own symlink following is
never used: files are created with O_NOFOLLOW|O_EXCL after the old name is
removed.  A member name with a `..` component is refused (`UnsafeArchive`);
a leading `/` is dropped, as tar does.

On a case-insensitive volume (`casefold=True`), members whose paths differ
only in case from an earlier one are listed in `case_collisions` (the later
one replaces the earlier file there), so the tool can name them.

Device nodes are made only when running as root (skipped and counted
otherwise); ownership is applied only as root.  Directory modes and times are
applied at `finish()`, deepest first, so a read-only directory in an archive
does not stop later members from landing in it.
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
from typing import IO

MAX_SYMLINK_HOPS = 40


class UnsafeArchive(Exception):
    """A member that would escape the root, or a path that cannot be resolved inside it."""


def member_parts(name: str) -> list[str]:
    """The components of a member name; `..` is refused, `.`/empty/leading `/` dropped."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"member {name!r} climbs out of the root with '..'")
    return parts


class Extractor:
    """Writes tar members into `root`; one per build so directory modes are set once."""

    def __init__(self, root: str, keep_dir_symlinks: bool = True, casefold: bool = False) -> None:
        self.root = os.path.realpath(root)
        # dpkg keeps a symlink where a package ships a directory (merged /usr's
        # bin -> usr/bin); an image layer's directory replaces it (overlayfs).
        self.keep_dir_symlinks = keep_dir_symlinks
        self.privileged = hasattr(os, "geteuid") and os.geteuid() == 0
        self.dir_meta: dict[str, tuple[int, float]] = {}
        self.skipped_devices: list[str] = []
        self.files = 0
        self.casefold = casefold
        self.case_seen: dict[str, str] = {}          # casefolded host path -> first spelling
        self.case_collisions: list[tuple[str, str]] = []

    # --- resolution inside the root ------------------------------------------------
    def resolve(self, parts: list[str], follow_last: bool = True) -> str:
        """The host path of root-relative `parts`, symlinks followed inside the root."""
        todo = list(parts)
        out: list[str] = []
        hops = 0
        while todo:
            comp = todo.pop(0)
            if comp in ("", "."):
                continue
            if comp == "..":
                if out:
                    out.pop()
                continue
            cand = os.path.join(self.root, *out, comp)
            if (todo or follow_last) and os.path.islink(cand):
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise UnsafeArchive(f"too many levels of symlinks in /{'/'.join(parts)}")
                target = os.readlink(cand)
                if target.startswith("/"):
                    out = []
                todo = target.split("/") + todo
                continue
            out.append(comp)
        return os.path.join(self.root, *out)

    def _inside(self, path: str) -> str:
        if os.path.commonpath([self.root, path]) != self.root:      # belt and braces
            raise UnsafeArchive(f"{path} is outside {self.root}")
        return path

    def parent_of(self, parts: list[str]) -> str:
        """The resolved, existing directory that will hold the last component."""
        parent = self._inside(self.resolve(parts[:-1]))
        if not os.path.isdir(parent) or os.path.islink(parent):
            if os.path.lexists(parent) and not os.path.isdir(parent):
                os.unlink(parent)              # a file where the archive needs a directory
            os.makedirs(parent, exist_ok=True)
        return parent

    def remove(self, path: str) -> None:
        """Delete a file, link or whole directory (not following a link)."""
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    # --- members ---------------------------------------------------------------------
    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Write one member (the tar must be positioned at it for a stream)."""
        parts = member_parts(member.name)
        if not parts:
            return                              # "./" itself
        parent = self.parent_of(parts)
        dest = self._inside(os.path.join(parent, parts[-1]))
        if self.casefold:
            self._note_case(dest)
        if member.isdir():
            self._dir(parts, dest, member)
            return
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        elif os.path.lexists(dest):
            os.unlink(dest)
        if member.isreg():
            self._file(tar, member, dest)
        elif member.issym():
            os.symlink(member.linkname, dest)
        elif member.islnk():
            self._hardlink(member, dest)
        elif member.isfifo():
            os.mkfifo(dest, member.mode & 0o777)
        elif member.ischr() or member.isblk():
            if not self.privileged:
                self.skipped_devices.append("/" + "/".join(parts))
                return
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(dest, kind | (member.mode & 0o777), os.makedev(member.devmajor, member.devminor))
        else:
            return
        self.files += 1
        self._owner_and_time(dest, member)

    def _note_case(self, dest: str) -> None:
        """Record the first component path of dest that another spelling came before."""
        parts = os.path.relpath(dest, self.root).split(os.sep)
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            first = self.case_seen.setdefault(rel.casefold(), rel)
            if first != rel:
                pair = ("/" + first, "/" + rel)
                if pair not in self.case_collisions:
                    self.case_collisions.append(pair)
                return

    def _dir(self, parts: list[str], dest: str, member: tarfile.TarInfo) -> None:
        if os.path.islink(dest):
            real = self._inside(self.resolve(parts))
            if self.keep_dir_symlinks and os.path.isdir(real) and not os.path.islink(real):
                return
            os.unlink(dest)
        elif os.path.lexists(dest) and not os.path.isdir(dest):
            os.unlink(dest)
        os.makedirs(dest, exist_ok=True)
        if self.privileged:
            os.lchown(dest, member.uid, member.gid)
        self.dir_meta[dest] = (member.mode & 0o7777, member.mtime)

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str) -> None:
        src = tar.extractfile(member)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(dest, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                shutil.copyfileobj(src, out, 1 << 20)
            if self.privileged:
                os.fchown(out.fileno(), member.uid, member.gid)
            os.fchmod(out.fileno(), member.mode & 0o7777)

    def _hardlink(self, member: tarfile.TarInfo, dest: str) -> None:
        target = self._inside(self.resolve(member_parts(member.linkname), follow_last=False))
        if not os.path.isfile(target) or os.path.islink(target):
            raise UnsafeArchive(f"hard link {member.name} -> {member.linkname}: no such file in the root")
        try:
            os.link(target, dest)               # target is no symlink (checked above)
        except OSError:
            shutil.copy2(target, dest, follow_symlinks=False)

    def _owner_and_time(self, dest: str, member: tarfile.TarInfo) -> None:
        if self.privileged and not member.islnk():
            os.lchown(dest, member.uid, member.gid)
        if member.islnk():
            return
        if os.utime in os.supports_follow_symlinks:
            os.utime(dest, (member.mtime, member.mtime), follow_symlinks=False)
        elif not member.issym():
            os.utime(dest, (member.mtime, member.mtime))

    def extract_all(self, tar: tarfile.TarFile, skip=None) -> None:
        """Every member in order (`skip(member) -> bool` leaves some out)."""
        for member in tar:
            if skip is None or not skip(member):
                self.extract(tar, member)

    def finish(self) -> None:
        """Apply the directories' modes and times, deepest first."""
        for path in sorted(self.dir_meta, key=lambda p: p.count(os.sep), reverse=True):
            mode, mtime = self.dir_meta[path]
            if os.path.isdir(path) and not os.path.islink(path):
                if not self.privileged:
                    mode |= stat.S_IWUSR | stat.S_IXUSR    # a later run can still write there
                os.chmod(path, mode)
                os.utime(path, (mtime, mtime))
        self.dir_meta.clear()


def open_tar_stream(f: IO[bytes]) -> tarfile.TarFile:
    """A tar read as a stream (members in order, no seeking)."""
    return tarfile.open(fileobj=f, mode="r|")
