"""futex(2): wait queues on guest words, for libc locks, condvars, joins and once.

With one guest thread a FUTEX_WAIT whose value matches can only end by a
timeout or a signal (or, for a non-private futex, another process changing
the word: such waits re-check the word periodically and return 0, a
spurious wake-up every futex user tolerates), so the handler sleeps on the
host.  With several threads the wait parks the thread in elfuse_py.runtime.threads
and the scheduler runs another one.

The PI commands (LOCK_PI, LOCK_PI2, TRYLOCK_PI, UNLOCK_PI) are syscalls/futex_pi.py's;
futex_waitv (a wait on up to 128 words, woken by any) is here.
"""
from __future__ import annotations

import struct
import time as _time

from elfuse_py.runtime import lerrno, signals, threads
from elfuse_py.runtime.memory import GuestFault
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import futex_pi
from elfuse_py.syscalls.args import FOREVER_SEC
from elfuse_py.syscalls.table import PARTIAL, syscall

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP = 0, 1, 2, 3, 4, 5
FUTEX_LOCK_PI, FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI = 6, 7, 8
FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI = 9, 10, 11, 12
FUTEX_LOCK_PI2 = 13
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
# Commands that accept FUTEX_CLOCK_REALTIME (futex_cmd_has_timeout + clockrt check).
_CLOCKRT_OK = {FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2}

_TS = struct.Struct("<qq")
NSEC = 1_000_000_000
_U32 = 0xFFFFFFFF
SHARED_POLL_MIN, SHARED_POLL_MAX = 0.001, 0.05   # seconds between re-checks of a shared word


def _timeout(addr: int, absolute: bool, realtime: bool) -> int | None:
    """The deadline as CLOCK_MONOTONIC ns, None without a timeout; raises ValueError on EINVAL."""
    if not addr:
        return None
    sec, nsec = proc.mem.unpack(_TS, addr)
    if sec < 0 or not 0 <= nsec < NSEC:
        raise ValueError
    if sec >= FOREVER_SEC:
        return None                 # never ends in practice (see syscalls/args.py)
    ns = sec * NSEC + nsec
    now = _time.monotonic_ns()
    if not absolute:
        return now + ns
    if realtime:
        return now + (ns - _time.clock_gettime_ns(_time.CLOCK_REALTIME))
    return ns


def _wait(uaddr: int, val: int, deadline: int | None, bitset: int, private: bool) -> int | None:
    if bitset == 0:
        return -lerrno.EINVAL
    if proc.mem.u32(uaddr) != val:
        return -lerrno.EAGAIN
    if threads.multi():
        return threads.futex_wait(uaddr, bitset, deadline, None if private else val)
    return _wait_alone(uaddr, val, deadline, private)


def _wait_alone(uaddr: int, val: int, deadline: int | None, private: bool) -> int:
    """The only thread waits: nothing in this process can wake it but a signal or the timeout.

    A guest signal's host handler raises InterruptedError here (futex is an
    interruptible syscall for the signals layer): the result is -EINTR.
    """
    poll = SHARED_POLL_MIN
    while True:
        left = None if deadline is None else (deadline - _time.monotonic_ns()) / NSEC
        if left is not None and left <= 0:
            return -lerrno.ETIMEDOUT
        if signals.interrupt_pending():
            return -lerrno.EINTR      # a signal came before the host sleep began
        if private:
            # (in steps: a signal whose host handler ran just before the sleep
            # began interrupts nothing, and is seen at the next step)
            step = 0.1 if left is None else min(left, 0.1)
        else:
            step = poll if left is None else min(poll, left)
            poll = min(poll * 2, SHARED_POLL_MAX)
        _time.sleep(step)                     # InterruptedError -> -EINTR (hook)
        if not private and proc.mem.u32(uaddr) != val:
            return 0


signals.register_interruptible(_wait_alone)


def _nr(v: int) -> int:
    """A wake count: Linux's loop wakes at least one waiter even for 0 or a negative count."""
    return v if 0 < v < 0x80000000 else 1


def _sext12(v: int) -> int:
    v &= 0xFFF
    return v - 0x1000 if v & 0x800 else v


_OPS = {
    0: lambda old, arg: arg,                  # FUTEX_OP_SET
    1: lambda old, arg: old + arg,            # FUTEX_OP_ADD
    2: lambda old, arg: old | arg,            # FUTEX_OP_OR
    3: lambda old, arg: old & ~arg,           # FUTEX_OP_ANDN
    4: lambda old, arg: old ^ arg,            # FUTEX_OP_XOR
}
_CMPS = {
    0: lambda a, b: a == b, 1: lambda a, b: a != b, 2: lambda a, b: a < b,
    3: lambda a, b: a <= b, 4: lambda a, b: a > b, 5: lambda a, b: a >= b,
}


def _wake_op(uaddr: int, n: int, n2: int, uaddr2: int, val3: int) -> int:
    op = (val3 >> 28) & 7
    cmp = (val3 >> 24) & 15
    oparg = _sext12(val3 >> 12)
    cmparg = _sext12(val3)
    if (val3 >> 28) & 8:                      # FUTEX_OP_OPARG_SHIFT
        oparg = 1 << (oparg & 31)             # out-of-range shifts are masked, as Linux
    if op not in _OPS:
        return -lerrno.ENOSYS
    mem = proc.mem
    mem.check(uaddr2, 4, 3)                   # read and written: EFAULT if not writable
    old = mem.u32(uaddr2)
    mem.put_u32(uaddr2, _OPS[op](old, oparg) & _U32)
    if cmp not in _CMPS:
        # futex_atomic_op_inuser judges the comparison after the modify: the word
        # keeps it, and nobody is woken.
        return -lerrno.ENOSYS
    woken = threads.wake(uaddr, n, threads.FUTEX_BITSET_ANY)
    s_old = old - (1 << 32) if old & 0x80000000 else old
    if _CMPS[cmp](s_old, cmparg):
        woken += threads.wake(uaddr2, n2, threads.FUTEX_BITSET_ANY)
    return woken


@syscall("futex", "ptr, hex, uint, ptr, ptr, uint", level=PARTIAL,
         note="PI futexes without priorities or REQUEUE_PI (ENOSYS); shared futexes across "
              "processes are polled", interruptible=True)
def sys_futex(uaddr, op, val, utime, uaddr2, val3):
    op &= _U32
    val &= _U32
    val3 &= _U32
    cmd = op & FUTEX_CMD_MASK & _U32
    private = bool(op & FUTEX_PRIVATE_FLAG)
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    if realtime and cmd not in _CLOCKRT_OK:
        return -lerrno.ENOSYS
    if uaddr & 3:
        return -lerrno.EINVAL
    if cmd in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        try:
            deadline = _timeout(utime, cmd == FUTEX_WAIT_BITSET, realtime)
        except ValueError:
            return -lerrno.EINVAL
        bitset = threads.FUTEX_BITSET_ANY if cmd == FUTEX_WAIT else val3
        return _wait(uaddr, val, deadline, bitset, private)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        bitset = threads.FUTEX_BITSET_ANY if cmd == FUTEX_WAKE else val3
        if bitset == 0:
            return -lerrno.EINVAL
        return threads.wake(uaddr, _nr(val), bitset)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        n_wake, n_requeue = val, utime & _U32
        if n_wake >= 0x80000000 or n_requeue >= 0x80000000:
            return -lerrno.EINVAL
        if uaddr2 & 3:
            return -lerrno.EINVAL
        if cmd == FUTEX_CMP_REQUEUE:
            proc.mem.u32(uaddr2)              # EFAULT first, as get_futex_key would
            if proc.mem.u32(uaddr) != val3:
                return -lerrno.EAGAIN
        # Like Linux, both forms count the woken and the requeued waiters.
        return threads.requeue(uaddr, uaddr2, n_wake, n_requeue)
    if cmd == FUTEX_WAKE_OP:
        if uaddr2 & 3:
            return -lerrno.EINVAL
        return _wake_op(uaddr, _nr(val), _nr(utime & _U32), uaddr2, val3)
    if cmd in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_TRYLOCK_PI):
        deadline = None
        if cmd != FUTEX_TRYLOCK_PI:
            try:
                # LOCK_PI's timeout is absolute CLOCK_REALTIME; LOCK_PI2's CLOCK_MONOTONIC
                # unless FUTEX_CLOCK_REALTIME says otherwise.
                deadline = _timeout(utime, True, realtime or cmd == FUTEX_LOCK_PI)
            except ValueError:
                return -lerrno.EINVAL
        return futex_pi.lock(uaddr, deadline, cmd == FUTEX_TRYLOCK_PI)
    if cmd == FUTEX_UNLOCK_PI:
        return futex_pi.unlock(uaddr)
    # FUTEX_FD (removed in 2.6.26), FUTEX_WAIT_REQUEUE_PI/CMP_REQUEUE_PI and unknown commands.
    return -lerrno.ENOSYS


# ----- futex_waitv ----------------------------------------------------------------------

FUTEX_WAITV_MAX = 128
FUTEX2_SIZE_U32, FUTEX2_SIZE_MASK, FUTEX2_NUMA, FUTEX2_PRIVATE = 0x02, 0x03, 0x04, 128
_WAITV = struct.Struct("<QQII")        # val, uaddr, flags, __reserved
_CLOCK_REALTIME, _CLOCK_MONOTONIC = 0, 1


@syscall("futex_waitv", "ptr, uint, hex, ptr, clockid", level=PARTIAL,
         note="32-bit futexes; with several threads only wakes from this process end a wait",
         interruptible=True)
def sys_futex_waitv(waiters, nr, flags, timeout, clockid):
    if flags or not waiters or not 0 < nr <= FUTEX_WAITV_MAX:
        return -lerrno.EINVAL
    deadline = None
    if timeout:
        if clockid not in (_CLOCK_REALTIME, _CLOCK_MONOTONIC):
            return -lerrno.EINVAL
        try:
            deadline = _timeout(timeout, True, clockid == _CLOCK_REALTIME)
        except ValueError:
            return -lerrno.EINVAL
    mem = proc.mem
    entries = []
    for i in range(nr):
        val, uaddr, wflags, reserved = mem.unpack(_WAITV, waiters + i * _WAITV.size)
        if reserved or wflags & ~(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) \
                or wflags & FUTEX2_SIZE_MASK != FUTEX2_SIZE_U32 or uaddr & 3 or val > _U32:
            return -lerrno.EINVAL
        entries.append((uaddr, val, bool(wflags & FUTEX2_PRIVATE)))
    for uaddr, val, _private in entries:
        if mem.u32(uaddr) != val:
            return -lerrno.EAGAIN
    if threads.multi():
        return threads.futex_waitv([u for u, _v, _p in entries], deadline)
    return _waitv_alone(entries, deadline)


def _waitv_alone(entries: list, deadline: int | None) -> int:
    """The only thread waits: a shared word another process changes ends it (its index)."""
    shared = [(i, u, v) for i, (u, v, private) in enumerate(entries) if not private]
    poll = SHARED_POLL_MIN
    while True:
        left = None if deadline is None else (deadline - _time.monotonic_ns()) / NSEC
        if left is not None and left <= 0:
            return -lerrno.ETIMEDOUT
        if shared:
            step = poll if left is None else min(poll, left)
            poll = min(poll * 2, SHARED_POLL_MAX)
        else:
            step = 3600.0 if left is None else left
        _time.sleep(step)                     # InterruptedError -> -EINTR (hook)
        for i, u, v in shared:
            if proc.mem.u32(u) != v:
                return i


__all__ = ["sys_futex", "sys_futex_waitv", "GuestFault"]
