"""System-information, identity, limits and scheduling-hint syscalls.

uname/sysinfo describe the host as an AArch64 Linux machine; ids and
set*id go to the host for real (so EPERM is the host's verdict); resource
limits are translated by RLIMIT_* name through the `resource` module; the
prctl/personality/robust-list state the kernel would keep per task lives in
`STATE` here.  Struct layouts are Linux AArch64 (LP64, little-endian).
"""
from __future__ import annotations

import os
import resource
import struct

from elfuse_py.host import ids, procinfo
from elfuse_py.runtime import guests, ipctree, lerrno
from elfuse_py.runtime import threads
from elfuse_py.runtime.process import GUEST_KEPT_LIMITS, RLIMIT_NAMES, RLIMIT_NOFILE, TASK_COMM_LEN, proc, rlim_to_guest

from elfuse_py.syscalls import preload
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import PARTIAL, not_supported, syscall



STATE = proc.task     # per-task kernel state (prctl, personality, limits) kept by the runtime

# ----- identity --------------------------------------------------------------------


@syscall("getpid")
def sys_getpid():
    return os.getpid()


@syscall("getppid")
def sys_getppid():
    return os.getppid()


@syscall("gettid")
def sys_gettid():
    # The main thread's id is the process id, as on Linux (elfuse_py.runtime.threads).
    return threads.gettid()


@syscall("getuid")
def sys_getuid():
    return os.getuid()


@syscall("geteuid")
def sys_geteuid():
    return os.geteuid()


@syscall("getgid")
def sys_getgid():
    return os.getgid()


@syscall("getegid")
def sys_getegid():
    return os.getegid()


_resuid = ids.getresuid
_resgid = ids.getresgid


def _put_ids(ids: tuple[int, int, int], ptrs: tuple[int, int, int]) -> int:
    mem = proc.mem
    for v, p in zip(ids, ptrs):
        mem.put_u32(p, v)
    return 0


@syscall("getresuid", "ptr, ptr, ptr")
def sys_getresuid(r, e, s):
    return _put_ids(_resuid(), (r, e, s))


@syscall("getresgid", "ptr, ptr, ptr")
def sys_getresgid(r, e, s):
    return _put_ids(_resgid(), (r, e, s))


NGROUPS_MAX = 65536


@syscall("getgroups", "int, ptr")
def sys_getgroups(size, lst):
    size = s32(size)
    if size < 0:
        return -lerrno.EINVAL
    groups = os.getgroups()
    if size == 0:
        return len(groups)
    if size < len(groups):
        return -lerrno.EINVAL
    if groups:
        proc.mem.write(lst, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


def _before_id_change() -> None:
    """What must happen while the guest still has the emulator's starting identity:
    the imports a dropped uid may not be able to read (syscalls/preload.py), and
    the tree's SysV IPC directory, made in the runtime directory only that uid
    may enter (runtime/ipctree.py; the tree is reached through its fd after)."""
    preload.before_identity_change()
    ipctree.ensure()


@syscall("setgroups", "int, ptr")
def sys_setgroups(size, lst):
    _before_id_change()
    size = s32(size)
    if size < 0 or size > NGROUPS_MAX:
        return -lerrno.EINVAL
    groups = list(struct.unpack(f"<{size}I", proc.mem.read(lst, 4 * size))) if size else []
    os.setgroups(groups)
    return 0


def _id(v: int) -> int:
    """A uid_t/gid_t argument; (uid_t)-1 means "unchanged" for the setre*/setres* calls."""
    v &= 0xFFFFFFFF
    return -1 if v == 0xFFFFFFFF else v


@syscall("setuid", "uint")
def sys_setuid(uid):
    _before_id_change()
    uid = _id(uid)
    if uid < 0:
        return -lerrno.EINVAL
    privileged = os.geteuid() == 0
    os.setuid(uid)
    ids.note_setuid(uid, privileged)
    return 0


@syscall("setgid", "uint")
def sys_setgid(gid):
    _before_id_change()
    gid = _id(gid)
    if gid < 0:
        return -lerrno.EINVAL
    privileged = os.geteuid() == 0
    os.setgid(gid)
    ids.note_setgid(gid, privileged)
    return 0


@syscall("setreuid", "int, int")
def sys_setreuid(r, e):
    _before_id_change()
    old_real = os.getuid()
    os.setreuid(_id(r), _id(e))
    ids.note_setreuid(_id(r), _id(e), old_real)
    return 0


@syscall("setregid", "int, int")
def sys_setregid(r, e):
    _before_id_change()
    old_real = os.getgid()
    os.setregid(_id(r), _id(e))
    ids.note_setregid(_id(r), _id(e), old_real)
    return 0


@syscall("setresuid", "int, int, int", level=PARTIAL,
         note="hosts without setresuid (macOS): saved uid kept by the emulator (host/ids.py)")
def sys_setresuid(r, e, s):
    _before_id_change()
    ids.setresuid(_id(r), _id(e), _id(s))
    return 0


@syscall("setresgid", "int, int, int", level=PARTIAL,
         note="hosts without setresgid (macOS): saved gid kept by the emulator (host/ids.py)")
def sys_setresgid(r, e, s):
    _before_id_change()
    ids.setresgid(_id(r), _id(e), _id(s))
    return 0


@syscall("setfsuid", "int", level=PARTIAL, note="reports the effective uid; never changes it")
def sys_setfsuid(uid):
    # The fs uid follows the effective uid unless changed; we never change it
    # (only a privileged caller could), and setfsuid reports the previous value.
    return os.geteuid()


@syscall("setfsgid", "int", level=PARTIAL, note="reports the effective gid; never changes it")
def sys_setfsgid(gid):
    return os.getegid()


# ----- uname / sysinfo -------------------------------------------------------------

_UTSNAME = struct.Struct("<65s65s65s65s65s65s")


def _utsname() -> tuple[bytes, ...]:
    u = os.uname()
    release, version = procinfo.kernel_release(u)
    return tuple(s.encode()[:64] for s in ("Linux", u.nodename, release, version, "aarch64",
                                             "(none)"))


@syscall("uname", "ptr")
def sys_uname(buf):
    proc.mem.pack(_UTSNAME, buf, *_utsname())
    return 0


# struct sysinfo (LP64): uptime, loads[3], 6 ram/swap counters, procs, pad,
# totalhigh, freehigh, mem_unit, padding.
_SYSINFO = struct.Struct("<q3Q6QHH4x2QI4x")


_meminfo, _uptime, _nprocs = procinfo.meminfo, procinfo.uptime, procinfo.nprocs


@syscall("sysinfo", "ptr")
def sys_sysinfo(info):
    proc.mem.check(info, _SYSINFO.size, 2)
    mi = _meminfo()
    page = os.sysconf("SC_PAGE_SIZE")
    total = mi.get("MemTotal") or os.sysconf("SC_PHYS_PAGES") * page
    free = mi.get("MemFree")
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * page
        except (ValueError, OSError):
            free = 0
    loads = [int(x * 65536) for x in procinfo.loadavg()]
    proc.mem.pack(_SYSINFO, info, _uptime(), *loads, total, free, mi.get("Shmem", 0),
                  mi.get("Buffers", 0), mi.get("SwapTotal", 0), mi.get("SwapFree", 0),
                  min(_nprocs(), 0xFFFF), 0, 0, 0, 1)
    return 0


# ----- resource limits -------------------------------------------------------------

_RLIMIT_NAMES = RLIMIT_NAMES
LINUX_RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
_HOST_INF = resource.RLIM_INFINITY
_RLIMIT = struct.Struct("<QQ")


_to_guest = rlim_to_guest


def _to_host(v: int) -> int:
    return _HOST_INF if v == LINUX_RLIM_INFINITY or v >= 1 << 63 else v


def _nofile() -> tuple[int, int]:
    return proc.nofile()


def _get_limit(res: int) -> tuple[int, int]:
    return proc.rlimit(res)


def _set_limit(res: int, soft: int, hard: int) -> int:
    if soft > hard:
        return -lerrno.EINVAL
    if res == RLIMIT_NOFILE:
        # The emulator's reserved fds sit just above proc.fds.limit, which is
        # the guest's hard limit at most: the guest may raise its soft limit up
        # to its hard one, lower both, and never raise the hard one.
        _, cur_hard = _nofile()
        if hard > cur_hard:
            return -lerrno.EPERM
        STATE.nofile = (soft, hard)
        proc.fds.set_soft_limit(soft)
        return 0
    host = None if res in GUEST_KEPT_LIMITS else getattr(resource, _RLIMIT_NAMES[res], None)
    if host is None:
        _, cur_hard = _get_limit(res)
        if hard > cur_hard:
            return -lerrno.EPERM
        STATE.missing_limits[res] = (soft, hard)
        return 0
    try:
        resource.setrlimit(host, (_to_host(soft), _to_host(hard)))
    except ValueError:
        # Python reports the host's EINVAL/EPERM as ValueError; raising a hard
        # limit is the EPERM case.
        cur = resource.getrlimit(host)
        return -lerrno.EPERM if _to_guest(cur[1]) < hard else -lerrno.EINVAL
    return 0


@syscall("prlimit64", "int, rlimit, ptr, ptr", level=PARTIAL,
         note="other processes only where the host has prlimit (Linux); a lowered "
              "RLIMIT_NOFILE is reported but not enforced")
def sys_prlimit64(pid, res, new, old):
    pid, res = s32(pid), res & 0xFFFFFFFF
    if res >= len(_RLIMIT_NAMES):
        return -lerrno.EINVAL
    mem = proc.mem
    new_val = mem.unpack(_RLIMIT, new) if new else None
    if pid not in (0, os.getpid()):
        host = getattr(resource, _RLIMIT_NAMES[res], None)
        if not hasattr(resource, "prlimit") or host is None or res == RLIMIT_NOFILE:
            return -lerrno.EPERM if _pid_exists(pid) else -lerrno.ESRCH
        if new_val is not None:
            prev = resource.prlimit(pid, host, tuple(_to_host(v) for v in new_val))
        else:
            prev = resource.prlimit(pid, host)
        if old:
            mem.pack(_RLIMIT, old, _to_guest(prev[0]), _to_guest(prev[1]))
        return 0
    prev = _get_limit(res)
    if new_val is not None:
        err = _set_limit(res, *new_val)
        if err:
            return err
    if old:
        mem.pack(_RLIMIT, old, *prev)
    return 0


_pid_exists = procinfo.pid_exists


@syscall("getrlimit", "rlimit, ptr")
def sys_getrlimit(res, rlim):
    res &= 0xFFFFFFFF
    if res >= len(_RLIMIT_NAMES):
        return -lerrno.EINVAL
    proc.mem.check(rlim, _RLIMIT.size, 2)
    proc.mem.pack(_RLIMIT, rlim, *_get_limit(res))
    return 0


@syscall("setrlimit", "rlimit, ptr")
def sys_setrlimit(res, rlim):
    res &= 0xFFFFFFFF
    if res >= len(_RLIMIT_NAMES):
        return -lerrno.EINVAL
    return _set_limit(res, *proc.mem.unpack(_RLIMIT, rlim))


# struct rusage: two struct timeval then 14 longs.
_RUSAGE = struct.Struct("<qqqq14q")
RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1


def rusage_values(who_host: int) -> tuple:
    """A Linux struct rusage (as a tuple for _RUSAGE) from the host's getrusage."""
    r = resource.getrusage(who_host)

    def tv(t: float) -> tuple[int, int]:
        us = int(round(t * 1e6))
        return us // 1000000, us % 1000000

    maxrss = r.ru_maxrss // procinfo.MAXRSS_SCALE       # Linux: KiB
    return (*tv(r.ru_utime), *tv(r.ru_stime), maxrss, r.ru_ixrss, r.ru_idrss, r.ru_isrss,
            r.ru_minflt, r.ru_majflt, r.ru_nswap, r.ru_inblock, r.ru_oublock, r.ru_msgsnd,
            r.ru_msgrcv, r.ru_nsignals, r.ru_nvcsw, r.ru_nivcsw)


@syscall("getrusage", "int, ptr")
def sys_getrusage(who, usage):
    who = s32(who)
    if who in (RUSAGE_SELF, RUSAGE_THREAD):
        host = resource.RUSAGE_SELF
    elif who == RUSAGE_CHILDREN:
        host = resource.RUSAGE_CHILDREN
    else:
        return -lerrno.EINVAL
    proc.mem.pack(_RUSAGE, usage, *rusage_values(host))
    return 0


# ----- randomness ------------------------------------------------------------------

GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4
_GETRANDOM_MAX = (1 << 25) - 1      # Linux returns at most 32 MiB - 1 per call


@syscall("getrandom", "buf_out, size, grnd_flags")
def sys_getrandom(buf, length, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        return -lerrno.EINVAL
    if flags & GRND_INSECURE and flags & GRND_RANDOM:
        return -lerrno.EINVAL
    n = min(length, _GETRANDOM_MAX)
    view = proc.mem.view(buf, n, write=True)
    view[:] = os.urandom(n)
    return n


# ----- scheduling hints ------------------------------------------------------------


def _host_cpus(pid: int) -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(pid))
    return set(range(procinfo.cpu_count()))


@syscall("sched_getaffinity", "int, uint, ptr")
def sys_sched_getaffinity(pid, size, mask):
    pid = s32(pid)
    if pid < 0:
        return -lerrno.ESRCH
    cpus = _host_cpus(0 if pid == os.getpid() else pid)
    nbits = max(procinfo.cpu_count(), max(cpus) + 1)
    mask_size = ((nbits + 63) // 64) * 8      # cpumask_size(): whole longs
    if size * 8 < nbits or size & 7:
        return -lerrno.EINVAL
    n = min(size, mask_size)
    bits = 0
    for c in cpus:
        bits |= 1 << c
    proc.mem.write(mask, bits.to_bytes(n, "little"))
    return n


@syscall("sched_setaffinity", "int, uint, ptr")
def sys_sched_setaffinity(pid, size, mask):
    pid = s32(pid)
    if pid < 0:
        return -lerrno.ESRCH
    raw = int.from_bytes(proc.mem.read(mask, size), "little")
    ncpu = procinfo.cpu_count()
    wanted = {c for c in range(min(size * 8, 4096)) if raw >> c & 1}
    usable = wanted & _host_cpus(0 if pid == os.getpid() else pid)
    if not usable and not wanted & set(range(ncpu)):
        return -lerrno.EINVAL
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0 if pid == os.getpid() else pid, wanted & set(range(ncpu)))
    return 0


@syscall("sched_yield")
def sys_sched_yield():
    if threads.multi():
        threads.yield_()            # another guest thread runs (the run loop switches)
        return 0
    if hasattr(os, "sched_yield"):
        os.sched_yield()
    return 0


@syscall("getcpu", "ptr, ptr, ptr")
def sys_getcpu(cpu, node, _cache):
    c = procinfo.current_cpu()
    if cpu:
        proc.mem.put_u32(cpu, c)
    if node:
        proc.mem.put_u32(node, 0)
    return 0


# ----- per-task kernel state -------------------------------------------------------


@syscall("personality", "hex")
def sys_personality(persona):
    persona &= 0xFFFFFFFF
    old = STATE.personality
    if persona != 0xFFFFFFFF:
        STATE.personality = persona
    return old


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME = 15, 16
PR_GET_SECCOMP, PR_SET_SECCOMP = 21, 22
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39


def _comm() -> bytes:
    return proc.comm()


@syscall("prctl", "int, hex, hex, hex, hex", level=PARTIAL,
         note="PR_SET/GET_NAME, PR_SET/GET_DUMPABLE, PR_SET/GET_PDEATHSIG, PR_SET/GET_NO_NEW_PRIVS; "
         "PR_GET/SET_SECCOMP EINVAL as a kernel without CONFIG_SECCOMP; others EINVAL")
def sys_prctl(option, a2, a3, a4, a5):
    option = s32(option)
    mem = proc.mem
    if option == PR_SET_NAME:
        try:
            name = mem.cstr(a2, TASK_COMM_LEN)
        except ValueError:      # no NUL in the first 16 bytes: the kernel truncates
            name = mem.read(a2, TASK_COMM_LEN)
        _comm()
        STATE.comm = name[:TASK_COMM_LEN - 1]
        if threads.gettid() == os.getpid():
            procinfo.set_comm(STATE.comm)     # what ps/killall see from outside
            guests.publish()                  # and other guests, where the host has no /proc
        return 0
    if option == PR_GET_NAME:
        mem.write(a2, _comm().ljust(TASK_COMM_LEN, b"\0"))
        return 0
    if option == PR_GET_DUMPABLE:
        return STATE.dumpable
    if option == PR_SET_DUMPABLE:
        if a2 not in (0, 1):
            return -lerrno.EINVAL
        STATE.dumpable = a2
        return 0
    if option == PR_SET_PDEATHSIG:
        if a2 > 64:
            return -lerrno.EINVAL
        STATE.pdeathsig = a2
        return 0
    if option == PR_GET_PDEATHSIG:
        mem.put_u32(a2, STATE.pdeathsig)
        return 0
    if option == PR_SET_NO_NEW_PRIVS:
        if a2 != 1 or a3 or a4 or a5:
            return -lerrno.EINVAL
        STATE.no_new_privs = 1               # one-way: there is no way to clear it
        return 0
    if option == PR_GET_NO_NEW_PRIVS:
        if a2 or a3 or a4 or a5:
            return -lerrno.EINVAL
        return STATE.no_new_privs
    # PR_GET/SET_SECCOMP and every other option: EINVAL.  For seccomp this is what
    # a kernel built without CONFIG_SECCOMP answers; a filter is never installed
    # (it would be BPF over the guest's syscalls, which this emulator does not
    # run), and daemons fall back: OpenSSH's seccomp sandbox logs the failed
    # prctl(PR_SET_SECCOMP) at debug level and goes on (sandbox-seccomp-filter.c).
    return -lerrno.EINVAL


not_supported("seccomp", "ENOSYS as a kernel without CONFIG_SECCOMP; prctl(PR_SET_SECCOMP) is EINVAL")


# rseq stays ENOSYS on purpose: an honest registration must also abort a
# thread's rseq critical section (restart it at its abort handler) whenever
# the emulator switches guest threads or delivers a signal inside it, or two
# threads on our one CPU corrupt per-CPU data.  glibc >= 2.35 and tcmalloc
# take ENOSYS as "no rseq" and fall back (sched_getcpu -> getcpu).
not_supported("rseq", "ENOSYS: a registration would also need critical-section aborts at thread "
                      "switches and signals; glibc 2.35+ and tcmalloc fall back to getcpu")

_ROBUST_LIST_HEAD_SIZE = 24


@syscall("set_robust_list", "ptr, size", level=PARTIAL,
         note="per thread; walked at exit and exit_group (syscalls/futex_pi.py), "
              "not when a signal kills the process")
def sys_set_robust_list(head, length):
    if length != _ROBUST_LIST_HEAD_SIZE:
        return -lerrno.EINVAL
    STATE.robust_list = (head, length)
    proc.threads.robust[threads.gettid()] = head
    return 0


@syscall("get_robust_list", "int, ptr, ptr")
def sys_get_robust_list(pid, head_ptr, len_ptr):
    pid = s32(pid)
    if pid not in (0, os.getpid()):
        return -lerrno.EPERM if _pid_exists(pid) else -lerrno.ESRCH
    proc.mem.put_u64(head_ptr, proc.threads.robust.get(threads.gettid(), STATE.robust_list[0]))
    proc.mem.put_u64(len_ptr, _ROBUST_LIST_HEAD_SIZE)
    return 0


# membarrier(2).  Guest threads run one at a time on one host thread and switch
# only at syscall boundaries (elfuse_py/runtime/threads.py), which are full
# barriers, so the private commands are satisfied once the caller is here; the
# registration the expedited ones need is kept per process (a fork child and
# a new image start unregistered, as Linux's per-mm state).  The global
# commands would need every other host process to pass a barrier: they are
# left out, as Linux leaves them out on a nohz_full kernel, and so are the RSEQ
# ones (no rseq here).
MEMBARRIER_CMD_QUERY = 0
MB_PRIVATE_EXPEDITED, MB_REGISTER_PRIVATE_EXPEDITED = 8, 16
MB_PRIVATE_EXPEDITED_SYNC_CORE, MB_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 32, 64
MB_SUPPORTED = (MB_PRIVATE_EXPEDITED | MB_REGISTER_PRIVATE_EXPEDITED
                | MB_PRIVATE_EXPEDITED_SYNC_CORE | MB_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE)
_MB_NEEDS = {MB_PRIVATE_EXPEDITED: MB_REGISTER_PRIVATE_EXPEDITED,
             MB_PRIVATE_EXPEDITED_SYNC_CORE: MB_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE}
_mb_registered: dict[int, int] = {}     # host pid -> registration commands done
proc.exec_hooks.append(_mb_registered.clear)    # registrations belong to the mm: an execve drops them


@syscall("membarrier", "int, hex, int", level=PARTIAL,
         note="QUERY, the private expedited commands (plain and SYNC_CORE) and their registration; "
              "the global and RSEQ ones are EINVAL, as on a nohz_full kernel without rseq")
def sys_membarrier(cmd, flags, cpu_id):
    cmd = s32(cmd)
    if flags & 0xFFFFFFFF:
        return -lerrno.EINVAL          # MEMBARRIER_CMD_FLAG_CPU is for the RSEQ command only
    if cmd == MEMBARRIER_CMD_QUERY:
        return MB_SUPPORTED
    if cmd not in (MB_PRIVATE_EXPEDITED, MB_REGISTER_PRIVATE_EXPEDITED,
                   MB_PRIVATE_EXPEDITED_SYNC_CORE, MB_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE):
        return -lerrno.EINVAL
    pid = os.getpid()
    done = _mb_registered.get(pid, 0)
    if cmd in _MB_NEEDS:
        return 0 if done & _MB_NEEDS[cmd] else -lerrno.EPERM
    _mb_registered.clear()              # entries of a parent (we are its fork child) do not apply
    _mb_registered[pid] = done | cmd
    return 0
