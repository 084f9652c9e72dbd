"""The emulator's private per-user runtime directory (created 0700, checked).

Emulators of one user share it: abstract socket names live there as files
(syscalls/net/policies.py), and so does the registry of live guests that the
synthesised /proc reads (elfuse_py/runtime/guests.py) and each guest's
signal inbox (sigq/, elfuse_py/runtime/siginbox.py).  It is
$ELFUSE_RUNTIME_DIR, else $XDG_RUNTIME_DIR, else /tmp, plus elfuse-py-<uid>
(and -pidns<id> inside a Linux pid namespace other than the host's first:
its pids name other processes than ours).

A directory at that path that is not ours (another user's, a symlink, not
private) is never used: the next of elfuse-py-<uid>-1 .. -<_TRIES> that is
(or can be made) ours is, so the emulators of one user still meet in the same
one, and if someone holds all of those, a fresh unique directory
(mkdtemp).  "Ours" is checked without following links (lstat) and again on
the opened directory (fstat: the same inode, a directory, our uid, mode 0700).

Its entries (abstract names' socket files, long names' side files, the
socket registry's records) belong to the *tree* of emulator processes that
made them: `own(path)` lists each in trees/<id>/entries.  Every process of a
tree holds one shared open file description of trees/<id>/lock with a shared
flock (inherited by fork, carried across the guest's execve like the log
channel, in the reserved fd range).  When the last one ends -- however: exit,
a signal, SIGKILL of the whole tree -- the kernel drops the lock; the last
process to leave removes the tree's entries, and any emulator that finds a
tree whose lock it can take (dead) removes them when it starts using the
directory.  So the directory does not grow run after run.
"""
from __future__ import annotations

import fcntl
import os
import stat

from elfuse_py.host import procinfo

_path: str | None = None
_TRIES = 8
# This process's tree: (id, fd of its lock file), once it owns an entry.
_tree: tuple[str, int] | None = None
_owned: set[str] = set()


def _ours(path: str) -> bool:
    """True if `path` is a directory we own, private (no group/other bits), not a link."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fst = os.fstat(fd)
    finally:
        os.close(fd)
    return (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino) and fst.st_uid == os.getuid() \
        and not fst.st_mode & 0o077


def _make(path: str) -> bool:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    return _ours(path)


def runtime_dir() -> str:
    """The directory, created on first use (see the module docstring for which one)."""
    global _path
    if _path is not None:
        return _path
    inherited = os.environ.get("ELFUSE_RUNTIME_DIR_IN_USE")
    if inherited and _ours(inherited):         # the one the emulator before this execve used
        _path = inherited
        sweep()
        return _path
    base = os.environ.get("ELFUSE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    name = f"elfuse-py-{os.getuid()}"
    # Signal inboxes and guest records are named by host pid: emulators in
    # another pid namespace that share this /tmp (a container's) must not meet
    # ours, whose pids are other processes (their signals went astray).
    pidns = procinfo.pid_namespace()
    if pidns is not None:
        name += f"-pidns{pidns}"
    path = os.path.join(base, name)
    if len(path) > 60:                         # keep room for "/a-<hash>" within 104 bytes
        base, path = "/tmp", f"/tmp/{name}"
    for i in range(_TRIES + 1):
        candidate = path if i == 0 else f"{path}-{i}"
        if _make(candidate):
            _path = candidate
            break
    else:
        import tempfile                 # only when the usual directory is not ours: rare
        _path = tempfile.mkdtemp(prefix=name + "-", dir=base)     # 0700, unique, ours
    # The emulators this one starts (the guest's execve) use the same one.
    os.environ["ELFUSE_RUNTIME_DIR_IN_USE"] = _path
    sweep()
    return _path


def created() -> bool:
    """True once runtime_dir() has been called in this process."""
    return _path is not None


def subdir(name: str) -> str:
    """runtime_dir()/name, created 0700 if missing."""
    path = os.path.join(runtime_dir(), name)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    return path


# ----- entries owned by a tree of emulators -------------------------------------------------

def _trees() -> str:
    return subdir("trees")


def own(path: str) -> None:
    """`path` (in the directory) was made by this tree: removed when the tree is gone."""
    if path in _owned:
        return
    tree = _join_tree()
    if tree is None:
        return
    _owned.add(path)
    line = os.fsencode(os.path.relpath(path, runtime_dir())) + b"\n"
    try:
        fd = os.open(os.path.join(_trees(), tree[0], "entries"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)              # one short O_APPEND write: never interleaved
        finally:
            os.close(fd)
    except OSError:
        pass


def _join_tree() -> tuple[str, int] | None:
    global _tree
    if _tree is not None:
        return _tree
    ident = f"{os.getpid()}-{os.urandom(4).hex()}"     # (secrets would cost start-up: hmac, hashlib)
    d = os.path.join(_trees(), ident)
    try:
        os.mkdir(d, 0o700)
        fd = os.open(os.path.join(d, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        return None
    from elfuse_py.runtime.process import proc     # the reserved range, out of the guest's reach
    if proc.fds is not None:
        fd = proc.fds.reserve(fd)
    _tree = (ident, fd)
    return _tree


def exec_state() -> tuple[str, int] | None:
    """What the guest's execve carries (the lock fd is kept open across it)."""
    if _tree is not None:
        os.set_inheritable(_tree[1], True)
    return _tree


def exec_failed() -> None:
    if _tree is not None:
        os.set_inheritable(_tree[1], False)


def carry(tree: tuple[str, int] | None) -> None:
    """In an exec'd image: the tree of the image before (its lock fd was inherited)."""
    global _tree
    if tree is None:
        return
    try:
        os.fstat(tree[1])
        os.set_inheritable(tree[1], False)
    except OSError:
        return
    _tree = tree


def leave() -> None:
    """This process ends: if it was the tree's last, remove the tree's entries."""
    global _tree
    if _tree is None:
        return
    ident, fd = _tree
    _tree = None
    try:
        os.close(fd)
    except OSError:
        pass
    _remove_if_dead(os.path.join(_trees(), ident))


def sweep() -> None:
    """Remove the entries of trees none of whose processes is alive (killed, SIGKILLed)."""
    try:
        d = os.path.join(_path, "trees")
        names = os.listdir(d)
    except OSError:
        return
    mine = _tree[0] if _tree is not None else None
    for name in names:
        if name != mine:
            _remove_if_dead(os.path.join(d, name))


def remove_tree(path: str) -> None:
    """rm -rf `path`, errors ignored: shutil.rmtree without shutil, whose import
    (fnmatch, bz2, lzma...) would cost every guest's exit ~1.5 ms.  Links are
    removed, never followed."""
    try:
        for top, dirs, files in os.walk(path, topdown=False):
            for name in files:
                _quiet(os.unlink, os.path.join(top, name))
            for name in dirs:
                p = os.path.join(top, name)
                _quiet(os.unlink if os.path.islink(p) else os.rmdir, p)
    finally:
        _quiet(os.unlink if os.path.islink(path) else os.rmdir, path)


def _quiet(fn, path: str) -> None:
    try:
        fn(path)
    except OSError:
        pass


def _remove_if_dead(tree_dir: str) -> None:
    try:
        fd = os.open(os.path.join(tree_dir, "lock"), os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        remove_tree(tree_dir)      # never finished being made
        return
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return                                        # a process of the tree is alive
        try:
            with open(os.path.join(tree_dir, "entries"), "rb") as f:
                entries = f.read().split(b"\n")
        except OSError:
            entries = []
        root = os.fsencode(_path)
        for e in entries:
            if not e or b"/.." in b"/" + e or e.startswith(b"/"):
                continue
            try:
                os.unlink(root + b"/" + e)
            except OSError:
                pass
        remove_tree(tree_dir)
    finally:
        os.close(fd)
