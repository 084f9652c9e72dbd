"""The start-up bundle (elfuse_py/bundle.py): served while current, never in the way when not.

Each test writes its own bundle to a temporary file (the package's own is
left alone) and runs hello through the CLI in a fresh interpreter, which
reports at its exit which of our modules the bundle's finder loaded.
"""
from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys

from helpers import ROOT, guest_bin

# Runs in a fresh interpreter: the bundle at BUNDLE, then hello through the CLI;
# at the exit, a JSON report on fd 2's last line.
RUN = """
import json, os, sys
from elfuse_py import bundle
bundle.path = lambda: {bundle_path!r}
real_exit = os._exit
def report(status):
    f = bundle._finder
    served = sorted(n for n, m in sys.modules.items()
                    if f is not None and getattr(m.__spec__, "loader", None) is f)
    import elfuse_py.runtime.cpu as cpu
    os.write(2, ("\\n" + json.dumps({{"served": served, "stale": bool(f and f.stale),
                                     "missing": bundle._missing, "cpu_file": cpu.__file__,
                                     "status": status}}) + "\\n").encode())
    real_exit(status)
os._exit = report
sys.argv = ["elfuse-py", {hello!r}]
from elfuse_py.cli import main
main()
"""

WRITE = """
from elfuse_py import bundle
bundle.path = lambda: {bundle_path!r}
bundle.write(bundle.start_modules())
"""


def _python(code: str, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", code], cwd="/tmp", env=e, capture_output=True,
                          timeout=120)


def _run_hello(bundle_path: str, **env) -> dict:
    r = _python(RUN.format(bundle_path=bundle_path, hello=guest_bin("hello")), **env)
    assert r.stdout == b"Hello from an AArch64 guest!\n", r.stderr.decode(errors="replace")[-2000:]
    return json.loads(r.stderr.decode().strip().splitlines()[-1])


def _write(bundle_path: str) -> None:
    r = _python(WRITE.format(bundle_path=bundle_path))
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]


def _rewrite_index(bundle_path: str, change) -> None:
    """Edit the bundle's header in place of a stale or foreign one (change(header) -> header)."""
    with open(bundle_path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:4], "little")
    head = marshal.dumps(change(marshal.loads(data[4:4 + n])))
    # Offsets count from the end of the header: the blobs stay where they are relative to it.
    with open(bundle_path, "wb") as f:
        f.write(len(head).to_bytes(4, "little") + head + data[4 + n:])


def test_a_current_bundle_serves_the_start_up_modules(tmp_path):
    path = str(tmp_path / "startup.bundle")
    _write(path)
    out = _run_hello(path)
    assert out["status"] == 0 and not out["stale"] and not out["missing"]
    # The boot path and the handler areas hello calls came from the bundle.
    for name in ("elfuse_py.boot", "elfuse_py.runtime.cpu", "elfuse_py.loader.elf",
                 "elfuse_py.syscalls.table", "elfuse_py.syscalls.proc", "elfuse_py.syscalls.fileio"):
        assert name in out["served"], name
    # The module is where its source is (tracebacks, __file__-relative paths).
    assert out["cpu_file"] == str(ROOT / "elfuse_py" / "runtime" / "cpu.py")


def test_a_changed_source_is_imported_the_ordinary_way(tmp_path):
    path = str(tmp_path / "startup.bundle")
    _write(path)

    def age_cpu(head):
        fmt, magic, optimize, index = head
        origin, is_pkg, mtime_ns, size, off, length = index["elfuse_py.runtime.cpu"]
        index["elfuse_py.runtime.cpu"] = (origin, is_pkg, mtime_ns - 10**9, size, off, length)
        return fmt, magic, optimize, index

    _rewrite_index(path, age_cpu)
    out = _run_hello(path)
    assert out["stale"] and "elfuse_py.runtime.cpu" not in out["served"]
    assert "elfuse_py.boot" in out["served"]


def test_a_bundle_of_other_bytecode_is_not_used(tmp_path):
    path = str(tmp_path / "startup.bundle")
    _write(path)
    _rewrite_index(path, lambda head: (head[0], b"\0\0\r\n", *head[2:]))
    out = _run_hello(path)
    assert out["missing"] and out["served"] == []


def test_a_missing_bundle_is_written_at_the_end_of_a_run(tmp_path):
    path = str(tmp_path / "startup.bundle")
    out = _run_hello(path, PYTHONDONTWRITEBYTECODE="")
    assert out["missing"] and out["served"] == []
    assert os.path.exists(path)
    assert "elfuse_py.boot" in _run_hello(path)["served"]


def test_no_bundle_is_written_where_bytecode_may_not_be(tmp_path):
    path = str(tmp_path / "startup.bundle")
    _run_hello(path, PYTHONDONTWRITEBYTECODE="1")
    assert not os.path.exists(path)


def test_installing_leaves_no_fd_open(tmp_path):
    """The guest finds no emulator fd in its own range: the file is mapped, its fd closed
    (an mmap.mmap would keep a dup of it open)."""
    if not os.path.isdir("/proc/self/fd"):
        import pytest
        pytest.skip("no /proc/self/fd on this host")
    path = str(tmp_path / "startup.bundle")
    _write(path)
    code = (f"import os\nfrom elfuse_py import bundle\nbundle.path = lambda: {path!r}\n"
            "before = sorted(os.listdir('/proc/self/fd'))\nbundle.install()\n"
            "assert bundle._finder is not None\n"
            "print(before == sorted(os.listdir('/proc/self/fd')))\n")
    r = _python(code)
    assert r.stdout.split() == [b"True"], r.stderr.decode(errors="replace")[-2000:]
