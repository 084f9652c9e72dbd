"""The public Python API: elfuse_py.run and the --strace parser."""
from __future__ import annotations

import subprocess
import sys

from pathlib import Path

import pytest

import elfuse_py
from elfuse_py.api import Syscall, parse_strace
from helpers import ROOT, guest_bin


def test_import_is_cheap():
    # `import elfuse_py` must not pull in the emulator (unicorn, cffi) or the API.
    code = ("import sys, elfuse_py; "
            "print(any(m in sys.modules for m in ('unicorn', 'cffi', 'elfuse_py.api', "
            "'elfuse_py.runtime.uc', 'syscalls')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(ROOT), check=True).stdout
    assert out.strip() == "False"


def test_run_status_and_output():
    r = elfuse_py.run([guest_bin("hello"), "a", "b c"])
    assert r.status == 0 and r.ok
    assert r.stdout == b"Hello from an AArch64 guest! a b c\n"
    assert r.signal is None and not r.timed_out and r.syscalls is None


def test_run_exit_status_and_stderr():
    r = elfuse_py.run([guest_bin("exit_with"), "7", "out"])
    assert r.status == 7 and not r.ok
    assert r.stdout == b"out\n"
    assert b"stderr 7" in r.stderr


def test_run_crash_reports_signal():
    r = elfuse_py.run([guest_bin("exit_with"), "segv"])
    assert r.status == 139
    assert r.signal == 11


def test_exit_status_above_128_is_not_a_signal():
    r = elfuse_py.run([guest_bin("exit_with"), "139"])
    assert r.status == 139
    assert r.signal is None


def test_env_is_exactly_the_given_one():
    r = elfuse_py.run([guest_bin("args_env_auxv")], env={"GUEST_T1": "one"})
    assert b"env GUEST_T1=one\n" in r.stdout
    assert b"env HOME unset\n" in r.stdout           # not inherited from this process
    r = elfuse_py.run([guest_bin("args_env_auxv")], env={"GUEST_SHOW": "PYTHONPATH"})
    assert b"env PYTHONPATH unset\n" in r.stdout     # the emulator's own PYTHONPATH is hidden


def test_input_and_cwd(tmp_path):
    s = tmp_path / "s.sh"
    s.write_text(f"#!{guest_bin('echo_args')} x y\n")
    s.chmod(0o755)
    r = elfuse_py.run(["./s.sh", "z"], cwd=tmp_path, input=b"ignored")
    assert r.status == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        f"argv[0]={guest_bin('echo_args')}", "argv[1]=x y", "argv[2]=./s.sh", "argv[3]=z"]


def test_missing_program_is_127():
    r = elfuse_py.run(["/nonexistent/prog"])
    assert r.status == 127 and b"No such file" in r.stderr


def test_timeout():
    import time
    t0 = time.monotonic()
    r = elfuse_py.run([guest_bin("exit_with"), "spin"], timeout=3)
    assert time.monotonic() - t0 < 20
    assert r.timed_out
    assert r.status == 137 and r.signal == 9 and not r.ok
    assert r.stdout == b"spinning\n"                # output up to the kill is kept


def test_strace_collects_syscalls():
    r = elfuse_py.run([guest_bin("exit_with"), "3", "hi"], strace=True)
    assert r.status == 3
    names = [c.name for c in r.syscalls]
    assert "exit_group" in names
    assert any(n in names for n in ("write", "writev"))
    assert r.syscalls[-1].name == "exit_group" and r.syscalls[-1].args == ["3"]
    assert b"exit_group(" not in r.stderr            # trace lines are taken out of stderr
    assert b"stderr 3" in r.stderr


def test_parse_strace_tolerant():
    text = (b'openat(AT_FDCWD, "/a, b (c)", O_RDONLY) = -1 ENOENT (No such file or directory)\n'
            b"guest line\n"
            b"mmap(NULL, 4096, 0x3, 0x22, -1, 0) = 0x7f0000\n"
            b"exit_group(0) = ?\n"
            b"+++ exited with 0 +++\n"
            b"not a (trace) line\n")
    calls, rest = parse_strace(text)
    assert calls[0] == Syscall("openat", ["AT_FDCWD", '"/a, b (c)"', "O_RDONLY"],
                               "-1 ENOENT (No such file or directory)")
    assert calls[0].retval == -1 and calls[0].errno == "ENOENT"
    assert calls[1].retval == 0x7f0000 and calls[1].errno is None
    assert calls[2].retval is None
    assert rest == b"guest line\nnot a (trace) line\n"


@pytest.mark.parametrize("argv", ["/x/prog", b"/x/prog", Path("/x/prog")])
def test_run_refuses_a_single_string(argv):
    with pytest.raises(TypeError, match=r"run\(\[b?'/x/prog'\]\) runs that one program"):
        elfuse_py.run(argv)
