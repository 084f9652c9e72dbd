"""A real privilege-separated daemon: Debian's arm64 OpenSSH sshd under `elfuse-py -L ROOT`.

The host's ssh logs in with a key on a free loopback port.  sshd re-executes
itself for the connection (rexec), forks the unprivileged pre-auth child,
which chroots to /run/sshd (the guest's chroot, in the path layer), drops to
the privsep user, sets PR_SET_NO_NEW_PRIVS and tries its seccomp filter
(refused as by a kernel without CONFIG_SECCOMP: it logs and goes on), passes
fds to the monitor over a socketpair; after the login the session runs the
guest root's shell and programs.  The command's output must come from the
guest root (a marker file only there); an `ssh -tt` session gets a prompt
on a pty and ends with `exit`.  Under the macOS host model too.

Needs root (sshd refuses otherwise: privilege separation, the host key's
owner) and the host's ssh and ssh-keygen; skipped where Debian's packages
cannot be fetched.  Everything lives in a temporary directory, removed after,
and sshd's whole process group is killed.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ssh")
                                or not shutil.which("ssh-keygen"),
                                reason="needs root and the host's ssh/ssh-keygen")

MARKER = "only-in-the-guest-root 7f3a"
SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PidFile none
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()             # the root is hard-linked from the cache: never write through
    path.write_text(text)
    path.chmod(mode)


def _make_root(base: Path, client_pub: str, port: int) -> Path:
    from sshd_root import sshd_root
    cache = sshd_root()
    root = base / "root"
    subprocess.run(["cp", "-al", str(cache), str(root)], check=True)
    for d, mode in (("run/sshd", 0o755), ("root/.ssh", 0o700), ("tmp", 0o1777), ("etc/ssh", 0o755)):
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d).chmod(mode)
    (root / "root").chmod(0o700)
    _write(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
           "sshd:x:65534:65534:privsep:/run/sshd:/usr/sbin/nologin\n")
    _write(root / "etc/group", "root:x:0:\nnogroup:x:65534:\n")
    _write(root / "etc/shadow", "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n", 0o600)
    _write(root / "etc/ssh/sshd_config", SSHD_CONFIG.format(port=port))
    _write(root / "root/.ssh/authorized_keys", client_pub, 0o600)
    _write(root / "marker", MARKER + "\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(root / "etc/ssh/ssh_host_ed25519_key")], check=True)
    return root


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)


@pytest.fixture(params=["linux", "darwin-model"])
def sshd(request):
    # The root's host ancestors must be searchable by the privsep user (pytest's
    # tmp_path is 0700): under the emulator the chroot is a host directory.
    base = Path(tempfile.mkdtemp(prefix="elfuse-sshd-"))
    base.chmod(0o755)
    proc = None
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "client")],
                       check=True)
        port = _free_port()
        root = _make_root(base, (base / "client.pub").read_text(), port)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if request.param == "darwin-model":
            env["ELFUSE_HOST_COMPAT"] = "darwin"
        log = open(base / "sshd.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "elfuse_py", "-L", str(root), "-0", "/usr/sbin/sshd",
                                 str(root / "usr/sbin/sshd"), "-D", "-e", "-o", "LogLevel=DEBUG1",
                                 "-f", "/etc/ssh/sshd_config"],
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
        log.close()
        _wait_listening(port, proc)
        yield base, port, proc
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def _ssh(base: Path, port: int, *args: str, input: bytes | None = None, timeout: float = 120):
    return subprocess.run(["ssh", "-i", str(base / "client"), "-p", str(port),
                           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", *args],
                          input=input, capture_output=True, timeout=timeout)


def _log(base: Path) -> str:
    return (base / "sshd.log").read_text(errors="replace")


def test_sshd_key_login_runs_the_guest_roots_command(sshd):
    base, port, proc = sshd
    assert proc.poll() is None, "sshd exited:\n" + _log(base)
    r = _ssh(base, port, "root@127.0.0.1", "cat /marker; id -u; cd ~ && pwd")
    assert r.returncode == 0, r.stderr.decode(errors="replace") + "\n" + _log(base)
    assert r.stdout.decode().splitlines() == [MARKER, "0", "/root"], r.stdout
    log = _log(base)
    # The pre-auth child went through privilege separation: chroot, the privsep
    # user, and the seccomp sandbox's fallback (EINVAL from prctl, logged).
    assert "permanently_set_uid: 65534/65534 [preauth]" in log, log
    assert "prctl(PR_SET_SECCOMP): Invalid argument" in log, log
    assert "Accepted publickey for root" in log, log
    assert "unsupported syscall" not in log, log


def test_sshd_serves_a_second_login(sshd):
    base, port, proc = sshd
    for _ in range(2):
        r = _ssh(base, port, "root@127.0.0.1", "cat /marker")
        assert r.returncode == 0 and r.stdout.decode().strip() == MARKER, \
            r.stderr.decode(errors="replace") + "\n" + _log(base)


def test_sshd_interactive_session_on_a_pty(sshd):
    base, port, proc = sshd
    r = _ssh(base, port, "-tt", "root@127.0.0.1", input=b"echo hi-from-pty; tty; exit\n")
    out = r.stdout
    assert r.returncode == 0, r.stderr.decode(errors="replace") + "\n" + _log(base)
    assert b"# " in out, out                                     # dash's root prompt
    assert re.search(rb"^(# )?hi-from-pty\r?$", out, re.M), out  # the command's output, not its echo
    assert re.search(rb"^/dev/pts/\d+\r?$", out, re.M), out      # the session has a controlling pty
