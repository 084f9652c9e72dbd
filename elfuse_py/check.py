"""`elfuse-py-check DIR... [pytest options]`: run guest test directories through pytest.

Every leading argument up to the first option is a directory of guest tests
(marked with --elfuse-dir, so all its AArch64 executables and #! scripts are
tests); the rest goes to pytest unchanged (-n 2, --junitxml F, -k EXPR, ...).
The last line printed is the summary `N passed, M failed`; the exit status is
pytest's (non-zero when anything failed or nothing was collected).
"""
from __future__ import annotations

import sys

USAGE = "usage: elfuse-py-check DIR... [pytest options]\n"


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
    import pytest

    # This module already imported elfuse_py, which pytest would like to assert-rewrite
    # (it ships a pytest11 plugin): harmless, so keep the warning out of the report.
    pytest_args = ["-p", "elfuse_py.pytest_plugin",
                   "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for d in dirs:
        pytest_args += ["--elfuse-dir", d]
    pytest_args += dirs + args
    counter = _Counter()
    status = int(pytest.main(pytest_args, plugins=[counter]))
    sys.stdout.flush()
    print(f"{counter.passed} passed, {counter.failed} failed", flush=True)
    if counter.failed and status == 0:
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
