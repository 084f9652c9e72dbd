"""The emulator out of the guest's reach (issue 12 items 2-4, 6; issue 11 item 4).

The guest-side checks are guest-bins/src/t_proc_isolation.c (fds, /proc
spellings, /proc/self/mem, maps, exe, environ, the redirected fd 2), run by
the guest suite under elfuse-py, glibc and the macOS host model.  Here: the
same program under other RLIMIT_NOFILE limits, where the emulator's
diagnostics go (-D, -q, ELFUSE_LOG, ELFUSE_QUIET, across the guest's
execve), and the runtime directory (someone else's at the expected path,
no growth after runs killed with SIGKILL).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, check_lines, guest_bin, run_elfuse, rundir_name

PROG = "t_proc_isolation"
WARNINGS = ("unknown syscall number 1999", "unknown syscall number 1998",
            "unknown syscall number 1997")


def _with_nofile(soft: int, hard: int):
    def set_limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return set_limits


def _run_limited(soft: int, hard: int, extra_env: dict | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(extra_env or {}))
    if env.get("ELFUSE_HOST_COMPAT") == "darwin":
        env["GUEST_HOST_POLICY"] = "darwin"
    return subprocess.run([sys.executable, "-m", "elfuse_py", guest_bin(PROG)], env=env,
                          capture_output=True, timeout=300, preexec_fn=_with_nofile(soft, hard))


@pytest.mark.parametrize("soft,hard", [(1024, 1024), (512, 4096)])
@pytest.mark.parametrize("model", ["", "darwin"])
def test_every_fd_below_the_guest_limit_under_other_limits(soft, hard, model):
    cur = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if cur != resource.RLIM_INFINITY and cur < hard:
        pytest.skip(f"hard RLIMIT_NOFILE {cur} < {hard}")
    r = _run_limited(soft, hard, {"ELFUSE_HOST_COMPAT": model} if model else None)
    _, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad, (bad, r.stderr.decode(errors="replace")[-2000:])


@pytest.mark.parametrize("model", ["", "darwin"])
def test_links_into_proc_lead_to_the_guests_proc(model):
    """A link the guest makes to /proc/self/fd, /proc/self or /dev/fd (guest-bins/src/proc_links.c)."""
    env = {"ELFUSE_HOST_COMPAT": model} if model else None
    r = run_elfuse([guest_bin("proc_links")] + (["model"] if model else []), extra_env=env)
    ok, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad and len(ok) >= 5, (bad, r.stderr[-2000:])


def _limits_seen(soft: int, hard: int) -> tuple[int, int]:
    code = ("import resource;from elfuse_py.runtime.fdtable import plan_limits;"
            "print(*plan_limits()[1])")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, check=True,
                         preexec_fn=_with_nofile(soft, hard)).stdout.split()
    return int(out[0]), int(out[1])


def test_the_guest_limit_is_the_started_one_when_there_is_room():
    cur = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if cur != resource.RLIM_INFINITY and cur < 4096:
        pytest.skip("hard RLIMIT_NOFILE too low")
    # room above the guest's hard limit: the guest sees exactly its limits
    assert _limits_seen(256, 4096) in ((256, 4096), (256, 4032))
    # none (soft == hard, no CAP_SYS_RESOURCE): a consistent limit 64 lower, or the full one
    assert _limits_seen(1024, 1024) in ((1024, 1024), (960, 960))


def _default_run(options=(), extra_env=None):
    return run_elfuse([guest_bin(PROG)], options=list(options), extra_env=extra_env, timeout=300)


def test_warnings_go_to_the_original_stderr_never_to_the_guests_fd2():
    r = _default_run()
    _, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad, bad
    err = r.stderr.decode()
    for w in WARNINGS:                      # before and after the guest's execve, once each
        assert err.count(w) == 1, err


@pytest.mark.parametrize("how", ["option", "env"])
def test_log_file(tmp_path, how):
    log = tmp_path / "emu.log"
    if how == "option":
        r = _default_run(options=["-D", str(log)])
    else:
        r = _default_run(extra_env={"ELFUSE_LOG": str(log)})
    _, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad, bad
    text = log.read_text()
    for w in WARNINGS:
        assert text.count(w) == 1, text
        assert w not in r.stderr.decode()


@pytest.mark.parametrize("how", ["option", "env"])
def test_quiet(how):
    r = _default_run(options=["-q"]) if how == "option" else _default_run(extra_env={"ELFUSE_QUIET": "1"})
    _, bad = check_lines(r.stdout)
    assert r.returncode == 0 and not bad, bad
    assert b"elfuse-py" not in r.stderr, r.stderr


def test_help_documents_the_log_options():
    r = run_elfuse(["--help"])
    out = r.stdout.decode()
    assert "-D FILE" in out and "-q" in out and "ELFUSE_LOG" in out and "ELFUSE_QUIET" in out


# ----- the runtime directory ---------------------------------------------------------------

MODEL = {"ELFUSE_HOST_COMPAT": "darwin"}


@pytest.fixture
def short_tmp():
    """A short temporary directory: the runtime directory's path must leave room for
    socket names within sun_path (a long one falls back to /tmp's)."""
    d = tempfile.mkdtemp(prefix="eiso", dir="/tmp")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _entries(base) -> int:
    return sum(len(files) + len(dirs) for _, dirs, files in os.walk(base))


def _start_hold(base, name: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ELFUSE_RUNTIME_DIR=str(base), **MODEL)
    p = subprocess.Popen([sys.executable, "-m", "elfuse_py", guest_bin("net_hold"), name],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    assert p.stdout.readline() == b"ready\n"
    return p


@contextlib.contextmanager
def _reaping_orphans():
    """Be the subreaper of what this test starts (Linux), so the killed trees'
    grandchildren are reaped here as a real init would reap them.  Where pid 1 does
    not reap (a container's shell, `unshare -p -f`), a killed guest would otherwise
    stay a zombie, and a zombie's pid still answers kill(pid, 0): its entries wait."""
    libc = ctypes.CDLL(None, use_errno=True)
    set_subreaper = sys.platform.startswith("linux") and libc.prctl(36, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        if set_subreaper:
            libc.prctl(36, 0, 0, 0, 0)


def _reap_all(timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def test_runs_killed_with_sigkill_leave_nothing_behind(short_tmp):
    with _reaping_orphans():
        _killed_runs(short_tmp)


def _killed_runs(short_tmp):
    base = short_tmp / "rt"
    base.mkdir(mode=0o700)
    counts, during = [], []
    for i in range(30):
        p = _start_hold(base, f"hold{i % 3}")
        during.append(_entries(base))
        os.killpg(p.pid, signal.SIGKILL)          # the whole tree, no chance to clean up
        p.wait()
        _reap_all()
        counts.append(_entries(base))
    assert min(during) >= 10, during              # the runs did make entries there
    # The next start sweeps what the killed trees left: the directory does not grow.
    # (a killed tree's last processes may still be dying when the next run sweeps, so the
    # entries of one or two trees can linger at any time: bounded, never growing)
    assert max(counts[10:]) <= max(counts[:10]) and counts[-1] <= counts[0] + 6, (counts, during)
    r = run_elfuse([guest_bin("t_net_basic")], extra_env={**MODEL, "ELFUSE_RUNTIME_DIR": str(base)},
                   cwd=str(short_tmp))
    assert r.returncode == 0
    time.sleep(0.2)
    # What is left: the directories, and at most the records of a tree still dying.
    left = [p for p in base.rglob("*") if not p.is_dir()]
    assert len(left) <= 4, sorted(str(p) for p in base.rglob("*"))


def test_ended_runs_remove_their_entries(short_tmp):
    base = short_tmp / "rt"
    base.mkdir(mode=0o700)
    for prog in ("t_net_basic", "t_net_fdpass", "t_net_conf_addr", "t_net_fork"):
        r = run_elfuse([guest_bin(prog)], extra_env={**MODEL, "ELFUSE_RUNTIME_DIR": str(base)},
                       cwd=str(short_tmp))
        assert r.returncode == 0, prog
    left = [p for p in base.rglob("*") if p.is_file() or p.is_socket()]
    assert left == [], left


@pytest.mark.parametrize("squat", ["other-user", "symlink", "open-mode"])
def test_someone_elses_directory_is_never_used(short_tmp, squat):
    tmp_path = short_tmp
    base = tmp_path / "rt"
    base.mkdir(mode=0o777)
    expected = base / rundir_name(MODEL["ELFUSE_HOST_COMPAT"])
    if squat == "other-user":
        if os.getuid() != 0:
            pytest.skip("needs root to make a directory owned by another user")
        expected.mkdir(mode=0o700)
        os.chown(expected, 65534, 65534)
    elif squat == "symlink":
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        expected.symlink_to(target)
    else:
        expected.mkdir(mode=0o777)
        os.chmod(expected, 0o777)
    for prog in ("t_net_basic", "t_net_conf_addr", "t_net_fdpass"):
        r = run_elfuse([guest_bin(prog)], extra_env={**MODEL, "ELFUSE_RUNTIME_DIR": str(base)},
                       cwd=str(short_tmp))
        _, bad = check_lines(r.stdout)
        assert r.returncode == 0 and not bad, (prog, bad)
    used = [p for p in base.iterdir() if p.name != expected.name]
    assert used and all(p.stat().st_uid == os.getuid() and p.stat().st_mode & 0o777 == 0o700
                        for p in used), used
    if squat == "symlink":
        assert list((tmp_path / "elsewhere").iterdir()) == []


def test_another_pid_namespace_gets_its_own_runtime_directory(short_tmp):
    """Signal inboxes and guest records are named by host pid: an emulator in another pid
    namespace (a container sharing /tmp) uses a directory of its own, or a signal to one
    of its pids would reach our process of that number."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        pytest.skip("needs Linux's unshare")
    base = short_tmp / "rt"
    base.mkdir(mode=0o700)
    probe = subprocess.run([unshare, "-p", "-f", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a pid namespace here: " + probe.stderr.decode(errors="replace")[-200:])
    env = {**os.environ, "ELFUSE_RUNTIME_DIR": str(base)}
    env.pop("ELFUSE_RUNTIME_DIR_IN_USE", None)
    r = subprocess.run([unshare, "-p", "-f", "--mount-proc", sys.executable, "-m", "elfuse_py",
                        guest_bin("hello")], env=env, cwd=str(short_tmp), capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout.decode(errors="replace")[-2000:] + r.stderr.decode(errors="replace")
    made = sorted(p.name for p in base.iterdir())
    assert made and all(n.startswith(f"elfuse-py-{os.getuid()}-pidns") for n in made), made
    assert rundir_name() not in made          # (ours, if this test itself runs in a pid namespace)
