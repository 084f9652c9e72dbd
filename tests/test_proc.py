"""Processes: fork/wait/exec guest programs, exit statuses at the top level and nested."""
from __future__ import annotations

import os

import pytest

from helpers import available_libcs, check_lines, guest_bin, run_elfuse
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
