"""The pytest plugin and `elfuse-py-check` over a directory of guest tests.

Builds a directory of passing, failing, crashing and timing-out guest tests
(binaries and #! scripts) with a manifest, runs the checker in a subprocess
the way CI would, and checks outcomes, the summary line, the exit status and
the JUnit XML.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import ROOT, guest_bin

CHECK = [sys.executable, "-m", "elfuse_py.check"]


def _env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def suite(tmp_path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    for name in ("hello", "exit_with", "echo_args"):
        shutil.copy(guest_bin(name), d / name)
    shutil.copy(d / "exit_with", d / "crasher")          # crashes: not expected -> fails
    shutil.copy(d / "exit_with", d / "expected_crash")   # crashes, and the manifest says so
    shutil.copy(d / "exit_with", d / "fails")            # exits 5 -> fails
    _script(d / "good.sh", "#!./echo_args one arg\n")
    _script(d / "bad.sh", "#!./exit_with 9\n")
    _script(d / "crlf.sh", "#!./echo_args\r\n")
    (d / "expected.txt").write_text("argv[0]=./echo_args\nargv[1]=one arg\nargv[2]=./good.sh\n")
    (d / "notes.txt").write_text("not a test: not executable\n")
    (d / "elfuse-tests.toml").write_text('''
[defaults]
timeout = 30

[hello]
args = ["x", "y z"]
stdout = "Hello from an AArch64 guest! x y z\\n"

[crasher]
args = ["segv"]

[expected_crash]
args = ["segv"]
signal = "SIGSEGV"

[fails]
args = ["5", "printed"]

[exit_with]
args = ["3", "three"]
status = 3
stdout_regex = "^three$"
stderr_regex = "stderr 3"

["good.sh"]
stdout_file = "expected.txt"

["crlf.sh"]
status = 127
stderr_regex = 'echo_args\\^M: bad interpreter'

[spin]
program = "exit_with"
args = ["spin"]
timeout = 2

[skipped]
program = "hello"
skip = "not today"

[known_bug]
program = "exit_with"
args = ["1"]
xfail = "known"
''')
    return d


PASS = {"hello", "expected_crash", "exit_with", "good.sh", "crlf.sh", "echo_args"}
FAIL = {"crasher", "fails", "bad.sh", "spin"}


def _run_check(args, cwd):
    return subprocess.run(CHECK + args, capture_output=True, text=True, cwd=cwd, env=_env(),
                          timeout=300)


def test_check_over_a_suite(suite, tmp_path):
    junit = tmp_path / "junit.xml"
    r = _run_check([str(suite), "-n", "2", "--junitxml", str(junit)], cwd=tmp_path)
    out = r.stdout
    assert r.returncode != 0, out
    lines = out.rstrip("\n").splitlines()
    assert lines[-1] == f"{len(PASS)} passed, {len(FAIL)} failed", out[-3000:]

    # One JUnit test case per guest test, each with the right outcome.
    root = ET.parse(junit).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == PASS | FAIL | {"skipped", "known_bug"}, sorted(cases)
    for name in PASS:
        assert not list(cases[name]), (name, ET.tostring(cases[name]).decode()[:2000])
    for name in FAIL:
        assert cases[name].find("failure") is not None, name
    assert cases["skipped"].find("skipped") is not None
    assert cases["known_bug"].find("skipped") is not None     # xfail is recorded as skipped
    # Named cases get their own classname, as files do (not the manifest's).
    assert cases["hello"].get("classname").endswith("suite.hello")
    assert cases["spin"].get("classname").endswith("suite.spin")
    assert cases["known_bug"].get("classname").endswith("suite.known_bug")

    # The failure reports say what happened and show the guest's output.
    assert "crasher: exit status 139 (killed by SIGSEGV), expected 0" in out
    assert "fails: exit status 5, expected 0" in out
    assert "printed" in out and "stderr 5" in out
    assert "spin: timed out after 2 s" in out
    assert "bad.sh: exit status 9, expected 0" in out
    # Guest stdout lands in the JUnit record too.
    assert "stderr 5" in ET.tostring(cases["fails"]).decode()


def test_check_all_pass_selection_and_strace(suite, tmp_path):
    r = _run_check([str(suite), "-k", "hello or good", "--elfuse-strace"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.rstrip("\n").splitlines()[-1] == "2 passed, 0 failed"
    # The strace of a failed test is part of its report.
    r = _run_check([str(suite), "-k", "fails", "--elfuse-strace"], cwd=tmp_path)
    assert r.returncode != 0
    assert r.stdout.rstrip("\n").splitlines()[-1] == "0 passed, 1 failed"
    assert "syscall trace" in r.stdout and "exit_group(5) = ?" in r.stdout


def test_bad_manifest_is_an_error(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    shutil.copy(guest_bin("hello"), d / "hello")
    (d / "elfuse-tests.toml").write_text("[hello]\nstauts = 3\n")
    r = _run_check([str(d)], cwd=tmp_path)
    assert r.returncode != 0
    assert "unknown key(s): stauts" in r.stdout
    assert r.stdout.rstrip("\n").splitlines()[-1].endswith("failed")
    assert not r.stdout.rstrip("\n").splitlines()[-1].endswith(" 0 failed")


def test_plugin_leaves_other_projects_alone(tmp_path):
    """A plain Python project with host executables: only its Python tests are collected."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "test_x.py").write_text("def test_x():\n    assert True\n")
    _script(d / "tool.sh", "#!/bin/sh\necho host\n")
    host_true = shutil.which("true")
    if host_true:
        shutil.copy(host_true, d / "true")
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "elfuse_py.pytest_plugin",
                        "--collect-only", "-q", str(d)], capture_output=True, text=True,
                       cwd=tmp_path, env=_env(), timeout=120)
    assert "test_x.py::test_x" in r.stdout
    assert "1 test collected" in r.stdout, r.stdout


def _pytest(args, cwd):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "elfuse_py.pytest_plugin", "-v",
                           *args], capture_output=True, text=True, cwd=cwd, env=_env(), timeout=120)


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A guest program, a guest script and a host #!/bin/sh helper in one directory."""
    d = tmp_path / "g"
    d.mkdir()
    shutil.copy(guest_bin("hello"), d / "hello")
    _script(d / "guest.sh", f"#!{guest_bin('echo_args')}\n")
    _script(d / "host.sh", "#!/bin/sh\necho host\n")
    host_true = shutil.which("true")
    if host_true:
        shutil.copy(host_true, d / "true")
    return d


def test_plain_pytest_dir_collects_nothing(mixed, tmp_path):
    """Someone else's `pytest DIR` is left alone, even with a manifest there."""
    (mixed / "elfuse-tests.toml").write_text("[hello]\nstatus = 0\n")
    r = _pytest([str(mixed)], cwd=tmp_path)
    assert r.returncode == 5, r.stdout[-3000:]          # pytest's "no tests collected"
    assert "hello" not in r.stdout.split("collected", 1)[1]


def test_elfuse_dir_collects_guest_programs_and_scripts_only(mixed, tmp_path):
    r = _pytest(["--elfuse-dir", str(mixed)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "hello::hello PASSED" in r.stdout and "guest.sh::guest.sh PASSED" in r.stdout
    assert "host.sh" not in r.stdout and "true::" not in r.stdout
    assert "2 passed" in r.stdout


def test_ini_elfuse_dirs(mixed, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_py.py").write_text("def test_py():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nelfuse_dirs = g\n")
    r = _pytest([], cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "test_py.py::test_py PASSED" in r.stdout
    assert "hello::hello PASSED" in r.stdout and "guest.sh::guest.sh PASSED" in r.stdout
    assert "host.sh" not in r.stdout
    # Paths given on the command line: only those are collected.
    r = _pytest(["tests"], cwd=tmp_path)
    assert "hello" not in r.stdout and "1 passed" in r.stdout


def test_check_ignores_host_helpers(mixed, tmp_path):
    r = _run_check([str(mixed)], cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    assert r.stdout.rstrip("\n").splitlines()[-1] == "2 passed, 0 failed"


def test_bad_manifest_is_one_failed_item_and_the_run_goes_on(tmp_path):
    bad, good = tmp_path / "bad", tmp_path / "good"
    for d in (bad, good):
        d.mkdir()
        shutil.copy(guest_bin("hello"), d / "hello")
    (bad / "elfuse-tests.toml").write_text("[hello\nstatus = 3\n")      # not TOML
    junit = tmp_path / "j.xml"
    r = _run_check([str(bad), str(good), "--junitxml", str(junit)], cwd=tmp_path)
    assert r.returncode == 1, r.stdout[-3000:]
    assert r.stdout.rstrip("\n").splitlines()[-1] == "1 passed, 1 failed"
    assert "manifest error:" in r.stdout and "elfuse-tests.toml" in r.stdout
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(junit).getroot().iter("testcase")}
    failed = [k for k, c in cases.items() if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0][1] == "elfuse-tests.toml", cases


def test_manifest_naming_no_file_fails_that_case_only(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    shutil.copy(guest_bin("hello"), d / "hello")
    (d / "elfuse-tests.toml").write_text("[hello]\n[helo]\nstatus = 0\n")
    r = _run_check([str(d)], cwd=tmp_path)
    assert r.stdout.rstrip("\n").splitlines()[-1] == "1 passed, 1 failed", r.stdout[-3000:]
    assert "[helo] names no file" in r.stdout


@pytest.mark.parametrize("how", ["usage", "empty", "missing"])
def test_incomplete_runs_never_report_zero_zero(tmp_path, how):
    d = tmp_path / "d"
    d.mkdir()
    if how == "usage":
        shutil.copy(guest_bin("hello"), d / "hello")
        r = _run_check([str(d), "--no-such-pytest-option"], cwd=tmp_path)
    elif how == "empty":
        r = _run_check([str(d)], cwd=tmp_path)
    else:
        r = _run_check([str(tmp_path / "nope")], cwd=tmp_path)
    assert r.returncode != 0
    assert "0 passed, 0 failed" not in r.stdout + r.stderr
    out = (r.stderr if how == "missing" else r.stdout).rstrip("\n")
    last = out.splitlines()[-1]
    want = {"usage": "did not complete", "empty": "no guest tests found",
            "missing": "usage: elfuse-py-check"}[how]
    assert want in last, out[-2000:]
