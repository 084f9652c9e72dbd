"""/proc as the guest expects it, synthesised from the emulator's state.

The host's /proc describes the Python process running the emulator (and a
Mac has none at all); the guest must instead see *its* program, mappings,
argv, threads and fds.  This module decides what each /proc path is; the
text of the files is written by runtime/procfiles.py.

One resolver (`_walk`) takes a guest path below /proc, component by
component, through a tree of nodes: directories, files and links.
`self`, `thread-self`, `mounts` and `net` are links inside /proc, followed
as Linux follows them; `exe`, `cwd`, `root` and `fd/N` lead out of it to
the host file (a path the host can open, or for fd/N the open fd itself).

    /proc                  self thread-self PID [guest pids] cpuinfo meminfo uptime loadavg
                           version stat filesystems mounts net sys/... sysvipc/{shm,sem,msg}
    /proc/PID, task/TID    maps status stat statm cmdline environ comm exe cwd root fd/ fdinfo/
                           limits mounts mountinfo auxv oom_score_adj oom_adj oom_score
                           coredump_filter cgroup loginuid sessionid wchan personality net/unix
                           task/ (PID only)
    /proc/<another guest>  cmdline comm stat status exe (runtime/guests.py's records)

Two hosts:

- **no host /proc** (a Mac, the macOS host model: `procinfo.HAS_PROC` is
  false): every /proc path is answered here and nothing reads the host's
  /proc or /sys; a path the tree does not have is ENOENT.
- **a Linux host**: the guest's own process and threads are synthesised
  (maps, status, stat, statm, cmdline, environ, comm, limits, auxv, the
  links, the fd/ and task/ listings, cpuinfo); everything else -- the
  machine's files, other processes, fdinfo, mounts, oom_* -- is the host's
  own /proc, which tells the truth about this machine.

The entry points are those of the special-file provider the composition
root installs into `paths`: `proc_host_path` (the host path a generic call
uses), `open_special`, `readlink_special` and `stat_special`; directory fds
carry a `ProcDirState`, which lists the directory for getdents64 and names it
for *at() calls relative to it.  Each open of a file gets a fresh snapshot
in an anonymous file (memfd on Linux, an unlinked temp file elsewhere), so
reads, seeks and fstat behave like a regular file.  Files are read-only,
except comm (the task name, as prctl(PR_SET_NAME)), oom_score_adj, oom_adj
and coredump_filter (kept, and shown back); writing another is EACCES.

The other direction (the host's /proc/PID showing the guest's name and argv
to ps, killall and pidof) is the host floor's `procinfo.publish_identity`.
"""
from __future__ import annotations

import errno
import os
import stat as _stat
import time
import zlib
from types import SimpleNamespace

from elfuse_py.host import memfiles, procinfo
from elfuse_py.runtime import guests, ipcproc, lerrno, paths, procfiles, rundir
from elfuse_py.runtime.fdtable import DirState, FdState
from elfuse_py.runtime.process import TASK_COMM_LEN, proc

# Re-exported for callers of the old single module.
maps_text = procfiles.maps_text
cpuinfo_text = procfiles.cpuinfo_text
install_helpers = procfiles.install_helpers

# True when the host has no /proc of its own: the guest's is entirely ours.
SYNTHETIC = not procinfo.HAS_PROC

# Linux open flags (the guest's), as numbers: only these matter here.
_O_ACCMODE, _O_CREAT, _O_EXCL, _O_TRUNC = 3, 0o100, 0o200, 0o1000
_O_DIRECTORY, _O_NOFOLLOW, _O_CLOEXEC = 0o40000, 0o100000, 0o2000000

FILE, DIR, LINK = "file", "dir", "link"
DT_DIR, DT_REG, DT_LNK = 4, 8, 10
_DT = {FILE: DT_REG, DIR: DT_DIR, LINK: DT_LNK}
_MAX_LINKS = 8


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _proc():
    return proc


# ----- the tree ---------------------------------------------------------------------------

class Node:
    """One /proc entry: `rel` is its canonical path below /proc (b"1234/task/1235/status").

    `host` is the host path that serves it on a host with /proc (None: ours);
    a directory lists itself (`entries`) unless `host_listing`.
    """

    __slots__ = ("kind", "rel", "host", "make", "write", "children", "names", "target",
                 "host_listing", "uid", "gid", "sealed", "opener", "mode")

    def __init__(self, kind: str, rel: bytes, *, host: str | None = None, make=None, write=None,
                 children=None, names=None, target=None, host_listing: bool = False,
                 uid: int | None = None, gid: int | None = None, sealed: bool = False,
                 opener=None, mode: int | None = None) -> None:
        # DIR: children(name) -> Node, or a host path str (a host with /proc serves it), or None
        self.kind = kind
        self.rel = rel
        self.host = host
        self.make = make                 # FILE: () -> bytes; LINK: () -> readlink's text
        self.write = write               # FILE: (bytes) -> count or -errno; None: read-only
        self.children = children         # DIR: (name) -> Node | None
        self.names = names               # DIR: () -> [(name, kind)]
        self.target = target             # LINK: () -> list of /proc components, or Outside
        self.host_listing = host_listing
        self.uid = uid
        self.gid = gid
        # DIR: a name it does not have is not there (ENOENT), never the host's file:
        # the guest's own process, its fd/, fdinfo/ and task/ directories.
        self.sealed = sealed
        self.opener = opener             # FILE: (Linux open flags) -> fd, instead of a snapshot
        self.mode = mode                 # FILE: permission bits stat shows, if not the default

    def child(self, name: str) -> "Node | str | None":
        return self.children(name) if self.children is not None else None

    def entries(self) -> list[tuple[bytes, int, int]]:
        out = [(b".", _ino(self.rel), DT_DIR), (b"..", _ino(self.rel.rpartition(b"/")[0]), DT_DIR)]
        for name, kind in self.names():
            out.append((name.encode(), _ino(self._join(name)), _DT[kind]))
        return out

    def _join(self, name: str) -> bytes:
        return self.rel + b"/" + name.encode() if self.rel else name.encode()


class Outside:
    """Where a link out of /proc leads: a host path, or an open fd (fd/N).

    `guest_root`: the link is the guest's "/" (root): what follows it is a
    guest path again, which may lead back into this /proc."""

    __slots__ = ("path", "fd", "guest_root")

    def __init__(self, path: str | None = None, fd: int | None = None,
                 guest_root: bool = False) -> None:
        self.path = path
        self.fd = fd
        self.guest_root = guest_root

    def host_path(self) -> str:
        if self.path is not None:
            return self.path
        try:
            p = _proc().fds.path_of(self.fd)
        except OSError:
            p = ""
        # A pipe or socket has no path: the host's own per-fd files reopen it
        # (fdesc on a Mac, as /proc/self/fd/N does on Linux).
        return p if p.startswith("/") else f"/dev/fd/{self.fd}"


def _ino(rel: bytes) -> int:
    return 0x10000 + zlib.crc32(rel)


def _host(path: str) -> str | None:
    """`path` on a host with /proc; None on one without (where everything is ours)."""
    return None if SYNTHETIC else path


def _file(rel: bytes, make, *, write=None, host: str | None = None, uid=None, gid=None,
          opener=None, mode=None) -> Node:
    return Node(FILE, rel, make=make, write=write, host=host, uid=uid, gid=gid, opener=opener,
                mode=mode)


def _dir(rel: bytes, table: dict, *, host: str | None = None, host_listing: bool = False,
         extra=None, extra_names=None, uid=None, gid=None, sealed: bool = False) -> Node:
    """A directory of fixed entries (`table`: name -> (rel -> Node)) plus dynamic ones (`extra`)."""
    def child(name: str):
        build = table.get(name)
        if build is not None:
            return build(rel + b"/" + name.encode() if rel else name.encode())
        return extra(name) if extra is not None else None

    def names():
        fixed = []
        for name, build in table.items():
            node = build(rel + b"/" + name.encode() if rel else name.encode())
            fixed.append((name, node.kind))
        return fixed + (extra_names() if extra_names is not None else [])
    return Node(DIR, rel, children=child, names=names, host=host, host_listing=host_listing,
                uid=uid, gid=gid, sealed=sealed)


def _link(rel: bytes, text, target, *, host: str | None = None) -> Node:
    return Node(LINK, rel, make=text, target=target, host=host)


# ----- /proc ----------------------------------------------------------------------------------

def _root() -> Node:
    pid = os.getpid()
    sysfiles = {
        "cpuinfo": lambda r: _file(r, procfiles.cpuinfo_text),
        "meminfo": lambda r: _file(r, procfiles.meminfo_text, host=_host("/proc/meminfo")),
        "uptime": lambda r: _file(r, procfiles.uptime_text, host=_host("/proc/uptime")),
        "loadavg": lambda r: _file(r, procfiles.loadavg_text, host=_host("/proc/loadavg")),
        "version": lambda r: _file(r, procfiles.version_text, host=_host("/proc/version")),
        "stat": lambda r: _file(r, procfiles.stat_sys_text, host=_host("/proc/stat")),
        "filesystems": lambda r: _file(r, procfiles.filesystems_text,
                                       host=_host("/proc/filesystems")),
        "self": lambda r: _link(r, lambda: str(os.getpid()).encode(),
                                lambda: [str(os.getpid())]),
        "thread-self": lambda r: _link(r, lambda: f"{pid}/task/{procfiles.tid_of_current()}".encode(),
                                       lambda: [str(pid), "task", str(procfiles.tid_of_current())]),
        "mounts": lambda r: _link(r, lambda: b"self/mounts", lambda: ["self", "mounts"],
                                  host=_host("/proc/mounts")),
        "net": lambda r: _link(r, lambda: b"self/net", lambda: ["self", "net"],
                               host=_host("/proc/net")),
        "sys": lambda r: _sys_dir(r, "", _sys_tree()),
        # The emulator tree's SysV IPC objects, never the host's (runtime/ipcproc.py).
        "sysvipc": lambda r: _dir(r, {name: (lambda make: lambda rr: _file(rr, make))(make)
                                      for name, make in (("shm", ipcproc.shm_text),
                                                         ("sem", ipcproc.sem_text),
                                                         ("msg", ipcproc.msg_text))}),
    }

    def extra(name: str):
        if not name.isdigit() or name != str(int(name)):
            return None
        n = int(name)
        if n == pid:
            return _process_dir(name.encode())
        if n in proc.threads.live:
            return _task_dir(name.encode(), n)            # a thread: hidden, but there (as Linux)
        rec = guests.lookup(n)
        if rec is not None:
            return _other_dir(name.encode(), rec)          # another guest: its emulator stays hidden
        if not SYNTHETIC:
            return f"/proc/{name}"                        # another process: the host's
        return None

    def extra_names():
        return [(str(p), DIR) for p in sorted({pid, *guests.live_pids()})]
    return _dir(b"", sysfiles, extra=extra, extra_names=extra_names, host=_host("/proc"),
                host_listing=not SYNTHETIC)


def _sys_tree() -> dict:
    tree: dict = {}
    for path, value in procfiles.sys_values().items():
        *dirs, leaf = path.split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = value
    return tree


def _sys_dir(rel: bytes, path: str, tree: dict) -> Node:
    table = {}
    for name, value in tree.items():
        sub = f"{path}/{name}" if path else name
        if isinstance(value, dict):
            table[name] = (lambda v, s: lambda r: _sys_dir(r, s, v))(value, sub)
        else:
            table[name] = (lambda v, s: lambda r: _file(
                r, lambda: f"{v() if callable(v) else v}\n".encode(),
                host=_host(f"/proc/sys/{s}")))(value, sub)
    return _dir(rel, table, host=_host(f"/proc/sys/{path}".rstrip("/")),
                host_listing=not SYNTHETIC)


# ----- this process and its threads -----------------------------------------------------------------

def _process_dir(rel: bytes) -> Node:
    pid = os.getpid()
    return _task_entries(rel, pid, None)


def _task_dir(rel: bytes, tid: int) -> Node:
    return _task_entries(rel, os.getpid(), tid)


def _task_entries(rel: bytes, pid: int, tid: int | None) -> Node:
    """/proc/PID (tid None) or /proc/PID/task/TID: the same files, per process or per thread."""
    # Where the host serves what is not ours: the process's own /proc directory.
    hbase = "/proc/self"
    guest_only_thread = tid is not None and tid != pid

    def hosted(name: str) -> str | None:
        return _host(f"{hbase}/{name}")

    def comm_node(r):
        return _file(r, lambda: _comm_of(tid) + b"\n", write=lambda d: _write_comm(tid, d))

    table = {
        "maps": lambda r: _file(r, procfiles.maps_text),
        "status": lambda r: _file(r, lambda: procfiles.status_text(tid)),
        "stat": lambda r: _file(r, lambda: procfiles.stat_text(tid)),
        "statm": lambda r: _file(r, procfiles.statm_text),
        "cmdline": lambda r: _file(r, lambda: _nul_list(proc.argv)),
        "environ": lambda r: _file(r, lambda: _nul_list(proc.envp)),
        "comm": comm_node,
        "limits": lambda r: _file(r, procfiles.limits_text),
        "auxv": lambda r: _file(r, lambda: proc.auxv),
        "mounts": lambda r: _file(r, procfiles.mounts_text, host=hosted("mounts")),
        "mountinfo": lambda r: _file(r, procfiles.mountinfo_text, host=hosted("mountinfo")),
        "oom_score_adj": lambda r: _file(r, lambda: f"{_tunables['oom_score_adj']}\n".encode(),
                                         write=_write_oom_score_adj, host=hosted("oom_score_adj")),
        "oom_adj": lambda r: _file(r, lambda: f"{_oom_adj()}\n".encode(), write=_write_oom_adj,
                                   host=hosted("oom_adj")),
        "oom_score": lambda r: _file(r, lambda: f"{_oom_score()}\n".encode(),
                                     host=hosted("oom_score")),
        "coredump_filter": lambda r: _file(r, lambda: f"{_tunables['coredump_filter']:08x}\n".encode(),
                                           write=_write_coredump_filter,
                                           host=hosted("coredump_filter")),
        "cgroup": lambda r: _file(r, lambda: b"0::/\n", host=hosted("cgroup")),
        "loginuid": lambda r: _file(r, lambda: b"4294967295", host=hosted("loginuid")),
        "sessionid": lambda r: _file(r, lambda: b"4294967295", host=hosted("sessionid")),
        "wchan": lambda r: _file(r, lambda: b"0", host=hosted("wchan")),
        "personality": lambda r: _file(r, lambda: f"{proc.task.personality:08x}\n".encode(),
                                       host=hosted("personality")),
        "mem": lambda r: _file(r, lambda: b"", opener=_open_mem, mode=0o600),
        "exe": lambda r: _link(r, exe_guest_path, lambda: Outside(proc.exe)),
        "cwd": lambda r: _link(r, _cwd_text, _cwd_target),
        "root": lambda r: _link(r, lambda: b"/", _root_target),
        "fd": lambda r: _fd_dir(r, hosted("fd")),
        "fdinfo": lambda r: _fdinfo_dir(r, hosted("fdinfo")),
        "net": lambda r: _dir(r, {"unix": lambda r2: _file(r2, procfiles.net_unix_text,
                                                           host=hosted("net/unix"))},
                              host=hosted("net"), host_listing=not SYNTHETIC),
    }
    if tid is None:
        table["task"] = lambda r: _dir(r, {}, extra=lambda n: _thread(r, n),
                                       extra_names=_thread_names, host=hosted("task"), sealed=True)

    def extra(name: str):
        # A host with /proc serves what is not in the table and says nothing of
        # the emulator (scheduling, namespaces...), from the process's directory;
        # the rest (smaps, pagemap, map_files, syscall, stack...) is not there.
        return f"{hbase}/{name}" if not SYNTHETIC and name in HOST_PASSTHROUGH else None

    def names():
        if SYNTHETIC:
            return []
        try:
            return [(n, DIR if n in _PASSTHROUGH_DIRS else FILE)
                    for n in sorted(HOST_PASSTHROUGH & set(os.listdir(hbase)))]
        except OSError:
            return []
    host_dir = None if guest_only_thread else _host(f"{hbase}/task/{pid}" if tid else hbase)
    return _dir(rel, table, extra=extra, extra_names=names, host=host_dir, sealed=True)


# Per-process files a host with /proc serves from the emulator's own directory
# for the guest's: none of them shows the emulator's memory, fds or environment.
HOST_PASSTHROUGH = frozenset((
    "io", "sched", "schedstat", "ns", "attr", "timerslack_ns", "uid_map", "gid_map",
    "setgroups", "projid_map", "cpuset", "mountstats", "autogroup", "timers", "arch_status",
    "latency", "ksm_stat", "ksm_merging_pages", "patch_state", "fail-nth", "make-it-fail",
    "clear_refs", "stat", "status", "statm", "limits", "cgroup", "oom_score_adj", "oom_adj",
    "oom_score", "loginuid", "sessionid", "wchan", "personality", "mounts", "mountinfo"))
_PASSTHROUGH_DIRS = frozenset(("ns", "attr"))


def _root_target() -> Outside:
    return Outside(paths.root or paths.sysroot or "/", guest_root=True)


def _open_mem(flags: int) -> int:
    """An fd on the guest's address space (runtime/procmem.py)."""
    from elfuse_py.runtime.procmem import MemState
    acc = flags & _O_ACCMODE
    fd = _guest_fd(memfiles.anonymous("mem", bool(flags & _O_CLOEXEC)))
    if not flags & _O_CLOEXEC:
        os.set_inheritable(fd, True)
    proc.fds.on_close(fd)
    proc.fds.set(fd, MemState(readable=acc in (0, 2), writable=acc in (1, 2)))
    if proc.fds.paths is not None:
        proc.fds.opened(fd, f"/proc/{os.getpid()}/mem")
    return fd


def _cwd_text() -> bytes:
    return paths.special_cwd or os.fsencode(paths.guest_path(os.getcwd()))


def _cwd_target():
    if paths.special_cwd:                       # a directory of this /proc
        return os.fsdecode(paths.special_cwd[6:]).split("/")
    return Outside(os.getcwd())


def _thread_ids() -> list[int]:
    live = proc.threads.live
    return sorted(live) if live else [os.getpid()]


def _thread_names() -> list[tuple[str, str]]:
    return [(str(t), DIR) for t in _thread_ids()]


def _thread(rel: bytes, name: str) -> Node | None:
    if not name.isdigit() or int(name) not in _thread_ids():
        return None
    return _task_dir(rel + b"/" + name.encode(), int(name))


def _fd_names(kind: str):
    return lambda: [(str(fd), kind) for fd in procfiles.open_fds()]


def _fd_dir(rel: bytes, host: str | None) -> Node:
    def child(name: str):
        if not name.isdigit() or not proc.fds.is_open(int(name)):
            return None
        fd = int(name)
        return _link(rel + b"/" + name.encode(), lambda: _fd_target(fd), lambda: Outside(fd=fd),
                     host=_host(f"/proc/self/fd/{fd}"))
    return _dir(rel, {}, extra=child, extra_names=_fd_names(LINK), host=host, sealed=True)


def _fdinfo_dir(rel: bytes, host: str | None) -> Node:
    def child(name: str):
        if not name.isdigit() or not proc.fds.is_open(int(name)):
            return None
        fd = int(name)
        st = proc.fds.get(fd)
        if st is not None and st.fdinfo_lines(fd):
            # An emulated object (signalfd, eventfd without a host one): the host's
            # fdinfo would describe the pipe or file behind it.
            return _file(rel + b"/" + name.encode(),
                         lambda: procfiles.fdinfo_text(fd, False) + st.fdinfo_lines(fd).encode())
        return _file(rel + b"/" + name.encode(), lambda: procfiles.fdinfo_text(fd, _is_proc_fd(fd)),
                     host=_host(f"/proc/self/fdinfo/{fd}"))
    return _dir(rel, {}, extra=child, extra_names=_fd_names(FILE), host=host, sealed=True)


def _is_proc_fd(fd: int) -> bool:
    paths_known = proc.fds.paths
    return bool(paths_known) and paths_known.get(fd, "").startswith("/proc/")


def _fd_target(fd: int) -> bytes:
    if not proc.fds.is_open(fd):
        raise _err(errno.ENOENT)
    return os.fsencode(paths.guest_path(proc.fds.path_of(fd)))   # ENOENT if not known


# ----- another guest ---------------------------------------------------------------------------

def _other_dir(rel: bytes, rec: dict) -> Node:
    uid, gid = rec.get("euid"), rec.get("egid")
    zombie = rec.get("state") == "Z"
    table = {
        "cmdline": lambda r: _file(r, lambda: _nul_list(rec.get("argv", [])), uid=uid, gid=gid),
        "comm": lambda r: _file(r, lambda: rec["comm"] + b"\n", uid=uid, gid=gid),
        "stat": lambda r: _file(r, lambda: procfiles.other_stat_text(rec), uid=uid, gid=gid),
        "status": lambda r: _file(r, lambda: procfiles.other_status_text(rec), uid=uid, gid=gid),
    }
    if rec.get("exe") and not zombie:
        table["exe"] = lambda r: _link(r, lambda: rec["exe"],
                                       lambda: Outside(paths.host_path(rec["exe"])))
    if not zombie:
        table["environ"] = lambda r: _file(r, lambda: _nul_list(rec.get("envp", [])),
                                           uid=uid, gid=gid, mode=0o400)
    for name in _OTHERS_PRIVATE:
        # Its memory is the emulator's: refused, as Linux refuses a process
        # that cannot be ptrace-read (not dumpable).
        table[name] = lambda r: _file(r, _refused, opener=_refuse_open, uid=uid, gid=gid,
                                      mode=0o400)
    pid = int(rel.split(b"/")[0])
    limit = rec.get("fdlimit")
    if not SYNTHETIC and limit and not zombie:
        table["fd"] = lambda r: _other_fds(r, pid, "fd", limit, LINK, uid, gid)
        table["fdinfo"] = lambda r: _other_fds(r, pid, "fdinfo", limit, FILE, uid, gid)

    def extra(name: str):
        return f"/proc/{pid}/{name}" if not SYNTHETIC and name in HOST_PASSTHROUGH else None
    return _dir(rel, table, uid=uid, gid=gid, extra=extra, sealed=True)


_OTHERS_PRIVATE = ("mem", "maps", "smaps", "smaps_rollup", "numa_maps", "pagemap", "auxv",
                   "syscall", "stack")


def _refused() -> bytes:
    raise _err(errno.EACCES)


def _refuse_open(flags: int) -> int:
    raise _err(errno.EACCES)


def _other_fds(rel: bytes, pid: int, sub: str, limit: int, kind: str, uid, gid) -> Node:
    """(Host with /proc) fd/ or fdinfo/ of another guest: the host's, below its guest limit."""
    base = f"/proc/{pid}/{sub}"

    def child(name: str):
        if not name.isdigit() or int(name) >= limit or not os.path.lexists(f"{base}/{name}"):
            return None
        return f"{base}/{name}"

    def names():
        try:
            return [(n, kind) for n in sorted(os.listdir(base), key=int)
                    if n.isdigit() and int(n) < limit]
        except OSError:
            return []
    return _dir(rel, {}, extra=child, extra_names=names, host=base, uid=uid, gid=gid, sealed=True)


# ----- writable files ------------------------------------------------------------------------

_tunables = {"oom_score_adj": 0, "coredump_filter": 0x33}
_thread_comm: dict[int, bytes] = {}
proc.exec_hooks.append(_thread_comm.clear)     # an execve ends every other thread


def _nul_list(items: list[bytes]) -> bytes:
    return b"".join(a + b"\0" for a in items)


def _comm_of(tid: int | None) -> bytes:
    if tid is not None and tid != os.getpid() and tid in _thread_comm:
        return _thread_comm[tid]
    return proc.comm()


def _write_comm(tid: int | None, data: bytes) -> int:
    """comm_write: the first TASK_COMM_LEN-1 bytes, up to a NUL, become the task's name."""
    name = data[:TASK_COMM_LEN - 1].split(b"\0", 1)[0]
    if tid is not None and tid != os.getpid():
        _thread_comm[tid] = name
        return len(data)
    proc.comm()                          # settle the name derived from the exe first
    proc.task.comm = name
    procinfo.set_comm(name)              # what ps and killall see from outside
    guests.publish()
    return len(data)


def _parse_int(data: bytes, base: int = 10) -> int | None:
    try:
        return int(data.strip().split(b"\0", 1)[0] or b"x", base)
    except ValueError:
        return None


def _write_oom_score_adj(data: bytes) -> int:
    v = _parse_int(data)
    if v is None or not -1000 <= v <= 1000:
        return -lerrno.EINVAL
    _tunables["oom_score_adj"] = v
    return len(data)


def _oom_adj() -> int:
    adj = _tunables["oom_score_adj"]
    return 15 if adj == 1000 else adj * 17 // 1000


def _write_oom_adj(data: bytes) -> int:
    v = _parse_int(data)
    if v is None or not -17 <= v <= 15:
        return -lerrno.EINVAL
    _tunables["oom_score_adj"] = 1000 if v == 15 else -1000 if v == -17 else v * 1000 // 17
    return len(data)


def _oom_score() -> int:
    return max(0, min(2000, 666 + _tunables["oom_score_adj"]))


def _write_coredump_filter(data: bytes) -> int:
    v = _parse_int(data, 0) if data.strip()[:2] in (b"0x", b"0X") else _parse_int(data, 16)
    if v is None:
        return -lerrno.EINVAL
    _tunables["coredump_filter"] = v & 0x1FF
    return len(data)


# ----- resolution ------------------------------------------------------------------------------

def is_proc_path(guest: bytes) -> bool:
    return guest[:5] == b"/proc" and (len(guest) == 5 or guest[5:6] == b"/")


def _walk(parts: list[str], follow_last: bool, depth: int = 0):
    """The Node, Outside or (host with /proc, a path the tree leaves to it) host path str
    that /proc/<parts> names; OSError ENOENT/ENOTDIR where there is none."""
    if depth > _MAX_LINKS:
        raise _err(errno.ELOOP)
    stack = [_root()]
    for i, name in enumerate(parts):
        last = i == len(parts) - 1
        if name in ("", "."):
            continue
        if name == "..":
            if len(stack) > 1:
                stack.pop()
                continue
            return Outside(paths.host_path(b"/" + os.fsencode("/".join(parts[i + 1:]))))
        cur = stack[-1]
        if cur.kind != DIR:
            raise _err(errno.ENOTDIR)
        node = cur.child(name)
        if isinstance(node, str):               # left to the host's /proc
            return "/".join([node] + parts[i + 1:])
        if node is None:
            raise _gone() if cur.sealed else _err(errno.ENOENT)
        if node.kind == LINK and (follow_last or not last):
            target = node.target()
            rest = parts[i + 1:]
            if isinstance(target, Outside):
                if not rest:
                    return target
                if target.guest_root:
                    return _walk_guest(b"/" + os.fsencode("/".join(rest)), follow_last, depth + 1)
                base = target.host_path() if target.fd is not None else target.path
                return _walk_host(os.path.join(base, *rest), follow_last, depth + 1)
            return _walk(target + rest, follow_last, depth + 1)
        stack.append(node)
    return stack[-1]


def _gone() -> OSError:
    """ENOENT for a name a sealed directory (the guest's own) does not have: final, the
    host's /proc is not asked (it would show the emulator's fds and files)."""
    e = _err(errno.ENOENT)
    e.final = True
    return e


def _walk_guest(guest: bytes, follow_last: bool, depth: int):
    """A guest path met while walking (after /proc/self/root): back into /proc, or out."""
    norm = os.path.normpath(guest)
    if is_proc_path(norm):
        return _walk(os.fsdecode(norm[6:]).split("/"), follow_last, depth)
    return Outside(paths.host_path(norm, follow_last))


def _walk_host(path: str, follow_last: bool, depth: int):
    """A host path met while walking (after cwd, fd/N): one that leads back into /proc
    (the guest's cwd is /, /proc...) is resolved there, never by the host's /proc."""
    norm = os.path.normpath(path)
    if norm == "/proc" or norm.startswith("/proc/"):
        return _walk(norm[6:].split("/"), follow_last, depth)
    return Outside(path)


def resolve(guest: bytes, follow_last: bool = True):
    """What the guest path names (see _walk), or None if it is not below /proc."""
    if not is_proc_path(guest):
        return None
    return _walk(os.fsdecode(guest[6:]).split("/"), follow_last)


def _placeholder(kind: str) -> str:
    """An empty private directory (or file) standing for a synthesised one in host calls."""
    d = rundir.subdir("procfs")
    if kind == DIR:
        path = os.path.join(d, "dir")
        os.makedirs(path, 0o500, exist_ok=True)
        return path
    path = os.path.join(d, "file")
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
    return path


# ----- the provider's entry points -----------------------------------------------------------

def exe_guest_path() -> bytes:
    return os.fsencode(paths.guest_path(_proc().exe))


def proc_host_path(guest: bytes, follow: bool = True) -> str:
    """The host path a generic call (statfs, chdir, execve, unlink...) uses for a /proc path.

    `follow` False (lstat, readlink, unlink...): a link in the last component is itself."""
    try:
        got = resolve(guest, follow_last=follow)
    except OSError as e:
        if SYNTHETIC or getattr(e, "final", False):
            raise
        return os.fsdecode(guest)
    if got is None:
        return os.fsdecode(guest)
    if isinstance(got, str):
        return got
    if isinstance(got, Outside):
        if got.fd is not None and not SYNTHETIC:
            return f"/proc/self/fd/{got.fd}"
        return got.host_path()
    if got.host is not None:
        return got.host
    if not SYNTHETIC:
        return _linux_counterpart(got)
    return _placeholder(got.kind)


def _linux_counterpart(node: Node) -> str:
    """(Host with /proc) the host's file for one we synthesise: the process's own
    (/proc/self/...; a guest thread's files are the process's), else the same path."""
    parts = node.rel.split(b"/")
    if parts[0].isdigit():
        rest = parts[1:]
        if len(rest) >= 2 and rest[0] == b"task" and int(rest[1]) != os.getpid():
            rest = rest[2:]
        return "/".join(["/proc/self"] + [os.fsdecode(p) for p in rest])
    return "/proc/" + os.fsdecode(node.rel)


def readlink_special(guest: bytes) -> bytes | None:
    """Target of a /proc link as the guest sees it; None where the host answers."""
    got = resolve(guest, follow_last=False) if SYNTHETIC else _resolve_soft(guest, False)
    if got is None or isinstance(got, (str, Outside)):
        return None
    if got.kind != LINK:
        if SYNTHETIC:
            raise _err(errno.EINVAL)
        return None
    return got.make()


def special_dir(guest: bytes) -> bytes | None:
    """(No host /proc) the canonical guest path of the /proc directory `guest` names, for
    chdir; None for a path outside /proc or on a host whose /proc is its own."""
    if not SYNTHETIC or not is_proc_path(guest):
        return None
    got = resolve(guest)
    if not isinstance(got, Node):
        return None
    if got.kind != DIR:
        raise _err(errno.ENOTDIR)
    return b"/proc/" + got.rel if got.rel else b"/proc"


def _resolve_soft(guest: bytes, follow_last: bool):
    """resolve() on a host with /proc: a path the tree does not have is the host's (None)."""
    try:
        return resolve(guest, follow_last)
    except OSError as e:
        if e.errno == errno.ENOENT and not getattr(e, "final", False):
            return None
        raise


def stat_special(guest: bytes, follow: bool):
    """A stat result for a synthesised /proc entry; None where the host path answers."""
    got = resolve(guest, follow) if SYNTHETIC else _resolve_soft(guest, follow)
    if got is None or isinstance(got, str):
        return None
    if isinstance(got, Outside):
        return os.fstat(got.fd) if got.fd is not None else None
    if not SYNTHETIC and (got.host is not None or not _guest_only(got)):
        return None
    return fake_stat(got)


def _guest_only(node: Node) -> bool:
    """On a host with /proc: an entry the host has no counterpart of (a guest thread's)."""
    parts = node.rel.split(b"/")
    if len(parts) >= 3 and parts[1] == b"task":
        return int(parts[2]) != os.getpid()
    return len(parts) >= 1 and parts[0].isdigit() and int(parts[0]) != os.getpid()


def fake_stat(node: Node):
    """What stat says of a synthesised entry: procfs's modes, owner the process's, size 0."""
    if node.kind == DIR:
        mode, nlink = _stat.S_IFDIR | 0o555, 2
    elif node.kind == LINK:
        mode, nlink = _stat.S_IFLNK | 0o777, 1
    else:
        perm = node.mode if node.mode is not None else 0o644 if node.write is not None else 0o444
        mode, nlink = _stat.S_IFREG | perm, 1
    t = int((time.time() - procinfo.uptime_exact() + guests.started) * 1e9)
    uid = node.uid if node.uid is not None else os.geteuid()
    gid = node.gid if node.gid is not None else os.getegid()
    return SimpleNamespace(st_mode=mode, st_ino=_ino(node.rel), st_dev=procfiles.PROC_DEV,
                           st_nlink=nlink, st_uid=uid, st_gid=gid, st_rdev=0, st_size=0,
                           st_blksize=1024, st_blocks=0, st_atime_ns=t, st_mtime_ns=t,
                           st_ctime_ns=t)


def open_special(guest: bytes, flags: int, mode: int) -> int | None:
    """An fd for a /proc path, or None where the host's own file serves.

    `flags` are Linux open flags.  Raises OSError as Linux would: EACCES for
    writing a read-only file, ENOTDIR/EISDIR for a file/directory mismatch,
    ELOOP for O_NOFOLLOW on a link, ENOENT for what is not there.
    """
    if not is_proc_path(guest):
        return None
    if SYNTHETIC:
        got = resolve(guest, follow_last=not flags & _O_NOFOLLOW)
    else:
        got = _resolve_soft(guest, not flags & _O_NOFOLLOW)
        if got is None or isinstance(got, str):
            make = _other_cmdline(guest)
            if make is None:
                return None              # the host's own file
            if flags & _O_ACCMODE or flags & (_O_CREAT | _O_TRUNC):
                raise _err(errno.EACCES)
            return _guest_fd(_anon_file(make, bool(flags & _O_CLOEXEC)))
    if isinstance(got, (str, Outside)):
        return None                        # a host path: the caller opens proc_host_path's
    if got.kind == FILE and got.opener is not None:
        if flags & _O_DIRECTORY:
            raise _err(errno.ENOTDIR)
        return got.opener(flags)
    if got.kind == FILE and got.host is not None:
        return None                        # the host's own file
    if flags & _O_CREAT and flags & _O_EXCL:
        raise _err(errno.EEXIST)
    if got.kind == LINK:
        raise _err(errno.ELOOP)            # O_NOFOLLOW on the link itself
    if got.kind == DIR:
        if flags & _O_ACCMODE:
            raise _err(errno.EISDIR)
        return _open_dir(got, guest, flags)
    if flags & _O_DIRECTORY:
        raise _err(errno.ENOTDIR)
    acc = flags & _O_ACCMODE
    if (acc or flags & _O_TRUNC) and got.write is None:
        raise _err(errno.EACCES)
    fd = _guest_fd(_anon_file(got.make() if acc != 1 else b"", bool(flags & _O_CLOEXEC)))
    _opened(fd, got)
    if acc or got.write is not None:
        proc.fds.set(fd, ProcWriteState(b"/proc/" + got.rel, readable=acc != 1, writable=acc != 0))
    return fd


def _open_dir(node: Node, guest: bytes, flags: int) -> int:
    host = node.host if node.host is not None else _placeholder(DIR)
    hfd = os.open(host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fd = _guest_fd(hfd)
    if not flags & _O_CLOEXEC:
        os.set_inheritable(fd, True)
    _opened(fd, node)
    proc.fds.set(fd, ProcDirState(b"/proc/" + node.rel if node.rel else b"/proc",
                                  own_listing=not node.host_listing))
    return fd


def _opened(fd: int, node: Node) -> None:
    fds = proc.fds
    fds.on_close(fd)
    if fds.paths is not None:
        fds.opened(fd, "/proc/" + os.fsdecode(node.rel) if node.rel else "/proc")


def _anon_file(data: bytes, cloexec: bool) -> int:
    """A read-only fd on an anonymous regular file holding `data`, at offset 0."""
    fd = memfiles.snapshot(data)
    # Python opens fds close-on-exec; the guest asked for what it asked for.
    if not cloexec:
        os.set_inheritable(fd, True)
    return fd


def _guest_fd(fd: int) -> int:
    if not _proc().fds.valid(fd):
        os.close(fd)
        raise _err(errno.EMFILE)
    return fd


def _other_cmdline(guest: bytes) -> bytes | None:
    """(Host with /proc) /proc/PID/cmdline of another process, when that process is an
    emulated guest: its argument area holds the guest argv padded with NULs (see
    publish_identity), which are cut back to the one a real one ends with."""
    parts = guest.split(b"/")
    if len(parts) != 4 or parts[1] != b"proc" or not parts[2].isdigit() or parts[3] != b"cmdline":
        return None
    try:
        with open(os.fsdecode(guest), "rb") as f:
            data = f.read()
    except OSError:
        return None                # the host's open gives the guest its errno
    if not data.endswith(b"\0\0"):
        return data
    return data.rstrip(b"\0") + b"\0"


# ----- fd states ---------------------------------------------------------------------------

class ProcDirState(DirState):
    """A /proc directory fd: names its guest path for *at() calls relative to it and, when the
    tree lists it (`own_listing`), gives getdents64 its entries.  Picklable (execve)."""

    def __init__(self, guest: bytes, own_listing: bool = True) -> None:
        super().__init__()
        self.guest_dir = guest
        self.own_listing = own_listing

    def _node(self):
        try:
            got = resolve(self.guest_dir)
        except OSError:
            return None
        return got if isinstance(got, Node) and got.kind == DIR else None

    def listing(self):
        if not self.own_listing:
            return None
        node = self._node()
        if node is None:                   # gone (an exited thread, a reaped guest)
            return [(b".", 0, DT_DIR), (b"..", 0, DT_DIR)]
        return node.entries()

    def stat_of(self, fd: int):
        if not SYNTHETIC:
            return os.fstat(fd)
        node = self._node()
        return fake_stat(node) if node is not None else os.fstat(fd)


class ProcWriteState(FdState):
    """An fd on a writable /proc file (oom_score_adj, comm...): each write is applied to
    the state, and a read from offset 0 shows the value as it is now (Linux's
    seq_file generates the text again there), not as it was at open."""

    intercepts_io = True

    def __init__(self, guest: bytes, readable: bool, writable: bool = True) -> None:
        self.guest = guest
        self.readable = readable
        self.writable = writable

    def io_read(self, fd: int, views: list) -> int:
        if not self.readable:
            return -lerrno.EBADF
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        if pos == 0:
            try:
                node = resolve(self.guest)
            except OSError:
                node = None
            if isinstance(node, Node) and node.make is not None:
                self.text = node.make()
        text = getattr(self, "text", None)
        if text is None:                    # (a state from before an execve)
            return os.readv(fd, views)
        # Served from the text of the last read at 0; the snapshot file behind
        # the fd is read-only, so only its offset follows.
        done = 0
        for v in views:
            chunk = text[pos + done:pos + done + len(v)]
            v[:len(chunk)] = chunk
            done += len(chunk)
            if len(chunk) < len(v):
                break
        os.lseek(fd, pos + done, os.SEEK_SET)
        return done

    def io_write(self, fd: int, views: list) -> int:
        if not getattr(self, "writable", True):
            return -lerrno.EBADF
        data = b"".join(bytes(v) for v in views)
        try:
            node = resolve(self.guest)
        except OSError:
            return -lerrno.ESRCH
        if not isinstance(node, Node) or node.write is None:
            return -lerrno.EINVAL
        return node.write(data)
