"""`#!` scripts by Linux's binfmt_script rules: the parser, the resolver, and the CLI.

The expected values are what Linux does (checked against the kernel's
fs/binfmt_script.c and fs/exec.c, and against the host's own execve where the
host is Linux).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import ROOT, guest_bin, run_elfuse
from elfuse_py.loader.shebang import (MAX_DEPTH, ShebangError, cli_error, parse_shebang_bytes,
                            resolve_program, visible)

SCRIPTS = ROOT / "guest-bins" / "scripts"


# ----- parse_shebang_bytes ------------------------------------------------------------

@pytest.mark.parametrize("head, expected", [
    (b"#!/bin/sh\n", (b"/bin/sh", None)),
    (b"#!/bin/sh", (b"/bin/sh", None)),                       # no newline, short file
    (b"#! \t/bin/sh\n", (b"/bin/sh", None)),                  # leading blanks skipped
    (b"#!/bin/sh \t \n", (b"/bin/sh", None)),                 # trailing blanks trimmed
    (b"#!/bin/sh -e\n", (b"/bin/sh", b"-e")),
    (b"#!/bin/sh  -e  -x \t\n", (b"/bin/sh", b"-e  -x")),     # ONE argument, inner spaces kept
    (b"#!/usr/bin/env python3 -u\n", (b"/usr/bin/env", b"python3 -u")),
    (b"#!/bin/sh\tone\ttwo\n", (b"/bin/sh", b"one\ttwo")),
    (b"#!/bin/sh\r\n", (b"/bin/sh\r", None)),                 # CR is part of the name
    (b"#!/bin/sh -e\r\n", (b"/bin/sh", b"-e\r")),
    (b"#!/bin/sh\0junk\n", (b"/bin/sh", None)),               # NUL ends the name
    (b"#!/bin/sh ab\0cd\n", (b"/bin/sh", b"ab")),             # ...and the argument
    (b"#!/bin/sh\nsecond line -x\n", (b"/bin/sh", None)),     # only the first line
])
def test_parse(head, expected):
    assert parse_shebang_bytes(head) == expected


@pytest.mark.parametrize("head", [b"\x7fELF\x02\x01", b"", b"#", b" #!/bin/sh\n", b"!#/bin/sh\n"])
def test_not_a_script(head):
    assert parse_shebang_bytes(head) is None


@pytest.mark.parametrize("head", [b"#!\n", b"#!   \t  \n", b"#!" + b" " * 300])
def test_empty_interpreter_is_enoexec(head):
    with pytest.raises(ShebangError) as ei:
        parse_shebang_bytes(head)
    assert ei.value.errno_name == "ENOEXEC"


@pytest.mark.parametrize("head", [b"#!", b"#! \t"])
def test_blanks_then_end_of_file_name_the_empty_path(tmp_path, head):
    # No newline: the NUL padding ends an empty name, which Linux looks up (the
    # cwd, a directory) and refuses with EACCES (checked against the host kernel).
    assert parse_shebang_bytes(head) == (b"", None)
    s = tmp_path / "s"
    s.write_bytes(head)
    s.chmod(0o755)
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(s), [b"s"])
    assert ei.value.errno_name == "EACCES"


def test_long_line_without_newline_is_enoexec():
    # The interpreter path runs past the 256-byte buffer: it may be truncated.
    with pytest.raises(ShebangError) as ei:
        parse_shebang_bytes(b"#!/" + b"a" * 300)
    assert ei.value.errno_name == "ENOEXEC"
    with pytest.raises(ShebangError):
        parse_shebang_bytes(b"#!/" + b"a" * 300 + b"\n")   # the newline is beyond byte 256


def test_long_line_with_visible_end_is_accepted():
    # The path ends (a blank follows) inside the buffer: the argument is cut, not the path.
    name = b"/" + b"b" * 100
    got = parse_shebang_bytes(b"#!" + name + b" " + b"x" * 400)
    assert got == (name, b"x" * (255 - 2 - len(name) - 1))
    # Byte 255 is still looked at for the terminator (the kernel's scans are inclusive).
    name = b"/" + b"c" * 252                      # fills bytes 2..254
    assert parse_shebang_bytes(b"#!" + name + b" tail") == (name, None)


def test_line_exactly_at_the_limit():
    name = b"/" + b"d" * 252                      # "#!" + 253 bytes + "\n" = 256 bytes
    assert parse_shebang_bytes(b"#!" + name + b"\n") == (name, None)


# ----- resolve_program ----------------------------------------------------------------

def _script(path: Path, line: bytes) -> Path:
    path.write_bytes(line + b"\necho not reached\n")
    path.chmod(0o755)
    return path


def _chain(tmp_path: Path, depth: int, interp: str) -> Path:
    """depth scripts: s1 runs `interp`, s(k) runs s(k-1); returns the top one."""
    prev = interp
    for k in range(1, depth + 1):
        p = _script(tmp_path / f"s{k}", b"#!" + os.fsencode(prev) + (b" A1" if k == 1 else b""))
        prev = str(p)
    return Path(prev)


@pytest.mark.parametrize("depth", range(1, MAX_DEPTH + 1))
def test_depth_up_to_5_resolves(tmp_path, depth):
    elf = guest_bin("hello")
    top = _chain(tmp_path, depth, elf)
    host, argv = resolve_program(str(top), [b"top-argv0", b"x", b"y"])
    assert host == elf
    names = [os.fsencode(str(tmp_path / f"s{k}")) for k in range(1, depth)]
    # [interp, arg, script, ...]: each level prepends its interpreter, the innermost first.
    assert argv == [os.fsencode(elf), b"A1", *names, os.fsencode(str(top)), b"x", b"y"]


def test_depth_6_is_eloop(tmp_path):
    top = _chain(tmp_path, 6, guest_bin("hello"))
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(top), [b"s6"])
    assert ei.value.errno_name == "ELOOP"


def test_depth_6_with_missing_interpreter_is_enoent(tmp_path):
    # Linux opens the 6th script's interpreter before the depth check fails.
    top = _chain(tmp_path, 6, "/nonexistent/elf")
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(top), [b"s6"])
    assert ei.value.errno_name == "ENOENT"


def test_missing_interpreter_names_it(tmp_path):
    s = _script(tmp_path / "s", b"#!/nonexistent/interp -x")
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(s), [b"s"])
    assert ei.value.errno_name == "ENOENT"
    assert ei.value.path == "/nonexistent/interp"
    assert ei.value.script == str(s)


def test_crlf_is_enoent_on_the_cr_name(tmp_path):
    elf = guest_bin("hello")
    s = _script(tmp_path / "s", b"#!" + os.fsencode(elf) + b"\r")
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(s), [b"s"])
    assert ei.value.errno_name == "ENOENT"
    assert ei.value.path == elf + "\r"
    msg, status = cli_error("./s", ei.value)
    assert status == 127 and elf + "^M" in msg and "\r" not in msg


def test_argument_with_spaces(tmp_path):
    elf = guest_bin("hello")
    s = _script(tmp_path / "s", b"#!  " + os.fsencode(elf) + b" \t one  two\tthree \t ")
    _, argv = resolve_program(str(s), [b"whatever", b"a b"])
    assert argv == [os.fsencode(elf), b"one  two\tthree", os.fsencode(str(s)), b"a b"]


def test_script_path_as_given(tmp_path):
    elf = guest_bin("hello")
    _script(tmp_path / "s", b"#!" + os.fsencode(elf))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _, argv = resolve_program("./s", [b"./s"])
    finally:
        os.chdir(cwd)
    assert argv == [os.fsencode(elf), b"./s"]


def test_empty_interpreter_names_the_script(tmp_path):
    s = _script(tmp_path / "s", b"#!  ")
    with pytest.raises(ShebangError) as ei:
        resolve_program(str(s), [b"s"])
    assert ei.value.errno_name == "ENOEXEC" and ei.value.path == str(s)


def test_interpreter_must_be_executable_file(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(Path(guest_bin("hello")).read_bytes())
    plain.chmod(0o644)
    for interp in (plain, tmp_path):                # not executable; a directory
        s = _script(tmp_path / "s", b"#!" + os.fsencode(str(interp)))
        with pytest.raises(ShebangError) as ei:
            resolve_program(str(s), [b"s"])
        assert ei.value.errno_name == "EACCES"


def test_to_host_maps_interpreters(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(Path(guest_bin("hello")).read_bytes())
    (root / "bin" / "tool").chmod(0o755)
    s = _script(tmp_path / "s", b"#!/bin/tool")
    host, argv = resolve_program(str(s), [b"s"], lambda g: str(root) + os.fsdecode(g))
    assert host == str(root / "bin" / "tool")
    assert argv == [b"/bin/tool", os.fsencode(str(s))]      # the guest's name, not the host's


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's own execve")
def test_matches_host_linux(tmp_path):
    """The same chains run by the host kernel (with /bin/echo) give the same argv / errno."""
    import errno
    import subprocess
    echo = "/bin/echo"
    if not os.path.exists(echo):
        pytest.skip("no /bin/echo")
    for depth in (1, 5):
        d = tmp_path / f"d{depth}"
        d.mkdir()
        top = _chain(d, depth, echo)
        r = subprocess.run([str(top), "x"], capture_output=True)
        _, argv = resolve_program(str(top), [os.fsencode(str(top)), b"x"])
        assert r.stdout.decode().split() == [a.decode() for a in argv[1:]]
    d = tmp_path / "d6"
    d.mkdir()
    top = _chain(d, 6, echo)
    with pytest.raises(OSError) as host_err:
        subprocess.run([str(top)])
    assert host_err.value.errno == errno.ELOOP
    with pytest.raises(ShebangError) as ours:
        resolve_program(str(top), [b"x"])
    assert ours.value.errno_name == "ELOOP"


def test_visible():
    assert visible("/bin/sh\r") == "/bin/sh^M"
    assert visible("a\tb\x7f") == "a^Ib^?"


# ----- the CLI ------------------------------------------------------------------------

def _run_script(rel: str, *args: str):
    guest_bin("echo_args")
    return run_elfuse([f"./{rel}", *args], cwd=str(SCRIPTS))


def _one_line(r, status: int, *fragments: str) -> str:
    err = r.stderr.decode(errors="replace")
    assert r.returncode == status, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for f in fragments:
        assert f in lines[0], lines[0]
    assert r.stdout == b""
    return lines[0]


@pytest.mark.parametrize("depth", range(1, 6))
def test_cli_depth_chain(depth):
    r = _run_script(f"depth{depth}.sh", "a", "b c")
    assert r.returncode == 0, r.stderr
    chain = [f"./depth{k}.sh" for k in range(1, depth + 1)]
    expected = ["../build/echo_args", *chain, "a", "b c"]
    assert r.stdout.decode().splitlines() == [f"argv[{i}]={v}" for i, v in enumerate(expected)]


def test_cli_depth_6_eloop():
    line = _one_line(_run_script("depth6.sh", "a"), 126, "./depth6.sh")
    assert "Too many levels" in line or "ELOOP" in line


def test_cli_argument_with_spaces():
    r = _run_script("arg_spaces.sh", "x y")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "argv[0]=../build/echo_args", "argv[1]=one  two\tthree", "argv[2]=./arg_spaces.sh",
        "argv[3]=x y"]


def test_cli_crlf():
    line = _one_line(_run_script("crlf.sh"), 127, "./crlf.sh", "../build/echo_args^M",
                     "No such file or directory")
    assert "\r" not in line


def test_cli_missing_interpreter():
    _one_line(_run_script("missing_interp.sh"), 127, "./missing_interp.sh",
              "/nonexistent/interpreter", "No such file or directory")


def test_cli_empty_interpreter():
    _one_line(_run_script("empty_interp.sh"), 126, "./empty_interp.sh", "Exec format error")


def test_cli_long_line():
    _one_line(_run_script("long_line.sh"), 126, "./long_line.sh", "Exec format error")


def test_cli_script_status_and_output():
    guest_bin("exit_with")
    r = _run_script("exit3.sh")
    # "3 from-script" is ONE argument: atoi gives 3, and argv[2] is the script.
    assert r.returncode == 3
    assert r.stdout == b"./exit3.sh\n"


def test_cli_absolute_script_path(tmp_path):
    elf = guest_bin("echo_args")
    s = _script(tmp_path / "abs.sh", b"#!" + os.fsencode(elf) + b" --flag")
    r = run_elfuse([str(s), "q"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [f"argv[0]={elf}", "argv[1]=--flag",
                                               f"argv[2]={s}", "argv[3]=q"]


def test_cli_interpreter_in_sysroot(tmp_path):
    elf = guest_bin("echo_args")
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "echo_args").write_bytes(Path(elf).read_bytes())
    (root / "usr" / "bin" / "echo_args").chmod(0o755)
    s = _script(tmp_path / "s.sh", b"#!/usr/bin/echo_args")
    r = run_elfuse([str(s)], options=["--sysroot", str(root)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == ["argv[0]=/usr/bin/echo_args", f"argv[1]={s}"]
