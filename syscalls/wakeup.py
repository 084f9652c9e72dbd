"""The wake-up thread: one emulator helper thread for the emulated event fds.

On a host without timerfd and pidfd (macOS, and the macOS host model on
Linux) those guest fds are one end of a host socketpair whose other end the
emulator keeps; the fd polls readable once the emulator writes a byte there.
Something has to write that byte while the guest runs or sleeps in poll(), and
that is this thread:

- `call_at(when_ns, fn)`: run `fn()` at a CLOCK_MONOTONIC time (a timer's
  next expiration);
- `poll_every(fn)`: run `fn()` periodically (2 ms, doubling up to 50 ms) until
  it returns True (has a watched process exited?).

One thread serves every timer and watched process of the emulator process (a
heap of due times).  Callbacks run on it with `lock` held and must be quick;
the syscall handlers hold the same `lock` while they read or change the state
the callbacks look at.  The thread is started on first use, with every host
signal blocked (as the signal watcher in elfuse_py/runtime/signals.py is), so
guest signals are always taken by the thread running the guest.  A fork child
gets a fresh lock and starts a thread of its own when it first needs one.
"""
from __future__ import annotations

import _thread
import heapq
import itertools
import os
import signal as hs
import threading
import time

lock = threading.Lock()
_cond = threading.Condition(lock)
_heap: list = []                # (when_ns, seq, fn)
_seq = itertools.count()
_watches: list = []             # fn() -> True when done
_WATCH_MIN_NS, _WATCH_MAX_NS = 2_000_000, 50_000_000
_watch_step = _WATCH_MIN_NS
_next_watch = 0
_owner = 0                      # pid of the process whose thread is running
_MAX_WAIT_NS = 3600 * 1_000_000_000


def call_at(when_ns: int, fn) -> None:
    """Run fn() on the wake-up thread at CLOCK_MONOTONIC `when_ns` (caller holds `lock`)."""
    heapq.heappush(_heap, (when_ns, next(_seq), fn))
    if _heap[0][2] is fn:
        _cond.notify()
    _ensure()


def poll_every(fn) -> None:
    """Run fn() now and then until it returns True (caller holds `lock`)."""
    global _watch_step, _next_watch
    _watches.append(fn)
    _watch_step = _WATCH_MIN_NS
    _next_watch = time.monotonic_ns() + _watch_step
    _cond.notify()
    _ensure()


def _ensure() -> None:
    global _owner
    if _owner == os.getpid():
        return
    _owner = os.getpid()
    old = hs.pthread_sigmask(hs.SIG_BLOCK, hs.valid_signals())
    try:
        _thread.start_new_thread(_main, ())
    finally:
        hs.pthread_sigmask(hs.SIG_SETMASK, old)


def _run(fn) -> bool:
    try:
        return bool(fn())
    except Exception:  # noqa: BLE001 - a callback's failure must not end the thread
        return True


def _main() -> None:
    global _watch_step, _next_watch
    me = os.getpid()
    with lock:
        while _owner == me:
            now = time.monotonic_ns()
            while _heap and _heap[0][0] <= now:
                _run(heapq.heappop(_heap)[2])
            timeout = None
            if _heap:
                timeout = _heap[0][0] - now
            if _watches:
                if now >= _next_watch:
                    _watches[:] = [w for w in _watches if not _run(w)]
                    _watch_step = min(_watch_step * 2, _WATCH_MAX_NS)
                    _next_watch = now + _watch_step
                if _watches:
                    left = _next_watch - now
                    timeout = left if timeout is None else min(timeout, left)
            # (bounded: a wait far beyond threading.TIMEOUT_MAX would overflow)
            _cond.wait(None if timeout is None else min(max(timeout, 0), _MAX_WAIT_NS) / 1e9)


def _after_fork_child() -> None:
    """The child has no wake-up thread (and `lock` may have been taken by it)."""
    global lock, _cond, _owner
    lock = threading.Lock()
    _cond = threading.Condition(lock)
    _owner = 0


os.register_at_fork(before=lambda: lock.acquire(), after_in_parent=lambda: lock.release(),
                    after_in_child=_after_fork_child)
