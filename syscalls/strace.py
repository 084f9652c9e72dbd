"""--strace: each syscall with decoded arguments and its result, in strace's format.

This is the slow path: the CPU hook calls `Tracer.trace` instead of the
handler directly only when tracing is on.  Argument kinds come from each
table entry's `args` spec.
"""
from __future__ import annotations

from elfuse_py import lerrno, log
from elfuse_py.memory import GuestFault

from .args import s32, s64
from .numbers import SYSCALL_NAMES
from .table import TABLE

STRING_LIMIT = 32

_OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
               (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
               (0o20000, "O_ASYNC"), (0o40000, "O_DIRECTORY"), (0o100000, "O_NOFOLLOW"),
               (0o200000, "O_DIRECT"), (0o400000, "O_LARGEFILE"), (0o1000000, "O_NOATIME"),
               (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"),
               (0o20000000, "__O_TMPFILE")]


def quote(data: bytes, limit: int = STRING_LIMIT) -> str:
    """A C-style quoted string as strace prints it (truncated with ...)."""
    out = []
    for b in data[:limit]:
        c = chr(b)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:o}")
    return '"' + "".join(out) + '"' + ("..." if len(data) > limit else "")


def open_flags(v: int) -> str:
    v = s32(v) & 0xFFFFFFFF
    acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][v & 3]
    names = [acc] + [n for bit, n in _OPEN_FLAGS if v & bit]
    rest = v & ~(3 | sum(b for b, _ in _OPEN_FLAGS))
    if rest:
        names.append(hex(rest))
    return "|".join(names)


class Tracer:
    def __init__(self, proc) -> None:
        self.proc = proc

    def _string(self, addr: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            return quote(self.proc.mem.cstr(addr, 4096), 4096)
        except (GuestFault, ValueError):
            return hex(addr)

    def _buffer(self, addr: int, size: int) -> str:
        try:
            return quote(self.proc.mem.read(addr, min(size, STRING_LIMIT + 1)))
        except GuestFault:
            return hex(addr)

    def arg(self, kind: str, values: list[int], i: int, ret: int | None) -> str:
        v = values[i]
        if kind in ("fd", "int", "signal"):
            return str(s32(v))
        if kind == "dirfd":
            return "AT_FDCWD" if s32(v) == -100 else str(s32(v))
        if kind in ("long", "off"):
            return str(s64(v))
        if kind in ("uint", "size"):
            return str(v)
        if kind in ("path", "str"):
            return self._string(v)
        if kind == "buf_in":
            return self._buffer(v, values[i + 1])
        if kind == "buf_out":
            if ret is None or ret < 0:
                return hex(v)
            return self._buffer(v, ret)
        if kind == "oflags":
            return open_flags(v)
        if kind == "mode":
            return f"0{v & 0o7777:o}"
        if kind == "ptr":
            return "NULL" if v == 0 else hex(v)
        return hex(v)

    def trace(self, nr: int, entry, a: list[int]):
        fn, n = entry
        spec = TABLE[nr]
        args = a[1:n + 1]
        kinds = spec.args or ("hex",) * n
        ret = None
        exc = None
        try:
            ret = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised after printing
            exc = e
        shown = ret
        if exc is not None:
            if isinstance(exc, OSError):
                shown = -lerrno.to_linux(exc.errno)
            elif isinstance(exc, GuestFault):
                shown = -lerrno.EFAULT
        parts = [self.arg(k, args, i, shown) for i, k in enumerate(kinds[:n])]
        name = SYSCALL_NAMES.get(nr, f"syscall_{nr}")
        line = f"{name}({', '.join(parts)})"
        if shown is None:
            line += " = ?"
        elif -4096 < shown < 0:
            ename = lerrno.LINUX_ERRNO_NAMES.get(-shown, str(-shown))
            import os
            line += f" = -1 {ename} ({os.strerror(_host_errno(ename))})"
        elif spec.ret == "hex":
            line += f" = {shown:#x}"
        else:
            line += f" = {shown}"
        log.emit(line + "\n")
        if exc is not None:
            raise exc
        return ret


def _host_errno(name: str) -> int:
    import errno
    return getattr(errno, name, 0)
