"""--strace: each syscall with decoded arguments and its result, in strace -f's format.

This is the slow path: the CPU hook calls `Tracer.trace` instead of the
handler directly only when tracing is on.  A call prints by its printer in
syscalls/strace_calls.py when it has one (flags by name, structures), else by
the argument kinds of its table entry; name tables are in strace_names.py,
where lines go and their `[pid N]` prefix in strace_out.py.

strace -f's shapes, kept here: the result at column 40; `name(args
<unfinished ...>` when a call blocks while another task runs (a parked guest
thread) and `<... name resumed>results) = R` when it finishes; a fork child
prints nothing for its side of clone; a successful execve is printed `= 0` by
the new image (its tracer, made when the image replaces the old one); `+++ exited with N +++` / `+++ killed by SIG +++` at each
task's end.
"""
from __future__ import annotations

import errno as _errno
import os
import struct

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.memory import GuestFault

from elfuse_py.syscalls import strace_calls, strace_out
from elfuse_py.syscalls import strace_names as N
from elfuse_py.syscalls.args import AT_FDCWD, s32, s64
from elfuse_py.syscalls.info import _RLIMIT_NAMES
from elfuse_py.syscalls.time import LINUX_CLOCK_NAMES
from elfuse_py.syscalls.numbers import SYSCALL_NAMES, SYSCALL_NUMBERS
from elfuse_py.syscalls.strace_out import TraceConfig, call_line
from elfuse_py.syscalls.table import TABLE

STRING_LIMIT = strace_calls.STRING_LIMIT

_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t",
            ord("\r"): "\\r", ord("\v"): "\\v", ord("\f"): "\\f"}
_MODE_FLAGS = 0o100 | 0o20000000       # O_CREAT | __O_TMPFILE: open's mode is shown only with these
_TIMESPEC = struct.Struct("<qq")
_RAW6 = struct.Struct("<6Q")     # X0..X5 as the decoders read them
# Calls whose handler returns None without having blocked: they end the task or
# the image, or set the registers themselves.
_NO_RESULT = {"exit", "exit_group", "execve", "execveat", "rt_sigreturn"}


def quote(data: bytes, limit: int = STRING_LIMIT) -> str:
    """A C-style quoted string as strace prints it (octal escapes, `...` if truncated)."""
    out = []
    shown = data[:limit]
    for i, b in enumerate(shown):
        esc = _ESCAPES.get(b)
        if esc is not None:
            out.append(esc)
        elif 32 <= b < 127:
            out.append(chr(b))
        elif i + 1 < len(shown) and 0x30 <= shown[i + 1] <= 0x37:
            out.append(f"\\{b:03o}")        # a following digit must not extend the escape
        else:
            out.append(f"\\{b:o}")
    return '"' + "".join(out) + '"' + ("..." if len(data) > limit else "")


# Kept under their old names for callers of this module.
open_flags = N.open_flags
bit_flags = N.flags


def mmap_flags(v: int) -> str:
    v &= 0xFFFFFFFF
    kind = N.MAP_TYPES.get(v & 0xF, hex(v & 0xF))
    rest = N.flags(v & ~0xF, N.MAP_FLAGS, "")
    return kind + ("|" + rest if rest else "")


def signal_name(v: int) -> str:
    return N.signal_name(s32(v))


def clock_name(v: int) -> str:
    v = s32(v)
    return LINUX_CLOCK_NAMES.get(v, str(v))


def rlimit_name(v: int) -> str:
    v &= 0xFFFFFFFF
    return _RLIMIT_NAMES[v] if v < len(_RLIMIT_NAMES) else str(v)


def _host_errno(name: str) -> int:
    return getattr(_errno, name, 0)


def error_text(err: int) -> str:
    """`-1 ENOENT (No such file or directory)` for Linux errno `err`."""
    ename = lerrno.LINUX_ERRNO_NAMES.get(err)
    if ename is None:
        return f"-1 {err}"
    host = _host_errno(ename)
    return f"-1 {ename} ({os.strerror(host) if host else ename})"


class _Unfinished:
    """A call that blocked (its thread parked) and is printed again when it finishes."""

    __slots__ = ("nr", "name", "regs", "split")

    def __init__(self, nr: int, name: str, regs: tuple, split: int) -> None:
        self.nr, self.name, self.regs, self.split = nr, name, regs, split


class Tracer:
    def __init__(self, proc) -> None:
        self.proc = proc
        cfg = getattr(proc, "strace", None)
        self.cfg: TraceConfig = cfg if isinstance(cfg, TraceConfig) else TraceConfig()
        self.unfinished: dict[int, _Unfinished] = {}
        hooks = getattr(proc, "exit_hooks", None)
        if hooks is not None:
            hooks[:] = [h for h in hooks if getattr(h, "__func__", None) is not Tracer._exited]
            hooks.append(self._exited)
        table = getattr(proc, "threads", None)
        if table is not None:
            table.on_result = self._resumed
        sig = getattr(proc, "sig", None)
        if sig is not None:
            sig.on_deliver = self._signal
        self._first_line()

    # ----- guest memory, as strace shows it ---------------------------------------------

    @property
    def mem(self):
        return self.proc.mem

    def string(self, addr: int, limit: int = 4096) -> str:
        if addr == 0:
            return "NULL"
        try:
            return quote(self.mem.cstr(addr, 4096), limit)
        except (GuestFault, ValueError):
            return hex(addr)

    def buffer(self, addr: int, size: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            return quote(self.mem.read(addr, min(size, STRING_LIMIT + 1)))
        except GuestFault:
            return hex(addr)

    def timespec(self, addr: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            sec, nsec = self.mem.unpack(_TIMESPEC, addr)
        except GuestFault:
            return hex(addr)
        return f"{{tv_sec={sec}, tv_nsec={nsec}}}"

    def int_at(self, addr: int) -> str:
        """`[N]`: the C int at addr (an address in hex if unreadable)."""
        if addr == 0:
            return "NULL"
        try:
            return f"[{s32(self.mem.u32(addr))}]"
        except GuestFault:
            return hex(addr)

    def sigset_at(self, addr: int, size: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            data = self.mem.read(addr, min(size, 8)) if size in (4, 8) else None
        except GuestFault:
            data = None
        if data is None:
            return hex(addr)
        return N.sigset(int.from_bytes(data, "little"), 8 * len(data))

    def string_array(self, addr: int) -> str:
        """execve's argv: `["a", "b"]`, at most STRING_LIMIT elements."""
        if addr == 0:
            return "NULL"
        items = []
        try:
            while True:
                p = self.mem.u64(addr + 8 * len(items))
                if not p:
                    break
                if len(items) == STRING_LIMIT:
                    items.append("...")
                    break
                items.append(self.string(p, STRING_LIMIT))
        except GuestFault:
            return hex(addr)
        return "[" + ", ".join(items) + "]"

    def env_summary(self, addr: int) -> str:
        """execve's envp as strace abbreviates it: `0x... /* N vars */`."""
        if addr == 0:
            return "NULL"
        n = 0
        try:
            while self.mem.u64(addr + 8 * n):
                n += 1
        except GuestFault:
            return hex(addr)
        return f"{addr:#x} /* {n} vars */"

    def clock(self, v: int) -> str:
        return clock_name(v)

    def dirfd(self, v: int) -> str:
        return "AT_FDCWD" if s32(v) == AT_FDCWD else str(s32(v))

    # ----- argument kinds -----------------------------------------------------------------

    def arg(self, kind: str, values: list[int], i: int, ret: int | None) -> str:
        fmt = _KINDS.get(kind)
        return fmt(self, values, i, ret) if fmt is not None else hex(values[i])

    def _args(self, name: str, kinds: tuple, regs: tuple, n: int, ret) -> list[str]:
        """The printed arguments; a printer's own failure (guest memory gone, a bad
        value) falls back to hex: the trace must never change what the guest sees."""
        try:
            return self._decoded_args(name, kinds, regs, n, ret)
        except Exception:  # noqa: BLE001 - see above
            return [hex(v) for v in regs[:n or len(kinds)]]

    def _decoded_args(self, name: str, kinds: tuple, regs: tuple, n: int, ret) -> list[str]:
        custom = strace_calls.CALLS.get(name)
        if custom is not None:
            return custom(self, regs, ret)
        parts = []
        for i, k in enumerate(kinds[:n]):
            # Like strace: open's mode only matters (and is shown) with O_CREAT/O_TMPFILE.
            if k == "mode" and i and kinds[i - 1] == "oflags" and not regs[i - 1] & _MODE_FLAGS:
                continue
            parts.append(self.arg(k, regs, i, ret))
        return parts

    @staticmethod
    def _split(name: str, kinds: tuple, nargs: int) -> int:
        split = strace_calls.EXIT_ARGS.get(name)
        if split is None:
            split = kinds.index("buf_out") if "buf_out" in kinds else nargs
        return min(split, nargs)

    def result(self, spec, shown: int | None, name: str = "", regs: tuple = ()) -> str:
        """The text after `= `."""
        if shown is None:
            return "?"
        if -4096 < shown < 0:
            return error_text(-shown)
        custom = _RESULTS.get(name)
        if custom is not None:
            return custom(regs, shown)
        if spec.ret == "hex":
            return f"{shown & 0xFFFFFFFFFFFFFFFF:#x}"
        return str(shown)

    # ----- the call ------------------------------------------------------------------------

    def _lead(self, tid: int | None = None) -> str:
        return strace_out.prefix(self.cfg, threads.gettid() if tid is None else tid)

    def _emit(self, text: str) -> None:
        strace_out.emit(self.cfg, text)

    def trace(self, nr: int, entry, a: list[int]):
        fn, decode = entry
        regs = tuple(a[1:7])
        decoded = decode(_RAW6.pack(*regs)) if decode else ()
        n = len(decoded)
        spec = TABLE[nr]
        name = SYSCALL_NAMES.get(nr, f"syscall_{nr}")
        kinds = spec.args or ("hex",) * n
        tid = threads.gettid()
        lead = self._lead(tid)              # decided at entry, as strace does
        resuming = self.unfinished.pop(tid, None)
        if resuming is not None and resuming.nr != nr:
            self._finish(resuming, lead, None)      # it ended without a result (a signal)
            resuming = None
        before = _BEFORE.get(name)
        if before is not None:
            before(self, regs, lead)
        ret = None
        exc = None
        try:
            ret = fn(*decoded)
        except BaseException as e:  # noqa: BLE001 - re-raised after printing
            exc = e
        shown = ret
        if exc is not None:
            if isinstance(exc, OSError):
                shown = -lerrno.to_linux(exc.errno)
            elif isinstance(exc, GuestFault):
                shown = -lerrno.EFAULT
        after = _AFTER.get(name)
        if after is None or after(self, regs, shown, lead, name):
            if resuming is not None or (shown is None and exc is None and name not in _NO_RESULT):
                self._blocked_or_resumed(nr, name, regs, kinds, n, shown, lead, resuming)
            else:
                args = self._args(name, kinds, regs, n, shown)
                self._emit(call_line(lead, f"{name}({', '.join(args)})",
                                     self.result(spec, shown, name, regs)))
        if exc is not None:
            raise exc
        return ret

    def _blocked_or_resumed(self, nr, name, regs, kinds, n, shown, lead, resuming) -> None:
        if resuming is None:
            args = self._args(name, kinds, regs, n, None)
            split = self._split(name, kinds, len(args))
            head = ", ".join(args[:split]) + (", " if 0 < split < len(args) else "")
            self._emit(f"{lead}{name}({head} <unfinished ...>\n")
            resuming = _Unfinished(nr, name, regs, split)
        if shown is None:                       # (still) waiting
            self.unfinished[threads.gettid()] = resuming
            return
        self._finish(resuming, lead, shown)

    def _finish(self, u: _Unfinished, lead: str, ret: int | None) -> None:
        """`<... name resumed>results) = R` for a call printed unfinished."""
        spec = TABLE[u.nr]
        n = spec.handler.__code__.co_argcount if spec.handler is not None else 6
        kinds = spec.args or ("hex",) * n
        args = self._args(u.name, kinds, u.regs, n, ret) if ret is not None else []
        tail = ", ".join(args[u.split:])
        self._emit(call_line(lead, f"<... {u.name} resumed>{tail})", self.result(spec, ret, u.name,
                                                                                  u.regs)))

    def _resumed(self, tid: int, result: int) -> None:
        """The scheduler gave parked thread `tid` its syscall's result (threads.switch)."""
        u = self.unfinished.pop(tid, None)
        if u is not None:
            self._finish(u, self._lead(tid), result)

    def _signal(self, sig: int, info: bytes) -> None:
        """A signal is delivered (runtime/signals.py): strace's `--- SIGCHLD {...} ---`."""
        self._emit(f"{self._lead()}--- {N.signal_name(sig)} {strace_calls.siginfo(info)} ---\n")

    # ----- task starts and ends -------------------------------------------------------------

    def _first_line(self) -> None:
        """The image's execve line: the one an old image left in the exec state, or the
        first program's (strace starts with the execve it ran)."""
        cfg = self.cfg
        line = cfg.exec_line
        if line is None and cfg.initial and getattr(self.proc, "start_stack", 0):
            line = self._initial_exec()
        cfg.exec_line, cfg.initial = None, False
        strace_out.after_exec(cfg)
        if line is not None:
            self._emit(call_line(self._lead(), line, "0"))

    def _initial_exec(self) -> str:
        p = self.proc
        try:
            argc = self.mem.u64(p.start_stack)
        except GuestFault:
            return f"execve({quote(p.execfn, 4096)}, ...)"
        argv = p.start_stack + 8
        envp = argv + 8 * (argc + 1)
        return (f"execve({quote(p.execfn, 4096)}, {self.string_array(argv)}, "
                f"{self.env_summary(envp)})")

    def _exited(self) -> None:
        """An exit hook: the process ended (strace's `+++ ... +++` line)."""
        p = self.proc
        sig = getattr(p, "killed_by", 0)
        if sig:
            text = f"+++ killed by {N.signal_name(sig)} +++"
        else:
            text = f"+++ exited with {p.cpu.exit_status} +++"
        self._emit(self._lead(os.getpid()) + text + "\n")
        strace_out.tasks_ended(self.cfg, max(1, len(p.threads.live)))


# ----- per-kind printers ------------------------------------------------------------------------

def _buf_in(t, v, i, ret):
    return t.buffer(v[i], v[i + 1] if i + 1 < len(v) else STRING_LIMIT)


def _buf_out(t, v, i, ret):
    return hex(v[i]) if ret is None or ret < 0 else t.buffer(v[i], ret)


_KINDS = {
    "fd": lambda t, v, i, ret: str(s32(v[i])),
    "int": lambda t, v, i, ret: str(s32(v[i])),
    "dirfd": lambda t, v, i, ret: t.dirfd(v[i]),
    "long": lambda t, v, i, ret: str(s64(v[i])),
    "off": lambda t, v, i, ret: str(s64(v[i])),
    "uint": lambda t, v, i, ret: str(v[i]),
    "size": lambda t, v, i, ret: str(v[i]),
    "path": lambda t, v, i, ret: t.string(v[i]),
    "str": lambda t, v, i, ret: t.string(v[i], STRING_LIMIT),
    "buf_in": _buf_in,
    "buf_out": _buf_out,
    "oflags": lambda t, v, i, ret: open_flags(v[i]),
    "mode": lambda t, v, i, ret: f"0{v[i] & 0o7777:o}",
    "ptr": lambda t, v, i, ret: "NULL" if v[i] == 0 else hex(v[i]),
    "signal": lambda t, v, i, ret: signal_name(v[i]),
    "clockid": lambda t, v, i, ret: clock_name(v[i]),
    "timespec": lambda t, v, i, ret: t.timespec(v[i]),
    "mmap_prot": lambda t, v, i, ret: N.flags(v[i] & 0xFFFFFFFF, N.PROT_FLAGS, "PROT_NONE"),
    "mmap_flags": lambda t, v, i, ret: mmap_flags(v[i]),
    "rlimit": lambda t, v, i, ret: rlimit_name(v[i]),
    "timer_flags": lambda t, v, i, ret: N.flags(v[i] & 0xFFFFFFFF, N.TIMER_FLAGS),
    "grnd_flags": lambda t, v, i, ret: N.flags(v[i] & 0xFFFFFFFF, N.GRND_FLAGS),
}


# ----- results strace decodes -------------------------------------------------------------------

# fcntl commands whose result is a flag word: (what strace calls it, its printer).
_FCNTL_RESULTS = {1: ("flags", lambda v: N.flags(v, N.FD_FLAGS)),          # F_GETFD
                  3: ("flags", N.open_flags),                                # F_GETFL
                  1034: ("seals", lambda v: N.flags(v, N.SEAL_FLAGS))}       # F_GET_SEALS


def _fcntl_result(regs: tuple, ret: int) -> str:
    shape = _FCNTL_RESULTS.get(s32(regs[1]))
    if shape is None or (ret == 0 and s32(regs[1]) != 3):     # F_GETFL 0 is still O_RDONLY
        return str(ret)
    word, show = shape
    return f"{ret:#x} ({word} {show(ret)})" if ret else f"0 ({word} {show(ret)})"


_RESULTS = {"fcntl": _fcntl_result}


# ----- what some calls do to the trace besides printing -----------------------------------------

def _clone_before(t: Tracer, regs: tuple, lead: str) -> None:
    strace_out.task_started(t.cfg)              # counted before the child can print
    if regs[0] & N.CLONE_VFORK:
        # The parent waits while the child runs (and prints): strace shows it unfinished.
        t.unfinished[threads.gettid()] = _Unfinished(
            SYSCALL_NUMBERS["clone"], "clone", regs, strace_calls.EXIT_ARGS["clone"])
        args = strace_calls.clone(t, regs, None)
        t._emit(f"{lead}clone({', '.join(args[:2])} <unfinished ...>\n")


def _clone_after(t: Tracer, regs: tuple, shown, lead: str, name: str) -> bool:
    vfork = t.unfinished.pop(threads.gettid(), None) if regs[0] & N.CLONE_VFORK else None
    if shown is not None and shown < 0:
        strace_out.tasks_ended(t.cfg)
    elif shown == 0 and not regs[0] & N.CLONE_THREAD:
        t.unfinished.clear()          # the fork child: strace shows nothing of its clone
        return False
    if vfork is not None:
        t._finish(vfork, t._lead(), shown)
        return False
    return True


def _exec_after(t: Tracer, regs: tuple, shown, lead: str, name: str) -> bool:
    if shown is None:
        # It succeeds (in this process): the new image's tracer prints the line with `= 0`.
        return False
    t.cfg.exec_line, t.cfg.exec_lost = None, 0      # it failed: the image stays
    return True


def _exit_after(t: Tracer, regs: tuple, shown, lead: str, name: str) -> bool:
    """exit of one thread of several: strace shows that task's end; the last one's is the process's."""
    t._emit(call_line(lead, f"exit({s32(regs[0])})", "?"))
    if t.proc.threads.live:
        t._emit(f"{lead}+++ exited with {regs[0] & 0xFF} +++\n")
        strace_out.tasks_ended(t.cfg)
    return False


_BEFORE = {"clone": _clone_before,
           "execve": lambda t, regs, lead: _exec_line(t, "execve", regs),
           "execveat": lambda t, regs, lead: _exec_line(t, "execveat", regs)}
_AFTER = {"clone": _clone_after, "execve": _exec_after, "execveat": _exec_after,
          "exit": _exit_after}


def _exec_line(t: Tracer, name: str, regs: tuple) -> None:
    """Before an execve: the line its new image prints with `= 0` if it succeeds."""
    args = strace_calls.CALLS[name](t, regs, None)
    t.cfg.exec_line = f"{name}({', '.join(args)})"
    threads_now = getattr(t.proc, "threads", None)
    t.cfg.exec_lost = max(0, len(threads_now.live) - 1) if threads_now is not None else 0
