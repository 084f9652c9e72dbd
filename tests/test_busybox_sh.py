"""Debian's arm64 busybox `sh` running real scripts under elfuse-py.

Every script runs as `elfuse-py busybox sh -c SCRIPT` with an empty PATH, so
applets that are not shell builtins are started by re-exec'ing
/proc/self/exe (which the emulator maps to the guest program).  Output and
exit status are asserted against known answers; scripts that need no
external applet are also compared with qemu-aarch64 (qemu-user cannot
re-exec /proc/self/exe, so the others would fail there).

The busybox binary comes from the same cache as tests/test_busybox.py.
"""
from __future__ import annotations

import os

import pytest

from helpers import run_elfuse, run_qemu
from test_busybox import busybox  # noqa: F401 - the session fixture (fetch or skip)

# (id, script, expected stdout, expected status, qemu-comparable)
CASES = [
    ("echo-status", "echo hello; exit 7", "hello\n", 7, True),
    ("pipeline", "echo 'b\na\nc' | sort | tr a-z A-Z", "A\nB\nC\n", 0, False),
    ("pipeline-status", "false | true; echo $?; true | false; echo $?", "0\n1\n", 0, True),
    ("subshell", "x=1; (x=2; echo in $x; exit 4); echo out $x $?", "in 2\nout 1 4\n", 0, True),
    ("command-subst", 'a=$(echo one; echo two); echo "[$a]"; echo $(($(echo 6) * 7))',
     "[one\ntwo]\n42\n", 0, True),
    ("nested-subst", 'echo "$(echo "$(echo deep | tr d D)")"', "Deep\n", 0, False),
    ("redirections", "cd \"$T\"; echo a > f; echo b >> f; cat < f; wc -l < f; "
     "echo err >&2 2>/dev/null; ls nonexistent 2>/dev/null || echo missing; cat f | wc -c",
     "a\nb\n2\nmissing\n4\n", 0, False),
    ("heredoc", "cat <<EOF\nline $((1+1))\nEOF\nread x <<EOF\nvalue\nEOF\necho $x",
     "line 2\nvalue\n", 0, False),
    ("fd-dup", "exec 3>&1; echo via3 >&3; exec 3>&-; { echo grouped; echo more; } | wc -l",
     "via3\n2\n", 0, False),
    ("trap-exit", "trap 'echo bye' EXIT; echo hi", "hi\nbye\n", 0, True),
    ("trap-signal", "trap 'echo got USR1' USR1; kill -USR1 $$; echo after", "got USR1\nafter\n",
     0, True),
    ("trap-term-child", "sleep 5 & p=$!; kill $p; wait $p; echo status $?",
     "status 143\n", 0, False),
    ("background-wait", "(sleep 0.2; echo late) & echo early; wait; echo done",
     "early\nlate\ndone\n", 0, False),
    ("wait-status", "(exit 3) & wait $!; echo $?", "3\n", 0, True),
    ("multiple-jobs", "for i in 1 2 3; do (echo job$i > \"$T/j$i\") & done; wait; cat \"$T\"/j1 \"$T\"/j2 \"$T\"/j3",
     "job1\njob2\njob3\n", 0, False),
    ("loop-and-case", "for w in apple pear fig; do case $w in a*) echo A;; p*) echo P;; *) echo other;; esac; done",
     "A\nP\nother\n", 0, True),
    ("functions", "f() { echo \"f:$1\"; return 5; }; f x; echo $?", "f:x\n5\n", 0, True),
    ("applet-exit-status", "grep -q zzz /dev/null; echo $?; test -d /; echo $?", "1\n0\n", 0, False),
    ("segfault-child", "sh -c 'kill -SEGV $$'; echo $?", "139\n", 0, False),
    ("exec-replace", "exec echo replaced; echo not reached", "replaced\n", 0, True),
    # A #! script whose interpreter is busybox itself, and a script without #!
    # (execve gives ENOEXEC and the shell runs it itself).
    ("script-file", "cd \"$T\"; printf '#!%s sh\\necho from script $1\\n' \"$BB\" > s.sh; "
     "printf 'echo plain $1\\n' > p.sh; chmod +x s.sh p.sh; ./s.sh arg; ./p.sh x",
     "from script arg\nplain x\n", 0, False),
    ("xargs-seq", "seq 1 5 | xargs echo | tr ' ' +", "1+2+3+4+5\n", 0, False),
    ("sigpipe-pipeline", "yes | head -n 2; echo ${PIPESTATUS:-ok}", "y\ny\nok\n", 0, False),
]


def _env(tmp: str) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ELFUSE")}
    e.update(PATH="", T=tmp, LC_ALL="C", TZ="UTC")
    return e


@pytest.mark.parametrize("name,script,out,status,qemu_ok", CASES, ids=[c[0] for c in CASES])
def test_busybox_sh(busybox, tmp_path, name, script, out, status, qemu_ok):  # noqa: F811
    env = dict(_env(str(tmp_path)), BB=busybox)
    r = run_elfuse([busybox, "sh", "-c", script], env=env, timeout=60,
                   cwd=str(tmp_path))
    assert (r.stdout.decode(), r.returncode) == (out, status), r.stderr.decode(errors="replace")
    if qemu_ok:
        q = run_qemu([busybox, "sh", "-c", script], env=_env(str(tmp_path)), timeout=60,
                     cwd=str(tmp_path))
        assert (r.stdout, r.returncode) == (q.stdout, q.returncode)


def test_busybox_applet_via_proc_self_exe(busybox, tmp_path):  # noqa: F811
    """With PATH empty, `ls` is found by re-exec'ing /proc/self/exe."""
    (tmp_path / "a").write_text("x")
    r = run_elfuse([busybox, "sh", "-c", "ls"], env=_env(str(tmp_path)), cwd=str(tmp_path))
    assert r.stdout == b"a\n" and r.returncode == 0


def test_sigint_reaches_guest_handler(busybox, tmp_path):  # noqa: F811
    """A host SIGINT (Ctrl-C) runs the guest's trap, even while it waits for a child."""
    import signal
    import subprocess
    import sys
    import time
    from helpers import ROOT
    env = _env(str(tmp_path))
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.Popen([sys.executable, "-m", "elfuse_py", busybox, "sh", "-c",
                          "trap 'echo caught INT; exit 9' INT; echo ready; sleep 10 & wait"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert out == b"caught INT\n" and p.returncode == 9, err
