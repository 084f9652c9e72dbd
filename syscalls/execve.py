"""execve/execveat: validate like Linux, then replace the image in this same process.

Everything that can fail (bad pointers, missing file, no exec permission,
ENOEXEC, shebang errors, E2BIG, the program's and its interpreter's headers)
is checked in the handler, so an error returns to the guest with its image
intact.  Then, as Linux does, the process stays and only its image changes:
the handler leaves the new program in `proc.exec_plan` and stops the CPU; the
run loop calls the composition root's `exec_image` (elfuse_py/boot.py), which
passes the point of no return (`begin_new_image`: other threads, the address
space, the CPU state, close-on-exec fds, handled signals, POSIX timers, the
vfork parent...), loads the new program with the start-up loader and runs on.
What survives is simply what is not reset: fds without FD_CLOEXEC and their
emulator state, ignored signals, the mask and pending set, limits, umask, cwd
and root, ids, the sysroot, --strace and the log channel, the process's
runtime directories and inbox.  A failure after that point ends the process
with SIGSEGV, as on Linux.

Fallback (`_host_exec`): while gdb is attached (the remote session ends at an
exec and its stub holds the engine) the host process execs a fresh Python
running `elfuse_py.cli.exec_entry` instead, which takes the state back
(`take_state`), boots the new image and restores what survives
(`restore_state`).  That state is pickled into an anonymous file whose fd
number (in the emulator's reserved range) is passed in ELFUSE_EXEC_STATE;
`take_state` removes that variable before the guest sees its environment.
"""
from __future__ import annotations

import fcntl
import os
import stat
import sys

from elfuse_py.host import fs as hostfs
from elfuse_py.host import memfiles, platform
from elfuse_py.runtime import fdtable, guests, ipctree, lerrno, log, paths, rundir, signals, threads
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc
from elfuse_py.loader.elf import ElfError, check_program
from elfuse_py.loader.shebang import ShebangError, resolve_program

from elfuse_py.syscalls import futex_pi, strace_out

STATE_ENV = "ELFUSE_EXEC_STATE"
MAX_ARG_STRLEN = 32 * 4096
AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW = 0x1000, 0x100
_PTR_LIMIT = 0x7FFFFFFF


def _errno(name: str) -> int:
    return -getattr(lerrno, name)


def _strings(mem, addr: int) -> list[bytes]:
    """A NULL-terminated guest array of string pointers (NULL array = empty)."""
    out: list[bytes] = []
    if not addr:
        return out
    while True:
        p = mem.u64(addr + 8 * len(out))
        if not p:
            return out
        if len(out) >= _PTR_LIMIT:
            raise OSError(7, "too many arguments")
        out.append(mem.cstr(p, MAX_ARG_STRLEN + 1))


def _resolve_path(dirfd: int, path: bytes, flags: int) -> str | int:
    """The host path execveat names, or a negative errno."""
    if not path:
        if not flags & AT_EMPTY_PATH:
            return _errno("ENOENT")
        return proc.fds.path_of(dirfd)
    if path[:1] != b"/" and dirfd != -100:
        base = proc.fds.path_of(dirfd)
        if not os.path.isdir(base):
            return _errno("ENOTDIR")
        return os.path.join(base, os.fsdecode(path))
    return paths.host_path(paths.rooted(path) or path)   # (rooted: inside a chroot)


def execve(dirfd: int, path_addr: int, argv_addr: int, envp_addr: int, flags: int) -> int:
    """The execve/execveat handler body: returns -errno, or never returns."""
    mem = proc.mem
    if flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW):
        return _errno("EINVAL")
    filename = mem.cstr(path_addr, 4096)
    try:
        argv = _strings(mem, argv_addr)
        envp = _strings(mem, envp_addr)
    except ValueError:
        return _errno("E2BIG")
    total = 0
    for s in argv + envp:
        if len(s) >= MAX_ARG_STRLEN:
            return _errno("E2BIG")
        total += len(s) + 1 + 8
    if total > max(os.sysconf("SC_ARG_MAX") - 4096, 131072):
        return _errno("E2BIG")
    host = _resolve_path(dirfd, filename, flags)
    if isinstance(host, int):
        return host
    if flags & AT_SYMLINK_NOFOLLOW and os.path.islink(host):
        return _errno("ELOOP")
    st = os.stat(host)                       # ENOENT, ENOTDIR, ELOOP, EACCES
    if not stat.S_ISREG(st.st_mode) or not os.access(host, os.X_OK):
        return _errno("EACCES")
    try:
        elf, new_argv = resolve_program(host, argv, paths.host_path)
    except ShebangError as e:
        return _errno(e.errno_name)
    if elf != host:
        if not os.access(elf, os.X_OK) or not os.path.isfile(elf):
            return _errno("EACCES")
        # Like Linux, argv names the script by the path execve was given.
        new_argv = [filename if a == os.fsencode(host) else a for a in new_argv]
    try:
        # Everything Linux checks before its point of no return (headers,
        # PT_INTERP, the interpreter's headers): those fail with the errno and
        # the image intact.  What fails later kills the new image with SIGSEGV.
        check_program(elf, paths.host_path)
    except ElfError as e:
        return -lerrno.LINUX_ERRNO.get(e.errno_name, lerrno.ENOEXEC)

    if proc.exec_image is not None and proc.debugger is None:
        proc.exec_plan = (elf, new_argv, envp, filename)
        # Signals wait for the new image: a handled one would otherwise be
        # delivered to the old image on the way out (it becomes default there).
        proc.cpu.pending = False
        proc.cpu.stop("exec")
        return None
    return _host_exec(elf, new_argv, envp, filename)


# ----- in-process: past the point of no return -------------------------------------------

def begin_new_image() -> None:
    """Tear the old image down (Linux's begin_new_exec): the run loop calls it once the
    CPU has stopped; the new program is loaded afterwards (elfuse_py/boot.py)."""
    futex_pi.process_exit()          # every thread's robust futexes: FUTEX_OWNER_DIED (exec_mm_release)
    threads.after_exec()             # de_thread: the calling thread goes on alone, as the leader
    proc.clear_child_tid = 0
    _release_vfork_parent()
    _close_on_exec()
    signals.after_exec()
    ipctree.after_exec()             # SysV shm attachments went with the memory
    for hook in proc.exec_hooks:     # the upper layers' per-image state (POSIX timers...)
        hook()
    task = proc.task
    task.comm = None                 # from the new program's name (proc.comm)
    task.robust_list = (0, 0)
    task.dumpable = 1
    proc.mem.reset()                 # every mapping and the brk
    proc.cpu.reset()                 # registers as a fresh CPU has them, no translated code


def _release_vfork_parent() -> None:
    """A vfork child's parent waits until the child execs or exits (syscalls/proc.py fork)."""
    fd, proc.vfork_fd = proc.vfork_fd, -1
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


def _close_on_exec() -> None:
    """Close the guest fds marked close-on-exec, through the fd table (their emulator
    state is released, epoll forgets them); the states of the others stay as they are.
    A state that prepares for an exec (before_exec) hears it end at once (after_exec),
    as it does when a host execve fails: the image it serves is still this process."""
    fds = proc.fds
    for fd in hostfs.open_fds(fds.limit):
        try:
            cloexec = fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        except OSError:
            continue
        if not cloexec:
            continue
        try:
            os.close(fd)
        except OSError:
            pass
        fds.on_close(fd)
    for fd, value in list(fds.state.items()):
        if type(value).before_exec is not FdState.before_exec:
            _hook(value, "before_exec")
            _hook(value, "after_exec", fd)


# ----- fallback: a host execve of a new interpreter --------------------------------------

def _host_exec(elf: str, new_argv: list[bytes], envp: list[bytes], filename: bytes) -> int:
    """Exec a fresh emulator on the new program (while gdb is attached); -errno or no return."""
    fds = {fd: value for fd, value in proc.fds.state.items() if _inherited(fd)}
    for value in fds.values():
        _hook(value, "before_exec")
    state = {
        "exe": elf, "argv": new_argv, "envp": envp, "execfn": filename,
        "fds": fds, "fdlimit": proc.fds.limit,
        "paths": {fd: p for fd, p in (proc.fds.paths or {}).items() if _inherited(fd)},
        "fdnominal": proc.fds.nominal, "signals": signals.exec_state(),
        "strace": proc.strace, "sysroot": paths.sysroot, "nested": proc.nested,
        "umask": proc.umask, "nofile": proc.task.nofile,
        "no_new_privs": proc.task.no_new_privs, "started": guests.started,
        "limits": dict(proc.task.missing_limits),
        "special_cwd": paths.special_cwd, "root": paths.root, "ipc": ipctree.exec_state(),
        "logfd": log.get_fd(), "rundir_tree": rundir.exec_state(),
    }
    import pickle                           # only on an exec: not at start-up
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    sfd = _state_fd(data, proc.fds.limit)
    # Emulator fds a surviving state needs (an emulated eventfd's counter file,
    # a timerfd's wake-up end) stay open across the exec.
    carried = {f for st in fds.values() for f in _carried(st)}
    if log.get_fd() >= 0:
        carried.add(log.get_fd())             # the emulator's diagnostics channel
    if proc.strace:
        carried.update(strace_out.exec_fds(proc.strace))     # the trace's output and counters
    for f in carried:
        _inheritable(f, True)
    env = {}
    for e in envp:
        k, sep, v = e.partition(b"=")
        # The guest's own ELFUSE_* do not configure the emulator: its settings are its own.
        if sep and k and b"\0" not in e and not k.startswith(b"ELFUSE_"):
            env[k] = v
    env.update((os.fsencode(k), os.fsencode(v)) for k, v in os.environ.items()
               if k.startswith("ELFUSE_"))
    env[STATE_ENV.encode()] = str(sfd).encode()
    env.update(platform.exec_environment())     # the same host model in the new image
    # The directory holding the elfuse_py package (a source tree or site-packages).
    root = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["elfuse_py"].__file__)))
    path_list = [root] + [p for p in sys.path if p and p != root]
    code = f"import sys;sys.path[:0]={path_list!r};from elfuse_py.cli import exec_entry;exec_entry()"
    if proc.debugger is not None:
        proc.debugger.on_exec(os.fsdecode(filename))    # the gdb session ends here
    signals.exec_prepare(True)
    try:
        os.execve(sys.executable, [sys.executable, "-I", "-S", "-c", code,
                                   os.fsdecode(filename)], env)
    except OSError as e:
        signals.exec_prepare(False)
        os.close(sfd)
        rundir.exec_failed()
        for f in carried:
            _inheritable(f, False)
        for fd, value in fds.items():
            # The image stays: undo what before_exec prepared (states that prepare nothing
            # have nothing to undo; after_exec of the others would re-arm them twice).
            if type(value).before_exec is not FdState.before_exec:
                _hook(value, "after_exec", fd)
        raise e
    return _errno("ENOEXEC")  # not reached


def _inherited(fd: int) -> bool:
    """True if `fd` is open without close-on-exec (it survives the host execve)."""
    try:
        return not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    except OSError:
        return False


def _hook(state, name: str, *args) -> None:
    """Call the per-fd state's exec hook (FdState.before_exec/after_exec) if it has one."""
    fn = getattr(state, name, None)
    if fn is not None:
        fn(*args)


def _carried(st) -> tuple:
    fn = getattr(st, "carried_fds", None)
    return fn() if fn is not None else ()


def _inheritable(fd: int, on: bool) -> None:
    try:
        os.set_inheritable(fd, on)
    except OSError:
        pass


def _state_fd(data: bytes, low: int) -> int:
    """An inheritable fd in the emulator's reserved range holding `data`, at offset 0."""
    fd = memfiles.anonymous("elfuse-exec-state", cloexec=True)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, low)   # no close-on-exec: it must reach the new image
    os.close(fd)
    return new


def take_state() -> dict:
    """In the new emulator: read (and close) the state the old image carried across execve."""
    fd = int(os.environ.pop(STATE_ENV))
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    import pickle
    state = pickle.loads(b"".join(chunks))
    # The host limits were inherited: keep the guest's numbering and the reserved range.
    fdtable.carried = (state["fdlimit"], state["fdnominal"])
    logfd = state.get("logfd", -1)
    if logfd >= 0:
        _inheritable(logfd, False)
    log.carry(logfd)
    rundir.carry(state.get("rundir_tree"))
    return state


def restore_state(proc, state: dict) -> None:
    """After the new image booted: the per-fd state and the limits that survive execve."""
    proc.fds.state.update(state["fds"])
    if proc.fds.paths is not None:
        proc.fds.paths.update(state.get("paths") or {})
    seen = set()
    for fd, st in state["fds"].items():
        if id(st) in seen:              # dup'd fds share one state: once is enough
            continue
        seen.add(id(st))
        for f in _carried(st):
            _inheritable(f, False)
        _hook(st, "after_exec", fd)
    if state.get("fdnominal"):
        proc.fds.nominal = state["fdnominal"]
    # Limits the emulator keeps for the guest (RLIMIT_AS...) survive execve as on Linux.
    proc.task.missing_limits.update(state.get("limits") or {})
    proc.task.no_new_privs = state.get("no_new_privs", 0)
    if state.get("nofile") is not None:
        # A limit the guest set survives exec, as setrlimit's does on Linux.
        proc.task.nofile = state["nofile"]
        proc.fds.set_soft_limit(state["nofile"][0])
