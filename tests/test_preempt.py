"""Guest-thread time slices that end at a block boundary (runtime/preempt.py, host/stubs.py,
runtime/ucexits.py), and the policy that turns them on and off.

Both ways of stopping are checked on a bare engine: a uc_emu_stop from the ticker thread
once the engine's exit checks after memory accesses are compiled out, and the native block
hook where they are not.  Either stops exactly at the start of a translated block, so an
interrupted loop resumes where it stopped with every register intact; threaded guests keep
exact atomic counts (t_thr_counter, in the guest suite) and signal handlers see exact state
(t_sig_async_exact).
"""
from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from elfuse_py.host import stubs
from elfuse_py.runtime import ucexits
from elfuse_py.runtime.preempt import HOLD_MIN_NS, BlockPreempter, SlicePolicy
from elfuse_py.runtime.uc import UC_CTL_UC_PAGE_SIZE, ffi, lib, uc_ctl_write

from helpers import ROOT

REG_X0, REG_X1, REG_PC = 199, 200, 260
# add x1, x1, #1 ; b .-4   (a loop of one block, with no syscall)
LOOP = bytes.fromhex("21040091" "ffffff17")
# A pointer chase: ldr x0, [x0] ; add x1, x1, #1 ; b .-8.  x1 counts the steps, so
# x0 must always be node number x1 of the ring; a load that ran twice breaks that.
CHASE = bytes.fromhex("000040f9" "21040091" "feffff17")
RING, NODES = 0x10000, 64


def _engine(code: bytes = LOOP, exact: bool = False):
    ucp = ffi.new("uc_engine **")
    assert lib.uc_open(2, 0, ucp) == 0
    uc = ucp[0]
    assert lib.uc_ctl(uc, uc_ctl_write(UC_CTL_UC_PAGE_SIZE, 1), ffi.cast("uint32_t", 0x1000)) == 0
    _set(uc, REG_X1, 0)                      # (initialises the engine)
    flag = None
    if exact:
        flag = ucexits.locate(uc, 0x1000)
        assert flag is not None, "unicorn's no_exit_request byte was not found"
        ucexits.set_checks(uc, flag, False)
    buf = ffi.new("char[]", 0x1000)
    ffi.memmove(buf, code, len(code))
    assert lib.uc_mem_map_ptr(uc, 0x1000, 0x1000, 7, buf) == 0
    ring = ffi.new("char[]", 0x1000)
    ffi.memmove(ring, b"".join(struct.pack("<Q", RING + 8 * ((i + 1) % NODES)) for i in range(NODES)), 8 * NODES)
    assert lib.uc_mem_map_ptr(uc, RING, 0x1000, 3, ring) == 0
    _set(uc, REG_X0, RING)
    cpu = SimpleNamespace(uc=uc, exact_async_stop=exact)
    return cpu, (buf, ring, flag)


def _set(uc, reg, value):
    v = ffi.new("uint64_t *", value)
    lib.uc_reg_write(uc, reg, v)


def _reg(uc, reg):
    v = ffi.new("uint64_t *")
    lib.uc_reg_read(uc, reg, v)
    return v[0]


def test_the_native_stub_exists_on_this_host():
    assert stubs.block_stop_hook() is not None


@pytest.mark.parametrize("exact", [False, True], ids=["block-hook", "async-stop"])
def test_a_slice_ends_at_the_block_start_and_resumes_exactly(exact):
    cpu, _keep = _engine(LOOP, exact)
    uc = cpu.uc
    pre = BlockPreempter(cpu)
    assert pre.install()
    assert pre.hooked is not exact
    counts = []
    for _ in range(3):
        assert pre.run(0x1000) == 0              # ended by the ticker, not by an error
        assert _reg(uc, REG_PC) == 0x1000        # at the block start: nothing half-done
        counts.append(_reg(uc, REG_X1))
    assert counts[0] > 0 and counts[0] < counts[1] < counts[2]
    pre.uninstall()
    lib.uc_close(uc)


def _chase_is_consistent(uc) -> bool:
    return _reg(uc, REG_X0) == RING + 8 * (_reg(uc, REG_X1) % NODES)


def test_stops_from_another_thread_never_repeat_a_load():
    """uc_emu_stop from the ticker, with the exit checks compiled out, stops only where a
    block starts: after 30 slices of a pointer chase, x0 is still node number x1."""
    cpu, _keep = _engine(CHASE, exact=True)
    uc = cpu.uc
    pre = BlockPreempter(cpu)
    assert pre.install()
    pc = 0x1000
    for _ in range(30):
        assert pre.run(pc) == 0
        pc = _reg(uc, REG_PC)
        assert pc in (0x1000, 0x1004, 0x1008)     # the start of some block
        assert _chase_is_consistent(uc), (hex(_reg(uc, REG_X0)), _reg(uc, REG_X1))
    assert _reg(uc, REG_X1) > 30
    pre.uninstall()
    lib.uc_close(uc)


def test_with_the_exit_checks_such_stops_do_repeat_loads():
    """The control: the same stops with unicorn's exit checks left in (set_checks on) break
    the chase, which is why they must be off before stops come from another thread."""
    cpu, (_b, _r, flag) = _engine(CHASE, exact=True)
    uc = cpu.uc
    ucexits.set_checks(uc, flag, True)
    pre = BlockPreempter(cpu)                   # (stops by uc_emu_stop: cpu says exact)
    assert pre.install()
    pc, broken = 0x1000, False
    for _ in range(200):
        assert pre.run(pc) == 0
        pc = _reg(uc, REG_PC)
        if not _chase_is_consistent(uc):
            broken = True
            break
    pre.uninstall()
    lib.uc_close(uc)
    assert broken


def test_the_exit_checks_flag_is_found_on_a_fresh_engine_only_once():
    ucp = ffi.new("uc_engine **")
    assert lib.uc_open(2, 0, ucp) == 0
    uc = ucp[0]
    _set(uc, REG_X1, 0)
    first = ucexits.locate(uc, 0x400)                # the engine's default arm page
    assert first is not None and first[0] == b"\x00"
    ucexits.set_checks(uc, first, False)
    assert ucexits.locate(uc, 0x400) is None         # no longer what a fresh engine holds
    lib.uc_close(uc)


@pytest.mark.parametrize("prog", ["t_thr_counter", "t_sig_async_exact"])
@pytest.mark.parametrize("fallback", ["block-hook", "counted"])
def test_the_fallbacks_still_stop_exactly(tmp_path, prog, fallback):
    """Where the exit checks are not found the block hook stops threads and signal
    deliveries exactly; where no executable stub can be made either, counted slices
    preempt a spinning thread and end each run exactly for a signal's delivery."""
    no_stub = "stubs.block_stop_hook = lambda: None" if fallback == "counted" else ""
    code = textwrap.dedent(f"""
        import sys, runpy
        from elfuse_py.host import stubs
        from elfuse_py.runtime import ucexits
        ucexits.locate = lambda uc, page: None
        {no_stub}
        sys.argv = ["elfuse-py", "{ROOT}/guest-bins/build/{prog}"]
        runpy.run_module("elfuse_py", run_name="__main__")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, cwd=tmp_path)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0 and b"not ok" not in r.stdout, out


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
