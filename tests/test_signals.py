"""Signals: guest handler delivery, restart, altstack, SIGPIPE, SIGCHLD, kill/masks,
and host signals sent from outside reaching the guest."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse, run_qemu

PROGRAMS = ["t_sig_handler", "t_sig_restart", "t_sig_altstack", "t_sig_pipe", "t_sig_chld",
            "t_sig_kill"]


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("name", PROGRAMS)
def test_signal_guest(name, libc, tmp_path):
    exe = guest_bin(name, libc)
    r = run_elfuse([exe], cwd=str(tmp_path), input=b"")
    ok, bad = check_lines(r.stdout)
    assert not bad and ok and r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    q = run_qemu([exe], cwd=str(tmp_path), input=b"")
    assert (r.stdout, r.returncode) == (q.stdout, q.returncode)


def test_sigterm_from_outside_kills_with_the_real_signal(tmp_path):
    """A guest with the default SIGTERM action dies by SIGTERM, as on Linux."""
    # t_sig_restart runs for about a second with no SIGTERM handler.
    p = subprocess.Popen([sys.executable, "-m", "elfuse_py", guest_bin("t_sig_restart")],
                         cwd=str(tmp_path), env={"PYTHONPATH": str(ROOT)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGTERM
