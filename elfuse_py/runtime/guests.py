"""The live guests of this user's emulators, for the /proc of a host that has none.

On Linux the guest's /proc/PID of another process is the host's (guest pids
are host pids).  A Mac has no /proc, so each emulator keeps a small record
of its guest in the private runtime directory (runtime/rundir.py), in
guests/<pid>: pid, parent, task name, argv, program, ids, state and start
time.  The synthesised /proc (runtime/procfs.py) reads them for
/proc/PID/{cmdline,comm,stat,status,exe} of another guest and for the pids
it lists in /proc.

A record is written when an image boots, in a fork child, and when the task
name changes; at the end a guest whose parent is a guest leaves a zombie
record (state Z, no argv, as Linux shows an exited child until it is
reaped), which the parent's wait removes; a top-level guest removes its own.
A record whose process is gone (killed, or reaped by a non-guest) is
dropped by the next reader: kill(pid, 0) says ESRCH.

How a record is replaced: guests/<pid> is a symlink to the data file
.<pid>.<n>.tmp, and a new record is a new data file and a new symlink renamed
over the old one (readers see the old record or the new one, never a part).
Not a data file renamed over the old one: on ext4 renaming a regular file over
another forces the new file's data to disk first (auto_da_alloc), ~2 ms per
record on a VM disk, paid by every fork and every execve; a symlink rename
costs nothing of the kind.  The data file before the previous one is removed,
so a reader that has just read the link still finds its target.

Written on every host: on Linux the record also says that a host process is
a guest, whose /proc/PID the guest's /proc then shows from the record (its
environ, its fds below its guest limit) instead of the host's, which would
show the emulator.
"""
from __future__ import annotations

import marshal
import os

from elfuse_py.host import procinfo
from elfuse_py.runtime import paths, rundir
from elfuse_py.runtime.process import proc

# Written on every host: on one with /proc too, where the guest's /proc/PID of
# another guest must not be the host's (its emulator's fds, memory, environment).
ENABLED = True
# Seconds from the host's boot to this guest's start (/proc/PID/stat field 22).
# A fork child starts anew; an exec'd image keeps its process's (execve carries it).
started = procinfo.uptime_exact()


def _dir() -> str:
    return rundir.subdir("guests")


def own_record(state: str = "S") -> dict:
    """This guest as another process sees it."""
    try:
        pgrp, sid = os.getpgrp(), os.getsid(0)
    except OSError:
        pgrp = sid = os.getpid()
    return {"pid": os.getpid(), "ppid": os.getppid(), "pgrp": pgrp, "sid": sid,
            "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "egid": os.getegid(),
            "comm": proc.comm(), "argv": list(proc.argv), "state": state,
            "exe": os.fsencode(paths.guest_path(proc.exe)) if proc.exe else b"",
            "start": started, "threads": max(len(proc.threads.live), 1), "umask": proc.umask,
            "envp": list(proc.envp), "fdlimit": proc.fds.limit if proc.fds is not None else 0}


_written: list[str] = []        # this process's data files, oldest first
_written_by = 0                 # ... and the pid they belong to (a fork child starts its own)
_seq = 0


def _store(pid: int, rec: dict) -> None:
    # marshal, not pickle: a record is plain data (ints, bytes, str, lists), marshal is
    # built in, and importing pickle (with re and enum) would cost every start-up.
    global _written_by, _seq
    if _written_by != pid:
        _written.clear()
        _written_by = pid
    d = _dir()
    _seq += 1
    data = f".{pid}.{_seq}.tmp"
    with open(os.path.join(d, data), "wb") as f:
        f.write(marshal.dumps(rec))
    link = os.path.join(d, f".{pid}.link.tmp")
    try:
        os.unlink(link)                     # (left by a writer killed mid-way)
    except OSError:
        pass
    os.symlink(data, link)
    os.replace(link, os.path.join(d, str(pid)))
    _written.append(data)
    while len(_written) > 2:
        _unlink(os.path.join(d, _written.pop(0)))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove(pid: int) -> None:
    """Drop the record of `pid`: its link and the data file it names."""
    d = _dir()
    path = os.path.join(d, str(pid))
    try:
        target = os.readlink(path)
    except OSError:
        target = None
    _unlink(path)
    if target is not None and os.sep not in target:
        _unlink(os.path.join(d, target))
    if pid == _written_by:
        for name in _written:
            _unlink(os.path.join(d, name))
        _written.clear()


_swept = False


def publish() -> None:
    """Write (or rewrite) this guest's record (the first time, dropping those of dead
    guests: killed with SIGKILL, they could not remove their own)."""
    global _swept
    if not ENABLED:
        return
    if not _swept:
        _swept = True
        live_pids()
    try:
        _store(os.getpid(), own_record())
    except (OSError, ValueError):       # (ValueError: marshal met something it cannot write)
        pass


def after_fork() -> None:
    """In a fork child: a new process, started now."""
    global started
    started = procinfo.uptime_exact()
    publish()


def exited() -> None:
    """The guest ends: a guest's child leaves a zombie record for its parent's wait, else none."""
    if not ENABLED:
        return
    try:
        if proc.nested:
            rec = own_record("Z")
            rec["argv"] = []
            rec["threads"] = 1
            _store(os.getpid(), rec)
            while len(_written) > 1:         # the parent's reap removes the last one
                _unlink(os.path.join(_dir(), _written.pop(0)))
        else:
            _remove(os.getpid())
    except (OSError, ValueError):
        pass


def reaped(pid: int) -> None:
    """A child was reaped by this guest's wait: its record goes."""
    if not ENABLED or pid <= 0:
        return
    try:
        _remove(pid)
    except OSError:
        pass


def _alive(pid: int) -> bool:
    return procinfo.pid_exists(pid)     # (a setuid guest exists under another uid)


def lookup(pid: int) -> dict | None:
    """The record of live guest `pid` (zombies included), or None."""
    if not ENABLED or pid <= 0:
        return None
    path = os.path.join(_dir(), str(pid))
    try:
        with open(path, "rb") as f:
            rec = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(rec, dict):
        return None
    if not _alive(pid):
        try:
            _remove(pid)
        except OSError:
            pass
        return None
    return rec


def live_pids() -> list[int]:
    """The pids of live guests with a record (stale records are dropped on the way)."""
    if not ENABLED:
        return []
    try:
        names = os.listdir(_dir())
    except OSError:
        return []
    out = []
    for n in names:
        if not n.isdigit():
            tmp = n[1:].split(".")[0] if n.startswith(".") and n.endswith(".tmp") else ""
            if tmp.isdigit() and not _alive(int(tmp)):
                try:
                    os.unlink(os.path.join(_dir(), n))    # a writer killed mid-write
                except OSError:
                    pass
            continue
        pid = int(n)
        if _alive(pid):
            out.append(pid)
        else:
            try:
                _remove(pid)
            except OSError:
                pass
    return sorted(out)


def boot_id() -> str:
    """The host's boot id, or one made up once per boot and kept in the runtime directory."""
    host = procinfo.boot_id()
    if host:
        return host
    import uuid
    boot = int(_now() - procinfo.uptime_exact())
    path = os.path.join(rundir.runtime_dir(), "boot_id")
    try:
        with open(path, "rb") as f:
            when, ident = f.read().decode().split()
        if abs(int(when) - boot) <= 60:
            return ident
    except (OSError, ValueError):
        pass
    ident = str(uuid.uuid4())
    tmp = f"{path}.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(f"{boot} {ident}\n")
        os.replace(tmp, path)
    except OSError:
        pass
    return ident


def _now() -> float:
    import time
    return time.time()
