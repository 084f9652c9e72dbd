"""Event fds for hosts without the Linux objects, exercised on Linux.

ELFUSE_HOST_COMPAT=darwin makes the syscall layer provide eventfd
(syscalls/eventfd.py), timerfd (syscalls/timerfd.py) and pidfd
(syscalls/pidfd.py) the way a macOS host does, with FIFOs, socketpairs and
the wake-up thread; the guest must not see a difference.  Every event, timer
and pidfd guest program runs that way, with each libc; and a trace of the
emulator shows that the model makes none of the Linux calls.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse

DARWIN = {"ELFUSE_HOST_COMPAT": "darwin"}
# The event, timer and pidfd programs (t_events_epoll included: it polls eventfds and timerfds).
PROGRAMS = sorted(p.stem for p in (ROOT / "guest-bins" / "src").glob("t_events_*.c")) + ["t_proc_pidfd"]
# The host calls the macOS model must never make (it has none of them).
LINUX_ONLY = ("eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
              "pidfd_open", "pidfd_send_signal", "pidfd_getfd")


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("name", PROGRAMS)
def test_program_under_macos_model(name, libc, tmp_path):
    r = run_elfuse([guest_bin(name, libc)], extra_env=DARWIN, cwd=str(tmp_path), timeout=120)
    ok, bad = check_lines(r.stdout)
    assert not bad, bad
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert len(ok) >= 10


def test_the_new_programs_are_covered():
    for name in ("t_events_eventfd_emu", "t_events_timerfd_emu", "t_events_exec", "t_proc_pidfd"):
        assert name in PROGRAMS


def _trace(name: str, extra_env: dict | None, tmp_path) -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path / f"{name}.trace"
    env_args = [f"{k}={v}" for k, v in (extra_env or {}).items()]
    cmd = ["strace", "-f", "-e", "trace=" + ",".join(LINUX_ONLY), "-o", str(out),
           "env", f"PYTHONPATH={ROOT}", *env_args, sys.executable, "-m", "elfuse_py", guest_bin(name)]
    r = subprocess.run(cmd, capture_output=True, timeout=180, cwd=str(tmp_path))
    return r, out.read_text() if out.exists() else ""


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.parametrize("name", ["t_events_eventfd_emu", "t_events_timerfd_emu", "t_proc_pidfd",
                                  "t_events_exec"])
def test_macos_model_makes_no_linux_event_calls(name, tmp_path):
    r, trace = _trace(name, DARWIN, tmp_path)
    if r.returncode != 0 and "PTRACE" in r.stderr.decode(errors="replace").upper():
        pytest.skip("ptrace is not permitted here")
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    calls = [line for line in trace.splitlines() if re.search(r"\b(%s)\(" % "|".join(LINUX_ONLY), line)]
    assert not calls, "\n".join(calls[:20])


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_the_trace_sees_the_native_calls(tmp_path):
    """The same trace on the Linux model does show them (the check above can fail)."""
    r, trace = _trace("t_proc_pidfd", None, tmp_path)
    if r.returncode != 0 and "PTRACE" in r.stderr.decode(errors="replace").upper():
        pytest.skip("ptrace is not permitted here")
    assert "pidfd_open(" in trace
