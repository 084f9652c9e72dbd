"""Code marks: inert unicorn hooks over the guest's executable ranges, so translating
code does not scan the whole TLB.

This module owns one optimisation of unicorn 2.1's translator.  After it
translates a block, `tb_gen_code` calls `tlb_reset_dirty_by_vaddr` for the
block's page unless `uc_mem_hook_installed(pc)` (a memory hook covers the pc).
That call walks *every* TLB entry of every MMU index -- with the TLB grown to
fit a working set (runtime/cpu.py), megabytes per translated block -- to put
the not-dirty bit back on any write entry of the page, so that a later store
to the page takes the slow path that drops stale translations.

Under the virtual TLB (runtime/cpu.py `attach_memory`) no such entry can
exist: a write entry loses the not-dirty bit only if it is not executable
(`notdirty_write` keeps it on entries with execute permission), every entry
filled while a region is executable has execute permission, and a region
that becomes executable has the TLB flushed (GuestMemory.protect), so the
entries filled before are gone.  Stores into code therefore keep taking the
slow path that drops stale translations, with or without the walk.

A hook of type UC_HOOK_MEM_FETCH_PROT bounded to an executable range makes
`uc_mem_hook_installed` true there.  It never runs: unicorn calls it only for
a fetch from a mapping without UC_PROT_EXEC, and the guest window is one
mapping with all permissions (runtime/memory.py).  The hooks must cover
executable ranges only: over a writable data page `notdirty_write` would keep
every store on the slow path.  GuestMemory calls `update` after each change
of its regions; a missing mark only costs the walk.
"""
from __future__ import annotations

from _bisect import bisect_right      # (the C module: bisect.py is a wrapper)

from elfuse_py.runtime.uc import ffi, lib

UC_HOOK_MEM_FETCH_PROT = 1 << 9
_PROT_EXEC = 4


@ffi.callback("bool(void *, int, uint64_t, int, int64_t, void *)")
def _never_called(_uc, _type, _addr, _size, _value, _data):
    # A fetch from a mapping without UC_PROT_EXEC: there is none.  Not handled,
    # so unicorn reports it exactly as it would without this hook.
    return False


class CodeMarks:
    """The marks of one engine: a hook per executable region, kept in address order."""

    def __init__(self, uc) -> None:
        self.uc = uc
        self.starts: list[int] = []
        self.marks: list[tuple[int, int, object]] = []     # (start, end, uc_hook *)
        self.enabled = True

    def update(self, regions: list, starts: list[int], lo: int, hi: int) -> None:
        """Re-mark [lo, hi) after its regions changed: the marks touching it go, and
        every executable region overlapping the marks' and [lo, hi)'s span gets one."""
        if not self.enabled:
            return
        # Marks that touch [lo, hi] (a neighbour may have merged with a new region).
        i = bisect_right(self.starts, hi)
        j = i
        while j > 0 and self.marks[j - 1][1] >= lo:
            j -= 1
        if j < i:
            lo = min(lo, self.marks[j][0])
            hi = max(hi, self.marks[i - 1][1])
            for _s, _e, h in self.marks[j:i]:
                lib.uc_hook_del(self.uc, h[0])
            del self.marks[j:i]
            del self.starts[j:i]
        k = max(bisect_right(starts, lo) - 1, 0)
        new = []
        while k < len(regions) and regions[k].start < hi:
            r = regions[k]
            if r.end > lo and r.prot & _PROT_EXEC:
                h = ffi.new("uc_hook *")
                if lib.uc_hook_add(self.uc, h, UC_HOOK_MEM_FETCH_PROT, _never_called, ffi.NULL,
                                   r.start, r.end - 1):
                    # Cannot mark: translation walks the TLB, as without marks.
                    for _s, _e, old in new:
                        lib.uc_hook_del(self.uc, old[0])
                    self.clear()
                    self.enabled = False
                    return
                new.append((r.start, r.end, h))
            k += 1
        if new:
            self.marks[j:j] = new
            self.starts[j:j] = [m[0] for m in new]

    def clear(self) -> None:
        for _s, _e, h in self.marks:
            lib.uc_hook_del(self.uc, h[0])
        self.marks.clear()
        self.starts.clear()
