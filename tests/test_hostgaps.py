"""What a host cannot provide (syscalls/hostgaps.py): the guest gets Linux's errno for
the missing feature, the emulator says so once on its own stream, and docs/syscalls.md
lists every gap the code can take."""
from __future__ import annotations

import re

from helpers import ROOT, guest_bin, run_elfuse

MODEL = {"ELFUSE_HOST_COMPAT": "darwin", "ELFUSE_MODEL_CASEFOLD": "1"}


def test_missing_copy_file_range_is_enosys_with_one_line_on_the_emulator_stream(tmp_path) -> None:
    r = run_elfuse([guest_bin("t_fs_fds")], extra_env=MODEL, cwd=tmp_path)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    err = r.stderr.decode()
    lines = [ln for ln in err.splitlines() if "copy_file_range: no in-kernel file-to-file copy" in ln]
    # The guest calls it twice (once with bad flags, which is EINVAL first): one line.
    assert len(lines) == 1 and "ENOSYS" in lines[0], err
    assert b"in-kernel" not in r.stdout


def test_every_gap_is_reachable_and_documented() -> None:
    from elfuse_py.syscalls.hostgaps import GAPS
    used = set()
    for path in (ROOT / "syscalls").rglob("*.py"):
        used |= set(re.findall(r'hostgaps\.missing\("([^"]+)"\)', path.read_text()))
    assert used == set(GAPS), f"gaps no handler takes: {set(GAPS) - used}; unknown: {used - set(GAPS)}"
    doc = (ROOT / "docs" / "syscalls.md").read_text()
    for gap in GAPS.values():
        assert f"| {gap.syscalls} | {gap.hosts} |" in doc, f"docs/syscalls.md lacks {gap.syscalls}"
