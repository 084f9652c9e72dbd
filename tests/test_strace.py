"""--strace output: strace-style lines with decoded arguments and errors."""
from __future__ import annotations

import os
import re

import struct

import pytest

from helpers import available_libcs, guest_bin, run_elfuse


def _norm(line: str) -> str:
    """A trace line with strace's column padding before `= ` taken out."""
    return re.sub(r"(\S) {2,}= ", r"\1 = ", line)


def _lines(r) -> list[str]:
    return [_norm(l) for l in r.stderr.decode(errors="replace").splitlines()]


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
    from elfuse_py.syscalls.strace import Tracer

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
    from elfuse_py.syscalls import registry
    registry.load_all()                     # fills the table
    from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS

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
    line = _norm(os.read(rfd, 4096).decode())
    from elfuse_py.syscalls import registry
    from elfuse_py.syscalls.table import TABLE
    from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS
    registry.load_all()
    assert TABLE[SYSCALL_NUMBERS["openat"]].args[:3] == ("dirfd", "path", "oflags")
    assert line == 'openat(AT_FDCWD, "/no/such/file", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n'


def test_creat_shows_mode_and_strings_escape(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    from elfuse_py.syscalls.strace import quote
    assert quote(b"\x7fELF\x02\x01\x01\x00\x001\"\\\n") == '"\\177ELF\\2\\1\\1\\0\\0001\\"\\\\\\n"'
    assert quote(b"a" * 40) == '"' + "a" * 32 + '"...'
    mem.write(0x10000, b"f\0")
    from elfuse_py.syscalls import registry
    from elfuse_py.syscalls.table import TABLE
    from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS
    registry.load_all()              # (handler areas load lazily: the tracer loads them all)
    assert TABLE[SYSCALL_NUMBERS["openat"]].args[:4] == ("dirfd", "path", "oflags", "mode")
    assert _trace(tracer, "openat", lambda *a: 3, [5, 0x10000, 0o101, 0o644]) == 3
    assert os.read(rfd, 4096).decode() == 'openat(5, "f", O_WRONLY|O_CREAT, 0644)  = 3\n'


def test_write_and_unknown_result(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    mem.write(0x10000, b"Hello, world\n")
    assert _trace(tracer, "write", lambda fd, b, n: n, [1, 0x10000, 13]) == 13
    # the result at strace's column 40
    assert os.read(rfd, 4096).decode() == 'write(1, "Hello, world\\n", 13)          = 13\n'
    assert _trace(tracer, "write", lambda fd, b, n: -9, [77, 0x10000, 13]) == -9
    assert _norm(os.read(rfd, 4096).decode()) == \
        'write(77, "Hello, world\\n", 13) = -1 EBADF (Bad file descriptor)\n'


# ----- strace -f's shapes with several processes and threads --------------------------------

_PREFIX = re.compile(r"^\[pid +(\d+)\] ")


def _family(libc: str, options=("--strace",), **kw):
    if libc not in available_libcs():
        pytest.skip(f"no {libc} builds")
    r = run_elfuse([guest_bin("strace_family", libc)], options=list(options), **kw)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    assert r.stdout == b"exec'd child\n"
    return r


def _unprefixed(line: str) -> tuple[int | None, str]:
    m = _PREFIX.match(line)
    return (int(m.group(1)), line[m.end():]) if m else (None, line)


@pytest.mark.parametrize("libc", ["musl", "glibc"])
def test_family_pids_exec_and_decoded_flags(libc):
    r = _family(libc)
    raw = r.stderr.decode(errors="replace").splitlines()
    lines = [_norm(l) for l in raw]
    prog = guest_bin("strace_family", libc)
    # strace starts with the execve it ran, unprefixed while one task is traced.
    assert re.fullmatch(rf'execve\("{re.escape(prog)}", \["{re.escape(prog[:32])}"(\.\.\.)?\], '
                        r"0x[0-9a-f]+ /\* \d+ vars \*/\) = 0", lines[0]), lines[0]
    first_clone = next(i for i, l in enumerate(lines) if l.startswith("clone("))
    assert not any(_PREFIX.match(l) for l in lines[:first_clone + 1])
    # Flags by name, 0 as 0, ioctl requests by name, socket constants by name.
    body = [_unprefixed(l)[1] for l in lines]
    for want in ['pipe2([3, 4], 0) = 0', 'pipe2([5, 6], O_NONBLOCK|O_CLOEXEC) = 0',
                 'dup3(5, 40, O_CLOEXEC) = 40', 'ioctl(5, FIONREAD, [0]) = 0',
                 'ioctl(5, FIONBIO, [1]) = 0', 'ioctl(5, FIOCLEX) = 0',
                 'socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 7',
                 'socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 8',
                 'setsockopt(8, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0',
                 'getsockopt(8, SOL_SOCKET, SO_TYPE, [2], [4]) = 0',
                 'eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = 9',
                 'openat(AT_FDCWD, "/nonexistent/strace", O_RDONLY) = -1 ENOENT (No such file or directory)']:
        assert any(b == want or b == want.replace("O_RDONLY)", "O_RDONLY|O_LARGEFILE)") for b in body), \
            (want, body)
    assert any(re.fullmatch(r"ioctl\(5, TIOCGWINSZ, 0x[0-9a-f]+\) = -1 ENOTTY \(Inappropriate ioctl "
                            r"for device\)", b) for b in body)
    assert any(re.fullmatch(r"mmap\(NULL, 8192, PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS, -1, 0\)"
                            r" = 0x[0-9a-f]+", b) for b in body)
    # The thread: clone's flags by name, then lines of two tasks with [pid N].
    thread = next(b for b in body if "CLONE_THREAD" in b)
    assert re.match(r"clone\(child_stack=0x[0-9a-f]+, flags=CLONE_VM\|CLONE_FS\|CLONE_FILES\|"
                    r"CLONE_SIGHAND\|CLONE_THREAD\|CLONE_SYSVSEM\|CLONE_SETTLS\|CLONE_PARENT_SETTID\|"
                    r"CLONE_CHILD_CLEARTID(\|0x400000)?, parent_tid=\[(\d+)\], tls=0x[0-9a-f]+, "
                    r"child_tidptr=0x[0-9a-f]+\) = (\d+)$", thread), thread
    tid = int(thread.rsplit("= ", 1)[1])
    main_pid = next(int(m.group(1)) for m in map(_PREFIX.match, lines) if m and int(m.group(1)) != tid)
    # The reader thread blocks in read while main runs: strace's unfinished/resumed pair.
    assert f"[pid {tid:5d}] read(3,  <unfinished ...>" in raw
    assert any(l.startswith(f"[pid {tid:5d}] <... read resumed>\"x\", 1)") and l.endswith("= 1")
               for l in raw)
    assert f"[pid {tid:5d}] +++ exited with 0 +++" in raw
    # The fork children: SIGCHLD as the exit signal, the exec'd image's line with = 0,
    # the decoded wait statuses and options.
    forks = [b for b in body if b.startswith("clone(child_stack=NULL")]
    assert len(forks) == 3, forks
    for f in forks:
        assert re.fullmatch(r"clone\(child_stack=NULL, flags=(SIGCHLD|CLONE_CHILD_CLEARTID\|"
                            r"CLONE_CHILD_SETTID\|SIGCHLD, child_tidptr=0x[0-9a-f]+)\) = \d+", f), f
    child, killed, last = (int(f.rsplit("= ", 1)[1]) for f in forks)
    assert any(re.fullmatch(rf'\[pid +{child}\] execve\("{re.escape(prog)}", \[.*, "child"\], '
                            r"0x[0-9a-f]+ /\* \d+ vars \*/\) = 0", l) for l in lines), lines
    assert f"[pid {child:5d}] +++ exited with 3 +++" in raw
    assert f"[pid {killed:5d}] +++ killed by SIGTERM +++" in raw
    # Its own previous line (the parent's lines may come in between: they run at once).
    own = [l for l in raw if l.startswith(f"[pid {killed:5d}] ")]
    sig_line = own.index(f"[pid {killed:5d}] +++ killed by SIGTERM +++") - 1
    assert own[sig_line] == (f"[pid {killed:5d}] --- SIGTERM {{si_signo=SIGTERM, si_code=SI_USER, "
                             f"si_pid={killed}, si_uid={os.getuid()}}} ---")
    assert any(re.fullmatch(rf"(\[pid +{main_pid}\] )?wait4\({child}, \[\{{WIFEXITED\(s\) && "
                            rf"WEXITSTATUS\(s\) == 3\}}\], 0, NULL\) = {child}", l) for l in lines)
    assert any(re.fullmatch(rf"(\[pid +{main_pid}\] )?wait4\({killed}, \[\{{WIFSIGNALED\(s\) && "
                            rf"WTERMSIG\(s\) == SIGTERM\}}\], 0, NULL\) = {killed}", l) for l in lines)
    assert any(re.fullmatch(rf"(\[pid +{main_pid}\] )?waitid\(P_PID, {last}, \{{si_signo=SIGCHLD, "
                            rf"si_code=CLD_EXITED, si_pid={last}, si_uid=\d+, si_status=0, si_utime=0, "
                            r"si_stime=0\}, WEXITED, NULL\) = 0", l) for l in lines)
    # Once every child has gone, the last task's lines lose the prefix again, as strace's do.
    assert re.fullmatch(r"wait4\(-1, 0x[0-9a-f]+, WNOHANG\|__WALL, NULL\) = -1 ECHILD "
                        r"\(No child processes\)", lines[-3]), lines[-3:]
    assert lines[-2:] == ["exit_group(0) = ?", "+++ exited with 0 +++"]


def test_result_column_and_pid_padding():
    r = _family("musl")
    raw = r.stderr.decode(errors="replace").splitlines()
    short = [l for l in raw if re.match(r"(\[pid +\d+\] )?getpid\(\) ", l)]
    assert short and all(l.index("= ") == 40 for l in short), short
    assert all(re.match(r"\[pid [ \d]{5}\d*\] ", l) for l in raw if l.startswith("[pid"))


def test_output_file_every_line_prefixed(tmp_path):
    out = tmp_path / "trace.txt"
    out.write_text("stale\n" * 100)              # truncated at start, as strace -o does
    r = _family("musl", options=["-o", str(out)])
    assert b"execve(" not in r.stderr and b"+++" not in r.stderr
    text = out.read_text()
    assert "stale" not in text
    lines = text.splitlines()
    pids = {int(l.split()[0]) for l in lines}
    assert all(re.match(r"\d+ +\S", l) for l in lines), lines[:5]
    assert len(pids) >= 5                # main, its thread, three children
    assert sum("+++ exited with" in l or "+++ killed by" in l for l in lines) == 5
    assert any(re.fullmatch(r"\d+ +execve\(.*\"child\"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) += 0", l)
               for l in lines)
    # The same from the environment.
    out2 = tmp_path / "env.txt"
    _family("musl", options=[], extra_env={"ELFUSE_STRACE_FILE": str(out2)})
    assert len(out2.read_text().splitlines()) == len(lines)
    r = _family("musl", options=[], extra_env={"ELFUSE_STRACE": "1"})
    assert b"+++ exited with 0 +++" in r.stderr


def test_output_file_error():
    r = run_elfuse([guest_bin("hello")], options=["-o", "/nonexistent/dir/trace"])
    assert r.returncode == 1
    assert r.stderr.decode().startswith("elfuse-py: cannot open the trace file /nonexistent/dir/trace")


def test_family_under_macos_model():
    r = _family("musl", extra_env={"ELFUSE_HOST_COMPAT": "darwin"})
    raw = r.stderr.decode(errors="replace")
    assert re.search(r"\[pid +\d+\] execve\(.*\"child\"\], 0x[0-9a-f]+ /\* \d+ vars \*/\) += 0", raw)
    assert "<... read resumed>" in raw and "+++ killed by SIGTERM +++" in raw


def test_parse_strace_joins_resumed_calls():
    from elfuse_py.api import parse_strace
    text = ('clone(child_stack=NULL, flags=SIGCHLD)  = 5\n'
            '[pid     4] wait4(5,  <unfinished ...>\n'
            '[pid     5] write(1, "x", 1)          = 1\n'
            'guest output\n'
            '[pid     4] <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 5\n'
            '[pid     5] +++ exited with 3 +++\n')
    calls, rest = parse_strace(text)
    assert [(c.name, c.pid, c.result) for c in calls] == [("clone", None, "5"), ("wait4", 4, "5"),
                                                          ("write", 5, "1")]
    assert calls[1].args == ["5", "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]", "0", "NULL"]
    assert rest == "guest output\n"


# ----- printers of single calls, in-process ------------------------------------------------


def _line(tracer, rfd, name, fn, args):
    _trace(tracer, name, fn, args)
    return _norm(os.read(rfd, 4096).decode()).rstrip("\n")


def test_decoded_flags_in_process(tracer_and_log):
    tracer, mem, rfd = tracer_and_log
    CLONE_THREAD_FLAGS = 0x3D0F00
    mem.write(0x10000, struct.pack("<I", 77))
    assert _line(tracer, rfd, "clone", lambda *a: -11, [0x1200011, 0, 0, 0, 0x10000]) == \
        ("clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
         "child_tidptr=0x10000) = -1 EAGAIN (Resource temporarily unavailable)")
    assert _line(tracer, rfd, "clone", lambda *a: 77, [CLONE_THREAD_FLAGS, 0x20000, 0x10000, 0x30000,
                                                        0x10004]) == \
        ("clone(child_stack=0x20000, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
         "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, parent_tid=[77], "
         "tls=0x30000, child_tidptr=0x10004) = 77")
    mem.write(0x10100, struct.pack("<8Q", 0x18000 | 0x100, 0, 0x10200, 0, 17, 0, 0, 0))
    assert _line(tracer, rfd, "clone3", lambda *a: -38, [0x10100, 88]) == \
        ("clone3({flags=CLONE_VM|CLONE_PARENT|CLONE_THREAD, exit_signal=SIGCHLD, stack=NULL, "
         "stack_size=0}, 88) = -1 ENOSYS (Function not implemented)")
    assert _line(tracer, rfd, "wait4", lambda *a: 0, [-1, 0x10000, 0x40000003, 0]) == \
        "wait4(-1, 0x10000, WNOHANG|WUNTRACED|__WALL, NULL) = 0"
    assert _line(tracer, rfd, "ioctl", lambda *a: 0, [0, 0x540E, 1]) == "ioctl(0, TIOCSCTTY, 1) = 0"
    assert _line(tracer, rfd, "ioctl", lambda *a: 0, [3, 0x80045430, 0x10000]) == \
        "ioctl(3, TIOCGPTN, [77]) = 0"
    assert _line(tracer, rfd, "ioctl", lambda *a: 0, [3, 0x40045431, 0x10000]) == \
        "ioctl(3, TIOCSPTLCK, [77]) = 0"
    assert _line(tracer, rfd, "ioctl", lambda *a: 0, [3, 0x5410, 0x10000]) == \
        "ioctl(3, TIOCSPGRP, [77]) = 0"
    assert _line(tracer, rfd, "ioctl", lambda *a: -25, [3, 0x5402, 0x10000]) == \
        "ioctl(3, TCSETS, 0x10000) = -1 ENOTTY (Inappropriate ioctl for device)"
    assert _line(tracer, rfd, "ioctl", lambda *a: -22, [3, 0x12345, 0]) == \
        "ioctl(3, 0x12345, NULL) = -1 EINVAL (Invalid argument)"
    mem.write(0x10300, struct.pack("<HHHH", 24, 80, 0, 0))
    assert _line(tracer, rfd, "ioctl", lambda *a: 0, [1, 0x5413, 0x10300]) == \
        "ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0"
    assert _line(tracer, rfd, "socket", lambda *a: 3, [10, 0x80802, 0]) == \
        "socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3"
    assert _line(tracer, rfd, "setsockopt", lambda *a: 0, [3, 6, 1, 0x10000, 4]) == \
        "setsockopt(3, SOL_TCP, TCP_NODELAY, [77], 4) = 0"
    assert _line(tracer, rfd, "setsockopt", lambda *a: 0, [3, 41, 26, 0x10000, 4]) == \
        "setsockopt(3, SOL_IPV6, IPV6_V6ONLY, [77], 4) = 0"
    assert _line(tracer, rfd, "fcntl", lambda *a: 0x802, [3, 3, 0]) == \
        "fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)"
    assert _line(tracer, rfd, "fcntl", lambda *a: 0, [3, 3, 0]) == "fcntl(3, F_GETFL) = 0 (flags O_RDONLY)"
    assert _line(tracer, rfd, "fcntl", lambda *a: 0, [3, 1, 0]) == "fcntl(3, F_GETFD) = 0"
    assert _line(tracer, rfd, "fcntl", lambda *a: 4, [3, 1030, 10]) == "fcntl(3, F_DUPFD_CLOEXEC, 10) = 4"
    assert _line(tracer, rfd, "kill", lambda *a: 0, [5, 17]) == "kill(5, SIGCHLD) = 0"
    assert _line(tracer, rfd, "inotify_init1", lambda *a: 3, [0]) == "inotify_init1(0) = 3"
    assert _line(tracer, rfd, "timerfd_create", lambda *a: 3, [1, 0o2004000]) == \
        "timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC|TFD_NONBLOCK) = 3"
    mem.write(0x10400, struct.pack("<Q", (1 << 16) | (1 << 9)))
    assert _line(tracer, rfd, "rt_sigprocmask", lambda *a: 0, [0, 0x10400, 0, 8]) == \
        "rt_sigprocmask(SIG_BLOCK, [USR1 CHLD], NULL, 8) = 0"
    assert _line(tracer, rfd, "futex", lambda *a: 1, [0x10000, 0x81, 1, 0, 0, 0]) == \
        "futex(0x10000, FUTEX_WAKE_PRIVATE, 1) = 1"
    assert _line(tracer, rfd, "futex", lambda *a: -110, [0x10000, 0x189, 0, 0, 0, 0xFFFFFFFF]) == \
        ("futex(0x10000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 0, NULL, "
         "FUTEX_BITSET_MATCH_ANY) = -1 ETIMEDOUT (Connection timed out)")


# ----- against the real strace, where this host can run it ---------------------------------

# The calls both builds make alike (x86_64 musl has pipe() and open() where AArch64 has
# pipe2(..., 0) and openat, and its own start-up calls), per program; pids, addresses and
# (for strace_flags) fd numbers from 10 on are masked.
_COMPARED = {
    "strace_family": ({"ioctl", "socket", "setsockopt", "getsockopt", "eventfd2", "dup3", "wait4",
                       "waitid", "kill"}, r"\b\d{3,}\b"),
    "strace_flags": ({"dup3", "eventfd2", "epoll_create1", "inotify_init1", "memfd_create",
                      "signalfd4", "timerfd_create", "socketpair", "accept", "accept4", "fcntl",
                      "mmap", "sendto", "recvfrom", "shutdown", "ioctl", "madvise"}, r"\b\d{2,}\b"),
}


def _normalised(calls, program: str) -> list[str]:
    names, numbers = _COMPARED[program]
    out = []
    for c in calls:
        if c.name in names:
            text = f"{c.name}({', '.join(c.args)}) = {c.result}"
            text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
            # A child's CPU times are the kernel's, not the printer's business.
            text = re.sub(r"(si_[us]time)=[^,}]*", r"\1=T", text)
            out.append(re.sub(numbers, "N", text))
    return out


@pytest.mark.parametrize("program", sorted(_COMPARED))
def test_matches_real_strace_of_native_build(tmp_path, program):
    import platform
    import shutil
    import subprocess
    import sys
    from elfuse_py.api import parse_strace
    from helpers import ROOT
    if platform.machine() != "x86_64" or shutil.which("strace") is None:
        pytest.skip("needs an x86_64 host with strace")
    native = tmp_path / program
    src = str(ROOT / "guest-bins" / "src" / f"{program}.c")
    # Same libc on both sides: the host's cc (glibc, static) against the glibc guest build
    # when both exist (fast); else zig's x86_64 musl (its first libc build is slow) against musl.
    builds = []
    if shutil.which("cc") and "glibc" in available_libcs():
        builds.append(([shutil.which("cc"), "-static", "-O1", "-pthread"], "glibc"))
    builds.append(([sys.executable, "-m", "ziglang", "cc", "-target", "x86_64-linux-musl",
                    "-static", "-O1"], "musl"))
    for compiler, libc in builds:
        cc = subprocess.run([*compiler, "-o", str(native), src], capture_output=True, timeout=600)
        if cc.returncode == 0:
            break
    else:
        pytest.skip(f"no native build: {cc.stderr[-300:]!r}")
    real = subprocess.run(["strace", "-f", "-q", str(native)], capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if real.returncode != 0 or not real.stderr.rstrip().endswith(b"+++ exited with 0 +++"):
        pytest.skip(f"strace cannot trace here: {real.stderr[-300:]!r}")
    ours = run_elfuse([guest_bin(program, libc)], options=["--strace"], input=b"")
    assert ours.returncode == 0, ours.stderr[-2000:]
    want = _normalised(parse_strace(real.stderr.decode(errors="replace"))[0], program)
    got = _normalised(parse_strace(ours.stderr.decode(errors="replace"))[0], program)
    assert len(want) >= 12
    # Lines of different processes interleave differently: compare what each call printed.
    assert sorted(got) == sorted(want)


def test_fault_signal_and_kill_lines():
    r = run_elfuse([guest_bin("fault_segv")], options=["--strace"])
    assert r.returncode == 139
    lines = _lines(r)
    assert lines[-3:] == ["--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0xdead0000} ---",
                          "Segmentation fault", "+++ killed by SIGSEGV +++"], lines[-5:]


def test_siginfo_printer():
    from elfuse_py.syscalls.strace_calls import siginfo
    chld = struct.pack("<iii4xiIi4xqq", 17, 0, 2, 42, 1000, 9, 0, 0).ljust(128, b"\0")
    assert siginfo(chld) == ("{si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=42, si_uid=1000, "
                             "si_status=SIGKILL, si_utime=0, si_stime=0}")
    tkill = struct.pack("<iii4xiI", 10, 0, -6, 7, 0).ljust(128, b"\0")
    assert siginfo(tkill) == "{si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=7, si_uid=0}"
    queued = struct.pack("<iii4xiIi", 34, 0, -1, 7, 0, 5).ljust(128, b"\0")
    assert siginfo(queued) == ("{si_signo=SIGRT_2, si_code=SI_QUEUE, si_pid=7, si_uid=0, si_int=5, "
                               "si_ptr=0x5}")
    assert siginfo(struct.pack("<iii", 2, 0, 0x80).ljust(128, b"\0")) == \
        "{si_signo=SIGINT, si_code=SI_KERNEL}"


def test_command_line_wins_over_the_environment(tmp_path):
    out = tmp_path / "env.txt"
    r = run_elfuse([guest_bin("hello")], options=["--strace"],
                   extra_env={"ELFUSE_STRACE_FILE": str(out)})
    assert b"+++ exited with 0 +++" in r.stderr and not out.exists()
    r = run_elfuse([guest_bin("hello")], extra_env={"ELFUSE_STRACE": "0"})
    assert b"+++" not in r.stderr
