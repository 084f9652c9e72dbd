"""Processes: fork/wait/exec guest programs, exit statuses at the top level and nested."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import ROOT, available_libcs, check_lines, guest_bin, run_elfuse
from test_busybox import busybox  # noqa: F401 - session fixture (fetch or skip)

PROGRAMS = ["t_proc_fork_wait", "t_proc_exec", "t_proc_pipe"]


@pytest.mark.parametrize("libc", available_libcs())
@pytest.mark.parametrize("name", PROGRAMS)
def test_proc_guest(name, libc, tmp_path):
    r = run_elfuse([guest_bin(name, libc)], cwd=str(tmp_path), input=b"")
    ok, bad = check_lines(r.stdout)
    assert not bad and ok and r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def _env(tmp):
    e = {k: v for k, v in os.environ.items() if not k.startswith("ELFUSE")}
    e.update(PATH="", LC_ALL="C")
    return e


def test_top_level_fatal_signal_is_128_plus_sig_with_message(busybox, tmp_path):  # noqa: F811
    r = run_elfuse([busybox, "sh", "-c", "kill -SEGV $$"], env=_env(tmp_path), cwd=str(tmp_path))
    assert r.returncode == 139
    assert b"Segmentation fault" in r.stderr


def test_nested_guest_dies_by_real_signal(busybox, tmp_path):  # noqa: F811
    r = run_elfuse([busybox, "sh", "-c", "sh -c 'kill -TERM $$'; echo $?"], env=_env(tmp_path),
                   cwd=str(tmp_path))
    assert r.stdout == b"143\n" and r.returncode == 0


def test_exec_state_is_invisible_to_the_guest(busybox, tmp_path):  # noqa: F811
    r = run_elfuse([busybox, "sh", "-c", "FOO=1 exec env"], env=_env(tmp_path), cwd=str(tmp_path))
    assert r.returncode == 0 and b"FOO=1\n" in r.stdout
    assert b"ELFUSE_EXEC_STATE" not in r.stdout


def test_exec_keeps_ignored_signals(busybox, tmp_path):  # noqa: F811
    """SIG_IGN survives execve; a handled signal is reset to the default."""
    script = ("trap '' USR1; trap 'echo h' USR2; "
              "sh -c 'kill -USR1 $$; echo survived; kill -USR2 $$; echo not reached'; echo $?")
    r = run_elfuse([busybox, "sh", "-c", script], env=_env(tmp_path), cwd=str(tmp_path))
    assert r.stdout == b"survived\n140\n"


def _host_view(pid: int) -> tuple[int, int]:
    """(open host fds, resident KiB) of host process `pid`, read from outside it."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return fds, rss


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs the host's /proc")
@pytest.mark.parametrize("model", ["native", "darwin"])
def test_repeated_exec_keeps_the_process_and_leaks_nothing(model, tmp_path):
    """200 execs in a row run in one host process (the pid never changes) and leave
    its host fds and its memory where they were after the first 10."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    if model == "darwin":
        env["ELFUSE_HOST_COMPAT"] = "darwin"
    p = subprocess.Popen([sys.executable, "-m", "elfuse_py", guest_bin("exec_chain"), "200", "190", "0"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=str(tmp_path))
    try:
        views = []
        for step in (190, 0):
            line = p.stdout.readline().decode()
            assert line == f"step {step} pid {p.pid}\n", line
            views.append(_host_view(p.pid))
            p.stdin.write(b"go\n")
            p.stdin.flush()
        assert p.stdout.readline().decode() == f"done pid {p.pid}\n"
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    (fds_early, rss_early), (fds_late, rss_late) = views
    assert fds_late == fds_early, f"host fds {fds_early} after 10 execs, {fds_late} after 200"
    # 190 more execs: a per-exec leak of the image (its ~100 KiB of mappings, its
    # translated code) would add tens of MiB; allocator noise stays well below.
    assert rss_late - rss_early < 16 * 1024, f"RSS {rss_early} KiB after 10 execs, {rss_late} KiB after 200"
