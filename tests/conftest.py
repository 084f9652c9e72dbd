"""pytest configuration: makes the checkout importable and exposes the helpers.

It also runs the syscall-coverage check: every syscall table entry with a
handler must be called by some test.  The session records (syscalls/coverage.py:
ELFUSE_SYSCALL_RECORD names a fresh directory, set before pytest-xdist starts
its workers, which inherit it and hand it to every elfuse-py they run); at the
end, if the whole guest suite ran (every musl case of
tests/test_guest_suite.py::test_guest_program reported), a handler nothing
called fails the session with its name.  A partial run (-k, one file) skips
the check: it could not tell a missing test from a deselected one.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elfuse_py.syscalls import coverage  # noqa: E402

_GUEST_CASE = "tests/test_guest_suite.py::test_guest_program["
_state: dict = {"dir": None, "owned": False, "ran": set(), "missing": None}


def _guest_programs() -> set[str]:
    src = Path(__file__).resolve().parent.parent / "guest-bins" / "src"
    return {p.stem for p in src.glob("t_*.c")}


def missing_syscalls(directory: str) -> list[str]:
    """Table entries with a handler that no process recorded in `directory`, sorted."""
    from elfuse_py.syscalls import registry
    from elfuse_py.syscalls.table import TABLE
    registry.load_all()                     # every handler area: the whole table
    handled = {e.name for e in TABLE.values() if e.handler is not None}
    return sorted(handled - coverage.recorded(directory))


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return                          # an xdist worker: the controller owns the record
    d = os.environ.get(coverage.ENV)
    if not d:
        d = tempfile.mkdtemp(prefix="elfuse-syscall-record-")
        os.chmod(d, 0o1777)             # guests that drop to nobody record too
        os.environ[coverage.ENV] = d    # inherited by the xdist workers and every guest run
        _state["owned"] = True
    _state["dir"] = d


def pytest_runtest_logreport(report):
    if report.when == "call" and report.nodeid.startswith(_GUEST_CASE):
        case = report.nodeid[len(_GUEST_CASE):-1]          # "<name>-<libc>"
        _state["ran"].add(case)


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput") or _state["dir"] is None:
        return
    try:
        if {f"{p}-musl" for p in _guest_programs()} <= _state["ran"]:
            missing = missing_syscalls(_state["dir"])
            _state["missing"] = missing
            if missing and session.exitstatus == 0:
                session.exitstatus = 1
    finally:
        if _state["owned"]:
            shutil.rmtree(_state["dir"], ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    missing = _state["missing"]
    if missing is None:
        return
    if missing:
        terminalreporter.section("syscall coverage", sep="=", red=True)
        terminalreporter.write_line(
            f"FAILED: {len(missing)} syscall table entries with a handler are called by no test "
            f"(add a guest-bins/src/t_*.c that calls each): {' '.join(missing)}")
    else:
        terminalreporter.write_line("syscall coverage: every table entry with a handler was called by a test")
