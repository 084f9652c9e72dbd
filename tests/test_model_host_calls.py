"""Under the macOS host model the emulator makes no Linux-only host call and reads no
host /proc or /sys, over every event, socket, thread, signal and process guest program.

Each program runs under the host's `strace -f`; the trace must show none of the calls
macOS lacks (the model's seccomp filter would answer them ENOSYS, and a fallback could
hide that), no SO_PEERCRED, no real-time signal sent through the host, and no path under
/proc or /sys (libffi's own PaX check inside cffi's backend aside, see test_procfs).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, guest_bin
from test_procfs import _LIBFFI_OPEN, host_proc_accesses

STRACE = shutil.which("strace")
SRC = ROOT / "guest-bins" / "src"
# GUEST_HOST_POLICY: what a guest test reads to know the policy (it never sees ELFUSE_*).
MODEL = {"ELFUSE_HOST_COMPAT": "darwin", "ELFUSE_MODEL_CASEFOLD": "1", "GUEST_HOST_POLICY": "darwin"}

LINUX_ONLY = ("epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
              "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
              "timerfd_gettime", "signalfd", "signalfd4", "inotify_init", "inotify_init1",
              "inotify_add_watch", "inotify_rm_watch", "memfd_create", "pidfd_open",
              "pidfd_send_signal", "pidfd_getfd", "splice", "tee", "vmsplice", "copy_file_range")
# (pipe2, accept4 and dup3 show up in a Linux trace from CPython's own os.pipe, accept
# and dup2, which take pipe+fcntl, accept and dup2 on a Mac: not the emulator's choice.)
SIGNAL_CALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
_RT_SIGNAL = re.compile(r"SIGRT|SIGRTMIN|SIGRTMAX|\b(3[2-9]|[4-5]\d|6[0-4])\)")


def _programs() -> list[str]:
    names = set()
    for pattern in ("t_events_*.c", "t_net_*.c", "t_thr_*.c", "t_sig_*.c", "t_proc_*.c",
                    "t_misc_inotify.c", "t_mem_memfd_seals.c", "t_mac_probe.c"):
        names |= {p.stem for p in SRC.glob(pattern)}
    return sorted(names)


def _strace_ok() -> bool:
    if STRACE is None:
        return False
    r = subprocess.run([STRACE, "-f", "-o", os.devnull, "true"], capture_output=True)
    return r.returncode == 0


def findings(trace: str) -> list[str]:
    """The lines of an strace -f log that a Mac's emulator could not have made."""
    bad = []
    call = re.compile(r"^\d+\s+(\w+)\((.*)$")
    for line in trace.splitlines():
        m = call.match(line)
        if not m:
            continue
        name, rest = m.groups()
        if name in LINUX_ONLY:
            bad.append(line)
        elif name == "getsockopt" and "SO_PEERCRED" in rest:
            bad.append(line)
        elif name in SIGNAL_CALLS and _RT_SIGNAL.search(rest) and not (
                name in ("tkill", "tgkill") and re.search(r"SIGRTMIN|SIGRT_1\b|\b3[23]\)", rest)):
            bad.append(line)       # 32/33 through tgkill: the host glibc's own (see darwin_model)
    bad += [line for _, line in host_proc_accesses(trace) if _LIBFFI_OPEN not in line]
    return bad


@pytest.mark.skipif(not _strace_ok(), reason="strace missing or not allowed to trace")
@pytest.mark.parametrize("name", _programs())
def test_model_makes_no_linux_only_host_calls(name, tmp_path):
    trace = tmp_path / "trace.txt"
    args = SRC / f"{name}.args"
    argv = [guest_bin(name), *(args.read_text().splitlines() if args.exists() else [])]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **MODEL)
    calls = ",".join(LINUX_ONLY + SIGNAL_CALLS + ("getsockopt", "%file"))
    r = subprocess.run([STRACE, "-f", "-qq", "--seccomp-bpf", "-e", f"trace={calls}",
                        "-o", str(trace), sys.executable, "-m", "elfuse_py", *argv],
                       env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-2000:] + r.stderr.decode(errors="replace")
    bad = findings(trace.read_text(errors="replace"))
    assert not bad, "host calls a Mac does not have:\n" + "\n".join(bad[:30])


def test_findings_catch_what_they_should():
    trace = "\n".join([
        '10 epoll_create1(EPOLL_CLOEXEC) = -1 ENOSYS (Function not implemented)',
        '10 getsockopt(3, SOL_SOCKET, SO_PEERCRED, 0x7ff, [12]) = 0',
        '10 kill(11, SIGRT_2) = -1 ENOSYS (Function not implemented)',
        '10 tgkill(10, 12, SIGRT_1) = 0',
        '10 openat(AT_FDCWD, "/proc/self/maps", O_RDONLY) = 3',
        '10 openat(AT_FDCWD, "/proc/self/status", O_RDONLY) = 3',
        '10 kill(11, SIGUSR1) = 0',
    ])
    bad = findings(trace)
    assert len(bad) == 4 and "tgkill" not in "".join(bad) and "SIGUSR1" not in "".join(bad), bad
