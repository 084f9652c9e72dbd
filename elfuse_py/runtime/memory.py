"""Guest memory: host-backed regions inside one window that unicorn sees as one mapping.

This module owns the guest address space.  One large window of host virtual
address space is reserved (PROT_NONE, no commit) when the emulator starts, and
guest address G always lives at host address ``window + G``.  So translating a
guest pointer is one addition, a buffer spanning two guest mappings is one
contiguous host buffer, and syscalls read and write guest memory in place
through a memoryview of the window (``os.readv`` lands straight in the guest).

Which guest pages are mapped, with which protection, is recorded in a sorted
list of :class:`Region` objects (two parallel lists searched with bisect);
every syscall access is checked against it first, so a bad guest pointer
becomes ``GuestFault`` (-EFAULT) and never a host crash.

Unicorn sees the whole window as ONE physical mapping, made once at start;
which pages the guest may touch, and how, is decided by the CPU's virtual-TLB
fill hook (runtime/cpu.py `attach_memory`), which looks the page up in the
region list and refuses the fill (recording `fault_addr`, which the run loop
turns into SIGSEGV) for an unmapped page or a missing permission.  Mapping
and unmapping therefore never call into unicorn: each uc_mem_map_ptr costs
time linear in the number of unicorn mappings (qemu rebuilds its flat view,
so N mappings cost O(N^2)) and each uc_mem_unmap time linear in its size
(about 0.4 s per GiB).  A change that takes permissions away flushes the TLB
unless no page of the mapping was filled since the last flush (`tlb_epoch`);
dropping an executable range also drops its translated code (`_drop_code`),
and the executable ranges are marked for unicorn (runtime/codemarks.py).

Limits (Linux's, see docs/architecture.md): the guest address space is the
window (TASK_SIZE = 1 TiB); at most MAX_MAP_COUNT regions (vm.max_map_count);
mapping operations cost O(log n) lookups plus list inserts, and finding free
space starts below the last allocation (`_cursor`) instead of walking every
region from the top.
"""
from __future__ import annotations

from _bisect import bisect_left, bisect_right   # (the C module: bisect.py is a wrapper)
import mmap as _mmap
import os
import struct

from elfuse_py.host import memory as hostmem
from elfuse_py.runtime.codemarks import CodeMarks
from elfuse_py.runtime.uc import (UC_CTL_TB_REMOVE_CACHE, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, ffi,
                                  flush_tlb, lib, libc, uc_ctl_write)

PAGE = 4096
PAGE_MASK = ~(PAGE - 1)
WINDOW_SIZE = 1 << 40          # guest addresses 0 .. 1 TiB
STACK_TOP = WINDOW_SIZE - PAGE * 16
MMAP_TOP = STACK_TOP - (1 << 33)   # below an 8 GiB gap for the stack
ET_DYN_BASE = 0x55_0000_0000   # qemu-user's choice for 64-bit guests
INTERP_BASE = 0x7f_0000_0000
# Linux's default vm.max_map_count: more regions than this and mmap, brk, and
# a munmap or mprotect that would split a region fail with ENOMEM.
MAX_MAP_COUNT = 65530

# Linux PROT_* values (the guest's); the same numbers as unicorn's UC_PROT_*.
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4

_MAP_FIXED = 0x10  # identical on Linux and the BSDs/macOS; the mmap module does not export it
_MAP_NORESERVE = hostmem.MAP_NORESERVE
_MAP_ANON = _mmap.MAP_ANONYMOUS
_MAP_PRIVATE = _mmap.MAP_PRIVATE
_MAP_FAILED = 0xFFFFFFFFFFFFFFFF
_TB_REMOVE = uc_ctl_write(UC_CTL_TB_REMOVE_CACHE, 2)

# mremap (declared in cdefs.py) is Linux-only: on other hosts moving a
# mapping copies it instead.
_HOST_MREMAP_MAYMOVE, _HOST_MREMAP_FIXED = 1, 2      # Linux values (host is Linux when used)
_HAVE_MREMAP = hostmem.HAVE_MREMAP
HOST_MS_ASYNC, HOST_MS_INVALIDATE, HOST_MS_SYNC = hostmem.MS_ASYNC, hostmem.MS_INVALIDATE, hostmem.MS_SYNC


class GuestFault(Exception):
    """A syscall touched guest memory that is not mapped with the needed access."""

    def __init__(self, addr: int):
        super().__init__(f"guest fault at {addr:#x}")
        self.addr = addr


class Region:
    """One mapping of the guest address space, [start, end)."""

    __slots__ = ("start", "end", "prot", "name", "offset", "shared", "file", "filled")

    def __init__(self, start: int, end: int, prot: int, name: str = "", offset: int = 0,
                 shared: bool = False, file: bool = False, filled: int = 0) -> None:
        self.start = start
        self.end = end
        self.prot = prot
        self.name = name            # what /proc/self/maps shows: a path, [stack], [heap]
        self.offset = offset        # file offset of `start` for file mappings
        self.shared = shared
        self.file = file            # backed by a host file mapping (MAP_SHARED of a file)
        # The TLB epoch of the last fill of one of its pages (GuestMemory.tlb_epoch):
        # older than the current epoch, the TLB holds none of its pages.
        self.filled = filled

    def _key(self) -> tuple:
        return (self.start, self.end, self.prot, self.name, self.offset, self.shared, self.file)

    def __repr__(self) -> str:
        return "Region(start={:#x}, end={:#x}, prot={}, name={!r}, offset={}, shared={}, file={})".format(*self._key())

    def __eq__(self, other: object) -> bool:
        return type(other) is Region and self._key() == other._key()

    __hash__ = None  # mutable, as the dataclass it replaces


def page_up(n: int) -> int:
    return (n + PAGE - 1) & PAGE_MASK


def page_down(n: int) -> int:
    return n & PAGE_MASK


def _host_prot(prot: int, file: bool) -> int:
    # Private and shared-anonymous memory stays host-writable whatever the
    # guest protection: the emulator writes into it (loader, syscalls) and
    # unicorn enforces the guest's view.  Shared file mappings must follow the
    # file's open mode (a read-only fd cannot be mapped host-writable).
    if not file:
        return _mmap.PROT_READ | _mmap.PROT_WRITE
    host = _mmap.PROT_READ
    if prot & PROT_WRITE:
        host |= _mmap.PROT_WRITE
    return host


class GuestMemory:
    """The guest address space of one emulated process."""

    # The layout the loader reads through its GuestSpace interface.
    ET_DYN_BASE = ET_DYN_BASE
    INTERP_BASE = INTERP_BASE
    STACK_TOP = STACK_TOP
    TASK_SIZE = WINDOW_SIZE

    def __init__(self, uc) -> None:
        self.uc = uc
        base = libc.mmap(ffi.NULL, WINDOW_SIZE, 0,
                         _MAP_PRIVATE | _MAP_ANON | _MAP_NORESERVE, -1, 0)
        if int(ffi.cast("uintptr_t", base)) == _MAP_FAILED:
            raise MemoryError("cannot reserve the guest address window")
        self.host_base = int(ffi.cast("uintptr_t", base))
        self.window = memoryview(ffi.buffer(base, WINDOW_SIZE))
        # Host pages larger than the guest's (Apple silicon: 16 KiB) cannot be
        # mapped one guest page at a time; then host memory is committed in
        # host-page units and recycled pages are zeroed by hand.
        self.fine_host_pages = _mmap.PAGESIZE == PAGE
        self.starts: list[int] = []
        self.regions: list[Region] = []
        self.brk_start = 0
        self.brk_cur = 0
        self.mmap_top = MMAP_TOP
        self.total = 0              # bytes mapped (Linux's total_vm, for RLIMIT_AS)
        self._cursor = MMAP_TOP     # top-down search for free space starts here
        # The guest address of a TLB fill the CPU refused (an access to an
        # unmapped page or without the permission): the run loop's SIGSEGV.
        self.fault_addr: int | None = None
        # TLB flushes: the CPU's fill hook stamps each region it fills a page of
        # with the current epoch, and every flush starts a new one.  A region
        # not stamped since the last flush has no TLB entry, so unmapping it or
        # taking permissions away needs no flush (the loader's PROT_NONE
        # reservations, buffers never touched).  Untracked (a TLB whose fills
        # we do not see) every change flushes.
        self.tlb_epoch = 1
        self.tlb_tracked = False
        # Inert hooks over the executable regions (runtime/codemarks.py).
        self.code_marks = CodeMarks(uc)
        # The whole window is one unicorn mapping (see the module docstring).
        if lib.uc_mem_map_ptr(uc, 0, WINDOW_SIZE, UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC, base):
            raise MemoryError("cannot hand the guest address window to unicorn")

    def _drop_code(self, r: Region, lo: int, hi: int) -> None:
        """Forget code translated from [lo, hi) of executable region `r` (it is going away)."""
        if r.prot & PROT_EXEC:
            lib.uc_ctl(self.uc, _TB_REMOVE, ffi.cast("uint64_t", lo), ffi.cast("uint64_t", hi))

    def flush_tlb(self) -> None:
        """Drop every TLB entry of the engine, and start a new fill epoch."""
        flush_tlb(self.uc)
        self.tlb_epoch += 1

    def _in_tlb(self, r: Region) -> bool:
        """Whether the TLB may hold a page of `r` (filled since the last flush)."""
        return r.filled == self.tlb_epoch or not self.tlb_tracked

    # ----- lookup and access checks -----------------------------------------

    def region_at(self, addr: int) -> Region | None:
        i = bisect_right(self.starts, addr) - 1
        if i >= 0:
            r = self.regions[i]
            if addr < r.end:
                return r
        return None

    def check(self, addr: int, size: int, prot: int) -> None:
        """Raise GuestFault unless [addr, addr+size) is mapped with `prot`."""
        if size <= 0:
            if size < 0:
                raise GuestFault(addr)
            return
        end = addr + size
        if addr < 0 or end > WINDOW_SIZE:
            raise GuestFault(addr)
        starts = self.starts
        i = bisect_right(starts, addr) - 1
        if i < 0:
            raise GuestFault(addr)
        regions = self.regions
        r = regions[i]
        while True:
            if addr >= r.end or (r.prot & prot) != prot:
                raise GuestFault(addr)
            if end <= r.end:
                return
            addr = r.end
            i += 1
            if i >= len(regions):
                raise GuestFault(addr)
            r = regions[i]
            if r.start != addr:
                raise GuestFault(addr)

    def view(self, addr: int, size: int, write: bool = False) -> memoryview:
        """A writable memoryview of guest memory, checked for read (or write) access."""
        self.check(addr, size, PROT_WRITE if write else PROT_READ)
        return self.window[addr:addr + size]

    def read(self, addr: int, size: int) -> bytes:
        self.check(addr, size, PROT_READ)
        return bytes(self.window[addr:addr + size])

    def write(self, addr: int, data) -> None:
        n = len(data)
        self.check(addr, n, PROT_WRITE)
        self.window[addr:addr + n] = data

    def cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated guest string (without the NUL); at most `limit` bytes read."""
        out = bytearray()
        win = self.window
        while True:
            r = self.region_at(addr)
            if r is None or not (r.prot & PROT_READ):
                raise GuestFault(addr)
            chunk_end = min(r.end, addr + limit - len(out))
            nul = bytes(win[addr:chunk_end]).find(b"\0")
            if nul >= 0:
                out += win[addr:addr + nul]
                return bytes(out)
            out += win[addr:chunk_end]
            if len(out) >= limit:
                raise ValueError("string too long")
            addr = chunk_end

    def unpack(self, st: struct.Struct, addr: int) -> tuple:
        self.check(addr, st.size, PROT_READ)
        return st.unpack_from(self.window, addr)

    def pack(self, st: struct.Struct, addr: int, *values) -> None:
        self.check(addr, st.size, PROT_WRITE)
        st.pack_into(self.window, addr, *values)

    def u64(self, addr: int) -> int:
        return self.unpack(_U64, addr)[0]

    def put_u64(self, addr: int, value: int) -> None:
        self.pack(_U64, addr, value & 0xFFFFFFFFFFFFFFFF)

    def u32(self, addr: int) -> int:
        return self.unpack(_U32, addr)[0]

    def put_u32(self, addr: int, value: int) -> None:
        self.pack(_U32, addr, value & 0xFFFFFFFF)

    # ----- mapping ------------------------------------------------------------

    def is_free(self, addr: int, size: int) -> bool:
        end = addr + size
        if addr < PAGE or end > WINDOW_SIZE:
            return False
        i = bisect_left(self.starts, end) - 1
        return i < 0 or self.regions[i].end <= addr

    def find_free(self, size: int, hint: int = 0) -> int:
        """A free page-aligned range of `size` bytes: at `hint` if free, else top-down.

        The search starts at the top of the last range found (or of a range
        freed above it since), so allocating N mappings one after another
        costs O(N log N), not O(N^2); only when nothing fits there is the
        whole mmap area searched from its top again."""
        size = page_up(size)
        if size <= 0 or size > WINDOW_SIZE:
            raise MemoryError("guest address space exhausted")
        if hint:
            hint = page_down(hint)
            if self.is_free(hint, size):
                return hint
        top = self.mmap_top
        start = min(self._cursor, top)
        found = self._gap_below(start, size)
        if found is None and start < top:
            found = self._gap_below(top, size)
        if found is None:
            raise MemoryError("guest address space exhausted")
        self._cursor = found + size     # the next search starts at (and steps below) this range
        return found

    def _gap_below(self, top: int, size: int) -> int | None:
        """The highest free range of `size` bytes ending at or below `top`, or None."""
        regions = self.regions
        i = bisect_left(self.starts, top) - 1
        while i >= 0:
            r = regions[i]
            if r.end <= top - size:
                return top - size
            top = min(top, r.start)
            i -= 1
        return top - size if top - size >= PAGE else None

    def map_count(self) -> int:
        """Linux's map_count: the number of distinct mappings (VMAs)."""
        return len(self.regions)

    def splits(self, addr: int, end: int) -> int:
        """How many regions an operation on [addr, end) would have to split (0-2)."""
        n = 0
        for a in (addr, end):
            r = self.region_at(a)
            if r is not None and r.start != a:
                n += 1
        return n

    def mapped_bytes(self, addr: int, size: int) -> int:
        """How many bytes of [addr, addr+size) are mapped."""
        end = addr + size
        return sum(min(end, r.end) - max(addr, r.start) for r in self.regions_in(addr, size))

    def _commit(self, addr: int, size: int, prot: int, shared: bool = False,
                fd: int = -1, offset: int = 0, noreserve: bool = False) -> None:
        host = self.host_base + addr
        hp = _mmap.PAGESIZE
        if self.fine_host_pages or (shared and host % hp == 0 and size % hp == 0):
            if fd >= 0:
                flags = _MAP_FIXED | (_mmap.MAP_SHARED if shared else _MAP_PRIVATE)
            elif shared:
                # MAP_SHARED|MAP_ANONYMOUS: a host shared mapping, so the
                # pages stay shared with children across fork.
                flags = _MAP_FIXED | _mmap.MAP_SHARED | _MAP_ANON
            else:
                flags = _MAP_FIXED | _MAP_PRIVATE | _MAP_ANON
                if noreserve or not prot & 7:
                    # PROT_NONE (a reservation) or MAP_NORESERVE: no swap is
                    # accounted for it, as Linux accounts none; nothing is
                    # committed until a page is written.
                    flags |= _MAP_NORESERVE
            p = libc.mmap(ffi.cast("void *", host), size, _host_prot(prot, fd >= 0 and shared),
                          flags, fd, offset)
            if int(ffi.cast("uintptr_t", p)) == _MAP_FAILED:
                raise OSError(ffi.errno, os.strerror(ffi.errno))
            return
        if fd >= 0 or shared:
            raise OSError(22, "host pages too large to share this mapping")
        # Coarse host pages: make the covering host pages usable (neighbours
        # keep their contents, which a MAP_FIXED remap would destroy), then
        # zero what the guest asked for.
        hp = _mmap.PAGESIZE
        lo = host & ~(hp - 1)
        hi = (host + size + hp - 1) & ~(hp - 1)
        libc.mprotect(ffi.cast("void *", lo), hi - lo, _mmap.PROT_READ | _mmap.PROT_WRITE)
        ffi.memmove(ffi.cast("void *", host), bytes(size), size)

    def _release(self, addr: int, size: int, shared: bool = False) -> None:
        # Give the pages back to the host; the range stays reserved.  With
        # coarse host pages a neighbour may still use part of the host page,
        # so the memory is kept and zeroed on its next use instead -- except
        # a shared mapping (whole host pages, see _commit): zeroing it later
        # would write into the file or segment other processes still use.
        hp = _mmap.PAGESIZE
        if self.fine_host_pages or (shared and (self.host_base + addr) % hp == 0 and size % hp == 0):
            libc.mmap(ffi.cast("void *", self.host_base + addr), size, 0,
                      _MAP_FIXED | _MAP_PRIVATE | _MAP_ANON | _MAP_NORESERVE, -1, 0)

    def map(self, addr: int, size: int, prot: int, name: str = "", *, fd: int = -1,
            offset: int = 0, shared: bool = False, noreserve: bool = False) -> int:
        """Map [addr, addr+size) (page-aligned, must be free): zeroed, or `fd`'s pages if shared."""
        size = page_up(size)
        if not self.is_free(addr, size):
            raise OSError(17, "guest range already mapped")
        self._commit(addr, size, prot, shared, fd, offset, noreserve)
        self._insert(Region(addr, addr + size, prot, name, offset, shared, fd >= 0 and shared))
        return addr

    def _insert(self, r: Region) -> None:
        """Record the region (committed host pages); unicorn gets it on its first touch."""
        self.total += r.end - r.start
        i = bisect_left(self.starts, r.start)
        self.starts.insert(i, r.start)
        self.regions.insert(i, r)
        self._merge_around(r.start, r.end)
        if r.prot & PROT_EXEC:
            self.code_marks.update(self.regions, self.starts, r.start, r.end)

    def mapped(self, addr: int, size: int) -> bool:
        """True if every page of [addr, addr+size) is mapped (any protection)."""
        end = addr + size
        while addr < end:
            r = self.region_at(addr)
            if r is None:
                return False
            addr = r.end
        return True

    def regions_in(self, addr: int, size: int) -> list[Region]:
        """The regions overlapping [addr, addr+size), unsplit."""
        end = addr + size
        i = max(bisect_right(self.starts, addr) - 1, 0)
        out = []
        while i < len(self.regions) and self.regions[i].start < end:
            if self.regions[i].end > addr:
                out.append(self.regions[i])
            i += 1
        return out

    def zero(self, addr: int, size: int) -> None:
        """Zero private pages of [addr, addr+size) and give their memory back
        (madvise(MADV_DONTNEED) on private memory); shared pages are kept."""
        for r in self.regions_in(addr, size):
            if r.shared:
                continue
            lo, hi = max(addr, r.start), min(addr + size, r.end)
            host = self.host_base + lo
            if self.fine_host_pages and hasattr(_mmap, "MADV_DONTNEED") and _HAVE_MREMAP:
                # Linux: DONTNEED on private anonymous memory drops the pages,
                # which read back as zeros (cheaper than writing zeros).
                libc.madvise(ffi.cast("void *", host), hi - lo, _mmap.MADV_DONTNEED)
            else:
                ffi.memmove(ffi.cast("void *", host), bytes(hi - lo), hi - lo)

    def sync(self, addr: int, size: int, host_flags: int) -> None:
        """msync the host file mappings inside [addr, addr+size)."""
        for r in self.regions_in(addr, size):
            if r.file:
                lo, hi = max(addr, r.start), min(addr + size, r.end)
                if libc.msync(ffi.cast("void *", self.host_base + lo), hi - lo, host_flags) != 0:
                    raise OSError(ffi.errno, os.strerror(ffi.errno))

    def move(self, old: int, old_size: int, new: int, new_size: int) -> None:
        """Move the mapping [old, old+old_size) to the free range at `new`,
        resized to `new_size` (mremap with MREMAP_MAYMOVE): contents up to the
        smaller size are kept, growth is zero-filled (or file pages for host
        file mappings).  The old range must be one kind of mapping."""
        old_size, new_size = page_up(old_size), page_up(new_size)
        first = self.region_at(old)
        prot, name, shared, file = first.prot, first.name, first.shared, first.file
        offset = first.offset + (old - first.start)
        if not self.is_free(new, new_size):
            raise OSError(17, "guest range already mapped")
        hb = self.host_base
        moved = False
        if _HAVE_MREMAP and self.fine_host_pages:
            # Move the host pages themselves: no copy, and shared pages stay
            # shared.  (It fails if the range spans several host mappings.)
            p = libc.mremap(ffi.cast("void *", hb + old), old_size, new_size,
                            ffi.cast("int", _HOST_MREMAP_MAYMOVE | _HOST_MREMAP_FIXED),
                            ffi.cast("void *", hb + new))
            moved = int(ffi.cast("uintptr_t", p)) != _MAP_FAILED
            if not moved and shared:
                raise OSError(ffi.errno, os.strerror(ffi.errno))
        if moved:
            # The old range is now a hole in the reserved window: reserve it again.
            libc.mmap(ffi.cast("void *", hb + old), old_size, 0,
                      _MAP_FIXED | _MAP_PRIVATE | _MAP_ANON | _MAP_NORESERVE, -1, 0)
            code = 0
            stale = False
            for i in self._covered(old, old + old_size)[::-1]:
                r = self.regions[i]
                code |= r.prot & PROT_EXEC
                stale = stale or self._in_tlb(r)
                self._drop_code(r, r.start, r.end)
                self.total -= r.end - r.start
                del self.starts[i]
                del self.regions[i]
            if stale:
                self.flush_tlb()
            if code:
                self.code_marks.update(self.regions, self.starts, old, old + old_size)
        else:
            if shared:
                raise OSError(22, "cannot move a shared mapping on this host")
            self._commit(new, new_size, prot)
            n = min(old_size, new_size)
            self.window[new:new + n] = self.window[old:old + n]
            self.unmap(old, old_size)
        self._insert(Region(new, new + new_size, prot, name, offset, shared, file))

    def grow(self, addr: int, old_size: int, new_size: int) -> None:
        """Extend the mapping ending at addr+old_size in place (the tail must be free)."""
        old_size, new_size = page_up(old_size), page_up(new_size)
        last = self.region_at(addr + old_size - 1)
        tail = addr + old_size
        extra = new_size - old_size
        if last.shared:
            if not (_HAVE_MREMAP and self.fine_host_pages):
                raise OSError(22, "cannot grow a shared mapping on this host")
            # Grow the host mapping itself so the new pages share its object.
            p = libc.mremap(ffi.cast("void *", self.host_base + last.start), last.end - last.start,
                            last.end - last.start + extra,
                            ffi.cast("int", _HOST_MREMAP_MAYMOVE | _HOST_MREMAP_FIXED),
                            ffi.cast("void *", self.host_base + last.start))
            if int(ffi.cast("uintptr_t", p)) == _MAP_FAILED:
                e = ffi.errno
                raise OSError(e, os.strerror(e))
            i = bisect_left(self.starts, last.start)
            del self.starts[i]
            del self.regions[i]
            self.total -= last.end - last.start
            last.end += extra
            self._insert(last)
            return
        self.map(tail, extra, last.prot, last.name, offset=last.offset + (tail - last.start))

    def _split_at(self, addr: int) -> None:
        """Make `addr` a region boundary if it falls inside a region."""
        r = self.region_at(addr)
        if r is None or r.start == addr:
            return
        i = bisect_right(self.starts, addr) - 1
        tail = Region(addr, r.end, r.prot, r.name, r.offset + (addr - r.start), r.shared, r.file,
                      r.filled)
        r.end = addr
        self.starts.insert(i + 1, addr)
        self.regions.insert(i + 1, tail)

    def _covered(self, addr: int, end: int) -> list[int]:
        """Indices of regions inside [addr, end), after splitting at both ends."""
        self._split_at(addr)
        self._split_at(end)
        lo = bisect_left(self.starts, addr)
        hi = bisect_left(self.starts, end)
        return list(range(lo, hi))

    def unmap(self, addr: int, size: int) -> None:
        end = addr + page_up(size)
        idx = self._covered(addr, end)
        code = 0
        stale = False
        for i in reversed(idx):
            r = self.regions[i]
            code |= r.prot & PROT_EXEC
            stale = stale or self._in_tlb(r)
            self._drop_code(r, r.start, r.end)
            self._release(r.start, r.end - r.start, r.shared)
            self.total -= r.end - r.start
            del self.starts[i]
            del self.regions[i]
        if idx:
            if stale:
                self.flush_tlb()      # no stale translation may keep the pages usable
            if code:
                self.code_marks.update(self.regions, self.starts, addr, end)
            if self._cursor < end <= self.mmap_top:
                self._cursor = end    # reuse freed space first, as Linux's top-down search does

    def protect(self, addr: int, size: int, prot: int) -> None:
        """Change protection; the whole range must be mapped (else ENOMEM, like Linux)."""
        end = addr + page_up(size)
        a = addr
        while a < end:
            r = self.region_at(a)
            if r is None:
                raise OSError(12, "range not mapped")
            a = r.end
        lost = code = 0
        stale = False
        for i in self._covered(addr, end):
            r = self.regions[i]
            if r.file and (prot & PROT_WRITE) != (r.prot & PROT_WRITE):
                if libc.mprotect(ffi.cast("void *", self.host_base + r.start), r.end - r.start,
                                 _host_prot(prot, True)) != 0:
                    raise OSError(ffi.errno, os.strerror(ffi.errno))
            if r.prot & ~prot & PROT_EXEC:
                self._drop_code(r, r.start, r.end)
            lost |= r.prot & ~prot
            stale = stale or self._in_tlb(r)
            # Gaining execute permission flushes too: no write entry filled while
            # the page was data may outlive it (the invariant of runtime/codemarks.py).
            code |= (r.prot ^ prot) & PROT_EXEC
            r.prot = prot
        if (lost or code) and stale:
            self.flush_tlb()        # the fill hook decides again for every page
        self._merge_around(addr, end)
        if code:
            self.code_marks.update(self.regions, self.starts, addr, end)

    def _merge_around(self, addr: int, end: int) -> None:
        # Keep the region list short: neighbours with identical attributes and
        # contiguous file offsets are one region for us (unicorn keeps its own).
        i = max(bisect_right(self.starts, addr) - 2, 0)
        while i + 1 < len(self.regions):
            a, b = self.regions[i], self.regions[i + 1]
            if a.start > end:
                break
            # Named anonymous areas ([heap], [stack]) have no meaningful offset.
            if (a.end == b.start and a.prot == b.prot and a.name == b.name
                    and a.shared == b.shared and a.file == b.file
                    and (not a.name or a.name[0] == "["
                         or a.offset + (a.end - a.start) == b.offset)):
                a.end = b.end
                a.filled = max(a.filled, b.filled)
                del self.starts[i + 1]
                del self.regions[i + 1]
            else:
                i += 1

    def unmap_all(self) -> None:
        for r in list(self.regions):
            self._drop_code(r, r.start, r.end)
            self._release(r.start, r.end - r.start, r.shared)
        self.starts.clear()
        self.regions.clear()
        self.total = 0
        self._cursor = self.mmap_top
        self.code_marks.clear()
        self.flush_tlb()

    def reset(self) -> None:
        """execve: every guest mapping goes, the brk with them; the window stays reserved
        and stays unicorn's one mapping.  Translated code is the CPU's to drop (Cpu.reset
        flushes all of it at once rather than range by range here)."""
        for r in self.regions:
            self._release(r.start, r.end - r.start, r.shared)
        self.starts.clear()
        self.regions.clear()
        self.total = 0
        self.brk_start = self.brk_cur = 0
        self.mmap_top = self._cursor = MMAP_TOP
        self.fault_addr = None
        self.code_marks.clear()          # no executable range is left to mark
        self.flush_tlb()


_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
