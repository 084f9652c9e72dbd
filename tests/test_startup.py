"""Start-up diet: a plain run imports none of what only faults, traces or rare calls need.

Each module below cost milliseconds of every start-up before it was made lazy
or dropped (docs/architecture.md, "Start-up").  The run's own `-X importtime`
report says what was imported; timings are never asserted.
"""
import os
import subprocess
import sys

import pytest
from helpers import ROOT, guest_bin

# capstone: only to describe a fault (--trace-faults, a crash report);
# elftools: the loader reads the ELF headers with struct;
# dataclasses (and the inspect it imports), typing: plain classes instead;
# tempfile: only for a file-backed memfd/eventfd or strace -o;
# syscalls.strace: the tracer, only with --strace.
NOT_AT_START = ("capstone", "elftools", "dataclasses", "inspect", "typing", "tempfile",
                "elfuse_py.syscalls.strace")


def imported_modules(args: list[str], env: dict | None = None) -> set[str]:
    """The modules `python -X importtime -m elfuse_py ARGS` imports (guest output discarded)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "elfuse_py", *args],
                       cwd=ROOT, env={**os.environ, **(env or {})},
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    mods = set()
    for line in r.stderr.decode(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                mods.add(name)
    return mods


def _lazy_ones(mods: set[str]) -> list[str]:
    return sorted(m for m in mods for banned in NOT_AT_START
                  if m == banned or m.startswith(banned + "."))


@pytest.mark.parametrize("compat", ["", "darwin"])
def test_plain_run_imports_no_lazy_module(compat):
    mods = imported_modules([guest_bin("hello")],
                            {"ELFUSE_HOST_COMPAT": compat} if compat else None)
    assert "elfuse_py.boot" in mods and "elfuse_py.loader.elf" in mods      # the report is what we think
    assert _lazy_ones(mods) == []


def test_the_check_sees_a_lazy_import():
    """--strace does need the tracer: the same check must notice it (the test can fail)."""
    mods = imported_modules(["--strace", "-o", os.devnull, guest_bin("hello")])
    assert "elfuse_py.syscalls.strace" in _lazy_ones(mods)
