"""Guest faults: human-readable reports (registers and the faulting instruction) and
the exact address of a refused access (the signal's si_addr)."""
from __future__ import annotations

from elfuse_py.runtime.cpu import GPR_IDS, MASK64, REG_PC, REG_SP, xreg


def describe_fault(proc, sig: int) -> str:
    cpu = proc.cpu
    pc, sp = cpu.reg(REG_PC), cpu.reg(REG_SP)
    lines = [f"elfuse-py: guest fault (signal {sig}) at pc={pc:#x} sp={sp:#x}"]
    try:
        import capstone

        md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
        code = proc.mem.read(pc, 4)
        for insn in md.disasm(code, pc):
            lines.append(f"  {insn.address:#x}: {insn.mnemonic} {insn.op_str}")
    except Exception:  # noqa: BLE001 - the report is best-effort
        lines.append("  (instruction not readable)")
    regs = cpu.regs(GPR_IDS)
    for i in range(0, 31, 4):
        lines.append("  " + "  ".join(f"x{j:<2}={regs[j]:#018x}" for j in range(i, min(i + 4, 31))))
    return "\n".join(lines) + "\n"


# The CPU's TLB refuses a fill for a whole page (the engine's TARGET_PAGE,
# Cpu.fill_page: 4 KiB, or 1 KiB where unicorn keeps its default), so the
# refused address (mem.fault_addr) has lost its low bits, and unicorn sets no
# FAR_EL1.  Linux's si_addr is the exact address the load or store used:
# decode the faulting instruction and recompute it from its registers.
_MD: list = []


def _reg_value(cpu, name: str) -> int | None:
    if name in ("sp", "wsp"):
        return cpu.reg(REG_SP)
    alias = {"fp": 29, "lr": 30, "x29": 29, "x30": 30}
    if name in alias:
        return cpu.reg(xreg(alias[name]))
    if name[:1] in "xw" and name[1:].isdigit():
        v = cpu.reg(xreg(int(name[1:])))
        return v & 0xFFFFFFFF if name[0] == "w" else v
    if name in ("xzr", "wzr"):
        return 0
    return None


def exact_fault_addr(proc, coarse: int) -> int:
    """The address of the access the CPU refused in the page at `coarse` (best effort:
    `coarse` itself when the instruction cannot be decoded)."""
    try:
        if not _MD:
            import capstone     # only on a fault: capstone stays off the start-up path
            md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
            md.detail = True
            _MD.append((md, capstone.arm64))
        md, a64 = _MD[0]
        cpu = proc.cpu
        pc = cpu.reg(REG_PC)
        for insn in md.disasm(proc.mem.read(pc, 4), pc):
            for op in insn.operands:
                if op.type != a64.ARM64_OP_MEM:
                    continue
                base = _reg_value(cpu, insn.reg_name(op.mem.base)) if op.mem.base else 0
                if base is None:
                    return coarse
                addr = base + op.mem.disp
                if op.mem.index:
                    iname = insn.reg_name(op.mem.index)
                    idx = _reg_value(cpu, iname)
                    if idx is None:
                        return coarse
                    if iname[0] == "w" and op.ext == a64.ARM64_EXT_SXTW and idx & 0x80000000:
                        idx -= 1 << 32
                    if op.shift.type == a64.ARM64_SFT_LSL:
                        idx <<= op.shift.value
                    addr += idx
                addr &= MASK64
                return addr if coarse <= addr < coarse + cpu.fill_page else coarse
    except Exception:  # noqa: BLE001 - the exact address is best effort
        pass
    return coarse
