"""Experiment: can guest threads run truly in parallel, one unicorn engine per host thread?

Not part of the product (elfuse-py runs every guest thread of a process on one
engine, in turns); kept to make the finding reproducible.  Two or four engines,
each in its own host thread (the unicorn binding is ctypes, which releases the
GIL during uc_emu_start), map the same host page with uc_mem_map_ptr and
increment one shared 64-bit counter n times each, with:

  plain  ldr/add/str               (no atomicity expected: the control)
  llsc   ldxr/add/stxr/cbnz        (exclusive monitor)
  lse    ldadd                     (ARMv8.1 LSE)
  casl   ldr, then casal loop      (ARMv8.1 LSE compare-and-swap)

and counts lost updates (expected total minus final value).  A last test
passes messages (data, then stlr flag; the other side ldar flag, then ldr
data) and counts stale data reads.

Usage: .venv/bin/python bench/parallel_engines.py [n]    (default 2 000 000)

Finding (unicorn 2.1.4, x86-64 host): every atomic loses updates across
engines, because unicorn never sets qemu's CF_PARALLEL: tcg_gen_atomic_* and
the store-exclusive's cmpxchg are then generated as a plain load, compare and
store (tcg/tcg-op.c), and tcg_gen_mb emits no barrier at all.  Message passing
held on this TSO host only because x86 does not reorder stores; an arm64 host
would reorder them too.  Parallel engines are therefore not safe for guests
that synchronise through memory, which is every threaded guest.
"""
from __future__ import annotations

import ctypes
import mmap
import sys
import threading
import time

from unicorn import UC_ARCH_ARM64, UC_MODE_ARM, UC_PROT_ALL, Uc
from unicorn.arm64_const import (UC_ARM64_REG_X0, UC_ARM64_REG_X1, UC_ARM64_REG_X6,
                                 UC_ARM64_REG_X7, UC_ARM64_REG_X9, UC_CPU_ARM64_MAX)

# The loops, assembled (.arch armv8.1-a) from:
#   llsc:  1: ldxr x2,[x0]; add x2,x2,#1; stxr w3,x2,[x0]; cbnz w3,1b; subs x1,x1,#1; b.ne 1b; brk #1
#   lse:   mov x4,#1; 2: ldadd x4,x2,[x0]; subs x1,x1,#1; b.ne 2b; brk #2
#   plain: 3: ldr x2,[x0]; add x2,x2,#1; str x2,[x0]; subs x1,x1,#1; b.ne 3b; brk #3
#   casl:  4: ldr x2,[x0]; 5: add x3,x2,#1; mov x5,x2; casal x5,x3,[x0]; cmp x5,x2; mov x2,x5
#          b.ne 5b; subs x1,x1,#1; b.ne 4b; brk #4
#   ping:  mov x2,#1; 6: str x2,[x6]; stlr x2,[x0]; 7: ldar x3,[x7]; cmp x3,x2; b.ne 7b
#          add x2,x2,#1; cmp x2,x1; b.le 6b; brk #5
#   pong:  mov x2,#1; mov x9,#0; 8: ldar x3,[x0]; cmp x3,x2; b.ne 8b; ldr x4,[x6]; cmp x4,x2
#          cinc x9,x9,ne; stlr x2,[x7]; add x2,x2,#1; cmp x2,x1; b.le 8b; brk #6
CODE = bytes.fromhex(
    "027c5fc842040091027c03c8a3ffff35210400f161ffff54200020d4240080d2020024f8210400f1"
    "c1ffff54400020d4020040f942040091020000f9210400f181ffff54600020d4020040f943040091"
    "e50302aa03fce5c8bf0002ebe20305aa61ffff54210400f101ffff54800020d4220080d2c20000f9"
    "02fc9fc8e3fcdfc87f0002ebc1ffff54420400915f0001eb2dffff54a00020d4220080d2090080d2"
    "03fcdfc87f0002ebc1ffff54c40040f99f0002eb2905899ae2fc9fc8420400915f0001ebedfeff54"
    "c00020d4")
ENTRY = {"llsc": 0, "lse": 28, "plain": 48, "casl": 72, "ping": 112, "pong": 152}
END = {"llsc": 24, "lse": 44, "plain": 68, "casl": 108, "ping": 148, "pong": 200}   # the brk
CODE_BASE, DATA_BASE = 0x10000, 0x20000

page = mmap.mmap(-1, 4096)
page_addr = ctypes.addressof(ctypes.c_char.from_buffer(page))


def engine() -> Uc:
    uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
    uc.ctl_set_cpu_model(UC_CPU_ARM64_MAX)          # LSE
    uc.mem_map(CODE_BASE, 4096, UC_PROT_ALL)
    uc.mem_write(CODE_BASE, CODE)
    uc.mem_map_ptr(DATA_BASE, 4096, UC_PROT_ALL, page_addr)   # the shared page
    return uc


def run(uc: Uc, fn: str, regs: dict, out: list, i: int) -> None:
    for r, v in regs.items():
        uc.reg_write(r, v)
    t0 = time.perf_counter()
    uc.emu_start(CODE_BASE + ENTRY[fn], CODE_BASE + END[fn])
    out[i] = (time.perf_counter() - t0, uc.reg_read(UC_ARM64_REG_X9))


def _timed(threads: list) -> float:
    """Start `threads` (one engine each), wait for all of them; the wall time in seconds."""
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def counter(fn: str, engines: int, n: int) -> None:
    page[0:8] = bytes(8)
    ucs = [engine() for _ in range(engines)]
    out: list = [None] * engines
    regs = {UC_ARM64_REG_X0: DATA_BASE, UC_ARM64_REG_X1: n}
    wall = _timed([threading.Thread(target=run, args=(u, fn, regs, out, i)) for i, u in enumerate(ucs)])
    got = int.from_bytes(page[0:8], "little")
    want = engines * n
    busy = sum(o[0] for o in out)
    print(f"{fn:5s} {engines} engines x {n}: {got} of {want}, lost {want - got} "
          f"({100 * (want - got) / want:.1f}%)  wall {wall:.3f}s, engines' time {busy:.3f}s")


def messages(n: int) -> None:
    page[0:32] = bytes(32)
    a, b = engine(), engine()
    out: list = [None, None]
    regs = {UC_ARM64_REG_X0: DATA_BASE, UC_ARM64_REG_X7: DATA_BASE + 8,
            UC_ARM64_REG_X6: DATA_BASE + 16, UC_ARM64_REG_X1: n}
    wall = _timed([threading.Thread(target=run, args=(a, "ping", regs, out, 0)),
                   threading.Thread(target=run, args=(b, "pong", regs, out, 1))])
    print(f"messages {n}: {out[1][1]} stale data reads, {n / wall / 1e3:.0f}k round trips/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    for fn in ("plain", "llsc", "lse", "casl"):
        counter(fn, 1, n)
    for fn in ("plain", "llsc", "lse", "casl"):
        for k in (2, 4):
            counter(fn, k, n)
    messages(200_000)


if __name__ == "__main__":
    main()
