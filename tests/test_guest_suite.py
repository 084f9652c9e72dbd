"""The generic guest-test runner: every guest-bins/src/t_*.c program.

For each program and each built libc flavour (musl always, glibc when its
builds exist) it:
  * runs the binary under elfuse-py and asserts exit status 0 and no
    "not ok" line (guest_test.h's convention);
  * runs it under qemu-aarch64 too (skipped where qemu is not installed) and
    asserts identical stdout and exit status -- unless the source opts out
    with a line `/* qemu-differs: reason */` (qemu-user has bugs of its own);
  * runs it once more under the macOS host model (ELFUSE_HOST_COMPAT=darwin:
    the names and host syscalls macOS lacks are gone, so the macOS backend of
    every concern runs on this Linux host).  A program with a known gap under
    the model is listed in MODEL_GAPS with the reason; those cases are strict
    xfails, so one that starts passing fails until it is taken off the list.

A program may have a sidecar guest-bins/src/<name>.args with its arguments,
one per line.  Each run gets its own empty working directory and empty stdin.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import ROOT, available_libcs, guest_bin, run_elfuse, run_qemu

SRC = ROOT / "guest-bins" / "src"
TIMEOUT = 120   # generous: under `pytest -n auto` on 2 cores many guests run at once
_QEMU_DIFFERS = re.compile(rb"/\*\s*qemu-differs:\s*(.*?)\s*\*/", re.S)


def _programs() -> list[str]:
    return sorted(p.stem for p in SRC.glob("t_*.c"))


def _cases() -> list:
    libcs = available_libcs()
    return [pytest.param(name, libc, id=f"{name}-{libc}") for name in _programs() for libc in libcs]


def _args(name: str) -> list[str]:
    side = SRC / f"{name}.args"
    if not side.exists():
        return []
    return side.read_text().splitlines()


def _qemu_differs(name: str) -> str | None:
    m = _QEMU_DIFFERS.search((SRC / f"{name}.c").read_bytes())
    return m.group(1).decode(errors="replace") if m else None


def _show(r) -> str:
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    return f"exit status {r.returncode}\n--- stdout ---\n{out}--- stderr ---\n{err}"


def _run_clean(name: str, libc: str, tmp_path: Path, extra_env: dict | None = None):
    exe = guest_bin(name, libc)
    r = run_elfuse([exe, *_args(name)], input=b"", cwd=str(tmp_path), timeout=TIMEOUT,
                   extra_env=extra_env)
    not_ok = [l for l in r.stdout.decode(errors="replace").splitlines() if l.startswith("not ok")]
    assert r.returncode == 0 and not not_ok, f"{name} ({libc}) failed under elfuse-py:\n{_show(r)}"
    assert b"Traceback" not in r.stderr, _show(r)
    return r


def test_program_list_is_not_empty():
    """Guards against a silently empty suite (e.g. a moved source directory)."""
    assert _programs(), f"no t_*.c programs found in {SRC}"


@pytest.mark.parametrize("name,libc", _cases())
def test_guest_program(name, libc, tmp_path):
    _run_clean(name, libc, tmp_path)


@pytest.mark.parametrize("name,libc", _cases())
def test_guest_program_matches_qemu(name, libc, tmp_path):
    reason = _qemu_differs(name)
    if reason:
        pytest.skip(f"qemu-differs: {reason}")
    exe = guest_bin(name, libc)
    args = [exe, *_args(name)]
    (tmp_path / "qemu").mkdir()
    (tmp_path / "elfuse").mkdir()
    q = run_qemu(args, input=b"", cwd=str(tmp_path / "qemu"), timeout=TIMEOUT)
    e = run_elfuse(args, input=b"", cwd=str(tmp_path / "elfuse"), timeout=TIMEOUT)
    assert (e.stdout.decode(errors="replace"), e.returncode) == \
        (q.stdout.decode(errors="replace"), q.returncode), \
        f"{name} ({libc}) differs from qemu-aarch64\n=== elfuse-py: {_show(e)}\n=== qemu: {_show(q)}"


# Programs that do not yet pass under the macOS host model, and why.
MODEL_GAPS: dict[str, str] = {
}


def _model_cases() -> list:
    out = []
    for c in _cases():
        gap = MODEL_GAPS.get(c.values[0])
        marks = [pytest.mark.xfail(reason=f"macOS model gap: {gap}", strict=True)] if gap else []
        out.append(pytest.param(*c.values, id=c.id, marks=marks))
    return out


@pytest.mark.parametrize("name,libc", _model_cases())
def test_guest_program_macos_model(name, libc, tmp_path):
    _run_clean(name, libc, tmp_path, extra_env={"ELFUSE_HOST_COMPAT": "darwin"})
