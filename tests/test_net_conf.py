"""t_net_conf_* conformance programs (options, msghdr/cmsg/mmsg, addresses and
readiness) under elfuse-py, default and darwin policy, musl and glibc.

Every check was written against real Linux (the programs also pass when built
natively for the x86_64 host); qemu-user is wrong on a handful of them (unknown
type-flag bits, malformed cmsgs, short msg_namelen, SO_PEEK_OFF...), so these
tests assert the Linux answers rather than qemu's.
"""
from __future__ import annotations

import pytest

from helpers import available_libcs, check_lines, guest_bin, run_elfuse

PROGS = {"t_net_conf_opts": 180, "t_net_conf_msg": 108, "t_net_conf_addr": 133,
         # second round: data path, options/creds/fd passing, readiness and mmsg,
         # loopback inet, rarer AF_UNIX corners
         "t_net_conf2_data": 156, "t_net_conf2_opts": 105, "t_net_conf2_poll": 96,
         "t_net_conf2_inet": 96, "t_net_conf2_misc": 89}


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("policy", ["", "darwin"])
@pytest.mark.parametrize("prog", sorted(PROGS))
def test_net_conf(prog, policy, libc, tmp_path):
    # Its own cwd: the programs make socket files and directories there, and
    # parallel workers run the musl and glibc builds at the same time.
    r = run_elfuse([guest_bin(prog, libc)], extra_env={"ELFUSE_HOST_COMPAT": policy},
                   cwd=str(tmp_path))
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    assert len(ok) == PROGS[prog], (len(ok), r.stderr[-2000:])
    assert r.returncode == 0
    assert b"Traceback" not in r.stderr and b"internal error" not in r.stderr


@pytest.mark.parametrize("policy", ["", "darwin"])
def test_net_conf_fuzz_no_internal_error(policy, tmp_path):
    """6000 socket calls with garbage arguments: results and errnos, never a traceback."""
    r = run_elfuse([guest_bin("t_net_conf_fuzz")], extra_env={"ELFUSE_HOST_COMPAT": policy},
                   cwd=str(tmp_path))
    assert r.returncode == 0 and b"ok - 6000 garbage" in r.stdout
    assert b"Traceback" not in r.stderr and b"internal error" not in r.stderr
