"""Real programs: Debian's busybox-static:arm64 applets, under elfuse-py and qemu-aarch64.

The binary comes from tests/.cache/busybox-arm64/bin/busybox (unpacked there
by .ci/run); failing that, the test fetches the package with `apt-get
download` where apt exists, and skips otherwise.  Each applet's stdout and exit
status must equal qemu-aarch64's (that comparison skips without qemu); where
the right answer is easy to know, it is asserted too.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from helpers import QEMU, ROOT, run_elfuse, run_qemu

CACHE = ROOT / "tests" / ".cache"
UNPACKED = CACHE / "busybox-arm64"
BUSYBOX = UNPACKED / "bin" / "busybox"


def _fetch() -> str | None:
    """Download and unpack busybox-static:arm64 into the cache; the reason on failure."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return "busybox-static:arm64 not in tests/.cache and no apt-get to fetch it (.ci/run does)"
    CACHE.mkdir(parents=True, exist_ok=True)
    # Download into a private directory and rename into place: pytest-xdist
    # workers may race here.
    work = Path(tempfile.mkdtemp(dir=CACHE, prefix="fetch-"))
    try:
        r = subprocess.run(["apt-get", "download", "-qq", "busybox-static:arm64"], cwd=work,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        debs = sorted(work.glob("busybox-static_*_arm64.deb"))
        if r.returncode != 0 or not debs:
            return ("apt-get download busybox-static:arm64 failed (is arm64 a dpkg foreign "
                    f"architecture?): {r.stderr.decode(errors='replace').strip()[-200:]}")
        out = work / "x"
        r = subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(out)], capture_output=True,
                           timeout=120)
        if r.returncode != 0 or not (out / "bin" / "busybox").exists():
            return "dpkg-deb -x of busybox-static:arm64 failed"
        try:
            os.rename(out, UNPACKED)
        except OSError:
            pass            # another worker won the race
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"fetching busybox-static:arm64 failed: {e}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox() -> str:
    if not BUSYBOX.exists():
        why = _fetch()
        if why and not BUSYBOX.exists():
            pytest.skip(why)
    return str(BUSYBOX)


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> Path:
    """A fixed directory: known contents and mtimes, for cat/wc/ls/sha256sum..."""
    d = tmp_path_factory.mktemp("bbfiles")
    (d / "lines.txt").write_bytes(b"pear\napple\nfig\nbanana\ncherry\n")
    (d / "empty").write_bytes(b"")
    (d / "sub").mkdir()
    (d / "sub" / "x").write_bytes(b"x" * 1000)
    (d / "script.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(d / "script.sh", 0o755)
    os.chmod(d / "lines.txt", 0o644)
    os.chmod(d / "empty", 0o600)
    for i, name in enumerate(["lines.txt", "empty", "sub/x", "script.sh", "sub"]):
        t = 1_000_000_000 + i * 86_400 * 40
        os.utime(d / name, (t, t))
    return d


def _compare(busybox: str, args: list[str], *, cwd: Path, input: bytes = b"",
             env: dict | None = None):
    """Run `busybox args` under elfuse-py; compare with qemu when present; return elfuse's result."""
    e = dict(os.environ, TZ="UTC", LC_ALL="C")
    if env:
        e.update(env)
    r = run_elfuse([busybox, *args], env=e, input=input, cwd=str(cwd))
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    if QEMU is not None:
        q = run_qemu([busybox, *args], env=e, input=input, cwd=str(cwd))
        assert (r.stdout, r.returncode) == (q.stdout, q.returncode), (
            f"busybox {' '.join(args)} differs from qemu-aarch64\n"
            f"elfuse-py ({r.returncode}):\n{r.stdout.decode(errors='replace')}"
            f"stderr: {r.stderr.decode(errors='replace')}\n"
            f"qemu ({q.returncode}):\n{q.stdout.decode(errors='replace')}")
    return r


LINES = b"pear\napple\nfig\nbanana\ncherry\n"

# (applet args, stdin, expected stdout or None, expected status)
CASES = {
    "echo": (["echo", "hello", "world"], b"", b"hello world\n", 0),
    "echo-n": (["echo", "-n", "no newline"], b"", b"no newline", 0),
    "cat-file": (["cat", "lines.txt"], b"", LINES, 0),
    "cat-stdin": (["cat"], b"from stdin\n", b"from stdin\n", 0),
    "cat-missing": (["cat", "no-such-file"], b"", b"", 1),
    "wc": (["wc", "lines.txt"], b"", None, 0),
    "wc-l-stdin": (["wc", "-l"], LINES, b"5\n", 0),
    "sort": (["sort", "lines.txt"], b"", b"apple\nbanana\ncherry\nfig\npear\n", 0),
    "sort-rn": (["sort", "-rn"], b"3\n10\n2\n", b"10\n3\n2\n", 0),
    "sha256sum": (["sha256sum", "lines.txt"], b"",
                  hashlib.sha256(LINES).hexdigest().encode() + b"  lines.txt\n", 0),
    "md5sum": (["md5sum", "lines.txt"], b"",
               hashlib.md5(LINES).hexdigest().encode() + b"  lines.txt\n", 0),
    "md5sum-stdin": (["md5sum"], b"abc", hashlib.md5(b"abc").hexdigest().encode() + b"  -\n", 0),
    "head": (["head", "-n", "2", "lines.txt"], b"", b"pear\napple\n", 0),
    "tail": (["tail", "-n", "2", "lines.txt"], b"", b"banana\ncherry\n", 0),
    "seq": (["seq", "1", "5"], b"", b"1\n2\n3\n4\n5\n", 0),
    "seq-step": (["seq", "10", "-3", "1"], b"", b"10\n7\n4\n1\n", 0),
    "expr-mul": (["expr", "6", "*", "7"], b"", b"42\n", 0),
    "expr-zero": (["expr", "1", "-", "1"], b"", b"0\n", 1),
    "expr-bad": (["expr", "1", "+"], b"", b"", 2),
    "basename": (["basename", "/a/b/c.txt", ".txt"], b"", b"c\n", 0),
    "date-epoch": (["date", "-u", "-d", "@0"], b"", b"Thu Jan  1 00:00:00 UTC 1970\n", 0),
    "date-fmt": (["date", "-u", "-d", "@1000000000", "+%Y-%m-%d %H:%M:%S"], b"",
                 b"2001-09-09 01:46:40\n", 0),
    "env-i": (["env", "-i", "A=1", "B=two words"], b"", b"A=1\nB=two words\n", 0),
    "true": (["true"], b"", b"", 0),
    "false": (["false"], b"", b"", 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_applet(busybox, files, case):
    args, stdin, want, status = CASES[case]
    r = _compare(busybox, args, cwd=files, input=stdin)
    if want is not None:
        assert r.stdout == want, r.stderr.decode(errors="replace")
    assert r.returncode == status, r.stderr.decode(errors="replace")


def test_wc_counts(busybox, files):
    r = _compare(busybox, ["wc", "lines.txt"], cwd=files)
    assert r.stdout.split() == [b"5", b"5", str(len(LINES)).encode(), b"lines.txt"]


def test_ls_l(busybox, files):
    r = _compare(busybox, ["ls", "-l", str(files)], cwd=files)
    out = r.stdout.decode(errors="replace").splitlines()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    names = [l.split()[-1] for l in out if not l.startswith("total")]
    assert names == ["empty", "lines.txt", "script.sh", "sub"]
    by_name = {l.split()[-1]: l for l in out if not l.startswith("total")}
    assert by_name["lines.txt"].startswith("-rw-r--r--")
    assert by_name["empty"].startswith("-rw-------")
    assert by_name["script.sh"].startswith("-rwxr-xr-x")
    assert by_name["sub"].startswith("d")
    assert " 2001 " in by_name["lines.txt"] or "Sep  9  2001" in by_name["lines.txt"]


def test_ls_plain_and_missing(busybox, files):
    r = _compare(busybox, ["ls", "-a", "sub"], cwd=files)
    assert r.stdout.split() == [b".", b"..", b"x"]
    r = _compare(busybox, ["ls", "no-such-dir"], cwd=files)
    assert r.returncode != 0


def test_pipeline_through_stdin(busybox, files):
    data = b"".join(b"%d\n" % i for i in range(2000, 0, -1))
    r = _compare(busybox, ["sort", "-n"], cwd=files, input=data)
    assert r.stdout == b"".join(b"%d\n" % i for i in range(1, 2001))
