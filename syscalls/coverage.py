"""Opt-in record of which syscall handlers a guest really called (for the test suite's coverage check).

With ELFUSE_SYSCALL_RECORD=DIR in the emulator's environment (read once, when
the table is registered at boot), the dispatch list the CPU hook indexes is a
`RecordingDispatch`: the first time a process looks up a number that has a
handler, it appends that syscall's name as one line to DIR/<host pid>.<euid> (one
short O_APPEND write, so forks, threads and execs never interleave).  The
file is opened and closed around that one write: the emulator holds no extra
descriptor the guest could see, and a process killed or leaving by os._exit
has already written everything it called.

Without the variable the dispatch list is the plain list: nothing is added to
the hot path (the lookup `dispatch[nr]` in elfuse_py/runtime/cpu.py is a list
index either way; only the recording one goes through `__getitem__`).

tests/conftest.py turns the union of the files (`recorded`) into a failure
naming every table entry with a handler that no test called.
"""
from __future__ import annotations

import os

ENV = "ELFUSE_SYSCALL_RECORD"


class RecordingDispatch(list):
    """A dispatch list that notes each number it hands a handler for, once per process."""

    def __init__(self, entries: list, directory: str, name_of) -> None:
        super().__init__(entries)
        self._dir = directory
        self._name_of = name_of
        self._seen: set[int] = set()

    def __getitem__(self, nr):
        entry = list.__getitem__(self, nr)
        if entry is not None and nr not in self._seen:
            self._note(nr)
        return entry

    def _note(self, nr: int) -> None:
        # A fork child inherits `_seen` (its parent wrote those) and writes its own file.
        self._seen.add(nr)
        try:
            # Named by pid and euid: a guest that drops privileges (setuid to
            # nobody) goes on recording in a file of its own.
            fd = os.open(os.path.join(self._dir, f"{os.getpid()}.{os.geteuid()}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError:
            return                      # the guest used up its fds: coverage is best effort
        try:
            os.write(fd, (self._name_of(nr) + "\n").encode())
        except OSError:
            pass                        # past the guest's RLIMIT_FSIZE (EFBIG): best effort too
        finally:
            os.close(fd)


def wrap(dispatch: list, name_of) -> list:
    """`dispatch` itself, or a recording copy when ELFUSE_SYSCALL_RECORD names a directory."""
    directory = os.environ.get(ENV)
    if not directory or not os.path.isdir(directory):   # (the directory should be mode 1777, like /tmp)
        return dispatch
    return RecordingDispatch(dispatch, directory, name_of)


def recorded(directory: str) -> set[str]:
    """Every syscall name any process recorded in `directory`."""
    names: set[str] = set()
    for f in os.listdir(directory):
        with open(os.path.join(directory, f), encoding="utf-8", errors="replace") as fh:
            names.update(line.strip() for line in fh if line.strip())
    return names
