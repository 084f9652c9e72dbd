"""Dynamically linked glibc programs under a guest root, against qemu-aarch64 -L.

Two sysroots:
  * the cross toolchain's /usr/aarch64-linux-gnu (it has lib/ld-linux-aarch64.so.1
    and libc.so.6), for programs built here with `aarch64-linux-gnu-gcc` (no -static);
  * Debian's own arm64 packages (libc6, coreutils, …) fetched with
    `apt-get download` and unpacked with `dpkg-deb -x` into tests/.cache/
    (built once, skipped where apt-get/dpkg-deb or the mirror are unavailable).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import debian_sysroot
from debian_sysroot import CACHE, CacheLock
from helpers import ROOT, run_elfuse, run_qemu

CROSS_ROOT = Path("/usr/aarch64-linux-gnu")
CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")
TIMEOUT = 180


def _build_dynamic(name: str) -> str:
    if CROSS_CC is None or not (CROSS_ROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        pytest.skip("aarch64-linux-gnu-gcc with its glibc is not installed")
    out = CACHE / "dyn" / name
    src = ROOT / "guest-bins" / "src" / f"{name}.c"
    with CacheLock("dyn"):
        if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([CROSS_CC, "-O2", "-o", str(out), str(src)], check=True,
                           capture_output=True)
    return str(out)


@pytest.fixture(scope="module")
def debian_root() -> Path:
    """A sysroot unpacked from Debian's arm64 coreutils and libc (cached in tests/.cache/)."""
    return debian_sysroot.build("debian-arm64", debian_sysroot.BASE_ARM64)


def _compare(argv: list[str], sysroot: str, *, input: bytes | None = None,
             extra_env: dict | None = None, cwd: str | None = None):
    q = run_qemu(["-L", sysroot, *argv], input=input, extra_env=extra_env, timeout=TIMEOUT, cwd=cwd)
    e = run_elfuse(argv, options=["--sysroot", sysroot], input=input, extra_env=extra_env,
                   timeout=TIMEOUT, cwd=cwd)
    assert e.stdout == q.stdout, e.stderr.decode(errors="replace")
    assert e.returncode == q.returncode, e.stderr.decode(errors="replace")
    return e


# ----- programs built here against the cross toolchain's glibc -----------------------

def test_dynamic_hello():
    exe = _build_dynamic("hello")
    e = _compare([exe, "a", "b"], str(CROSS_ROOT))
    assert e.returncode == 0 and e.stdout


def test_dynamic_env_sysroot():
    """ELFUSE_SYSROOT works like --sysroot."""
    exe = _build_dynamic("hello")
    e = run_elfuse([exe], extra_env={"ELFUSE_SYSROOT": str(CROSS_ROOT)}, timeout=TIMEOUT)
    assert e.returncode == 0, e.stderr
    bare = run_elfuse([exe], timeout=TIMEOUT, extra_env={"ELFUSE_SYSROOT": ""})
    if not Path("/lib/ld-linux-aarch64.so.1").exists():
        assert bare.returncode == 127     # no interpreter on the host without the sysroot


def test_dynamic_pie_auxv_and_exe():
    """A PIE main program with an interpreter: AT_ENTRY/AT_PHDR right, exe is the program."""
    exe = _build_dynamic("procfs_probe")
    opts = ["--sysroot", str(CROSS_ROOT)]
    r = run_elfuse([exe, "auxv"], options=opts, timeout=TIMEOUT)
    assert r.stdout.strip() == b"auxv matches", r.stderr
    r = run_elfuse([exe, "readlink", "/proc/self/exe"], options=opts, timeout=TIMEOUT)
    assert r.stdout.decode().strip() == os.path.abspath(exe), r.stderr
    r = run_elfuse([exe, "cat", "/proc/self/maps"], options=opts, timeout=TIMEOUT)
    maps = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    # the interpreter and libc by their guest names (sysroot prefix removed)
    assert "/lib/ld-linux-aarch64.so.1" in maps
    assert "libc.so.6" in maps and str(CROSS_ROOT) not in maps


# ----- Debian's own arm64 binaries ------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "b.txt").write_text("banana\ncherry\napple\n")
    (d / "a.txt").write_text("hello\n")
    (d / "sub").mkdir()
    return d


def test_debian_ls(debian_root, files):
    _compare([str(debian_root) + "/bin/ls", str(files)], str(debian_root))
    _compare([str(debian_root) + "/bin/ls", "-1a", "--color=never", str(files)], str(debian_root))


def test_debian_cat(debian_root, files):
    e = _compare([str(debian_root) + "/bin/cat", str(files / "a.txt"), str(files / "b.txt")], str(debian_root))
    assert e.stdout == b"hello\nbanana\ncherry\napple\n"
    _compare([str(debian_root) + "/bin/cat", str(files / "missing")], str(debian_root))


def test_debian_sort(debian_root, files):
    e = _compare([str(debian_root) + "/usr/bin/sort", str(files / "b.txt")], str(debian_root))
    assert e.stdout == b"apple\nbanana\ncherry\n"
    _compare([str(debian_root) + "/usr/bin/sort", "-r"], str(debian_root), input=b"b\nc\na\n")


def test_debian_sha256sum(debian_root, files):
    e = _compare([str(debian_root) + "/usr/bin/sha256sum", str(files / "a.txt")], str(debian_root))
    assert e.stdout.startswith(b"5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")


def test_debian_date(debian_root):
    _compare([str(debian_root) + "/bin/date", "-u", "-d", "@0"], str(debian_root), extra_env={"TZ": "UTC"})
