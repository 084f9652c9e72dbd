"""The ELF loader: what it rejects (and how), and mapping static and static-PIE images."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from helpers import BUILD_DIRS, guest_bin, run_elfuse
from elfuse_py.loader.elf import ElfError, check_elf, load_elf

PROT_R, PROT_W, PROT_X = 1, 2, 4


def _patched(tmp_path: Path, name: str, patches: dict[int, bytes]) -> str:
    data = bytearray(Path(guest_bin("hello")).read_bytes())
    for off, b in patches.items():
        data[off:off + len(b)] = b
    p = tmp_path / name
    p.write_bytes(bytes(data))
    p.chmod(0o755)
    return str(p)


@pytest.fixture
def mem():
    from elfuse_py.runtime.cpu import Cpu
    from elfuse_py.runtime.memory import GuestMemory
    cpu = Cpu()
    return GuestMemory(cpu.uc)


def _elf_header(path: str) -> dict:
    data = Path(path).read_bytes()[:64]
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    (e_entry, e_phoff) = struct.unpack_from("<QQ", data, 24)
    (e_phentsize, e_phnum) = struct.unpack_from("<HH", data, 54)
    return dict(type=e_type, machine=e_machine, entry=e_entry, phoff=e_phoff,
                phentsize=e_phentsize, phnum=e_phnum)


def _load_segments(path: str) -> list[tuple[int, int, int, int]]:
    """(vaddr, memsz, flags, filesz) of each PT_LOAD, read with struct (not pyelftools)."""
    data = Path(path).read_bytes()
    h = _elf_header(path)
    out = []
    for i in range(h["phnum"]):
        p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = \
            struct.unpack_from("<IIQQQQQQ", data, h["phoff"] + i * h["phentsize"])
        if p_type == 1:
            out.append((p_vaddr, p_memsz, p_flags, p_filesz, p_offset))
    return out


# ----- rejection ----------------------------------------------------------------------

@pytest.mark.parametrize("what,patches,fragment", [
    ("class32", {4: b"\x01"}, "32-bit"),
    ("bigendian", {5: b"\x02"}, "big-endian"),
    ("x86_64", {18: struct.pack("<H", 62)}, "not AArch64"),
    ("riscv", {18: struct.pack("<H", 243)}, "not AArch64"),
    ("relocatable", {16: struct.pack("<H", 1)}, "not an executable"),
    ("core", {16: struct.pack("<H", 4)}, "not an executable"),
    ("notelf", {0: b"\x7fELX"}, "not an ELF"),
])
def test_rejects(tmp_path, what, patches, fragment):
    path = _patched(tmp_path, what, patches)
    with pytest.raises(ElfError) as ei:
        check_elf(path)
    assert ei.value.status == 126
    msg = str(ei.value)
    assert fragment in msg and path in msg
    assert "\n" not in msg


def test_rejects_truncated(tmp_path):
    data = Path(guest_bin("hello")).read_bytes()
    for n in (0, 3, 20, 63, 100):
        p = tmp_path / f"t{n}"
        p.write_bytes(data[:n])
        with pytest.raises(ElfError) as ei:
            check_elf(str(p))
        assert ei.value.status == 126


def test_rejects_segment_past_end_of_file(tmp_path, mem):
    data = Path(guest_bin("hello")).read_bytes()
    segs = _load_segments(guest_bin("hello"))
    cut = max(off + filesz for _v, _m, _f, filesz, off in segs) - 16
    p = tmp_path / "cut"
    p.write_bytes(data[:cut])
    # Refused before anything is mapped (where Linux would map it and SIGSEGV later).
    with pytest.raises(ElfError) as ei:
        load_elf(mem, str(p))
    assert ei.value.status == 126 and not ei.value.segv
    assert not mem.regions


def test_missing_file_is_127(tmp_path):
    with pytest.raises(ElfError) as ei:
        check_elf(str(tmp_path / "nope"))
    assert ei.value.status == 127
    assert ei.value.errno_name == "ENOENT"


def test_directory_is_126(tmp_path):
    with pytest.raises(ElfError) as ei:
        check_elf(str(tmp_path))
    assert ei.value.status == 126


def test_accepts_guest_binaries():
    check_elf(guest_bin("hello"))
    check_elf(_pie())


# ----- mapping ------------------------------------------------------------------------

def _pie() -> str:
    p = BUILD_DIRS["musl"] / "hello_pie"
    if not p.exists():
        pytest.fail(f"{p} is not built: run `make guest-bins/build/hello_pie` (make test does)")
    return str(p)


def _expected_prot(flags: int) -> int:
    return (PROT_R if flags & 4 else 0) | (PROT_W if flags & 2 else 0) | (PROT_X if flags & 1 else 0)


def _check_image(mem, path: str, img, bias: int):
    h = _elf_header(path)
    assert img.base == bias
    assert img.entry == h["entry"] + bias
    assert img.phnum == h["phnum"] and img.phent == 56
    assert img.interp is None
    data = Path(path).read_bytes()
    top = 0
    for vaddr, memsz, flags, filesz, off in _load_segments(path):
        a = vaddr + bias
        r = mem.region_at(a)
        assert r is not None, f"segment at {a:#x} not mapped"
        assert r.prot & _expected_prot(flags) == _expected_prot(flags)
        # file bytes are in place, the bss tail is zero
        assert mem.read(a, filesz) == data[off:off + filesz]
        if memsz > filesz:
            assert mem.read(a + filesz, memsz - filesz) == bytes(memsz - filesz)
        top = max(top, a + memsz)
    assert img.brk % 4096 == 0 and img.brk >= top
    # the program headers are readable where AT_PHDR will point
    assert mem.read(img.phdr, 56 * img.phnum) == data[h["phoff"]:h["phoff"] + 56 * h["phnum"]]


def test_maps_static_exec(mem):
    path = guest_bin("hello")
    assert _elf_header(path)["type"] == 2    # ET_EXEC
    img = load_elf(mem, path)
    _check_image(mem, path, img, 0)


def test_maps_static_pie(mem):
    from elfuse_py.runtime.memory import ET_DYN_BASE
    path = _pie()
    assert _elf_header(path)["type"] == 3    # ET_DYN
    img = load_elf(mem, path)
    lo = min(v for v, *_ in _load_segments(path)) & ~4095
    assert img.base != 0
    assert img.base + lo == ET_DYN_BASE
    _check_image(mem, path, img, img.base)


def test_static_pie_honours_base(mem):
    path = _pie()
    img = load_elf(mem, path, base=0x40_0000_0000)
    assert img.base == 0x40_0000_0000 - (min(v for v, *_ in _load_segments(path)) & ~4095)


def test_text_is_not_writable(mem):
    path = guest_bin("hello")
    img = load_elf(mem, path)
    r = mem.region_at(img.entry)
    assert r.prot & PROT_X and not r.prot & PROT_W


@pytest.mark.parametrize("libc", ["musl", "glibc"])
def test_static_pie_runs(libc):
    path = BUILD_DIRS[libc] / "hello_pie"
    if libc == "musl":
        path = Path(_pie())
    elif not path.exists():
        pytest.skip("no glibc static-pie build")
    r = run_elfuse([str(path), "pie"])
    assert r.stdout == b"Hello from an AArch64 guest! pie\n"
    assert r.returncode == 0


@pytest.mark.parametrize("flags,prot", [(6, PROT_R | PROT_W), (7, PROT_R | PROT_W | PROT_X)])
def test_gnu_stack_sets_stack_protection(tmp_path, mem, flags, prot):
    """PT_GNU_STACK with PF_X gives an executable stack, without it read-write (arm64's default)."""
    from elfuse_py.loader.image import load_program
    data = bytearray(Path(guest_bin("hello")).read_bytes())
    h = _elf_header(guest_bin("hello"))
    for i in range(h["phnum"]):
        off = h["phoff"] + i * 56
        if struct.unpack_from("<I", data, off)[0] == 0x6474E551:
            struct.pack_into("<I", data, off + 4, flags)
    p = tmp_path / "stack"
    p.write_bytes(bytes(data))
    load_program(mem, str(p), [b"x"], [], b"x", resolve=lambda b: b.decode(), hwcap=(0, 0))
    assert mem.region_at(mem.STACK_TOP - 16).prot == prot


def test_interp_checked_before_anything_is_mapped(tmp_path, mem):
    """A missing PT_INTERP fails like execve (ENOENT, 127) with the address space untouched."""
    from elfuse_py.loader.image import load_program
    data = bytearray(Path(guest_bin("hello")).read_bytes())
    h = _elf_header(guest_bin("hello"))
    name = b"/nonexistent/ld.so\0"
    for i in range(h["phnum"]):
        off = h["phoff"] + i * 56
        if struct.unpack_from("<I", data, off)[0] == 0x6474E551:
            struct.pack_into("<IIQQQQQQ", data, off, 3, 4, len(data), 0, 0, len(name), len(name), 1)
    data += name
    p = tmp_path / "interp"
    p.write_bytes(bytes(data))
    with pytest.raises(ElfError) as ei:
        load_program(mem, str(p), [b"x"], [], b"x", resolve=lambda b: b.decode(), hwcap=(0, 0))
    assert (ei.value.status, ei.value.errno_name, ei.value.segv) == (127, "ENOENT", False)
    assert not mem.regions
