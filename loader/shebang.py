"""Shebang (`#!`) scripts, by the rules of Linux's fs/binfmt_script.c.

`elf_parse_shebang` reads one script's first line; `resolve_program` follows a
chain of scripts to the ELF that finally runs, building its argv.  Both the CLI
and the guest's execve use them, so a script behaves the same either way.
"""
from __future__ import annotations

import os
from typing import Callable

BINPRM_BUF_SIZE = 256
MAX_DEPTH = 5          # Linux: exec_binprm gives ELOOP past 5 levels of interpreters


class ShebangError(Exception):
    """Executing the script fails with Linux errno `errno_name` (ENOEXEC, ENOENT, ELOOP…)."""

    def __init__(self, errno_name: str, message: str, path: str = ""):
        super().__init__(message)
        self.errno_name = errno_name
        self.path = path


def _spacetab(c: int) -> bool:
    return c in (0x20, 0x09)


def _next_non_spacetab(buf: bytes, i: int, end: int) -> int | None:
    while i < end:
        if not _spacetab(buf[i]):
            return i
        i += 1
    return None


def _next_terminator(buf: bytes, i: int, end: int) -> int | None:
    while i < end:
        if _spacetab(buf[i]) or buf[i] == 0:
            return i
        i += 1
    return None


def _cstring(buf: bytes, start: int, end: int) -> bytes:
    s = buf[start:end]
    nul = s.find(b"\0")
    return s if nul < 0 else s[:nul]


def parse_shebang_bytes(head: bytes) -> tuple[bytes, bytes | None] | None:
    """(interpreter, optional argument) from a file's first bytes; None if not a script."""
    if not head.startswith(b"#!"):
        return None
    buf = (head[:BINPRM_BUF_SIZE] + bytes(BINPRM_BUF_SIZE))[:BINPRM_BUF_SIZE]
    buf_end = BINPRM_BUF_SIZE - 1
    nl = buf.find(b"\n")
    if nl < 0:
        i = _next_non_spacetab(buf, 2, buf_end)
        if i is None:
            raise ShebangError("ENOEXEC", "script line is all blanks")
        if _next_terminator(buf, i, buf_end) is None:
            raise ShebangError("ENOEXEC", "interpreter path longer than the 256-byte line limit")
        i_end = buf_end
    else:
        i_end = nl
    while i_end > 2 and _spacetab(buf[i_end - 1]):
        i_end -= 1
    i_name = _next_non_spacetab(buf, 2, i_end)
    if i_name is None or i_name == i_end:
        raise ShebangError("ENOEXEC", "no interpreter named after #!")
    i_sep = _next_terminator(buf, i_name, i_end)
    arg = None
    if i_sep is not None and buf[i_sep] != 0:
        i_arg = _next_non_spacetab(buf, i_sep, i_end)
        if i_arg is not None:
            arg = _cstring(buf, i_arg, i_end)
    name = _cstring(buf, i_name, i_sep if i_sep is not None else i_end)
    return name, arg


def elf_parse_shebang(path: str) -> tuple[bytes, bytes | None] | None:
    """(interpreter, optional argument) of the script at `path`, or None if it is not one."""
    with open(path, "rb") as f:
        head = f.read(BINPRM_BUF_SIZE)
    return parse_shebang_bytes(head)


def resolve_program(path: str, argv: list[bytes],
                    to_host: Callable[[bytes], str] = os.fsdecode) -> tuple[str, list[bytes]]:
    """Follow `#!` lines from `path` to an ELF; returns (host path of the ELF, final argv).

    `to_host` maps a guest path (the interpreter named in a script) to a host
    path, so a sysroot applies to interpreters too.  Raises ShebangError.
    """
    filename = os.fsencode(path)
    host = path
    for _depth in range(MAX_DEPTH + 1):
        try:
            parsed = elf_parse_shebang(host)
        except IsADirectoryError:
            raise ShebangError("EACCES", "Is a directory", host) from None
        except FileNotFoundError:
            raise ShebangError("ENOENT", "No such file or directory", host) from None
        except PermissionError:
            raise ShebangError("EACCES", "Permission denied", host) from None
        if parsed is None:
            return host, argv
        interp, arg = parsed
        argv = [interp] + ([arg] if arg is not None else []) + [filename] + argv[1:]
        filename = interp
        host = to_host(interp)
        if not os.path.exists(host):
            raise ShebangError("ENOENT", "bad interpreter: No such file or directory",
                               os.fsdecode(interp))
    raise ShebangError("ELOOP", "too many levels of script interpreters", path)
