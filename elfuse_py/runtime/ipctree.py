"""System V IPC state shared by the guest processes of one emulator tree.

Linux keeps SysV IPC objects (shared memory, semaphores, message queues) in
the kernel's IPC namespace; here they belong to one *emulator tree*: the
top-level guest and every guest process it forks or execs (each one a host
process of its own).  The host's own SysV IPC is never used, nor anything
Linux-only: only files, fcntl/flock locks and MAP_SHARED mmap, so the same
code serves Linux, macOS and the macOS host model.

The tree's directory, rundir/ipc/<root pid>-<token>/, is reached through a
directory fd every process of the tree holds (inherited like the members
fd below), never by its path: the runtime directory (runtime/rundir.py) is
private to the user (0700), but a guest that changes its uid (setuid, as a
test of EACCES does) must still reach the tree, so the tree's directory and
files are open to all (0777/0666) behind that private parent.  It holds

- ``members``: every guest process of the tree holds one shared ``flock``
  through one open file description, opened by the root guest (`ensure`) and
  inherited by fork and exec (its fd sits in the emulator's reserved range,
  without close-on-exec).  A flock belongs to the open file description, so
  a fork child holds it from its first instruction.  A process that ends
  closes its descriptor and tries ``LOCK_EX|LOCK_NB`` on a fresh one: that
  only succeeds once no member is left, and the winner removes the
  directory.  Of two processes that end together at least the later one
  wins.  A tree whose last members were killed (SIGKILL: no exit code runs)
  is removed by the next tree created, by the same test.
- ``lock``: a POSIX (fcntl) write lock on it is held around every
  transaction on the state.  POSIX locks belong to a process, so the
  processes of the tree exclude each other while sharing the fd.
- ``state``: the registry, one pickle: for each kind (shm, sem, msg) the id
  allocator and the objects by id (permissions, times, semaphore values,
  queued messages, attachment counts by pid), plus the SEM_UNDO
  adjustments by pid.  A transaction reads it, changes it and writes it
  back with write-to-temporary + rename, so a process killed in the middle
  leaves the previous state.  No state file means no object was ever made:
  the lifecycle hooks then cost one stat.
- ``shm-<id>``: the bytes of a shared memory segment, mapped MAP_SHARED
  into the guest window of every attaching process (syscalls/ipc_shm.py).

Whatever a process leaves behind when killed (its attachments, its undo
adjustments, its place among a semaphore's waiters) is noticed by the next
transaction: records of pids that no longer exist are dropped, and their
SEM_UNDO adjustments applied, as Linux does at exit.

Lifecycle: `start` at boot (an exec'd image takes the carried tree:
`exec_state`); `ensure` makes a top-level guest's tree on first need (its
first fork, id change, SysV call or shared writable mapping); `after_fork`
in a fork child (its attachments count), `exited` at the end of the process (detach, SEM_UNDO,
leave the tree).  An exec'd image drops its attachments (`start`), as
Linux's exec does; SEM_UNDO adjustments survive exec.
"""
from __future__ import annotations

import errno
import fcntl
import os
import time

from elfuse_py.host import procinfo
from elfuse_py.runtime import rundir


def _rmtree(path: str) -> None:
    rundir.remove_tree(path)       # (not shutil: its import would cost every exit)
from elfuse_py.runtime.process import proc

SEMVMX = 32767
SHM_DEST = 0o1000

_dir: str | None = None          # the tree's directory (its path: for removal only)
_dir_fd = -1                     # ... and the fd everything is reached through (inherited)
_members_fd = -1                 # the shared flock (inherited)
_lock_fd = -1                    # the POSIX lock (opened on first use)
# This process's attachments: guest address -> (shmid, mapped size).  Kept
# by the process (fork copies it; exec drops it); `state` counts them by pid.
attached: dict[int, tuple[int, int]] = {}


def _new_state() -> dict:
    kinds = {k: {} for k in ("shm", "sem", "msg")}
    return {"ids": {k: {"seq": 0, "last": -1, "next": 0} for k in kinds}, **kinds, "undo": {}}


# ----- the tree: creation, membership, removal ------------------------------------------------

def _base() -> str:
    return rundir.subdir("ipc")


def _try_remove(path: str) -> bool:
    """Remove tree `path` if no process holds its members lock; True if removed."""
    try:
        fd = os.open(os.path.join(path, "members"), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        _rmtree(path)
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _rmtree(path)
    os.close(fd)
    return True


def _sweep(base: str) -> None:
    """Remove trees whose members are all gone (killed before they could clean up).

    A tree being made has a dot name until its members lock is held (`start`),
    so it is never taken for an abandoned one; a dot name left by a crash is
    removed once it is a minute old.
    """
    try:
        names = os.listdir(base)
    except OSError:
        return
    for n in names:
        path = os.path.join(base, n)
        if not n.startswith("."):
            _try_remove(path)
            continue
        try:
            if time.time() - os.lstat(path).st_mtime > 60:
                _rmtree(path)
        except OSError:
            pass


def _keep(fd: int) -> int:
    """`fd` moved into the emulator's reserved range, inherited across exec."""
    fd = proc.fds.reserve(fd)
    os.set_inheritable(fd, True)
    return fd


def start(carried: tuple | None = None) -> None:
    """At boot: join the carried tree (an exec'd image), else sweep abandoned trees.

    A top-level guest's own tree is made on first need (`ensure`): most
    programs never fork, change their ids or touch SysV IPC, and making and
    removing the tree was ~0.4 ms of every start-up and exit.
    """
    global _dir, _dir_fd, _members_fd
    if carried is not None:
        _dir, _dir_fd, _members_fd = carried
        attached.clear()
        _forget_own_attachments()
        if exited not in proc.exit_hooks:
            proc.exit_hooks.append(exited)
    elif _dir is None:
        try:
            _sweep(_base())
        except OSError:
            pass


def ensure() -> bool:
    """Make this process's tree if it has none yet; True if it has one.

    Called before anything that needs the tree or could lose the way to it:
    the first fork (a child must hold the members lock from its first
    instruction), a change of the guest's ids (the runtime directory is
    private to the uid that made it), the first SysV IPC call, joining the
    execution token.
    """
    global _dir, _dir_fd, _members_fd
    if _dir is not None:
        return True
    try:
        base = _base()
        name = f"{os.getpid()}-{os.urandom(4).hex()}"
        path, making = os.path.join(base, name), os.path.join(base, "." + name)
        os.mkdir(making, 0o700)
        dfd = os.open(making, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fd = os.open("members", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644, dir_fd=dfd)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.chmod(dfd, 0o777)      # see the module docstring: reached only through dfd
        os.rename(making, path)   # held from now on: another start's sweep leaves it
        _dir, _dir_fd, _members_fd = path, _keep(dfd), _keep(fd)
    except OSError:
        return False              # no runtime directory: IPC calls answer ENOSPC
    if exited not in proc.exit_hooks:
        proc.exit_hooks.append(exited)
    return True


def exec_state() -> tuple | None:
    """What an exec'd image needs to stay in the tree (its fds survive the exec)."""
    return (_dir, _dir_fd, _members_fd) if _dir is not None else None


def available() -> bool:
    """True if this process has a tree (never makes one: see `ensure`)."""
    return _dir is not None


def open_file(name: str, flags: int) -> int:
    """Open `name` in the tree (created 0666: any uid a guest takes may use it);
    the tree is made if there is none (no runtime directory: ENOSPC)."""
    if _dir is None and not ensure():
        raise OSError(errno.ENOSPC, "no IPC runtime directory")
    fd = os.open(name, flags | os.O_CLOEXEC, 0o666, dir_fd=_dir_fd)
    if flags & os.O_CREAT:
        try:
            os.fchmod(fd, 0o666)     # whatever the umask took away
        except OSError:
            pass
    return fd


def unlink(name: str) -> None:
    try:
        os.unlink(name, dir_fd=_dir_fd)
    except OSError:
        pass


def _leave() -> None:
    """This process ends: give up its share of the members lock; the last one removes the tree."""
    global _dir, _dir_fd, _members_fd, _lock_fd
    if _dir is None:
        return
    d = _dir
    for fd in (_members_fd, _lock_fd, _dir_fd):
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass
    _dir, _dir_fd, _members_fd, _lock_fd = None, -1, -1, -1
    _try_remove(d)


# ----- transactions ---------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    return pid == os.getpid() or procinfo.pid_exists(pid)


class State(dict):
    """The registry during one transaction; `dirty` makes the transaction write it back."""
    dirty = False


def _load() -> State:
    try:
        fd = open_file("state", os.O_RDONLY)
    except FileNotFoundError:
        return State(_new_state())
    import pickle                   # (only once IPC is used: not at start-up)
    with open(fd, "rb") as f:
        return State(pickle.load(f))


def _save(st: State) -> None:
    import pickle
    tmp = f".state.{os.getpid()}"
    with open(open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
        pickle.dump(dict(st), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, "state", src_dir_fd=_dir_fd, dst_dir_fd=_dir_fd)


class locked:
    """`with locked() as st`: the state, under the tree's lock; written back if the
    body set `dirty`.

    The lock wait is not interruptible (it is short); a body that raises
    leaves the state as it was.  (A class, not a contextlib.contextmanager:
    contextlib would cost start-up.)
    """

    __slots__ = ("st",)

    def __enter__(self) -> State:
        global _lock_fd
        if _dir is None and not ensure():
            raise OSError(errno.ENOSPC, "no IPC runtime directory")
        if _lock_fd < 0:
            fd = open_file("lock", os.O_RDWR | os.O_CREAT)
            _lock_fd = proc.fds.reserve(fd) if proc.fds is not None else fd
        fcntl.lockf(_lock_fd, fcntl.LOCK_EX)
        try:
            st = self.st = _load()
            _reap(st)
        except BaseException:
            fcntl.lockf(_lock_fd, fcntl.LOCK_UN)
            raise
        return st

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.st.dirty:
                _save(self.st)
        finally:
            fcntl.lockf(_lock_fd, fcntl.LOCK_UN)


def version() -> tuple | None:
    """A cheap fingerprint of the state file: waiters re-read the state when it changes."""
    try:
        s = os.stat("state", dir_fd=_dir_fd)
    except OSError:
        return None
    return (s.st_ino, s.st_mtime_ns, s.st_ctime_ns, s.st_size)


def _reap(st: State) -> None:
    """Drop what processes that no longer exist left: attachments, waiters, undo (applied)."""
    pids = set(st["undo"])
    for seg in st["shm"].values():
        pids.update(seg["att"])
    for sem in st["sem"].values():
        pids.update(w[0] for w in sem["wait"].values())
    dead = {p for p in pids if not _alive(p)}
    if not dead:
        return
    st.dirty = True
    for pid in dead:
        apply_undo(st, pid)
    for sem in st["sem"].values():
        sem["wait"] = {k: w for k, w in sem["wait"].items() if w[0] not in dead}
    for shmid, seg in list(st["shm"].items()):
        for pid in dead & set(seg["att"]):
            del seg["att"][pid]
        shm_check_destroy(st, shmid)


def apply_undo(st: State, pid: int) -> None:
    """Process `pid` is gone: its SEM_UNDO adjustments apply, clamped to 0..SEMVMX (exit_sem)."""
    undo = st["undo"].pop(pid, None)
    if not undo:
        return
    now = int(time.time())
    for semid, adj in undo.items():
        sem = st["sem"].get(semid)
        if sem is None:
            continue
        for num, a in adj.items():
            if a:
                sem["vals"][num] = min(max(sem["vals"][num] + a, 0), SEMVMX)
                sem["pids"][num] = pid
        sem["otime"] = now
    st.dirty = True


def nattch(seg: dict) -> int:
    return sum(seg["att"].values())


def shm_check_destroy(st: State, shmid: int) -> None:
    """A segment marked for removal (IPC_RMID) goes with its last attachment."""
    seg = st["shm"].get(shmid)
    if seg is not None and seg["mode"] & SHM_DEST and nattch(seg) == 0:
        shm_destroy(st, shmid)


def shm_destroy(st: State, shmid: int) -> None:
    del st["shm"][shmid]
    st.dirty = True
    unlink(f"shm-{shmid}")


# ----- lifecycle --------------------------------------------------------------------------

def state_exists() -> bool:
    """False while no object was ever made in the tree (nothing to clean up)."""
    if _dir is None:
        return False
    try:
        os.stat("state", dir_fd=_dir_fd)
    except OSError:
        return False
    return True


def after_exec() -> None:
    """An in-process execve: the old image's attachments are gone with its memory (SEM_UNDO
    adjustments stay, as on Linux)."""
    attached.clear()
    _forget_own_attachments()


def _forget_own_attachments() -> None:
    """An exec'd image: the old image's attachments are gone (its memory is)."""
    if not state_exists():
        return
    pid = os.getpid()
    with locked() as st:
        for shmid, seg in list(st["shm"].items()):
            if seg["att"].pop(pid, None):
                st.dirty = True
                shm_check_destroy(st, shmid)


def after_fork() -> None:
    """In a fork child: the parent's attachments are the child's too (its memory is a copy)."""
    if not attached or not state_exists():
        return
    pid = os.getpid()
    with locked() as st:
        for shmid, _size in attached.values():
            seg = st["shm"].get(shmid)
            if seg is not None:
                seg["att"][pid] = seg["att"].get(pid, 0) + 1
                st.dirty = True


def exited() -> None:
    """The guest process ends: detach its segments, apply its SEM_UNDO, leave the tree."""
    if state_exists():
        import pickle
        pid = os.getpid()
        try:
            with locked() as st:
                apply_undo(st, pid)
                now = int(time.time())
                for shmid, seg in list(st["shm"].items()):
                    if seg["att"].pop(pid, None):
                        seg["lpid"], seg["dtime"] = pid, now
                        st.dirty = True
                        shm_check_destroy(st, shmid)
                for sem in st["sem"].values():
                    for k in [k for k, w in sem["wait"].items() if w[0] == pid]:
                        del sem["wait"][k]
                        st.dirty = True
        except (OSError, pickle.PickleError, EOFError):
            pass
    attached.clear()
    _leave()
