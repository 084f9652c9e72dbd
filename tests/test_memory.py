"""Unit tests of GuestMemory: map/unmap/protect, region splitting and merging,
find_free, access checks (GuestFault = the syscall layer's EFAULT), and the
mremap/madvise/msync helpers."""
from __future__ import annotations

import errno
import mmap
import os
import struct

import pytest

from elfuse_py.runtime.memory import MMAP_TOP, PAGE, GuestFault, GuestMemory
from elfuse_py.runtime.uc import ffi, lib

R, W, X = 1, 2, 4
BASE = 0x40000


@pytest.fixture
def mem():
    ucp = ffi.new("uc_engine **")
    assert lib.uc_open(2, 0, ucp) == 0
    m = GuestMemory(ucp[0])
    yield m
    m.unmap_all()
    lib.uc_close(ucp[0])


def spans(m):
    return [(r.start, r.end, r.prot) for r in m.regions]


def test_map_read_write_and_zeroed(mem):
    assert mem.map(BASE, 3 * PAGE, R | W, "x") == BASE
    assert mem.read(BASE, 3 * PAGE) == bytes(3 * PAGE)
    mem.write(BASE + 10, b"hello")
    assert mem.read(BASE + 10, 5) == b"hello"
    assert mem.region_at(BASE + PAGE).name == "x"
    assert mem.region_at(BASE + 3 * PAGE) is None


def test_map_rounds_up_and_refuses_overlap(mem):
    mem.map(BASE, 100, R)
    assert spans(mem) == [(BASE, BASE + PAGE, R)]
    with pytest.raises(OSError) as e:
        mem.map(BASE, PAGE, R)
    assert e.value.errno == errno.EEXIST
    assert not mem.is_free(BASE, PAGE) and mem.is_free(BASE + PAGE, PAGE)
    assert not mem.is_free(0, PAGE)   # page 0 is never handed out


def test_check_faults(mem):
    mem.map(BASE, PAGE, R)
    mem.check(BASE, PAGE, R)
    mem.check(BASE, 0, W)           # empty ranges never fault
    for addr, size, prot in [(BASE, PAGE, W), (BASE, PAGE + 1, R), (BASE - 1, 2, R),
                             (0, 8, R), (BASE, -1, R), (1 << 41, 8, R)]:
        with pytest.raises(GuestFault):
            mem.check(addr, size, prot)
    with pytest.raises(GuestFault):
        mem.write(BASE, b"x")
    with pytest.raises(GuestFault):
        mem.view(BASE, 8, write=True)
    assert len(mem.view(BASE, 8)) == 8


def test_access_spanning_adjacent_regions(mem):
    mem.map(BASE, PAGE, R | W, "a")
    mem.map(BASE + PAGE, PAGE, R | W, "b")
    mem.write(BASE + PAGE - 2, b"abcd")
    assert mem.read(BASE + PAGE - 2, 4) == b"abcd"
    mem.write(BASE + PAGE - 3, b"xy\0")
    assert mem.cstr(BASE + PAGE - 3) == b"xy"


def test_cstr(mem):
    mem.map(BASE, PAGE, R | W)
    mem.write(BASE, b"abc\0")
    assert mem.cstr(BASE) == b"abc"
    mem.write(BASE + PAGE - 3, b"xyz")     # runs off the end of the mapping
    with pytest.raises(GuestFault):
        mem.cstr(BASE + PAGE - 3)
    mem.write(BASE, b"a" * 20)
    with pytest.raises(ValueError):
        mem.cstr(BASE, 10)
    with pytest.raises(GuestFault):
        mem.cstr(BASE + 2 * PAGE)


def test_pack_unpack_u64(mem):
    mem.map(BASE, PAGE, R | W)
    st = struct.Struct("<qI")
    mem.pack(st, BASE, -5, 7)
    assert mem.unpack(st, BASE) == (-5, 7)
    mem.put_u64(BASE + 16, -1)
    assert mem.u64(BASE + 16) == 0xFFFFFFFFFFFFFFFF
    mem.put_u32(BASE + 24, 0x1_0000_0002)
    assert mem.u32(BASE + 24) == 2
    with pytest.raises(GuestFault):
        mem.put_u64(BASE + PAGE - 4, 1)


def test_unmap_splits_and_keeps_neighbours(mem):
    mem.map(BASE, 4 * PAGE, R | W, "f", offset=0x1000)
    mem.write(BASE, b"A" * (4 * PAGE))
    mem.unmap(BASE + PAGE, PAGE)
    assert spans(mem) == [(BASE, BASE + PAGE, R | W), (BASE + 2 * PAGE, BASE + 4 * PAGE, R | W)]
    assert mem.region_at(BASE + 2 * PAGE).offset == 0x1000 + 2 * PAGE
    assert mem.read(BASE, PAGE) == b"A" * PAGE
    assert mem.read(BASE + 2 * PAGE, 2 * PAGE) == b"A" * (2 * PAGE)
    with pytest.raises(GuestFault):
        mem.read(BASE + PAGE, 1)
    assert not mem.mapped(BASE, 3 * PAGE) and mem.mapped(BASE + 2 * PAGE, 2 * PAGE)
    mem.unmap(BASE, 8 * PAGE)                  # unmapping holes is fine
    assert mem.regions == []


def test_remap_after_unmap_is_zeroed(mem):
    mem.map(BASE, PAGE, R | W)
    mem.write(BASE, b"junk")
    mem.unmap(BASE, PAGE)
    mem.map(BASE, PAGE, R | W)
    assert mem.read(BASE, 4) == bytes(4)


def test_protect_splits_then_merges(mem):
    mem.map(BASE, 3 * PAGE, R | W)
    mem.write(BASE + PAGE, b"keep")
    mem.protect(BASE + PAGE, PAGE, R)
    assert spans(mem) == [(BASE, BASE + PAGE, R | W), (BASE + PAGE, BASE + 2 * PAGE, R),
                          (BASE + 2 * PAGE, BASE + 3 * PAGE, R | W)]
    with pytest.raises(GuestFault):
        mem.write(BASE + PAGE, b"x")
    assert mem.read(BASE + PAGE, 4) == b"keep"
    mem.protect(BASE + PAGE, PAGE, R | W)
    assert spans(mem) == [(BASE, BASE + 3 * PAGE, R | W)]


def test_protect_unmapped_is_enomem(mem):
    mem.map(BASE, PAGE, R | W)
    with pytest.raises(OSError) as e:
        mem.protect(BASE, 2 * PAGE, R)
    assert e.value.errno == errno.ENOMEM
    assert spans(mem) == [(BASE, BASE + PAGE, R | W)]   # nothing changed


def test_adjacent_heap_maps_merge(mem):
    mem.map(BASE, PAGE, R | W, "[heap]")
    mem.map(BASE + PAGE, PAGE, R | W, "[heap]")
    assert spans(mem) == [(BASE, BASE + 2 * PAGE, R | W)]
    mem.map(BASE + 2 * PAGE, PAGE, R | W, "/some/file", offset=0)
    assert len(mem.regions) == 2      # different names never merge


def test_find_free(mem):
    a = mem.find_free(2 * PAGE)
    assert a == MMAP_TOP - 2 * PAGE
    mem.map(a, 2 * PAGE, R)
    b = mem.find_free(PAGE)
    assert b == a - PAGE                               # top-down, right below
    assert mem.find_free(PAGE, hint=BASE) == BASE      # a free hint is used
    assert mem.find_free(PAGE, hint=a) != a            # a taken hint is not
    assert mem.find_free(PAGE, hint=BASE + 5) == BASE  # hints round down to a page
    mem.map(b - PAGE, PAGE, R)
    mem.unmap(b - PAGE, PAGE)
    assert mem.find_free(PAGE) == b                     # the gap left is reused
    with pytest.raises(MemoryError):
        mem.find_free(1 << 41)


def test_zero_private_pages(mem):
    mem.map(BASE, 2 * PAGE, R | W)
    mem.write(BASE, b"\xff" * (2 * PAGE))
    mem.zero(BASE, PAGE)
    assert mem.read(BASE, PAGE) == bytes(PAGE)
    assert mem.read(BASE + PAGE, PAGE) == b"\xff" * PAGE


def test_move_and_grow(mem):
    mem.map(BASE, 2 * PAGE, R | W, "m")
    mem.write(BASE, b"Q" * (2 * PAGE))
    mem.move(BASE, 2 * PAGE, BASE + 16 * PAGE, 3 * PAGE)
    assert mem.region_at(BASE) is None
    assert spans(mem) == [(BASE + 16 * PAGE, BASE + 19 * PAGE, R | W)]
    assert mem.read(BASE + 16 * PAGE, 2 * PAGE) == b"Q" * (2 * PAGE)
    assert mem.read(BASE + 18 * PAGE, PAGE) == bytes(PAGE)
    mem.grow(BASE + 16 * PAGE, 3 * PAGE, 5 * PAGE)
    assert spans(mem) == [(BASE + 16 * PAGE, BASE + 21 * PAGE, R | W)]
    assert mem.read(BASE + 16 * PAGE, 4) == b"QQQQ"
    # the old place is really free again (host pages were given back)
    mem.map(BASE, PAGE, R | W)
    assert mem.read(BASE, PAGE) == bytes(PAGE)


@pytest.mark.skipif(mmap.PAGESIZE != PAGE or not hasattr(os, "fork"), reason="needs 4 KiB host pages and fork")
def test_shared_anonymous_survives_fork(mem):
    mem.map(BASE, PAGE, R | W, shared=True)
    mem.map(BASE + PAGE, PAGE, R | W)                 # private neighbour
    pid = os.fork()
    if pid == 0:
        try:
            mem.write(BASE, b"child")
            mem.write(BASE + PAGE, b"child")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert mem.read(BASE, 5) == b"child"               # shared: the child's write shows
    assert mem.read(BASE + PAGE, 5) == bytes(5)        # private: copy-on-write


@pytest.mark.skipif(mmap.PAGESIZE != PAGE, reason="needs 4 KiB host pages")
def test_shared_file_mapping_and_sync(mem, tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"0123456789" * 1000)
    fd = os.open(p, os.O_RDWR)
    try:
        mem.map(BASE, 2 * PAGE, R | W, str(p), fd=fd, shared=True)
        assert mem.region_at(BASE).file
        assert mem.read(BASE, 10) == b"0123456789"
        mem.write(BASE, b"ABC")
        from elfuse_py.runtime.memory import HOST_MS_SYNC
        mem.sync(BASE, PAGE, HOST_MS_SYNC)
        assert os.pread(fd, 3, 0) == b"ABC"
        os.pwrite(fd, b"zz", 20)
        assert mem.read(BASE + 20, 2) == b"zz"
    finally:
        os.close(fd)
    # A read-only shared mapping cannot be made writable (the host says EACCES).
    fd = os.open(p, os.O_RDONLY)
    try:
        mem.map(BASE + 8 * PAGE, PAGE, R, str(p), fd=fd, shared=True)
        with pytest.raises(OSError) as e:
            mem.protect(BASE + 8 * PAGE, PAGE, R | W)
        assert e.value.errno == errno.EACCES
    finally:
        os.close(fd)


def test_sixty_thousand_mappings_scale(mem):
    """60 000 unmergeable one-page mappings: every operation stays cheap (no walk of all
    regions per call, no unicorn call per mapping) and the map-count limit is reported."""
    import time
    from elfuse_py.runtime.memory import MAX_MAP_COUNT
    n = 60000
    t0 = time.monotonic()
    addrs = []
    for i in range(n):
        a = mem.find_free(PAGE)
        mem.map(a, PAGE, R if i & 1 else R | W)
        addrs.append(a)
    t_map = time.monotonic() - t0
    assert mem.map_count() == n and mem.map_count() < MAX_MAP_COUNT
    t0 = time.monotonic()
    for a in addrs[::7]:
        mem.check(a, PAGE, R)
        mem.protect(a, PAGE, R)
    t_lookup = time.monotonic() - t0
    t0 = time.monotonic()
    for a in addrs:
        mem.unmap(a, PAGE)
    t_unmap = time.monotonic() - t0
    assert mem.map_count() == 0 and mem.total == 0
    print(f"\n60 000 mappings: map {t_map:.2f} s, 8 572 check+mprotect {t_lookup:.2f} s, "
          f"unmap {t_unmap:.2f} s")
    # Quadratic Python work would take minutes; list inserts (a C memmove) take seconds.
    assert t_map < 30 and t_unmap < 30 and t_lookup < 5


def test_huge_prot_none_costs_nothing(mem):
    """A 100 GiB PROT_NONE reservation is accepted at once and commits no host memory."""
    from elfuse_py.host import memory as hostmem
    size = 100 << 30
    a = mem.find_free(size)
    mem.map(a, size, 0)
    assert mem.region_at(a + size - 1).prot == 0
    with pytest.raises(GuestFault):
        mem.check(a, 1, R)
    resident = hostmem.resident(mem.host_base + a, 1 << 30)
    assert resident in (None, 0)
    mem.protect(a + (50 << 30), PAGE, R | W)
    mem.write(a + (50 << 30), b"x")
    mem.unmap(a, size)
    assert mem.total == 0
