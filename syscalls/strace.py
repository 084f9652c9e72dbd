"""--strace: each syscall with decoded arguments and its result, in strace's format.

This is the slow path: the CPU hook calls `Tracer.trace` instead of the
handler directly only when tracing is on.  Argument kinds come from each
table entry's `args` spec.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.runtime import lerrno, log
from elfuse_py.runtime.memory import GuestFault

from syscalls.args import AT_FDCWD, s32, s64
from syscalls.info import _RLIMIT_NAMES
from syscalls.time import LINUX_CLOCK_NAMES
from syscalls.numbers import SYSCALL_NAMES
from syscalls.table import TABLE

STRING_LIMIT = 32

_OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
               (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
               (0o20000, "O_ASYNC"), (0o40000, "O_DIRECTORY"), (0o100000, "O_NOFOLLOW"),
               (0o200000, "O_DIRECT"), (0o400000, "O_LARGEFILE"), (0o1000000, "O_NOATIME"),
               (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"),
               (0o20000000, "__O_TMPFILE")]


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t",
            ord("\r"): "\\r", ord("\v"): "\\v", ord("\f"): "\\f"}


_MODE_FLAGS = 0o100 | 0o20000000       # O_CREAT | __O_TMPFILE


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


def open_flags(v: int) -> str:
    v = s32(v) & 0xFFFFFFFF
    acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][v & 3]
    names = [acc] + [n for bit, n in _OPEN_FLAGS if v & bit]
    rest = v & ~(3 | sum(b for b, _ in _OPEN_FLAGS))
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def bit_flags(v: int, table: list[tuple[int, str]], zero: str = "0") -> str:
    """`A|B|0x..` for the bits of v named in table (strace's flag style)."""
    if v == 0:
        return zero
    names = [n for bit, n in table if v & bit == bit]
    rest = v
    for bit, _ in table:
        if v & bit == bit:
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)


_PROT = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (8, "PROT_SEM"),
         (0x10, "PROT_BTI"), (0x20, "PROT_MTE"), (0x01000000, "PROT_GROWSDOWN"),
         (0x02000000, "PROT_GROWSUP")]
_MAP_TYPES = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}
_MAP = [(0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x100, "MAP_GROWSDOWN"),
        (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"),
        (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"),
        (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"), (0x80000, "MAP_SYNC"),
        (0x100000, "MAP_FIXED_NOREPLACE"), (0x4000000, "MAP_UNINITIALIZED")]


def mmap_flags(v: int) -> str:
    v &= 0xFFFFFFFF
    kind = _MAP_TYPES.get(v & 0xF, hex(v & 0xF))
    rest = bit_flags(v & ~0xF, _MAP, "")
    return kind + ("|" + rest if rest else "")


_SIGNALS = ["0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
            "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
            "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
            "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
            "SIGSYS"]


def signal_name(v: int) -> str:
    v = s32(v)
    if 0 <= v < len(_SIGNALS):
        return _SIGNALS[v]
    if 32 <= v <= 64:
        return f"SIGRT_{v - 32}"
    return str(v)


def clock_name(v: int) -> str:
    v = s32(v)
    return LINUX_CLOCK_NAMES.get(v, str(v))


def rlimit_name(v: int) -> str:
    v &= 0xFFFFFFFF
    return _RLIMIT_NAMES[v] if v < len(_RLIMIT_NAMES) else str(v)


_GRND = [(1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE")]
_TIMESPEC = struct.Struct("<qq")


_RAW6 = struct.Struct("<6Q")     # X0..X5 as the decoders read them


class Tracer:
    def __init__(self, proc) -> None:
        self.proc = proc

    def _string(self, addr: int, limit: int = 4096) -> str:
        if addr == 0:
            return "NULL"
        try:
            return quote(self.proc.mem.cstr(addr, 4096), limit)
        except (GuestFault, ValueError):
            return hex(addr)

    def _buffer(self, addr: int, size: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            return quote(self.proc.mem.read(addr, min(size, STRING_LIMIT + 1)))
        except GuestFault:
            return hex(addr)

    def _timespec(self, addr: int) -> str:
        if addr == 0:
            return "NULL"
        try:
            sec, nsec = self.proc.mem.unpack(_TIMESPEC, addr)
        except GuestFault:
            return hex(addr)
        return f"{{tv_sec={sec}, tv_nsec={nsec}}}"

    def arg(self, kind: str, values: list[int], i: int, ret: int | None) -> str:
        v = values[i]
        if kind in ("fd", "int"):
            return str(s32(v))
        if kind == "dirfd":
            return "AT_FDCWD" if s32(v) == AT_FDCWD else str(s32(v))
        if kind in ("long", "off"):
            return str(s64(v))
        if kind in ("uint", "size"):
            return str(v)
        if kind == "path":
            return self._string(v)
        if kind == "str":
            return self._string(v, STRING_LIMIT)
        if kind == "buf_in":
            return self._buffer(v, values[i + 1] if i + 1 < len(values) else STRING_LIMIT)
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
        if kind == "signal":
            return signal_name(v)
        if kind == "clockid":
            return clock_name(v)
        if kind == "timespec":
            return self._timespec(v)
        if kind == "mmap_prot":
            return bit_flags(v & 0xFFFFFFFF, _PROT, "PROT_NONE")
        if kind == "mmap_flags":
            return mmap_flags(v)
        if kind == "rlimit":
            return rlimit_name(v)
        if kind == "timer_flags":
            return bit_flags(v & 0xFFFFFFFF, [(1, "TIMER_ABSTIME")])
        if kind == "grnd_flags":
            return bit_flags(v & 0xFFFFFFFF, _GRND)
        return hex(v)

    def result(self, spec, shown: int | None) -> str:
        if shown is None:
            return " = ?"
        if -4096 < shown < 0:
            ename = lerrno.LINUX_ERRNO_NAMES.get(-shown)
            if ename is None:
                return f" = -1 {-shown}"
            host = _host_errno(ename)
            text = os.strerror(host) if host else ename
            return f" = -1 {ename} ({text})"
        if spec.ret == "hex":
            return f" = {shown & 0xFFFFFFFFFFFFFFFF:#x}"
        return f" = {shown}"

    def trace(self, nr: int, entry, a: list[int]):
        fn, decode = entry
        decoded = decode(_RAW6.pack(*a[1:7])) if decode else ()
        n = len(decoded)
        spec = TABLE[nr]
        args = a[1:n + 1]            # raw, as strace shows them
        kinds = spec.args or ("hex",) * n
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
        parts = []
        for i, k in enumerate(kinds[:n]):
            # Like strace: open's mode only matters (and is shown) with O_CREAT/O_TMPFILE.
            if k == "mode" and i and kinds[i - 1] == "oflags" and not args[i - 1] & _MODE_FLAGS:
                continue
            parts.append(self.arg(k, args, i, shown))
        name = SYSCALL_NAMES.get(nr, f"syscall_{nr}")
        log.emit(f"{name}({', '.join(parts)}){self.result(spec, shown)}\n")
        if exc is not None:
            raise exc
        return ret


def _host_errno(name: str) -> int:
    import errno
    return getattr(errno, name, 0)
