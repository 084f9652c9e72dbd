"""Helpers that turn raw 64-bit register values into the C types handlers need."""
from __future__ import annotations

AT_FDCWD = -100


def s32(v: int) -> int:
    """The low 32 bits of a register as a signed C int."""
    v &= 0xFFFFFFFF
    return v - 0x100000000 if v & 0x80000000 else v


def u32(v: int) -> int:
    return v & 0xFFFFFFFF


def s64(v: int) -> int:
    return v - 0x10000000000000000 if v & 0x8000000000000000 else v
