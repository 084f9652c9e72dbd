"""Shebang (`#!`) scripts, by the rules of Linux's fs/binfmt_script.c and fs/exec.c.

`parse_shebang_bytes` parses a file's first 256 bytes exactly as load_script()
does; `elf_parse_shebang` does it for a file; `resolve_program` follows a chain
of scripts to the ELF that finally runs (exec_binprm's loop), building its
argv.  Both the CLI and the guest's execve use them, so a script behaves the
same either way.

Linux's rules, kept on purpose:
- only the first BINPRM_BUF_SIZE (256) bytes are looked at; without a newline
  in them the line is accepted only if the interpreter path visibly ends
  (a blank or NUL follows it) — otherwise it may be truncated: ENOEXEC;
- blanks (space, tab) after `#!` are skipped, the interpreter path ends at
  the next blank or NUL, and the rest of the line, trimmed of surrounding
  blanks, is ONE optional argument (inner spaces kept);
- a CR is not a blank: `#!/bin/sh\\r\\n` names the interpreter "/bin/sh\\r";
- an empty interpreter is ENOEXEC (but `#!` + blanks + NUL with no newline names
  the empty path, which the kernel resolves to the cwd: EACCES);
- up to 5 levels of script interpreters; a 6th script level is ELOOP;
- argv = [interpreter, optional-arg, script path as given, original argv[1:]...].
"""
from __future__ import annotations

import os
import stat
from _collections_abc import Callable     # (collections.abc's own: the package costs start-up)

BINPRM_BUF_SIZE = 256
# fs/exec.c exec_binprm(): `if (depth > 5) return -ELOOP;` with depth counting
# the files examined from 0: five scripts may chain before the final binary.
MAX_DEPTH = 5


class ShebangError(Exception):
    """Executing the script fails with Linux errno `errno_name` (ENOEXEC, ENOENT, ELOOP…).

    `path` names the file the error is about: the interpreter for a missing
    one, the script itself otherwise.
    """

    def __init__(self, errno_name: str, message: str, path: str = "", script: str | None = None):
        super().__init__(message)
        self.errno_name = errno_name
        self.path = path
        self.script = script     # the script whose #! line named `path`, if any


def _spacetab(c: int) -> bool:
    return c == 0x20 or c == 0x09


# The two scanners take an INCLUSIVE last index, like the kernel's helpers.
def _next_non_spacetab(buf: bytes, first: int, last: int) -> int | None:
    while first <= last:
        if not _spacetab(buf[first]):
            return first
        first += 1
    return None


def _next_terminator(buf: bytes, first: int, last: int) -> int | None:
    while first <= last:
        c = buf[first]
        if c == 0 or _spacetab(c):
            return first
        first += 1
    return None


def _strnchr(buf: bytes, c: int) -> int | None:
    """The kernel's strnchr: the first `c` before the first NUL, or None."""
    for i, b in enumerate(buf):
        if b == c:
            return i
        if b == 0:
            return None
    return None


def _cstring(buf: bytes, start: int, end: int) -> bytes:
    s = buf[start:end]
    nul = s.find(b"\0")
    return s if nul < 0 else s[:nul]


def parse_shebang_bytes(head: bytes) -> tuple[bytes, bytes | None] | None:
    """(interpreter, optional argument) from a file's first bytes; None if not a script.

    Raises ShebangError("ENOEXEC") for a `#!` line Linux refuses.
    """
    if head[:2] != b"#!":
        return None
    # bprm->buf: the first 256 bytes, zero-padded when the file is shorter.
    buf = head[:BINPRM_BUF_SIZE].ljust(BINPRM_BUF_SIZE, b"\0")
    buf_end = BINPRM_BUF_SIZE - 1
    i_end = _strnchr(buf, 0x0A)
    if i_end is None:
        i_end = _next_non_spacetab(buf, 2, buf_end)
        if i_end is None:
            raise ShebangError("ENOEXEC", "the #! line is all blanks")
        # No blank/NUL after the interpreter path: it may be truncated.
        if _next_terminator(buf, i_end, buf_end) is None:
            raise ShebangError("ENOEXEC", f"the #! line is longer than {BINPRM_BUF_SIZE} bytes")
        i_end = buf_end
    while _spacetab(buf[i_end - 1]):     # buf starts with "#!", so this stops by index 2
        i_end -= 1
    i_name = _next_non_spacetab(buf, 2, i_end)
    if i_name is None or i_name == i_end:
        raise ShebangError("ENOEXEC", "no interpreter named after #!")
    arg = None
    i_sep = _next_terminator(buf, i_name, i_end)
    if i_sep is not None and buf[i_sep] != 0:
        i_arg = _next_non_spacetab(buf, i_sep, i_end)
        if i_arg is not None:
            # The kernel writes NULs at i_end and i_sep, then reads C strings.
            arg = _cstring(buf, i_arg, i_end)
    name_end = i_end if i_sep is None else min(i_sep, i_end)
    return _cstring(buf, i_name, name_end), arg


def elf_parse_shebang(path: str) -> tuple[bytes, bytes | None] | None:
    """(interpreter, optional argument) of the script at `path`, or None if it is not one.

    OSError from opening or reading the file propagates.
    """
    with open(path, "rb") as f:
        head = f.read(BINPRM_BUF_SIZE)
    return parse_shebang_bytes(head)


_OPEN_ERRORS = {"ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG", "EACCES", "EPERM", "EISDIR"}


def _read_exec(host: str, shown: str) -> bytes:
    """The first 256 bytes of `host`, checked the way open_exec() checks a binary.

    A directory or other non-regular file, or one without execute permission,
    is EACCES; a missing one is ENOENT.  `shown` is the name errors report.
    """
    try:
        st = os.stat(host)
        if not stat.S_ISREG(st.st_mode):
            raise ShebangError("EACCES", "Permission denied", shown)
        if not os.access(host, os.X_OK):
            raise ShebangError("EACCES", "Permission denied", shown)
        with open(host, "rb") as f:
            return f.read(BINPRM_BUF_SIZE)
    except OSError as e:
        import errno as _errno
        name = _errno.errorcode.get(e.errno or 0, "EIO")
        if name not in _OPEN_ERRORS:
            name = "EIO"
        if name == "EISDIR":
            name = "EACCES"
        raise ShebangError(name, os.strerror(getattr(_errno, name)), shown) from None


def resolve_program(path: str, argv: list[bytes],
                    to_host: Callable[[bytes], str] = os.fsdecode, *,
                    filename: bytes | None = None) -> tuple[str, list[bytes]]:
    """Follow `#!` lines from `path` to a binary; returns (its host path, final argv).

    `path` is a host path; `filename` is the name the guest gave (what lands in
    the interpreter's argv; default: `path`).  `to_host` maps a guest path (the
    interpreter named in a script) to a host path, so a sysroot applies to
    interpreters too.  Raises ShebangError with Linux's errno name.  The file
    finally returned is not checked for being an ELF: the ELF loader does that.
    """
    name = os.fsencode(path) if filename is None else filename
    host = path
    shown = os.fsdecode(name)
    head = _read_exec(host, shown)
    for _depth in range(MAX_DEPTH + 1):
        try:
            parsed = parse_shebang_bytes(head)
        except ShebangError as e:
            e.path = shown
            raise
        if parsed is None:
            return host, argv
        interp, arg = parsed
        # remove_arg_zero, then push the script name, the argument, the interpreter.
        argv = [interp] + ([arg] if arg is not None else []) + [name] + argv[1:]
        script, name = shown, interp
        shown = os.fsdecode(interp)
        host = to_host(interp)
        # open_exec(interpreter) happens before the depth check of the next round,
        # so a missing interpreter at the 6th level is ENOENT, not ELOOP.
        try:
            if not interp:
                # "#!" then only blanks up to a NUL (no newline): the kernel looks up
                # the empty name, which resolves to the cwd, a directory: EACCES.
                raise ShebangError("EACCES", "Permission denied", shown)
            head = _read_exec(host, shown)
        except ShebangError as e:
            e.script = script
            raise
    raise ShebangError("ELOOP", f"too many levels of #! interpreters (Linux allows {MAX_DEPTH})",
                       path)


_STRERROR = {"ENOENT": "No such file or directory", "EACCES": "Permission denied",
             "ENOEXEC": "Exec format error", "ELOOP": "Too many levels of symbolic links",
             "ENOTDIR": "Not a directory", "ENAMETOOLONG": "File name too long"}


def visible(name: str) -> str:
    """`name` with control characters in caret notation (a CR shows as ^M, as shells do)."""
    return "".join(f"^{chr(ord(c) ^ 0x40)}" if ord(c) < 0x20 or ord(c) == 0x7F else c
                   for c in name)


def cli_error(program: str, e: ShebangError) -> tuple[str, int]:
    """The one-line message and the shell-style exit status for a failed script exec.

    127 when something is missing (ENOENT), 126 when it exists but cannot be
    executed (EACCES, ENOEXEC, ELOOP…), as sh and bash report them.
    """
    status = 127 if e.errno_name == "ENOENT" else 126
    reason = _STRERROR.get(e.errno_name, str(e))
    if e.errno_name == "ELOOP" and str(e) != reason:   # script depth, not a symlink loop
        return f"{visible(program)}: {reason}: {e}", status
    if e.script is not None:
        # The interpreter named by a #! line is what failed (bash's "bad interpreter").
        return f"{visible(e.script)}: {visible(e.path)}: bad interpreter: {reason}", status
    shown = e.path or program
    if e.errno_name == "ENOEXEC":
        return f"{visible(shown)}: {reason}: {e}", status
    if e.errno_name == "EACCES" and os.path.isdir(shown):
        reason = "Is a directory"          # execve says EACCES; shells say this
    return f"{visible(shown)}: {reason}", status
