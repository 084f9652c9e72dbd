"""Human-readable reports of guest faults (registers and the faulting instruction)."""
from __future__ import annotations

from elfuse_py.runtime.cpu import GPR_IDS, REG_PC, REG_SP


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
