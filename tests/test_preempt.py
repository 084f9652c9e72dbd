"""Guest-thread time slices that end at a block boundary (runtime/preempt.py, host/stubs.py),
and the policy that turns them on and off.

The native block hook stops the engine exactly at the start of a translated block once
its flag is set, so an interrupted loop resumes where it stopped with every register
intact; threaded guests keep exact atomic counts (t_thr_counter, in the guest suite).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from elfuse_py.host import stubs
from elfuse_py.runtime.preempt import HOLD_MIN_NS, BlockPreempter, SlicePolicy
from elfuse_py.runtime.uc import ffi, lib

from helpers import ROOT

REG_X1, REG_PC = 200, 260
# add x1, x1, #1 ; b .-4   (a loop of one block, with no syscall)
LOOP = bytes.fromhex("21040091" "ffffff17")


def _engine():
    ucp = ffi.new("uc_engine **")
    assert lib.uc_open(2, 0, ucp) == 0
    buf = ffi.new("char[]", 0x1000)
    ffi.memmove(buf, LOOP, len(LOOP))
    assert lib.uc_mem_map_ptr(ucp[0], 0x1000, 0x1000, 7, buf) == 0
    return ucp[0], buf


def _reg(uc, reg):
    v = ffi.new("uint64_t *")
    lib.uc_reg_read(uc, reg, v)
    return v[0]


def test_the_native_stub_exists_on_this_host():
    assert stubs.block_stop_hook() is not None


def test_a_slice_ends_at_the_block_start_and_resumes_exactly():
    uc, _buf = _engine()
    pre = BlockPreempter(uc)
    assert pre.install()
    counts = []
    for _ in range(3):
        assert pre.run(0x1000) == 0              # ended by the ticker, not by an error
        assert _reg(uc, REG_PC) == 0x1000        # at the block start: nothing half-done
        counts.append(_reg(uc, REG_X1))
    assert counts[0] > 0 and counts[0] < counts[1] < counts[2]
    pre.uninstall()
    lib.uc_close(uc)


def test_without_the_stub_threads_fall_back_to_counted_slices(tmp_path):
    """The fallback (no executable stub on this host) still preempts a spinning thread."""
    code = textwrap.dedent(f"""
        import sys, runpy
        from elfuse_py.host import stubs
        stubs.block_stop_hook = lambda: None
        sys.argv = ["elfuse-py", "{ROOT}/guest-bins/build/t_thr_counter"]
        runpy.run_module("elfuse_py", run_name="__main__")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0 and b"not ok" not in r.stdout, r.stdout.decode() + r.stderr.decode()


MS = 1_000_000


def _simulate(policy: SlicePolicy, pattern, total_ms: int, step_ms: float = 1.0) -> tuple[int, int]:
    """Drive the policy as the scheduler does (one decision per run start, every
    `step_ms`) with `pattern(t_ms)` saying whether another thread needs the CPU;
    returns (times slices went off, times they came back on)."""
    on, offs, ons = False, 0, 0
    t = 0.0
    while t < total_ms:
        sliced = policy.sliced(pattern(t), on, int(t * MS))
        offs += on and not sliced
        ons += sliced and not on
        on = sliced
        t += step_ms
    return offs, ons


def test_slices_go_off_after_the_hold_and_come_back_at_once():
    p = SlicePolicy()
    assert p.sliced(True, False, 0)                              # needed: on at once
    assert p.sliced(False, True, 1 * MS)                         # not needed: held a while
    assert p.sliced(False, True, 1 * MS + HOLD_MIN_NS - 1)
    assert not p.sliced(False, True, 1 * MS + HOLD_MIN_NS)       # then off
    assert not p.sliced(False, False, 10 * HOLD_MIN_NS)          # and stays off
    assert p.sliced(True, False, 10 * HOLD_MIN_NS + 1)           # needed again: on at once


def test_fast_alternation_between_one_and_two_runnable_threads_does_not_thrash():
    """A ping-pong (two threads handing work over every millisecond) keeps its slices."""
    offs, ons = _simulate(SlicePolicy(), lambda t: int(t) % 2 == 0, total_ms=2000)
    assert ons == 1 and offs == 0


def test_a_thread_per_request_loop_stops_switching_modes():
    """Start a thread, join it, compute alone a while, again: the hold grows past the gap."""
    offs, ons = _simulate(SlicePolicy(), lambda t: t % 60 < 5, total_ms=6000)   # 100 requests
    assert offs <= 3 and ons <= 4


def test_a_long_time_alone_shrinks_the_hold_again():
    p = SlicePolicy()
    _simulate(p, lambda t: t % 60 < 5, total_ms=3000)
    grown = p.hold
    assert grown > HOLD_MIN_NS
    t = 4000 * MS
    assert p.sliced(True, True, t)                   # a thread needs the CPU: on
    assert p.sliced(False, True, t + 1)              # alone from now on: held
    assert not p.sliced(False, True, t + 1 + grown)  # off after the hold
    assert p.sliced(True, False, t + 1 + grown + 20 * grown)   # back after a long time off
    assert p.hold == grown // 2
