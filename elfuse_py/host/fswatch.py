"""Host seam for watching files and directories, for hosts without inotify.

On a Linux host the guest's inotify is the host kernel's (syscalls/notify.py)
and nothing here is used.  On macOS, and under the macOS host model
(ELFUSE_HOST_COMPAT=darwin), syscalls/notify_twin.py gives the guest an
inotify twin built on this module.  This module speaks host paths and
neutral change records; the twin owns the Linux side (watch descriptors,
IN_* bits, cookies, the event queue, the fd).

**The one backend today is `snapshot`**: nothing tells the emulator that a
file changed, so every `scan()` looks again.  It keeps, per watched path,
the target's own attributes and, for a directory, its entries (name ->
inode, type, mtime, size, ctime, mode, owner, link count), and compares a
fresh look with them:

- a name that appears or disappears is a creation or a deletion; the same
  inode leaving one name and appearing under another (in the same or another
  watched directory, in one scan) is a move;
- a changed mtime or size is a modification, any other changed attribute
  (ctime, mode, owner, links) an attribute change (directories: only mode
  and owner, their times change with their entries);
- a watched path that no longer names its inode was moved if that inode is
  found in its old parent directory or in a watched directory (the watch then
  follows it there, as an inotify watch follows its inode), deleted
  otherwise.

What happens between two scans coalesces: a file created and removed within
one interval is never seen, a creation followed by writes is one creation,
and the order of different changes within one interval is this module's, not
the order they happened in.  A move out of the watched directories looks
like a deletion, a move in like a creation.  Opens, reads and closes change
nothing a snapshot can see (no IN_OPEN, IN_ACCESS, IN_CLOSE_*).

`wait()` sleeps between scans: `INTERVAL` (10 ms), stretched to four times
the last scan's duration so that large directories cost at most a fifth of
one host CPU.

On a Mac, kqueue's EVFILT_VNODE (NOTE_WRITE on a directory, NOTE_WRITE /
NOTE_EXTEND / NOTE_ATTRIB / NOTE_RENAME / NOTE_DELETE on a file, on O_EVTONLY
descriptors) would say which watch changed and when, so `wait()` could block
in kevent and `scan()` rescan only the watches it names, keeping the same
records.  That backend does not exist yet: only the snapshot one does.
"""
from __future__ import annotations

import errno
import os
import stat
import time

BACKEND = "snapshot"
INTERVAL = 0.010            # seconds between two scans (at least)
_STRETCH = 4                # ... or this many times the last scan's duration

# The attributes compared: (mtime_ns, size, ctime_ns, mode, uid, gid, nlink).
_MTIME, _SIZE, _CTIME, _MODE, _UID, _GID, _NLINK = range(7)


def _attrs(st: os.stat_result) -> tuple:
    return (st.st_mtime_ns, st.st_size, st.st_ctime_ns, st.st_mode, st.st_uid, st.st_gid, st.st_nlink)


def _what_changed(old: tuple, new: tuple, is_dir: bool) -> str | None:
    """"modify", "attrib" or None between two attribute tuples of one inode."""
    if old == new:
        return None
    if is_dir:
        # A directory's times, size and link count follow its entries; inotify
        # reports those as entry events, not as a change of the directory.
        same = old[_MODE] == new[_MODE] and old[_UID] == new[_UID] and old[_GID] == new[_GID]
        return None if same else "attrib"
    if old[_MTIME] != new[_MTIME] or old[_SIZE] != new[_SIZE]:
        return "modify"
    return "attrib"


def _entries(path: bytes) -> dict[bytes, tuple]:
    """name -> (inode, is_dir, attributes) of a directory's entries (symlinks not followed)."""
    out = {}
    with os.scandir(path) as it:
        for e in it:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue                    # gone between readdir and stat
            out[e.name] = (st.st_ino, stat.S_ISDIR(st.st_mode), _attrs(st))
    return out


class Watch:
    """One watched file or directory, by host path (bytes).

    `dev`/`ino` name the inode the watch is on; `path` follows it when it is
    seen to move.  Plain attributes only: the twin's state is pickled across
    execve.
    """

    def __init__(self, path: bytes, follow: bool) -> None:
        st = os.stat(path, follow_symlinks=follow)
        self.path = path
        self.follow = follow
        self.dev, self.ino = st.st_dev, st.st_ino
        self.is_dir = stat.S_ISDIR(st.st_mode)
        self.attrs = _attrs(st)
        self.entries = _entries(path) if self.is_dir else {}

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def _stat(self) -> os.stat_result | None:
        try:
            st = os.stat(self.path, follow_symlinks=self.follow)
        except OSError:
            return None
        return st if (st.st_dev, st.st_ino) == (self.dev, self.ino) else None


def open_watch(path: str | bytes, follow: bool) -> Watch:
    """A watch on `path` (made absolute, symlinks resolved unless not `follow`).

    Raises OSError as the host's stat does (ENOENT, ENOTDIR, EACCES, ELOOP...),
    and EACCES for a target the caller may not read (inotify's rule).
    """
    path = os.fsencode(path)
    if not path:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd().encode(), path)
    st = os.stat(path, follow_symlinks=follow)     # the path's own error, not realpath's
    if not stat.S_ISLNK(st.st_mode) and not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    if follow:
        path = os.path.realpath(path)
    else:
        head, tail = os.path.split(path)
        path = os.path.join(os.path.realpath(head), tail) if tail else os.path.realpath(path)
    return Watch(path, follow)


# ----- scanning ---------------------------------------------------------------------------
# Change records (wid: the caller's key of a Watch; name b"" = the watched target itself):
#   ("create", wid, name, is_dir)          ("delete", wid, name, is_dir)
#   ("modify", wid, name, is_dir)          ("attrib", wid, name, is_dir)
#   ("move", from_wid, from_name, to_wid, to_name, is_dir)
#   ("move_self", wid, b"", is_dir)        ("delete_self", wid, b"", is_dir)
# After "delete_self" the caller drops the watch; scan() no longer knows it.

def scan(watches: dict[int, Watch]) -> list[tuple]:
    """Look at every watch again; the changes since the last look, in one list."""
    out: list[tuple] = []
    lost: list[int] = []
    self_changes: list[tuple] = []
    gone: list[tuple] = []                  # (wid, name, ino, is_dir) no longer there
    born: list[tuple] = []                  # (wid, name, ino, is_dir) new
    later: list[tuple] = []                 # entry modify/attrib records
    for wid in sorted(watches):
        w = watches[wid]
        st = w._stat()
        if st is None:
            lost.append(wid)
            continue
        new_attrs = _attrs(st)
        kind = _what_changed(w.attrs, new_attrs, w.is_dir)
        w.attrs = new_attrs
        if kind:
            self_changes.append((kind, wid, b"", w.is_dir))
        if not w.is_dir:
            continue
        try:
            fresh = _entries(w.path)
        except OSError:
            continue                        # unreadable now: keep the last look
        old = w.entries
        for name, (ino, is_dir, attrs) in old.items():
            cur = fresh.get(name)
            if cur is None or cur[0] != ino:
                gone.append((wid, name, ino, is_dir))
            else:
                kind = _what_changed(attrs, cur[2], is_dir)
                if kind:
                    later.append((kind, wid, name, is_dir))
        for name, (ino, is_dir, _attrs_) in fresh.items():
            prev = old.get(name)
            if prev is None or prev[0] != ino:
                born.append((wid, name, ino, is_dir))
        w.entries = fresh

    # One inode leaving a name and arriving under another: a move.
    arrivals: dict[tuple, list[int]] = {}
    for i, (wid, _name, ino, _d) in enumerate(born):
        arrivals.setdefault((watches[wid].dev, ino), []).append(i)
    used: set[int] = set()
    for wid, name, ino, is_dir in gone:
        cands = arrivals.get((watches[wid].dev, ino))
        if cands:
            i = cands.pop(0)
            used.add(i)
            out.append(("move", wid, name, born[i][0], born[i][1], is_dir))
        else:
            out.append(("delete", wid, name, is_dir))
    out += [("create", wid, name, is_dir) for i, (wid, name, _ino, is_dir) in enumerate(born)
            if i not in used]
    out += later
    out += self_changes

    # Watched targets whose path no longer names their inode: moved or deleted.
    # Parents first, so that a moved directory carries the paths below it.
    for wid in sorted(lost, key=lambda k: len(watches[k].path)):
        w = watches[wid]
        if w._stat() is not None:
            continue                        # an ancestor's move already carried it
        new_path = _find(w, watches, born)
        if new_path is None:
            out.append(("delete_self", wid, b"", w.is_dir))
            continue
        old_prefix = w.path + b"/"
        for other in watches.values():
            if other.path.startswith(old_prefix):
                other.path = new_path + b"/" + other.path[len(old_prefix):]
        w.path = new_path
        out.append(("move_self", wid, b"", w.is_dir))
    return out


def _find(w: Watch, watches: dict[int, Watch], born: list[tuple]) -> bytes | None:
    """Where `w`'s inode is now: its old parent directory, or a name new in a watched directory."""
    candidates = []
    parent = os.path.dirname(w.path)
    try:
        with os.scandir(parent) as it:
            candidates += [os.path.join(parent, e.name) for e in it]
    except OSError:
        pass
    candidates += [os.path.join(watches[wid].path, name) for (wid, name, _ino, _d) in born]
    for path in candidates:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (w.dev, w.ino):
            return path
    return None


class Pacer:
    """The pause between two scans: INTERVAL, or longer after a slow scan."""

    def __init__(self) -> None:
        self.pause = INTERVAL

    def timed(self, fn, *args):
        t0 = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.pause = max(INTERVAL, _STRETCH * (time.monotonic() - t0))

    def wait(self) -> None:
        time.sleep(self.pause)
