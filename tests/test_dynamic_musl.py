"""Dynamically linked musl programs: ld-musl-aarch64.so.1 as the program interpreter.

Debian's arm64 `musl` package gives the interpreter (which is also musl's
libc.so) and `musl-dev` its crt files and headers; the guest programs are
compiled against them with the glibc cross compiler driving the link by hand
(Debian has no musl cross-gcc).  Each runs under elfuse-py and qemu-aarch64
with that root, and must agree; the self-checking programs must also pass.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import debian_sysroot
from debian_sysroot import CACHE, CacheLock
from helpers import ROOT, check_lines, run_elfuse, run_qemu

CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")
TIMEOUT = 180
# Self-checking programs that need nothing newer than Debian 12's musl 1.2.3.
PROGRAMS = ["t_thr_counter", "t_thr_exit", "t_fs_dirs", "t_fs_errno", "t_proc_fork_wait",
            "t_proc_pipe", "t_sig_handler", "t_sig_restart", "t_net_basic", "t_net_fdpass",
            "t_events_epoll", "t_mem_mmap", "t_time_clocks"]
# Kernel uapi headers (linux/, asm/) are libc-independent: take them from the
# cross toolchain, after musl's own headers.
UAPI_INCLUDE = Path("/usr/aarch64-linux-gnu/include")


@pytest.fixture(scope="module")
def musl_root() -> Path:
    return debian_sysroot.build("debian-arm64-musl", ["musl", "musl-dev"])


def _build(root: Path, name: str) -> str:
    if CROSS_CC is None:
        pytest.skip("aarch64-linux-gnu-gcc is not installed")
    lib = root / "usr" / "lib" / "aarch64-linux-musl"
    gcc_include = subprocess.run([CROSS_CC, "-print-file-name=include"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    out = CACHE / "dyn-musl" / name
    src = ROOT / "guest-bins" / "src" / f"{name}.c"
    with CacheLock("dyn-musl"):
        if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
            out.parent.mkdir(parents=True, exist_ok=True)
            # -mno-outline-atomics: libgcc's LSE probe wants glibc's __getauxval.
            subprocess.run([CROSS_CC, "-O2", "-mno-outline-atomics", "-fno-stack-protector",
                            "-nostdinc", "-isystem", str(root / "usr/include/aarch64-linux-musl"),
                            "-isystem", gcc_include, "-idirafter", str(UAPI_INCLUDE), "-nostdlib", "-o", str(out),
                            str(lib / "Scrt1.o"), str(lib / "crti.o"), str(src),
                            str(root / "lib/aarch64-linux-musl/libc.so"), str(lib / "crtn.o"),
                            "-Wl,-dynamic-linker,/lib/ld-musl-aarch64.so.1"],
                           check=True, capture_output=True)
    return str(out)


def _both(argv: list[str], root: Path):
    e = run_elfuse(argv, options=["--sysroot", str(root)], timeout=TIMEOUT, input=b"")
    q = run_qemu(["-L", str(root), *argv], timeout=TIMEOUT, input=b"")
    return e, q


def test_musl_dynamic_hello(musl_root):
    exe = _build(musl_root, "echo_args")
    e, q = _both([exe, "one", "two words"], musl_root)
    assert e.returncode == 0 and b"two words" in e.stdout, e.stderr
    assert (e.stdout, e.returncode) == (q.stdout, q.returncode)


def test_musl_interpreter_run_directly(musl_root):
    """`ld-musl-aarch64.so.1 PROGRAM` loads and runs PROGRAM, as on Linux."""
    exe = _build(musl_root, "echo_args")
    ldso = str(musl_root / "lib" / "ld-musl-aarch64.so.1")
    r = run_elfuse([ldso, exe, "direct"], options=["--sysroot", str(musl_root)], timeout=TIMEOUT)
    assert r.returncode == 0 and b"direct" in r.stdout, r.stderr


@pytest.mark.parametrize("name", PROGRAMS)
def test_musl_dynamic_program(musl_root, name, tmp_path):
    exe = _build(musl_root, name)
    e = run_elfuse([exe], options=["--sysroot", str(musl_root)], timeout=TIMEOUT, input=b"",
                   cwd=str(tmp_path))
    ok, bad = check_lines(e.stdout)
    assert ok and not bad and e.returncode == 0, e.stdout.decode() + e.stderr.decode()
