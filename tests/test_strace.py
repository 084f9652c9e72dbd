"""--strace output: strace-style lines with decoded arguments and errors."""
from __future__ import annotations

import os
import re

import struct

import pytest

from helpers import available_libcs, guest_bin, run_elfuse


def _lines(r) -> list[str]:
    return r.stderr.decode(errors="replace").splitlines()


def test_write_line_glibc():
    if "glibc" not in available_libcs():
        pytest.skip("no glibc builds")
    r = run_elfuse([guest_bin("hello", "glibc"), "a"], options=["--strace"])
    assert r.returncode == 0
    assert r.stdout == b"Hello from an AArch64 guest! a\n"
    lines = _lines(r)
    assert 'write(1, "Hello from an AArch64 guest! a\\n", 31) = 31' in lines
    assert "exit_group(0) = ?" in lines
    # brk results are addresses, printed in hex
    assert any(re.fullmatch(r"brk\(NULL\) = 0x[0-9a-f]+", l) for l in lines), lines


def test_mmap_lines_and_errors():
    r = run_elfuse([guest_bin("t_mem_strict")], options=["--strace"])
    lines = _lines(r)
    assert any(re.fullmatch(r"mmap\(NULL, 8192, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\)"
                            r" = 0x[0-9a-f]+", l) for l in lines), lines
    assert any(re.fullmatch(r"mmap\(0x[0-9a-f]+, 4096, PROT_READ, MAP_PRIVATE\|MAP_ANONYMOUS\|"
                            r"MAP_FIXED_NOREPLACE, -1, 0\) = -1 EEXIST \(File exists\)", l)
               for l in lines), lines
    assert any(re.fullmatch(r"madvise\(0x[0-9a-f]+, 4096, 12345\) = -1 EINVAL \(Invalid argument\)", l)
               for l in lines), lines


def test_clock_lines():
    r = run_elfuse([guest_bin("t_time_strict")], options=["--strace"])
    lines = _lines(r)
    assert "nanosleep(0x8, 0x8) = -1 EFAULT (Bad address)" not in lines
    assert "nanosleep(0x8, NULL) = -1 EFAULT (Bad address)" in lines, lines
    assert "nanosleep({tv_sec=0, tv_nsec=1000}, 0x8) = 0" in lines, lines
    assert "clock_nanosleep(CLOCK_MONOTONIC, 0, 0x8, NULL) = -1 EFAULT (Bad address)" in lines, lines


# ----- the printer itself, in-process ------------------------------------------------


class _FakeProc:
    def __init__(self, mem):
        self.mem = mem


@pytest.fixture
def tracer_and_log():
    from elfuse_py.runtime import log
    from elfuse_py.runtime.memory import GuestMemory
    from elfuse_py.runtime.uc import ffi, lib
    from syscalls.strace import Tracer

    ucp = ffi.new("uc_engine **")
    assert lib.uc_open(2, 0, ucp) == 0
    mem = GuestMemory(ucp[0])
    mem.map(0x10000, 0x1000, 3)
    rfd, wfd = os.pipe()
    old = log.get_fd()
    log.set_fd(wfd)
    try:
        yield Tracer(_FakeProc(mem)), mem, rfd
    finally:
        log.set_fd(old)
        os.close(rfd)
        os.close(wfd)
        mem.unmap_all()
        lib.uc_close(ucp[0])


def _trace(tracer, name, fn, args):
    import syscalls.registry  # noqa: F401 - fills the table
    from syscalls.numbers import SYSCALL_NUMBERS

    nr = SYSCALL_NUMBERS[name]
    regs = [nr] + [a & 0xFFFFFFFFFFFFFFFF for a in args] + [0] * (6 - len(args))
    decode = struct.Struct(f"<{len(args)}Q").unpack_from   # raw arguments, as a table entry's decoder
    return tracer.trace(nr, (fn, decode), regs)


def test_openat_failure_line(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    mem.write(0x10000, b"/no/such/file\0")

    def fail(*_a):
        raise FileNotFoundError(2, "nope")

    with pytest.raises(FileNotFoundError):
        _trace(tracer, "openat", fail, [-100, 0x10000, 0o2000000, 0])
    line = os.read(rfd, 4096).decode()
    from syscalls.table import TABLE
    from syscalls.numbers import SYSCALL_NUMBERS
    if TABLE[SYSCALL_NUMBERS["openat"]].args[:3] != ("dirfd", "path", "oflags"):
        pytest.skip("openat's argument spec is not registered yet")
    assert line == 'openat(AT_FDCWD, "/no/such/file", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n'


def test_creat_shows_mode_and_strings_escape(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    from syscalls.strace import quote
    assert quote(b"\x7fELF\x02\x01\x01\x00\x001\"\\\n") == '"\\177ELF\\2\\1\\1\\0\\0001\\"\\\\\\n"'
    assert quote(b"a" * 40) == '"' + "a" * 32 + '"...'
    mem.write(0x10000, b"f\0")
    from syscalls.table import TABLE
    from syscalls.numbers import SYSCALL_NUMBERS
    if TABLE[SYSCALL_NUMBERS["openat"]].args[:4] != ("dirfd", "path", "oflags", "mode"):
        pytest.skip("openat's argument spec is not registered yet")
    assert _trace(tracer, "openat", lambda *a: 3, [5, 0x10000, 0o101, 0o644]) == 3
    assert os.read(rfd, 4096).decode() == 'openat(5, "f", O_WRONLY|O_CREAT, 0644) = 3\n'


def test_write_and_unknown_result(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    mem.write(0x10000, b"Hello, world\n")
    assert _trace(tracer, "write", lambda fd, b, n: n, [1, 0x10000, 13]) == 13
    assert os.read(rfd, 4096).decode() == 'write(1, "Hello, world\\n", 13) = 13\n'
    assert _trace(tracer, "write", lambda fd, b, n: -9, [77, 0x10000, 13]) == -9
    assert os.read(rfd, 4096).decode() == 'write(77, "Hello, world\\n", 13) = -1 EBADF (Bad file descriptor)\n'
