"""Scheduling priority and policy syscalls: getpriority/setpriority and sched_*.

Policies and `which` values are translated by name through the os module.
The priority ranges (sched_get_priority_min/max) are properties of the Linux
ABI the guest targets, so they are Linux's own numbers.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import PARTIAL, syscall
from elfuse_py.syscalls import hostgaps

SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE = 0, 1, 2, 3, 5
_PRIO_MAX = {SCHED_OTHER: 0, SCHED_BATCH: 0, SCHED_IDLE: 0, SCHED_FIFO: 99, SCHED_RR: 99}
_PRIO_MIN = {SCHED_OTHER: 0, SCHED_BATCH: 0, SCHED_IDLE: 0, SCHED_FIFO: 1, SCHED_RR: 1}

# Linux policy -> host policy, by name (hosts without one of them leave it out).
_POLICY_NAMES = {SCHED_OTHER: "SCHED_OTHER", SCHED_FIFO: "SCHED_FIFO", SCHED_RR: "SCHED_RR",
                 SCHED_BATCH: "SCHED_BATCH", SCHED_IDLE: "SCHED_IDLE"}
TO_HOST_POLICY = {lin: getattr(os, name) for lin, name in _POLICY_NAMES.items() if hasattr(os, name)}
FROM_HOST_POLICY = {host: lin for lin, host in TO_HOST_POLICY.items()}
SCHED_RESET_ON_FORK = 0x40000000

_WHICH = {0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"}
TO_HOST_WHICH = {lin: getattr(os, name) for lin, name in _WHICH.items() if hasattr(os, name)}

_INT = struct.Struct("<i")
_TIMESPEC = struct.Struct("<qq")


def _pid(pid: int) -> int:
    pid = s32(pid)
    if pid < 0:
        raise OSError(22, "negative pid")
    return pid


def _exists(pid: int) -> None:
    """ESRCH unless `pid` (0: ourselves) names a process."""
    if pid:
        os.kill(pid, 0)


@syscall("getpriority", "int, int")
def sys_getpriority(which, who):
    host_which = TO_HOST_WHICH.get(s32(which))
    if host_which is None:
        return -lerrno.EINVAL
    # The raw syscall returns 20 - nice (1..40) so that it is never negative.
    return 20 - os.getpriority(host_which, s32(who))


@syscall("setpriority", "int, int, int")
def sys_setpriority(which, who, niceval):
    host_which = TO_HOST_WHICH.get(s32(which))
    if host_which is None:
        return -lerrno.EINVAL
    os.setpriority(host_which, s32(who), min(max(s32(niceval), -20), 19))
    return 0


@syscall("sched_get_priority_max", "int")
def sys_sched_get_priority_max(policy):
    return _PRIO_MAX.get(s32(policy), -lerrno.EINVAL)


@syscall("sched_get_priority_min", "int")
def sys_sched_get_priority_min(policy):
    return _PRIO_MIN.get(s32(policy), -lerrno.EINVAL)


@syscall("sched_getscheduler", "int", level=PARTIAL,
         note="hosts without sched_getscheduler (macOS) report SCHED_OTHER, their only user policy")
def sys_sched_getscheduler(pid):
    pid = _pid(pid)
    if hasattr(os, "sched_getscheduler"):
        host = os.sched_getscheduler(pid)
        return FROM_HOST_POLICY.get(host & ~SCHED_RESET_ON_FORK, SCHED_OTHER)
    _exists(pid)
    return SCHED_OTHER


@syscall("sched_getparam", "int, ptr")
def sys_sched_getparam(pid, param):
    pid = _pid(pid)
    if param == 0:
        return -lerrno.EINVAL
    if hasattr(os, "sched_getparam"):
        prio = os.sched_getparam(pid).sched_priority
    else:
        _exists(pid)
        prio = 0
    proc.mem.pack(_INT, param, prio)
    return 0


def _set(pid: int, policy: int | None, param: int) -> int:
    pid = _pid(pid)
    if param == 0:
        return -lerrno.EINVAL
    (prio,) = proc.mem.unpack(_INT, param)
    # sched_setparam keeps the current policy: its priority range applies.
    base = (policy if policy is not None else sys_sched_getscheduler(pid)) & ~SCHED_RESET_ON_FORK
    if base not in _PRIO_MAX:
        return -lerrno.EINVAL
    if not _PRIO_MIN[base] <= prio <= _PRIO_MAX[base]:
        return -lerrno.EINVAL
    if policy is not None and hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(pid, TO_HOST_POLICY[policy & ~SCHED_RESET_ON_FORK],
                              os.sched_param(prio))
        return 0
    if policy is None and hasattr(os, "sched_setparam"):
        os.sched_setparam(pid, os.sched_param(prio))
        return 0
    # No host interface: only "stay a normal time-shared process" can be honoured.
    _exists(pid)
    if prio != 0 or (policy is not None and policy & ~SCHED_RESET_ON_FORK != SCHED_OTHER):
        return -lerrno.EPERM
    return 0


@syscall("sched_setscheduler", "int, int, ptr")
def sys_sched_setscheduler(pid, policy, param):
    return _set(pid, s32(policy), param)


@syscall("sched_setparam", "int, ptr")
def sys_sched_setparam(pid, param):
    return _set(pid, None, param)


@syscall("sched_rr_get_interval", "int, ptr", level=PARTIAL,
         note="ENOSYS on hosts without sched_rr_get_interval (macOS)")
def sys_sched_rr_get_interval(pid, tp):
    pid = _pid(pid)
    if not hasattr(os, "sched_rr_get_interval"):
        return hostgaps.missing("sched_rr_get_interval")
    secs = os.sched_rr_get_interval(pid)
    ns = int(round(secs * 1e9))
    proc.mem.pack(_TIMESPEC, tp, ns // 1_000_000_000, ns % 1_000_000_000)
    return 0


# ----- sched_setattr / sched_getattr ----------------------------------------------------
# struct sched_attr: size, policy, flags, nice, priority, then the deadline
# (runtime, deadline, period) and utilisation-clamp fields.
_ATTR = struct.Struct("<IIQiIQQQII")
SCHED_ATTR_SIZE_VER0, SCHED_ATTR_SIZE = 48, _ATTR.size       # 48, 56
SCHED_DEADLINE = 6
SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_KEEP_POLICY, SCHED_FLAG_KEEP_PARAMS = 0x1, 0x8, 0x10
SCHED_FLAG_UTIL_CLAMP = 0x20 | 0x40
SCHED_FLAG_ALL = 0x7F
SCHED_CAPACITY_SCALE = 1024
PAGE = 4096


def _nice(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


@syscall("sched_getattr", "int, ptr, uint, hex", level=PARTIAL,
         note="policy, nice, priority and reset-on-fork from the host; no deadline parameters; "
              "utilisation clamps are the defaults (0, 1024)")
def sys_sched_getattr(pid, attr, size, flags):
    pid = s32(pid)
    size &= 0xFFFFFFFF
    if attr == 0 or pid < 0 or flags & 0xFFFFFFFF or not SCHED_ATTR_SIZE_VER0 <= size <= PAGE:
        return -lerrno.EINVAL
    policy = sys_sched_getscheduler(pid)
    if policy < 0:
        return policy
    raw = os.sched_getscheduler(pid) if hasattr(os, "sched_getscheduler") else 0
    prio = os.sched_getparam(pid).sched_priority if hasattr(os, "sched_getparam") else 0
    out_size = min(size, SCHED_ATTR_SIZE)
    data = _ATTR.pack(out_size, policy, SCHED_FLAG_RESET_ON_FORK if raw & SCHED_RESET_ON_FORK else 0,
                      _nice(pid), prio, 0, 0, 0, 0, SCHED_CAPACITY_SCALE)
    proc.mem.write(attr, data[:out_size])
    return 0


@syscall("sched_setattr", "int, ptr, hex", level=PARTIAL,
         note="the normal and real-time policies go to the host; SCHED_DEADLINE is EPERM "
              "(no admission control here); utilisation clamps are checked, not applied")
def sys_sched_setattr(pid, attr, flags):
    pid = s32(pid)
    if attr == 0 or pid < 0 or flags & 0xFFFFFFFF:
        return -lerrno.EINVAL
    size = proc.mem.u32(attr)
    if size == 0:
        size = SCHED_ATTR_SIZE_VER0
    if size < SCHED_ATTR_SIZE_VER0 or size > PAGE or (
            size > SCHED_ATTR_SIZE and any(proc.mem.read(attr + SCHED_ATTR_SIZE, size - SCHED_ATTR_SIZE))):
        proc.mem.put_u32(attr, SCHED_ATTR_SIZE)      # Linux tells the caller the size it knows
        return -lerrno.E2BIG
    raw = proc.mem.read(attr, min(size, SCHED_ATTR_SIZE)).ljust(SCHED_ATTR_SIZE, b"\0")
    _, policy, sflags, nice, prio, _rt, _dl, _per, umin, umax = _ATTR.unpack(raw)
    if policy & 0x80000000 or sflags & ~SCHED_FLAG_ALL:
        return -lerrno.EINVAL
    if sflags & SCHED_FLAG_UTIL_CLAMP and (umin > SCHED_CAPACITY_SCALE or umax > SCHED_CAPACITY_SCALE
                                          or size < SCHED_ATTR_SIZE):
        return -lerrno.EINVAL
    _exists(pid)
    if sflags & SCHED_FLAG_KEEP_POLICY:
        policy = sys_sched_getscheduler(pid)
    if policy == SCHED_DEADLINE:
        return -lerrno.EPERM
    if policy not in _PRIO_MAX or not _PRIO_MIN[policy] <= prio <= _PRIO_MAX[policy]:
        return -lerrno.EINVAL
    if sflags & SCHED_FLAG_KEEP_PARAMS:
        prio = os.sched_getparam(pid).sched_priority if hasattr(os, "sched_getparam") else 0
    if policy in (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE):
        os.setpriority(os.PRIO_PROCESS, pid, min(max(nice, -20), 19))
    if policy != sys_sched_getscheduler(pid) or prio:
        full = policy | (SCHED_RESET_ON_FORK if sflags & SCHED_FLAG_RESET_ON_FORK else 0)
        return _set_policy(pid, full, prio)
    return 0


def _set_policy(pid: int, policy: int, prio: int) -> int:
    """sched_setscheduler's host half for an already checked policy and priority."""
    base = policy & ~SCHED_RESET_ON_FORK
    if hasattr(os, "sched_setscheduler") and base in TO_HOST_POLICY:
        os.sched_setscheduler(pid, TO_HOST_POLICY[base], os.sched_param(prio))
        return 0
    if prio != 0 or base != SCHED_OTHER:
        return -lerrno.EPERM
    return 0


# ----- I/O priorities ------------------------------------------------------------------
# The emulator keeps the calling process's I/O priority (the host has no
# portable equivalent); Linux 6.x reports IOPRIO_CLASS_NONE, 0 until one is set.
IOPRIO_CLASS_NONE, IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE = 0, 1, 2, 3
IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP, IOPRIO_WHO_USER = 1, 2, 3
# This process's I/O priority as it set it; a fork child inherits it, as on Linux.
_ioprio = 0


def _ioprio_target(which: int, who: int) -> int | None:
    """The host pid an ioprio call names when it is this process, None for another one; EINVAL/ESRCH raised."""
    if which not in (IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP, IOPRIO_WHO_USER):
        raise OSError(22, "bad which")
    me = os.getpid()
    if which == IOPRIO_WHO_PROCESS:
        if who in (0, me, threads.gettid()):
            return me
        os.kill(who, 0)                  # ESRCH for no such process
        return None
    if which == IOPRIO_WHO_PGRP:
        if who in (0, os.getpgrp()):
            return me
        os.killpg(who, 0)
        return None
    return me if who in (0, os.getuid()) else None


@syscall("ioprio_get", "int, int", level=PARTIAL,
         note="this process's priority as it set it (Linux 6.x's IOPRIO_CLASS_NONE before); others report the default")
def sys_ioprio_get(which, who):
    me = _ioprio_target(s32(which), s32(who))
    return _ioprio if me is not None else 0


@syscall("ioprio_set", "int, int, int", level=PARTIAL,
         note="checked as Linux (RT class needs euid 0); kept for this process, EPERM for another one")
def sys_ioprio_set(which, who, ioprio):
    global _ioprio
    ioprio &= 0xFFFF
    cls, data = ioprio >> 13, ioprio & 0x1FFF
    if cls == IOPRIO_CLASS_RT and os.geteuid() != 0:
        return -lerrno.EPERM
    if cls in (IOPRIO_CLASS_RT, IOPRIO_CLASS_BE):
        if data >= 8:
            return -lerrno.EINVAL
    elif cls == IOPRIO_CLASS_IDLE:
        pass
    elif cls == IOPRIO_CLASS_NONE:
        if data:
            return -lerrno.EINVAL
    else:
        return -lerrno.EINVAL
    me = _ioprio_target(s32(which), s32(who))
    if me is None:
        return -lerrno.EPERM

    _ioprio = ioprio
    return 0
