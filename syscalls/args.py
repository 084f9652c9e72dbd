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


# A wait longer than this (68 years) never ends in practice; the hosts' own
# waits cannot even take such values (time_t, _PyTime_t, poll's int ms), so
# the handlers wait without a limit instead.  (Linux clamps at 2^63 ns.)
FOREVER_SEC = 1 << 31
POLL_MS_MAX = 0x7FFFFFFF        # poll()'s timeout is a C int
