"""The CPU core: one unicorn AArch64 engine, its registers and the syscall hook.

This module owns the hot path.  A guest `svc #0` raises interrupt 2; the one
UC_HOOK_INTR callback reads X8 and X0-X5 in a single register batch, indexes
the dispatch list by number, calls the handler and writes X0 back.  Nothing
else is hooked, so unicorn's translated code runs unhindered between syscalls.
"""
from __future__ import annotations

import os
import sys

from . import lerrno
from .memory import GuestFault
from .uc import (UC_ARCH_ARM64, UC_CPU_ARM64_MAX, UC_CTL_CPU_MODEL, UC_HOOK_INTR,
                 UC_MODE_ARM, check, ffi, lib, uc_ctl_write)

# unicorn arm64 register ids (unicorn/arm64_const.py; copied so that the
# ctypes binding need not be imported at start-up).
REG_X0 = 199                 # X0..X28 are 199..227
REG_X29, REG_X30, REG_NZCV, REG_SP = 1, 2, 3, 4
REG_Q0 = 104                 # Q0..Q31 are 104..135
REG_PC = 260
REG_TPIDR_EL0 = 262
REG_TPIDRRO_EL0 = 263
REG_PSTATE = 265
REG_CP_REG = 290
REG_FPCR, REG_FPSR = 291, 292


def xreg(n: int) -> int:
    """unicorn id of general register Xn (n = 0..30)."""
    if n < 29:
        return REG_X0 + n
    return REG_X29 if n == 29 else REG_X30


GPR_IDS = [xreg(i) for i in range(31)]

# Unicorn interrupt numbers (qemu's EXCP_*) that reach the INTR hook.
EXCP_UDEF, EXCP_SWI, EXCP_BKPT = 1, 2, 7

MASK64 = 0xFFFFFFFFFFFFFFFF
# An address the PC can never hold (instructions are 4-byte aligned), so
# uc_emu_start runs until a hook stops it or the guest faults.
NEVER = MASK64


class GuestExit(Exception):
    """Raised outside the hook to end the emulation with a status."""


class Cpu:
    """An AArch64 engine plus the state the run loop needs."""

    def __init__(self) -> None:
        ucp = ffi.new("uc_engine **")
        check(lib.uc_open(UC_ARCH_ARM64, UC_MODE_ARM, ucp), "uc_open")
        self.uc = ucp[0]
        # The "max" model implements the most of ARMv8.x (LSE atomics, crypto,
        # SVE off); AT_HWCAP is derived from what it reports.
        check(lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_CPU_MODEL, 1),
                         ffi.cast("int", UC_CPU_ARM64_MAX)), "uc_ctl(CPU_MODEL)")
        self._hook_handle = ffi.new("uc_hook *")
        self._callback = None
        self.stop_reason: str | None = None   # "exit", "fault", "exec", "signal"
        self.exit_status = 0
        self.fault_intno = 0
        self.internal_error: BaseException | None = None
        self._scratch = ffi.new("uint64_t[1]")
        self._batch_vals = ffi.new("uint64_t[64]")
        self._batch_ptrs = ffi.new("void *[64]", [self._batch_vals + i for i in range(64)])

    # ----- registers ------------------------------------------------------------

    def reg(self, regid: int) -> int:
        lib.uc_reg_read(self.uc, regid, self._scratch)
        return self._scratch[0]

    def set_reg(self, regid: int, value: int) -> None:
        self._scratch[0] = value & MASK64
        lib.uc_reg_write(self.uc, regid, self._scratch)

    def regs(self, ids: list[int]) -> list[int]:
        n = len(ids)
        lib.uc_reg_read_batch(self.uc, ffi.new("int[]", ids), self._batch_ptrs, n)
        return ffi.unpack(self._batch_vals, n)

    def set_regs(self, ids: list[int], values: list[int]) -> None:
        n = len(ids)
        for i, v in enumerate(values):
            self._batch_vals[i] = v & MASK64
        lib.uc_reg_write_batch(self.uc, ffi.new("int[]", ids), self._batch_ptrs, n)

    def vregs(self) -> list[bytes]:
        """Q0..Q31 as 16-byte little-endian values."""
        buf = ffi.new("uint8_t[16]")
        out = []
        for i in range(32):
            lib.uc_reg_read(self.uc, REG_Q0 + i, buf)
            out.append(bytes(ffi.buffer(buf)))
        return out

    def set_vregs(self, values: list[bytes]) -> None:
        buf = ffi.new("uint8_t[16]")
        for i, v in enumerate(values):
            ffi.memmove(buf, v, 16)
            lib.uc_reg_write(self.uc, REG_Q0 + i, buf)

    def sysreg(self, op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
        """Read a system register (e.g. an ID register) through UC_ARM64_REG_CP_REG."""
        cp = ffi.new("uc_arm64_cp_reg *", {"crn": crn, "crm": crm, "op0": op0, "op1": op1, "op2": op2})
        check(lib.uc_reg_read(self.uc, REG_CP_REG, cp), "read system register")
        return cp.val

    # ----- running ---------------------------------------------------------------

    def install_syscall_hook(self, dispatch: list, on_fault, on_unknown,
                             after_syscall=None, tracer=None) -> None:
        """Install the single UC_HOOK_INTR callback.

        `dispatch` is the list from syscalls.table.dispatch_list(); `on_unknown(nr)`
        returns the result for numbers without a handler; `after_syscall()` (if
        given) is consulted when ``self.pending`` is set, e.g. to deliver signals;
        `tracer` wraps each handler call for --strace.
        """
        uc_handle = self.uc
        regs_in = ffi.new("int[7]", [xreg(8)] + [xreg(i) for i in range(6)])
        vals = ffi.new("uint64_t[7]")
        ptrs = ffi.new("void *[7]", [vals + i for i in range(7)])
        x0 = ffi.new("uint64_t[1]")
        read_batch = lib.uc_reg_read_batch
        reg_write = lib.uc_reg_write
        unpack = ffi.unpack
        X0 = REG_X0
        to_linux = lerrno.to_linux
        EFAULT = lerrno.EFAULT
        cpu = self

        def on_intr(uc, intno, _user):
            if intno != EXCP_SWI:
                on_fault(intno)
                return
            read_batch(uc, regs_in, ptrs, 7)
            a = unpack(vals, 7)
            nr = a[0]
            try:
                entry = dispatch[nr]
                if entry is None:
                    ret = on_unknown(nr)
                elif tracer is not None:
                    ret = tracer(nr, entry, a)
                else:
                    fn, n = entry
                    ret = fn(*a[1:n + 1])
            except OSError as e:
                ret = -to_linux(e.errno)
            except GuestFault:
                ret = -EFAULT
            except IndexError:
                ret = on_unknown(nr) if nr >= len(dispatch) else cpu._internal(nr)
            except BaseException as e:  # noqa: BLE001 - must never unwind into C
                ret = cpu._internal(nr, e)
            if ret is not None:
                x0[0] = ret & MASK64
                reg_write(uc, X0, x0)
            if cpu.pending and after_syscall is not None:
                after_syscall()

        self.pending = False
        self._callback = ffi.callback("void(uc_engine *, uint32_t, void *)", on_intr)
        check(lib.uc_hook_add(uc_handle, self._hook_handle, UC_HOOK_INTR, self._callback,
                              ffi.NULL, 1, 0), "uc_hook_add")

    def _internal(self, nr: int, exc: BaseException | None = None) -> int:
        """An emulator bug inside a handler: say so once per syscall, fail it with ENOSYS."""
        if os.environ.get("ELFUSE_DEBUG"):
            import traceback
            traceback.print_exception(exc)
        from syscalls.numbers import SYSCALL_NAMES
        name = SYSCALL_NAMES.get(nr, str(nr))
        sys.stderr.write(f"elfuse-py: internal error in {name}: {type(exc).__name__}: {exc}\n")
        return -lerrno.ENOSYS

    def stop(self, reason: str) -> None:
        """Ask the run loop to return after the current instruction/hook."""
        self.stop_reason = reason
        lib.uc_emu_stop(self.uc)

    def start(self, pc: int) -> int:
        """Run from `pc` until a hook stops the engine; returns unicorn's error code."""
        self.stop_reason = None
        return lib.uc_emu_start(self.uc, pc, NEVER, 0, 0)
