"""SysV IPC's files on the host (elfuse_py/runtime/ipctree.py): an emulator tree
keeps its objects in a directory of the private runtime directory, removed when
the tree's last guest process ends, and a tree left by killed processes is
removed by the next emulator.  The semantics themselves are the guest programs
t_ipc_*.c (tests/test_guest_suite.py runs them natively-compared, and under the
macOS host model)."""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from helpers import check_lines, guest_bin, run_elfuse, rundir_name

POLICIES = ["", "darwin"]


@pytest.fixture
def rundir():
    # A short base: rundir.py falls back to /tmp for paths too long for socket names.
    base = tempfile.mkdtemp(prefix="ipc", dir="/tmp")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _trees(base: str, policy: str) -> list[str]:
    ipc = os.path.join(base, rundir_name(policy), "ipc")
    return sorted(os.listdir(ipc)) if os.path.isdir(ipc) else []


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("prog", ["t_ipc_shm", "t_ipc_exec"])
def test_tree_removed_when_the_last_process_ends(prog, policy, rundir):
    r = run_elfuse([guest_bin(prog)], extra_env={"ELFUSE_HOST_COMPAT": policy,
                                                 "ELFUSE_RUNTIME_DIR": rundir})
    ok, bad = check_lines(r.stdout)
    assert r.returncode == 0 and ok and not bad, (bad, r.stderr[-2000:])
    assert os.path.isdir(os.path.join(rundir, rundir_name(policy), "ipc"))
    assert _trees(rundir, policy) == []


@pytest.mark.parametrize("policy", POLICIES)
def test_tree_of_killed_processes_is_swept(policy, rundir):
    """A tree nobody holds (its processes were SIGKILLed) goes at the next start;
    a tree whose member still lives stays, and so does one being made (a dot
    name, not yet locked) unless a crash left it there a minute ago."""
    ipc = os.path.join(rundir, rundir_name(policy), "ipc")
    os.makedirs(ipc, mode=0o700)
    os.chmod(os.path.dirname(ipc), 0o700)
    stale, live = os.path.join(ipc, "1-dead"), os.path.join(ipc, "2-live")
    for d in (stale, live):
        os.mkdir(d)
        for name in ("members", "state", "shm-0"):
            open(os.path.join(d, name), "wb").close()
    making, crashed = os.path.join(ipc, ".3-new"), os.path.join(ipc, ".4-old")
    os.mkdir(making)
    os.mkdir(crashed)
    os.utime(crashed, (time.time() - 120, time.time() - 120))
    holder = os.open(os.path.join(live, "members"), os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_SH)
    try:
        r = run_elfuse([guest_bin("hello")], extra_env={"ELFUSE_HOST_COMPAT": policy,
                                                       "ELFUSE_RUNTIME_DIR": rundir})
        assert r.returncode == 0
        assert _trees(rundir, policy) == [".3-new", "2-live"]
    finally:
        os.close(holder)


@pytest.mark.parametrize("policy", POLICIES)
def test_tree_of_a_killed_guest_is_left_then_swept(policy, rundir):
    """SIGKILL runs no exit code: the tree stays until the next emulator's start."""
    env = dict(os.environ, ELFUSE_HOST_COMPAT=policy, ELFUSE_RUNTIME_DIR=rundir)
    elfuse = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "bin", "elfuse-py")
    p = subprocess.Popen([elfuse, guest_bin("ipc_hold")], env=env, stdout=subprocess.PIPE)
    try:
        assert int(p.stdout.readline()) >= 0          # the set exists, the guest blocks
        trees = _trees(rundir, policy)
        assert len(trees) == 1
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=20)
        assert _trees(rundir, policy) == trees
        r = run_elfuse([guest_bin("hello")], env=env)
        assert r.returncode == 0
        assert _trees(rundir, policy) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
