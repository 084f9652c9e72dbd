"""Event-loop fallbacks for hosts without the Linux objects, exercised on Linux.

ELFUSE_HOST_COMPAT=darwin (the macOS host model) makes eventfd2 use the
socketpair-backed emulation (syscalls/events.py EventfdEmu) and epoll the
poll/select-based one (syscalls/epoll_emu.py) that macOS hosts get; the guest
must not see a difference.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse

DARWIN = {"ELFUSE_HOST_COMPAT": "darwin"}
SRC = ROOT / "guest-bins" / "src"
# Every guest test program that uses epoll (t_events_epoll, _emu, _exec, the
# eventfd and timerfd ones, an epoll fd passed with SCM_RIGHTS...).
EPOLL_PROGRAMS = sorted(p.stem for p in SRC.glob("t_*.c") if re.search(rb"\bepoll_", p.read_bytes()))
EPOLL_CALLS = ("epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2")


@pytest.mark.parametrize("libc", available_libcs())
def test_eventfd_emulation(libc):
    r = run_elfuse([guest_bin("t_events_eventfd", libc)], extra_env=DARWIN)
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    assert r.returncode == 0, r.stderr
    assert len(ok) > 20


def test_epoll_programs_found():
    assert {"t_events_epoll", "t_events_epoll_emu", "t_events_epoll_exec"} <= set(EPOLL_PROGRAMS)


@pytest.mark.parametrize("name,libc", [pytest.param(n, lc, id=f"{n}-{lc}")
                                       for n in EPOLL_PROGRAMS for lc in available_libcs()])
def test_epoll_programs_under_the_macos_model(name, libc, tmp_path):
    r = run_elfuse([guest_bin(name, libc)], extra_env=DARWIN, input=b"", cwd=str(tmp_path),
                   timeout=120)
    ok, bad = check_lines(r.stdout)
    assert not bad, (bad, r.stderr.decode(errors="replace")[-2000:])
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert ok
    assert b"Traceback" not in r.stderr


def test_the_model_registers_the_emulation():
    """Which handlers the table holds, without running a guest (no strace needed)."""
    code = ("from syscalls import registry; from syscalls.table import TABLE; "
            "from syscalls.numbers import SYSCALL_NUMBERS as N; "
            "print(*(TABLE[N[n]].handler.__name__ for n in "
            "('epoll_create1', 'epoll_ctl', 'epoll_pwait', 'epoll_pwait2')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env={**env, **DARWIN}, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["emulated_epoll_create1", "emulated_epoll_ctl", "emulated_epoll_pwait",
                   "emulated_epoll_pwait2"]
    native = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    assert native == ["native_epoll_create1", "native_epoll_ctl", "native_epoll_pwait",
                      "native_epoll_pwait2"]


def _host_epoll_calls(argv: list[str], tmp_path) -> list[str]:
    trace = tmp_path / "trace.txt"
    cmd = ["strace", "-f", "-qq", "-e", "trace=" + ",".join(EPOLL_CALLS), "-o", str(trace),
           sys.executable, "-m", "elfuse_py", *argv]
    r = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT), **DARWIN},
                       capture_output=True, timeout=180, cwd=tmp_path)
    ok, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad, (bad, r.stderr.decode(errors="replace")[-2000:])
    return [l for l in trace.read_text().splitlines() if "epoll" in l]


def _strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    try:     # installed, but ptrace may still be refused (some containers)
        return subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _strace_works(), reason="strace missing or not allowed to trace")
def test_no_host_epoll_under_the_macos_model(tmp_path):
    """The emulation makes no epoll call of the host's: the guest's epoll_ctl and
    waits never reach the host.  The one epoll_create1 a run shows is Python's
    own: `import socket` imports selectors, which probes for epoll (creates one
    and closes it) - a guest that never touches epoll shows the same."""
    calls = _host_epoll_calls([guest_bin("t_events_epoll_emu")], tmp_path)
    assert not [c for c in calls if "epoll_create" not in c], calls
    baseline = _host_epoll_calls([guest_bin("hello")], tmp_path)
    assert len(calls) == len(baseline), (calls, baseline)
