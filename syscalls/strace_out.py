"""--strace's output: where the lines go, their `[pid N]` prefix, and what crosses fork and exec.

One guest process tree is traced as `strace -f` would show it, but every guest
process is its own emulator, so what strace keeps in one tracer is shared here
through the file system:

- the trace goes to the emulator's diagnostics channel (stderr), or with
  `-o FILE` to FILE, opened once with O_APPEND by the first emulator and
  inherited by every process of the tree (fork, and across execve in the exec
  state), so each line is one appending write and lines of several processes
  interleave whole;
- strace prefixes `[pid N] ` once it traces more than one task (process or
  thread) and drops it again when one is left; with -o it prefixes every line
  with `N `.  The number of live tasks of the tree is kept in two unlinked
  files, also inherited: every task start appends a byte to one (`born`) and
  every task end a byte to the other (`ended`); appends are atomic on Linux
  and macOS, so no lock is needed, and the live count is the difference of
  their sizes (two fstat calls per line, only when tracing);
- a successful execve is printed by the new image (`= 0`), as strace prints
  it once the exec is done: the old image leaves the line in the config that
  travels in the exec state.

`TraceConfig` is that shared state; it is pickled into the exec state as is.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from elfuse_py.runtime import log

COLUMN = 40          # strace's -a default: results start at this column


@dataclass
class TraceConfig:
    """What a traced guest's emulators share (truthy: tracing is on)."""
    output: str | None = None       # -o FILE as given; None: the diagnostics channel
    out_fd: int = -1                # FILE's fd (emulator-reserved, O_APPEND), -1 for stderr
    born_fd: int = -1               # the live-task counter's two files (see the module doc)
    ended_fd: int = -1
    exec_line: str | None = None    # an execve under way: the line the new image completes
    exec_lost: int = 0              # other threads the exec ends (they die with the old image)
    initial: bool = True            # the first image prints its own execve line

    def __bool__(self) -> bool:
        return True


class TraceOutputError(Exception):
    """-o FILE cannot be opened (the message says why)."""


def _append_only(path_prefix: str) -> int:
    """An unlinked file open for appending (the counters' files)."""
    fd, path = tempfile.mkstemp(prefix=path_prefix)
    try:
        afd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    finally:
        os.close(fd)
        os.unlink(path)
    return afd


def start(output: str | None, reserve) -> TraceConfig:
    """The first emulator of a traced guest: open FILE (truncated, as strace does) and the counters.

    `reserve(fd)` moves an fd into the emulator's reserved range (FdTable.reserve).
    Raises TraceOutputError when FILE cannot be opened.
    """
    cfg = TraceConfig(output=output)
    if output is not None:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC,
                         0o666)
        except OSError as e:
            raise TraceOutputError(f"cannot open the trace file {output}: {e.strerror}") from None
        cfg.out_fd = reserve(fd)
    cfg.born_fd = reserve(_append_only("elfuse-strace-born-"))
    cfg.ended_fd = reserve(_append_only("elfuse-strace-ended-"))
    task_started(cfg)
    return cfg


def exec_fds(cfg: TraceConfig) -> list[int]:
    """The fds the next image needs (made inheritable for the host execve only)."""
    return [fd for fd in (cfg.out_fd, cfg.born_fd, cfg.ended_fd) if fd >= 0]


def after_exec(cfg: TraceConfig) -> None:
    """In the new image: the carried fds go back to close-on-exec; threads the exec ended end."""
    for fd in exec_fds(cfg):
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass
    if cfg.exec_lost:
        tasks_ended(cfg, cfg.exec_lost)
        cfg.exec_lost = 0


def _bump(fd: int, n: int = 1) -> None:
    if fd >= 0 and n > 0:
        try:
            os.write(fd, b"\0" * n)
        except OSError:
            pass


def task_started(cfg: TraceConfig) -> None:
    _bump(cfg.born_fd)


def tasks_ended(cfg: TraceConfig, n: int = 1) -> None:
    _bump(cfg.ended_fd, n)


def live_tasks(cfg: TraceConfig) -> int:
    """Tasks of the traced tree alive now (1 if the counters are unavailable)."""
    try:
        return os.fstat(cfg.born_fd).st_size - os.fstat(cfg.ended_fd).st_size
    except OSError:
        return 1


def prefix(cfg: TraceConfig, tid: int) -> str:
    """strace -f's line prefix for task `tid`: `N ` to a file, `[pid N] ` with several tasks."""
    if cfg.out_fd >= 0:
        return f"{tid:<5d} "
    if live_tasks(cfg) > 1:
        return f"[pid {tid:5d}] "
    return ""


def call_line(lead: str, call: str, result: str) -> str:
    """`lead + call`, the result at strace's column: `getpid()                = 12`."""
    text = lead + call + " "
    return text.ljust(COLUMN) + "= " + result + "\n"


def emit(cfg: TraceConfig, text: str) -> None:
    """Write complete line(s) to the trace output, in one write where possible."""
    if cfg.out_fd < 0:
        log.emit(text)
        return
    data = text.encode("utf-8", "backslashreplace")
    try:
        while data:
            n = os.write(cfg.out_fd, data)
            data = data[n:]
    except OSError:
        pass
