"""Real programs: Debian arm64 binaries under elfuse-py against qemu-aarch64, same run.

Run at the end of `make bench` (bench/run.py calls it) or alone:
`python bench/real.py [--repeat N] [--only a,b] [--no-execs] [-v]`.

Each scenario is the everyday thing a user does with the program (git init/add/
commit/log/status, a bash script, xz -T2, perl, socat, gzip, sqlite3, ssh-agent,
tmux, python3.11), run from a host-side script once under each runner with the same
root: `qemu-aarch64 -L ROOT ROOT/usr/bin/X` and `elfuse-py -L ROOT ROOT/usr/bin/X`.
The root is tests/.cache/debian-arm64-bench, built the way the tests build theirs
(tests/debian_sysroot.py: `apt-get download PKG:arm64` + `dpkg-deb -x`); a scenario
whose program is missing is skipped with a note.

Fairness of exec: qemu-user without binfmt_misc does not intercept execve, so a
child a guest runs under qemu would be the *host's* native program (or fail).
The qemu runs therefore get PATH (and git's GIT_EXEC_PATH) pointing at a directory
of wrappers, one per program of the root, each `exec qemu-aarch64 -L ROOT ...`,
so that qemu's children are emulated as elfuse-py's are.  The wrapper's /bin/sh
costs about a millisecond per child, in qemu's favour otherwise untouched.

Each cell is the best of N wall times (the machine may be shared) next to the
user+sys CPU of the same best run.  "execs" is how many execve calls the guest made
(beyond the scenario's own launches), counted in one extra elfuse-py run with
ELFUSE_STRACE_FILE: exec-heavy rows are dominated by start-up, not by emulation.
Timings are reported, never asserted.
"""
from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
QEMU = shutil.which("qemu-aarch64")
SYSROOT_NAME = "debian-arm64-bench"
BAR = 3.0
TIMEOUT = 300
GIT_IDS = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "GIT_CONFIG_NOSYSTEM": "1"}


def build_root() -> tuple[Path | None, str]:
    """The bench root (the real-programs test's packages plus xz, perl, gzip, sqlite3)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import pytest
        import debian_sysroot
        import test_real_programs as t
    except Exception as e:  # noqa: BLE001 - no root, no real-program rows
        return None, f"cannot import the test roots' builder: {e}"
    extra = ["xz-utils", "perl-base", "gzip", "sqlite3"]
    try:
        return debian_sysroot.build(SYSROOT_NAME, t.ARM64 + extra, t.ARCH_ALL, merge_usr=True), ""
    except pytest.skip.Exception as e:
        return None, f"root not built: {e}"


class Runner:
    """Starts programs of the root under one emulator, and counts the starts."""

    def __init__(self, name: str, root: Path, tmp: Path, wrappers: Path | None) -> None:
        self.name, self.root, self.tmp = name, root, tmp
        self.launches = 0
        self.trace_dir: Path | None = None     # set: each elfuse-py launch traces to a file there
        self.env = dict(os.environ, HOME=str(tmp), LC_ALL="C", TERM="xterm", PYTHONPATH=str(ROOT),
                        PATH="/usr/bin:/bin", **GIT_IDS)
        for k in ("ELFUSE_HOST_COMPAT", "ELFUSE_STRACE", "ELFUSE_STRACE_FILE", "TMUX", "SSH_AUTH_SOCK"):
            self.env.pop(k, None)
        if wrappers is not None:
            self.env["PATH"] = f"{wrappers}:/usr/bin:/bin"
            self.env["GIT_EXEC_PATH"] = str(wrappers)

    def argv(self, prog: str, *args: str) -> list[str]:
        self.launches += 1
        exe = str(self.root) + prog
        if self.name == "qemu":
            return [QEMU, "-L", str(self.root), exe, *args]
        trace = ["-o", str(self.trace_dir / f"t{self.launches}")] if self.trace_dir else []
        return [sys.executable, "-m", "elfuse_py", *trace, "-L", str(self.root), exe, *args]

    def run(self, prog: str, *args: str, cwd: Path | None = None, stdin=subprocess.DEVNULL,
            extra: dict | None = None, check: bool = True) -> bytes:
        r = subprocess.run(self.argv(prog, *args), cwd=cwd or self.tmp, stdin=stdin,
                           capture_output=True, env=dict(self.env, **(extra or {})), timeout=TIMEOUT)
        if check and r.returncode != 0:
            raise RuntimeError(f"{prog} {' '.join(args)[:40]}: exit {r.returncode}: "
                               + r.stderr.decode(errors="replace").strip()[-120:])
        return r.stdout

    def start(self, prog: str, *args: str, extra: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.argv(prog, *args), cwd=self.tmp, env=dict(self.env, **(extra or {})),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


def make_wrappers(root: Path, into: Path) -> None:
    """One sh wrapper per program of the root, running it under qemu-aarch64 -L root."""
    into.mkdir(parents=True, exist_ok=True)
    for d in (root / "usr" / "bin", root / "usr" / "lib" / "git-core"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            w = into / p.name
            if w.exists() or not (p.is_file() and os.access(p, os.X_OK)):
                continue
            rel = "/" + str(p.relative_to(root))
            w.write_text(f'#!/bin/sh\nexec {QEMU} -L {root} {root}{rel} "$@"\n')
            w.chmod(0o755)


def _wait_socket(path: Path, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"nothing listens on {path.name}")
            time.sleep(0.005)


# --- inputs, made once per bench run (outside the timings) ---------------------------------

WORDS = ("alpha beta gamma delta emulator syscall guest host memory page thread signal "
         "process file socket pipe buffer kernel register branch block cache").split()


def text_data(size: int, seed: int = 1) -> bytes:
    """Compressible but not trivial: random words and numbers, as logs are."""
    rnd = random.Random(seed)
    out, n = [], 0
    while n < size:
        line = " ".join(rnd.choice(WORDS) for _ in range(8)) + f" {rnd.randrange(1 << 30)}\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def prepare(tmp: Path) -> None:
    (tmp / "in.txt").write_bytes(text_data(3 << 20))
    (tmp / "src").mkdir()
    for i in range(40):
        (tmp / "src" / f"f{i:02d}.c").write_bytes(text_data(2000 + 97 * i, seed=i))
    (tmp / "script.sh").write_text(BASH_SCRIPT)
    (tmp / "script.pl").write_text(PERL_SCRIPT)
    (tmp / "cpu.py").write_text(PY_CPU)
    (tmp / "q.sql").write_text(SQL)


BASH_SCRIPT = r"""
s=0; for ((i = 0; i < 20000; i++)); do s=$(( (s + i * 7) % 1000003 )); done; echo $s
declare -A h; for w in $(seq 1 300); do h[k$w]=$((w * w)); done; echo ${#h[@]}
str=""; for i in {1..500}; do str+="x$i,"; done; echo ${#str}
f() { local a=$1; echo $((a + 1)); }; for i in {1..200}; do v=$(f $i); done; echo $v
for i in 1 2 3 4 5; do echo line$i; done | sort -r | head -2 | wc -l
ls /usr/bin | grep -c a > /dev/null; date +%Y > /dev/null; cat script.sh | wc -l
for i in 1 2 3 4 5 6 7 8; do true; env true; done; echo end
"""

PERL_SCRIPT = r"""
use strict; use warnings;
my %h; my @a;
for my $i (1 .. 60000) { my $k = "key" . ($i * 7919 % 10007); $h{$k} += $i; push @a, $k if $i % 3 == 0; }
my @s = sort { $h{$a} <=> $h{$b} || $a cmp $b } keys %h;
my $text = join(" ", map { "w$_" } 1 .. 20000);
my $n = 0; $n++ while $text =~ /w(\d*7\d*)\b/g;
(my $t2 = $text) =~ s/w(\d+)/<$1>/g;
my $sum = 0; $sum += length($_) for @a;
open(my $fh, "<", "in.txt") or die; my $lines = 0; my %w;
while (my $l = <$fh>) { $lines++; last if $lines > 20000; $w{$_}++ for split / /, $l; }
close $fh;
printf "%d %s %d %d %d %d\n", scalar(@s), $s[0], $n, length($t2), $sum, $lines;
"""

PY_CPU = r"""
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
d = {}
for i in range(200000):
    d[i % 1009] = d.get(i % 1009, 0) + i
s = sum(i * i for i in range(300000))
words = " ".join(str(i) for i in range(50000)).split()
print(fib(22), len(d), s % 1000, len(sorted(words)))
"""

SQL = """
create table t(id integer primary key, name text, v integer);
begin;
""" + "".join(f"insert into t(name, v) values ('n{i % 97}', {i * 31 % 1000});\n" for i in range(6000)) + """
commit;
create index t_name on t(name);
select name, count(*), sum(v) from t group by name order by sum(v) desc limit 3;
select count(*) from t a join t b on a.v = b.id where b.v > 500;
"""


# --- scenarios: each does the work under one runner; the caller times it ------------------

def sc_git(r: Runner, tmp: Path) -> None:
    repo = tmp / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(tmp / "src", repo)
    r.run("/usr/bin/git", "init", "-q", cwd=repo)
    r.run("/usr/bin/git", "add", ".", cwd=repo)
    r.run("/usr/bin/git", "commit", "-qm", "first", cwd=repo)
    (repo / "f00.c").write_text("changed\n")
    assert r.run("/usr/bin/git", "status", "--short", cwd=repo) == b" M f00.c\n"
    r.run("/usr/bin/git", "commit", "-qam", "second", cwd=repo)
    assert r.run("/usr/bin/git", "log", "--format=%s", cwd=repo) == b"second\nfirst\n"


def sc_bash(r: Runner, tmp: Path) -> None:
    out = r.run("/usr/bin/bash", "script.sh")
    assert out.endswith(b"end\n"), out


def sc_xz(r: Runner, tmp: Path) -> None:
    for f in ("in.txt.xz", "x.txt", "x.txt.xz"):
        (tmp / f).unlink(missing_ok=True)
    shutil.copy(tmp / "in.txt", tmp / "x.txt")
    r.run("/usr/bin/xz", "-T2", "-3", "--block-size=512KiB", "x.txt")
    r.run("/usr/bin/xz", "-T2", "-d", "x.txt.xz")
    assert (tmp / "x.txt").stat().st_size == (tmp / "in.txt").stat().st_size


def sc_gzip(r: Runner, tmp: Path) -> None:
    with open(tmp / "in.txt", "rb") as f:
        z = r.run("/usr/bin/gzip", "-c", "-6", stdin=f)
    (tmp / "x.gz").write_bytes(z)
    assert len(r.run("/usr/bin/gzip", "-dc", "x.gz")) == (tmp / "in.txt").stat().st_size


def sc_perl(r: Runner, tmp: Path) -> None:
    assert r.run("/usr/bin/perl", "script.pl").count(b" ") == 5


def sc_socat(r: Runner, tmp: Path) -> None:
    """16 MiB through socat between two pipes (host ends)."""
    size = 16 << 20
    p = subprocess.Popen(r.argv("/usr/bin/socat", "-u", "-b", "65536", "STDIN", "STDOUT"), cwd=tmp,
                         env=r.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    chunk = b"z" * 65536

    def feed() -> None:
        for _ in range(size // len(chunk)):
            p.stdin.write(chunk)
        p.stdin.close()
    t = threading.Thread(target=feed)
    t.start()
    n = 0
    while True:
        b = p.stdout.read(1 << 16)
        if not b:
            break
        n += len(b)
    t.join()
    p.wait(TIMEOUT)
    assert n == size, n


def sc_sqlite3(r: Runner, tmp: Path) -> None:
    (tmp / "db.sqlite").unlink(missing_ok=True)
    with open(tmp / "q.sql", "rb") as f:
        out = r.run("/usr/bin/sqlite3", "db.sqlite", stdin=f)
    assert out.count(b"\n") == 4, out


def sc_ssh_agent(r: Runner, tmp: Path) -> None:
    sock = tmp / f"agent-{r.name}"
    sock.unlink(missing_ok=True)
    agent = r.start("/usr/bin/ssh-agent", "-D", "-a", str(sock))
    try:
        _wait_socket(sock, agent)
        out = subprocess.run(r.argv("/usr/bin/ssh-add", "-l"), cwd=tmp, capture_output=True,
                             env=dict(r.env, SSH_AUTH_SOCK=str(sock)), timeout=TIMEOUT)
        assert out.returncode == 1 and b"no identities" in out.stdout + out.stderr, out
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(TIMEOUT)


def sc_tmux(r: Runner, tmp: Path) -> None:
    t = ["-S", str(tmp / f"tm-{r.name}")]       # a server of one runner may still be going
    subprocess.run(r.argv("/usr/bin/tmux", *t, "new-session", "-d", "-x", "80", "-y", "24", "cat"),
                   cwd=tmp, env=r.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=TIMEOUT, check=True)
    try:
        assert b"1 windows" in r.run("/usr/bin/tmux", *t, "list-sessions")
    finally:
        r.run("/usr/bin/tmux", *t, "kill-server", check=False)


def sc_py_pass(r: Runner, tmp: Path) -> None:
    r.run("/usr/bin/python3.11", "-c", "pass")


def sc_py_cpu(r: Runner, tmp: Path) -> None:
    assert r.run("/usr/bin/python3.11", "cpu.py").count(b" ") == 3


# name -> (scenario, the root's programs it needs, what it does)
SCENARIOS: dict[str, tuple[Callable[[Runner, Path], None], tuple[str, ...], str]] = {
    "git": (sc_git, ("git",), "init, add 40 files, commit, status, commit -a, log"),
    "bash": (sc_bash, ("bash", "sort", "seq", "env"), "builtin loops + 21 external commands"),
    "xz": (sc_xz, ("xz",), "xz -T2 -3 then -d, 3 MiB text"),
    "perl": (sc_perl, ("perl",), "hashes, sort, regex, file read"),
    "socat": (sc_socat, ("socat",), "16 MiB STDIN->STDOUT, pipes"),
    "gzip": (sc_gzip, ("gzip",), "gzip -6 then -d, 3 MiB text"),
    "sqlite3": (sc_sqlite3, ("sqlite3",), "6000 inserts, index, 2 queries"),
    "ssh-agent": (sc_ssh_agent, ("ssh-agent", "ssh-add"), "start -D, ssh-add -l, stop"),
    "tmux": (sc_tmux, ("tmux",), "new-session -d, list-sessions, kill-server"),
    "python-pass": (sc_py_pass, ("python3.11",), "python3.11 -c pass"),
    "python-cpu": (sc_py_cpu, ("python3.11",), "fib, dict, sum, sort"),
}


def timed(fn: Callable[[Runner, Path], None], r: Runner, tmp: Path) -> tuple[float, float]:
    """Wall seconds and the user+sys CPU seconds of the children reaped meanwhile."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    fn(r, tmp)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)


def count_execs(fn: Callable[[Runner, Path], None], r: Runner, tmp: Path) -> tuple[int, int] | None:
    """(execve calls beyond the launches, all syscalls) in one traced elfuse-py run."""
    r.trace_dir = tmp / "traces"
    shutil.rmtree(r.trace_dir, ignore_errors=True)
    r.trace_dir.mkdir()
    r.launches = 0
    try:
        fn(r, tmp)
    except Exception:  # noqa: BLE001 - a count is extra information
        return None
    finally:
        traces, r.trace_dir = r.trace_dir, None
    execs = calls = 0
    for trace in traces.iterdir():
        with open(trace, "rb") as f:
            for line in f:
                calls += 1
                if b" execve(" in line and line.rstrip().endswith(b"= 0"):
                    execs += 1
    return max(0, execs - r.launches), calls


def main(argv: list[str]) -> int:
    repeat = 3
    if "--repeat" in argv:
        repeat = max(1, int(argv[argv.index("--repeat") + 1]))
    only = argv[argv.index("--only") + 1].split(",") if "--only" in argv else list(SCENARIOS)
    with_execs = "--no-execs" not in argv
    print("\nreal programs (Debian arm64, -L root; best of %d; wall s, and user+sys CPU s)" % repeat)
    if not QEMU:
        print("note: qemu-aarch64 not found: real-program rows need it")
        return 0
    root, why = build_root()
    if root is None:
        print(f"note: real-program rows skipped: {why}")
        return 0
    rows = [("program", "elfuse", "qemu", "ratio", "cpu e/q", "execs", "bar", "what")]
    notes = []
    with tempfile.TemporaryDirectory(prefix="elfuse-real-") as td:
        tmp = Path(td)
        prepare(tmp)
        make_wrappers(root, tmp / "qbin")
        runners = {"elfuse": Runner("elfuse", root, tmp, None),
                   "qemu": Runner("qemu", root, tmp, tmp / "qbin")}
        for name in only:
            if name not in SCENARIOS:
                notes.append(f"{name}: no such scenario")
                continue
            fn, progs, what = SCENARIOS[name]
            missing = [p for p in progs if not (root / "usr" / "bin" / p).exists()]
            if missing:
                notes.append(f"{name}: skipped, {', '.join(missing)} not in {root.name}")
                continue
            best: dict[str, tuple[float, float]] = {}
            try:
                for _ in range(repeat):
                    for who in ("qemu", "elfuse"):
                        w, c = timed(fn, runners[who], tmp)
                        if who not in best or w < best[who][0]:
                            best[who] = (w, c)
            except Exception as e:  # noqa: BLE001 - one broken row does not end the report
                notes.append(f"{name}: error: {type(e).__name__}: {str(e)[:200]}")
                continue
            (ew, ec), (qw, qc) = best["elfuse"], best["qemu"]
            ex = count_execs(fn, runners["elfuse"], tmp) if with_execs else None
            ratio = ew / qw
            rows.append((name, f"{ew:.3f}", f"{qw:.3f}", f"{ratio:.2f}x",
                         f"{ec / qc:.2f}x" if qc > 0 else "-",
                         "-" if ex is None else str(ex[0]),
                         "ok" if ratio <= BAR else "MISSED", what))
            if "-v" in argv:
                print("  ".join(rows[-1]), flush=True, file=sys.stderr)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j in (0, 7) else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for n in notes:
        print("note:", n)
    print(f"bar: each row <= {BAR:g}x qemu wall time.  qemu's children run under qemu too "
          "(PATH/GIT_EXEC_PATH wrappers); execs = guest execve calls beyond the launches.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
