"""Guest threads: the pthread counter bar, atomics with and without LSE, futex, thread exit.

The counter must end at exactly 8 x 100 000 on every run: guest threads are
serialised on one CPU and switched at futex waits, sleeps and every time
slice; exclusive loads/stores and LSE atomics must survive those switches.
Small time slices (ELFUSE_SLICE_INSNS) make switches land inside the
LDXR/STXR loops thousands of times per run.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT, available_libcs, guest_bin, run_elfuse

CACHE = ROOT / "tests" / ".cache" / "thr"
SRC = ROOT / "guest-bins" / "src" / "t_thr_counter.c"
CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")
CROSS_ROOT = Path("/usr/aarch64-linux-gnu")
EXPECTED = b"800000\n"


def _build(name: str, cmd: list[str]) -> str:
    out = CACHE / name
    if not out.exists() or out.stat().st_mtime < SRC.stat().st_mtime:
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([*cmd, "-O2", "-I", str(SRC.parent), "-o", str(out), str(SRC)],
                           capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot build {name}: {r.stderr.decode(errors='replace')[-300:]}")
    return str(out)


def _variants() -> list:
    zig = [str(ROOT / ".venv" / "bin" / "python"), "-m", "ziglang", "cc", "-target",
           "aarch64-linux-musl", "-static"]
    out = [pytest.param(zig + ["-mcpu=generic"], id="musl-llsc"),
           pytest.param(zig + ["-mcpu=generic+lse"], id="musl-lse")]
    if CROSS_CC:
        out += [pytest.param([CROSS_CC, "-static", "-march=armv8-a", "-mno-outline-atomics"],
                             id="glibc-llsc"),
                pytest.param([CROSS_CC, "-static", "-march=armv8.1-a"], id="glibc-lse")]
    return out


@pytest.mark.parametrize("libc", available_libcs())
def test_counter_repeated(libc):
    """The bar: 8 threads x 100 000 atomic increments = 800 000, every run."""
    exe = guest_bin("t_thr_counter", libc)
    for _ in range(5):
        r = run_elfuse([exe, "counter"], timeout=120)
        assert r.stdout == EXPECTED and r.returncode == 0, r.stderr


@pytest.mark.parametrize("cc", _variants())
def test_counter_small_slices(cc):
    """LL/SC and LSE builds with switches every ~1000 instructions (inside the atomic loops)."""
    name = "t_thr_counter-" + "-".join(a.lstrip("-").replace("=", "_").replace("+", "_")
                                       for a in cc[-2:])
    exe = _build(name, cc)
    for slice_insns in ("997", "1511", "5003"):
        r = run_elfuse([exe, "counter"], extra_env={"ELFUSE_SLICE_INSNS": slice_insns}, timeout=120)
        assert r.stdout == EXPECTED and r.returncode == 0, (slice_insns, r.stderr)


@pytest.mark.parametrize("libc", available_libcs())
def test_thread_suite(libc):
    """Mutex, condvar ping-pong, join values, gettid, preemption, pthread_kill, futex errors."""
    r = run_elfuse([guest_bin("t_thr_counter", libc)], timeout=120)
    out = r.stdout.decode()
    assert "not ok" not in out and r.returncode == 0, out + r.stderr.decode(errors="replace")
    assert out.count("ok - ") >= 25


def test_counter_dynamic_glibc():
    """A dynamically linked glibc build under the cross toolchain's sysroot."""
    if CROSS_CC is None or not (CROSS_ROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        pytest.skip("aarch64-linux-gnu-gcc with its glibc is not installed")
    exe = _build("t_thr_counter-dyn", [CROSS_CC])
    for _ in range(3):
        r = run_elfuse([exe, "counter"], options=["--sysroot", str(CROSS_ROOT)], timeout=120)
        assert r.stdout == EXPECTED and r.returncode == 0, r.stderr
    r = run_elfuse([exe], options=["--sysroot", str(CROSS_ROOT)], timeout=120)
    assert b"not ok" not in r.stdout and r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("libc", available_libcs())
def test_thread_exit_and_fork(libc):
    """exit ends one thread, exit_group all; fork keeps only the caller; requeue/wake_op."""
    exe = guest_bin("t_thr_exit", libc)
    r = run_elfuse([exe], timeout=120)
    assert b"not ok" not in r.stdout and r.returncode == 0, r.stdout + r.stderr
    r = run_elfuse([exe, "mainexit"], timeout=60)
    assert r.stdout == b"late thread done\n" and r.returncode == 0, r.stderr
    r = run_elfuse([exe, "exitgroup"], timeout=60)
    assert r.returncode == 7, r.stderr
