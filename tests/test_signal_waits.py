"""Signal waits (signalfd, sigtimedwait) and the other signal programs under the macOS host model.

ELFUSE_HOST_COMPAT=darwin makes the signals layer take the branch a Mac
takes (elfuse_py/host/sigwait.py: no KERNEL_QUEUE): no sigtimedwait or
sigwaitinfo, no host signalfd; the blocked signals a signalfd or a
sigtimedwait waits for are caught by the watcher thread and queued.  Every
t_sig_* guest program must pass there too.  One more run removes
sigtimedwait and sigwaitinfo from Python's signal module, as macOS's Python
lacks them, so a use of them that slipped onto that path fails here (and
another os.waitid too, which macOS's Python has only from 3.13 on).
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse, rundir_name

SRC = ROOT / "guest-bins" / "src"
SIG_PROGRAMS = sorted(p.stem for p in SRC.glob("t_sig_*.c"))
DARWIN = {"ELFUSE_HOST_COMPAT": "darwin"}


def _assert_clean(r, name):
    ok, bad = check_lines(r.stdout)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert not bad and ok and r.returncode == 0, f"{name}: status {r.returncode}\n{out}"
    assert b"Traceback" not in r.stderr, out


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("name", SIG_PROGRAMS)
def test_signal_program_macos_model(name, libc, tmp_path):
    r = run_elfuse([guest_bin(name, libc)], extra_env=DARWIN, cwd=str(tmp_path), input=b"", timeout=120)
    _assert_clean(r, name)


# The CLI in a Python whose signal module has no sigtimedwait/sigwaitinfo (as on
# macOS), and one without os.waitid either (as macOS's Python before 3.13).
_MAC_PYTHON = ("import signal, runpy; del signal.sigtimedwait, signal.sigwaitinfo; {more}"
               "runpy.run_module('elfuse_py', run_name='__main__', alter_sys=True)")


def _run_mac_python(name, tmp_path, more=""):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **DARWIN)
    code = _MAC_PYTHON.format(more=more)
    return subprocess.run([sys.executable, "-c", code, guest_bin(name)], env=env, cwd=str(tmp_path),
                          input=b"", capture_output=True, timeout=120)


@pytest.mark.parametrize("name", ["t_sig_signalfd", "t_sig_timedwait", "t_sig_kill", "t_sig_chld",
                                  "t_sig_rtqueue"])
def test_without_python_sigtimedwait(name, tmp_path):
    _assert_clean(_run_mac_python(name, tmp_path), name)


# t_sig_signalfd checks SIGCHLD's sender, which needs os.waitid on the portable branch.
@pytest.mark.parametrize("name", ["t_sig_timedwait", "t_sig_kill", "t_sig_chld"])
def test_without_python_waitid(name, tmp_path):
    _assert_clean(_run_mac_python(name, tmp_path, "import os; del os.waitid; "), name)


def _host_caps(extra_env: dict) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra_env)
    code = "from elfuse_py.host import sigwait as s; print(s.HAVE_SIGTIMEDWAIT, s.HAVE_SIGNALFD, s.KERNEL_QUEUE)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_macos_model_takes_the_portable_branch():
    assert _host_caps(DARWIN) == ["False", "False", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux host")
def test_linux_host_lets_the_kernel_queue():
    assert _host_caps({"ELFUSE_HOST_COMPAT": ""}) == ["True", "True", "True"]


# ----- siginfo -> struct signalfd_siginfo ------------------------------------------------------

SSI = struct.Struct("<IiiIIiIIIIiiQQQQHHiQI28x")


def _siginfo(signo, code, *union_fields, fmt=""):
    return (struct.pack("<iii4x", signo, 0, code) + struct.pack("<" + fmt, *union_fields)).ljust(128, b"\0")


def _ssi(info):
    sys.path.insert(0, str(ROOT))
    from elfuse_py.syscalls.sigwait import ssi_from_siginfo
    return SSI.unpack(ssi_from_siginfo(info))


def test_ssi_layouts():
    # SI_QUEUE: pid, uid, the value (int and pointer views)
    f = _ssi(_siginfo(10, -1, 123, 1000, 0x1122334455667788, fmt="iIQ"))
    assert (f[0], f[2], f[3], f[4], f[11], f[12]) == (10, -1, 123, 1000, 0x55667788, 0x1122334455667788)
    # SI_USER: pid and uid only, the rest zero even if the bytes say otherwise
    f = _ssi(_siginfo(15, 0, 7, 8, 99, fmt="iIi"))
    assert (f[3], f[4], f[11], f[12]) == (7, 8, 0, 0)
    # SIGCHLD CLD_EXITED: pid, uid, status, utime, stime
    f = _ssi(_siginfo(17, 1, 42, 5, 3, 11, 12, fmt="iIi4xqq"))
    assert (f[3], f[4], f[10], f[13], f[14]) == (42, 5, 3, 11, 12)
    # SIGSEGV SEGV_MAPERR: the address
    f = _ssi(_siginfo(11, 1, 0xdead0000, fmt="Q"))
    assert (f[15], f[3]) == (0xdead0000, 0)
    # SIGIO POLL_IN: band and fd
    f = _ssi(_siginfo(29, 1, 0x41, 9, fmt="qi"))
    assert (f[7], f[5]) == (0x41, 9)
    # SIGSYS SYS_SECCOMP: call_addr, syscall, arch
    f = _ssi(_siginfo(31, 1, 0x400000, 99, 0xC00000B7, fmt="QiI"))
    assert (f[19], f[18], f[20]) == (0x400000, 99, 0xC00000B7)


# ----- the inbox between guest processes (elfuse_py/runtime/siginbox.py) ----------------------

@pytest.mark.parametrize("compat", ["", "darwin"])
def test_inboxes_go_with_their_guests(compat, tmp_path, monkeypatch):
    """t_sig_rtqueue's processes (itself and four fork children) each had an inbox;
    none is left once they are gone, and a stale one of a dead pid is swept."""
    import tempfile
    # An in-process test before this one (test_procfs) set the directory its emulator
    # used for the emulators it starts; this run must pick the one given below.
    monkeypatch.delenv("ELFUSE_RUNTIME_DIR_IN_USE", raising=False)
    rt = tempfile.mkdtemp(prefix="rt", dir="/tmp")     # short: runtime_dir() wants <= 60 bytes
    sigq = os.path.join(rt, rundir_name(compat), "sigq")
    os.makedirs(sigq, mode=0o700)
    os.chmod(os.path.dirname(sigq), 0o700)
    dead = subprocess.Popen(["true"])
    dead.wait()
    open(os.path.join(sigq, str(dead.pid)), "wb").close()     # a guest killed by SIGKILL
    r = run_elfuse([guest_bin("t_sig_rtqueue")], extra_env={"ELFUSE_HOST_COMPAT": compat,
                                                            "ELFUSE_RUNTIME_DIR": rt},
                   cwd=str(tmp_path), input=b"", timeout=120)
    _assert_clean(r, "t_sig_rtqueue")
    assert os.listdir(sigq) == []
