"""Time slices for guest threads that end only at a translation-block boundary.

While a process has several guest threads, one unicorn engine runs them in
turns, so a thread that computes without syscalls must be stopped after a
while.  Two ways of stopping it are wrong or slow:

- calling uc_emu_stop from another host thread: unicorn honours a stop
  request not only when a translated block starts but also after every guest
  load and store (check_exit_request in tcg-op.c), and then resumes at the
  start of that instruction, so the access runs twice: `ldr x0, [x0]` reloads
  through the new x0, and a successful STLXR is retried (an atomic increment
  counted twice);
- an instruction count (uc_emu_start's `count`): unicorn counts with a hook on
  every instruction, which made threaded CPU-bound code ~5x slower.

Here one UC_HOOK_BLOCK hook runs at the start of every block.  Its callback
is a few native instructions (host/stubs.py): "if the flag is set, call
uc_emu_stop".  unicorn compiles a lone hook into each block as a direct call,
so the check costs a call, a load and a branch per block and never enters
Python.  A stopped block has not run any instruction yet, and unicorn syncs
the PC to the block start before the hook, so the thread resumes exactly
there.

The flag is set by a ticker thread of the emulator: every SLICE seconds it
looks at which run is in progress, and a run that was already in progress at
its previous tick is asked to stop.  Where the native stub cannot be made
(`host.stubs.block_stop_hook()` is None) `install` says so and the caller
keeps counted slices.
"""
from __future__ import annotations

import os
import threading
import time

from elfuse_py.host import stubs
from elfuse_py.runtime.uc import check, ffi, lib

UC_HOOK_BLOCK = 1 << 3
NEVER = (1 << 64) - 1
SLICE = float(os.environ.get("ELFUSE_SLICE_MS", "5")) / 1000.0


class BlockPreempter:
    """One engine's block hook, its ticker, and the runs it may cut short."""

    def __init__(self, uc) -> None:
        self.uc = uc
        self.handle = ffi.new("uc_hook *")
        # The stub's user_data: {uint64 flag; void *uc_emu_stop}.
        self.ctl = ffi.new("uint64_t[2]")
        self.ctl[1] = int(ffi.cast("uintptr_t", ffi.addressof(lib, "uc_emu_stop")))
        self.installed = False
        self.run_id = 0               # the run in progress (0: none)
        self._runs = 0
        self._ticker_pid = 0

    def install(self) -> bool:
        """Add the block hook (unicorn retranslates: a mode switch); False if unavailable."""
        if not self.installed:
            stub = stubs.block_stop_hook()
            if stub is None:
                return False
            check(lib.uc_hook_add(self.uc, self.handle, UC_HOOK_BLOCK, ffi.cast("void *", stub),
                                  self.ctl, 1, 0), "uc_hook_add(BLOCK)")
            self.installed = True
        if self._ticker_pid != os.getpid():
            # None yet, or this is a fork child: the hook came along, the thread did not.
            self._ticker_pid = os.getpid()
            threading.Thread(target=self._tick, name="elfuse-slices", daemon=True).start()
        return True

    def uninstall(self) -> None:
        if self.installed:
            self.installed = False
            lib.uc_hook_del(self.uc, self.handle[0])

    def run(self, pc: int) -> int:
        """uc_emu_start from `pc` until something stops it or the slice ends."""
        self._runs += 1
        self.run_id = self._runs
        err = lib.uc_emu_start(self.uc, pc, NEVER, 0, 0)
        self.run_id = 0
        self.ctl[0] = 0
        return err

    def _tick(self) -> None:
        pid = os.getpid()
        seen = 0
        while self._ticker_pid == pid:
            time.sleep(SLICE)
            current = self.run_id
            if current and current == seen:
                self.ctl[0] = 1              # the next block start stops the run
            seen = current
