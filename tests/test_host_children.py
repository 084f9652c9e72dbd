"""host/children.py: waitid where Python has it and through the libc where it does not
(macOS before Python 3.13, and the macOS host model that plays it on Linux)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from elfuse_py.host import children


def _child(code: int) -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return pid


def test_libc_waitid_peeks_then_reaps() -> None:
    pid = _child(7)
    r = children._libc_waitid("P_PID", pid, children.WEXITED | children.WNOWAIT)
    assert (r.si_pid, r.si_status, r.si_code) == (pid, 7, os.CLD_EXITED)
    # WNOWAIT left it for the real wait, which now reaps it.
    r = children._libc_waitid("P_ALL", 0, children.WEXITED)
    assert (r.si_pid, r.si_status, r.si_signo) == (pid, 7, 17 if sys.platform.startswith("linux") else 20)
    try:
        children._libc_waitid("P_PID", pid, children.WEXITED | children.WNOHANG)
    except ChildProcessError:
        pass
    else:
        raise AssertionError("a reaped child is still waitable")


def test_libc_waitid_nohang_finds_nothing() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(r, 1)
        os._exit(0)
    try:
        assert children._libc_waitid("P_PID", pid, children.WEXITED | children.WNOHANG) is None
    finally:
        os.write(w, b"x")
        os.waitpid(pid, 0)


def test_model_hides_waitid_and_the_fallback_serves() -> None:
    code = textwrap.dedent("""
        import os
        from elfuse_py.host import platform
        platform.start()
        from elfuse_py.host import children
        assert not hasattr(os, "waitid") and not hasattr(os, "P_PID"), "waitid not hidden"
        pid = os.fork()
        if pid == 0:
            os._exit(3)
        r = children.peek("P_PID", pid, children.WEXITED)
        while r is None:
            r = children.peek("P_PID", pid, children.WEXITED)
        assert r.si_pid == pid and r.si_status == 3, r
        assert os.waitpid(pid, 0) == (pid, 3 << 8)
        print("ok")
    """)
    if sys.version_info >= (3, 13):
        code = code.replace('assert not hasattr(os, "waitid") and not hasattr(os, "P_PID"), "waitid not hidden"', "")
    env = dict(os.environ, ELFUSE_HOST_COMPAT="darwin")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode()
