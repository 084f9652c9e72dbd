"""Priority-inheritance futexes and robust-list cleanup (kernel/futex/pi.c, core.c).

The futex word holds the owner's TID (FUTEX_TID_MASK), FUTEX_WAITERS when
someone waits in the kernel, and FUTEX_OWNER_DIED when the owner died
holding it.  Guest threads run one at a time, so each step below is atomic
for the threads of this process:

- FUTEX_LOCK_PI / LOCK_PI2 / TRYLOCK_PI: a free word (TID 0) is taken
  (keeping OWNER_DIED); our own TID is EDEADLK; an owner that does not exist
  is ESRCH; else (not for TRYLOCK: EAGAIN) FUTEX_WAITERS is set and the
  thread waits.  If the owner is a thread of this process the waiter is
  parked and the unlock *hands it the lock* (threads.grant), as Linux's
  rt-mutex does, so no other thread can steal it in between; an owner in
  another process (a shared futex) is watched instead: the wait re-checks the
  word every few ms and retries once the owner let go or died.
- FUTEX_UNLOCK_PI: EPERM unless the word holds our TID; the first waiter of
  this process gets the word `its TID | FUTEX_WAITERS` (Linux always leaves
  the bit set after a hand-over), else the word becomes 0.
- Thread exit (threads.exit_thread's hook) and process exit (exit_group)
  walk the robust list the thread registered (set_robust_list: per thread)
  as exit_robust_list does: a word still holding the dying TID becomes
  `FUTEX_WAITERS bit | FUTEX_OWNER_DIED`; a non-PI waiter is woken, a PI
  waiter is handed the lock with OWNER_DIED kept (glibc then says
  EOWNERDEAD).  PI futexes it still owned that were not on the robust list
  go to their waiters too (exit_pi_state_list), without OWNER_DIED.

Not done: priorities (waiters are served first come first, which is what
equal-priority SCHED_OTHER threads get), FUTEX_WAIT_REQUEUE_PI and
FUTEX_CMP_REQUEUE_PI (ENOSYS: glibc's condition variables do not use them
since 2.25), and Linux's restart of an interrupted LOCK_PI: a signal ends the
wait with EINTR.  The owner of a shared PI futex in another process is
known only by its pid (its main thread).
"""
from __future__ import annotations

import os
import struct
import time as _time

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048
POLL = 0.005                          # s between looks at another process's PI futex
_HEAD = struct.Struct("<QqQ")         # robust_list_head: next, futex_offset, list_op_pending

# The owner each PI futex with parked waiters had when they attached (Linux's
# pi_state->owner): the word alone is not enough, since a libc may rewrite it
# (musl's pthread_exit swaps a held robust mutex's word to FUTEX_OWNER_DIED
# before the kernel hands the lock over).
_owner: dict[int, int] = {}
proc.exec_hooks.append(_owner.clear)        # an execve: the old image's futexes and waiters are gone


def _alive(tid: int) -> bool:
    """Whether `tid` names a live thread: ours, or another process (its main thread)."""
    if threads.find(tid) is not None or tid == threads.gettid():
        return True
    if tid >= threads.TID_BASE:
        return False
    try:
        os.kill(tid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock(uaddr: int, deadline: int | None, trylock: bool) -> int | None:
    """FUTEX_LOCK_PI(2) / FUTEX_TRYLOCK_PI: 0 when the lock is ours, -errno, or None (parked)."""
    mem = proc.mem
    mem.check(uaddr, 4, 3)
    me = threads.gettid()
    val = mem.u32(uaddr)
    owner = val & FUTEX_TID_MASK
    if owner == me:
        return -lerrno.EDEADLK
    if owner == 0:
        keep = val & FUTEX_OWNER_DIED
        if threads.pi_waiters(uaddr):
            keep |= FUTEX_WAITERS
        mem.put_u32(uaddr, me | keep)
        return 0
    if not _alive(owner):
        return -lerrno.ESRCH
    if trylock:
        return -lerrno.EAGAIN
    mem.put_u32(uaddr, val | FUTEX_WAITERS)
    if threads.find(owner) is not None and threads.multi():
        _owner[uaddr] = owner
        return threads.futex_wait_pi(uaddr, deadline)
    return _watch(uaddr, owner, deadline)


def _free_or_orphaned(uaddr: int, owner: int) -> bool:
    val = proc.mem.u32(uaddr)
    return (val & FUTEX_TID_MASK) != owner or not _alive(owner)


def _watch(uaddr: int, owner: int, deadline: int | None) -> int | None:
    """Wait for an owner in another process to let go (or die), then take the lock."""
    if threads.multi():
        def timed_out() -> int:
            return -lerrno.ETIMEDOUT
        return threads.wait_fds({}, deadline, uaddr, on_timeout=timed_out,
                                check=lambda: _free_or_orphaned(uaddr, owner))
    while True:
        if _free_or_orphaned(uaddr, owner):
            break
        left = None if deadline is None else (deadline - _time.monotonic_ns()) / 1e9
        if left is not None and left <= 0:
            return -lerrno.ETIMEDOUT
        _time.sleep(POLL if left is None else min(POLL, left))   # InterruptedError -> -EINTR
    val = proc.mem.u32(uaddr)
    if (val & FUTEX_TID_MASK) == owner:   # died holding it: the waiter inherits it
        proc.mem.put_u32(uaddr, threads.gettid() | (val & FUTEX_OWNER_DIED))
        return 0
    return lock(uaddr, deadline, False)


def unlock(uaddr: int) -> int:
    """FUTEX_UNLOCK_PI."""
    mem = proc.mem
    mem.check(uaddr, 4, 3)
    val = mem.u32(uaddr)
    if (val & FUTEX_TID_MASK) != threads.gettid():
        return -lerrno.EPERM
    if not _hand_over(uaddr, 0):
        mem.put_u32(uaddr, 0)
    return 0


def _hand_over(uaddr: int, keep: int) -> bool:
    """Give the lock to the first PI waiter of this process (True), if there is one."""
    waiting = threads.pi_waiters(uaddr)
    if not waiting:
        _owner.pop(uaddr, None)
        return False
    t = waiting[0]
    proc.mem.put_u32(uaddr, t.tid | FUTEX_WAITERS | keep)
    threads.grant(t)
    if len(waiting) > 1:
        _owner[uaddr] = t.tid
    else:
        _owner.pop(uaddr, None)
    return True


# ----- owner death ------------------------------------------------------------------------

def _death(uaddr: int, tid: int, pi: bool, pending: bool) -> None:
    """handle_futex_death for one robust futex of the dying thread `tid`."""
    if uaddr & 3:
        return
    mem = proc.mem
    try:
        val = mem.u32(uaddr)
    except Exception:  # noqa: BLE001 - an unmapped entry: Linux stops quietly too
        return
    if pending and not pi and val == 0:
        threads.wake(uaddr, 1, threads.FUTEX_BITSET_ANY)
        return
    if (val & FUTEX_TID_MASK) != tid:
        return
    mem.put_u32(uaddr, (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    if pi:
        _hand_over(uaddr, FUTEX_OWNER_DIED)
    elif val & FUTEX_WAITERS:
        threads.wake(uaddr, 1, threads.FUTEX_BITSET_ANY)


def robust_exit(tid: int) -> None:
    """exit_robust_list, then exit_pi_state_list, for the exiting thread `tid`."""
    head = proc.threads.robust.get(tid)
    if head:
        _walk(head, tid)
    for uaddr in list(proc.threads.waiters):
        if threads.pi_waiters(uaddr):
            try:
                val = proc.mem.u32(uaddr)
            except Exception:  # noqa: BLE001
                continue
            held = val & FUTEX_TID_MASK
            if held == tid or (held == 0 and _owner.get(uaddr) == tid):
                _hand_over(uaddr, val & FUTEX_OWNER_DIED)


def _walk(head: int, tid: int) -> None:
    mem = proc.mem
    try:
        nxt, offset, pending = mem.unpack(_HEAD, head)
    except Exception:  # noqa: BLE001 - a bad head: nothing to do, as Linux
        return
    entry = nxt
    for _ in range(ROBUST_LIST_LIMIT):
        if entry & ~1 == head or not entry & ~1:
            break
        try:
            following = mem.u64(entry & ~1)
        except Exception:  # noqa: BLE001
            break
        if entry & ~1 != pending & ~1:
            _death(((entry & ~1) + offset) & (1 << 64) - 1, tid, bool(entry & 1), False)
        entry = following
    if pending & ~1:
        _death(((pending & ~1) + offset) & (1 << 64) - 1, tid, bool(pending & 1), True)


def process_exit() -> None:
    """exit_group: every thread of the process dies; each robust list is walked."""
    tids = set(proc.threads.live) or {threads.gettid()}
    for tid in tids:
        robust_exit(tid)


proc.threads.on_exit.append(robust_exit)
