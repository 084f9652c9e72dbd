"""The command line: options, exit statuses, guest faults and bad input.

Bad input must give exactly one clear error line on stderr (followed, where it
helps, by lines explaining it and a `hint:`), the exit status a shell would
give (126 cannot execute, 127 not found) and never a traceback.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, guest_bin, run_elfuse


def _lines(b: bytes) -> list[str]:
    return b.decode(errors="replace").splitlines()


# ----- options -------------------------------------------------------------------------

def test_version():
    r = run_elfuse(["--version"])
    assert r.returncode == 0
    assert r.stdout.decode().startswith("elfuse-py ")
    from elfuse_py import __version__
    assert __version__ in r.stdout.decode()


@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_help(opt):
    r = run_elfuse([opt])
    assert r.returncode == 0
    out = r.stdout.decode()
    assert out.startswith("usage: elfuse-py")
    for o in ("-E VAR=VALUE", "-U VAR", "-0 ARGV0", "--strace", "--version"):
        assert o in out


def test_no_program_is_a_usage_error():
    r = run_elfuse([])
    assert r.returncode == 2
    assert b"usage: elfuse-py" in r.stderr


def test_unknown_option():
    r = run_elfuse(["--no-such-option", guest_bin("hello")])
    assert r.returncode == 2
    assert _lines(r.stderr)[0] == "elfuse-py: unknown option --no-such-option"
    assert b"Traceback" not in r.stderr


def test_option_missing_value():
    r = run_elfuse(["-E"])
    assert r.returncode == 2
    assert b"-E needs a value" in r.stderr or b"option -E needs a value" in r.stderr
    assert b"Traceback" not in r.stderr


def test_env_set_and_unset():
    env = dict(os.environ, GUEST_T2="two", GUEST_SHOW="GUEST_T1,GUEST_T2,GUEST_T3")
    r = run_elfuse([guest_bin("args_env_auxv")], env=env,
                   options=["-E", "GUEST_T1=one=1", "-U", "GUEST_T2", "-E", "GUEST_T3="])
    out = _lines(r.stdout)
    assert "env GUEST_T1=one=1" in out
    assert "env GUEST_T2 unset" in out
    assert "env GUEST_T3=" in out


def test_env_inherited_without_options():
    r = run_elfuse([guest_bin("args_env_auxv")],
                   extra_env={"GUEST_T1": "inherited", "GUEST_SHOW": "GUEST_T1"})
    assert "env GUEST_T1=inherited" in _lines(r.stdout)


def test_argv0_and_arguments():
    exe = guest_bin("args_env_auxv")
    r = run_elfuse([exe, "a", "b c", ""], options=["-0", "myname"])
    out = _lines(r.stdout)
    assert out[:5] == ["argc=4", "argv[0]=myname", "argv[1]=a", "argv[2]=b c", "argv[3]="]
    # AT_EXECFN stays the path that was executed, as with qemu-user -0.
    assert f"AT_EXECFN={exe}" in out


def test_double_dash_ends_options():
    r = run_elfuse(["--", guest_bin("args_env_auxv"), "-E", "x"])
    out = _lines(r.stdout)
    assert out[:4] == ["argc=3", f"argv[0]={guest_bin('args_env_auxv')}", "argv[1]=-E", "argv[2]=x"]


def test_auxv_values():
    r = run_elfuse([guest_bin("args_env_auxv")])
    out = _lines(r.stdout)
    for want in ("AT_PAGESZ=4096", "AT_PLATFORM=aarch64", "AT_SECURE=0", "AT_CLKTCK=100",
                 "ok - AT_HWCAP is nonzero",
                 "ok - AT_RANDOM's 16 bytes are readable and not all zero"):
        assert want in out, r.stdout.decode()
    assert [l for l in out if l.startswith("not ok")] == []
    assert r.returncode == 0


def test_python_dash_m_entry_point():
    # run_elfuse uses `python -m elfuse_py`; the console script must behave the same.
    script = Path(os.sys.executable).parent / "elfuse-py"
    if not script.exists():
        pytest.skip("console script not installed in this interpreter's bin/")
    import subprocess
    r = subprocess.run([str(script), guest_bin("hello"), "x"], capture_output=True, timeout=60)
    assert r.stdout == b"Hello from an AArch64 guest! x\n"
    assert r.returncode == 0


def test_strace_prints_syscalls_to_stderr():
    r = run_elfuse([guest_bin("hello"), "traced"], options=["--strace"])
    assert r.returncode == 0
    assert r.stdout == b"Hello from an AArch64 guest! traced\n"
    err = r.stderr.decode(errors="replace")
    assert "write(1, " in err or "writev(1, " in err
    assert "exit_group(0)" in err or "exit(0)" in err
    assert "Traceback" not in err


def test_guest_exit_status_propagates(tmp_path):
    # fault programs aside, the shell-visible status is the guest's own.
    r = run_elfuse([guest_bin("hello")])
    assert r.returncode == 0


# ----- guest faults ---------------------------------------------------------------------

@pytest.mark.parametrize("prog,status,message,first", [
    ("fault_segv", 139, "Segmentation fault", "jumping to 0xdead0000"),
    ("fault_null", 139, "Segmentation fault", "writing to NULL"),
    ("fault_ill", 132, "Illegal instruction", "executing udf #0"),
])
def test_guest_fault_ends_like_linux(prog, status, message, first):
    r = run_elfuse([guest_bin(prog)])
    assert r.returncode == status, r.stderr.decode(errors="replace")
    assert _lines(r.stdout) == [first]       # output before the fault, nothing after
    err = _lines(r.stderr)
    assert message in err
    assert "Traceback" not in r.stderr.decode(errors="replace")


# ----- bad input ------------------------------------------------------------------------

def _one_error(r, status: int, *fragments: str, hinted: bool = False) -> str:
    err = r.stderr.decode(errors="replace")
    lines = err.splitlines()
    assert r.returncode == status, err
    assert "Traceback" not in err
    if hinted:
        assert len(lines) >= 2 and all(l.startswith("elfuse-py: ") for l in lines), err
        assert lines[-1].startswith("elfuse-py: hint: "), err
    else:
        assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert lines[0].startswith("elfuse-py: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    assert r.stdout == b""
    return lines[0]


def test_missing_program():
    _one_error(run_elfuse(["/nonexistent/prog"]), 127, "/nonexistent/prog",
               "No such file or directory")


def test_missing_program_named_once():
    line = _one_error(run_elfuse(["/nonexistent/prog"]), 127)
    assert line.count("/nonexistent/prog") == 1, line


def test_truncated_elf(tmp_path):
    p = tmp_path / "trunc"
    p.write_bytes(Path(guest_bin("hello")).read_bytes()[:100])
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p), "cannot execute")


def test_truncated_after_headers(tmp_path):
    data = Path(guest_bin("hello")).read_bytes()
    p = tmp_path / "trunc2"
    p.write_bytes(data[:len(data) // 3])
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p))


def test_x86_64_elf():
    host = shutil.which("true") or "/bin/true"
    with open(host, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip("host `true` is not an ELF (not a Linux host)")
    _one_error(run_elfuse([host]), 126, host, "cannot execute", hinted=True)


def test_directory(tmp_path):
    line = _one_error(run_elfuse([str(tmp_path)]), 126, str(tmp_path))
    # bash says "Is a directory"; execve's own errno is EACCES.
    assert "Is a directory" in line or "Permission denied" in line, line


def test_text_file_without_shebang(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("just some text\nnot a program\n")
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p), "cannot execute")


def test_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p))


def test_script_with_missing_interpreter(tmp_path):
    p = tmp_path / "script"
    p.write_text("#!/nonexistent/interp\necho hi\n")
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 127, "/nonexistent/interp", "bad interpreter")


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    p = tmp_path / "secret"
    p.write_bytes(Path(guest_bin("hello")).read_bytes())
    p.chmod(0)
    _one_error(run_elfuse([str(p)]), 126, str(p), "Permission denied")


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    line = _one_error(run_elfuse([str(a)]), 126, str(a), "Too many levels of symbolic links")
    assert line.count("Too many levels") == 1, line


def test_elf_magic_only(tmp_path):
    p = tmp_path / "magic"
    p.write_bytes(b"\x7fELF")
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p), "cannot execute")


def test_elf_header_only(tmp_path):
    p = tmp_path / "hdr"
    p.write_bytes(Path(guest_bin("hello")).read_bytes()[:64])
    p.chmod(0o755)
    _one_error(run_elfuse([str(p)]), 126, str(p), "cannot execute")


def test_not_executable_file(tmp_path):
    # execve needs an x bit even for root.
    p = tmp_path / "noexec"
    p.write_bytes(Path(guest_bin("hello")).read_bytes())
    p.chmod(0o644)
    _one_error(run_elfuse([str(p)]), 126, str(p), "Permission denied")


def test_dynamic_elf_without_interpreter(tmp_path):
    # A PT_INTERP that does not exist on this host: execve's ENOENT (127), one line.
    import subprocess
    gcc = shutil.which("aarch64-linux-gnu-gcc")
    if gcc is None:
        pytest.skip("needs aarch64-linux-gnu-gcc to build a dynamic binary")
    p = tmp_path / "dyn"
    src = ROOT / "guest-bins" / "src" / "hello.c"
    r = subprocess.run([gcc, "-O2", "-Wl,--dynamic-linker=/nonexistent/ld-linux-aarch64.so.1",
                        "-o", str(p), str(src)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("could not link a dynamic binary: " + r.stderr.decode(errors="replace")[-200:])
    _one_error(run_elfuse([str(p)]), 127, "/nonexistent/ld-linux-aarch64.so.1", hinted=True)


# ----- the same conventions as qemu-user ------------------------------------------------

@pytest.mark.parametrize("opts", [[], ["-0", "renamed"], ["-E", "GUEST_T1=x", "-U", "HOME"]])
def test_options_match_qemu(opts):
    from helpers import available_libcs, run_qemu
    for libc in available_libcs():
        exe = guest_bin("args_env_auxv", libc)
        q = run_qemu([*opts, exe, "one", "two words"], input=b"")
        e = run_elfuse([exe, "one", "two words"], options=opts, input=b"")
        assert (e.stdout, e.returncode) == (q.stdout, q.returncode), \
            f"{libc}:\nelfuse:\n{e.stdout.decode()}{e.stderr.decode()}\nqemu:\n{q.stdout.decode()}"


# ----- hints: guest roots and dynamic programs ------------------------------------------------

def _dynamic_elf(path: Path, interp: bytes = b"/lib/ld-linux-aarch64.so.1") -> str:
    """A minimal AArch64 executable with a PT_INTERP (it never gets to run)."""
    import struct
    ehdr, phdr = struct.Struct("<16sHHIQQQIHHHHHH"), struct.Struct("<IIQQQQQQ")
    interp_off = ehdr.size + 2 * phdr.size
    size = interp_off + len(interp) + 1
    data = ehdr.pack(b"\x7fELF\x02\x01\x01" + bytes(9), 2, 183, 1, 0x400000 + interp_off,
                     ehdr.size, 0, 0, ehdr.size, phdr.size, 2, 64, 0, 0)
    data += phdr.pack(3, 4, interp_off, 0x400000 + interp_off, 0, len(interp) + 1, len(interp) + 1, 1)
    data += phdr.pack(1, 5, 0, 0x400000, 0, size, size, 0x1000)
    data += interp + b"\0"
    path.write_bytes(data)
    path.chmod(0o755)
    return str(path)


def test_help_covers_dynamic_programs_and_the_root():
    from elfuse_py import cli
    out = run_elfuse(["--help"]).stdout.decode()
    for want in ("dynamically linked", "-L ROOT", "ELFUSE_SYSROOT", "ELFUSE_STRACE", "-o FILE"):
        assert want in out
    try:
        cli.parse_args(["-g", "1234", "prog"])
    except cli.UsageError:
        return                          # no gdb stub in this build: nothing to document
    assert "-g [HOST:]PORT" in out


def test_dynamic_program_without_root_says_so(tmp_path):
    prog = _dynamic_elf(tmp_path / "dyn")
    r = run_elfuse([prog], env={k: v for k, v in os.environ.items() if k != "ELFUSE_SYSROOT"}
                   | {"PYTHONPATH": str(ROOT)})
    assert r.returncode == 127
    err = _lines(r.stderr)
    assert f"elfuse-py: {prog} is dynamically linked: its interpreter " \
           f"/lib/ld-linux-aarch64.so.1 was not found" in err
    assert any(l.startswith("elfuse-py: hint: ") and f"-L ROOT {prog}" in l and "ELFUSE_SYSROOT" in l
               for l in err), err
    # With a root that lacks the interpreter the hint says the root is the problem.
    root = tmp_path / "root"
    root.mkdir()
    r = run_elfuse(["-L", str(root), prog])
    assert r.returncode == 127
    err = r.stderr.decode()
    assert f"was not found in the guest root {root}" in err
    assert f"hint: {root} does not look like a Linux AArch64 root" in err
    # An interpreter that is not an AArch64 program (the host's, say).
    (root / "lib").mkdir()
    shutil.copy(shutil.which("sh") or "/bin/sh", root / "lib" / "ld-linux-aarch64.so.1")
    r = run_elfuse(["-L", str(root), prog])
    assert r.returncode != 0
    assert "is not a Linux AArch64 program" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


@pytest.mark.parametrize("how", ["missing", "file", "env"])
def test_sysroot_must_be_a_directory(tmp_path, how):
    f = tmp_path / "plain"
    f.write_text("x")
    if how == "env":
        r = run_elfuse([guest_bin("hello")], extra_env={"ELFUSE_SYSROOT": str(tmp_path / "nope")})
        assert _lines(r.stderr) == [f"elfuse-py: ELFUSE_SYSROOT={tmp_path / 'nope'}: no such directory"]
    else:
        bad = tmp_path / "nope" if how == "missing" else f
        r = run_elfuse(["-L", str(bad), guest_bin("hello")])
        assert len(_lines(r.stderr)) == 1 and _lines(r.stderr)[0].startswith(f"elfuse-py: -L {bad}: ")
    assert r.returncode == 2
    assert r.stdout == b""


def test_host_program_under_root_suggests_the_roots(tmp_path):
    host = shutil.which("true") or "/bin/true"
    root = tmp_path / "root"
    inside = root / host.lstrip("/")
    inside.parent.mkdir(parents=True)
    shutil.copy(guest_bin("hello"), inside)
    r = run_elfuse(["-L", str(root), host])
    assert r.returncode == 126
    err = r.stderr.decode()
    assert f"hint: {host} is the host's" in err and f"elfuse-py -L {root} {inside}" in err
    # Without a root holding it: the plain architecture hint.
    r = run_elfuse([host])
    assert r.returncode == 126
    assert "hint: elfuse-py runs Linux AArch64 programs" in r.stderr.decode()
