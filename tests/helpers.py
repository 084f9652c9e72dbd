"""Shared test helpers: where guest binaries are, and running them under
elfuse-py and (as the oracle) qemu-aarch64."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIRS = {"musl": ROOT / "guest-bins" / "build", "glibc": ROOT / "guest-bins" / "build-glibc"}
QEMU = shutil.which("qemu-aarch64")


def available_libcs() -> list[str]:
    """musl always; glibc when its builds exist (aarch64-linux-gnu-gcc was installed)."""
    out = ["musl"]
    if (BUILD_DIRS["glibc"] / "hello").exists():
        out.append("glibc")
    return out


def rundir_name(compat: str = "") -> str:
    """The name of the emulator's runtime directory for this user (runtime/rundir.py):
    elfuse-py-<uid>, plus -pidns<id> inside a pid namespace other than the host's first
    (never under the macOS host model `compat="darwin"`: a Mac has no pid namespaces,
    and the model reads nothing of /proc)."""
    from elfuse_py.host import procinfo
    ns = None if compat == "darwin" else procinfo.pid_namespace()
    return f"elfuse-py-{os.getuid()}" + (f"-pidns{ns}" if ns is not None else "")


def guest_bin(name: str, libc: str = "musl") -> str:
    path = BUILD_DIRS[libc] / name
    if not path.exists():
        if libc == "musl":
            pytest.fail(f"{path} is not built: run `make guest-bins` (make test does)")
        pytest.skip(f"no {libc} build of {name}")
    return str(path)


def run_elfuse(argv: list[str], *, env: dict | None = None, extra_env: dict | None = None,
               input: bytes | None = None, timeout: float = 60, options: list[str] = (),
               cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run argv under elfuse-py (this checkout's code) and capture bytes output."""
    e = dict(os.environ if env is None else env)
    e.setdefault("PYTHONPATH", str(ROOT))
    if extra_env:
        e.update(extra_env)
    if e.get("ELFUSE_HOST_COMPAT") == "darwin" or sys.platform == "darwin":
        # The guest never sees the emulator's ELFUSE_* variables: a test program
        # that must know it runs under the macOS policy reads this one.
        e.setdefault("GUEST_HOST_POLICY", "darwin")
    cmd = [sys.executable, "-m", "elfuse_py", *options, *argv]
    return subprocess.run(cmd, env=e, input=input, capture_output=True, timeout=timeout, cwd=cwd)


def run_qemu(argv: list[str], *, env: dict | None = None, extra_env: dict | None = None,
             input: bytes | None = None, timeout: float = 60,
             cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run argv under qemu-aarch64 (skips the test where it is not installed)."""
    if QEMU is None:
        pytest.skip("qemu-aarch64 not installed")
    e = dict(os.environ if env is None else env)
    if extra_env:
        e.update(extra_env)
    return subprocess.run([QEMU, *argv], env=e, input=input, capture_output=True,
                          timeout=timeout, cwd=cwd)


def check_lines(stdout: bytes) -> tuple[list[str], list[str]]:
    """(ok lines, not-ok lines) of a guest program using guest_test.h."""
    lines = stdout.decode(errors="replace").splitlines()
    return ([l for l in lines if l.startswith("ok - ")], [l for l in lines if l.startswith("not ok")])
