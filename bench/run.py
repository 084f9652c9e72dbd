"""Benchmarks: elfuse-py against qemu-aarch64, measured in the same run.

Run by `make bench` (not part of `make test`).  Each guest benchmark in
guest-bins/build/bench_* times its own loop with clock_gettime and prints
"key value" lines, so start-up is excluded from the loop numbers; start-up is
measured separately as the wall time of `elfuse-py hello`.  Every measurement
is the best of a few runs (the machine may be shared), and the table shows
elfuse/qemu ratios next to the bars from the project's issues.

fork+exec (bench_forkexec: fork, execve of hello, wait) runs under elfuse-py
only: qemu-user cannot exec an AArch64 program without binfmt_misc, and the
bar sets it against qemu's start-up of that same hello.

This script reports; it never fails on a timing.  A run that errors shows as
"error" in its cell, and the qemu columns are left empty where qemu-aarch64
is not installed.  Options: --quick (fewer iterations), --repeat N, --startup (only
the start-up figures: `elfuse-py hello`, qemu's hello and `python -c pass`, min of
10 runs each, in --repeat N rounds, and the import breakdown), -h/--help.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "guest-bins" / "build"
QEMU = shutil.which("qemu-aarch64")
ELFUSE = [sys.executable, "-m", "elfuse_py"]

# (key printed by the guest, label, unit, higher_is_better, bar on elfuse/qemu, bar text)
METRICS = [
    ("syscall_us", "trivial syscall round trip (getppid)", "us", False, 6.0, "<= 6x qemu"),
    ("cpu_s", "CPU-bound loop (LCG, registers only)", "s", False, 1.3, "<= 1.3x qemu"),
    ("cpu_mem_s", "CPU-bound loop with memory (sieve)", "s", False, None, ""),
    ("sock_rtt_us", "socketpair 64 B ping-pong round trip", "us", False, 6.0, "<= 6x qemu"),
    ("sock_bulk_mbs", "socketpair 64 KiB bulk throughput", "MB/s", True, 0.5, ">= 0.5x qemu"),
    ("thr0_s", "LCG loop, single-threaded process", "s", False, 1.3, "<= 1.3x qemu"),
    ("thr1_s", "same work, 1 thread of a threaded process", "s", False, None, ""),
    ("thr2_s", "same work, 2 threads", "s", False, None, ""),
    ("thr8_s", "same work, 8 threads", "s", False, None, ""),
]
# Guest benchmarks run under elfuse-py only (see the module docstring).
ELFUSE_ONLY = {"bench_forkexec"}
# fork+exec of hello against qemu's start-up of hello (the perf-exec bar).
FORKEXEC_BAR = 1.5
# Within elfuse-py: threaded work against the single-threaded loop (the perf-threads bar).
THREAD_KEYS = ("thr1_s", "thr2_s", "thr8_s")
FORKEXEC = ("forkexec_ms", "fork + exec of hello + wait (elfuse) / hello start-up (qemu)", "ms",
            False, FORKEXEC_BAR, "<= 1.5x qemu start-up")
THREAD_BAR = 1.15
LINE = re.compile(rb"^([a-z][a-z_0-9]*) ([-0-9.]+)\s*$", re.M)


def guest_args(quick: bool) -> dict[str, list[str]]:
    if quick:
        return {"bench_syscall": ["100000"], "bench_cpu": ["0.25"], "bench_sockpair": ["5000", "16"],
                "bench_threads": ["0.25"], "bench_forkexec": ["20"]}
    return {"bench_syscall": ["300000"], "bench_cpu": ["1.0"], "bench_sockpair": ["20000", "256"],
            "bench_threads": ["1.0"], "bench_forkexec": ["50"]}


def run_guest(runner: list[str], prog: Path, args: list[str], timeout: float = 120) -> dict[str, float] | str:
    """Run one benchmark program; its "key value" lines as a dict, or an error string."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    try:
        r = subprocess.run([*runner, str(prog), *args], capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return "timeout"
    except OSError as e:
        return f"cannot run: {e.strerror}"
    out = {k.decode(): float(v) for k, v in LINE.findall(r.stdout) if _is_number(v)}
    if b"sock_unsupported" in r.stdout:
        out = {k: v for k, v in out.items() if not k.startswith("sock_")}
        out["sock_unsupported"] = 1.0
    if r.returncode != 0 and not out:
        tail = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"exit {r.returncode} {tail[0][:60]}"
    return out


def _is_number(v: bytes) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def best(samples: list[dict[str, float]], key: str, higher_is_better: bool) -> float | None:
    vals = [s[key] for s in samples if key in s]
    if not vals:
        return None
    return max(vals) if higher_is_better else min(vals)


def measure(runner: list[str], repeat: int, quick: bool) -> tuple[dict[str, float], dict[str, str]]:
    """All guest metrics under one runner: best values, and notes for what failed."""
    values: dict[str, float] = {}
    notes: dict[str, str] = {}
    for prog, args in guest_args(quick).items():
        if runner[0] == QEMU and prog in ELFUSE_ONLY:
            continue
        path = BUILD / prog
        if not path.exists():
            notes[prog] = "not built (make guest-bins)"
            continue
        samples = []
        for _ in range(repeat):
            res = run_guest(runner, path, args)
            if isinstance(res, str):
                notes[prog] = res
                break
            samples.append(res)
            if "sock_unsupported" in res:
                notes[prog] = "unsupported"
                break
        for key, _label, _unit, hib, _bar, _text in METRICS + [FORKEXEC]:
            v = best(samples, key, hib)
            if v is not None:
                values[key] = v
    return values, notes


def _cli() -> list[str]:
    """`elfuse-py` as a user starts it: the console script beside this Python, else its
    equivalent (`python -m elfuse_py` would add runpy's imports, ~3 ms, to every figure)."""
    script = Path(sys.executable).parent / "elfuse-py"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from elfuse_py.cli import main; sys.exit(main())"]


def startup_ms(runner: list[str], repeat: int) -> float | None:
    hello = BUILD / "hello"
    if not hello.exists():
        return None
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        try:
            r = subprocess.run([*runner, str(hello)], capture_output=True, timeout=30, env=env)
        except (subprocess.TimeoutExpired, OSError):
            continue
        if r.returncode == 0:
            times.append((time.perf_counter() - t) * 1e3)
    return min(times) if times else None


def startup_imports(repeat: int = 3, top: int = 8) -> str:
    """Where `elfuse-py hello`'s import time goes: `python -X importtime`, best of `repeat`.

    The total (cumulative ms of the top-level imports) and the `top` largest
    imports by cumulative time, each the minimum over the runs.
    """
    hello = BUILD / "hello"
    if not hello.exists():
        return "start-up imports: no guest-bins/build/hello"
    cum: dict[str, float] = {}
    totals = []
    for _ in range(repeat):
        try:
            cli = _cli()
            r = subprocess.run([cli[0], "-X", "importtime", *cli[1:], str(hello)],
                               capture_output=True, timeout=30, cwd=ROOT)
        except (subprocess.TimeoutExpired, OSError):
            continue
        total = 0.0
        for line in r.stderr.decode(errors="replace").splitlines():
            parts = line.split("|")
            if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
                continue
            name, ms = parts[2].rstrip(), int(parts[1]) / 1e3
            if not name.startswith("  "):       # a top-level import: its time is in the total
                total += ms
            name = name.strip()
            cum[name] = min(cum.get(name, ms), ms)
        totals.append(total)
    if not totals:
        return "start-up imports: error"
    biggest = sorted(cum.items(), key=lambda kv: -kv[1])[:top]
    return (f"start-up imports (python -X importtime, best of {repeat}): {min(totals):.1f} ms in all; "
            + ", ".join(f"{name} {ms:.1f}" for name, ms in biggest))


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "MB/s":
        return f"{v:.0f}"
    if unit == "ms":
        return f"{v:.1f}"
    return f"{v:.4f}" if v < 10 else f"{v:.2f}"


def startup_only(rounds: int) -> int:
    """--startup: the start-up row alone, `rounds` times (the box's state moves it)."""
    for _ in range(rounds):
        el = startup_ms(_cli(), 10)
        qe = startup_ms([QEMU], 10) if QEMU else None
        py = startup_ms([sys.executable, "-c", "pass"], 10)
        ratio = f"  ratio {el / qe:.2f}x (bar <= 3x)" if el and qe else ""
        print(f"`elfuse-py hello` {fmt(el, 'ms')} ms  qemu-aarch64 {fmt(qe, 'ms')} ms{ratio}  "
              f"`python -c pass` {fmt(py, 'ms')} ms")
    print(startup_imports())
    return 0


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    quick = "--quick" in argv
    repeat = 5
    if "--repeat" in argv:
        try:
            repeat = max(1, int(argv[argv.index("--repeat") + 1]))
        except (IndexError, ValueError):
            pass
    if "--startup" in argv:
        return startup_only(repeat if "--repeat" in argv else 3)
    t0 = time.time()
    el, el_notes = measure(ELFUSE, repeat, quick)
    qe, qe_notes = measure([QEMU], repeat, quick) if QEMU else ({}, {})
    el_start = startup_ms(_cli(), 10)
    qe_start = startup_ms([QEMU], 10) if QEMU else None
    py_start = startup_ms([sys.executable, "-c", "pass"], 10)

    rows = [("metric", "unit", "elfuse-py", "qemu", "ratio", "bar", "")]
    for key, label, unit, hib, bar, text in METRICS:
        e, q = el.get(key), qe.get(key)
        ratio = verdict = ""
        if e is not None and q is not None and e > 0 and q > 0:
            r = e / q
            ratio = f"{r:.2f}x"
            if bar is not None:
                verdict = "ok" if (r >= bar if hib else r <= bar) else "MISSED"
        rows.append((label, unit, fmt(e, unit), fmt(q, unit) if QEMU else "", ratio, text, verdict))
    ratio = verdict = ""
    if el_start is not None and qe_start:
        ratio = f"{el_start / qe_start:.2f}x"
        verdict = "ok" if el_start <= 3.0 * qe_start else "MISSED"
    rows.append(("`elfuse-py hello` start-up (wall)", "ms", fmt(el_start, "ms"),
                 fmt(qe_start, "ms") if QEMU else "", ratio, "<= 3x qemu", verdict))
    rows.append(("  of which `python -c pass`", "ms", fmt(py_start, "ms"), "", "", "", ""))
    fe = el.get("forkexec_ms")
    ratio = verdict = ""
    if fe is not None and qe_start:
        ratio = f"{fe / qe_start:.2f}x"
        verdict = "ok" if fe / qe_start <= FORKEXEC_BAR else "MISSED"
    rows.append((FORKEXEC[1], "ms", fmt(fe, "ms"), fmt(qe_start, "ms") if QEMU else "", ratio,
                 FORKEXEC[5], verdict))

    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w) if j < 5 else c.ljust(w)
                        for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    single = el.get("thr0_s")
    if single:
        parts = [f"{k[3:-2]} thread(s) {el[k] / single:.2f}x" for k in THREAD_KEYS if k in el]
        worst = max((el[k] / single for k in THREAD_KEYS if k in el), default=None)
        verdict = "" if worst is None else ("ok" if worst <= THREAD_BAR else "MISSED")
        print(f"threaded / single-threaded (elfuse-py, bar <= {THREAD_BAR}x): "
              f"{', '.join(parts)} {verdict}")
    print(startup_imports())
    for who, notes in (("elfuse-py", el_notes), ("qemu", qe_notes)):
        for prog, note in notes.items():
            print(f"note: {prog} under {who}: {note}")
    if not QEMU:
        print("note: qemu-aarch64 not found; ratios need it (Debian: apt-get install qemu-user)")
    print(f"(best of {repeat} runs each; musl builds in {BUILD.relative_to(ROOT)}; {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - a benchmark report never fails the build
        print(f"bench: {type(e).__name__}: {e}")
        sys.exit(0)
