"""SysV semaphores: semget, semop, semtimedop, semctl.

Semaphore sets live in the emulator tree's registry (runtime/ipctree.py):
values, the pid of the last operation on each semaphore, times, and the
processes waiting (for GETNCNT/GETZCNT: each waiter counts on the
semaphore whose operation blocked it, as Linux counts).  A semop applies
its whole operation array atomically (Linux's perform_atomic_semop: in
order, on a copy, all or nothing) under the registry's lock; when it would
block it registers as a waiter and waits for the state to change
(ipc_common.wait_change), then tries again.  A removed set wakes its
waiters with EIDRM.  SEM_UNDO adjustments are kept per pid in the registry
and applied when the process ends (by its exit hook, or by the next
transaction when it was killed), clamped to 0..SEMVMX as exit_sem does;
SETVAL/SETALL clear them, as Linux does.
"""
from __future__ import annotations

import itertools
import os
import struct
import time

from elfuse_py.runtime import ipctree, lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.ipc_common import (IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, PERM, S_IRUGO,
                                 S_IWUGO, by_index, ipcget, ipcperms, is_owner, make, max_idx,
                                 PARKED, pack_perm, set_perm, timeout_deadline, wait_change)
from elfuse_py.syscalls.table import syscall

# Linux's defaults (include/uapi/linux/sem.h).
SEMMNI, SEMMSL, SEMOPM, SEMVMX = 32000, 32000, 500, 32767
SEMMNS = SEMMNI * SEMMSL
SEMAEM, SEMUME, SEMMNU, SEMMAP, SEMUSZ = SEMVMX, SEMOPM, SEMMNS, SEMMNS, 20
SEM_UNDO = 0x1000
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20

SEMBUF = struct.Struct("<HhH")            # sem_num, sem_op, sem_flg
SEMID_DS = struct.Struct("<qqQQQ")         # after ipc64_perm: otime, ctime, nsems, 2 unused
SEMINFO = struct.Struct("<10i")
_tokens = itertools.count()
_parked_deadline: dict[int, tuple] = {}     # tid -> (the parked call, its deadline)
proc.exec_hooks.append(_parked_deadline.clear)  # an execve ends every parked thread


@syscall("semget", "int, int, hex", note="objects shared by the emulator tree's guests (runtime/ipctree.py)")
def sys_semget(key, nsems, semflg):
    key, nsems, flag = s32(key), s32(nsems), semflg & 0xFFFFFFFF
    if nsems < 0 or nsems > SEMMSL:
        return -lerrno.EINVAL

    def create() -> int:
        if not nsems:
            return -lerrno.EINVAL
        if sum(s["nsems"] for s in st["sem"].values()) + nsems > SEMMNS:
            return -lerrno.ENOSPC
        return make(st, "sem", key, flag, SEMMNI, nsems=nsems, vals=[0] * nsems,
                    pids=[0] * nsems, otime=0, wait={})
    with ipctree.locked() as st:
        return ipcget(st, "sem", key, flag, create,
                      lambda sem: -lerrno.EINVAL if nsems > sem["nsems"] else 0)


def _perform(sem: dict, ops: list, undo: dict) -> tuple[int, int | None]:
    """Try the operations on copies (perform_atomic_semop): (0, None) done (sem and
    undo updated), (-errno, None), or (1, index of the op that blocks)."""
    vals = list(sem["vals"])
    adj = dict(undo)
    for i, (num, op, flg) in enumerate(ops):
        cur = vals[num]
        if not op and cur:
            return (-lerrno.EAGAIN if flg & IPC_NOWAIT else 1), i
        result = cur + op
        if result < 0:
            return (-lerrno.EAGAIN if flg & IPC_NOWAIT else 1), i
        if result > SEMVMX:
            return -lerrno.ERANGE, None
        if flg & SEM_UNDO:
            u = adj.get(num, 0) - op
            if u < -SEMAEM - 1 or u > SEMAEM:
                return -lerrno.ERANGE, None
            adj[num] = u
        vals[num] = result
    sem["vals"] = vals
    undo.clear()
    undo.update({k: v for k, v in adj.items() if v})
    return 0, None


def _semtimedop(semid: int, sops: int, nsops: int, deadline_addr: int) -> int:
    semid, nsops = s32(semid), nsops & 0xFFFFFFFF
    if nsops < 1 or semid < 0:
        return -lerrno.EINVAL
    if nsops > SEMOPM:
        return -lerrno.E2BIG
    mem = proc.mem
    raw = mem.read(sops, SEMBUF.size * nsops)
    ops = [SEMBUF.unpack_from(raw, i * SEMBUF.size) for i in range(nsops)]
    try:
        deadline = timeout_deadline(mem, deadline_addr)
    except ValueError:
        return -lerrno.EINVAL
    # A parked call (several threads) is re-run from the start: it keeps its first deadline.
    call = (threads.gettid(), semid, sops, nsops, deadline_addr)
    parked = _parked_deadline.pop(call[0], None)
    if parked is not None and parked[0] == call:
        deadline = parked[1]
    top = max(o[0] for o in ops)
    alter = any(o[1] for o in ops)
    pid = os.getpid()
    token = None
    try:
        while True:
            with ipctree.locked() as st:
                sem = st["sem"].get(semid)
                if sem is None:
                    return -lerrno.EIDRM if token is not None else -lerrno.EINVAL
                if top >= sem["nsems"]:
                    return -lerrno.EFBIG
                if not ipcperms(sem, S_IWUGO if alter else S_IRUGO):
                    return -lerrno.EACCES
                undo = st["undo"].setdefault(pid, {}).setdefault(semid, {})
                r, blocker = _perform(sem, ops, undo)
                if r == 0:
                    for num, _op, _flg in ops:
                        sem["pids"][num] = pid
                    sem["otime"] = int(time.time())
                    if token is not None:
                        sem["wait"].pop(token, None)
                        token = None
                    _tidy_undo(st, pid, semid)
                    st.dirty = True
                    return 0
                _tidy_undo(st, pid, semid)
                if r < 0:
                    return r
                num, op, _ = ops[blocker]
                if token is None:
                    token = f"{pid}:{next(_tokens)}"
                sem["wait"][token] = (pid, num, op == 0)
                st.dirty = True
            seen = ipctree.version()
            res = wait_change(seen, deadline, semid, _dropper(semid, token),
                              lambda: _timed_out(call[0]))
            if res is PARKED:
                token = None                  # still counted while parked: the park's cleanup drops it
                _parked_deadline[call[0]] = (call, deadline)
                return None
            if res is not None:
                return res
    finally:
        if token is not None:
            _drop_waiter(semid, token)


def _tidy_undo(st, pid: int, semid: int) -> None:
    """No empty undo records are kept (setdefault made them for the attempt)."""
    per = st["undo"].get(pid)
    if per is not None:
        if not per.get(semid, True):
            del per[semid]
        if not per:
            del st["undo"][pid]


def _timed_out(tid: int) -> int:
    _parked_deadline.pop(tid, None)
    return -lerrno.EAGAIN


def _dropper(semid: int, token: str):
    return lambda: _drop_waiter(semid, token)


def _drop_waiter(semid: int, token: str) -> None:
    with ipctree.locked() as st:
        sem = st["sem"].get(semid)
        if sem is not None and sem["wait"].pop(token, None) is not None:
            st.dirty = True


@syscall("semop", "int, ptr, uint", interruptible=True, restart=False,
         note="a blocked call re-checks the registry every <= 10 ms; SEM_UNDO applied at exit")
def sys_semop(semid, sops, nsops):
    return _semtimedop(semid, sops, nsops, 0)


@syscall("semtimedop", "int, ptr, uint, ptr", interruptible=True, restart=False,
         note="as semop, with its relative timeout (EAGAIN)")
def sys_semtimedop(semid, sops, nsops, timeout):
    return _semtimedop(semid, sops, nsops, timeout)


def _stat_bytes(sem: dict) -> bytes:
    return pack_perm(sem) + SEMID_DS.pack(sem["otime"], sem["ctime"], sem["nsems"], 0, 0)


def _info(st, cmd: int, arg: int) -> int:
    if cmd == IPC_INFO:
        usz, aem = SEMUSZ, SEMAEM
    else:
        usz, aem = len(st["sem"]), sum(s["nsems"] for s in st["sem"].values())
    proc.mem.write(arg, SEMINFO.pack(SEMMAP, SEMMNI, SEMMNS, SEMMNU, SEMMSL, SEMOPM, SEMUME,
                                     usz, SEMVMX, aem))
    return max_idx(st, "sem")


def _clear_adj(st, semid: int, num: int | None) -> None:
    """SETVAL (one semaphore) / SETALL (all): every process's adjustment is cleared."""
    for pid in list(st["undo"]):
        per = st["undo"][pid].get(semid)
        if per is None:
            continue
        if num is None:
            per.clear()
        else:
            per.pop(num, None)
        _tidy_undo(st, pid, semid)


def _counts(sem: dict, num: int, zero: bool) -> int:
    return sum(1 for _pid, n, z in sem["wait"].values() if n == num and z == zero)


@syscall("semctl", "int, int, int, hex",
         note="every command of Linux 6.x (GET*/SET*, IPC_*, SEM_INFO/STAT/STAT_ANY)")
def sys_semctl(semid, semnum, cmd, arg):
    semid, semnum, cmd = s32(semid), s32(semnum), s32(cmd)
    if semid < 0:
        return -lerrno.EINVAL
    mem = proc.mem
    if cmd == SETVAL:
        val = s32(arg)
        if val > SEMVMX or val < 0:
            return -lerrno.ERANGE
    raw = mem.read(arg, PERM.size) if cmd == IPC_SET else b""
    with ipctree.locked() as st:
        if cmd in (IPC_INFO, SEM_INFO):
            return _info(st, cmd, arg)
        if cmd in (SEM_STAT, SEM_STAT_ANY):
            found = by_index(st, "sem", semid)
            if found is None:
                return -lerrno.EINVAL
            ident, sem = found
            if cmd == SEM_STAT and not ipcperms(sem, S_IRUGO):
                return -lerrno.EACCES
            mem.write(arg, _stat_bytes(sem))
            return ident
        if cmd not in _CMDS:
            return -lerrno.EINVAL
        sem = st["sem"].get(semid)
        if sem is None:
            return -lerrno.EINVAL
        if cmd in (IPC_SET, IPC_RMID):
            if not is_owner(sem):
                return -lerrno.EPERM
            st.dirty = True
            if cmd == IPC_SET:
                return set_perm(sem, raw)
            del st["sem"][semid]
            for pid in list(st["undo"]):
                st["undo"][pid].pop(semid, None)
                _tidy_undo(st, pid, semid)
            return 0
        write = cmd in (SETVAL, SETALL)
        if cmd == SETVAL and not 0 <= semnum < sem["nsems"]:
            return -lerrno.EINVAL             # semctl_setval checks the number first
        if not ipcperms(sem, S_IWUGO if write else S_IRUGO):
            return -lerrno.EACCES
        n = sem["nsems"]
        if cmd == IPC_STAT:
            mem.write(arg, _stat_bytes(sem))
            return 0
        if cmd == GETALL:
            mem.write(arg, struct.pack(f"<{n}H", *sem["vals"]))
            return 0
        if cmd == SETALL:
            vals = list(struct.unpack(f"<{n}H", mem.read(arg, 2 * n)))
            if any(v > SEMVMX for v in vals):
                return -lerrno.ERANGE
            sem["vals"], sem["pids"] = vals, [os.getpid()] * n
            _clear_adj(st, semid, None)
        else:
            if not 0 <= semnum < n:
                return -lerrno.EINVAL
            if cmd == GETVAL:
                return sem["vals"][semnum]
            if cmd == GETPID:
                return sem["pids"][semnum]
            if cmd in (GETNCNT, GETZCNT):
                return _counts(sem, semnum, cmd == GETZCNT)
            sem["vals"][semnum], sem["pids"][semnum] = val, os.getpid()
            _clear_adj(st, semid, semnum)
        sem["ctime"] = int(time.time())
        st.dirty = True
        return 0


_CMDS = frozenset((IPC_STAT, IPC_SET, IPC_RMID, GETPID, GETVAL, GETALL, GETNCNT, GETZCNT,
                   SETVAL, SETALL))
