"""Watchpoints (Z2 write, Z3 read, Z4 access) as unicorn memory hooks.

A memory hook bound to the watched range notes the access; the stop happens
at the next instruction boundary, found by a code hook over all code that
exists only while a watchpoint does.  Stopping inside the memory hook itself
would leave the engine with the store done but the PC still on the storing
instruction, so resuming would run it twice (a store-exclusive that already
succeeded would then fail and its loop would add twice).  So the stop comes
one instruction after the access, with the access complete: gdb, which on
AArch64 expects to stop before it, steps once more and then compares the old
and new values, so it reports the change one instruction late but never a
wrong one.

Accesses the emulator makes on the guest's behalf (a read() into the
buffer) are not seen, as Linux's hardware watchpoints do not see the
kernel's.  While a watchpoint exists every instruction calls the code hook:
the guest runs at perhaps a million instructions a second, still far faster
than gdb's own single-stepping software watchpoints.
"""
from __future__ import annotations

from elfuse_py.runtime.uc import check, ffi, lib, uc_ctl_write

UC_HOOK_CODE = 4
UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE = 1024, 2048
UC_CTL_TB_FLUSH = 10
# gdb's Z type -> (unicorn hook types, the stop reply's reason)
KINDS = {
    2: (UC_HOOK_MEM_WRITE, b"watch"),
    3: (UC_HOOK_MEM_READ, b"rwatch"),
    4: (UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, b"awatch"),
}


class Watchpoints:
    """The watchpoints of one engine, and the access that hit one (`hit`)."""

    def __init__(self, cpu) -> None:
        self.cpu = cpu
        self.uc = cpu.uc
        self.hooks: dict[tuple[int, int, int], object] = {}   # (type, addr, len) -> uc_hook *
        self.hit: tuple[bytes, int] | None = None              # (reason, data address)
        self._boundary = None                                   # the all-code hook while any exist
        self._callbacks: dict[int, object] = {}
        self._on_insn = ffi.callback("void(uc_engine *, uint64_t, uint32_t, void *)", self._insn)

    def _callback(self, kind: int):
        cb = self._callbacks.get(kind)
        if cb is None:
            reason = KINDS[kind][1]

            def on_access(_uc, _type, addr, _size, _value, _data):
                if self.hit is None:
                    self.hit = (reason, addr)
            cb = ffi.callback("void(uc_engine *, int, uint64_t, int, int64_t, void *)", on_access)
            self._callbacks[kind] = cb
        return cb

    def _insn(self, _uc, _addr, _size, _data) -> None:
        if self.hit is not None:
            self.cpu.stop("debug")

    def _flush(self) -> None:
        # Hooks are bound when code is translated: translate everything again.
        lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_TB_FLUSH, 0))

    def add(self, kind: int, addr: int, length: int) -> bool:
        if kind not in KINDS or length <= 0:
            return False
        key = (kind, addr, length)
        if key in self.hooks:
            return True
        h = ffi.new("uc_hook *")
        check(lib.uc_hook_add(self.uc, h, KINDS[kind][0], self._callback(kind), ffi.NULL,
                              addr, addr + length - 1), "watchpoint")
        self.hooks[key] = h
        if self._boundary is None:
            b = ffi.new("uc_hook *")
            check(lib.uc_hook_add(self.uc, b, UC_HOOK_CODE, self._on_insn, ffi.NULL, 1, 0), "watchpoint")
            self._boundary = b
        self._flush()
        return True

    def remove(self, kind: int, addr: int, length: int) -> bool:
        h = self.hooks.pop((kind, addr, length), None)
        if h is None:
            return kind in KINDS
        lib.uc_hook_del(self.uc, h[0])
        if not self.hooks and self._boundary is not None:
            lib.uc_hook_del(self.uc, self._boundary[0])
            self._boundary = None
        self._flush()
        return True

    def clear(self, flush: bool = True) -> None:
        """Remove them all (a detach; in a fork child `flush` is False: it runs inside a hook)."""
        for h in self.hooks.values():
            lib.uc_hook_del(self.uc, h[0])
        self.hooks.clear()
        if self._boundary is not None:
            lib.uc_hook_del(self.uc, self._boundary[0])
            self._boundary = None
        self.hit = None
        if flush:
            self._flush()

    def take(self) -> tuple[bytes, int] | None:
        hit, self.hit = self.hit, None
        return hit
