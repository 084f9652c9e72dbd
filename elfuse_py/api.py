"""The public Python API: run a guest program and get its status and output.

    >>> import elfuse_py
    >>> r = elfuse_py.run(["guest-bins/build/hello", "hi"])
    >>> r.status, r.stdout
    (0, b'Hello from an AArch64 guest! hi\\n')

Each call runs the emulator in a child Python process (`python -m elfuse_py`):
the emulator owns process-global state (the guest memory window, fds, signal
dispositions) and ends with os._exit, so it cannot share the caller's process.
The pytest plugin and `elfuse-py-check` are built on this module.
"""
from __future__ import annotations

import os
import re
import signal as _signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

__all__ = ["run", "Result", "Syscall", "parse_strace"]

_PKG_ROOT = str(Path(__file__).resolve().parent.parent)

# What the emulator prints when the guest dies of a signal (the shell's words).
_SIGNAL_WORDS = {
    "Hangup": 1, "Interrupt": 2, "Quit": 3, "Illegal instruction": 4,
    "Trace/breakpoint trap": 5, "Aborted": 6, "Bus error": 7, "Floating point exception": 8,
    "Killed": 9, "Segmentation fault": 11, "Broken pipe": 13, "Alarm clock": 14,
    "Terminated": 15, "Bad system call": 31,
}


class Syscall(NamedTuple):
    """One --strace call: `name(args...) = result` (a call printed `<unfinished ...>`
    and `<... name resumed>` is put back together)."""
    name: str
    args: list[str]     # each argument as printed (strings keep their quotes)
    result: str         # as printed: "3", "0x4000", "-1 ENOENT (No such file or directory)", "?"
    pid: int | None = None   # the task's [pid N] (or -o's `N `) prefix, None without one

    @property
    def retval(self) -> int | None:
        """The numeric result (-1 for an error), or None for "?"."""
        m = re.match(r"(-?(?:0x[0-9a-fA-F]+|\d+))", self.result)
        return int(m.group(1), 0) if m else None

    @property
    def errno(self) -> str | None:
        """The errno name of a failed call ("ENOENT"), else None."""
        m = re.match(r"-1\s+(E[A-Z0-9]+)", self.result)
        return m.group(1) if m else None


@dataclass
class Result:
    """How a guest run ended and what it printed."""
    status: int                 # exit status as a shell reports it (128+N when killed by N)
    stdout: bytes
    stderr: bytes               # the guest's stderr and emulator messages (trace lines removed)
    signal: int | None = None   # the signal that ended the guest, if one did
    timed_out: bool = False
    syscalls: list[Syscall] | None = None   # with strace=True
    argv: list[str] = field(default_factory=list)   # the emulator command line used

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out


_TRACE_PREFIX = re.compile(r"^(?:\[pid\s+(\d+)\] |(\d+)\s+(?=[A-Za-z_<+-]))")
_TRACE_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\s*=\s*(.*?)\s*$")
_TRACE_UNFINISHED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*?) ?<unfinished \.\.\.>\s*$")
_TRACE_RESUMED = re.compile(r"^<\.\.\. ([A-Za-z_][A-Za-z0-9_]*) resumed>(.*)\)\s*=\s*(.*?)\s*$")
_TRACE_OTHER = re.compile(r"^(\+\+\+ .* \+\+\+|--- .* ---)\s*$")


def _split_args(text: str) -> list[str]:
    """Split a printed argument list on top-level commas (not inside quotes or brackets)."""
    out, cur, depth, quote, esc = [], [], 0, False, False
    for ch in text:
        if quote:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quote = False
            continue
        if ch == '"':
            quote = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out


def parse_strace(text: str | bytes) -> tuple[list[Syscall], str | bytes]:
    """Split stderr output into (syscalls, the remaining lines, same type as given).

    Tolerant: any line shaped `name(...) = result` is a syscall, after an
    optional `[pid N] ` prefix (strace -f; `N ` as in -o files); a call printed
    `name(args <unfinished ...>` and later `<... name resumed>rest) = R` by
    the same task is one Syscall, in the order it started.  strace-style
    `+++ ... +++` / `--- ... ---` lines are dropped from the remainder too.
    """
    is_bytes = isinstance(text, bytes)
    lines = text.splitlines(keepends=True)
    calls: list[Syscall] = []
    open_calls: dict[int | None, tuple[int, str]] = {}   # pid -> (index in calls, args so far)
    rest = []
    for raw in lines:
        line = (raw.decode("utf-8", "replace") if is_bytes else raw).rstrip("\r\n")
        pid = None
        p = _TRACE_PREFIX.match(line)
        body = line
        if p:
            pid = int(p.group(1) or p.group(2))
            body = line[p.end():]
        m = _TRACE_LINE.match(body)
        if m and not body.startswith("<..."):
            calls.append(Syscall(m.group(1), _split_args(m.group(2)), m.group(3), pid))
            continue
        m = _TRACE_UNFINISHED.match(body)
        if m:
            open_calls[pid] = (len(calls), m.group(2))
            calls.append(Syscall(m.group(1), _split_args(m.group(2).rstrip(", ")), "?", pid))
            continue
        m = _TRACE_RESUMED.match(body)
        if m:
            if pid not in open_calls:
                # strace drops the prefix once one task is left: the resumed line of
                # the last task then has none.
                pid = next((k for k, (i, _) in reversed(open_calls.items())
                            if calls[i].name == m.group(1)), pid)
            index, head = open_calls.pop(pid, (None, ""))
            full = Syscall(m.group(1), _split_args(head + m.group(2)), m.group(3),
                           calls[index].pid if index is not None else pid)
            if index is not None and calls[index].name == full.name:
                calls[index] = full
            else:
                calls.append(full)
            continue
        if not _TRACE_OTHER.match(body):
            rest.append(raw)
    return calls, (b"" if is_bytes else "").join(rest)


def _signal_from(returncode: int, stderr: bytes) -> tuple[int, int | None]:
    """(shell-style status, signal) from the emulator's exit."""
    if returncode < 0:                       # the emulator itself was killed
        return 128 - returncode, -returncode
    if returncode > 128:
        lines = stderr.decode("utf-8", "replace").rstrip("\n").splitlines()
        if lines:
            word = lines[-1].split(" (core dumped)")[0].strip()
            sig = _SIGNAL_WORDS.get(word)
            if sig is None:
                try:
                    sig = next((n for n in range(1, 65)
                                if _signal.strsignal(n) == word), None)
                except (ValueError, AttributeError):
                    sig = None
            if sig == returncode - 128:
                return returncode, sig
    return returncode, None


def _emulator_env(env: Mapping[str, str] | None) -> tuple[dict, list[str]]:
    """The emulator's environment (= the guest's) plus options keeping PYTHONPATH ours."""
    guest = dict(os.environ if env is None else env)
    e = dict(guest)
    opts: list[str] = []
    pp = guest.get("PYTHONPATH")
    e["PYTHONPATH"] = _PKG_ROOT + (os.pathsep + pp if pp else "")
    # The guest must see exactly the environment asked for, not our PYTHONPATH.
    opts += ["-E", f"PYTHONPATH={pp}"] if pp is not None else ["-U", "PYTHONPATH"]
    return e, opts


def run(argv: Sequence[str | os.PathLike], env: Mapping[str, str] | None = None,
        sysroot: str | os.PathLike | None = None, timeout: float | None = None,
        strace: bool = False, input: bytes | str | None = None,
        cwd: str | os.PathLike | None = None, options: Sequence[str] = ()) -> Result:
    """Run `argv` (a guest program or #! script, then its arguments) under elfuse-py.

    env: the guest's environment (default: this process's).  sysroot: the
    guest's root for absolute paths.  timeout: seconds before the run is
    killed (the Result then has timed_out=True, status 137, signal 9).
    strace: also collect the syscall trace into Result.syscalls.  input:
    bytes for the guest's stdin (default: /dev/null).  cwd: the guest's
    working directory.  options: extra elfuse-py command-line options.

    `argv` is a list (the program, then its arguments), as for subprocess.run
    without a shell: a single string is refused with TypeError rather than
    guessed at (`run("./prog")` would otherwise iterate its characters).
    """
    if isinstance(argv, (str, bytes, os.PathLike)):
        raise TypeError(f"run() takes a list of arguments, not {type(argv).__name__}: "
                        f"run([{os.fspath(argv)!r}]) runs that one program; "
                        f"run([program, arg1, ...]) passes arguments")
    if not argv:
        raise ValueError("run() needs a program")
    e, opts = _emulator_env(env)
    if sysroot is not None:
        opts += ["--sysroot", os.fspath(sysroot)]
    if strace:
        opts.append("--strace")
    opts += list(options)
    cmd = [sys.executable, "-m", "elfuse_py", *opts, "--", *map(os.fspath, argv)]
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.Popen(cmd, env=e, cwd=None if cwd is None else os.fspath(cwd),
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)   # a timeout kills the whole group
    timed_out = False
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, err = proc.communicate()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    calls = None
    if strace:
        calls, err = parse_strace(err)
    if timed_out:
        status, sig = 128 + 9, 9
    else:
        status, sig = _signal_from(proc.returncode, err)
    return Result(status=status, stdout=out, stderr=err, signal=sig, timed_out=timed_out,
                  syscalls=calls, argv=cmd)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, _signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
