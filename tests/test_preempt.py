"""Guest-thread time slices that end at a block boundary (runtime/preempt.py, host/stubs.py).

The native block hook stops the engine exactly at the start of a translated block once
its flag is set, so an interrupted loop resumes where it stopped with every register
intact; threaded guests keep exact atomic counts (t_thr_counter, in the guest suite).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from elfuse_py.host import stubs
from elfuse_py.runtime.preempt import BlockPreempter
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
