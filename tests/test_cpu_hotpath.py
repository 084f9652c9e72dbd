"""The CPU core's fast paths: direct register access and the virtual TLB.

The syscall hook reads X0-X8 straight from unicorn's CPU state when a start-up
probe finds it; these tests make sure the probe works where it should (so the
fast path cannot silently regress to the slow one), that the view is the live
register file, and that the fallback path behaves identically.
"""
from __future__ import annotations

import sys

import pytest

from helpers import guest_bin, run_elfuse
from elfuse_py.runtime.cpu import REG_SP, Cpu, xreg


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probe uses /proc/self/mem")
def test_register_probe_finds_live_registers():
    cpu = Cpu()
    xr = cpu.xregs
    assert xr is not None, "direct register view not found: the syscall hook fell back to the slow path"
    assert all(xr[i] == 0 for i in range(31)), "probe must leave the registers zeroed"
    cpu.set_reg(xreg(3), 0xDEADBEEF12345678)
    assert xr[3] == 0xDEADBEEF12345678
    xr[30] = 0x0123456789ABCDEF
    assert cpu.reg(xreg(30)) == 0x0123456789ABCDEF
    cpu.set_reg(REG_SP, 0x7FFF0000)
    assert xr[31] == 0x7FFF0000          # xregs[31] is SP at EL0/AArch64


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probe uses /proc/self/mem")
def test_register_probe_survives_a_wrong_guess(monkeypatch):
    """The probe tries a known offset first (one small read per pointer); a wrong one only
    costs the full search, which then finds the live registers and remembers where."""
    from elfuse_py.runtime import cpu as cpumod
    monkeypatch.setattr(cpumod, "_XREGS_OFFSETS", [8])
    cpu = Cpu()
    assert cpu.xregs is not None and all(cpu.xregs[i] == 0 for i in range(31))
    cpu.set_reg(xreg(7), 0x1234)
    assert cpu.xregs[7] == 0x1234
    assert len(cpumod._XREGS_OFFSETS) == 2          # the search's find is tried first next time
    assert Cpu().xregs is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probe uses /proc/self/mem")
def test_register_probe_survives_a_wrong_pointer_guess(monkeypatch):
    """The word of the engine object that points at the CPU is guessed too; a wrong guess
    costs the scan of the engine's head, which then remembers where the pointer was."""
    from elfuse_py.runtime import cpu as cpumod
    monkeypatch.setattr(cpumod, "_XREGS_POINTER_AT", [0])
    cpu = Cpu()
    assert cpu.xregs is not None and all(cpu.xregs[i] == 0 for i in range(31))
    cpu.set_reg(xreg(3), 0x5678)
    assert cpu.xregs[3] == 0x5678
    assert len(cpumod._XREGS_POINTER_AT) == 2       # tried first next time
    assert Cpu().xregs is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="probe uses /proc/self/mem")
def test_register_probe_reads_little_when_the_guesses_hold(monkeypatch):
    """With this wheel's layout (the guesses), a probe reads the pointer and the register
    file, not the engine's 16 KiB head and every pointee (a guard on the work, not a timing)."""
    import os
    from elfuse_py.runtime import cpu as cpumod
    sizes = []
    real = os.pread

    def pread(fd, n, off):
        sizes.append(n)
        return real(fd, n, off)

    monkeypatch.setattr(os, "pread", pread)
    assert Cpu().xregs is not None
    if cpumod._XREGS_POINTER_AT[-1] != 440 or cpumod._XREGS_OFFSETS[-1] != 41872:
        pytest.skip("another unicorn layout: the guesses are this wheel's")
    assert len(sizes) <= 3 and max(sizes) < cpumod._PROBE_HEAD, sizes


def test_probe_can_be_disabled(monkeypatch):
    monkeypatch.setenv("ELFUSE_NO_DIRECT_REGS", "1")
    assert Cpu().xregs is None


@pytest.mark.parametrize("direct", ["", "1"])
def test_both_syscall_paths_run_a_program(direct):
    r = run_elfuse([guest_bin("hello"), "x", "y"], extra_env={"ELFUSE_NO_DIRECT_REGS": direct})
    assert r.stdout == b"Hello from an AArch64 guest! x y\n"
    assert r.returncode == 0


@pytest.mark.parametrize("direct", ["", "1"])
def test_both_syscall_paths_trace(direct):
    r = run_elfuse([guest_bin("hello")], options=["--strace"],
                   extra_env={"ELFUSE_NO_DIRECT_REGS": direct})
    assert r.returncode == 0
    assert b"exit_group(0)" in r.stderr
    assert b"Hello from an AArch64 guest!" in r.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are Linux's")
def test_small_pages_is_set_for_the_call_only():
    """The engine's init runs with PR_SET_THP_DISABLE (host/memory.small_pages), which is put
    back as it was: a process setting, inherited by whatever the guest starts."""
    from elfuse_py.host import memory as hostmem
    from elfuse_py.runtime.uc import ffi

    libc = ffi.dlopen(None)
    zero = ffi.cast("unsigned long", 0)

    def thp_disabled() -> int:
        return libc.prctl(42, zero, zero, zero, zero)          # PR_GET_THP_DISABLE

    before = thp_disabled()
    assert hostmem.small_pages(thp_disabled) == 1
    assert thp_disabled() == before
