"""Time syscalls: clocks, sleeps, gettimeofday and times().

Linux clock ids are translated by meaning to the host's time.CLOCK_* names
(never passed through as numbers).  Coarse clocks read their fine clock;
BOOTTIME falls back to MONOTONIC where the host has no boot clock (macOS).
alarm/setitimer/getitimer belong to the signals layer.
"""
from __future__ import annotations

import os
import struct
import time as _time

from elfuse_py.runtime import lerrno, signals, threads
from elfuse_py.runtime.cpu import REG_X0
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.table import PARTIAL, syscall

_TS = struct.Struct("<qq")       # struct timespec / struct timeval (LP64)
_TMS = struct.Struct("<4q")      # struct tms: four clock_t
NSEC = 1_000_000_000

# Linux clock ids (include/uapi/linux/time.h)
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM, CLOCK_TAI = 8, 9, 11

LINUX_CLOCK_NAMES = {
    0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID",
    3: "CLOCK_THREAD_CPUTIME_ID", 4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE",
    6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME", 8: "CLOCK_REALTIME_ALARM",
    9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI",
}


def _host(*names: str) -> int | None:
    for n in names:
        v = getattr(_time, n, None)
        if v is not None:
            return v
    return None


# Linux clock id -> host clock id, by meaning.  The coarse clocks are the same
# clocks at lower resolution; *_ALARM differ from theirs only in waking the
# machine.  MONOTONIC_RAW: macOS's CLOCK_MONOTONIC_RAW is the same idea.
CLOCKS: dict[int, int] = {}
for _linux, _names in {
    CLOCK_REALTIME: ("CLOCK_REALTIME",),
    CLOCK_MONOTONIC: ("CLOCK_MONOTONIC",),
    CLOCK_PROCESS_CPUTIME_ID: ("CLOCK_PROCESS_CPUTIME_ID",),
    CLOCK_THREAD_CPUTIME_ID: ("CLOCK_THREAD_CPUTIME_ID",),
    CLOCK_MONOTONIC_RAW: ("CLOCK_MONOTONIC_RAW", "CLOCK_MONOTONIC"),
    CLOCK_REALTIME_COARSE: ("CLOCK_REALTIME",),
    CLOCK_MONOTONIC_COARSE: ("CLOCK_MONOTONIC",),
    CLOCK_BOOTTIME: ("CLOCK_BOOTTIME", "CLOCK_MONOTONIC"),
    CLOCK_REALTIME_ALARM: ("CLOCK_REALTIME",),
    CLOCK_BOOTTIME_ALARM: ("CLOCK_BOOTTIME", "CLOCK_MONOTONIC"),
    CLOCK_TAI: ("CLOCK_TAI", "CLOCK_REALTIME"),
}.items():
    _h = _host(*_names)
    if _h is not None:
        CLOCKS[_linux] = _h
# What clock_getres reports for the coarse clocks on Linux (one 250 Hz tick is
# typical; the kernel reports its jiffy length, which we cannot know): 4 ms.
_COARSE_RES_NS = 4_000_000
# Clocks clock_nanosleep accepts; the other valid ids (THREAD_CPUTIME_ID,
# MONOTONIC_RAW, the coarse clocks) have no nsleep in Linux: EOPNOTSUPP.
_SLEEP_CLOCKS = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI,
                 CLOCK_PROCESS_CPUTIME_ID, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM}


def _clock(clk: int) -> int | None:
    """Host clock for Linux clock id `clk` (a signed int), None if invalid.

    Negative ids name the CPU clock of a process or thread (clock_getcpuclockid);
    the ones for the calling process/thread itself map to the CPU-time clocks.
    """
    if clk >= 0:
        return CLOCKS.get(clk)
    # CPUCLOCK encoding: ~pid << 3 | type (0 PROF, 1 VIRT, 2 SCHED) | 4 for a thread.
    pid = ~(clk >> 3)
    which = clk & 3
    if which == 3 or pid not in (0, os.getpid()):
        return None
    return CLOCKS.get(CLOCK_THREAD_CPUTIME_ID if clk & 4 else CLOCK_PROCESS_CPUTIME_ID)


@syscall("clock_gettime", "clockid, ptr")
def sys_clock_gettime(clk, tp):
    host = _clock(clk)
    if host is None:
        return -lerrno.EINVAL
    ns = _time.clock_gettime_ns(host)
    proc.mem.pack(_TS, tp, ns // NSEC, ns % NSEC)
    return 0


@syscall("clock_getres", "clockid, ptr")
def sys_clock_getres(clk, res):
    c = clk
    host = _clock(c)
    if host is None:
        return -lerrno.EINVAL
    if res:
        if c in (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE):
            ns = _COARSE_RES_NS
        else:
            ns = round(_time.clock_getres(host) * NSEC) or 1
        proc.mem.pack(_TS, res, ns // NSEC, ns % NSEC)
    return 0


@syscall("clock_settime", "clockid, ptr", level=PARTIAL, note="host decides (EPERM unless root)")
def sys_clock_settime(clk, tp):
    c = clk
    sec, nsec = proc.mem.unpack(_TS, tp)
    if c not in (CLOCK_REALTIME,):
        return -lerrno.EINVAL
    if not 0 <= nsec < NSEC or sec < 0:
        return -lerrno.EINVAL
    _time.clock_settime_ns(CLOCKS[c], sec * NSEC + nsec)
    return 0


def _read_ts(addr: int) -> int | None:
    """A guest timespec in ns, or None when tv_nsec is out of range (EINVAL)."""
    sec, nsec = proc.mem.unpack(_TS, addr)
    if not 0 <= nsec < NSEC or sec < 0:
        return None
    return sec * NSEC + nsec


# Linux clamps a sleep's expiry at KTIME_MAX (timespec64_to_ktime, ktime_add_safe):
# a tv_sec near 2^63 sleeps about 292 years, interruptibly.
KTIME_MAX = (1 << 63) - 1
# A single-threaded sleep looks at the pending set this often (a signal whose
# host handler ran just before the host sleep began interrupts nothing).
_CHECK_NS = 100_000_000


def _sleep_until(host_clock: int, deadline_ns: int) -> int:
    """Sleep until the host clock reaches deadline: 0, or the ns left (> 0) if a
    guest signal to deliver cut it short.

    Python retries a sleep after a host signal handler returns (PEP 475), so
    the signals layer interrupts a sleep for a guest signal by raising
    InterruptedError from its host handler (this function is registered as
    interruptible); a signal that was already pending is seen between steps.
    """
    while True:
        left = deadline_ns - _time.clock_gettime_ns(host_clock)
        if left <= 0:
            return 0
        if signals.interrupt_pending():
            return left
        try:
            _time.sleep(min(left, _CHECK_NS) / NSEC)
        except InterruptedError:
            return max(deadline_ns - _time.clock_gettime_ns(host_clock), 1)


signals.register_interruptible(_sleep_until)

TIMER_ABSTIME = 1


def _put_rem(rem: int, left: int) -> None:
    if rem:
        left = max(left, 0)
        proc.mem.pack(_TS, rem, left // NSEC, left % NSEC)


def _nanosleep(host_clock: int, ns: int, absolute: bool, rem: int) -> int | None:
    now = _time.clock_gettime_ns(host_clock)
    deadline = min(ns if absolute else now + ns, KTIME_MAX)
    if threads.multi():
        # Other guest threads run meanwhile (the scheduler wakes this one, or a
        # signal does: then the time left, counted on the monotonic clock).
        mono = _time.monotonic_ns() + max(deadline - now, 0)

        def interrupted() -> int:
            if not absolute:
                _put_rem(rem, mono - _time.monotonic_ns())
            return -lerrno.EINTR
        return threads.wait_fds({}, mono, proc.cpu.reg(REG_X0), on_timeout=lambda: 0,
                                on_eintr=interrupted)
    left = _sleep_until(host_clock, deadline)
    if left:
        # Interrupted: relative sleeps report what was left (absolute ones do not).
        if not absolute:
            _put_rem(rem, left)
        return -lerrno.EINTR
    return 0


@syscall("nanosleep", "timespec, ptr", interruptible=True, restart=False)
def sys_nanosleep(req, rem):
    ns = _read_ts(req)
    if ns is None:
        return -lerrno.EINVAL
    # Like Linux, `rem` is only touched (and only then faults) when interrupted.
    return _nanosleep(CLOCKS[CLOCK_MONOTONIC], ns, False, rem)


@syscall("clock_nanosleep", "clockid, timer_flags, timespec, ptr", interruptible=True, restart=False)
def sys_clock_nanosleep(clk, flags, req, rem):
    # clock_nanosleep returns the error number itself (the libc wrapper does not
    # set errno), but the raw syscall reports it as -errno like every other.
    c = clk
    host = _clock(c)
    if host is None:
        return -lerrno.EINVAL
    if c < 0 and c & 4:
        return -lerrno.EINVAL     # posix_cpu_nsleep refuses per-thread CPU clocks
    if c >= 0 and c not in _SLEEP_CLOCKS:
        return -lerrno.EOPNOTSUPP if c in CLOCKS else -lerrno.EINVAL
    ns = _read_ts(req)
    if ns is None:
        return -lerrno.EINVAL
    absolute = bool(flags & TIMER_ABSTIME)
    if host in (CLOCKS.get(CLOCK_PROCESS_CPUTIME_ID),):
        # A CPU-time clock advances only while we run; sleeping on it means
        # spinning, which is what a sleeping process's own CPU clock implies.
        deadline = ns if absolute else _time.clock_gettime_ns(host) + ns
        while _time.clock_gettime_ns(host) < deadline:
            if signals.interrupt_pending():
                if not absolute:
                    _put_rem(rem, deadline - _time.clock_gettime_ns(host))
                return -lerrno.EINTR
        return 0
    return _nanosleep(host, ns, absolute, rem)


@syscall("gettimeofday", "ptr, ptr")
def sys_gettimeofday(tv, tz):
    if tv:
        ns = _time.clock_gettime_ns(CLOCKS[CLOCK_REALTIME])
        proc.mem.pack(_TS, tv, ns // NSEC, (ns % NSEC) // 1000)
    if tz:
        # struct timezone {minuteswest, dsttime}: Linux keeps it at zero unless set.
        proc.mem.pack(struct.Struct("<ii"), tz, 0, 0)
    return 0


@syscall("settimeofday", "ptr, ptr", level=PARTIAL, note="host decides (EPERM unless root)")
def sys_settimeofday(tv, tz):
    if tv:
        sec, usec = proc.mem.unpack(_TS, tv)
        if not 0 <= usec < 1_000_000 or sec < 0:
            return -lerrno.EINVAL
        try:
            _time.clock_settime_ns(CLOCKS[CLOCK_REALTIME], sec * NSEC + usec * 1000)
        except PermissionError:
            return -lerrno.EPERM
    elif tz:
        proc.mem.unpack(struct.Struct("<ii"), tz)
        if os.geteuid() != 0:
            return -lerrno.EPERM
    return 0


_CLK_TCK = os.sysconf("SC_CLK_TCK")


@syscall("times", "ptr")
def sys_times(buf):
    t = os.times()
    tick = _CLK_TCK
    if buf:
        proc.mem.pack(_TMS, buf, int(t.user * tick), int(t.system * tick),
                      int(t.children_user * tick), int(t.children_system * tick))
    # Linux returns ticks since an arbitrary point (boot); elapsed is that on
    # Linux hosts.
    return int(t.elapsed * tick)

