"""inotify on hosts without it, exercised on Linux under the macOS host model.

ELFUSE_HOST_COMPAT=darwin refuses the host's inotify_* calls (seccomp, ENOSYS),
so the guest's inotify is the twin macOS hosts get (syscalls/notify_twin.py
over the snapshot watcher of elfuse_py/host/fswatch.py).  The guest must not
see a difference; --exec adds the execve leg, which the generic guest suite
cannot run under qemu-user.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse

DARWIN = {"ELFUSE_HOST_COMPAT": "darwin"}

# The inotify checks of t_misc_kernel (its other checks are not this test's business).
KERNEL_INOTIFY_CHECKS = [
    "inotify_init1",
    "IN_NONBLOCK and IN_CLOEXEC applied",
    "no events yet: EAGAIN",
    "watch the directory for IN_CREATE",
    "the creation is reported with its name",
    "watching a missing path is ENOENT",
    "removing an unknown watch is EINVAL",
    "remove the watch",
    "unknown inotify_init1 flags are EINVAL",
]


def _clean_run(argv, tmp_path, env):
    r = run_elfuse(argv, extra_env=env, cwd=str(tmp_path), input=b"", timeout=120)
    ok, bad = check_lines(r.stdout)
    assert not bad, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [], "the program cleans up after itself"
    return ok


@pytest.mark.parametrize("libc", available_libcs())
def test_inotify_twin(libc, tmp_path):
    ok = _clean_run([guest_bin("t_misc_inotify", libc), "--exec"], tmp_path, DARWIN)
    assert "ok - the watch goes on reporting after execve" in ok
    assert len(ok) > 90


@pytest.mark.parametrize("libc", available_libcs())
def test_inotify_native_with_exec(libc, tmp_path):
    """The same program with the execve leg on the host kernel's inotify."""
    ok = _clean_run([guest_bin("t_misc_inotify", libc), "--exec"], tmp_path, None)
    assert len(ok) > 90


@pytest.mark.parametrize("libc", available_libcs())
def test_misc_kernel_inotify_under_darwin_model(libc, tmp_path):
    r = run_elfuse([guest_bin("t_misc_kernel", libc)], extra_env=DARWIN, cwd=str(tmp_path),
                   input=b"", timeout=120)
    out = r.stdout.decode(errors="replace").splitlines()
    for what in KERNEL_INOTIFY_CHECKS:
        assert f"ok - {what}" in out, f"{what!r} did not pass:\n" + "\n".join(out)
    assert b"Traceback" not in r.stderr, r.stderr


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_twin_makes_no_host_inotify_call(tmp_path):
    trace = tmp_path / "trace.txt"
    work = tmp_path / "work"
    work.mkdir()
    cmd = ["strace", "-f", "-e", "trace=inotify_init1,inotify_add_watch,inotify_rm_watch",
           "-o", str(trace), sys.executable, "-m", "elfuse_py", guest_bin("t_misc_inotify")]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **DARWIN}
    r = subprocess.run(cmd, env=env, cwd=str(work), capture_output=True, timeout=120)
    if not trace.exists() or b"PTRACE" in r.stderr or b"ptrace" in r.stderr:
        pytest.skip(f"strace cannot trace here: {r.stderr[-200:]!r}")
    ok, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad and ok, r.stdout + r.stderr
    calls = [l for l in trace.read_text().splitlines() if "inotify" in l]
    assert calls == [], calls
