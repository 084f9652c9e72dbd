"""Event-loop fallbacks for hosts without the Linux objects, exercised on Linux.

ELFUSE_HOST_COMPAT=darwin makes eventfd2 use the socketpair-backed emulation
(syscalls/events.py EventfdEmu) that macOS hosts get; the guest must not see
a difference.
"""
from __future__ import annotations

import pytest

from helpers import available_libcs, check_lines, guest_bin, run_elfuse


@pytest.mark.parametrize("libc", available_libcs())
def test_eventfd_emulation(libc):
    r = run_elfuse([guest_bin("t_events_eventfd", libc)],
                   extra_env={"ELFUSE_HOST_COMPAT": "darwin"})
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    assert r.returncode == 0, r.stderr
    assert len(ok) > 20
