"""libunicorn's pre-bound copy (elfuse_py/host/prebind.py): the same library, bound early.

The copy must load to exactly what the wheel's library loads to once the
dynamic loader has resolved every symbol: each slot a relocation writes is
compared, in a fresh interpreter that opens both.  The relocations are read
with pyelftools here, not with prebind's own parser.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, guest_bin, run_elfuse

from elfuse_py.host import prebind

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the copy is an ELF shared object (Linux hosts)")

WHEEL_LIB = None


def wheel_library() -> str:
    global WHEEL_LIB
    if WHEEL_LIB is None:
        code = "from elfuse_py.runtime import uc; print(uc.find_libunicorn())"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        WHEEL_LIB = out.stdout.strip()
    return WHEEL_LIB


# Opens the wheel's library with every symbol resolved now (RTLD_NOW) and the copy
# lazily, as the emulator does; prints each relocated slot's value in both, relative to
# each library's base where the symbol is the library's own.
COMPARE = r"""
import ctypes, json, os, sys
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
original, copy = sys.argv[1], sys.argv[2]
flags = os.RTLD_DEEPBIND
ctypes.CDLL(original, mode=os.RTLD_NOW | flags)
ctypes.CDLL(copy, mode=os.RTLD_LAZY | flags)
def base(path):
    real = os.path.realpath(path)
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16)
    raise SystemExit("not mapped: " + path)
b_orig, b_copy = base(original), base(copy)
word = lambda addr: ctypes.c_uint64.from_address(addr).value
checked = differ = own = 0
examples = []
with open(original, "rb") as f:
    elf = ELFFile(f)
    dynsym = elf.get_section_by_name(".dynsym")
    for section in elf.iter_sections():
        if not isinstance(section, RelocationSection):
            continue
        for rel in section.iter_relocations():
            kind, index = rel["r_info_type"], rel["r_info_sym"]
            if index == 0:
                continue                    # RELATIVE: the same in both by construction
            sym = dynsym.get_symbol(index)
            defined = sym["st_shndx"] != "SHN_UNDEF"
            if sym["st_info"]["type"] == "STT_TLS":
                continue                    # module ids and offsets: not addresses
            if not defined and section.name == ".rela.plt":
                continue                    # a glibc function: bound in the copy on first call
            a = word(b_orig + rel["r_offset"])
            c = word(b_copy + rel["r_offset"])
            if defined:
                own += 1
                a, c = a - b_orig, c - b_copy
            checked += 1
            if a != c:
                differ += 1
                if len(examples) < 5:
                    examples.append([section.name, kind, sym.name, a, c])
print(json.dumps({"checked": checked, "own": own, "differ": differ, "examples": examples}))
"""


def test_copy_loads_to_what_the_loader_binds(tmp_path):
    pytest.importorskip("elftools")     # (a dev dependency: make installs it)
    original = wheel_library()
    copy = prebind.write(original, str(tmp_path))
    assert os.path.basename(copy).startswith("prebound") and os.path.exists(copy)
    out = subprocess.run([sys.executable, "-c", COMPARE, original, copy],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["differ"] == 0, report["examples"]
    # the wheel's library: ~29 700 data relocations and ~7 700 PLT slots name its own symbols
    assert report["own"] > 30000, report


def test_rewrite_binds_own_symbols_only(tmp_path):
    with open(wheel_library(), "rb") as f:
        image = bytearray(f.read())
    relocated, filled = prebind.rewrite(image)
    assert relocated > 25000 and filled > 5000
    # a second pass finds nothing left to bind: what remains names glibc
    assert prebind.rewrite(image) == (0, filled)


@pytest.mark.parametrize("head", [b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(56),   # Mach-O dylib
                                  b"\x7fELF\x01\x01\x01" + bytes(57),                 # 32-bit ELF
                                  b"MZ" + bytes(62)])                                 # a DLL
def test_other_libraries_are_not_rewritten(head):
    with pytest.raises(ValueError):
        prebind.rewrite(bytearray(head))


def test_library_picks_a_current_copy_only(tmp_path, monkeypatch):
    original = tmp_path / "lib" / "libunicorn.so.2"
    original.parent.mkdir()
    shutil.copy2(wheel_library(), original)
    cache = tmp_path / "cache"
    monkeypatch.setattr(prebind, "_wanted", None)
    assert prebind.library(str(original), str(cache)) == str(original)      # no copy yet
    assert prebind._wanted[:2] == (str(original), prebind.copy_path(str(original), str(cache)))
    copy = prebind.write(str(original), str(cache))
    assert prebind.library(str(original), str(cache)) == copy
    # the library changes (an upgrade): its old copy is not used, and goes at the next write
    st = original.stat()
    os.utime(original, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert prebind.library(str(original), str(cache)) == str(original)
    newer = prebind.write(str(original), str(cache))
    assert newer != copy and os.listdir(cache) == [os.path.basename(newer)]
    assert os.stat(newer).st_mode & 0o777 == st.st_mode & 0o777


def test_refresh_writes_the_missing_copy_once_and_only_where_allowed(tmp_path, monkeypatch):
    original = tmp_path / "libunicorn.so.2"
    shutil.copy2(wheel_library(), original)
    cache = tmp_path / "cache"
    monkeypatch.setattr(prebind, "_wanted", None)
    prebind.library(str(original), str(cache))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prebind.refresh()
    assert not cache.exists()                       # -B / PYTHONDONTWRITEBYTECODE: nothing written
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(prebind, "_wanted", (*prebind._wanted[:2], os.getpid() + 1))
    prebind.refresh()
    assert not cache.exists()                       # not the process that opened the library
    monkeypatch.setattr(prebind, "_wanted", (*prebind._wanted[:2], os.getpid()))
    copy = prebind.copy_path(str(original), str(cache))
    cache.mkdir()
    claim = copy + ".writing"
    open(claim, "w").close()
    prebind.refresh()
    assert os.listdir(cache) == [os.path.basename(claim)]      # another run is writing it
    old = os.stat(claim).st_mtime - 2 * prebind._CLAIM_STALE_S
    os.utime(claim, (old, old))
    prebind.refresh()                               # its writer died: this run writes the copy
    assert os.listdir(cache) == [os.path.basename(copy)]


def test_guest_runs_on_the_copy(tmp_path):
    copy = prebind.write(wheel_library(), str(tmp_path))
    r = run_elfuse([guest_bin("hello")], extra_env={"ELFUSE_LIBUNICORN": copy})
    assert r.returncode == 0, r.stderr
    assert b"Hello" in r.stdout
    # and a guest that threads, signals and forks
    r = run_elfuse([guest_bin("t_thr_counter")], extra_env={"ELFUSE_LIBUNICORN": copy})
    assert r.returncode == 0, r.stdout + r.stderr
