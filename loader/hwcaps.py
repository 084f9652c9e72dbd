"""AT_HWCAP / AT_HWCAP2 derived from the emulated CPU's ID registers, as Linux does.

Only features whose user-visible side the emulator fully provides are
advertised: SVE/SME (need signal-frame and prctl support), pointer
authentication, BTI and MTE are left out even if the CPU model implements them,
so libc never selects code paths the kernel side cannot back.
"""
from __future__ import annotations

# ID register encodings (op0, op1, CRn, CRm, op2).
ID_AA64PFR0 = (3, 0, 0, 4, 0)
ID_AA64PFR1 = (3, 0, 0, 4, 1)
ID_AA64ISAR0 = (3, 0, 0, 6, 0)
ID_AA64ISAR1 = (3, 0, 0, 6, 1)
ID_AA64MMFR2 = (3, 0, 0, 7, 2)

# (word, bit, register, field shift, minimum value) - arch/arm64/kernel/cpufeature.c
_CAPS = [
    (1, 3, ID_AA64ISAR0, 4, 1),    # AES
    (1, 4, ID_AA64ISAR0, 4, 2),    # PMULL
    (1, 5, ID_AA64ISAR0, 8, 1),    # SHA1
    (1, 6, ID_AA64ISAR0, 12, 1),   # SHA2
    (1, 7, ID_AA64ISAR0, 16, 1),   # CRC32
    (1, 8, ID_AA64ISAR0, 20, 2),   # ATOMICS (LSE)
    (1, 12, ID_AA64ISAR0, 28, 1),  # ASIMDRDM
    (1, 13, ID_AA64ISAR1, 12, 1),  # JSCVT
    (1, 14, ID_AA64ISAR1, 16, 1),  # FCMA
    (1, 15, ID_AA64ISAR1, 20, 1),  # LRCPC
    (1, 16, ID_AA64ISAR1, 0, 1),   # DCPOP
    (1, 17, ID_AA64ISAR0, 32, 1),  # SHA3
    (1, 18, ID_AA64ISAR0, 36, 1),  # SM3
    (1, 19, ID_AA64ISAR0, 40, 1),  # SM4
    (1, 20, ID_AA64ISAR0, 44, 1),  # ASIMDDP
    (1, 21, ID_AA64ISAR0, 12, 2),  # SHA512
    (1, 23, ID_AA64ISAR0, 48, 1),  # ASIMDFHM
    (1, 24, ID_AA64PFR0, 48, 1),   # DIT
    (1, 25, ID_AA64MMFR2, 32, 1),  # USCAT
    (1, 26, ID_AA64ISAR1, 20, 2),  # ILRCPC
    (1, 27, ID_AA64ISAR0, 52, 1),  # FLAGM
    (1, 28, ID_AA64PFR1, 4, 2),    # SSBS
    (1, 29, ID_AA64ISAR1, 36, 1),  # SB
    (2, 0, ID_AA64ISAR1, 0, 2),    # DCPODP
    (2, 7, ID_AA64ISAR0, 52, 2),   # FLAGM2
    (2, 8, ID_AA64ISAR1, 32, 1),   # FRINT
    (2, 13, ID_AA64ISAR1, 52, 1),  # I8MM
    (2, 14, ID_AA64ISAR1, 44, 1),  # BF16
    (2, 15, ID_AA64ISAR1, 48, 1),  # DGH
    (2, 16, ID_AA64ISAR0, 60, 1),  # RNG
]

HWCAP_FP, HWCAP_ASIMD, HWCAP_CPUID, HWCAP_FPHP, HWCAP_ASIMDHP = 1 << 0, 1 << 1, 1 << 11, 1 << 9, 1 << 10


def _field(value: int, shift: int) -> int:
    return (value >> shift) & 0xF


def compute_hwcaps(read_sysreg) -> tuple[int, int]:
    """(AT_HWCAP, AT_HWCAP2) for a CPU whose ID registers `read_sysreg(enc)` returns."""
    regs = {enc: read_sysreg(*enc) for enc in {c[2] for c in _CAPS} | {ID_AA64PFR0}}
    hwcap = HWCAP_CPUID  # Linux emulates MRS of ID registers; unicorn lets EL0 code read them
    pfr0 = regs[ID_AA64PFR0]
    fp, simd = _field(pfr0, 16), _field(pfr0, 20)
    if fp != 0xF:
        hwcap |= HWCAP_FP | (HWCAP_FPHP if fp == 1 else 0)
    if simd != 0xF:
        hwcap |= HWCAP_ASIMD | (HWCAP_ASIMDHP if simd == 1 else 0)
    hwcap2 = 0
    for word, bit, reg, shift, minimum in _CAPS:
        if _field(regs[reg], shift) >= minimum:
            if word == 1:
                hwcap |= 1 << bit
            else:
                hwcap2 |= 1 << bit
    return hwcap, hwcap2
