"""A fork server for the ELF fuzzer (tests/test_elf_fuzz.py): runs many CLI invocations cheaply.

Starting Python and importing the emulator costs ~0.15 s per run; this process
imports it once and forks one child per job, the child running exactly what
the `elfuse-py` command runs (`elfuse_py.cli.main`) with its stderr in a file.
So each result is what the command would have given: its exit status or the
host signal that killed it, its stderr, and whether it outran its timeout
(then it is killed with SIGKILL and reported as a hang).

Input (stdin, JSON): {"jobs": [{"args": [...], "stderr": path}, ...],
"timeout": seconds, "parallel": n}.  Output (stdout, JSON): one
{"status": int, "signal": int, "hang": bool, "seconds": float} per job.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback


def _child(args: list[str], stderr_path: str) -> None:
    try:
        fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        from elfuse_py import cli
        rc = cli.main(args)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except BaseException:
        # What the interpreter would print for an uncaught exception.
        traceback.print_exc()
        sys.stderr.flush()
        rc = 1
    os._exit(rc)


def main() -> None:
    req = json.load(sys.stdin)
    jobs, timeout, parallel = req["jobs"], float(req["timeout"]), int(req.get("parallel", 2))
    from elfuse_py.host import platform
    platform.start()
    # Import what every child needs once, before forking.
    from elfuse_py import boot, cli  # noqa: F401
    results: list[dict | None] = [None] * len(jobs)
    running: dict[int, tuple[int, float]] = {}
    nxt = 0
    while nxt < len(jobs) or running:
        while nxt < len(jobs) and len(running) < parallel:
            pid = os.fork()
            if pid == 0:
                _child(jobs[nxt]["args"], jobs[nxt]["stderr"])
            running[pid] = (nxt, time.monotonic())
            nxt += 1
        pid, st = os.waitpid(-1, os.WNOHANG)
        now = time.monotonic()
        if pid == 0:
            for p, (i, t0) in list(running.items()):
                if now - t0 > timeout and results[i] is None:
                    results[i] = {"status": -1, "signal": 0, "hang": True, "seconds": now - t0}
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.002)
            continue
        if pid not in running:
            continue                       # a grandchild reparented to us: not a job
        i, t0 = running.pop(pid)
        if results[i] is None:
            results[i] = {"status": os.WEXITSTATUS(st) if os.WIFEXITED(st) else -1,
                          "signal": os.WTERMSIG(st) if os.WIFSIGNALED(st) else 0,
                          "hang": False, "seconds": now - t0}
    json.dump(results, sys.stdout)


def run_jobs(jobs: list[dict], timeout: float, parallel: int = 2,
             env: dict | None = None) -> list[dict]:
    """The client side: run `jobs` through a fresh fork server (this file) and return the results.

    PYTHONPATH is this checkout, or ELFUSE_FUZZ_ROOT (another checkout, to compare)."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = os.environ.get("ELFUSE_FUZZ_ROOT", root)
    r = subprocess.run([sys.executable, os.path.abspath(__file__)],
                       input=json.dumps({"jobs": jobs, "timeout": timeout,
                                         "parallel": parallel}).encode(),
                       capture_output=True, env=e, timeout=timeout * len(jobs) + 60)
    if r.returncode != 0:
        raise RuntimeError("the fork server failed: " + r.stderr.decode(errors="replace")[-3000:])
    return json.loads(r.stdout)


if __name__ == "__main__":
    main()
