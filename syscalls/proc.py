"""Process syscalls: exit, fork (clone/vfork), execve, wait4/waitid, process groups and sessions."""
from __future__ import annotations

import gc
import os
import resource
import struct
import sys

from elfuse_py.host import children
from elfuse_py.host import procinfo
from elfuse_py.runtime import guests, ipctree, lerrno, paths, siginbox
from elfuse_py.runtime import signals, threads
from elfuse_py.runtime.cpu import REG_SP, REG_TPIDR_EL0
from elfuse_py.runtime.signals import child_wait, to_linux
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import futex_pi, lazy
from elfuse_py.syscalls.args import AT_FDCWD, s32
from elfuse_py.syscalls.table import PARTIAL, syscall


@syscall("exit", "int")
def sys_exit(status):
    # Ends the calling thread only; the last thread's exit ends the process.
    if proc.threads.current is not None:
        threads.exit_thread(status)
        return None
    futex_pi.robust_exit(threads.gettid())
    proc.exit(status)


@syscall("exit_group", "int")
def sys_exit_group(status):
    futex_pi.process_exit()            # robust futexes of every thread: FUTEX_OWNER_DIED
    proc.exit(status)


@syscall("set_tid_address", "ptr")
def sys_set_tid_address(tidptr):
    proc.clear_child_tid = tidptr
    return threads.gettid()


# ----- fork ----------------------------------------------------------------------

CSIGNAL = 0xFF
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD = 0x4000, 0x8000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID = 0x80000, 0x100000, 0x200000
CLONE_CHILD_SETTID = 0x1000000
# What a fork-like clone may carry besides the exit signal.
_FORK_OK = (CLONE_VFORK | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID
            | CLONE_SETTLS)


def fork(flags: int = 17, newsp: int = 0, ptid: int = 0,
         tls: int = 0, ctid: int = 0) -> int:
    """fork(2) for the guest: the host process forks with the whole emulator in it."""

    vfork_r = vfork_w = -1
    if flags & CLONE_VFORK:
        # The parent waits until the child has exec'd or exited, as vfork does:
        # the child holds a close-on-exec pipe end that closes at either.
        r, w = os.pipe()
        vfork_r, vfork_w = proc.fds.reserve(r), proc.fds.reserve(w)
    _close_vfork_pipe()
    lazy.before_fork()                 # what children need, imported once here
    ipctree.ensure()                   # the tree the child joins (runtime/ipctree.py)
    paths.maybe_proc(b"")              # (its pattern compiled once here, not in each child)
    pid = os.fork()
    if pid == 0:
        # What the parent's heap held stays out of the child's collections: a
        # collection would write to every tracked object's header and so copy
        # most of the parent's pages (copy-on-write) in a child that usually
        # just execs (~1 ms per fork+exec).
        gc.freeze()
        proc.nested = True
        if vfork_r >= 0:
            os.close(vfork_r)
            proc.vfork_fd = vfork_w
        signals.after_fork_child()
        threads.after_fork_child()
        guests.after_fork()              # the child's record, for a host without /proc
        ipctree.after_fork()             # the parent's SysV shm attachments are the child's too
        me = os.getpid()
        if newsp:
            proc.cpu.set_reg(REG_SP, newsp)
        if flags & CLONE_SETTLS:
            proc.cpu.set_reg(REG_TPIDR_EL0, tls)
        if flags & CLONE_CHILD_SETTID and ctid:
            proc.mem.put_u32(ctid, me)
        if flags & CLONE_CHILD_CLEARTID:
            proc.clear_child_tid = ctid
        if flags & CLONE_PARENT_SETTID and ptid:
            proc.mem.put_u32(ptid, me)
        return 0
    siginbox.prepare_child(pid)         # other guests can signal it from now on
    if flags & CLONE_PARENT_SETTID and ptid:
        try:
            proc.mem.put_u32(ptid, pid)
        except Exception:  # noqa: BLE001 - the child exists either way
            pass
    if vfork_r >= 0:
        os.close(vfork_w)
        try:
            while os.read(vfork_r, 64):
                pass
        except OSError:
            pass
        os.close(vfork_r)
    return pid


def _close_vfork_pipe() -> None:
    fd = getattr(proc, "vfork_fd", -1)
    if fd >= 0:
        proc.vfork_fd = -1
        try:
            os.close(fd)
        except OSError:
            pass


@syscall("clone", "hex, ptr, ptr, ptr, ptr", level=PARTIAL,
         note="fork-like clones (and CLONE_VM|CLONE_VFORK as fork); threads (CLONE_THREAD) are "
              "serialised on one CPU; CLONE_VM without CLONE_THREAD or CLONE_VFORK gives EINVAL")
def sys_clone(flags, newsp, ptid, tls, ctid):
    flags &= 0xFFFFFFFFFFFFFFFF
    if (flags & CSIGNAL) > 64:
        return -lerrno.EINVAL
    extra = flags & ~CSIGNAL
    if extra & CLONE_THREAD:
        return _clone_thread(flags, newsp, ptid, tls, ctid)
    if extra & CLONE_VM and not extra & CLONE_VFORK:
        # Threads (and CLONE_VM without vfork) need a shared address space
        # between two CPUs: not supported yet.
        return -lerrno.EINVAL
    if extra & ~(_FORK_OK | CLONE_VM):
        return -lerrno.EINVAL
    return fork(flags, newsp, ptid, tls, ctid)


# What a thread clone may carry (pthread_create passes all but CLONE_CHILD_SETTID).
_THREAD_OK = (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS
              | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID
              | 0x40000 | 0x400000)    # CLONE_SYSVSEM, CLONE_DETACHED (ignored by Linux)


def _clone_thread(flags: int, newsp: int, ptid: int, tls: int, ctid: int) -> int:
    # Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
    if not flags & CLONE_SIGHAND or not flags & CLONE_VM:
        return -lerrno.EINVAL
    if flags & ~CSIGNAL & ~_THREAD_OK:
        return -lerrno.EINVAL
    return threads.clone_thread(flags, newsp, ptid, tls, ctid,
                                bool(flags & CLONE_SETTLS), bool(flags & CLONE_PARENT_SETTID),
                                bool(flags & CLONE_CHILD_SETTID), bool(flags & CLONE_CHILD_CLEARTID))


# clone3(struct clone_args *, size): the same fork-like and thread clones,
# with the arguments in a struct (flags, pidfd, child_tid, parent_tid,
# exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup).
_CLONE_ARGS = struct.Struct("<11Q")
CLONE_ARGS_SIZE_VER0 = 64
CLONE_PIDFD = 0x1000
CLONE_DETACHED = 0x400000
CLONE_NEWTIME = 0x80
CLONE_CLEAR_SIGHAND, CLONE_INTO_CGROUP = 0x100000000, 0x200000000
MAX_PID_NS_LEVEL = 32
PAGE = 4096


@syscall("clone3", "ptr, size", level=PARTIAL,
         note="fork-like and thread clones as clone, plus CLONE_PIDFD; set_tid is EPERM (no "
              "CAP_CHECKPOINT_RESTORE); CLONE_INTO_CGROUP and CLONE_CLEAR_SIGHAND are EINVAL here")
def sys_clone3(uargs, size):
    if size < CLONE_ARGS_SIZE_VER0:
        return -lerrno.EINVAL
    if size > PAGE:
        return -lerrno.E2BIG
    raw = proc.mem.read(uargs, size)
    if size > _CLONE_ARGS.size and any(raw[_CLONE_ARGS.size:]):
        return -lerrno.E2BIG             # a newer struct whose extra fields we do not know
    (flags, pidfd_ptr, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
     set_tid, set_tid_size, _cgroup) = _CLONE_ARGS.unpack(raw[:_CLONE_ARGS.size].ljust(_CLONE_ARGS.size, b"\0"))
    # kernel/fork.c copy_clone_args_from_user and clone3_args_valid, in order.
    if exit_signal & ~CSIGNAL or set_tid_size > MAX_PID_NS_LEVEL:
        return -lerrno.EINVAL
    if (set_tid == 0) != (set_tid_size == 0):
        return -lerrno.EINVAL
    if flags & ~(0xFFFFFFFF | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP):
        return -lerrno.EINVAL
    if flags & (CLONE_DETACHED | (CSIGNAL & ~CLONE_NEWTIME)):
        return -lerrno.EINVAL
    if flags & (CLONE_THREAD | CLONE_PARENT) and exit_signal:
        return -lerrno.EINVAL
    if (stack == 0) != (stack_size == 0):
        return -lerrno.EINVAL
    if stack + stack_size > 1 << 48:
        return -lerrno.EINVAL            # access_ok: the range must be user addresses (not that it is mapped)
    if flags & (CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP):
        return -lerrno.EINVAL
    if set_tid_size:
        tids = proc.mem.read(set_tid, 4 * set_tid_size)
        if any(not 0 < int.from_bytes(tids[i:i + 4], "little", signed=True) < 4194304
               for i in range(0, len(tids), 4)):
            return -lerrno.EINVAL
        return -lerrno.EPERM             # choosing a pid needs CAP_CHECKPOINT_RESTORE
    if flags & CLONE_PIDFD:
        if flags & CLONE_THREAD:
            return -lerrno.EINVAL        # Linux before 6.9: no thread pidfds from clone
        proc.mem.check(pidfd_ptr, 4, 2)
    sp = stack + stack_size if stack else 0
    legacy = (flags & ~CLONE_PIDFD) | exit_signal
    if flags & CLONE_THREAD:
        return _clone_thread(legacy, sp, parent_tid, tls, child_tid)
    extra = legacy & ~CSIGNAL
    if extra & CLONE_VM and not extra & CLONE_VFORK or extra & ~(_FORK_OK | CLONE_VM):
        return -lerrno.EINVAL
    pid = fork(legacy, sp, parent_tid, tls, child_tid)
    if pid > 0 and flags & CLONE_PIDFD:
        from elfuse_py.syscalls import pidfd
        fd = pidfd.sys_pidfd_open(pid, 0)
        if fd >= 0:
            os.set_inheritable(fd, False)    # clone3 pidfds are close-on-exec
            proc.mem.put_u32(pidfd_ptr, fd)
    return pid


# ----- exec ----------------------------------------------------------------------


@syscall("execve", "path, ptr, ptr")
def sys_execve(path, argv, envp):
    from elfuse_py.syscalls import execve    # (imported by the first exec, not at start-up)
    return execve.execve(AT_FDCWD, path, argv, envp, 0)


@syscall("execveat", "dirfd, path, ptr, ptr, hex")
def sys_execveat(dirfd, path, argv, envp, flags):
    from elfuse_py.syscalls import execve
    return execve.execve(dirfd, path, argv, envp, s32(flags))


# ----- wait ----------------------------------------------------------------------

def _pidfds_reaped(pid: int) -> None:
    """Tell the emulated pidfds of `pid` (syscalls/pidfd.py) it was reaped.  That module
    (and the socket module it needs) is imported only by a run that makes a pidfd:
    where it is not loaded, there is none to tell."""
    m = sys.modules.get("elfuse_py.syscalls.pidfd")
    if m is not None:
        m.reaped(pid)


WNOHANG, WUNTRACED, WCONTINUED, WEXITED, WNOWAIT = 1, 2, 8, 4, 0x01000000
__WNOTHREAD, __WALL, __WCLONE = 0x20000000, 0x40000000, 0x80000000
_HOST_WAIT = [(WNOHANG, os.WNOHANG), (WUNTRACED, os.WUNTRACED), (WCONTINUED, os.WCONTINUED)]
_RUSAGE = struct.Struct("<qqqq14q")


def linux_wait_status(status: int) -> int:
    """A host wait status in Linux's encoding (signal numbers translated by name)."""
    if os.WIFEXITED(status):
        return (os.WEXITSTATUS(status) & 0xFF) << 8
    if os.WIFSIGNALED(status):
        return to_linux(os.WTERMSIG(status)) | (0x80 if os.WCOREDUMP(status) else 0)
    if os.WIFSTOPPED(status):
        return (to_linux(os.WSTOPSIG(status)) << 8) | 0x7F
    if os.WIFCONTINUED(status):
        return 0xFFFF
    return status


def _put_rusage(addr: int, ru) -> None:
    def tv(t):
        us = int(round(t * 1e6))
        return us // 1000000, us % 1000000
    proc.mem.pack(_RUSAGE, addr, *tv(ru.ru_utime), *tv(ru.ru_stime),
                  ru.ru_maxrss // procinfo.MAXRSS_SCALE, ru.ru_ixrss, ru.ru_idrss, ru.ru_isrss,
                  ru.ru_minflt, ru.ru_majflt, ru.ru_nswap, ru.ru_inblock, ru.ru_oublock,
                  ru.ru_msgsnd, ru.ru_msgrcv, ru.ru_nsignals, ru.ru_nvcsw, ru.ru_nivcsw)


@syscall("wait4", "int, ptr, hex, ptr", interruptible=True)
def sys_wait4(pid, wstatus, options, rusage):
    pid = s32(pid)
    options &= 0xFFFFFFFF
    if options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE):
        return -lerrno.EINVAL
    if pid == -0x80000000:
        return -lerrno.ESRCH
    hopts = 0
    for lv, hv in _HOST_WAIT:
        if options & lv:
            hopts |= hv
    with child_wait():
        got, status, ru = os.wait4(pid, hopts)
    if got == 0:
        return 0
    if os.WIFEXITED(status) or os.WIFSIGNALED(status):
        guests.reaped(got)
        _pidfds_reaped(got)
    if wstatus:
        proc.mem.put_u32(wstatus, linux_wait_status(status))
    if rusage:
        _put_rusage(rusage, ru)
    return got


P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
# (P_PIDFD reaches the host only where it has pidfds: sys_waitid.)
_IDTYPES = {P_ALL: "P_ALL", P_PID: "P_PID", P_PGID: "P_PGID", P_PIDFD: "P_PIDFD"}
_WAITID_OPTS = [(WNOHANG, children.WNOHANG), (WEXITED, children.WEXITED),
                (WUNTRACED, children.WSTOPPED), (WCONTINUED, children.WCONTINUED),
                (WNOWAIT, children.WNOWAIT)]
_CLD = {getattr(os, n): v for n, v in [("CLD_EXITED", 1), ("CLD_KILLED", 2), ("CLD_DUMPED", 3),
                                       ("CLD_TRAPPED", 4), ("CLD_STOPPED", 5),
                                       ("CLD_CONTINUED", 6)] if hasattr(os, n)}
_SIGINFO_CHLD = struct.Struct("<iiiiiIiI")   # signo errno code pad pid uid status pad
_REAPED = {getattr(os, n) for n in ("CLD_EXITED", "CLD_KILLED", "CLD_DUMPED") if hasattr(os, n)}


@syscall("waitid", "int, int, ptr, hex, ptr", level=PARTIAL,
         note="rusage is the RUSAGE_CHILDREN total", interruptible=True)
def sys_waitid(idtype, id_, infop, options, rusage):
    idtype, id_ = s32(idtype), s32(id_)
    options &= 0xFFFFFFFF
    if idtype not in (P_ALL, P_PID, P_PGID, P_PIDFD) or options & ~(
            WNOHANG | WEXITED | WUNTRACED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE):
        return -lerrno.EINVAL
    if not options & (WEXITED | WUNTRACED | WCONTINUED):
        return -lerrno.EINVAL
    if idtype == P_PGID and id_ == 0:
        id_ = os.getpgrp()
    nonblock_pidfd = False
    if idtype == P_PIDFD:
        if id_ < 0:
            return -lerrno.EINVAL
        from elfuse_py.host import events as hostev     # (not at start-up: ~0.3 ms)
        if not hostev.HAVE_PIDFD:
            # The emulated pidfd (syscalls/pidfd.py) names a pid: wait for that one.
            from elfuse_py.syscalls import pidfd
            st = pidfd.emulated(id_)
            if st is None:
                return -lerrno.EBADF
            if st.gone:
                return -lerrno.ECHILD
            nonblock_pidfd = not options & WNOHANG and not os.get_blocking(id_)
            idtype, id_ = P_PID, st.pid
            if nonblock_pidfd:
                options |= WNOHANG
    hopts = 0
    for lv, hv in _WAITID_OPTS:
        if options & lv:
            hopts |= hv
    with child_wait():
        r = children.waitid(_IDTYPES[idtype], id_, hopts)
    if r is None and nonblock_pidfd:
        return -lerrno.EAGAIN           # Linux: a PIDFD_NONBLOCK pidfd does not wait
    if r is not None and not options & WNOWAIT and r.si_code in _REAPED:
        guests.reaped(r.si_pid)
        _pidfds_reaped(r.si_pid)
    if infop:
        if r is None:
            proc.mem.write(infop, bytes(128))
        else:
            code = _CLD.get(r.si_code, r.si_code)
            status = r.si_status if code == 1 else to_linux(r.si_status)
            proc.mem.write(infop, _SIGINFO_CHLD.pack(17, 0, code, 0, r.si_pid, r.si_uid,
                                                     status, 0).ljust(128, b"\0"))
    if rusage:
        _put_rusage(rusage, resource.getrusage(resource.RUSAGE_CHILDREN))
    return 0


# ----- process groups and sessions ----------------------------------------------------


@syscall("getpgid", "int")
def sys_getpgid(pid):
    return os.getpgid(s32(pid))


@syscall("setpgid", "int, int")
def sys_setpgid(pid, pgid):
    pid, pgid = s32(pid), s32(pgid)
    if pgid < 0:
        return -lerrno.EINVAL
    os.setpgid(pid, pgid)
    return 0


@syscall("getsid", "int")
def sys_getsid(pid):
    return os.getsid(s32(pid))


@syscall("setsid", "")
def sys_setsid():
    # Python's os.setsid returns None; the syscall returns the new session id.
    os.setsid()
    return os.getsid(0)
