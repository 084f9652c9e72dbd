"""Event fds for hosts without the Linux objects, exercised on Linux.

ELFUSE_HOST_COMPAT=darwin (the macOS host model) makes the syscall layer
provide epoll (syscalls/epoll_emu.py, over poll/select), eventfd
(syscalls/eventfd.py), timerfd (syscalls/timerfd.py) and pidfd
(syscalls/pidfd.py) the way a macOS host does, with FIFOs, socketpairs and
the wake-up thread; the guest must not see a difference.  Every event, timer,
epoll and pidfd guest program runs that way, with each libc; and a trace of
the emulator shows that the model makes none of the Linux calls.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, check_lines, guest_bin

DARWIN = {"ELFUSE_HOST_COMPAT": "darwin"}
SRC = ROOT / "guest-bins" / "src"
# Every guest test program that uses epoll (t_events_epoll, _emu, _exec, the
# eventfd and timerfd ones, an epoll fd passed with SCM_RIGHTS...).
EPOLL_PROGRAMS = sorted(p.stem for p in SRC.glob("t_*.c") if re.search(rb"\bepoll_", p.read_bytes()))
EPOLL_CALLS = ("epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2")


# Each of these programs also runs under the model in tests/test_guest_suite.py
# (test_guest_program_macos_model, every t_* program, both libcs); this file
# adds what that runner cannot see: which handlers the model registers, and
# that the emulator makes no host call the model lacks.

def test_epoll_programs_found():
    assert {"t_events_epoll", "t_events_epoll_emu", "t_events_epoll_exec"} <= set(EPOLL_PROGRAMS)


def test_the_model_registers_the_emulation():
    """Which handlers the table holds, without running a guest (no strace needed)."""
    code = ("from elfuse_py.syscalls import registry; registry.load_all(); "
            "from elfuse_py.syscalls.table import TABLE; "
            "from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS as N; "
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


# The event, timer and pidfd programs (t_events_epoll included: it polls eventfds and timerfds).
PROGRAMS = sorted(p.stem for p in (ROOT / "guest-bins" / "src").glob("t_events_*.c")) + ["t_proc_pidfd"]
# The host calls the macOS model must never make (it has none of them).
LINUX_ONLY = ("eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
              "pidfd_open", "pidfd_send_signal", "pidfd_getfd")


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
