"""Progress and messages of `elfuse-py-sysroot`: a status line on a terminal, quiet otherwise.

On a terminal (stderr is a tty) downloads and unpacking update one status
line; elsewhere (CI logs, pipes) nothing is printed but warnings and errors,
unless -v asks for one line per step.
"""
from __future__ import annotations

import sys
import threading
from typing import TextIO


class Progress:
    """Where the tool reports what it does."""

    def __init__(self, verbose: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.verbose = verbose
        self._line = False              # a status line is on screen
        self._lock = threading.Lock()   # downloads report from worker threads

    def status(self, text: str) -> None:
        """A transient status line (terminal only)."""
        if not self.tty:
            return
        with self._lock:
            width = 79
            self.stream.write("\r" + text[:width].ljust(width))
            self.stream.flush()
            self._line = True

    def step(self, text: str) -> None:
        """A step worth a line with -v; a status line on a terminal otherwise."""
        if self.verbose:
            self.say(text)
        else:
            self.status(text)

    def say(self, text: str) -> None:
        """A line that stays (the summary, -v steps)."""
        with self._lock:
            self._clear()
            self.stream.write(text + "\n")
            self.stream.flush()

    def warn(self, text: str) -> None:
        """Always shown."""
        self.say(f"elfuse-py-sysroot: warning: {text}")

    def done(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self._line:
            self.stream.write("\r" + " " * 79 + "\r")
            self._line = False


def human(n: int) -> str:
    """1234567 -> '1.2 MB'."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)
