"""Real programs from Debian's arm64 packages, on the Linux host and under the macOS host
model (ELFUSE_HOST_COMPAT=darwin): git, bash, socat, tmux, curl, ssh-agent, dbus and
Python servers, each doing the everyday thing a user would, with the same result in both.

The root is built once by tests/debian_sysroot.py (skipped where Debian's packages cannot
be fetched).  Each scenario is one host-side script of elfuse-py runs in a fresh
directory; hosts sockets and servers are on loopback or in that directory.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import debian_sysroot
from helpers import ROOT

ARM64 = [
    "libc6", "libgcc-s1", "gcc-12-base", "coreutils", "dash", "bash", "grep", "sed",
    "libselinux1", "libpcre2-8-0", "libacl1", "libattr1", "libgmp10", "libtinfo6",
    "libncursesw6", "libreadline8", "zlib1g", "libzstd1", "liblzma5", "libbz2-1.0",
    "libssl3", "libexpat1", "libffi8", "libuuid1", "libsqlite3-0", "libcrypt1", "libmd0",
    "libbsd0", "libcap2",
    # git
    "git", "libcurl3-gnutls", "libnghttp2-14", "libidn2-0", "libunistring2", "librtmp1",
    "libgnutls30", "libhogweed6", "libnettle8", "libp11-kit0", "libtasn1-6", "libssh2-1",
    "libgcrypt20", "libgpg-error0", "libpsl5", "libgssapi-krb5-2", "libkrb5-3",
    "libk5crypto3", "libkrb5support0", "libcom-err2", "libkeyutils1", "libldap-2.5-0",
    "libsasl2-2", "libsasl2-modules-db", "libdb5.3", "libbrotli1",
    # curl, socat, tmux, ssh-agent, dbus
    "curl", "libcurl4", "socat", "libwrap0", "libnsl2", "libtirpc3", "tmux",
    "libevent-core-2.1-7", "libutempter0", "openssh-client", "libedit2", "libfido2-1",
    "libcbor0.8", "libudev1", "dbus-daemon", "dbus-bin", "libdbus-1-3", "libsystemd0",
    "liblz4-1", "libapparmor1", "libaudit1", "libcap-ng0",
    # python3.11 for the servers
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
]
ARCH_ALL = ["media-types"]
TIMEOUT = 120
MODELS = {"linux": {}, "macos-model": {"ELFUSE_HOST_COMPAT": "darwin", "ELFUSE_MODEL_CASEFOLD": "1"}}


@pytest.fixture(scope="module")
def root():
    return debian_sysroot.build("debian-arm64-real", ARM64, ARCH_ALL, merge_usr=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """Runs programs of the root under elfuse-py -L in one working directory."""

    def __init__(self, root, cwd, env):
        self.root, self.cwd = root, cwd
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(cwd), LC_ALL="C", **env)
        self.env.pop("ELFUSE_HOST_COMPAT", None) if not env else None

    def argv(self, prog, *args):
        return [sys.executable, "-m", "elfuse_py", "-L", str(self.root), str(self.root) + prog, *args]

    def run(self, prog, *args, check=True, timeout=TIMEOUT, extra=None, cwd=None):
        env = dict(self.env, **(extra or {}))
        r = subprocess.run(self.argv(prog, *args), cwd=cwd or self.cwd, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        if check:
            assert r.returncode == 0, (prog, args, r.stdout.decode(errors="replace"),
                                       r.stderr.decode(errors="replace"))
        return r

    def start(self, prog, *args, extra=None):
        env = dict(self.env, **(extra or {}))
        return subprocess.Popen(self.argv(prog, *args), cwd=self.cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


def _wait_for(path, timeout=60.0) -> None:
    """Until a unix socket at `path` accepts connections (bound is not yet listening)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {path}"
            time.sleep(0.1)


def _stop(p: subprocess.Popen) -> None:
    p.terminate()
    try:
        p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


def scenario_git(g: Guest, tmp):
    ids = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b"}
    g.run("/usr/bin/git", "init", "-q", "repo", extra=ids)
    (tmp / "repo" / "f").write_text("hello\n")
    repo = tmp / "repo"
    g.run("/usr/bin/git", "add", "f", extra=ids, cwd=repo)
    g.run("/usr/bin/git", "commit", "-qm", "first", extra=ids, cwd=repo)
    (repo / "f").write_text("hello\nmore\n")
    assert g.run("/usr/bin/git", "status", "--short", extra=ids, cwd=repo).stdout == b" M f\n"
    g.run("/usr/bin/git", "commit", "-qam", "second", extra=ids, cwd=repo)
    g.run("/usr/bin/git", "clone", "-q", "repo", "clone", extra=ids)
    log = g.run("/usr/bin/git", "-C", "clone", "log", "--format=%s", extra=ids).stdout
    assert log == b"second\nfirst\n" and (tmp / "clone" / "f").read_text() == "hello\nmore\n"


def scenario_bash(g: Guest, tmp):
    script = textwrap.dedent("""\
        set -e
        f() { echo "f:$1"; }; f a
        arr=(1 2 3); echo ${#arr[@]} $(( 6 * 7 ))
        printf '%s\\n' x y | sort -r | head -1
        (exit 3) || echo sub=$?
        trap 'echo trapped' USR1; kill -USR1 $$
        sleep 0.1 & wait $!; echo waited=$?
        coproc cat; echo ping >&${COPROC[1]}; read -u ${COPROC[0]} line; echo got=$line
        exec {COPROC[1]}>&-; wait
        for i in 1 2 3; do /bin/true; done; echo $(ls / | wc -l) > /dev/null; echo end
    """)
    out = g.run("/bin/bash", "-c", script).stdout.decode()
    assert out == "f:a\n3 42\ny\nsub=3\ntrapped\nwaited=0\ngot=ping\nend\n", out


def scenario_socat(g: Guest, tmp):
    sock = tmp / "s"
    # -t on both ends: after one side ends, wait for the other (the server forks and
    # execs a shell, which takes longer than socat's default half second under load).
    srv = g.start("/usr/bin/socat", "-t", "60", f"UNIX-LISTEN:{sock},fork", "SYSTEM:echo reply")
    try:
        _wait_for(sock)
        r = g.run("/usr/bin/socat", "-t", "60", "-", f"UNIX-CONNECT:{sock}")
        assert r.stdout == b"reply\n", r.stderr.decode(errors="replace")
    finally:
        _stop(srv)


def scenario_tmux(g: Guest, tmp):
    t = ["-S", str(tmp / "tm")]
    term = {"TERM": "xterm"}
    # The server tmux forks keeps the client's stdout: give it none to wait on.
    env = dict(g.env, **term)
    subprocess.run(g.argv("/usr/bin/tmux", *t, "new-session", "-d", "-x", "80", "-y", "24",
                          "/bin/bash --norc"), cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT, check=True)
    try:
        g.run("/usr/bin/tmux", *t, "send-keys", "echo tmux-ok-$((40+2))", "Enter", extra=term)
        deadline = time.monotonic() + 60
        while True:
            pane = g.run("/usr/bin/tmux", *t, "capture-pane", "-p", extra=term).stdout
            if b"tmux-ok-42" in pane:
                break
            assert time.monotonic() < deadline, pane
            time.sleep(0.5)
    finally:
        g.run("/usr/bin/tmux", *t, "kill-server", check=False, extra=term)


def scenario_curl(g: Guest, tmp):
    (tmp / "x.txt").write_text("payload\n")
    port = _free_port()
    srv = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                            "--directory", str(tmp)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        r = g.run("/usr/bin/curl", "-sS", f"http://127.0.0.1:{port}/x.txt")
        assert r.stdout == b"payload\n"
    finally:
        srv.kill()
        srv.wait()


def scenario_ssh_agent(g: Guest, tmp):
    sock = tmp / "agent"
    agent = g.start("/usr/bin/ssh-agent", "-D", "-a", str(sock))
    try:
        _wait_for(sock)
        r = g.run("/usr/bin/ssh-add", "-l", check=False, extra={"SSH_AUTH_SOCK": str(sock)})
        # 1: the agent answered and holds no identities (2 would be "cannot connect").
        assert r.returncode == 1 and b"no identities" in r.stdout + r.stderr, r
    finally:
        _stop(agent)


def scenario_dbus(g: Guest, tmp):
    conf = tmp / "s.conf"
    conf.write_text(f"""<busconfig><type>session</type><listen>unix:path={tmp}/bus</listen>
<auth>EXTERNAL</auth><policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>""")
    bus = g.start("/usr/bin/dbus-daemon", f"--config-file={conf}", "--nofork")
    try:
        _wait_for(tmp / "bus")
        r = g.run("/usr/bin/dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                  "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames",
                  extra={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp}/bus"})
        assert b'string "org.freedesktop.DBus"' in r.stdout, r.stdout
    finally:
        _stop(bus)


def scenario_python_servers(g: Guest, tmp):
    code = textwrap.dedent(f"""\
        import asyncio, http.server, threading, urllib.request
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with urllib.request.urlopen(f"http://127.0.0.1:{{srv.server_address[1]}}/") as r:
            print(r.status)
        srv.shutdown()
        async def main():
            async def echo(r, w):
                w.write(await r.readline()); await w.drain(); w.close()
            s = await asyncio.start_unix_server(echo, path="{tmp}/a.sock")
            r, w = await asyncio.open_unix_connection("{tmp}/a.sock")
            w.write(b"echo\\n"); print((await r.readline()).decode().strip()); w.close(); s.close()
        asyncio.run(main())
    """)
    r = g.run("/usr/bin/python3.11", "-c", code)
    assert r.stdout == b"200\necho\n", r.stdout


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items()
             if name.startswith("scenario_")}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_real_program(root, tmp_path, name, model):
    SCENARIOS[name](Guest(root, tmp_path, MODELS[model]), tmp_path)
