"""Time slices for guest threads that end only at a translation-block boundary.

While a process has several guest threads, one unicorn engine runs them in
turns, so a thread that computes without syscalls must be stopped after a
while, where resuming it is exact: before an instruction, never after half
of one.

The way used wherever it is available: a ticker thread of the emulator calls
uc_emu_stop.  unicorn sees such a request where a translated block starts,
before any instruction of it ran, and sets the PC to that block's start; the
engine's other place of seeing it, a check after every guest load and store
that resumed at the start of the accessing instruction (so the access ran
twice), is compiled out (runtime/ucexits.py, `Cpu.exact_async_stop`).  The
running code pays nothing.

Where those checks cannot be switched off (another unicorn), or while gdb is
attached (its breakpoints need them), or where uc_emu_stop must not be called
from a second thread (host.platform.ENGINE_STOP_FROM_ANY_THREAD), one
UC_HOOK_BLOCK hook runs at the start of every block instead.  Its callback
is a few native instructions (host/stubs.py): "if the flag is set, call
uc_emu_stop".  unicorn compiles a lone hook into each block as a direct call,
so the check costs a call, a load and a branch per block and never enters
Python; measured on the bench_threads LCG loop (a block of ~5 instructions),
1.27x the loop without it.  unicorn compiles hooks into blocks when it
translates them: uc_hook_add leaves blocks that exist without the hook (a
loop translated before would never be stopped), so `install` drops every
translated block; uc_hook_del drops the blocks translated with the hook.
Each switch of mode is a retranslation of the hot code, which
`SlicePolicy`'s hysteresis keeps rare.  Where the native stub cannot be made
either (`host.stubs.block_stop_hook()` is None) `install` says so and the
caller keeps counted slices.

Either way, the ticker looks every SLICE seconds at which run is in
progress, and a run that was already in progress at its previous tick is
asked to stop (`stop_soon`).
"""
from __future__ import annotations

import _thread
import os
import time

from elfuse_py.host import stubs
from elfuse_py.host.hostsig import sig as hs
from elfuse_py.runtime.uc import check, ffi, flush_tb_cache, lib

UC_HOOK_BLOCK = 1 << 3
NEVER = (1 << 64) - 1
SLICE = float(os.environ.get("ELFUSE_SLICE_MS", "5")) / 1000.0
# SlicePolicy: how long slices stay on once no other thread needs the CPU (ns),
# at first and at most; the hold doubles each time slices come back soon.
HOLD_MIN_NS = int(float(os.environ.get("ELFUSE_SLICE_HOLD_MS", "50")) * 1e6)
HOLD_MAX_NS = 2_000_000_000


class BlockPreempter:
    """One engine's block hook, its ticker, and the runs it may cut short."""

    def __init__(self, cpu) -> None:
        self.cpu = cpu
        self.uc = cpu.uc
        self.handle = ffi.new("uc_hook *")
        # The stub's user_data: {uint64 flag; void *uc_emu_stop}.
        self.ctl = ffi.new("uint64_t[2]")
        self.ctl[1] = int(ffi.cast("uintptr_t", ffi.addressof(lib, "uc_emu_stop")))
        self.installed = False
        self.hooked = False           # installed as the block hook (else: stops by uc_emu_stop)
        self.run_id = 0               # the run in progress (0: none)
        self._runs = 0
        self._ticker: tuple[int, int] | None = None   # (pid, generation) of the live ticker
        self._generation = 0

    def install(self) -> bool:
        """Turn slices on: the ticker, and where stops from it are not exact the
        block hook (dropping the blocks translated without it: a mode switch);
        False if neither is available."""
        if not self.installed:
            if not self.cpu.exact_async_stop:
                stub = stubs.block_stop_hook()
                if stub is None:
                    return False
                check(lib.uc_hook_add(self.uc, self.handle, UC_HOOK_BLOCK, ffi.cast("void *", stub),
                                      self.ctl, 1, 0), "uc_hook_add(BLOCK)")
                flush_tb_cache(self.uc)
                self.hooked = True
            self.installed = True
        if self._ticker is None or self._ticker[0] != os.getpid():
            # None yet (or stopped by uninstall), or this is a fork child: the
            # hook came along, the thread did not.
            self._generation += 1
            self._ticker = (os.getpid(), self._generation)
            # _thread, not threading: the threading module (with functools) would
            # cost every start-up ~1.5 ms, and this thread needs none of it.
            # It starts with every host signal blocked: a process-directed
            # signal must go where the signal layer expects it (a thread that
            # took it here would lose a SIGCHLD a guest's signalfd waits for).
            old = hs.pthread_sigmask(hs.SIG_BLOCK, hs.valid_signals())
            try:
                _thread.start_new_thread(self._tick, (self._ticker,))
            finally:
                hs.pthread_sigmask(hs.SIG_SETMASK, old)
        return True

    def uninstall(self) -> None:
        """Turn slices off; a block hook goes (unicorn drops the blocks translated with it)."""
        if self.installed:
            self.installed = False
            if self.hooked:
                self.hooked = False
                lib.uc_hook_del(self.uc, self.handle[0])
        self._ticker = None          # the ticker ends at its next tick: no wake-ups while off

    def stop_soon(self) -> None:
        """(Any thread) Stop the run in progress where its next block starts."""
        if self.installed and self.run_id:
            if self.hooked:
                self.ctl[0] = 1
            else:
                # A run that ends meanwhile leaves a request that the next
                # uc_emu_start clears, or ends that run early: a slice less.
                lib.uc_emu_stop(self.uc)

    def run(self, pc: int) -> int:
        """uc_emu_start from `pc` until something stops it or the slice ends."""
        self._runs += 1
        self.run_id = self._runs
        err = lib.uc_emu_start(self.uc, pc, NEVER, 0, 0)
        self.run_id = 0
        self.ctl[0] = 0
        return err

    def _tick(self, me: tuple[int, int]) -> None:
        seen = 0
        while self._ticker == me:
            time.sleep(SLICE)
            current = self.run_id
            if current and current == seen:
                self.stop_soon()             # the next block start stops the run
            seen = current


class SlicePolicy:
    """Whether the next run of a threaded process has time slices (hysteresis).

    Slices are needed while another thread may need the CPU: one is runnable,
    or one waits with a timeout or a polled condition.  When none does, the
    running thread may run unbounded: every event that makes another thread
    runnable is then a syscall of the running thread itself (a futex wake, a
    clone, a kill), and those end the run exactly (threads.py `_kick`).

    Turning slices on or off retranslates the hot code, so slices stay on
    for `hold` after the last moment they were needed; a process that needs
    them again within a few holds of dropping them (one thread per request,
    started and joined in a loop) doubles the hold, and one that ran long
    without them halves it.  A process alternating quickly between one and
    two runnable threads thus keeps its slices instead of retranslating at
    every alternation.
    """

    RELAPSE = 4         # slices back within RELAPSE holds of dropping them: hold x2
    LONG = 16           # off for more than LONG holds: hold / 2

    def __init__(self) -> None:
        self.hold = HOLD_MIN_NS
        self.idle_since: int | None = None   # slices on but not needed since (ns)
        self.dropped_at: int | None = None   # when slices were last turned off (ns)

    def sliced(self, needed: bool, on: bool, now: int) -> bool:
        """True if the next run must be sliced; `on`: slices are on now."""
        if needed:
            self.idle_since = None
            if not on and self.dropped_at is not None:
                off_for = now - self.dropped_at
                if off_for < self.RELAPSE * self.hold:
                    self.hold = min(2 * self.hold, HOLD_MAX_NS)
                elif off_for > self.LONG * self.hold:
                    self.hold = max(self.hold // 2, HOLD_MIN_NS)
            return True
        if not on:
            return False
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.hold:
            return True
        self.idle_since = None
        self.dropped_at = now
        return False
