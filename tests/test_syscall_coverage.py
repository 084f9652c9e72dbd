"""The syscall-coverage record (syscalls/coverage.py) and the check tests/conftest.py builds on it."""
from __future__ import annotations

import os

from conftest import missing_syscalls
from helpers import guest_bin, run_elfuse
from elfuse_py.syscalls import coverage


def test_off_by_default_is_the_plain_list(monkeypatch):
    monkeypatch.delenv(coverage.ENV, raising=False)
    plain = [None, (print, None)]
    assert coverage.wrap(plain, str) is plain            # nothing added to the hot path


def test_records_each_handled_syscall_once_per_process(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    r = run_elfuse([guest_bin("hello")], extra_env={coverage.ENV: str(rec)})
    assert r.returncode == 0
    files = list(rec.iterdir())
    assert len(files) == 1 and files[0].name == f"{files[0].name.split('.')[0]}.{os.geteuid()}"
    lines = files[0].read_text().split()
    assert "writev" in lines and "exit_group" in lines and len(lines) == len(set(lines))
    got = coverage.recorded(str(rec))
    assert "writev" in got


def test_missing_names_the_uncalled_handlers(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "1.0").write_text("write\nopenat\n")
    missing = missing_syscalls(str(rec))
    assert "openat2" in missing and "capget" in missing
    assert "write" not in missing and "openat" not in missing
    assert "rseq" not in missing                         # no handler: nothing to cover
