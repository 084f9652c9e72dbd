"""Guest threads: per-thread CPU contexts, futex wait queues and the scheduler.

One unicorn engine runs every guest thread of the process, one at a time
(guest threads are serialised; there is no true parallelism).  Each thread
owns a saved CPU context (uc_context_save/restore: all registers, FP/SIMD
state, TPIDR_EL0 and the exclusive monitor's address/value, so LDXR/STXR
pairs interrupted by a switch fail their store-exclusive and retry, as on a
real CPU), a tid, its clear_child_tid address, its signal mask, altstack and
thread-directed pending signals.

Switches happen only in the run loop (runtime/runloop.py), never inside the syscall
hook: a handler that blocks (futex WAIT, nanosleep, sched_yield, thread exit)
records why and calls ``cpu.stop("switch")``; while several threads exist,
each uc_emu_start runs for one time slice, ended at a translated block's
start by a native block hook (runtime/preempt.py; counted slices of
SLICE_INSNS instructions where that hook cannot be made), so CPU-bound
threads share the CPU - but only while another thread may need the CPU
(`start`): a thread that runs while the others wait without a timeout (a
join, a lock, a condition variable) runs unbounded, at the speed of a
single-threaded process, and the syscall that makes another thread runnable
ends that run (`_kick`).  `switch()` then saves the
current context, picks the next runnable thread round-robin (or, when every
thread waits, sleeps until the nearest timeout or a signal) and restores it.

Thread ids: the main thread's tid is the host pid (Linux: tid == pid for the
leader).  Other threads get TID_BASE + n.  TID_BASE is Linux's PID_MAX_LIMIT
(2^22), above every pid a Linux host hands out, so a guest tid never names
an unrelated host process; tids stay below 2^30 (FUTEX_TID_MASK).

Host calls that would block (read on an empty pipe or socket, accept, recv,
send on a full socket, ppoll/pselect6/epoll_pwait with nothing ready, wait4,
connect, sigsuspend, flock...) do not block the host while other guest
threads exist: syscalls/parking.py checks readiness first and, if the call
would wait, parks the thread (`wait_fds`) on its host fds and/or a periodic
`check`; when ready the thread *restarts* the syscall (PC back on the SVC, X0
restored), so the handler runs again and finds it ready - or an `on_ready`
continuation finishes it (the rest of a big write).  While every thread
waits, `_idle` sleeps in a host poll on those fds.

Signals: a thread-directed signal (tgkill) interrupts that thread's wait; a
process-directed one goes to the main thread first when it does not block it
(`steer`, Linux's complete_signal), and an interrupted fd wait is restarted by
delivery when the handler has SA_RESTART.

Mode switches: adding or removing the slices' hook drops every translated
block; preempt.SlicePolicy keeps slices on a while after they were last
needed, so that switching stays rare (`start`).

Remaining limitation: calls not listed in syscalls/parking.py's WRAP table
(filled by it and syscalls/parked_*.py) still block every guest thread.
"""
from __future__ import annotations

import os
import time

from elfuse_py.runtime import lerrno, signals, sigwaiters
from elfuse_py.runtime.cpu import REG_PC, REG_SP, REG_TPIDR_EL0, REG_X0, xreg
from elfuse_py.runtime.preempt import BlockPreempter, SlicePolicy
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.threadstate import DEAD, FUTEX_BITSET_ANY, RUN, WAIT, Thread  # noqa: F401
from elfuse_py.runtime.uc import check, ffi, flush_tb_cache, lib

NEVER = (1 << 64) - 1      # uc_emu_start's `until`: no address stops it
SLICE_INSNS = int(os.environ.get("ELFUSE_SLICE_INSNS", "200000"))   # one time slice
TID_BASE = 1 << 22          # Linux PID_MAX_LIMIT on 64-bit: no host pid reaches it
IDLE_POLL = 0.01            # when every thread waits: how often signals/shared futexes are checked
MASK64 = (1 << 64) - 1
_REG_X8 = xreg(8)



# ----- state ------------------------------------------------------------------------

T = proc.threads     # this process's ThreadTable (runtime/threadstate.py)


def multi() -> bool:
    """True when the process has more than one live thread."""
    return len(T.live) > 1


def sliced() -> bool:
    """True while time slices are on (the block hook, or counted slices): the
    run loop then lets `start` decide, also for a process that is
    single-threaded again, so that slices go off only as SlicePolicy says
    (each switch of mode retranslates the guest's hot code)."""
    return T.counted or bool(T.preempter and T.preempter.installed)


def gettid() -> int:
    return T.current.tid if T.current is not None else os.getpid()


def _ensure_main() -> Thread:
    """Create the Thread record of the main (so far only) thread on first use."""
    if T.current is None:
        st = proc.sig
        t = Thread(os.getpid())
        t.mask, t.altstack = st.mask, st.altstack
        t.clear_child_tid = proc.clear_child_tid
        T.live[t.tid] = t
        T.current = t
    return T.current


def _new_ctx():
    p = ffi.new("uc_context **")
    check(lib.uc_context_alloc(proc.cpu.uc, p), "uc_context_alloc")
    return p


# ----- clone / exit -----------------------------------------------------------------------

def clone_thread(flags: int, newsp: int, ptid: int, tls: int, ctid: int,
                 settls: bool, parent_settid: bool, child_settid: bool, child_cleartid: bool) -> int:
    """clone(CLONE_VM|CLONE_THREAD|...): a new guest thread; returns its tid to the parent."""
    parent = _ensure_main()
    if len(T.live) >= 4096:
        return -lerrno.EAGAIN
    tid = TID_BASE + T.next_tid
    while tid in T.live:
        T.next_tid += 1
        tid = TID_BASE + T.next_tid
    T.next_tid += 1
    mem = proc.mem
    # Linux writes the tids before the child runs; a bad pointer fails the clone.
    if parent_settid:
        mem.put_u32(ptid, tid)
    if child_settid:
        mem.put_u32(ctid, tid)
    uc = proc.cpu.uc
    t = Thread(tid)
    t.ctx = _new_ctx()
    check(lib.uc_context_save(uc, t.ctx[0]), "uc_context_save")
    val = ffi.new("uint64_t *")
    for reg, v in ((REG_X0, 0), (REG_SP, newsp), (REG_TPIDR_EL0, tls)):
        if reg == REG_SP and not newsp:
            continue
        if reg == REG_TPIDR_EL0 and not settls:
            continue
        val[0] = v & MASK64
        lib.uc_context_reg_write(t.ctx[0], reg, val)
    st = proc.sig
    t.mask = st.mask
    t.altstack = (0, 2, 0)           # a CLONE_VM child starts without an altstack
    t.clear_child_tid = ctid if child_cleartid else 0
    T.live[tid] = t
    T.runq.append(t)
    _kick()
    if len(T.live) == 2:
        signals.before_delivery = steer
        for hook in T.on_multi:
            hook()
    return tid


def exit_thread(status: int) -> None:
    """exit(2): end the calling thread only; the last thread's exit ends the process."""
    t = _ensure_main()
    for hook in T.on_exit:           # robust and PI futexes first, as Linux's mm_release
        hook(t.tid)
    T.robust.pop(t.tid, None)
    ctid = proc.clear_child_tid
    if ctid:
        try:
            proc.mem.put_u32(ctid, 0)
            wake(ctid, 1, FUTEX_BITSET_ANY)
        except Exception:  # noqa: BLE001 - Linux ignores a bad clear_child_tid
            pass
    if t.tid == os.getpid():
        T.leader_status = status & 0xFF
    del T.live[t.tid]
    t.state = DEAD
    if not T.live:
        proc.exit(T.leader_status if T.leader_status is not None else status)
        return
    proc.cpu.stop("switch")


def after_fork_child() -> None:
    """In a fork child only the calling thread survives; it becomes the leader (tid = pid)."""
    if T.preempter and T.preempter.installed:
        # The child goes on with the parent's run, sliced, but the ticker thread that
        # ends slices did not come along: without one the run would end only when the
        # child blocks or a signal comes.
        T.preempter.install()
    if T.current is None:
        return
    t = T.current
    T.live.clear()
    T.runq.clear()
    T.waiters.clear()
    T.sleepers.clear()
    head = T.robust.get(t.tid)
    T.robust.clear()
    if head is not None:
        T.robust[os.getpid()] = head
    t.tid = os.getpid()
    t.sigpending = {}
    T.live[t.tid] = t
    T.preempt = False


def after_exec() -> None:
    """execve (Linux de_thread): every other thread is gone, and the calling one goes on
    alone as the leader (tid = pid), with its own mask and pending signals."""
    cur = T.current
    leader = T.live.get(os.getpid())
    if leader is not None and leader is not cur and leader.sigpending:
        _adopt(leader)              # process-directed signals steered to the leader stay the process's
    for t in T.live.values():
        if t.cleanup is not None:
            # A parked wait's emulator side (a helper's fd, a registered waiter) ends with it.
            cleanup, t.cleanup = t.cleanup, None
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - the thread is gone either way
                pass
        if t.ctx is not None:
            lib.uc_context_free(t.ctx[0])
            t.ctx = None
        t.state = DEAD
    T.live.clear()
    T.runq.clear()
    T.waiters.clear()
    T.sleepers.clear()
    T.robust.clear()
    T.current = None
    T.preempt = False
    T.next_check = None
    T.leader_status = None
    global _POLICY
    _POLICY = SlicePolicy()          # the new image's own history (a parent's long hold is not it)
    T.directed = 0
    signals.before_delivery = None


def find(tid: int) -> Thread | None:
    return T.live.get(tid)


def tkill(tid: int, sig: int, info: bytes) -> bool | None:
    """Queue `sig` for guest thread `tid`; False if there is no such thread,
    None if a real-time signal with a value found the queue full (EAGAIN)."""
    if T.current is None or (tid == T.current.tid and not T.in_switch):
        if tid != gettid():
            return False
        if not signals.queue(sig, info):
            return None
        T.directed |= signals.bit(sig)
        return True
    t = T.live.get(tid)
    if t is None:
        return False
    if signals.push(t.sigpending, sig, info) is False:
        return None
    if t.state == WAIT and not (t.mask & signals.bit(sig)):
        _interrupt(t)
    elif t.state == WAIT and t.pollset and sigwaiters.watches(t.pollset, sig):
        _unwait(t, None, restart=True)      # parked reading a signalfd that watches it
    return True


def steer() -> None:
    """Before the running thread takes process-directed signals: Linux hands one
    to the main thread first when the main thread does not block it
    (kernel/signal.c complete_signal/wants_signal), so a main thread waiting in
    pause(), sigsuspend, a lock or a read is the one interrupted, not whichever
    thread happens to run.  Move those signals to the main thread (waking it)."""
    if T.current is None or len(T.live) < 2:
        return
    leader = T.live.get(os.getpid())
    if leader is None or leader is T.current:
        return
    st = proc.sig
    movable = st.pending & ~leader.mask & ~T.directed & ~signals.bit(signals.SIGKILL)
    if not movable:
        return
    while movable:
        low = movable & -movable
        movable &= ~low
        sig = low.bit_length()
        st.pending &= ~low
        fifo = st.infos.pop(sig, None)
        if fifo:
            mine = leader.sigpending.get(sig)
            if mine is None:
                leader.sigpending[sig] = fifo
            elif sig >= signals.SIGRTMIN_KERNEL:
                mine.extend(fifo)
            else:
                st.queued -= len(fifo)     # a standard signal already pending there: merged
    if leader.state == WAIT:
        _interrupt(leader)


# ----- blocking --------------------------------------------------------------------------

def _block(key: int | None, bitset: int, deadline: int | None, timeout_result: int,
           shared_val: int | None = None) -> int | None:
    """Park the T.current thread (result None) or return -EINTR if a signal is deliverable now."""
    st = proc.sig
    cpu = proc.cpu
    t = T.current
    if st.pending & ~st.mask:
        return -lerrno.EINTR
    t.state = WAIT
    t.key, t.bitset, t.deadline = key, bitset, deadline
    t.timeout_result, t.shared_val = timeout_result, shared_val
    t.result = None
    # If a signal frame gets set up after this handler (a signal raced in),
    # it records -EINTR as the syscall's result; switch() sees the PC moved.
    cpu.set_reg(REG_X0, -lerrno.EINTR)
    t.block_pc = cpu.reg(REG_PC)
    _note_check(deadline)
    if shared_val is not None:
        _note_check(_time_ns() + int(IDLE_POLL * 1e9))
    if key is None:
        T.sleepers.append(t)
    else:
        T.waiters.setdefault(key, []).append(t)
    cpu.stop("switch")
    return None


def _interrupt(t: Thread) -> None:
    """A signal the waiting thread `t` does not block arrived: end its wait with
    EINTR (or its on_eintr result: a partial write's count).  A plain fd wait
    keeps its syscall's X0 so that, if the handler has SA_RESTART, delivery
    re-runs the call (signals.deliver_pending's restart), as Linux would."""
    if t.on_eintr is not None:
        _unwait(t, _result(t.on_eintr))
        return
    x0 = t.restart_x0 if t.pollset is not None else None
    _unwait(t, -lerrno.EINTR)
    t.sig_restart_x0 = x0


def _unwait(t: Thread, result: int | None, restart: bool = False) -> None:
    """Make waiting thread `t` runnable with syscall result `result` (or, for an fd
    wait whose fds became ready, `restart` its syscall)."""
    t.pollset = None
    t.on_timeout = None
    t.check = None
    t.on_ready = None
    t.on_eintr = None
    if t.cleanup is not None:
        cleanup, t.cleanup = t.cleanup, None
        try:
            cleanup()
        except Exception:  # noqa: BLE001 - closing an emulator fd: nothing the guest sees
            pass
    if not restart:
        t.restart_x0 = None
    if t.key is None:
        try:
            T.sleepers.remove(t)
        except ValueError:
            pass
    else:
        q = T.waiters.get(t.key)
        if q is not None:
            try:
                q.remove(t)
            except ValueError:
                pass
            if not q:
                del T.waiters[t.key]
    if t.waitv is not None:
        for k in t.waitv:
            q = T.waiters.get(k)
            if q is not None and t in q:
                q.remove(t)
                if not q:
                    del T.waiters[k]
        t.waitv = None
    t.pi = False
    t.state = RUN
    t.result = result
    t.key = None
    T.runq.append(t)
    _kick()


def _kick() -> None:
    """A thread became runnable.  If the running thread runs without slices
    (only it needed the CPU), end its run now, so that `start` turns them on:
    otherwise a thread that spins waiting for the new one would never let it
    run.  This runs in the running thread's syscall (clone, a futex wake, a
    kill), so the stop is exact: the run ends after the SVC."""
    if T.unbounded and proc.cpu.stop_reason is None:
        proc.cpu.stop("resched")


def futex_wait(uaddr: int, bitset: int, deadline: int | None, shared_val: int | None) -> int | None:
    """FUTEX_WAIT with several T.live: the value already matched; park until woken."""
    return _block(uaddr, bitset, deadline, -lerrno.ETIMEDOUT, shared_val)


def futex_wait_pi(uaddr: int, deadline: int | None) -> int | None:
    """FUTEX_LOCK_PI with several threads, the owner one of them: park until an
    unlock (or the owner's death) hands this thread the lock (`grant`)."""
    r = _block(uaddr, FUTEX_BITSET_ANY, deadline, -lerrno.ETIMEDOUT)
    if r is None:
        T.current.pi = True
    return r


def pi_waiters(uaddr: int) -> list:
    """The threads parked in FUTEX_LOCK_PI on `uaddr`, first come first."""
    return [t for t in T.waiters.get(uaddr, ()) if t.pi]


def grant(t: Thread) -> None:
    """Wake PI waiter `t`: the lock is its now (the futex word already says so)."""
    _unwait(t, 0)


def futex_waitv(keys: list[int], deadline: int | None) -> int | None:
    """futex_waitv with several threads: park on every address; a wake of any
    makes the result that address's index (see `wake`)."""
    r = _block(keys[0], FUTEX_BITSET_ANY, deadline, -lerrno.ETIMEDOUT)
    if r is None:
        t = T.current
        t.waitv = list(keys)
        for k in keys[1:]:
            T.waiters.setdefault(k, []).append(t)
    return r


def sleep_until(deadline_mono: int) -> int | None:
    """nanosleep with several T.live: let the others run until the deadline."""
    return _block(None, 0, deadline_mono, 0)


def wait_fds(pollset: dict[int, int], deadline: int | None, orig_x0: int,
             on_timeout=None, check=None, cleanup=None, on_ready=None,
             on_eintr=None) -> int | None:
    """A host call that would block, with several T.live: park until one of the
    host fds in `pollset` (fd -> host poll events) is ready, or `check()` (asked
    every IDLE_POLL) says so, then restart the syscall (its first argument was
    `orig_x0`) - or, with `on_ready`, call it instead: it continues the call
    (a write's next part) and gives the result, or None to wait again.
    At the CLOCK_MONOTONIC `deadline` the result is `on_timeout()` (or 0); a
    signal makes it `on_eintr()` (or -EINTR).  `cleanup()` runs once when the
    wait ends, however it ends.  Returns -EINTR (or `on_eintr()`) if a signal is
    deliverable now, else None (the thread is parked)."""
    r = _block(None, 0, deadline, 0)
    if r is not None:
        if cleanup is not None:
            cleanup()
        return r if on_eintr is None else _result(on_eintr)
    t = T.current
    t.on_ready = on_ready
    t.on_eintr = on_eintr
    t.pollset = pollset
    t.restart_x0 = orig_x0
    t.on_timeout = on_timeout
    t.check = check
    t.cleanup = cleanup
    _note_check(_time_ns() + int(IDLE_POLL * 1e9))
    return None


def _fds_ready(pollset: dict[int, int], timeout_ms: int = 0) -> bool:
    import select                   # (here: a plain run never polls, ~0.15 ms of start-up)
    p = select.poll()
    for fd, ev in pollset.items():
        p.register(fd, ev)
    try:
        return bool(p.poll(timeout_ms))
    except OSError:                 # EINTR and the like: have a look again later
        return False


def _result(fn) -> int | None:
    """A wait callback's syscall result: a host error becomes its Linux errno,
    guest memory gone -EFAULT (Linux's answer)."""
    try:
        return fn()
    except OSError as e:
        return -lerrno.to_linux(e.errno)
    except Exception:  # noqa: BLE001 - never unwind into the scheduler
        return -lerrno.EFAULT


def _checked(check) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - let the restarted syscall report the problem
        return True


def yield_() -> None:
    """sched_yield: go to the back of the run queue if another thread is runnable."""
    if T.runq:
        proc.cpu.stop("switch")


def wake(uaddr: int, n: int, bitset: int) -> int:
    """Wake up to `n` T.live waiting on `uaddr` whose bitset intersects `bitset`."""
    q = T.waiters.get(uaddr)
    if not q or n <= 0:
        return 0
    woken = 0
    for t in list(q):
        if woken >= n:
            break
        if t.pi:
            continue                 # a PI waiter gets the lock from an unlock, not a wake
        if t.bitset & bitset:
            _unwait(t, 0 if t.waitv is None else t.waitv.index(uaddr))
            woken += 1
    return woken


def requeue(uaddr: int, uaddr2: int, n_wake: int, n_requeue: int) -> int:
    """Wake `n_wake` T.waiters of uaddr, move up to `n_requeue` others to uaddr2; returns both counts."""
    woken = wake(uaddr, n_wake, FUTEX_BITSET_ANY)
    q = T.waiters.get(uaddr)
    moved = 0
    if q and n_requeue > 0 and uaddr2 != uaddr:
        dest = T.waiters.setdefault(uaddr2, [])
        for t in list(q):
            if moved >= n_requeue:
                break
            if t.pi or t.waitv is not None:
                continue             # PI and futex_waitv waiters stay where they are
            q.remove(t)
            t.key = uaddr2
            dest.append(t)
            moved += 1
        if not q:
            del T.waiters[uaddr]
    elif q and n_requeue > 0:
        moved = min(len(q), n_requeue)
    return woken + moved


# ----- the scheduler ------------------------------------------------------------------------

_time_ns = time.monotonic_ns


def _note_check(when: int | None) -> None:
    if when is not None and (T.next_check is None or when < T.next_check):
        T.next_check = when


def _poll_waiters() -> int | None:
    """Wake waiting T.live whose timeout passed, that a signal interrupts, or whose
    shared futex word changed; returns the next time one needs a look (or None)."""
    st = proc.sig
    bit = signals.bit
    now = _time_ns()
    nearest = None
    for t in _waiting():
        mask = st.mask if t is T.current else t.mask
        if (st.pending & ~mask) or any(not (mask & bit(s)) for s in tuple(t.sigpending)):
            _interrupt(t)
            continue
        if t.pollset is not None:
            if _fds_ready(t.pollset) or (t.check is not None and _checked(t.check)):
                if t.on_ready is None:
                    _unwait(t, None, restart=True)
                    continue
                res = _result(t.on_ready)
                if res is not None:
                    _unwait(t, res)
                    continue
            poll = now + int(IDLE_POLL * 1e9)
            if nearest is None or poll < nearest:
                nearest = poll
        if t.deadline is not None:
            if t.deadline <= now:
                res = t.timeout_result
                if t.on_timeout is not None:
                    res = _result(t.on_timeout)
                _unwait(t, res)
                continue
            if nearest is None or t.deadline < nearest:
                nearest = t.deadline
        if t.shared_val is not None:
            try:
                changed = proc.mem.u32(t.key) != t.shared_val
            except Exception:  # noqa: BLE001 - unmapped now: wake it to find out
                changed = True
            if changed:
                _unwait(t, 0)
                continue
            poll = now + int(IDLE_POLL * 1e9)
            if nearest is None or poll < nearest:
                nearest = poll
    T.next_check = nearest
    return nearest


def preempt_requested() -> bool:
    return T.preempt


def _needs_slices() -> bool:
    """True if a thread other than the running one may need the CPU before the
    running thread makes a syscall: one is runnable, or one waits with a
    timeout, on a host fd, or on a shared futex word (both looked at every
    IDLE_POLL).  A thread in a plain futex wait (join, lock, condition
    variable) wakes only by another thread's syscall (`_kick`) or a signal.
    A member of the execution token always has slices: another process may
    wait for the token (runtime/exectoken.py)."""
    if T.runq or T.sleepers or T.slices_wanted:
        return True
    if signals.needs_exact_stops() or proc.sig.waiters:
        # A signal may come while the thread computes: only the block hook stops
        # it exactly (signals.needs_exact_stops), also to wake a sigwait waiter.
        return True
    for q in T.waiters.values():
        for t in q:
            if t.deadline is not None or t.shared_val is not None or t.pollset is not None:
                return True
    return False


_POLICY = SlicePolicy()


def start(pc: int) -> int:
    """Run the T.current thread for at most one time slice, or unbounded if
    no other thread needs the CPU (see `_needs_slices`, preempt.SlicePolicy).

    Never a timer calling uc_emu_stop: unicorn checks for a stop request
    after guest loads and stores too, in the middle of a block, and resumes
    at the start of that instruction, so the access would run twice (a
    STLXR that succeeded runs again: an atomic increment counted twice).
    The block hook of runtime/preempt.py stops only where a block starts;
    without it, an instruction count (SLICE_INSNS) stops exactly at an
    instruction boundary, at ~4x the cost.
    """
    cpu = proc.cpu
    pre = _preempter()
    if not _POLICY.sliced(_needs_slices(), pre.installed or T.counted, _time_ns()):
        return run_alone(pc)
    cpu.stop_reason = None
    if pre.install():
        err = pre.run(pc)
    else:
        if not T.counted:
            # unicorn adds its counting hook without touching translated blocks.
            flush_tb_cache(cpu.uc)
            T.counted = True
        err = lib.uc_emu_start(cpu.uc, pc, NEVER, 0, SLICE_INSNS)
    if cpu.stop_reason is None and not err:
        T.preempt = True             # the slice ended (or a host signal stopped it)
    return err


def run_alone(pc: int) -> int:
    """Run the T.current thread (or the only one) without time slices, until it
    blocks or exits, faults, or a host signal stops it; a thread that becomes
    runnable meanwhile ends the run (`_kick`: stop reason "resched")."""
    if T.preempter and T.preempter.installed:
        T.preempter.uninstall()          # unicorn drops the blocks that have the hook
    T.counted = False                # a run without a count drops unicorn's count hook
    cpu = proc.cpu
    cpu.stop_reason = None
    T.unbounded = True
    try:
        return lib.uc_emu_start(cpu.uc, pc, NEVER, 0, 0)
    finally:
        T.unbounded = False


def _preempter() -> BlockPreempter:
    if T.preempter is None:
        # Made once per engine; it lives on the thread table, where the signal
        # watcher finds it to ask for exact stops.
        T.preempter = BlockPreempter(proc.cpu)
    return T.preempter


def switch() -> int:
    """Run loop, after a stop for a switch: save the T.current thread, restore the next; new PC.

    While it runs, T.current is not settled: a signal handler of the emulator
    that runs in between (the wake-up signal's: a POSIX timer aimed at a
    thread) queues thread-directed signals on the target's own record
    (`tkill` looks at T.in_switch), which the thread takes when it runs."""
    T.in_switch = True
    try:
        pc = _switch()
    finally:
        T.in_switch = False
    nxt = T.current
    if nxt is not None and nxt.sigpending:
        _adopt(nxt)                 # queued by a handler at the very end of the switch
        proc.cpu.pending = True
    return pc


def _adopt(t: Thread) -> None:
    pend, t.sigpending = t.sigpending, {}
    signals.adopt_queue(pend)
    for sig in pend:
        T.directed |= signals.bit(sig)


def _switch() -> int:
    T.preempt = False
    cpu = proc.cpu
    uc = cpu.uc
    cur = T.current
    if cur is None:
        return cpu.reg(REG_PC)
    if cur.state == WAIT and cpu.reg(REG_PC) != cur.block_pc:
        # A signal frame was set up after the blocking syscall: it is interrupted.
        _unwait(cur, -lerrno.EINTR)
        T.runq.remove(cur)
        cur.result = None
    if cur.state == RUN:
        T.runq.append(cur)
    if T.next_check is not None and T.next_check <= _time_ns():
        _poll_waiters()
    if not T.runq:
        _idle()
    nxt = T.runq.popleft()
    if nxt is not cur:
        st = proc.sig
        _keep_directed(cur)
        if cur.state != DEAD:
            if cur.ctx is None:
                cur.ctx = _new_ctx()
            lib.uc_context_save(uc, cur.ctx[0])
            cur.mask, cur.altstack, cur.saved_mask = st.mask, st.altstack, st.saved_mask
            cur.clear_child_tid = proc.clear_child_tid
        elif cur.ctx is not None:
            lib.uc_context_free(cur.ctx[0])
            cur.ctx = None
        lib.uc_context_restore(uc, nxt.ctx[0])
        T.current = nxt
        st.altstack, st.saved_mask = nxt.altstack, nxt.saved_mask
        proc.clear_child_tid = nxt.clear_child_tid
        if st.mask != nxt.mask:
            signals.set_mask(nxt.mask)
    if nxt.restart_x0 is not None:
        # Its fds became ready: run the syscall again (the SVC is the previous insn).
        cpu.set_reg(REG_X0, nxt.restart_x0)
        cpu.set_reg(REG_PC, cpu.reg(REG_PC) - 4)
        nxt.restart_x0 = None
        nxt.result = None
    elif nxt.result is not None:
        cpu.set_reg(REG_X0, nxt.result)
        if T.on_result is not None:
            T.on_result(nxt.tid, nxt.result)
        nxt.result = None
    if nxt.sig_restart_x0 is not None:
        # Its fd wait was interrupted: let delivery restart it under SA_RESTART.
        sst = proc.sig
        sst.interrupted = True
        sst.restart_x0 = nxt.sig_restart_x0
        sst.restart_nr = cpu.reg(_REG_X8)
        nxt.sig_restart_x0 = None
        cpu.pending = True
    # (T.directed was handed back to the thread switched away from by
    # _keep_directed; a thread that runs on keeps what was sent to it)
    if nxt.sigpending:
        _adopt(nxt)
    if proc.sig.pending or proc.sig.saved_mask is not None:
        # (a saved mask: a sigsuspend ended; delivery puts the old mask back even
        # if another thread took the signal meanwhile)
        cpu.pending = True
    return cpu.reg(REG_PC)


def _keep_directed(cur: Thread) -> None:
    """Switching away from `cur`: the signals sent to it alone that it has not taken
    (it blocks them) go back to its own queue - not left for whichever thread
    runs next; a thread that exited takes them along (Linux drops a dead
    thread's private signals: musl's timer thread exits with its SIGTIMER)."""
    st = proc.sig
    mine = st.pending & T.directed
    T.directed = 0
    while mine:
        low = mine & -mine
        mine ^= low
        sig = low.bit_length()
        st.pending &= ~low
        if cur.state == DEAD:
            signals.discard(st.infos, sig)
            continue
        fifo = st.infos.pop(sig, None)
        if fifo:
            own = cur.sigpending.get(sig)
            if own is None:
                cur.sigpending[sig] = fifo
            else:
                own.extend(fifo)


def _idle() -> None:
    """Every live thread waits: sleep until a timeout, a signal or a shared futex changes."""
    import signal as hs
    st = proc.sig
    all_mask = signals.ALL
    for t in _waiting():
        all_mask &= t.mask if t is not T.current else st.mask
    old = hs.pthread_sigmask(hs.SIG_SETMASK, signals.host_set(all_mask))
    try:
        while True:
            nearest = _poll_waiters()
            if T.runq:
                break
            now = _time_ns()
            wait = IDLE_POLL if nearest is None else min(IDLE_POLL, (nearest - now) / 1e9)
            fds: dict[int, int] = {}
            for t in T.sleepers:
                if t.pollset is not None:
                    for fd, ev in t.pollset.items():
                        fds[fd] = fds.get(fd, 0) | ev
            if fds:
                _fds_ready(fds, max(int(wait * 1000), 0))   # wakes as soon as one is ready
            else:
                time.sleep(max(wait, 0))
    finally:
        hs.pthread_sigmask(hs.SIG_SETMASK, old)


def _waiting() -> list:
    out = list(T.sleepers)
    for q in T.waiters.values():
        out.extend(q)
    return list(dict.fromkeys(out))     # a futex_waitv waiter sits in several queues
