"""/proc as the guest sees it: its own program, mappings, argv and an AArch64 CPU.

Unit checks of elfuse_py.runtime.procfs run in-process; the rest runs
guest-bins/src/procfs_probe.c under elfuse-py.
"""
from __future__ import annotations

import os
import re

import pytest

from helpers import available_libcs, guest_bin, run_elfuse

LIBCS = available_libcs()


def probe(libc: str, *args: str, options=()) -> str:
    exe = guest_bin("procfs_probe", libc)
    r = run_elfuse([exe, *args], options=list(options))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_exe_is_the_guest_program(libc):
    exe = guest_bin("procfs_probe", libc)
    assert probe(libc, "readlink", "/proc/self/exe").strip() == os.path.abspath(exe)
    # /proc/<own pid>/exe is the same link (the guest's pid is the emulator's).
    assert "python" not in probe(libc, "readlink", "/proc/self/exe")


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_maps_lists_program_and_stack(libc):
    exe = os.path.abspath(guest_bin("procfs_probe", libc))
    maps = probe(libc, "cat", "/proc/self/maps")
    lines = maps.splitlines()
    assert any(l.endswith(" " + exe) and " r-xp " in l for l in lines), maps
    assert any(l.endswith(" [stack]") and " rw-p " in l for l in lines), maps
    pat = re.compile(r"^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+( +\S.*)?$")
    for line in lines:
        assert pat.match(line), line
    assert "python" not in maps


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_cpuinfo_is_aarch64(libc):
    info = probe(libc, "cat", "/proc/cpuinfo")
    feats = re.search(r"^Features\s*: (.*)$", info, re.M)
    assert feats, info
    words = feats.group(1).split()
    assert "fp" in words and "asimd" in words
    assert "CPU architecture: 8" in info
    assert "flags" not in info and "GenuineIntel" not in info and "AuthenticAMD" not in info


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_cmdline_and_environ(libc):
    out = probe(libc, "catz", "/proc/self/cmdline")
    exe = guest_bin("procfs_probe", libc)
    assert out.split("\n")[:3] == [exe, "catz", "/proc/self/cmdline"]
    exe2 = guest_bin("procfs_probe", libc)
    r = run_elfuse([exe2, "catz", "/proc/self/environ"], extra_env={"ELFUSE_PROCFS_TEST": "x y"})
    assert r.returncode == 0
    assert "ELFUSE_PROCFS_TEST=x y" in r.stdout.decode().split("\n")


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_auxv_matches_getauxval(libc):
    assert probe(libc, "auxv").strip() == "auxv matches"


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_self_fd_link(libc):
    exe = os.path.abspath(guest_bin("procfs_probe", libc))
    assert probe(libc, "fdlink").strip() == exe


@pytest.mark.parametrize("libc", LIBCS)
def test_proc_own_pid_is_self(libc):
    # The probe cannot know its pid in advance; /proc/self/stat names it, and
    # /proc/<that pid>/exe must be the guest program too.
    stat = probe(libc, "cat", "/proc/self/stat")
    m = re.match(r"^(\d+) \((.*)\) R (\d+) ", stat)
    assert m, stat
    assert m.group(2) == "procfs_probe"
    assert len(stat.split(")", 1)[1].split()) == 50


# ----- in-process unit checks of the synthesised files ------------------------------

def test_maps_format_unit():
    from elfuse_py.runtime import procfs
    from elfuse_py.runtime.memory import Region

    class FakeMem:
        regions = [Region(0x400000, 0x401000, 5, "/bin/true"), Region(0x500000, 0x502000, 3, ""),
                   Region(0x7ff000, 0x800000, 3, "[stack]", shared=False)]

    class FakeProc:
        mem = FakeMem()

    saved = procfs._proc
    procfs._proc = lambda: FakeProc()
    try:
        text = procfs.maps_text().decode()
    finally:
        procfs._proc = saved
    lines = text.splitlines()
    assert lines[0].startswith("00400000-00401000 r-xp 00000000 ")
    assert lines[0].index("/bin/true") == 73
    assert lines[1] == "00500000-00502000 rw-p 00000000 00:00 0"
    assert lines[2].endswith(" [stack]") and lines[2].index("[stack]") == 73


def test_open_special_rejects_writes():
    from elfuse_py.runtime import paths, procfs

    paths.install_special_files(procfs)

    with pytest.raises(OSError) as e:
        paths.open_special(b"/proc/self/maps", 1, 0)   # O_WRONLY
    assert e.value.errno == 13
    assert paths.open_special(b"/etc/passwd", 0, 0) is None
    assert paths.open_special(b"/proc/1/maps", 0, 0) is None
