"""t_net_* guest programs under elfuse-py (default and darwin policy), both libcs."""
from __future__ import annotations

import pytest

from helpers import available_libcs, check_lines, guest_bin, run_elfuse

PROGS = ["t_net_basic", "t_net_fdpass", "t_net_fork", "t_net_poll", "t_net_peek_rdhup"]


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("policy", ["", "darwin"])
@pytest.mark.parametrize("prog", PROGS)
def test_net_prog(prog, policy, libc, tmp_path):
    # Its own cwd: the programs bind socket paths there, and parallel workers
    # run the musl and glibc builds at the same time.
    r = run_elfuse([guest_bin(prog, libc)], extra_env={"ELFUSE_HOST_COMPAT": policy},
                   cwd=str(tmp_path))
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    assert r.returncode == 0 and ok
    assert b"Traceback" not in r.stderr and b"internal error" not in r.stderr


@pytest.mark.parametrize("policy", ["", "darwin"])
def test_net_errors_no_traceback_and_sigpipe(policy, tmp_path):
    r = run_elfuse([guest_bin("t_net_errors")], extra_env={"ELFUSE_HOST_COMPAT": policy},
                   cwd=str(tmp_path))
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    # The program checks in a forked child that SIGPIPE kills a sender without MSG_NOSIGNAL.
    assert r.returncode == 0 and any(b"killed by SIGPIPE" in l.encode() for l in ok)
    assert b"Traceback" not in r.stderr and b"internal error" not in r.stderr
