"""POSIX timers: timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete.

Portable on every host: no host timer_create (macOS has none).  A timer is a
few numbers - its clock, the next expiration on that clock, the interval -
and the wake-up thread (syscalls/wakeup.py) runs a callback at each
expiration (on CLOCK_MONOTONIC; a REALTIME or CPU-time expiration is
converted when armed and checked again when the callback runs).  The
callback may not touch the guest's signal state, which belongs to the main
thread: it counts the expiration (`due`) and sends this process the host's
wake-up signal (host/sigwait.WAKE_SIGNAL, the one runtime/siginbox.py uses);
its handler in runtime/signals.py runs `collect` (a `signals.wake_hooks`
entry) on the main thread, which queues the signals, so a blocking call is
cut short and a CPU-bound guest is stopped as for any signal.

Linux's semantics (kernel/time/posix-timers.c):

- notification: SIGEV_SIGNAL (the process), SIGEV_THREAD_ID (one thread of
  this process; what glibc's and musl's SIGEV_THREAD build on, with their
  internal signal 32), SIGEV_THREAD (the kernel treats it as SIGEV_SIGNAL),
  SIGEV_NONE; a NULL sigevent is SIGEV_SIGNAL with SIGALRM and the timer id
  as value.  The siginfo is SI_TIMER with si_timerid, si_overrun and the
  sigev_value.
- one signal per timer at a time: expirations while it is still pending are
  counted as overruns (`signals.push` lets a timer's siginfo queue even
  beside another instance of a standard signal, as Linux's preallocated
  sigqueue does); when it is dequeued (`signals.dequeue_hook`: delivery,
  sigwaitinfo, signalfd) si_overrun gets the count, which timer_getoverrun
  then returns.
- ids are handed out from 0 upwards; a fork child has no timers and an
  execve deletes them (this module's state is per emulator process).
- clocks: REALTIME, MONOTONIC, BOOTTIME (MONOTONIC where the host has no
  boot clock), TAI, PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID (the emulator
  runs every guest thread on one host thread: the process's CPU time), the
  process's own CPU clock by pid, and the *_ALARM clocks with
  CAP_WAKE_ALARM (EPERM otherwise).  MONOTONIC_RAW and the coarse clocks
  are EOPNOTSUPP, other ids EINVAL.
"""
from __future__ import annotations

import os
import struct
import threading
import time as _time

from elfuse_py.host import events as hostev
from elfuse_py.runtime import lerrno, signals, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import wakeup
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import PARTIAL, syscall
from elfuse_py.syscalls.time import (CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                           CLOCK_REALTIME, CLOCK_REALTIME_ALARM, CLOCK_TAI, CLOCK_THREAD_CPUTIME_ID, CLOCKS,
                           KTIME_MAX, NSEC)

_SIGEVENT = struct.Struct("<qiii")       # sigev_value, sigev_signo, sigev_notify, sigev_notify_thread_id
_SIGEVENT_SIZE = 64
_ITIMERSPEC = struct.Struct("<qqqq")     # it_interval {sec, nsec}, it_value {sec, nsec}
SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SI_TIMER = -2
TIMER_ABSTIME = 1
SIGALRM = 14
_INT_MAX = 0x7FFFFFFF

# Clocks timer_create takes (Linux: the clocks with a timer_create method).
_TIMER_CLOCKS = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
                 CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI}
_ALARM = {CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM}
_CPU = {CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID}
_NOT_FOR_TIMERS = {4, 5, 6}              # MONOTONIC_RAW, REALTIME_COARSE, MONOTONIC_COARSE
_CPU_RECHECK_NS = 10_000_000             # a CPU-time timer looks at its clock at least this often


class Timer:
    __slots__ = ("id", "clock", "host", "notify", "signo", "value", "tid", "next", "interval",
                 "armed", "due", "queued", "overrun", "overrun_last", "gen")

    def __init__(self, tid_: int, clock: int, host: int, notify: int, signo: int, value: int, tid: int):
        self.id, self.clock, self.host = tid_, clock, host
        self.notify, self.signo, self.value, self.tid = notify, signo, value, tid
        self.next = 0            # next expiration, on the timer's host clock (ns)
        self.interval = 0
        self.armed = False
        self.gen = 0             # bumped by each settime: a stale wake-up callback does nothing
        self.due = 0             # expirations the main thread has not turned into signals yet
        self.queued = False      # its signal is pending (queued, not yet dequeued)
        self.overrun = 0         # expirations while it was pending
        self.overrun_last = 0    # what timer_getoverrun says: the count of the last dequeued signal


_timers: dict[int, Timer] = {}
_next_id = 0
_kicked = False                  # a wake-up signal is on its way
# Guards the timers' state.  Re-entrant: `collect` and `_dequeued` run on the main
# thread from a signal handler, possibly while the main thread is inside a
# timer_* handler; never wakeup.lock there (the main thread may hold it).
# Order: wakeup.lock, then _dlock.
_dlock = threading.RLock()


def _reset_after_fork() -> None:
    """A fork child has no timers (Linux: not inherited)."""
    global _next_id, _kicked, _dlock
    _dlock = threading.RLock()
    _timers.clear()
    _next_id = 0
    _kicked = False


os.register_at_fork(after_in_child=_reset_after_fork)


def _delete_all() -> None:
    """An execve deletes the process's timers (Linux exit_itimers); a wake-up
    callback already scheduled finds its timer gone and does nothing."""
    with wakeup.lock, _dlock:
        for t in _timers.values():
            t.armed = False
            t.gen += 1
        _timers.clear()


proc.exec_hooks.append(_delete_all)


# ----- the wake-up thread's side -------------------------------------------------------------

def _arm_callback(t: Timer) -> None:
    """Schedule the wake-up thread's look at `t` (caller holds wakeup.lock)."""
    now = _time.clock_gettime_ns(t.host)
    left = max(t.next - now, 0)
    if t.clock in _CPU:
        left = min(left, _CPU_RECHECK_NS) if left else 0
    gen = t.gen
    wakeup.call_at(_time.monotonic_ns() + left, lambda: _expire(t, gen))


def _expire(t: Timer, gen: int) -> None:
    """Wake-up thread (wakeup.lock held): count the expirations that passed, re-arm."""
    with _dlock:
        _expire_locked(t, gen)


def _expire_locked(t: Timer, gen: int) -> None:
    global _kicked
    if t.gen != gen or not t.armed or _timers.get(t.id) is not t:
        return
    now = _time.clock_gettime_ns(t.host)
    if now < t.next:
        _arm_callback(t)              # early (a CPU clock, a clock that was set back)
        return
    n = 1
    if t.interval:
        n += (now - t.next) // t.interval
        t.next += n * t.interval
        _arm_callback(t)
    else:
        t.armed = False
    if t.notify == SIGEV_NONE:
        return
    t.due += n
    if not _kicked:
        _kicked = True
        try:
            os.kill(os.getpid(), signals.WAKE)   # the main thread's handler runs collect()
        except OSError:
            pass


# ----- the main thread's side ----------------------------------------------------------------

def _siginfo(t: Timer, overrun: int) -> bytes:
    return (struct.pack("<iii4xiiq", t.signo, 0, SI_TIMER, t.id, overrun, t.value)
            .ljust(signals.SIGINFO_SIZE, b"\0"))


def collect() -> int:
    """signals.wake_hooks: queue the signals of the timers that expired; their mask."""
    global _kicked
    got = 0
    with _dlock:
        _kicked = False
        fired = [t for t in _timers.values() if t.due]
        for t in fired:
            n, t.due = t.due, 0
            if t.queued:
                t.overrun = min(t.overrun + n, _INT_MAX)
                continue
            t.overrun = min(n - 1, _INT_MAX)
            if _deliver(t):
                t.queued = True
                got |= signals.bit(t.signo)
    return got


def _deliver(t: Timer) -> bool:
    info = _siginfo(t, 0)
    if t.notify & SIGEV_THREAD_ID:
        return bool(threads.tkill(t.tid, t.signo, info))
    return signals.queue_timer(t.signo, info)


def _dequeued(info: bytes) -> bytes:
    """signals.dequeue_hook: a SI_TIMER siginfo leaves the queue: its overrun count."""
    tid_ = struct.unpack_from("<i", info, 16)[0]
    with _dlock:
        t = _timers.get(tid_)
        if t is None or not t.queued:
            return info
        t.queued = False
        t.overrun_last, t.overrun = t.overrun, 0
        return info[:20] + struct.pack("<i", t.overrun_last) + info[24:]


signals.wake_hooks.append(collect)
signals.dequeue_hook = _dequeued


# ----- the calls --------------------------------------------------------------------------------

def _host_clock(clk: int) -> int | None:
    """The host clock of Linux clock `clk` for a timer; None: EINVAL."""
    if clk < 0:
        # A CPU clock by pid (clock_getcpuclockid): this process's own only.
        pid, which = ~(clk >> 3), clk & 3
        if which == 3:
            return None
        if clk & 4:                     # a thread's: one of ours (pthread_getcpuclockid)
            if pid not in (0, os.getpid()) and threads.find(pid) is None:
                return None
        elif pid not in (0, os.getpid()):
            return None
        return CLOCKS.get(CLOCK_PROCESS_CPUTIME_ID)
    if clk in _CPU:
        return CLOCKS.get(CLOCK_PROCESS_CPUTIME_ID)   # one host thread runs every guest thread
    if clk == CLOCK_BOOTTIME_ALARM:
        return CLOCKS.get(CLOCK_BOOTTIME)
    if clk == CLOCK_REALTIME_ALARM:
        return CLOCKS.get(CLOCK_REALTIME)
    return CLOCKS.get(clk)


@syscall("timer_create", "clockid, ptr, ptr", level=PARTIAL,
         note="wake-up thread timers on every host; THREAD_CPUTIME_ID counts the process's CPU "
              "time; CPU clocks of other processes are EINVAL")
def sys_timer_create(clk, sevp, out):
    global _next_id
    if clk >= 0 and clk not in _TIMER_CLOCKS:
        return -lerrno.EOPNOTSUPP if clk in _NOT_FOR_TIMERS else -lerrno.EINVAL
    host = _host_clock(clk)
    if host is None:
        return -lerrno.EINVAL
    if sevp:
        value, signo, notify, tid = proc.mem.unpack(_SIGEVENT, sevp)
        proc.mem.check(sevp, _SIGEVENT_SIZE, 1)
    else:
        value, signo, notify, tid = None, SIGALRM, SIGEV_SIGNAL, 0
    if notify == SIGEV_THREAD_ID:
        if threads.find(tid) is None and tid != threads.gettid():
            return -lerrno.EINVAL
    if notify not in (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID):
        return -lerrno.EINVAL
    if notify != SIGEV_NONE and not 1 <= signo <= signals.NSIG:
        return -lerrno.EINVAL
    if clk in _ALARM and not hostev.can_wake_alarm():
        return -lerrno.EPERM            # needs CAP_WAKE_ALARM
    if len(_timers) + proc.sig.queued >= signals.queue_limit():
        return -lerrno.EAGAIN           # each timer holds a queue entry (RLIMIT_SIGPENDING)
    proc.mem.check(out, 4, 2)
    with wakeup.lock, _dlock:
        ident = _next_id
        while ident in _timers:
            ident = (ident + 1) & _INT_MAX
        _next_id = (ident + 1) & _INT_MAX
        t = Timer(ident, clk, host, notify, signo, ident if value is None else value, tid)
        _timers[ident] = t
    proc.mem.pack(struct.Struct("<i"), out, ident)
    return 0


def _timer(tid_: int) -> Timer | None:
    return _timers.get(s32(tid_))


def _spec(t: Timer) -> tuple[int, int, int, int]:
    left = 0
    if t.armed:
        left = max(t.next - _time.clock_gettime_ns(t.host), 1)
    return t.interval // NSEC, t.interval % NSEC, left // NSEC, left % NSEC


@syscall("timer_settime", "int, hex, ptr, ptr")
def sys_timer_settime(tid_, flags, new, old):
    t = _timer(tid_)
    if t is None:
        return -lerrno.EINVAL
    if not new:
        return -lerrno.EINVAL
    isec, insec, vsec, vnsec = proc.mem.unpack(_ITIMERSPEC, new)
    if isec < 0 or vsec < 0 or not (0 <= insec < NSEC and 0 <= vnsec < NSEC):
        return -lerrno.EINVAL
    with wakeup.lock, _dlock:
        prev = _spec(t)
        t.gen += 1
        t.overrun = t.overrun_last = 0
        t.due = 0
        t.interval = min(isec * NSEC + insec, KTIME_MAX)
        value = vsec * NSEC + vnsec
        if not value:
            t.armed = False
        else:
            now = _time.clock_gettime_ns(t.host)
            t.next = min(value if flags & TIMER_ABSTIME else now + value, KTIME_MAX)
            t.armed = True
            _arm_callback(t)
    if old:
        proc.mem.pack(_ITIMERSPEC, old, *prev)
    return 0


@syscall("timer_gettime", "int, ptr")
def sys_timer_gettime(tid_, cur):
    t = _timer(tid_)
    if t is None:
        return -lerrno.EINVAL
    with _dlock:
        spec = _spec(t)
    proc.mem.pack(_ITIMERSPEC, cur, *spec)
    return 0


@syscall("timer_getoverrun", "int")
def sys_timer_getoverrun(tid_):
    t = _timer(tid_)
    if t is None:
        return -lerrno.EINVAL
    return t.overrun_last


@syscall("timer_delete", "int")
def sys_timer_delete(tid_):
    with wakeup.lock, _dlock:
        t = _timers.pop(s32(tid_), None)
        if t is None:
            return -lerrno.EINVAL
        t.armed = False
        t.gen += 1
    return 0
