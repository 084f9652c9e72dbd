"""Guest signals: dispositions, mask, pending set, and delivery to guest handlers.

Owns the Linux side of signals for the one guest process:

- Linux <-> host signal numbers, translated by name (RT signals by offset);
- the guest's sigactions, blocked mask (mirrored into the host thread mask, so
  a signal the guest blocks stays pending in the host kernel too), internal
  pending set (signals the emulator raises itself: kill of self, SIGPIPE after
  EPIPE, CPU faults) and sigaltstack;
- host dispositions follow the guest's: SIG_IGN stays SIG_IGN on the host (so
  exec'd children inherit it), SIG_DFL is the host default (the kernel then
  terminates/stops the emulator exactly as Linux would the guest), and a guest
  handler becomes a Python handler that queues the Linux signal;
- delivery: an AArch64 `struct rt_sigframe` (siginfo + ucontext with an
  fpsimd_context record) on the guest stack, X0-X2/X29/X30/SP/PC set up as
  arch/arm64/kernel/signal.c does; rt_sigreturn undoes it;
- the queue: per pending signal a FIFO of siginfos (`push`/`pop`): standard
  signals merge, real-time ones queue up to RLIMIT_SIGPENDING, each with
  its siginfo; POSIX timers' entries (syscalls/ptimers.py) get their
  overrun count when they leave it (`dequeue_hook`); the host signals'
  handlers queue on the main thread between any two calls, so the main
  thread's updates of the queue make no call between read and write
  (`_take_pending`);
- other guest processes: what the host cannot carry exactly (real-time
  signals, values) goes to the receiver's inbox (runtime/siginbox.py), whose
  host wake-up signal `_on_wake` handles: it drains the inbox (and the
  `wake_hooks`: expired POSIX timers) into the queue;
- interrupting blocking syscalls: the Python handler raises InterruptedError
  when it runs inside a blocking syscall handler (Python would otherwise retry
  the host call), the syscall returns -EINTR or, with SA_RESTART, is re-run.

A guest running CPU-bound code is inside uc_emu_start with the GIL released;
a watcher thread reading the signal wakeup fd stops the CPU so the run loop
can deliver.

Waiting for blocked signals (signalfd, sigtimedwait; the waiters of
runtime/sigwaiters.py): a signal the guest blocks and some waiter watches
must make that waiter's fd readable the moment it arrives, even from another
process while the main thread is blocked in a host call.  Two branches,
chosen by the host floor (elfuse_py/host/sigwait.py):

- KERNEL_QUEUE (Linux): such a signal stays pending in the host kernel; a
  host signalfd over the watched signals, polled by a helper thread, says it
  arrived (the waiters get their byte), and the main thread takes it with
  its full siginfo when it needs it (`_pull`: sigtimedwait, zero timeout).
- the portable branch (macOS, and the macOS host model on Linux): the watcher
  thread's host mask leaves exactly those signals unblocked (`catch`; the
  main thread keeps blocking them), with a host handler that only queues
  them, so the kernel delivers them to the watcher: it gives the waiters
  their byte and the main thread's handler queues the signal as pending.  A
  signal sent by another process then carries no sender (si_pid/si_uid 0):
  Python's handlers get no siginfo.  The two masks stay disjoint: catching
  starts after the main thread blocks a signal and stops before it unblocks
  it, each change acknowledged by the watcher (`_ack_catch`).
"""
from __future__ import annotations

from _collections import deque    # (the C type: `collections` imports operator, keyword, reprlib at start-up)
import errno as _errno_mod
import os
from elfuse_py.host.hostsig import sig as hs     # (not `signal`: its enum costs start-up)
import struct
import time

from elfuse_py.host import procinfo
from elfuse_py.host import sigwait as hostsig
from elfuse_py.runtime import lerrno, siginbox, sigwaiters
from elfuse_py.runtime.cpu import GPR_IDS, REG_FPCR, REG_FPSR, REG_NZCV, REG_PC, REG_SP, REG_X0, xreg
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.sigstate import SIG_DFL, SIG_IGN, SS_DISABLE, SigState  # noqa: F401
from elfuse_py.runtime.uc import lib
from elfuse_py.runtime.signums import (ALL, LINUX_SIGRTMIN, NSIG, SIGNAL_NAMES, TO_HOST, TO_LINUX,  # noqa: F401
                                       UNBLOCKABLE, bit, host_set, linux_mask, to_host, to_linux)

SIGINT, SIGKILL, SIGSEGV, SIGPIPE, SIGCHLD, SIGCONT, SIGSTOP = 2, 9, 11, 13, 17, 18, 19
# The host mask as plain ints: signal.pthread_sigmask turns every signal of the set
# it returns into a Signals enum (~0.3 ms a call), paid by every guest
# rt_sigprocmask and every fork (the watcher thread starts with all blocked).
_sigmask = hs.pthread_sigmask
SIGXFSZ = 25

# Default actions (signal(7)).
_DFL_IGNORE = {17, 23, 28}
_DFL_STOP = {19, 20, 21, 22}
_DFL_CORE = {3, 4, 5, 6, 7, 8, 11, 24, 25, 31}
# Signals raised by the CPU itself: never given a host handler (a real fault in
# the emulator must still kill it), delivered through on_fault instead.
_SYNC = {4, 5, 7, 8, 11}

SA_NOCLDSTOP, SA_SIGINFO, SA_RESTORER = 1, 4, 0x04000000
SA_ONSTACK, SA_RESTART, SA_NODEFER, SA_RESETHAND = 0x08000000, 0x10000000, 0x40000000, 0x80000000
SS_ONSTACK, SS_AUTODISARM = 1, 1 << 31
SI_USER, SI_KERNEL, SI_QUEUE, SI_TKILL = 0, 0x80, -1, -6

# ----- state -----------------------------------------------------------------------

SIGINFO = struct.Struct("<iii4x")          # si_signo, si_errno, si_code
SIGINFO_SIZE = 128

KERNEL_QUEUE = hostsig.KERNEL_QUEUE
# What a waiter may be handed: never SIGKILL/SIGSTOP, nor SIGPIPE (the host's
# is always ignored; the emulator raises the guest's itself, `post`), nor a
# signal the host lacks.  The portable branch cannot catch the CPU-fault
# signals either: they never get a host handler (_SYNC).
ROUTABLE = sum(bit(s) for s in TO_HOST if s not in (SIGKILL, SIGSTOP, SIGPIPE))
_CATCHABLE = ROUTABLE & ~sum(bit(s) for s in _SYNC)
# Linux's dequeue order takes these first (kernel/signal.c SYNCHRONOUS_MASK).
_SYNCHRONOUS = bit(11) | bit(7) | bit(4) | bit(5) | bit(8) | bit(31)



def _si(sig: int, code: int, pid: int = 0, uid: int = 0, extra: bytes = b"") -> bytes:
    return (SIGINFO.pack(sig, 0, code) + struct.pack("<iI", pid, uid) + extra).ljust(SIGINFO_SIZE, b"\0")


def queue(sig: int, info: bytes | None = None) -> bool:
    """Make Linux signal `sig` pending in the guest; delivery happens after the current syscall.

    False when a real-time signal sent with a value (si_code other than
    SI_USER) finds the queue at RLIMIT_SIGPENDING: the sender's EAGAIN."""
    r = _enqueue(sig, info)
    if r and proc.sig.waiters:
        notify_waiters()
    return r is not False


# ----- the queue ---------------------------------------------------------------------
# proc.sig.infos maps a pending signal to the FIFO of its siginfos (a deque):
# a standard signal holds at most one (Linux's legacy_queue: a second one
# merges), a real-time one (32..64) one per sending, up to RLIMIT_SIGPENDING
# entries in the process (threads' queues included: proc.sig.queued).

SIGRTMIN_KERNEL = 32
SI_TIMER = -2
# Set by syscalls/ptimers.py: called with a POSIX timer's siginfo when it leaves
# a queue (delivered, taken, discarded); returns it with si_overrun filled in.
dequeue_hook = None
# Called by the wake-up signal's handler (`_on_wake`) after the inbox: each
# queues what it has for the guest (expired POSIX timers) and returns the mask.
wake_hooks: list = []
_QUEUE_CAP = 1 << 20            # RLIMIT_SIGPENDING infinity (macOS has no such limit): a sane bound


def queue_limit() -> int:
    soft = proc.rlimit(11)[0]   # RLIMIT_SIGPENDING, as the guest sees it
    return min(soft, _QUEUE_CAP)


def push(q: dict, sig: int, info: bytes) -> bool | None:
    """Add `info` to `sig`'s FIFO in queue `q` (the process's or a thread's).

    True: queued; None: merged into a pending standard signal, or queued
    without its info past the limit (kill: Linux keeps the signal pending and
    drops the info); False: a real-time signal with a value past the limit
    (EAGAIN)."""
    st = proc.sig
    code = struct.unpack_from("<i", info, 8)[0]
    if code == SI_TIMER:
        # A POSIX timer's one preallocated entry (syscalls/ptimers.py): it
        # queues beside another instance and outside the limit, as on Linux.
        q.setdefault(sig, deque()).append(info)
        st.queued += 1
        return True
    # Every call first: from the look at `q` to its update, none (a handler
    # queueing on this thread meanwhile would be overwritten: see _take_pending).
    if sig < SIGRTMIN_KERNEL:
        one = deque((info,))
        if sig in q and q[sig]:
            return None
        q[sig] = one
        st.queued += 1
        return True
    if st.queued >= queue_limit():
        if code != SI_USER:
            return False
        if sig in q and q[sig]:
            return None
        info = _si(sig, SI_USER)        # no room: pending, its info lost (Linux zeroes it)
    q.setdefault(sig, deque()).append(info)
    st.queued += 1
    return True


def pop(q: dict, sig: int) -> bytes:
    """Take the oldest siginfo of `sig` from queue `q`; the signal stays pending while more wait."""
    fifo = q[sig] if sig in q else None     # (no call between the look and the del: see _take_pending)
    if not fifo:
        if fifo is not None:
            del q[sig]
        return _si(sig, SI_USER)
    info = fifo.popleft()
    proc.sig.queued -= 1
    if not fifo:
        del q[sig]
    if dequeue_hook is not None and struct.unpack_from("<i", info, 8)[0] == SI_TIMER:
        info = dequeue_hook(info)
    return info


def discard(q: dict, sig: int) -> int:
    """Drop every queued instance of `sig` from `q`; how many there were."""
    fifo = q.pop(sig, None)
    n = len(fifo) if fifo else 0
    proc.sig.queued -= n
    if dequeue_hook is not None:
        for info in fifo or ():
            if struct.unpack_from("<i", info, 8)[0] == SI_TIMER:
                dequeue_hook(info)          # the timer may queue its signal again
    return n


def queue_timer(sig: int, info: bytes) -> bool:
    """A POSIX timer's signal for the process: True if queued (not discarded as ignored)."""
    r = _enqueue(sig, info)
    if r and proc.sig.waiters:
        notify_waiters()
    return bool(r)


def adopt_queue(q: dict) -> None:
    """A thread's own queue joins the process queue when the thread runs (threads.switch)."""
    st = proc.sig
    for sig, fifo in q.items():
        # No call between a read of the queue and its write (see _take_pending).
        b, n = bit(sig), len(fifo)
        mine = st.infos[sig] if sig in st.infos else None
        if mine is None:
            st.infos[sig] = fifo
        elif sig >= SIGRTMIN_KERNEL:
            mine.extend(fifo)
        else:
            st.queued -= n                  # merged into the one already pending
        st.pending |= b
    st.undelivered = True
    if proc.cpu is not None:
        proc.cpu.pending = True
    if st.waiters:
        notify_waiters()


def drop_ignored(mask: int) -> None:
    """Discard the pending signals `mask` lets through whose action is to ignore them
    (SIG_IGN, or SIG_DFL of SIGCHLD/SIGURG/SIGWINCH/SIGCONT): what Linux's get_signal
    does on the way out of a wait, which then goes on waiting (a sigsuspend is
    restarted: -ERESTARTNOHAND with no handler run)."""
    st = proc.sig
    ready = st.pending & ~mask
    while ready:
        sig = (ready & -ready).bit_length()
        ready &= ready - 1
        handler = st.actions[sig][0]
        if handler == SIG_IGN or (handler == SIG_DFL and (sig in _DFL_IGNORE or sig == SIGCONT)):
            b = bit(sig)
            discard(st.infos, sig)
            st.pending &= ~b


def _take_pending(sig: int) -> bytes:
    """Dequeue one `sig` from the process queue, keeping the pending bit right.

    The host signals' Python-level handlers (`_on_host_signal`, `_on_wake`)
    queue signals on this same thread, at whatever point Python checks for
    them: on entering a Python function and after a call returns.  So a
    read-modify-write of `st.pending` (or of `st.infos`) on the main thread
    must make no call between its read and its write: `st.pending &=
    ~bit(sig)` read `pending`, then called `bit`, where a handler could queue
    the next instance of `sig` (and set the bit), and then stored the old
    value without the bit - the instance stayed in `infos`, not pending, and
    a sigtimedwait on it slept to its timeout (t_sig_rtqueue, 1000 sigqueues
    from a child, under the macOS model).  The bit is computed first."""
    st = proc.sig
    b = bit(sig)
    info = pop(st.infos, sig)
    if sig not in st.infos:
        st.pending &= ~b
    return info


def _enqueue(sig: int, info: bytes | None) -> bool | None:
    global _stop_epoch
    if sig in _DFL_STOP:
        _stop_epoch = _continues        # (a later SIGCONT mark voids it: _default_action)
    if info is None:
        info = _si(sig, SI_KERNEL)
    st = proc.sig
    handler = st.actions[sig][0]
    if handler == SIG_IGN or (handler == SIG_DFL and sig in _DFL_IGNORE):
        if not (st.mask & bit(sig)):
            return None                     # discarded at generation, as Linux
    b = bit(sig)                            # (before the read-modify-write: see _take_pending)
    r = push(st.infos, sig, info)
    if r is False:
        return False
    st.pending |= b
    st.undelivered = True
    cpu = proc.cpu
    if cpu is not None:
        cpu.pending = True
    return True


def post(sig: int) -> None:
    """proc.post_signal: the emulator raises `sig` for the guest (SIGPIPE after EPIPE)."""
    queue(sig, _si(sig, SI_USER, os.getpid(), os.getuid()))


def _file_too_big() -> None:
    """A host call failed with EFBIG: past RLIMIT_FSIZE Linux also sends SIGXFSZ."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if soft != resource.RLIM_INFINITY:
        queue(SIGXFSZ, _si(SIGXFSZ, SI_KERNEL))


# ----- host side ---------------------------------------------------------------------

# Handlers whose blocking host calls a guest signal may cut short (their code
# objects), and the numbers Linux never restarts after a handler: both come
# from the syscall table's entries when it is registered (see setup).
_interruptible_codes: set = set()
_no_restart_nrs: set = set()


def register_interruptible(*funcs) -> None:
    """Let a guest signal cut short the blocking host calls made in `funcs`.

    A host EINTR becomes the guest's EINTR only inside a syscall handler's
    frame or its direct callee; a handler whose blocking call sits deeper
    (the socket layer's recvmsg/sendmsg helpers) names those helpers here.
    """
    _interruptible_codes.update(f.__code__ for f in funcs)


def register_no_restart(nr: int) -> None:
    """Syscall `nr` is never restarted after a handler (signal(7)); the syscall
    layer says so when the handler's module is loaded (syscalls/lazy.py)."""
    _no_restart_nrs.add(nr)


def keep_result() -> None:
    """The interrupted call's own result stands: no SA_RESTART re-run.

    For a call that did part of its work before the signal (a count of
    messages sent), or that Linux never restarts (a socket with a timeout).
    """
    proc.sig.interrupted = False


def _in_interruptible(frame) -> bool:
    depth = 0
    while frame is not None and depth < 2:
        if frame.f_code in _interruptible_codes:
            return True
        frame = frame.f_back
        depth += 1
    return False


_errno_cell = None
_EINTR = _errno_mod.EINTR


def _host_errno_cell():
    """The main thread's live C errno (ctypes without use_errno leaves it alone)."""
    import ctypes
    libc = ctypes.CDLL(None)
    fn = getattr(libc, "__errno_location", None) or getattr(libc, "__error")
    fn.restype = ctypes.c_void_p
    return ctypes.c_int.from_address(fn())


_CLD_CODES = {"CLD_EXITED": 1, "CLD_KILLED": 2, "CLD_DUMPED": 3, "CLD_TRAPPED": 4,
              "CLD_STOPPED": 5, "CLD_CONTINUED": 6}


def _host_siginfo(sig: int) -> bytes:
    """The siginfo of a host signal a Python handler took (Python passes none):
    the sender is unknown - except for SIGCHLD, where a child that can be
    waited for stands in (nothing is reaped), where the host can tell."""
    if sig == SIGCHLD:
        peek = hostsig.peek_child()
        if peek is not None:
            name, pid, uid, status = peek
            code = _CLD_CODES[name]
            return _si(sig, code, pid, uid, struct.pack("<i", status if code == 1 else to_linux(status)))
    return _si(sig, SI_USER)


def _on_host_signal(hsig: int, frame) -> None:
    """Python-level handler for host signals the guest handles: queue, maybe interrupt.

    Python calls it either from the EINTR-retry loop of a blocking host call
    (errno is EINTR there: the call did not complete) or at an instruction
    boundary after the call returned.  Only the first may become -EINTR for
    the guest; raising in the second would lose a completed result.
    """
    proc.sig.seen += 1
    sig = to_linux(hsig)
    queue(sig, _host_siginfo(sig))
    _maybe_interrupt(bit(sig), frame)


def _maybe_interrupt(sigs: int, frame) -> None:
    """Signals `sigs` were just queued: cut the blocking host call short if one
    of them is to be delivered now (see _on_host_signal)."""
    cell = _errno_cell
    in_eintr = cell is not None and cell.value == _EINTR
    if cell is not None:
        cell.value = 0
    st = proc.sig
    if not in_eintr or st.interrupted or st.hold or not _in_interruptible(frame):
        return
    ready = sigs & ~st.mask
    while ready:
        low = ready & -ready
        ready ^= low
        if st.actions[low.bit_length()][0] > SIG_IGN:
            st.interrupted = True
            st.restart_x0 = proc.cpu.reg(REG_X0)
            st.restart_nr = proc.cpu.reg(xreg(8))
            raise InterruptedError(4, "Interrupted system call")


_draining = False
_drain_again = False


def _on_wake(hsig: int, frame) -> None:
    """Handler of the host's wake-up signal: another guest posted signals to our
    inbox (runtime/siginbox.py).  Queue them all, in the order sent; a fatal
    one the guest neither blocks nor handles ends the process now (Linux kills
    a process blocked in any call); a handled one interrupts as a host signal
    would."""
    global _draining, _drain_again, _continues
    st = proc.sig
    st.seen += 1
    if _draining:
        # A wake-up arrived while an outer call was queueing: that call drains
        # again (a nested drain would queue newer records before older ones).
        _drain_again = True
        return
    got = 0
    _draining = True
    try:
        while True:
            _drain_again = False
            for info in siginbox.drain():
                sig = struct.unpack_from("<i", info, 0)[0]
                if sig == SIGCONT and info[:len(_CONT_MARK)] == _CONT_MARK:
                    _continues += 1
                    continue
                if 1 <= sig <= NSIG and queue(sig, info):
                    got |= bit(sig)
            for hook in wake_hooks:
                got |= hook()
            if not _drain_again:
                break
    finally:
        _draining = False
    ready = got & st.pending & ~st.mask
    if not ready:
        return
    if len(proc.threads.live) <= 1:
        for sig in _signals_of(ready):
            if st.actions[sig][0] == SIG_DFL and _fatal_default(sig):
                b = bit(sig)
                discard(st.infos, sig)
                st.pending &= ~b
                _terminate_now(sig)
    _maybe_interrupt(ready, frame)


def _fatal_default(sig: int) -> bool:
    return sig not in _DFL_IGNORE and sig not in _DFL_STOP and sig != SIGCONT


def _terminate_now(sig: int) -> None:
    """End the process by `sig` from wherever the main thread is (it does not return)."""
    proc.terminate_by_signal(sig, generated=True)
    os._exit(128 + sig)


# ----- sending to other processes ------------------------------------------------------


# In an inbox: "a SIGCONT was sent": drop pending stop signals (see send_to_process).
# SI_KERNEL, which no guest can give rt_sigqueueinfo, with a mark in si_errno.
_CONT_MARK = SIGINFO.pack(SIGCONT, 0x45434F4E, SI_KERNEL)


# SIGCONT marks taken from the inbox, and their count when a stop signal was
# last queued: a stop queued before the last mark is void when delivered
# (Linux discards pending stops at SIGCONT).  Counted, not discarded from the
# queue: the mark is taken in a signal handler, which may run while the main
# thread is inside the queue's code.
_continues = 0
_stop_epoch = 0


def _continue_member(pid: int, h: int) -> None:
    """SIGCONT to a member of the execution token, whose stops go through its inbox.

    A stop it has not taken yet is void (Linux discards pending stops at
    SIGCONT): a mark posted to its inbox before the host's SIGCONT says so,
    and the stop's default action looks at the inbox just before stopping.
    A member that looked just before the mark came may still stop itself
    after the host's SIGCONT reached it: until it has taken the mark (for at
    most CONT_SETTLE seconds) the host's SIGCONT is sent again."""
    siginbox.send(pid, _CONT_MARK)
    os.kill(pid, h)
    end = time.monotonic() + CONT_SETTLE
    delay = 0.001
    while siginbox.waiting(pid) and time.monotonic() < end:
        time.sleep(delay)
        delay = min(2 * delay, 0.016)
        try:
            os.kill(pid, h)
        except OSError:
            return


CONT_SETTLE = 0.1


def send_to_process(pid: int, sig: int, info: bytes, *, plain: bool) -> int:
    """Send Linux signal `sig` with siginfo `info` to process `pid` (not this one).

    `plain`: a kill()-style send whose siginfo the host can stand in for
    (SI_USER/SI_TKILL); a standard signal then stays a host kill.  Anything
    else a guest sends another guest - a real-time signal, a value - goes
    through the receiver's inbox (runtime/siginbox.py).  Returns 0 or a
    negative Linux errno."""
    h = TO_HOST.get(sig)
    if sig in _DFL_STOP:
        from elfuse_py.runtime import exectoken
        if exectoken.is_member(pid):
            # A member of the execution token stops itself after giving the
            # token back (its default action); the host's stop could catch it
            # holding the token, and the other members would wait for it.
            r = siginbox.send(pid, info)
            if r is not None:
                return r
    if sig in (SIGKILL, SIGSTOP, SIGCONT) or (plain and h is not None and sig < SIGRTMIN_KERNEL):
        if sig == SIGCONT:
            from elfuse_py.runtime import exectoken
            if exectoken.is_member(pid):
                _continue_member(pid, h)
                return 0
        os.kill(pid, h)
        return 0
    r = siginbox.send(pid, info)
    if r is not None:
        return r
    # Not a guest (no inbox): the host's signal, without the payload, where it has one.
    if h is not None:
        os.kill(pid, h)
        return 0
    # ESRCH/EPERM as Linux; else a zombie (Linux: nothing happens) or a process
    # that is no guest, which a signal the host lacks cannot reach.
    os.kill(pid, 0)
    return 0


def send_to_group(pgid: int, sig: int, info: bytes) -> int:
    """kill(-pgid) of a signal the host lacks: to every guest of the group, this
    process included; pgid 0 is kill(-1): every guest but this one."""
    sent = 0
    err = -lerrno.ESRCH
    for pid in siginbox.guest_pids():
        try:
            if pgid > 0 and os.getpgid(pid) != pgid:
                continue
        except OSError:
            continue
        if pid == os.getpid():
            if pgid:
                queue(sig, info)
                sent += 1
            continue
        r = siginbox.send(pid, info)
        if r == 0:
            sent += 1
        elif r is not None:
            err = r
    return 0 if sent else err


def interrupt_pending() -> bool:
    """For a handler about to block in the host, or between two waits: True when
    a signal to deliver is already pending, so the call must end now - it came
    before the host call began (or its handler ran late) and no host EINTR will
    come.  The call is marked interrupted as `_on_host_signal` would have, so
    SA_RESTART re-runs it."""
    st = proc.sig
    if st.hold or not (st.pending & ~st.mask):
        return False
    if not st.interrupted:
        st.interrupted = True
        st.restart_x0 = proc.cpu.reg(REG_X0)
        st.restart_nr = proc.cpu.reg(xreg(8))
    return True


# How long (in 2 ms steps) the watcher waits for the guest to reach a syscall
# before it stops the CPU asynchronously.
ASYNC_STOP_GRACE_STEPS = 10


def _watch(rfd: int, cpu) -> None:
    """Watcher thread: a host signal arrived; stop the CPU until the main thread took it.

    Zero bytes in the pipe are pokes from the main thread: the set of signals
    this thread catches for the waiters changed (portable branch).
    """
    st = proc.sig
    applied = 0
    while True:
        try:
            data = os.read(rfd, 64)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        if st.catch_gen != applied:
            applied = _apply_catch()
        if 0 in data:
            data = data.replace(b"\0", b"")
            if not data:
                continue
        if st.waiters:
            for h in set(data):
                sigwaiters.wake(to_linux(h))
        proc.sig.arrived += len(data)
        # A guest that makes a syscall soon takes the signal there: the hook
        # runs Python, whose handler queues it, and delivery happens with an
        # exact PC.  Only a guest that stays in translated code is stopped
        # from here, after a grace period.  (Where the engine keeps its exit
        # checks after memory accesses, not Cpu.exact_async_stop, such a stop
        # can re-run the instruction it interrupted; elsewhere it is exact,
        # but the grace stays: stopping at once changed the watcher's timing
        # with inbox signals.  The rare lost wake-up in t_sig_rtqueue under the
        # macOS model seen in the same rehearsal was the queue's own race, see
        # _take_pending.)
        for _ in range(ASYNC_STOP_GRACE_STEPS):
            if proc.sig.seen >= proc.sig.arrived and not proc.sig.undelivered:
                break
            time.sleep(0.002)
            if st.catch_gen != applied:
                applied = _apply_catch()
        else:
            for _ in range(100):
                if st.catch_gen != applied:
                    applied = _apply_catch()
                # Sliced runs end within a slice anyway: no asynchronous stop
                # then, whose imprecise PC a thread switch would save and
                # restore (a frequent POSIX timer made that show as a guest
                # fault in glibc's free()).  A run without slices (a single
                # thread, or the only one that needs the CPU) is stopped.
                if proc.threads.unbounded or cpu.exact_async_stop:
                    # Exact (the engine's mid-block exit checks are off), or no
                    # handler for an asynchronous signal (needs_exact_stops):
                    # this one ends or stops the process, so a re-run of a few
                    # instructions cannot be seen.
                    lib.uc_emu_stop(cpu.uc)
                elif proc.threads.preempter is not None:
                    proc.threads.preempter.stop_soon()   # at the next block start
                if proc.sig.seen >= proc.sig.arrived and not proc.sig.undelivered:
                    break
                time.sleep(0.002)


_ALL_HOST = frozenset(int(h) for h in hs.valid_signals())


def _apply_catch() -> int:
    """Watcher thread: take the host mask the main thread published; acknowledge it."""
    st = proc.sig
    gen = st.catch_gen
    _sigmask(hs.SIG_SETMASK, _ALL_HOST - st.catch_hosts)
    st.catch_applied = gen
    return gen


def _want_errno_cell() -> None:
    global _errno_cell
    if _errno_cell is None:
        _errno_cell = _host_errno_cell()


def _start_watcher(errno_cell: bool = True) -> None:
    import _thread
    if errno_cell:
        _want_errno_cell()
    r, w = os.pipe()
    os.set_blocking(w, False)
    r, w = proc.fds.reserve(r), proc.fds.reserve(w)
    proc.sig.wake_fds = (r, w)
    hs.set_wakeup_fd(w, warn_on_full_buffer=False)
    # The thread must not take process signals: block everything while it starts.
    old = _sigmask(hs.SIG_BLOCK, _ALL_HOST)
    try:
        _thread.start_new_thread(_watch, (r, proc.cpu))
    finally:
        _sigmask(hs.SIG_SETMASK, old)
    proc.sig.watcher = True


def _sync_host(sig: int) -> None:
    """Make the host disposition of `sig` follow the guest's."""
    h = TO_HOST.get(sig)
    if h is None or sig in (SIGKILL, SIGSTOP) or sig in _SYNC:
        if h is None and proc.sig.actions[sig][0] > SIG_IGN:
            _want_errno_cell()      # handled, reached through the inbox: it interrupts
        return
    handler = proc.sig.actions[sig][0]
    if proc.sig.catch & bit(sig):
        target = _on_host_signal            # caught for a waiter, whatever the guest's action
    elif handler == SIG_IGN or sig in (SIGPIPE, SIGXFSZ):
        # SIGPIPE and SIGXFSZ are always ignored on the host: writes get EPIPE
        # or EFBIG, and the emulator raises the signal for the guest (the write
        # handlers through proc.post_signal, `_file_too_big` for EFBIG).  The
        # emulator's own writes (records, inboxes) then fail instead of killing
        # it when a guest has set RLIMIT_FSIZE to 0, as sshd's sandbox does.
        target = hs.SIG_IGN
    elif handler == SIG_DFL:
        target = hs.SIG_DFL
    else:
        if not proc.sig.watcher:
            _start_watcher()
        _want_errno_cell()
        target = _on_host_signal
    try:
        hs.signal(h, target)
    except (OSError, ValueError, RuntimeError):
        pass


class child_wait:
    """Context for a host wait4/waitid: SIGCHLD is held back during the wait.

    A child's exit both ends the wait and raises SIGCHLD; interrupting the wait
    for it would lose the reaped status.  The signal is taken after the wait.
    """

    def __enter__(self):
        h = TO_HOST.get(SIGCHLD)
        self.held = h is not None and proc.sig.actions[SIGCHLD][0] > SIG_IGN
        if self.held:
            _sigmask(hs.SIG_BLOCK, {h})
        return self

    def __exit__(self, *exc):
        if self.held:
            proc.sig.hold = True
            try:
                _sigmask(hs.SIG_SETMASK, host_set(proc.sig.mask))
            finally:
                proc.sig.hold = False
        return False


def set_mask(mask: int) -> None:
    """Set the guest's blocked mask and mirror it into the host thread mask."""
    mask &= ~UNBLOCKABLE
    proc.sig.mask = mask
    if proc.sig.watched and not KERNEL_QUEUE:
        _reroute()                  # the watcher's catch follows, in a safe order
    else:
        _sigmask(hs.SIG_SETMASK, host_set(mask))
    if proc.sig.pending & ~mask:
        proc.sig.undelivered = True
        proc.cpu.pending = True


# ----- waiters: signalfd and sigtimedwait (see the module doc) ----------------------------


def notify_waiters() -> None:
    """The pending set changed: give each waiter its byte, or take it back."""
    st = proc.sig
    if not st.waiters:
        return
    if KERNEL_QUEUE and st.watched:
        _pull(st.watched)
    sigwaiters.sync_all(_pending_now)


def _pending_now() -> int:
    return proc.sig.pending


def _pull(mask: int) -> None:
    """KERNEL_QUEUE: move host-pending signals of `mask` into the pending set, with their siginfo."""
    hosts = host_set(mask & ROUTABLE)
    if not hosts:
        return
    for h in sorted(hostsig.pending() & hosts):
        raw = hostsig.take(h)
        if raw is not None:
            sig = to_linux(h)
            _enqueue(sig, struct.pack("<i", sig) + raw[4:SIGINFO_SIZE])


def take(mask: int, limit: int = 1) -> list[bytes]:
    """Dequeue up to `limit` pending signals of `mask` (lowest first, faults before
    the rest: Linux's dequeue_signal); their siginfo.  They are consumed, not delivered."""
    st = proc.sig
    if KERNEL_QUEUE:
        _pull(mask)
    out = []
    while len(out) < limit:
        ready = st.pending & mask
        if not ready:
            break
        if ready & _SYNCHRONOUS:
            ready &= _SYNCHRONOUS
        sig = (ready & -ready).bit_length()
        out.append(_take_pending(sig))
    if out and st.waiters:
        notify_waiters()
    return out


def host_pending(mask: int) -> int:
    """The signals of `mask` pending in the host kernel (not yet in the pending set)."""
    return linux_mask(hostsig.pending()) & mask


def settle(mask: int, limit: float = 0.1) -> None:
    """Portable branch: let the signals of `mask` the watcher is about to catch (still
    pending in the host kernel) reach the pending set before a non-blocking answer."""
    if KERNEL_QUEUE:
        return
    hosts = host_set(mask & proc.sig.catch)
    if not hosts:
        return
    deadline = time.monotonic() + limit
    while hostsig.pending() & hosts and time.monotonic() < deadline:
        time.sleep(0.0005)
    time.sleep(0)                   # a call: the Python-level handlers run


def waiters_changed() -> None:
    """sigwaiters.on_change: route the watched signals to the waiters anew."""
    st = proc.sig
    st.watched = sigwaiters.watched() & ROUTABLE
    if KERNEL_QUEUE:
        _kernel_watch()
    else:
        _reroute(set_main=False)
    notify_waiters()


def needs_exact_stops() -> bool:
    """True while the guest handles a signal that can arrive asynchronously
    and the engine cannot be stopped exactly from another thread.

    Delivering such a signal to a guest that computes without syscalls means
    stopping the CPU from another thread.  Where the engine keeps its exit
    checks after memory accesses (Cpu.exact_async_stop is False: another
    unicorn, gdb attached, Apple silicon), uc_emu_stop alone is not exact:
    unicorn then also honours a stop after a guest load or store and resumes
    at the start of that instruction, so the access runs twice (`ldr x0,
    [x0]` follows the list one node too far).  So while a handler is
    installed, runs there carry the block hook of runtime/preempt.py and the
    watcher asks *it* to stop the run where a block starts (runtime/threads.py
    `start`, the run loop).  Without a handler an asynchronous signal ends or
    stops the process, or is ignored, and no instruction runs again after it.
    The CPU's own faults (_SYNC) are exact: they do not count."""
    if proc.cpu.exact_async_stop:
        return False
    actions = proc.sig.actions
    return any(actions[s][0] > SIG_IGN for s in _ASYNC_SIGNALS)


_ASYNC_SIGNALS = frozenset(range(1, NSIG + 1)) - _SYNC - {SIGKILL, SIGSTOP}


def action_changed(sig: int) -> None:
    """rt_sigaction changed `sig`'s action: the host disposition follows."""
    _sync_host(sig)
    if (proc.threads.unbounded and proc.cpu.stop_reason is None and not proc.cpu.exact_async_stop
            and proc.sig.actions[sig][0] > SIG_IGN and sig in _ASYNC_SIGNALS):
        # A run without the block hook is under way: end it here, exactly (this is
        # the rt_sigaction syscall), so that the next run has the hook.
        proc.cpu.stop("resched")
    if sig == SIGCHLD and proc.sig.watched and not KERNEL_QUEUE:
        _reroute(set_main=False)    # SIGCHLD ignored: never caught (SIG_IGN reaps children)


def follow_mask() -> None:
    """proc.sig.mask was set without set_mask (sigsuspend swaps the host mask itself):
    the watcher's catch follows it."""
    if proc.sig.watched and not KERNEL_QUEUE:
        _reroute(set_main=False)


def _reroute(set_main: bool = True) -> None:
    """Portable branch: catch exactly the watched signals the guest blocks.

    The watcher stops catching a signal before the main thread unblocks it,
    and starts after the main thread blocked it, so no signal ever finds both
    threads willing (a process signal the watcher took while the main thread
    waited for it in a host call would never wake that call).
    """
    st = proc.sig
    mask = st.mask
    catch = st.watched & _CATCHABLE & mask
    if st.actions[SIGCHLD][0] == SIG_IGN:
        catch &= ~bit(SIGCHLD)
    old = st.catch
    gone, new = old & ~catch, catch & ~old
    if gone:
        st.catch = old & catch
        _ack_catch()
        for sig in _signals_of(gone):
            _sync_host(sig)         # back to the guest's own disposition
    if set_main:
        _sigmask(hs.SIG_SETMASK, host_set(mask))
    if new:
        st.catch = catch
        for sig in _signals_of(new):
            _sync_host(sig)         # the queueing handler first, then the watcher unblocks
        _ack_catch()


def _signals_of(mask: int) -> list[int]:
    return [s for s in range(1, NSIG + 1) if mask & bit(s)]


def _ack_catch() -> None:
    """Publish `catch` to the watcher thread and wait until its host mask has it."""
    st = proc.sig
    st.catch_hosts = frozenset(host_set(st.catch))
    st.catch_gen += 1
    gen = st.catch_gen
    if not st.watcher:
        if not st.catch:
            return                  # a watcher starts with everything blocked
        _start_watcher()
    try:
        os.write(st.wake_fds[1], b"\0")
    except OSError:
        pass                        # full: the watcher has bytes to read anyway
    deadline = time.monotonic() + 2.0
    while st.catch_applied < gen and time.monotonic() < deadline:
        time.sleep(0.0002)


def _kernel_watch() -> None:
    """KERNEL_QUEUE: a host signalfd over the watched signals, polled by a helper thread."""
    st = proc.sig
    hosts = host_set(st.watched)
    if st.host_sigfd >= 0:
        hostsig.signalfd(st.host_sigfd, hosts)
        return
    if not hosts:
        return
    fd = proc.fds.reserve(hostsig.signalfd(-1, hosts))
    st.host_sigfd = fd
    import _thread
    old = _sigmask(hs.SIG_BLOCK, _ALL_HOST)
    try:
        _thread.start_new_thread(_kernel_watcher, (fd,))
    finally:
        _sigmask(hs.SIG_SETMASK, old)


def _kernel_watcher(fd: int) -> None:
    """Helper thread: each new host signal the signalfd watches wakes the waiters."""
    import select
    first = select.epoll()
    # The emulator's own epoll fd lives in the reserved range, out of the guest's.
    ep = select.epoll.fromfd(proc.fds.reserve(os.dup(first.fileno())))
    first.close()
    ep.register(fd, select.EPOLLIN | select.EPOLLET)
    while True:
        try:
            ep.poll()
        except OSError:
            return
        if proc.sig.host_sigfd != fd:
            return
        sigwaiters.wake_mask(linux_mask(hs.sigpending()))


sigwaiters.on_change = waiters_changed


def setup(carried: dict | None = None) -> None:
    """Install the signals layer into the process (once per process image)."""
    proc.signal_hook = post
    proc.after_syscall = deliver_pending
    proc.cpu.on_file_too_big = _file_too_big
    proc.on_guest_fault = on_fault
    table = proc.syscalls
    if table is not None:
        _interruptible_codes.update(table.interruptible)
        _no_restart_nrs.update(table.no_restart)
    _open_inbox(fresh=carried is None and not proc.nested)
    if carried is not None:
        restore(carried)
        _on_wake(WAKE, None)        # what other guests posted while the image changed
        return
    # Inherit what the host process was started with: ignored signals and the mask.
    acts = proc.sig.actions
    for sig, h in TO_HOST.items():
        if sig in (SIGPIPE, 25):       # Python itself set these to SIG_IGN at start-up
            continue
        try:
            if hs.getsignal(h) == hs.SIG_IGN:
                acts[sig] = (SIG_IGN, 0, 0, 0)
        except (ValueError, OSError):
            pass
    # 32 and 33, which Python cannot see: GNU make, for one, starts its
    # commands with both ignored, and a native program sees that.
    for sig in procinfo.ignored_libc_signals():
        acts[sig] = (SIG_IGN, 0, 0, 0)
    if acts[SIGINT][0] != SIG_IGN:
        hs.signal(hs.SIGINT, hs.SIG_DFL)     # not Python's KeyboardInterrupt
    proc.sig.mask = linux_mask(_sigmask(hs.SIG_BLOCK, []))


# ----- the inbox (runtime/siginbox.py) -------------------------------------------------

WAKE = siginbox.WAKE


def _open_inbox(fresh: bool) -> None:
    """Every image: the wake-up handler, then the inbox other guests post to, and
    the watcher that stops a CPU-bound guest when the wake-up signal arrives."""
    hs.signal(WAKE, _on_wake)
    if fresh:
        siginbox.sweep()
    siginbox.open_own(fresh)
    if siginbox.remove_own not in proc.exit_hooks:
        proc.exit_hooks.append(siginbox.remove_own)
    if not proc.sig.watcher:
        _start_watcher(errno_cell=False)


def exec_prepare(going: bool) -> None:
    """Around the host execve: the wake-up signal is ignored until the new image
    installs its handler (its default would end the process); the records it
    brings wait in the inbox.  going=False: the execve failed."""
    hs.signal(WAKE, hs.SIG_IGN if going else _on_wake)


# ----- exec and fork -------------------------------------------------------------------


def exec_state() -> dict:
    """What survives execve: ignored signals stay ignored, handled ones become default."""
    ignored = [s for s in range(1, NSIG + 1) if proc.sig.actions[s][0] == SIG_IGN]
    return {"ignored": ignored, "mask": proc.sig.mask, "pending": proc.sig.pending,
            "infos": {s: list(q) for s, q in proc.sig.infos.items()}}


def after_exec() -> None:
    """An in-process execve: handled signals go back to their default action, ignored ones
    stay ignored (flags and masks of both cleared); the alternate stack and the signal
    return page went with the old image.  The mask and the pending set stay."""
    st = proc.sig
    for s in range(1, NSIG + 1):
        act = st.actions[s]
        if act[0] == SIG_IGN:
            st.actions[s] = (SIG_IGN, 0, 0, 0)
        elif act != (SIG_DFL, 0, 0, 0):
            st.actions[s] = (SIG_DFL, 0, 0, 0)
            _sync_host(s)
    st.altstack = (0, SS_DISABLE, 0)
    st.trampoline = 0
    st.saved_mask = None
    st.interrupted = False
    st.restart_x0 = st.restart_nr = 0
    if st.pending:
        st.undelivered = True


def restore(state: dict) -> None:
    for s in state["ignored"]:
        proc.sig.actions[s] = (SIG_IGN, 0, 0, 0)
    for s in range(1, NSIG + 1):
        if proc.sig.actions[s][0] == SIG_IGN or s in (SIGINT, 25):
            _sync_host(s)
    proc.sig.mask = state["mask"]
    proc.sig.pending = state["pending"]
    proc.sig.infos = {s: deque(q) for s, q in state["infos"].items()}
    proc.sig.queued = sum(len(q) for q in proc.sig.infos.values())
    if proc.sig.pending:
        proc.sig.undelivered = True
        proc.cpu.pending = True
    if sigwaiters.adopt():          # signalfds carried across execve
        waiters_changed()


def after_fork_child() -> None:
    """In a fork child: no pending signals (Linux), and a watcher of our own."""
    st = proc.sig
    st.pending, st.infos, st.queued = 0, {}, 0
    st.interrupted = False
    if st.watcher:
        for fd in st.wake_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        st.watcher = False
        _start_watcher(errno_cell=_errno_cell is not None)
    siginbox.open_own(fresh=False)   # (the parent made the file before fork returned there)
    if st.host_sigfd >= 0:          # the parent's helper thread is not here
        os.close(st.host_sigfd)
        st.host_sigfd = -1
    if st.waiters:
        sigwaiters.after_fork()
        if KERNEL_QUEUE:
            _kernel_watch()
        elif st.catch:
            _ack_catch()            # the new watcher thread starts with everything blocked


# ----- delivery ---------------------------------------------------------------------

FRAME_SIZE = 128 + 4560          # sizeof(struct rt_sigframe) on arm64
UC_OFF = 128                     # ucontext inside the frame
MCTX_OFF = UC_OFF + 176          # uc_mcontext (16-aligned after the 1024-bit sigset area)
RESERVED_OFF = MCTX_OFF + 288    # sigcontext.__reserved
FPSIMD_MAGIC, FPSIMD_SIZE = 0x46508001, 528
_UC_HEAD = struct.Struct("<QQQi4xQQ")   # uc_flags, uc_link, ss_sp, ss_flags, ss_size, uc_sigmask
_MCTX = struct.Struct("<Q31QQQQ")       # fault_address, regs[31], sp, pc, pstate
_FPHEAD = struct.Struct("<IIII")        # magic, size, fpsr, fpcr
_REG_IDS = GPR_IDS + [REG_SP, REG_PC, REG_NZCV, REG_FPSR, REG_FPCR]


def _trampoline() -> int:
    """A guest page holding `mov x8, #139; svc #0` (Linux's vdso sigreturn)."""
    if not proc.sig.trampoline:
        mem = proc.mem
        addr = mem.find_free(4096)
        mem.map(addr, 4096, 3, "[sigpage]")
        mem.write(addr, struct.pack("<II", 0xD2801168, 0xD4000001))
        mem.protect(addr, 4096, 5)
        proc.sig.trampoline = addr
    return proc.sig.trampoline


def on_altstack(sp: int) -> bool:
    base, flags, size = proc.sig.altstack
    return not (flags & SS_DISABLE) and size and base < sp <= base + size


def _setup_frame(sig: int, info: bytes, act: tuple, fault_addr: int = 0) -> None:
    handler, flags, restorer, amask = act
    cpu, mem = proc.cpu, proc.mem
    regs = cpu.regs(_REG_IDS)
    sp = regs[31]
    if flags & SA_ONSTACK and not on_altstack(sp) and not (proc.sig.altstack[1] & SS_DISABLE) \
            and proc.sig.altstack[2]:
        sp = proc.sig.altstack[0] + proc.sig.altstack[2]
    altstack = proc.sig.altstack
    if flags & SA_ONSTACK and proc.sig.altstack[1] & SS_AUTODISARM:
        proc.sig.altstack = (0, SS_DISABLE, 0)
    record = (sp - 16) & ~15                 # frame record: fp, lr
    frame = record - FRAME_SIZE
    old_mask = proc.sig.mask if proc.sig.saved_mask is None else proc.sig.saved_mask
    proc.sig.saved_mask = None
    ss_flags = altstack[1] | (SS_ONSTACK if on_altstack(regs[31]) else 0)
    buf = bytearray(FRAME_SIZE)
    buf[0:SIGINFO_SIZE] = info[:SIGINFO_SIZE]
    _UC_HEAD.pack_into(buf, UC_OFF, 0, 0, altstack[0], ss_flags, altstack[2], old_mask)
    _MCTX.pack_into(buf, MCTX_OFF, fault_addr, *regs[:31], regs[31], regs[32], regs[33] & 0xF0000000)
    _FPHEAD.pack_into(buf, RESERVED_OFF, FPSIMD_MAGIC, FPSIMD_SIZE, regs[34] & 0xFFFFFFFF,
                      regs[35] & 0xFFFFFFFF)
    buf[RESERVED_OFF + 16:RESERVED_OFF + 16 + 512] = b"".join(cpu.vregs())
    # terminating null record follows (already zero)
    mem.write(frame, buf)
    mem.write(record, struct.pack("<QQ", regs[29], regs[30]))
    lr = restorer if flags & SA_RESTORER else _trampoline()
    ids = [REG_X0, REG_SP, REG_PC, xreg(29), xreg(30)]
    vals = [sig, frame, handler, record, lr]
    if flags & SA_SIGINFO:
        ids += [xreg(1), xreg(2)]
        vals += [frame, frame + UC_OFF]
    cpu.set_regs(ids, vals)
    new_mask = old_mask | amask
    if not flags & SA_NODEFER:
        new_mask |= bit(sig)
    if flags & SA_RESETHAND and sig not in (SIGKILL, SIGSTOP):
        proc.sig.actions[sig] = (SIG_DFL, 0, 0, 0)
        _sync_host(sig)
    set_mask(new_mask)


def sigreturn() -> None:
    """rt_sigreturn: restore registers, FP state, mask and altstack from the frame at SP."""
    cpu, mem = proc.cpu, proc.mem
    frame = cpu.reg(REG_SP)
    if frame & 15:
        raise_fault()
        return
    raw = mem.read(frame, FRAME_SIZE)
    _flags, _link, ss_sp, ss_flags, ss_size, mask = _UC_HEAD.unpack_from(raw, UC_OFF)
    m = _MCTX.unpack_from(raw, MCTX_OFF)
    regs = list(m[1:32])
    sp, pc, pstate = m[32], m[33], m[34]
    ids = list(GPR_IDS) + [REG_SP, REG_PC, REG_NZCV]
    vals = regs + [sp, pc, pstate & 0xF0000000]
    # Walk the records for the fpsimd context.
    off = RESERVED_OFF
    end = MCTX_OFF + 288 + 4096
    while off + 8 <= end:
        magic, size = struct.unpack_from("<II", raw, off)
        if magic == 0 or size == 0:
            break
        if magic == FPSIMD_MAGIC and size >= FPSIMD_SIZE:
            _m, _s, fpsr, fpcr = _FPHEAD.unpack_from(raw, off)
            ids += [REG_FPSR, REG_FPCR]
            vals += [fpsr, fpcr]
            v = raw[off + 16:off + 16 + 512]
            cpu.set_vregs([bytes(v[i * 16:i * 16 + 16]) for i in range(32)])
        off += size
    cpu.set_regs(ids, vals)
    # restore_altstack: errors are ignored, as Linux
    if not on_altstack(sp) and (ss_flags & SS_DISABLE or ss_size >= 2048):
        proc.sig.altstack = (ss_sp, ss_flags & (SS_DISABLE | SS_AUTODISARM), ss_size)
    set_mask(mask)


def raise_fault() -> None:
    """The guest gave rt_sigreturn a bad frame: SIGSEGV, forced."""
    _terminate(SIGSEGV)


def _terminate(sig: int, generated: bool = False) -> None:
    status = proc.terminate_by_signal(sig, generated)
    proc.cpu.exit_status = status
    proc.cpu.stop("exit")


def _default_action(sig: int) -> bool:
    """Apply the default action; True if the process goes on."""
    if sig in _DFL_IGNORE or sig == SIGCONT:
        return True
    if sig in _DFL_STOP:
        # A stop another guest sent through the inbox (a member of the
        # execution token) may have been followed by a SIGCONT the host
        # delivered while this process still ran: its mark is in the inbox.
        _on_wake(WAKE, None)
        if _continues == _stop_epoch:
            os.kill(os.getpid(), hs.SIGSTOP)
        return True
    _terminate(sig, generated=True)
    return False


# Set by elfuse_py.runtime.threads while several threads exist: picks which thread
# takes process-directed signals before the running one looks at them.
before_delivery = None


def deliver_pending() -> None:
    """Deliver deliverable pending signals (after a syscall, or when the run loop regained control)."""
    cpu = proc.cpu
    if cpu.stop_reason == "exec":
        return          # (execve's own syscall) the new image takes them: the run loop calls again
    cpu.pending = False
    if before_delivery is not None:
        before_delivery()              # threads.steer: the main thread's turn first
    interrupted = proc.sig.interrupted
    took = False
    while True:
        ready = proc.sig.pending & ~proc.sig.mask
        if not ready:
            break
        sig = (ready & -ready).bit_length()
        took = True
        info = _take_pending(sig)
        if proc.debugger is not None:
            # A debugger sees each signal first: it may discard it or hand another.
            shown = proc.debugger.on_signal(sig)
            if shown != sig:
                if not shown:
                    continue
                sig, info = shown, _si(shown, SI_USER)
        act = proc.sig.actions[sig]
        handler = act[0]
        if handler == SIG_IGN:
            continue
        if proc.sig.on_deliver is not None:
            proc.sig.on_deliver(sig, info)
        if handler == SIG_DFL:
            if not _default_action(sig):
                proc.sig.undelivered = False
                return
            continue
        if interrupted:
            interrupted = False
            proc.sig.interrupted = False
            if act[1] & SA_RESTART and proc.sig.restart_nr not in _no_restart_nrs:
                _rewind()
        _setup_frame(sig, info, act)
    if interrupted:
        # Interrupted, but no handler ran in the end: restart transparently.
        proc.sig.interrupted = False
        if proc.sig.restart_nr not in _no_restart_nrs:
            _rewind()
    if proc.sig.saved_mask is not None:
        m, proc.sig.saved_mask = proc.sig.saved_mask, None
        set_mask(m)
    if took and proc.sig.waiters:
        notify_waiters()
    proc.sig.undelivered = False


def _rewind() -> None:
    """Re-run the interrupted syscall: back to the svc with its original X0."""
    cpu = proc.cpu
    cpu.set_regs([REG_PC, REG_X0], [cpu.reg(REG_PC) - 4, proc.sig.restart_x0])


# si_code of a CPU fault that is not a refused memory access, as arm64 Linux
# gives it: ILL_ILLOPC for an undefined instruction (do_undefinstr),
# TRAP_BRKPT, BUS_ADRALN, FPE_INTDIV; anything else SI_KERNEL.
_FAULT_CODE = {4: 1, 5: 1, 7: 1, 8: 1}
SEGV_MAPERR, SEGV_ACCERR = 1, 2


def on_fault(sig: int, fault_addr: int | None = None) -> bool:
    """A CPU fault raised `sig`: run the guest's handler if it has one (forced, as Linux).

    `fault_addr` is the (engine page of the) address of a refused load or store,
    or None when the fault was no memory access: si_addr is then the PC."""
    act = proc.sig.actions[sig]
    pc = proc.cpu.reg(REG_PC)
    if fault_addr is None:
        code = SEGV_MAPERR if sig == SIGSEGV else _FAULT_CODE.get(sig, 0x80)
        addr, fault_addr = pc, 0
    else:
        from elfuse_py.runtime.faults import exact_fault_addr
        addr = fault_addr = exact_fault_addr(proc, fault_addr)
        code = SEGV_MAPERR if proc.mem.region_at(addr) is None else SEGV_ACCERR
    info = (SIGINFO.pack(sig, 0, code) + struct.pack("<Q", addr)).ljust(SIGINFO_SIZE, b"\0")
    if proc.sig.on_deliver is not None:
        proc.sig.on_deliver(sig, info)
    if act[0] <= SIG_IGN or proc.sig.mask & bit(sig):
        # Blocked or ignored synchronous faults kill the process (force_sig_fault).
        return False
    _setup_frame(sig, info, act, fault_addr)
    return True
