"""Scheduling priority and policy syscalls: getpriority/setpriority and sched_*.

Policies and `which` values are translated by name through the os module.
The priority ranges (sched_get_priority_min/max) are properties of the Linux
ABI the guest targets, so they are Linux's own numbers.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from syscalls.args import s32
from syscalls.table import PARTIAL, syscall
from syscalls import hostgaps

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
    if policy is not None:
        base = policy & ~SCHED_RESET_ON_FORK
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
