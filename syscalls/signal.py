"""Signal syscalls: sigaction, masks, pending sets, sigsuspend, sigreturn, altstack, kill, itimers.

(rt_sigtimedwait and signalfd4, the calls that take pending signals, are in syscalls/sigwait.py.)

The state and the delivery machinery live in elfuse_py.runtime.signals; these handlers
decode the guest's structs (Linux AArch64 layouts) and translate numbers.
"""
from __future__ import annotations

import os
from elfuse_py.host.hostsig import sig as hs
import struct

from elfuse_py.runtime import lerrno, signals
from elfuse_py.runtime import threads
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.signals import (NSIG, SIG_DFL, SIG_IGN, SIGKILL, SIGSTOP, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, UNBLOCKABLE, bit)

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.table import PARTIAL, syscall

_SIGACTION = struct.Struct("<QQQQ")     # handler, flags, restorer, mask
_SIGSET = struct.Struct("<Q")
_STACK = struct.Struct("<Qi4xQ")        # ss_sp, ss_flags, ss_size
_ITIMERVAL = struct.Struct("<qqqq")     # interval {sec, usec}, value {sec, usec}
_TIMESPEC = struct.Struct("<qq")
MINSIGSTKSZ = 5120
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2


def _valid(sig: int) -> bool:
    return 1 <= sig <= NSIG


@syscall("rt_sigaction", "signal, ptr, ptr, size")
def sys_rt_sigaction(sig, act, oact, size):
    if size != 8 or not _valid(sig):
        return -lerrno.EINVAL
    mem = proc.mem
    new = None
    if act:
        new = mem.unpack(_SIGACTION, act)
        if sig in (SIGKILL, SIGSTOP):
            return -lerrno.EINVAL
    if oact:
        h, f, r, m = proc.sig.actions[sig]
        mem.pack(_SIGACTION, oact, h, f, r, m)
    if new is not None:
        handler, flags, restorer, mask = new
        proc.sig.actions[sig] = (handler, flags & 0xFFFFFFFF, restorer, mask & ~UNBLOCKABLE)
        signals.action_changed(sig)
        if handler == SIG_IGN or (handler == SIG_DFL and sig in signals._DFL_IGNORE):
            b = bit(sig)                        # (no call inside the update: see signals._take_pending)
            proc.sig.pending &= ~b              # Linux discards it (sigaction(2))
            signals.discard(proc.sig.infos, sig)
            signals.notify_waiters()
    return 0


@syscall("rt_sigprocmask", "int, ptr, ptr, size")
def sys_rt_sigprocmask(how, set_, oset, size):
    if size != 8:
        return -lerrno.EINVAL
    how = s32(how)
    mem = proc.mem
    old = proc.sig.mask
    if set_:
        if how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
            return -lerrno.EINVAL
        m = mem.unpack(_SIGSET, set_)[0]
        if oset:
            mem.pack(_SIGSET, oset, old)
        if how == SIG_BLOCK:
            new = old | m
        elif how == SIG_UNBLOCK:
            new = old & ~m
        else:
            new = m
        if new != old:
            signals.set_mask(new)
        return 0
    if oset:
        mem.pack(_SIGSET, oset, old)
    return 0


def _pending_mask() -> int:
    return proc.sig.pending | signals.linux_mask(hs.sigpending())


@syscall("rt_sigpending", "ptr, size")
def sys_rt_sigpending(set_, size):
    if size > 8:
        return -lerrno.EINVAL
    proc.mem.write(set_, _SIGSET.pack(_pending_mask() & proc.sig.mask)[:size])
    return 0


_libc = None


def _host_sigsuspend(mask: int) -> None:
    """Atomically set the host mask and wait for a signal (libc sigsuspend)."""
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    sset = ctypes.create_string_buffer(256)
    _libc.sigemptyset(sset)
    for h in signals.host_set(mask):
        _libc.sigaddset(sset, h)
    _libc.sigsuspend(sset)


def _run_python_handlers() -> None:
    """A Python-level call: CPython runs pending signal handlers on entering it."""
    os.getpid()


@syscall("rt_sigsuspend", "ptr, size", interruptible=True, restart=False)
def sys_rt_sigsuspend(set_, size):
    if size != 8:
        return -lerrno.EINVAL
    m = proc.mem.unpack(_SIGSET, set_)[0] & ~UNBLOCKABLE
    old = proc.sig.mask
    proc.sig.saved_mask = old
    proc.sig.mask = m
    signals.follow_mask()             # what the watcher catches for signalfds follows m
    # A signal whose action is to ignore it ends no wait: Linux's get_signal
    # drops it and, no handler having run, restarts the sigsuspend.
    signals.drop_ignored(m)
    while not proc.sig.pending & ~m:
        try:
            _suspend_once(m)
        except InterruptedError:
            pass
        proc.sig.interrupted = False
        signals.drop_ignored(m)
    proc.cpu.pending = True           # deliver, then restore `old` (saved_mask)
    proc.sig.undelivered = True
    return -lerrno.EINTR


def _suspend_once(m: int) -> None:
    """Wait in the host until a signal arrives (it may be one the guest blocks or ignores)."""
    while not (proc.sig.pending & ~m):
        # Block every host signal, then let Python run the handlers of any
        # that already arrived (they queue into proc.sig.pending): a signal taken
        # between a check and the host sigsuspend would otherwise be
        # consumed and the wait would never end (ash's `wait` hung when
        # its child exited just before).  The host sigsuspend then swaps
        # in the guest's mask atomically, as Linux does.
        hs.pthread_sigmask(hs.SIG_BLOCK, hs.valid_signals())
        _run_python_handlers()
        if proc.sig.pending & ~m:
            return
        _host_sigsuspend(m)
        # The Python-level handler runs at the next bytecode and raises
        # InterruptedError, which ends the wait.  Without that (the
        # inbox's wake-up brought only signals `m` blocks) wait on.
        _run_python_handlers()


@syscall("rt_sigreturn", "")
def sys_rt_sigreturn():
    signals.sigreturn()
    return None


@syscall("sigaltstack", "ptr, ptr")
def sys_sigaltstack(ss, old):
    mem = proc.mem
    sp = proc.cpu.reg(signals.REG_SP)
    onstack = signals.on_altstack(sp)
    new = mem.unpack(_STACK, ss) if ss else None
    if old:
        base, flags, size = proc.sig.altstack
        if onstack:
            flags = (flags & SS_AUTODISARM) | SS_ONSTACK
        mem.pack(_STACK, old, base, flags, size)
    if new is not None:
        base, flags, size = new
        if onstack:
            return -lerrno.EPERM
        mode = flags & ~SS_AUTODISARM & 0xFFFFFFFF
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -lerrno.EINVAL
        if mode == SS_DISABLE:
            proc.sig.altstack = (0, SS_DISABLE, 0)
        else:
            if size < MINSIGSTKSZ:
                return -lerrno.ENOMEM
            proc.sig.altstack = (base, flags & SS_AUTODISARM, size)
    return 0


# ----- sending ---------------------------------------------------------------------
# To this process: queued here.  To another: signals.send_to_process (a host
# kill, or the receiver's inbox for real-time signals and values).


def _send(pid: int, sig: int, code: int) -> int:
    """kill()/tkill() of `sig` to process `pid` with a kill-style siginfo."""
    if sig == 0:
        os.kill(pid, 0)
        return 0
    if not _valid(sig):
        return -lerrno.EINVAL
    info = signals._si(sig, code, os.getpid(), os.getuid())
    if pid == os.getpid():
        return 0 if signals.queue(sig, info) else -lerrno.EAGAIN
    return signals.send_to_process(pid, sig, info, plain=True)


@syscall("kill", "int, signal")
def sys_kill(pid, sig):
    pid = s32(pid)
    if sig < 0 or sig > NSIG:
        return -lerrno.EINVAL
    if pid in (0, -1) or pid < -1:
        h = signals.to_host(sig) if sig else 0
        if h is None:
            # A signal the host lacks: to every guest of the group (kill(-1): all of ours).
            pgid = 0 if pid == -1 else (os.getpgrp() if pid == 0 else -pid)
            return signals.send_to_group(pgid, sig, signals._si(sig, signals.SI_USER, os.getpid(),
                                                                 os.getuid()))
        # Process groups and broadcast include this process: the host kernel
        # delivers it to us through our own dispositions.
        os.kill(pid, h)
        return 0
    return _send(pid, sig, signals.SI_USER)


@syscall("tgkill", "int, int, signal")
def sys_tgkill(tgid, tid, sig):
    tgid, tid = s32(tgid), s32(tid)
    if tgid <= 0 or tid <= 0 or sig < 0 or sig > NSIG:
        return -lerrno.EINVAL
    if tgid == os.getpid():
        if not sig:
            return 0 if tid == tgid or threads.find(tid) is not None else -lerrno.ESRCH
        return _send_thread(tid, sig, signals._si(sig, signals.SI_TKILL, os.getpid(), os.getuid()))
    if tid != tgid:
        return -lerrno.ESRCH      # another process's threads are out of reach
    return _send(tid, sig, signals.SI_TKILL)


def _send_thread(tid: int, sig: int, info: bytes) -> int:
    """To one of this process's guest threads (elfuse_py.runtime.threads)."""
    if not _valid(sig):
        return -lerrno.EINVAL
    r = threads.tkill(tid, sig, info)
    if r is None:
        return -lerrno.EAGAIN     # a real-time signal with a value: queue full
    return 0 if r else -lerrno.ESRCH


@syscall("tkill", "int, signal")
def sys_tkill(tid, sig):
    tid = s32(tid)
    if tid <= 0 or sig < 0 or sig > NSIG:
        return -lerrno.EINVAL
    if sig and threads.find(tid) is not None:
        return _send_thread(tid, sig, signals._si(sig, signals.SI_TKILL, os.getpid(), os.getuid()))
    return _send(tid, sig, signals.SI_TKILL)


def _user_info(sig: int, info: int) -> tuple[bytes, int]:
    """The siginfo a guest passes to rt_(tg)sigqueueinfo (si_signo is `sig`), and its si_code."""
    raw = proc.mem.read(info, 128)
    code = struct.unpack_from("<i", raw, 8)[0]
    return struct.pack("<i", sig) + raw[4:], code


def _may_forge(code: int, target: int) -> bool:
    """Linux: nobody may pretend to be the kernel or kill()/tkill() (si_code >= 0
    or SI_TKILL), except towards the calling thread itself."""
    return not (code >= 0 or code == signals.SI_TKILL) or target == threads.gettid()


@syscall("rt_sigqueueinfo", "int, signal, ptr")
def sys_rt_sigqueueinfo(pid, sig, info):
    pid = s32(pid)
    if not 0 <= sig <= NSIG:
        return -lerrno.EINVAL
    raw, code = _user_info(sig, info)
    if not _may_forge(code, pid):
        return -lerrno.EPERM
    if pid <= 0:
        return -lerrno.ESRCH
    if sig == 0:
        os.kill(pid, 0)
        return 0
    if pid == os.getpid():
        return 0 if signals.queue(sig, raw) else -lerrno.EAGAIN
    return signals.send_to_process(pid, sig, raw, plain=False)


@syscall("rt_tgsigqueueinfo", "int, int, signal, ptr")
def sys_rt_tgsigqueueinfo(tgid, tid, sig, info):
    tgid, tid = s32(tgid), s32(tid)
    if tgid <= 0 or tid <= 0 or not 0 <= sig <= NSIG:
        return -lerrno.EINVAL
    raw, code = _user_info(sig, info)
    if not _may_forge(code, tid):
        return -lerrno.EPERM
    if tgid == os.getpid():
        if tid != tgid and threads.find(tid) is None:
            return -lerrno.ESRCH
        if not sig:
            return 0
        return _send_thread(tid, sig, raw)
    if tid != tgid:
        return -lerrno.ESRCH      # another process's threads are out of reach
    if sig == 0:
        os.kill(tid, 0)
        return 0
    return signals.send_to_process(tid, sig, raw, plain=False)


# ----- interval timers -----------------------------------------------------------------

_WHICH = {0: hs.ITIMER_REAL, 1: hs.ITIMER_VIRTUAL, 2: hs.ITIMER_PROF}


def _tv(sec: float) -> tuple[int, int]:
    usec = round(sec * 1e6)
    return usec // 1000000, usec % 1000000


@syscall("setitimer", "int, ptr, ptr", level=PARTIAL,
         note="ITIMER_VIRTUAL/PROF count the emulator's CPU time")
def sys_setitimer(which, new, old):
    which = s32(which)
    if which not in _WHICH:
        return -lerrno.EINVAL
    mem = proc.mem
    isec = iusec = vsec = vusec = 0
    if new:
        isec, iusec, vsec, vusec = mem.unpack(_ITIMERVAL, new)
        if not (0 <= iusec < 1000000 and 0 <= vusec < 1000000) or isec < 0 or vsec < 0:
            return -lerrno.EINVAL
        prev = hs.setitimer(_WHICH[which], vsec + vusec / 1e6, isec + iusec / 1e6)
    else:
        prev = hs.getitimer(_WHICH[which])
    if old:
        value, interval = prev
        mem.pack(_ITIMERVAL, old, *_tv(interval), *_tv(value))
    return 0


@syscall("getitimer", "int, ptr")
def sys_getitimer(which, cur):
    which = s32(which)
    if which not in _WHICH:
        return -lerrno.EINVAL
    value, interval = hs.getitimer(_WHICH[which])
    proc.mem.pack(_ITIMERVAL, cur, *_tv(interval), *_tv(value))
    return 0
