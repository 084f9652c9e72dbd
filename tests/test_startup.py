"""Start-up diet: a plain run imports none of what only faults, traces or rare calls need.

Each module below cost milliseconds of every start-up before it was made lazy
or dropped (docs/architecture.md, "Start-up").  The run's own `-X importtime`
report says what was imported; timings are never asserted.
"""
import os
import subprocess
import sys

import pytest
from helpers import ROOT, guest_bin

# capstone: only to describe a fault (--trace-faults, a crash report);
# unicorn, the package: its ctypes binding is never used (runtime/uc.py opens the
# wheel's libunicorn through our cffi declarations);
# elftools: the loader reads the ELF headers with struct;
# dataclasses (and the inspect it imports), typing: plain classes instead;
# tempfile: only for a file-backed memfd/eventfd or strace -o;
# syscalls.strace: the tracer, only with --strace;
# the guest /proc (runtime.procfs): on the first /proc path (paths.LazySpecialFiles);
# handler areas hello never calls (syscalls/lazy.py): the socket layer, epoll, exec,
# pidfds, the thread-parking layer; threading (the slice ticker is a bare _thread);
# the struct termios translation (syscalls.ttyflags: ioctl loads it on the first request
# that needs it, and hello's window-size query does not); the host's event objects
# (host.events, with its cffi module: waitid asks it about pidfds on a P_PIDFD wait);
# select (~0.15 ms: imported where poll is called) and bisect.py (the C _bisect is used);
# memfd_create's area and the host's memory-file seam (the write path asks syscalls.seals).
NOT_AT_START = ("capstone", "unicorn", "elftools", "dataclasses", "inspect", "typing", "tempfile",
                "threading", "elfuse_py.syscalls.ttyflags", "elfuse_py.host.events", "select", "bisect",
                "elfuse_py.syscalls.memfd", "elfuse_py.host.memfiles",
                "elfuse_py.syscalls.strace", "elfuse_py.runtime.procfs",
                "elfuse_py.syscalls.net", "elfuse_py.syscalls.epoll", "elfuse_py.syscalls.execve",
                "elfuse_py.syscalls.pidfd", "elfuse_py.syscalls.parking",
                "elfuse_py.syscalls.parked_io")
# Standard modules the emulator keeps off a Linux host's start-up (the macOS model
# imports some of them itself, to hide their Linux-only names): re (paths compiles its
# pattern on first use), enum via signal (host/hostsig.py), socket and selectors (the
# socket layer, procfs), secrets/hmac/hashlib (os.urandom names), shutil
# (rundir.remove_tree), pickle (marshal'd guest records), ctypes (loaded on first use),
# types (runtime/process.py names CodeType itself), array (host/fs.py's poll scan of
# open fds, a fallback), collections (~1.5 ms with operator, keyword, reprlib: deque comes
# from _collections, Callable from _collections_abc, small records are written out).
NOT_AT_START_NATIVE = ("re", "enum", "signal", "socket", "selectors", "secrets", "hmac", "collections",
                       "hashlib", "_hashlib", "shutil", "pickle", "ctypes", "random",
                       "types", "array")


def imported_modules(args: list[str], env: dict | None = None) -> set[str]:
    """The modules `python -X importtime -m elfuse_py ARGS` imports (guest output discarded)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "elfuse_py", *args],
                       cwd=ROOT, env={**os.environ, **(env or {})},
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    mods = set()
    for line in r.stderr.decode(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                mods.add(name)
    return mods


def _lazy_ones(mods: set[str], banned_list=NOT_AT_START) -> list[str]:
    return sorted(m for m in mods for banned in banned_list
                  if m == banned or m.startswith(banned + "."))


@pytest.mark.parametrize("compat", ["", "darwin"])
def test_plain_run_imports_no_lazy_module(compat):
    mods = imported_modules([guest_bin("hello")],
                            {"ELFUSE_HOST_COMPAT": compat} if compat else None)
    assert "elfuse_py.boot" in mods and "elfuse_py.loader.elf" in mods      # the report is what we think
    # The handler areas hello calls did load, on their first call (writev, exit_group).
    assert {"elfuse_py.syscalls.fileio", "elfuse_py.syscalls.proc"} <= mods
    assert _lazy_ones(mods) == []


def test_plain_run_on_linux_imports_no_heavy_stdlib_module():
    """The console script's way in (no runpy), on a Linux host without the macOS model."""
    if "linux" not in sys.platform:
        pytest.skip("the standard modules a Mac's host floor needs differ")
    code = "import sys; from elfuse_py.cli import main; sys.exit(main())"
    env = {k: v for k, v in os.environ.items() if k != "ELFUSE_HOST_COMPAT"}
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code, guest_bin("hello")],
                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    assert r.returncode == 0 and r.stdout == b"Hello from an AArch64 guest!\n", r.stderr[-2000:]
    mods = {line.rsplit("|", 1)[1].strip() for line in r.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}
    assert "elfuse_py.boot" in mods
    # termios too, where the host's TIOCGWINSZ is known without it (host/tty.py)
    from elfuse_py.host import tty
    no_termios = ("termios",) if tty.TIOCGWINSZ is not None else ()
    assert _lazy_ones(mods, NOT_AT_START + NOT_AT_START_NATIVE + no_termios) == []


def test_the_native_check_sees_a_heavy_module():
    """--strace loads every handler area, and with them the socket module: the check sees it."""
    mods = imported_modules(["--strace", "-o", os.devnull, guest_bin("hello")])
    seen = _lazy_ones(mods, NOT_AT_START + NOT_AT_START_NATIVE)
    assert "socket" in seen and "elfuse_py.syscalls.net.sockets" in seen


def _in_fresh_python(code: str, env: dict | None = None) -> str:
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **(env or {})},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.parametrize("compat", ["", "darwin"])
def test_handler_index_is_current(compat):
    """syscalls/handler_index.py says which module registers each number, under both host
    models (regenerate: python -m elfuse_py.syscalls.registry)."""
    code = ("from elfuse_py.host import platform; platform.start()\n"
            "from elfuse_py.syscalls import registry\n"
            "import os\n"
            "path = os.path.join(os.path.dirname(registry.__file__), 'handler_index.py')\n"
            "print(registry.generate_index() == open(path).read())\n")
    out = _in_fresh_python(code, {"ELFUSE_HOST_COMPAT": compat} if compat else None)
    assert out.split() == ["True"]


LAZY_DISPATCH = """
import os, struct, sys
from elfuse_py.host import platform; platform.start()
from elfuse_py.runtime.process import proc; proc.create_machine()
from elfuse_py.syscalls import lazy
from elfuse_py.syscalls.numbers import SYSCALL_NUMBERS as N
from elfuse_py.syscalls.table import TABLE
P = "elfuse_py.syscalls."
unknown = []
d = lazy.fill_in([None] * 1024, lambda nr: unknown.append(nr) or -38)
regs = lambda *a: struct.pack("<9Q", *(list(a) + [0] * (9 - len(a))))

def call(nr, *a):
    fn, decode = d[nr]
    return fn(*decode(regs(*a))) if decode else fn()

# A placeholder: the module is imported on the first call, which gets its result;
# the slot then holds the real entry.
assert P + "info" not in sys.modules and d[N["getppid"]][1] is lazy.RAW6
assert call(N["getppid"]) == os.getppid()
assert P + "info" in sys.modules and d[N["getppid"]][0] is TABLE[N["getppid"]].handler
# The first call decodes as the real entry: dup's fd is a C int (the upper half ignored).
assert P + "fdops" not in sys.modules
new = call(N["dup"], (0xDEAD << 32) | 1)
assert new > 2 and os.path.sameopenfile(new, 1) and d[N["dup"]][1] is not lazy.RAW6
os.close(new)
# A number its module marks unsupported: -ENOSYS through on_unknown, then no entry.
assert call(N["rseq"]) == -38 and unknown == [N["rseq"]] and d[N["rseq"]] is None
# Code that wraps an entry gets the real one (lazy.entry), and a placeholder someone
# wrapped anyway keeps serving without replacing the wrapper.
assert lazy.entry(d, N["getpid"])[0] is TABLE[N["getpid"]].handler
nr = N["getuid"]
inner = d[nr]
d[nr] = (lambda *a: ("wrapped", inner[0](*a)), inner[1])
assert call(nr) == ("wrapped", os.getuid()) and call(nr) == ("wrapped", os.getuid())
assert d[nr][0] is not TABLE[nr].handler
# A wrapper for a number not called yet goes on when its module loads (the parking
# layer at a process's second thread): nothing is imported before that first call.
nr = N["sched_yield"]
assert P + "sched" not in sys.modules
assert lazy.wrap_when_loaded(d, nr, lambda fn: (lambda *a: ("parked", fn(*a))))
assert P + "sched" not in sys.modules
assert call(nr) == ("parked", 0) and call(nr) == ("parked", 0)
assert d[nr][0] is not TABLE[nr].handler
assert not lazy.wrap_when_loaded(d, nr, lambda fn: None)     # loaded: wrap it yourself
print("ok")
"""


def test_lazy_dispatch_fills_a_slot_on_first_call():
    assert _in_fresh_python(LAZY_DISPATCH).split() == ["ok"]


def test_a_guest_directory_cannot_shadow_a_module_imported_during_the_run(tmp_path):
    """Modules imported on first use (the guest /proc and the socket module it needs, here)
    are looked up after the guest changed directory: under `python -c` ('' on sys.path)
    the guest's own socket.py must not be the one imported."""
    evil, clean = tmp_path / "evil", tmp_path / "clean"
    evil.mkdir()
    clean.mkdir()
    (evil / "socket.py").write_text("import os\nos.write(2, b'SHADOWED\\n')\nraise SystemExit(99)\n")
    code = "import sys; from elfuse_py.cli import main; sys.exit(main())"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code, guest_bin("procfs_probe"), "cdcat", str(evil),
                        "/proc/self/status"], cwd=clean, env=env, capture_output=True, timeout=120)
    assert b"SHADOWED" not in r.stderr
    assert r.returncode == 0 and b"Name:\tprocfs_probe" in r.stdout, r.stderr[-2000:]


def test_every_module_that_registers_syscalls_is_an_area():
    """A handler module missing from registry.AREAS would never be in the index: its
    numbers would answer ENOSYS.  Importing every file under syscalls/ registers
    nothing that registry.load_all() did not."""
    code = ("import os, pkgutil\n"
            "from elfuse_py.host import platform; platform.start()\n"
            "from elfuse_py.syscalls import registry\n"
            "from elfuse_py.syscalls.table import TABLE\n"
            "import elfuse_py.syscalls as pkg\n"
            "registry.load_all()\n"
            "before = {nr: e.module for nr, e in TABLE.items()}\n"
            "for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "    __import__(m.name)\n"
            "after = {nr: e.module for nr, e in TABLE.items()}\n"
            "print(sorted(set(after.items()) - set(before.items())))\n")
    assert _in_fresh_python(code).strip() == "[]"
