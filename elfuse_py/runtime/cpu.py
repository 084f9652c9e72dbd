"""The CPU core: one unicorn AArch64 engine, its registers and the syscall hook.

This module owns the hot path.  A guest `svc #0` raises interrupt 2; the one
UC_HOOK_INTR callback reads X0-X8, indexes the dispatch list by X8, calls the
handler and writes X0 back.  Two things keep that round trip short:

* Guest stores stay on TCG's inline fast path.  With unicorn's default
  ("cpu") TLB the AArch64 MMU is off, every TLB entry is executable, and
  unicorn 2.1 then keeps every page "not dirty" for self-modifying-code
  detection, so *every* guest store takes the slow helper path (~25-40 ns,
  about 1 us per musl syscall round trip).  The "virtual" TLB asks
  `attach_memory`'s fill hook for each page's permissions instead; pages
  without PROT_EXEC get entries without execute permission, their first
  store clears the not-dirty bit and later stores run inline.  Fills are rare
  (a few dozen per program; the TLB is only flushed when mappings change).
* The syscall registers are read and written in place.  At start-up the
  engine's CPU state is located by writing marker values into X0-X30 and
  finding them in memory (Linux: through /proc/self/mem, so a wrong guess
  never crashes); then a syscall costs one struct unpack instead of two
  foreign calls.  Where the probe fails the hook uses uc_reg_read_batch.
"""
from __future__ import annotations

import errno as _errno
import os
import struct
import sys

from elfuse_py.host import memory as hostmem
from elfuse_py.host import platform
from elfuse_py.runtime import lerrno, log, ucexits
from elfuse_py.runtime.memory import GuestFault
from elfuse_py.runtime.uc import (UC_ARCH_ARM64, UC_CPU_ARM64_MAX, UC_CTL_CPU_MODEL, UC_CTL_TLB_FLUSH, UC_CTL_UC_PAGE_SIZE, UC_CTL_TLB_TYPE, UC_HOOK_INTR, UC_HOOK_TLB_FILL, UC_MEM_FETCH, UC_MEM_READ, UC_MEM_WRITE, UC_MODE_ARM, UC_TLB_VIRTUAL, check, ffi, flush_tb, lib, uc_ctl_write)

_EFBIG = _errno.EFBIG      # a host write past RLIMIT_FSIZE (SIGXFSZ: on_file_too_big)

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

# TLB fill: the access being filled, as a protection bit.  It is always
# granted in the TLB entry so that unicorn's own checks against the mapping's
# permissions (slow path) report the fault exactly as with the default TLB.
_ACCESS_BITS = [7] * 32
_ACCESS_BITS[UC_MEM_READ], _ACCESS_BITS[UC_MEM_WRITE], _ACCESS_BITS[UC_MEM_FETCH] = 1, 2, 4
assert ffi.sizeof("uc_tlb_entry") == 16

# TLB growth (see attach_memory): fills before the first flush, and the
# largest interval between flushes.
_TLB_FILLS_BEFORE_FLUSH = 1024
# The engine's page (TARGET_PAGE): Linux AArch64's, the granule of guest mappings.
_GUEST_PAGE = 4096
_TLB_FILLS_MAX_INTERVAL = 1 << 16
# Conflict relief (see attach_memory): a run of fills this many times the
# pages it filled counts as thrashing; spare entries per page then, and at most.
_TLB_THRASH = 4
_TLB_SPARE_PER_PAGE = 4
_TLB_SPARE_MAX = 1 << 14
# The probe for the CPU state: how far into the engine object to look for
# pointers, and how much of each pointee to search for the marker values.
_PROBE_HEAD = 16384
_PROBE_SPAN = 1 << 16
_X_UNPACK = struct.Struct("<9Q").unpack_from      # X0..X8 from the live register file
# Where the register file sat in its pointee: first the offset in the unicorn 2.1
# wheels (measured), then whatever a full search found last in this process.  A
# guess costs one small read per candidate pointer instead of a 64 KiB one, and
# is verified like any find; a wrong guess only falls back to the search.
_XREGS_OFFSETS = [41872]
# Where, in the engine object, the pointer to that pointee sat: the same kind of
# guess (the unicorn 2.1 wheels: uc->cpu, measured).  With it a probe is two
# small reads, before any scan of the engine's 16 KiB head (~0.35 ms).
_XREGS_POINTER_AT = [440]


def _locate_xregs(uc) -> memoryview | None:
    """A live 'Q' memoryview of the engine's X0..X31, or None if it cannot be found safely.

    Writes distinct markers to X0-X30 with uc_reg_write, reads the engine
    object's words as candidate pointers and searches their pointees for the
    markers.  Memory is read through /proc/self/mem, where an address that is
    not mapped is an error rather than a crash.  The find is then verified in
    both directions (uc_reg_write shows in memory, a memory write shows in
    uc_reg_read) before it is used.
    """
    if os.environ.get("ELFUSE_NO_DIRECT_REGS") or hostmem.SELF_MEM is None:
        return None
    try:
        fd = os.open(hostmem.SELF_MEM, os.O_RDONLY)
    except OSError:
        return None
    val = ffi.new("uint64_t[1]")

    def put(n: int, v: int) -> None:
        val[0] = v
        lib.uc_reg_write(uc, xreg(n), val)

    def get(n: int) -> int:
        lib.uc_reg_read(uc, xreg(n), val)
        return val[0]

    def peek(addr: int, n: int) -> bytes:
        try:
            return os.pread(fd, n, addr)
        except (OSError, OverflowError, ValueError):
            return b""

    try:
        rnd = os.urandom(8 * 31)            # (one getrandom, not 31)
        marks = [int.from_bytes(rnd[8 * i:8 * i + 8], "little") | (1 << 63) for i in range(31)]
        for i, m in enumerate(marks):
            put(i, m)
        pattern = struct.pack("<31Q", *marks)
        base = int(ffi.cast("uintptr_t", uc))

        def live(addr: int):
            view = memoryview(ffi.buffer(ffi.cast("uint64_t *", addr), 32 * 8)).cast("B").cast("Q")
            # Live, or a stale copy of the registers?  Check both directions.
            put(5, 0x1122334455667788)
            view[6] = 0x0123456789ABCDEF
            if view[5] == 0x1122334455667788 and get(6) == 0x0123456789ABCDEF:
                return view
            view[6] = marks[6]      # a copy: restore it and the markers, look on
            put(5, marks[5])
            put(6, marks[6])
            return None

        def pointer(raw: bytes) -> int | None:
            w = int.from_bytes(raw, "little") if len(raw) == 8 else 0
            return None if w < 0x10000 or w & 7 or w >= 1 << 56 else w

        for at in reversed(_XREGS_POINTER_AT):      # both guesses first (see _XREGS_POINTER_AT)
            w = pointer(peek(base + at, 8))
            for off in reversed(_XREGS_OFFSETS) if w is not None else ():
                if peek(w + off, len(pattern)) == pattern and (view := live(w + off)) is not None:
                    return view
        head = peek(base, _PROBE_HEAD)
        words = []                  # (pointer, where in the head)
        for at in range(0, len(head) & ~7, 8):
            w = pointer(head[at:at + 8])
            if w is not None and all(w != seen for seen, _ in words):
                words.append((w, at))
        for off in reversed(_XREGS_OFFSETS):        # the guesses first (see _XREGS_OFFSETS)
            for w, at in words:
                if peek(w + off, len(pattern)) == pattern and (view := live(w + off)) is not None:
                    if at not in _XREGS_POINTER_AT:
                        _XREGS_POINTER_AT.append(at)
                    return view
        for w, at in words:
            found = peek(w, _PROBE_SPAN).find(pattern)
            if found < 0 or (w + found) % 8:
                continue
            view = live(w + found)
            if view is not None:
                if found not in _XREGS_OFFSETS:
                    _XREGS_OFFSETS.append(found)
                if at not in _XREGS_POINTER_AT:
                    _XREGS_POINTER_AT.append(at)
                return view
        return None
    finally:
        os.close(fd)
        for i in range(31):
            put(i, 0)


def _init_engine(uc) -> None:
    """Have unicorn build the machine now, as it does at the first register access
    (writing X0's reset value), with the host's huge pages off for what that touches.

    Its init asks for huge pages for its 1 GiB code buffer and writes the first
    code there: a whole 2 MiB page zeroed, after compaction when memory is
    fragmented: 0.3 ms and up to several ms of every start-up, for a code cache
    a short program never fills.  The rest of the buffer keeps huge pages.
    """
    zero = ffi.new("uint64_t[1]")
    hostmem.small_pages(lambda: lib.uc_reg_write(uc, xreg(0), zero))


class GuestExit(Exception):
    """Raised outside the hook to end the emulation with a status."""


class Cpu:
    """An AArch64 engine plus the state the run loop needs."""

    def __init__(self) -> None:
        ucp = ffi.new("uc_engine **")
        check(lib.uc_open(UC_ARCH_ARM64, UC_MODE_ARM, ucp), "uc_open")
        self.uc = ucp[0]
        # unicorn's arm engines default to qemu's smallest ARM page, 1 KiB, so
        # every 4 KiB guest page took four TLB entries and four fills (a Python
        # call each).  Linux AArch64's page is 4 KiB: one entry covers it, and
        # the same TLB reaches four times the memory.  Must precede the
        # engine's initialisation; where refused the engine keeps 1 KiB.
        self.fill_page = 1024
        if lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_UC_PAGE_SIZE, 1), ffi.cast("uint32_t", _GUEST_PAGE)) == 0:
            self.fill_page = _GUEST_PAGE
        # The "max" model implements the most of ARMv8.x (LSE atomics, crypto,
        # SVE off); AT_HWCAP is derived from what it reports.
        check(lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_CPU_MODEL, 1),
                         ffi.cast("int", UC_CPU_ARM64_MAX)), "uc_ctl(CPU_MODEL)")
        _init_engine(self.uc)            # (with the settings above: see _init_engine)
        self._hook_handle = ffi.new("uc_hook *")
        self._callback = None
        self.syscall_gate = None             # the gate of the installed hook (install_syscall_hook)
        self.stop_reason: str | None = None   # "exit", "fault", "exec", "signal"
        self.exit_status = 0
        # Called when a syscall's host call failed with EFBIG (the signals layer
        # raises the guest's SIGXFSZ there: the host's is always ignored).
        self.on_file_too_big = None
        self.fault_intno = 0
        self.internal_error: BaseException | None = None
        self._scratch = ffi.new("uint64_t[1]")
        self._batch_vals = ffi.new("uint64_t[64]")
        self._batch_ptrs = ffi.new("void *[64]", [self._batch_vals + i for i in range(64)])
        self._tlb_callback = None
        self._tlb_mem = None
        self._tlb_handle = ffi.new("uc_hook *")
        self.name_of = str               # syscall number -> name, for error reports
        # X0..X31 in the engine's own memory, or None (see _locate_xregs).
        self.xregs = _locate_xregs(self.uc)
        # The CPU state of a fresh engine, for `reset` (an execve): every
        # register, system register and the exclusive monitor as they were
        # before any guest ran.
        self._pristine = ffi.new("uc_context **")
        check(lib.uc_context_alloc(self.uc, self._pristine), "uc_context_alloc")
        check(lib.uc_context_save(self.uc, self._pristine[0]), "uc_context_save")
        # No exit checks after guest memory accesses (runtime/ucexits.py): a
        # stop request from another thread is then seen only where a block
        # starts, exactly, and the accesses skip a helper call each.
        self._exit_flag = ucexits.locate(self.uc, self.fill_page)
        if self._exit_flag is not None:
            ucexits.set_checks(self.uc, self._exit_flag, False)

    @property
    def exact_async_stop(self) -> bool:
        """True if uc_emu_stop from another host thread stops this engine
        exactly, where a block starts (runtime/ucexits.py)."""
        flag = self._exit_flag
        return flag is not None and flag[0] == b"\x01" and platform.ENGINE_STOP_FROM_ANY_THREAD

    def exit_checks(self, on: bool) -> None:
        """Compile the engine's exit checks after memory accesses (on), as a
        stop from inside a code or memory hook needs (gdb's breakpoints and
        watchpoints), or not (off: the default, see exact_async_stop)."""
        if self._exit_flag is not None:
            ucexits.set_checks(self.uc, self._exit_flag, on)

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

    def reset(self) -> None:
        """execve: the CPU as a fresh engine has it, with no translated code.

        The engine itself stays (its hooks, the signal watcher and the
        time-slice ticker hold it); only its state and its code cache go, which
        costs far less than a new engine (~1.5 ms for uc_open and the
        register probe)."""
        check(lib.uc_context_restore(self.uc, self._pristine[0]), "uc_context_restore")
        flush_tb(self.uc)
        self.stop_reason = None
        self.exit_status = 0
        self.fault_intno = 0
        self.internal_error = None

    # ----- running ---------------------------------------------------------------

    def attach_memory(self, mem) -> None:
        """Switch to the virtual TLB, with page permissions taken from `mem`'s regions.

        See the module docstring: this is what keeps guest stores on the
        inline fast path.  It is also what enforces the guest's mappings:
        unicorn has the whole guest window as one mapping (runtime/memory.py),
        so a fill for an unmapped page, or for an access the page's protection
        does not allow, is refused here; unicorn then stops with
        UC_ERR_EXCEPTION and `mem.fault_addr` tells the run loop it was a
        memory fault (SIGSEGV), not an undefined instruction.
        """
        region_at = mem.region_at
        top = mem.TASK_SIZE
        acc = _ACCESS_BITS
        uc = self.uc
        flush_ctl = uc_ctl_write(UC_CTL_TLB_FLUSH, 0)
        # qemu sizes its TLB only when it is flushed (doubling it when more
        # than 70% full), and nothing flushes it while a program computes, so
        # a working set larger than the TLB refills (a Python call each)
        # forever.  Flushing after a run of fills lets it grow to fit; the
        # interval doubles so a program that keeps touching new memory pays
        # a bounded share.  (qemu's fill path re-reads the TLB after a fill,
        # so flushing from inside one is safe.)
        left = interval = _TLB_FILLS_BEFORE_FLUSH
        # Conflicts: the TLB is direct-mapped, and qemu keeps it between 30%
        # and 70% occupied, so a working set of N pages gets about 1.5 N
        # entries, and pages sharing an entry evict each other for good
        # (xz's match finder refilled 2.7k pages 730k times).  When a run of
        # fills is mostly refills, each growth flush is preceded by fills of
        # spare entries (pages above the guest window, which stay unmapped for
        # the guest: unicorn reports an access there as before), so qemu
        # finds the TLB full and doubles it, and later flushes do not shrink it.
        seen: set[int] = set()          # pages filled since the last growth flush
        spare = 0                       # spare entries filled before each growth flush
        pumping = False
        try:
            translate = lib.uc_vmem_translate
        except AttributeError:          # unicorn before 2.1.2: no growth beyond qemu's
            translate = None
        paddr = ffi.new("uint64_t *")

        def grow() -> None:
            """A growth flush (see above), from inside a fill."""
            nonlocal spare, pumping
            rounds = 1
            if interval >= _TLB_THRASH * len(seen):
                want = min(_TLB_SPARE_PER_PAGE * len(seen), _TLB_SPARE_MAX)
                if want > spare:
                    spare, rounds = want, 3     # grow now: a doubling per flush
            seen.clear()
            for _ in range(rounds if spare and translate is not None else 0):
                pumping = True
                try:
                    for k in range(spare):
                        translate(uc, top + (k << 12), 1, paddr)
                finally:
                    pumping = False
                lib.uc_ctl(uc, flush_ctl)
            lib.uc_ctl(uc, flush_ctl)
            mem.tlb_epoch += 1

        # `entry` is unicorn's uc_tlb_entry {uint64_t paddr; uc_prot perms;}
        # seen as two uint64 words (perms and its padding fill the second):
        # indexing a uint64_t* is cheaper than setting struct fields.  The
        # trailing user-data argument is left undeclared, as for on_intr.
        def on_tlb_fill(_uc, vaddr, mtype, entry):
            nonlocal left, interval
            if pumping:                 # a spare entry, outside the guest window
                entry[0] = vaddr
                entry[1] = 7
                return True
            try:
                seen.add(vaddr)
                left -= 1
                if left <= 0:
                    grow()
                    interval = left = min(interval * 2, _TLB_FILLS_MAX_INTERVAL)
                r = region_at(vaddr)
                if r is None:
                    if vaddr >= top:
                        # Outside the window unicorn has nothing mapped: let it
                        # report the access as unmapped itself (its own probes,
                        # which must not fault, go there too).
                        prot = 7
                    else:
                        mem.fault_addr = vaddr
                        return False
                elif not r.prot & acc[mtype]:
                    mem.fault_addr = vaddr
                    return False
                else:
                    prot = r.prot & 7
                    r.filled = mem.tlb_epoch    # the TLB now holds a page of r
            except BaseException:  # noqa: BLE001 - must never unwind into C
                prot = 7
                mem.tlb_tracked = False         # a fill we may not have recorded
            entry[0] = vaddr
            entry[1] = prot
            return True

        cb = ffi.callback("bool(uc_engine *, uint64_t, int, uint64_t *)", on_tlb_fill)
        if self._tlb_callback is not None:
            lib.uc_hook_del(self.uc, self._tlb_handle[0])
        check(lib.uc_hook_add(self.uc, self._tlb_handle, UC_HOOK_TLB_FILL, cb, ffi.NULL, 1, 0),
              "uc_hook_add(TLB_FILL)")
        self._tlb_callback = cb
        self._tlb_mem = mem
        check(lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_TLB_TYPE, 1), ffi.cast("int", UC_TLB_VIRTUAL)),
              "uc_ctl(TLB_TYPE)")
        # From an empty TLB on, every fill stamps its region (GuestMemory.tlb_epoch).
        mem.flush_tlb()
        mem.tlb_tracked = True

    def install_syscall_hook(self, mem, dispatch: list, on_fault, on_unknown,
                             after_syscall=None, tracer=None, name_of=str, gate=None) -> None:
        """Install the single UC_HOOK_INTR callback.

        `dispatch` holds, per number, (handler, decode) or None: `decode(regs)`
        turns the register file (X0.. as 64-bit words) into the handler's
        arguments, or is None for a handler without any; `on_unknown(nr)`
        returns the result for numbers without a handler; `after_syscall()` (if
        given) is consulted when ``self.pending`` is set, e.g. to deliver signals;
        `tracer(nr, entry, [nr, x0..x5])` wraps each handler call for --strace;
        `name_of(nr)` names a syscall in the one-line report of an emulator bug;
        `gate` = (leave, enter): called before each syscall and after it unless
        it stopped the run (the execution token, runtime/exectoken.py); without
        one the hook is the plain hot path.
        """
        # The process's memory is created after its Cpu; by the time the
        # syscall hook goes in, it exists.
        self.name_of = name_of
        if mem is not None and mem is not self._tlb_mem and mem.uc == self.uc:
            self.attach_memory(mem)
        to_linux = lerrno.to_linux
        EFAULT = lerrno.EFAULT
        cpu = self
        xr = self.xregs

        if xr is not None:
            unpack = _X_UNPACK
            regs = xr

            def read_args():
                return unpack(xr)

            def set_x0(value):
                xr[0] = value & MASK64
        else:
            regs_in = ffi.new("int[9]", [xreg(i) for i in range(9)])
            vals = ffi.new("uint64_t[9]")
            ptrs = ffi.new("void *[9]", [vals + i for i in range(9)])
            x0 = ffi.new("uint64_t[1]")
            uc_handle = self.uc
            read_batch = lib.uc_reg_read_batch
            reg_write = lib.uc_reg_write
            funpack = ffi.unpack
            X0 = REG_X0
            regs = ffi.buffer(vals)          # what the argument decoders read

            def read_args():
                read_batch(uc_handle, regs_in, ptrs, 9)
                return funpack(vals, 9)

            def set_x0(value):
                x0[0] = value & MASK64
                reg_write(uc_handle, X0, x0)

        # The hot path proper.  With the direct register view the two helpers
        # above are inlined by hand (a Python call costs ~50 ns).
        if xr is not None and tracer is None:
            def on_intr(_uc, intno):
                if intno != 2:
                    on_fault(intno)
                    return
                nr = xr[8]
                try:
                    fn, decode = dispatch[nr]
                    # One struct unpack of the live registers gives the handler
                    # its arguments, already decoded as the table's kinds say.
                    ret = fn(*decode(xr)) if decode else fn()
                except OSError as e:
                    ret = -to_linux(e.errno)
                    if e.errno == _EFBIG and cpu.on_file_too_big is not None:
                        cpu.on_file_too_big()
                except GuestFault:
                    ret = -EFAULT
                except (IndexError, TypeError):
                    ret = cpu._unknown_or_internal(nr, dispatch, on_unknown)
                except BaseException as e:  # noqa: BLE001 - must never unwind into C
                    ret = cpu._internal(nr, e)
                if ret is not None:
                    xr[0] = ret & MASK64
                if cpu.pending and after_syscall is not None:
                    after_syscall()
        else:
            def on_intr(_uc, intno):
                if intno != 2:
                    on_fault(intno)
                    return
                a = read_args()
                nr = a[8]
                try:
                    entry = dispatch[nr]
                    if entry is None:
                        # Traced, a call without a handler shows too (strace's `= -1 ENOSYS`).
                        ret = on_unknown(nr) if tracer is None else \
                            tracer(nr, (lambda: on_unknown(nr), None), [nr, *a[:6]])
                    elif tracer is not None:
                        ret = tracer(nr, entry, [nr, *a[:6]])
                    else:
                        fn, decode = entry
                        ret = fn(*decode(regs)) if decode else fn()
                except OSError as e:
                    ret = -to_linux(e.errno)
                    if e.errno == _EFBIG and cpu.on_file_too_big is not None:
                        cpu.on_file_too_big()
                except GuestFault:
                    ret = -EFAULT
                except IndexError:
                    ret = on_unknown(nr) if nr >= len(dispatch) else cpu._internal(nr)
                except BaseException as e:  # noqa: BLE001 - must never unwind into C
                    ret = cpu._internal(nr, e)
                if ret is not None:
                    set_x0(ret)
                if cpu.pending and after_syscall is not None:
                    after_syscall()

        if gate is not None:
            # A member of the execution token gives it back around the handler
            # (it may block on what another member must do) and takes it again
            # before guest code runs on; a handler that stopped the run leaves
            # that to the run loop.
            inner = on_intr
            leave, enter = gate

            def on_intr(_uc, intno):
                leave()
                try:
                    inner(_uc, intno)
                finally:
                    if cpu.stop_reason is None:
                        enter()

        self.syscall_gate = gate
        self.pending = False
        if self._callback is not None:
            lib.uc_hook_del(self.uc, self._hook_handle[0])
        # Declared without the trailing user-data argument: unicorn passes it,
        # the callee ignores it (harmless in every C calling convention unicorn
        # runs on) and libffi has one argument fewer to convert per syscall.
        self._callback = ffi.callback("void(uc_engine *, uint32_t)", on_intr,
                                      onerror=self._hook_error)
        check(lib.uc_hook_add(self.uc, self._hook_handle, UC_HOOK_INTR, self._callback,
                              ffi.NULL, 1, 0), "uc_hook_add")

    def _hook_error(self, exc_type, exc, _tb) -> None:
        """Whatever escaped the syscall hook (a handler's bad return value, an
        after_syscall bug, a KeyboardInterrupt): one line, never a traceback."""
        log.emit(f"elfuse-py: internal error in the syscall hook: {exc_type.__name__}: {exc}\n")
        if not issubclass(exc_type, Exception):
            self.exit_status = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
            self.stop("exit")

    def _unknown_or_internal(self, nr: int, dispatch: list, on_unknown) -> int:
        """The fast hook's slow exits: no handler for `nr`, or a handler's own IndexError/TypeError."""
        if nr >= len(dispatch) or dispatch[nr] is None:
            return on_unknown(nr)
        exc = sys.exc_info()[1]
        return self._internal(nr, exc)

    def _internal(self, nr: int, exc: BaseException | None = None) -> int:
        """An emulator bug inside a handler: say so once per syscall, fail it with ENOSYS."""
        if os.environ.get("ELFUSE_DEBUG"):
            import traceback
            traceback.print_exception(exc)
        name = self.name_of(nr)
        log.emit(f"elfuse-py: internal error in {name}: {type(exc).__name__}: {exc}\n")
        return -lerrno.ENOSYS

    def stop(self, reason: str) -> None:
        """Ask the run loop to return after the current instruction/hook."""
        self.stop_reason = reason
        lib.uc_emu_stop(self.uc)

    def start(self, pc: int) -> int:
        """Run from `pc` until a hook stops the engine; returns unicorn's error code."""
        self.stop_reason = None
        return lib.uc_emu_start(self.uc, pc, NEVER, 0, 0)
