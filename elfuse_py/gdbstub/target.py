"""What gdb sees of the machine: the AArch64 target description and register file.

The register numbering is gdb's for AArch64 (features org.gnu.gdb.aarch64.core
and org.gnu.gdb.aarch64.fpu): x0-x30 (0-30), sp (31), pc (32), cpsr (33,
32 bits), v0-v31 (34-65, 128 bits), fpsr (66) and fpcr (67), both 32 bits.
The `g` packet is all of them in that order, each little-endian.

A running thread's registers are the engine's; another guest thread's are in
its saved unicorn context (runtime/threads.py keeps one per thread that is not
running), read and written with uc_context_reg_read/write.  cpsr is the
condition flags: unicorn runs the guest at EL1 with interrupts masked, which
is not what a Linux process at EL0 has, so the mode and mask bits are left
out (a Linux process's PSTATE shows EL0t with DAIF clear, i.e. zeros).
"""
from __future__ import annotations

from elfuse_py.runtime.cpu import REG_FPCR, REG_FPSR, REG_NZCV, REG_PC, REG_Q0, REG_SP, xreg
from elfuse_py.runtime.uc import ffi, lib

NZCV_MASK = 0xF0000000

# (gdb name, size in bytes, unicorn register id), in gdb's register order.
REGISTERS: list[tuple[str, int, int]] = (
    [(f"x{i}", 8, xreg(i)) for i in range(31)]
    + [("sp", 8, REG_SP), ("pc", 8, REG_PC), ("cpsr", 4, REG_NZCV)]
    + [(f"v{i}", 16, REG_Q0 + i) for i in range(32)]
    + [("fpsr", 4, REG_FPSR), ("fpcr", 4, REG_FPCR)]
)
REGNUM_SP, REGNUM_PC, REGNUM_FP = 31, 32, 29


def _vector_types() -> str:
    vec = [("v2d", "ieee_double", 2), ("v2u", "uint64", 2), ("v2i", "int64", 2),
           ("v4f", "ieee_single", 4), ("v4u", "uint32", 4), ("v4i", "int32", 4),
           ("v8f", "ieee_half", 8), ("v8u", "uint16", 8), ("v8i", "int16", 8),
           ("v16u", "uint8", 16), ("v16i", "int8", 16),
           ("v1u", "uint128", 1), ("v1i", "int128", 1)]
    out = [f'<vector id="{i}" type="{t}" count="{n}"/>' for i, t, n in vec]
    for union, fields in (("vnd", "v2d v2u v2i"), ("vns", "v4f v4u v4i"), ("vnh", "v8f v8u v8i")):
        f, u, s = fields.split()
        out.append(f'<union id="{union}"><field name="f" type="{f}"/><field name="u" type="{u}"/>'
                   f'<field name="s" type="{s}"/></union>')
    out.append('<union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>')
    out.append('<union id="vnq"><field name="u" type="v1u"/><field name="s" type="v1i"/></union>')
    out.append('<union id="aarch64v"><field name="d" type="vnd"/><field name="s" type="vns"/>'
               '<field name="h" type="vnh"/><field name="b" type="vnb"/><field name="q" type="vnq"/></union>')
    return "".join(out)


def _target_xml() -> bytes:
    core = "".join(f'<reg name="x{i}" bitsize="64"/>' for i in range(31))
    core += ('<reg name="sp" bitsize="64" type="data_ptr"/>'
             '<reg name="pc" bitsize="64" type="code_ptr"/>'
             '<flags id="cpsr_flags" size="4">'
             '<field name="V" start="28" end="28"/><field name="C" start="29" end="29"/>'
             '<field name="Z" start="30" end="30"/><field name="N" start="31" end="31"/>'
             '</flags>'
             '<reg name="cpsr" bitsize="32" type="cpsr_flags"/>')
    fpu = _vector_types()
    fpu += '<reg name="v0" bitsize="128" type="aarch64v" regnum="34"/>'
    fpu += "".join(f'<reg name="v{i}" bitsize="128" type="aarch64v"/>' for i in range(1, 32))
    fpu += '<reg name="fpsr" bitsize="32"/><reg name="fpcr" bitsize="32"/>'
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
            '<target><architecture>aarch64</architecture><osabi>GNU/Linux</osabi>'
            f'<feature name="org.gnu.gdb.aarch64.core">{core}</feature>'
            f'<feature name="org.gnu.gdb.aarch64.fpu">{fpu}</feature>'
            '</target>').encode()


TARGET_XML = _target_xml()


class RegisterFile:
    """Reads and writes one guest thread's registers in gdb's layout."""

    def __init__(self, cpu, ctx=None) -> None:
        self.cpu = cpu
        self.ctx = ctx                      # a saved uc_context *, or None for the running thread
        self.buf = ffi.new("uint8_t[16]")

    def _read(self, regid: int) -> bytes:
        buf = self.buf
        ffi.memmove(buf, b"\0" * 16, 16)
        if self.ctx is None:
            lib.uc_reg_read(self.cpu.uc, regid, buf)
        else:
            lib.uc_context_reg_read(self.ctx, regid, buf)
        return bytes(ffi.buffer(buf))

    def _write(self, regid: int, data: bytes) -> None:
        buf = self.buf
        ffi.memmove(buf, data.ljust(16, b"\0"), 16)
        if self.ctx is None:
            lib.uc_reg_write(self.cpu.uc, regid, buf)
        else:
            lib.uc_context_reg_write(self.ctx, regid, buf)

    def read(self, n: int) -> bytes:
        """Register `n` (gdb's number) as little-endian bytes of its size."""
        _name, size, regid = REGISTERS[n]
        raw = self._read(regid)[:size]
        if regid == REG_NZCV:
            raw = (int.from_bytes(raw, "little") & NZCV_MASK).to_bytes(4, "little")
        return raw

    def write(self, n: int, data: bytes) -> None:
        _name, size, regid = REGISTERS[n]
        if len(data) != size:
            raise ValueError("register size")
        if regid == REG_NZCV:
            data = (int.from_bytes(data, "little") & NZCV_MASK).to_bytes(4, "little")
        self._write(regid, data)

    def read_all(self) -> bytes:
        return b"".join(self.read(n) for n in range(len(REGISTERS)))

    def write_all(self, data: bytes) -> None:
        off = 0
        for n, (_name, size, _regid) in enumerate(REGISTERS):
            if off + size > len(data):
                break                      # gdb may send fewer: the rest stays
            self.write(n, data[off:off + size])
            off += size

    def value(self, n: int) -> int:
        return int.from_bytes(self.read(n), "little")
