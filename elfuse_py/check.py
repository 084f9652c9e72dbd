"""`elfuse-py-check DIR... [pytest options]`: run guest test directories through pytest.

Every leading argument up to the first option is a directory of guest tests
(marked with --elfuse-dir, so its AArch64 executables and guest #! scripts are
tests); the rest goes to pytest unchanged (-n 2, --junitxml F, -k EXPR, ...).
When the run completes, the last line printed is the summary `N passed, M
failed` and the exit status is pytest's (non-zero when anything failed).  A run
that did not complete (interrupted, a usage or internal error) or collected
nothing ends with a line saying so instead, never a `0 passed, 0 failed` that
could pass for success, and a non-zero status.
"""
from __future__ import annotations

import os
import sys

USAGE = "usage: elfuse-py-check DIR... [pytest options]\n"

# pytest's exit codes (pytest.ExitCode) for runs that did not complete.
_INCOMPLETE = {2: "the run was interrupted", 3: "pytest hit an internal error",
               4: "pytest did not accept the options"}
_NO_TESTS = 5


class _Counter:
    """Counts outcomes as the terminal reporter does (it sees xdist workers' reports too)."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def pytest_terminal_summary(self, terminalreporter) -> None:
        stats = terminalreporter.stats
        self.passed = len(stats.get("passed", [])) + len(stats.get("xpassed", []))
        self.failed = len(stats.get("failed", [])) + len(stats.get("error", []))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE + "\nThen pytest's own options (elfuse ones: --elfuse-strace, "
                         "--elfuse-timeout S, --elfuse-sysroot DIR).\n")
        return 0 if args else 2
    dirs = []
    while args and not args[0].startswith("-"):
        dirs.append(args.pop(0))
    if args[:1] == ["--"]:
        args.pop(0)
    if not dirs:
        sys.stderr.write("elfuse-py-check: no directory given\n" + USAGE)
        return 2
    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        sys.stderr.write(f"elfuse-py-check: not a directory: {', '.join(missing)}\n" + USAGE)
        return 2
    import pytest

    # This module already imported elfuse_py, which pytest would like to assert-rewrite
    # (it ships a pytest11 plugin): harmless, so keep the warning out of the report.
    pytest_args = ["-p", "elfuse_py.pytest_plugin",
                   "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for d in dirs:
        pytest_args += ["--elfuse-dir", d]
    pytest_args += dirs + args
    counter = _Counter()
    try:
        status = int(pytest.main(pytest_args, plugins=[counter]))
    except Exception as e:  # noqa: BLE001 - reported as an incomplete run below
        sys.stdout.flush()
        print(f"elfuse-py-check: the run did not complete: {type(e).__name__}: {e}", flush=True)
        return 3
    sys.stdout.flush()
    if status in _INCOMPLETE:
        so_far = (f"; {counter.passed} passed and {counter.failed} failed before that"
                  if counter.passed or counter.failed else "")
        print(f"elfuse-py-check: the run did not complete: {_INCOMPLETE[status]} "
              f"(pytest exit status {status}{so_far}); see above", flush=True)
        return status
    if status == _NO_TESTS:
        print(f"elfuse-py-check: no guest tests found in {', '.join(dirs)} (AArch64 ELF "
              f"executables, guest #! scripts, manifest entries)", flush=True)
        return status
    print(f"{counter.passed} passed, {counter.failed} failed", flush=True)
    if counter.failed and status == 0:
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
