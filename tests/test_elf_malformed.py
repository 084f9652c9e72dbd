"""Hand-made malformed ELF files: each ends the way Linux's execve ends it.

The expected outcomes were measured on Linux 6.x with the same mutations of an
x86-64 static and static-PIE program (execve's errno, or the process killed
by SIGSEGV after the point of no return); see loader/elf.py for the rules.
From the CLI: one line naming the file and status 126/127 when execve fails,
139 when the new image dies.  From a guest's execve (exec_probe): the errno
with the caller's image intact, or a child killed by SIGSEGV.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from elf_fuzz_worker import run_jobs
from helpers import BUILD_DIRS, guest_bin

PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_INTERP, PT_GNU_STACK = 1, 3, 0x6474E551
U64 = (1 << 64) - 1


def _phdrs(d: bytes) -> list[list[int]]:
    phoff, = struct.unpack_from("<Q", d, 32)
    phnum, = struct.unpack_from("<H", d, 56)
    return [list(PHDR.unpack_from(d, phoff + 56 * i)) for i in range(phnum)]


def _put(d: bytearray, i: int, p: list[int]) -> None:
    PHDR.pack_into(d, struct.unpack_from("<Q", d, 32)[0] + 56 * i, *p)


def _load(d, k: int) -> int:
    return [i for i, p in enumerate(_phdrs(d)) if p[0] == PT_LOAD][k]


def seg(k: int, field: int, value):
    """Set field (2 offset, 3 vaddr, 5 filesz, 6 memsz) of the k-th PT_LOAD."""
    def f(d: bytearray, _path: Path) -> None:
        i = _load(d, k)
        p = _phdrs(d)[i]
        p[field] = (value(p) if callable(value) else value) & U64
        _put(d, i, p)
    return f


def header(off: int, fmt: str, value: int):
    def f(d: bytearray, _path: Path) -> None:
        struct.pack_into(fmt, d, off, value)
    return f


def interp(name, *, filesz: int | None = None, offset: int | None = None, at: int | None = None):
    """Turn the PT_GNU_STACK header (or the `at`-th header that is neither PT_LOAD nor
    PT_PHDR, in table order) into a PT_INTERP naming `name`."""
    def f(d: bytearray, path: Path) -> None:
        n = name(path) if callable(name) else name
        ph = _phdrs(d)
        if at is None:
            i = [j for j, p in enumerate(ph) if p[0] == PT_GNU_STACK][0]
        else:
            i = [j for j, p in enumerate(ph) if p[0] not in (PT_LOAD, 6)][at]
        off = len(d)
        d.extend(n)
        p = ph[i]
        p[0], p[2], p[5], p[6] = PT_INTERP, off if offset is None else offset, \
            len(n) if filesz is None else filesz, len(n)
        _put(d, i, p)
    return f


def both(*fs):
    def f(d, path):
        for g in fs:
            g(d, path)
    return f


def swap_loads(d: bytearray, _path: Path) -> None:
    a, b = _load(d, 1), _load(d, 2)
    ph = _phdrs(d)
    _put(d, a, ph[b])
    _put(d, b, ph[a])


def no_loads(d: bytearray, _path: Path) -> None:
    for i, p in enumerate(_phdrs(d)):
        if p[0] == PT_LOAD:
            _put(d, i, [0x60000000] + p[1:])      # an OS-specific type Linux ignores


def gnu_stack_x(d: bytearray, _path: Path) -> None:
    for i, p in enumerate(_phdrs(d)):
        if p[0] == PT_GNU_STACK:
            p[1] |= 1
            _put(d, i, p)


# (name, seed, mutation, CLI status, the errno a guest execve gets (None: it runs or dies))
CASES = [
    # after the point of no return: SIGSEGV
    ("filesz_gt_memsz", "hello", seg(-1, 6, lambda p: p[5] - 8), 139, None),
    ("filesz_gt_memsz_pie", "hello_pie", seg(0, 6, lambda p: p[5] // 2), 139, None),
    ("tiny_memsz_pie", "hello_pie", seg(-1, 6, 1), 139, None),
    ("tiny_sizes_pie", "hello_pie", both(seg(-1, 5, 1), seg(-1, 6, 1)), 139, None),
    ("huge_memsz", "hello", seg(-1, 6, 1 << 60), 139, None),
    ("memsz_past_address_space", "hello_pie", seg(-1, 6, 1 << 41), 139, None),
    ("huge_vaddr", "hello", seg(-1, 3, 1 << 62), 139, None),
    ("vaddr_wraps", "hello", seg(-1, 3, U64 & ~0xFFF), 139, None),
    ("misaligned_vaddr", "hello", seg(-1, 3, lambda p: p[3] + 8), 139, None),
    ("misaligned_vaddr_pie", "hello_pie", seg(1, 3, lambda p: p[3] + 0x100), 139, None),
    ("entry_minus_1", "hello", header(24, "<Q", U64), 139, None),
    ("entry_minus_1_pie", "hello_pie", header(24, "<Q", U64), 139, None),
    ("entry_zero", "hello", header(24, "<Q", 0), 139, None),
    ("entry_unmapped", "hello", header(24, "<Q", 0x12345678), 139, None),
    ("no_pt_load", "hello", no_loads, 139, None),
    # before it: execve fails
    ("phentsize", "hello", header(54, "<H", 32), 126, "ENOEXEC"),
    ("phnum_zero", "hello", header(56, "<H", 0), 126, "ENOEXEC"),
    ("phnum_huge", "hello", header(56, "<H", 0xFFFF), 126, "ENOEXEC"),
    ("phoff_huge", "hello", header(32, "<Q", 1 << 62), 126, "ENOEXEC"),
    ("huge_filesz", "hello", seg(-1, 5, 1 << 60), 126, "ENOEXEC"),
    ("huge_offset", "hello", seg(-1, 2, 1 << 62), 126, "ENOEXEC"),
    ("huge_offset_pie", "hello_pie", seg(0, 2, U64 & ~0xFFF), 126, "ENOEXEC"),
    ("interp_missing", "hello", interp(b"/nonexistent/ld-linux-aarch64.so.1\0"), 127, "ENOENT"),
    ("interp_not_nul_terminated", "hello", interp(b"/lib/ld-linux-aarch64.so.1"), 126, "ENOEXEC"),
    ("interp_over_path_max", "hello", interp(b"/" + b"a" * 5000 + b"\0"), 126, "ENOEXEC"),
    ("interp_name_too_long", "hello", interp(b"/" + b"a" * 4094 + b"\0"), 126, "ENAMETOOLONG"),
    ("interp_component_too_long", "hello", interp(b"/tmp/" + b"c" * 300 + b"\0"), 126, "ENAMETOOLONG"),
    ("interp_one_byte", "hello", interp(b"\0"), 126, "ENOEXEC"),
    ("interp_empty_name", "hello", interp(b"\0\0"), 126, "EACCES"),
    ("interp_past_eof", "hello", interp(b"/x\0", offset=1 << 40), 126, "EIO"),
    ("interp_directory", "hello", interp(b"/tmp\0"), 126, "EACCES"),
    ("interp_not_elf", "hello", interp(lambda p: str(p.parent / "notelf").encode() + b"\0"),
     126, "ELIBBAD"),
    ("interp_short_file", "hello", interp(lambda p: str(p.parent / "short").encode() + b"\0"),
     126, "EIO"),
    ("interp_not_executable", "hello", interp(lambda p: str(p.parent / "noexec").encode() + b"\0"),
     126, "EACCES"),
    ("interp_not_utf8", "hello", interp(b"/tmp/\xff\xfe/ld.so\0"), 127, "ENOENT"),
    ("interp_device", "hello", interp(b"/dev/zero\0"), 126, "EACCES"),
    ("interp_fifo", "hello", interp(lambda p: str(p.parent / "fifo").encode() + b"\0"), 126, "EACCES"),
    ("interp_symlink_loop", "hello", interp(lambda p: str(p.parent / "loop").encode() + b"\0"),
     126, "ELOOP"),
    ("interp_x86_64", "hello", interp(lambda p: str(p.parent / "x86").encode() + b"\0"), 126, "ELIBBAD"),
    # Linux ignores every PT_INTERP after the first
    ("two_interps_first_missing", "hello", both(interp(b"/nonexistent\0", at=0),
                                                 interp(lambda p: str(p).encode() + b"\0", at=1)),
     127, "ENOENT"),
    ("two_interps_second_missing", "hello", both(interp(lambda p: str(p).encode() + b"\0", at=0),
                                                  interp(b"/nonexistent\0", at=1)),
     0, None),
    # it runs
    ("interp_is_itself", "hello", interp(lambda p: str(p).encode() + b"\0"), 0, None),
    ("interp_is_itself_pie", "hello_pie", interp(lambda p: str(p).encode() + b"\0"), 0, None),
    ("misordered_loads", "hello", swap_loads, 0, None),
    ("exec_stack", "hello", gnu_stack_x, 0, None),
]


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, tuple[Path, dict, str]]:
    tmp = tmp_path_factory.mktemp("malformed")
    (tmp / "notelf").write_bytes(b"#not an ELF, but executable and long enough to be read\n" * 4)
    (tmp / "short").write_bytes(b"\x7fELF\x02\x01")
    (tmp / "noexec").write_bytes(Path(guest_bin("hello")).read_bytes())
    for name in ("notelf", "short"):
        (tmp / name).chmod(0o755)
    (tmp / "noexec").chmod(0o644)
    os.symlink(tmp / "loop", tmp / "loop")
    os.mkfifo(tmp / "fifo")
    (tmp / "fifo").chmod(0o755)
    host_elf = "/bin/true" if Path("/bin/true").read_bytes()[:4] == b"\x7fELF" else None
    if host_elf:
        x86 = tmp / "x86"
        x86.write_bytes(Path(host_elf).read_bytes())
        x86.chmod(0o755)
    jobs, paths = [], []
    for name, seed, mutation, _status, _errno in CASES:
        d = bytearray(Path(guest_bin(seed)).read_bytes())
        p = tmp / name
        mutation(d, p)
        p.write_bytes(bytes(d))
        p.chmod(0o755)
        jobs.append({"args": [str(p)], "stderr": str(p) + ".err"})
        paths.append(p)
    results = run_jobs(jobs, timeout=20)
    return {name: (p, r, Path(str(p) + ".err").read_bytes().decode(errors="replace"))
            for (name, *_), p, r in zip(CASES, paths, results)}


@pytest.mark.parametrize("name,status", [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_cli(cases, name, status):
    path, r, err = cases[name]
    if name == "interp_x86_64" and not (path.parent / "x86").exists():
        pytest.skip("no host ELF to use")
    assert not r["hang"] and not r["signal"], r
    assert "Traceback" not in err
    assert r["status"] == status, err
    if status in (126, 127):
        # One error line naming the file; a program whose interpreter is missing or built
        # for another machine may add the CLI's explanation and its `hint:` (elfuse_py/hints.py).
        lines = err.splitlines()
        assert str(path) in lines[0], err
        if len(lines) > 1:
            assert all(line.startswith("elfuse-py: ") for line in lines), err
            assert lines[-1].startswith("elfuse-py: hint: ") and len(lines) == 3, err
    elif status == 139:
        assert len(err.splitlines()) == 1, err


def test_misaligned_entry_is_sigbus_or_segv(tmp_path):
    """A PC that is not 4-aligned: a guest fault, never a hang.  (Linux delivers SIGBUS;
    unicorn reports an undefined instruction, so the emulator gives SIGILL: 132.)"""
    d = bytearray(Path(guest_bin("hello")).read_bytes())
    entry, = struct.unpack_from("<Q", d, 24)
    struct.pack_into("<Q", d, 24, entry + 2)
    p = tmp_path / "pc2"
    p.write_bytes(bytes(d))
    p.chmod(0o755)
    r, = run_jobs([{"args": [str(p)], "stderr": str(p) + ".err"}], timeout=20)
    assert not r["hang"] and not r["signal"] and r["status"] in (132, 135, 139), r


EXECVE_CASES = [("musl", n) for n in ("interp_missing", "interp_not_elf", "interp_name_too_long",
                                      "interp_symlink_loop", "interp_past_eof", "phentsize",
                                      "huge_offset", "filesz_gt_memsz", "entry_minus_1",
                                      "misaligned_vaddr_pie", "huge_memsz")] \
    + [("glibc", n) for n in ("interp_missing", "filesz_gt_memsz")]


@pytest.mark.parametrize("libc,name", EXECVE_CASES)
def test_guest_execve(cases, tmp_path, libc, name):
    """The same files from a guest's execve: the errno with the image intact, or the
    exec'd image killed by SIGSEGV (the parent's wait sees WIFSIGNALED)."""
    from helpers import run_elfuse
    from elfuse_py.runtime import lerrno
    probe = BUILD_DIRS[libc] / "exec_probe"
    if not probe.exists():
        pytest.skip(f"no {libc} build of exec_probe")
    path = cases[name][0]
    want_errno = next(c[4] for c in CASES if c[0] == name)
    if name == "interp_x86_64" and not (path.parent / "x86").exists():
        pytest.skip("no host ELF to use")
    r = run_elfuse([str(probe), str(path)], timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0 and "Traceback" not in r.stderr.decode(errors="replace"), r.stderr
    if want_errno:
        n = lerrno.LINUX_ERRNO[want_errno]
        assert out == f"child: errno={n}\nchild: exited 100\nself: errno={n} intact\n", out
    else:
        assert out == "child: signaled 11\n", out


def test_non_utf8_program_name(tmp_path):
    """A file name that is not UTF-8 is named in the one-line message by its own bytes."""
    import subprocess
    import sys
    from helpers import ROOT
    missing = os.fsencode(str(tmp_path)) + b"/\xff\xfe-missing"
    r = subprocess.run([sys.executable, "-m", "elfuse_py", missing], capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode == 127 and b"Traceback" not in r.stderr, r.stderr
    assert r.stderr.count(b"\n") == 1 and missing in r.stderr, r.stderr
