"""The gdb stub (`elfuse-py -g PORT`): real gdb sessions and the protocol itself.

With Debian's gdb-multiarch installed, gdb in batch mode debugs
guest-bins/build/gdb_target (-O0 -g): break, next, print, step, bt, a
register, the exit code, Ctrl-C, threads, a watchpoint, a SIGSEGV, fork and exec; one
session also under the macOS host model.  Without it those skip, and a small
client in this file speaks the remote protocol to the stub directly.

Every process has a timeout: a stub that never answers fails a test, it does
not hang the suite.  The stub picks a free port (-g 0) and says which on stderr.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from helpers import ROOT, available_libcs, guest_bin

GDB = shutil.which("gdb-multiarch")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed")
TIMEOUT = 60


class Guest:
    """elfuse-py -g 0 PROGRAM ARGS, with its stdout and stderr read as they come."""

    def __init__(self, program: str, *args: str, extra_env: dict | None = None,
                 options: tuple[str, ...] = ()) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONPATH", str(ROOT))
        env.pop("ELFUSE_GDB", None)
        env.update(extra_env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "elfuse_py", *options, "-g", "0", program, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: dict[str, queue.Queue] = {"out": queue.Queue(), "err": queue.Queue()}
        self.text = {"out": [], "err": []}
        self.pumps = [threading.Thread(target=self._pump, args=(name, pipe), daemon=True)
                      for name, pipe in (("out", self.proc.stdout), ("err", self.proc.stderr))]
        for t in self.pumps:
            t.start()
        line = self.wait_line("err", "waiting for gdb on ")
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))

    def _pump(self, name: str, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace")
            self.text[name].append(line)
            self.lines[name].put(line)

    def wait_line(self, name: str, needle: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {needle!r} on std{name}: {''.join(self.text[name])!r}")
            try:
                line = self.lines[name].get(timeout=left)
            except queue.Empty:
                continue
            if needle in line:
                return line

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            status = self.proc.wait(timeout=timeout)
        finally:
            self.close()
        for t in self.pumps:            # everything the guest wrote is in self.text
            t.join(timeout=10)
        return status

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def gdb_batch(guest: Guest, *commands: str, program: str | None = None) -> subprocess.Popen:
    args = [GDB, "-nx", "-batch"]
    if program:
        args += ["-ex", f"file {program}"]
    args += ["-ex", f"target remote 127.0.0.1:{guest.port}"]
    for c in commands:
        args += ["-ex", c]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def run_gdb(guest: Guest, *commands: str, program: str | None = None) -> str:
    gdb = gdb_batch(guest, *commands, program=program)
    try:
        out, _ = gdb.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        gdb.kill()
        out, _ = gdb.communicate()
        guest.close()
        raise AssertionError(f"gdb timed out:\n{out.decode(errors='replace')}")
    return out.decode(errors="replace")


SESSION = ("break main", "continue", "next", "print local", "step", "bt", "info registers pc", "continue")


def check_session(out: str) -> None:
    assert re.search(r"Breakpoint 1, main \(argc=1, argv=0x[0-9a-f]+\) at .*gdb_target\.c:\d+", out), out
    assert re.search(r"^\d+\s+int sq = square\(local\);", out, re.M), out        # next
    assert "$1 = 6" in out, out                                                  # print local
    assert re.search(r"^square \(x=6\) at .*gdb_target\.c:\d+", out, re.M), out  # step
    assert re.search(r"^#0  square \(x=6\) at ", out, re.M), out                  # bt
    assert re.search(r"^#1  0x[0-9a-f]+ in main \(argc=1, ", out, re.M), out
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <square\+\d+>", out, re.M), out
    assert "exited with code 07]" in out, out


@needs_gdb
@pytest.mark.parametrize("libc", available_libcs())
def test_session(libc):
    """break main, next, print a local, step into square, bt, a register, the exit code."""
    program = guest_bin("gdb_target", libc)
    guest = Guest(program)
    out = run_gdb(guest, *SESSION, program=program)
    check_session(out)
    assert guest.wait() == 7


@needs_gdb
def test_session_macos_model():
    """The same session under the macOS host model."""
    program = guest_bin("gdb_target")
    guest = Guest(program, extra_env={"ELFUSE_HOST_COMPAT": "darwin"})
    out = run_gdb(guest, *SESSION, program=program)
    check_session(out)
    assert guest.wait() == 7


@needs_gdb
def test_exec_file_from_the_stub():
    """Without `file`, gdb asks the stub for the program (qXfer:exec-file) and finds its symbols."""
    guest = Guest(guest_bin("gdb_target"))
    out = run_gdb(guest, "break square", "continue", "print x", "continue")
    assert re.search(r"Breakpoint 1, square \(x=6\)", out), out
    assert "$1 = 6" in out and "exited with code 07]" in out, out
    assert guest.wait() == 7


CROSS_ROOT = "/usr/aarch64-linux-gnu"
CROSS_CC = shutil.which("aarch64-linux-gnu-gcc")


@needs_gdb
@pytest.mark.skipif(CROSS_CC is None or not os.path.exists(CROSS_ROOT + "/lib/libc.so.6"),
                    reason="aarch64-linux-gnu-gcc with its glibc is not installed")
def test_dynamic_program_under_sysroot(tmp_path):
    """A dynamically linked program under -L: gdb reads the program and its libraries through
    the stub (vFile, resolved as the guest resolves them), with no `set sysroot`."""
    program = str(tmp_path / "gdb_target_dyn")
    subprocess.run([CROSS_CC, "-O0", "-g", "-pthread", "-o", program,
                    str(ROOT / "guest-bins" / "src" / "gdb_target.c")], check=True, timeout=TIMEOUT)
    guest = Guest(program, options=("-L", CROSS_ROOT))
    out = run_gdb(guest, "break square", "continue", "bt", "info sharedlibrary", "continue")
    assert re.search(r"Breakpoint 1, square \(x=6\)", out), out
    assert re.search(r"^#1  0x[0-9a-f]+ in main \(", out, re.M), out
    assert re.search(r"Yes.*target:/lib/libc\.so\.6", out), out            # symbols of the guest's libc
    assert "exited with code 07]" in out, out
    assert guest.wait() == 7


@needs_gdb
def test_ctrl_c_interrupts_a_running_guest():
    """SIGINT to gdb (a Ctrl-C) during `continue`: gdb sends 0x03 and the spinning guest stops."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "spin")
    gdb = gdb_batch(guest, "continue", "print counter > 0", "print counter = 5", "print counter",
                    "info registers pc", "kill", program=program)
    try:
        guest.wait_line("out", "spinning")
        time.sleep(0.3)
        gdb.send_signal(signal.SIGINT)
        out, _ = gdb.communicate(timeout=TIMEOUT)
    finally:
        if gdb.poll() is None:
            gdb.kill()
            gdb.communicate()
    out = out.decode(errors="replace")
    assert "Program received signal SIGINT, Interrupt." in out, out
    assert "$1 = 1" in out and "$3 = 5" in out, out          # memory read and written
    assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <main\+\d+>", out, re.M), out
    assert "killed]" in out, out
    assert guest.wait() in (-signal.SIGKILL, 128 + signal.SIGKILL)


@needs_gdb
def test_threads_are_gdb_threads():
    """Guest threads (their guest tids) in `info threads`; a breakpoint hit in each thread."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "threads")
    out = run_gdb(guest, "break thread_body", "continue", "info threads", "print arg", "continue",
                  "print arg", "continue", program=program)
    hits = re.findall(r"Thread (\d+) hit Breakpoint 1, thread_body \(arg=0x(\d)\)", out)
    assert sorted(a for _, a in hits) == ["1", "2"], out
    listed = re.findall(r"^[* ] +\d+ +Thread (\d+) ", out, re.M)
    # the main thread's tid is the pid; the others' are other guest tids (thread 2 may
    # not exist yet when thread 1 hits the breakpoint)
    assert listed[0] == str(guest.proc.pid) and len(set(listed)) == len(listed) >= 2, out
    switched = re.findall(r"\[Switching to Thread (\d+)\]", out)      # the hits' guest tids
    assert len(set(switched)) == 2 and str(guest.proc.pid) not in switched, out
    assert "exited normally]" in out, out
    assert guest.wait() == 0


@needs_gdb
def test_watchpoint():
    """`watch counter`: each thread's store stops with the old and new values."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "threads")
    out = run_gdb(guest, "break run_threads", "continue", "watch counter", "continue", "continue",
                  "delete", "continue", program=program)
    changes = re.findall(r"hit Hardware watchpoint 2: counter\s+Old value = (\d+)\s+New value = (\d+)", out)
    assert sorted(changes) in ([("0", "1"), ("1", "3")], [("0", "2"), ("2", "3")]), out
    assert "exited normally]" in out, out
    assert guest.wait() == 0


@needs_gdb
def test_segv_reported_then_fatal():
    """A guest SIGSEGV stops in gdb at the faulting line; continuing delivers it and the guest dies."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "segv")
    out = run_gdb(guest, "continue", "bt 1", "continue", program=program)
    assert "Program received signal SIGSEGV, Segmentation fault." in out, out
    assert re.search(r"in main \(.*gdb_target\.c:\d+", out), out
    assert "Program terminated with signal SIGSEGV, Segmentation fault." in out, out
    assert guest.wait() == 139


@needs_gdb
def test_signal_from_gdb_is_delivered():
    """`signal SIGUSR1` at a breakpoint: delivered (default action: the guest dies of it), not shown again."""
    program = guest_bin("gdb_target")
    guest = Guest(program)
    out = run_gdb(guest, "break square", "continue", "signal SIGUSR1", program=program)
    assert "Program received signal SIGUSR1" not in out, out
    assert "Program terminated with signal SIGUSR1" in out, out
    assert guest.wait() in (-signal.SIGUSR1, 128 + 10)


@needs_gdb
def test_signal_to_a_handler_then_step():
    """A signal with a guest handler stops in gdb (served from inside the syscall hook); `stepi`
    goes to the handler's first instruction; passed on, every signal check of the program holds."""
    guest = Guest(guest_bin("t_sig_handler"))
    out = run_gdb(guest, "continue", "print/x $pc", "stepi", "print/x $pc",
                  "handle all nostop noprint pass", "continue")
    assert "Program received signal SIGUSR1" in out, out
    pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)
    assert len(pcs) == 2 and pcs[0] != pcs[1], out
    assert "exited normally]" in out, out
    assert guest.wait() == 0
    stdout = "".join(guest.text["out"])
    assert "ok - " in stdout and "not ok" not in stdout, stdout


@needs_gdb
def test_fork_child_runs_without_the_stub():
    """A breakpoint only the fork child reaches: the child runs undebugged, the parent's session goes on."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "fork")
    out = run_gdb(guest, "break child_work", "continue", program=program)
    assert "hit Breakpoint" not in out and "Breakpoint 1, " not in out, out
    assert "exited with code 05]" in out, out
    assert guest.wait() == 5


@needs_gdb
def test_exec_ends_the_session():
    """execve: gdb is told, the connection closes, the new image runs to its end."""
    program = guest_bin("gdb_target")
    guest = Guest(program, "exec")
    out = run_gdb(guest, "continue", program=program)
    assert "the new image runs without the debugger" in out, out
    assert "Remote connection closed" in out, out
    assert guest.wait() == 7


# ----- the protocol without gdb ------------------------------------------------------

class Client:
    """Just enough of gdb's side of the remote protocol (ack mode, then no-ack)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.ack = True

    def send(self, data: bytes) -> None:
        self.sock.sendall(b"$%s#%02x" % (data, sum(data) & 0xFF))

    def recv(self) -> bytes:
        while True:
            m = re.match(rb"^\+*\$([^#]*)#([0-9a-f]{2})", self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                assert int(m.group(2), 16) == sum(m.group(1)) & 0xFF
                if self.ack:
                    self.sock.sendall(b"+")
                return m.group(1)
            data = self.sock.recv(65536)
            assert data, "the stub closed the connection"
            self.buf += data

    def ask(self, data: bytes) -> bytes:
        self.send(data)
        return self.recv()


def _entry(path: str) -> int:
    with open(path, "rb") as f:
        return struct.unpack_from("<Q", f.read(64), 24)[0]


def _le(hexval: bytes) -> int:
    return int.from_bytes(bytes.fromhex(hexval.decode()), "little")


@pytest.mark.parametrize("model", ["host", "darwin"])
def test_protocol(model):
    """Registers, memory, a breakpoint, a step, threads, target.xml, detach: as gdb would ask."""
    program = guest_bin("gdb_target")
    entry = _entry(program)
    guest = Guest(program, extra_env={"ELFUSE_HOST_COMPAT": "darwin"} if model == "darwin" else {})
    try:
        c = Client(guest.port)
        assert b"qXfer:features:read+" in c.ask(b"qSupported:multiprocess+;swbreak+")
        assert c.ask(b"QStartNoAckMode") == b"OK"
        c.ack = False
        assert c.ask(b"?").startswith(b"T05thread:%x;" % guest.proc.pid)
        regs = c.ask(b"g")
        assert len(regs) == 2 * (33 * 8 + 4 + 32 * 16 + 4 + 4)
        assert _le(regs[32 * 16:33 * 16]) == entry                      # pc is register 32
        assert _le(c.ask(b"p20")) == entry
        sp = _le(c.ask(b"p1f"))
        assert sp and sp % 16 == 0
        xml = c.ask(b"qXfer:features:read:target.xml:0,4000")
        assert xml[:1] == b"l" and b"org.gnu.gdb.aarch64.core" in xml and b"org.gnu.gdb.aarch64.fpu" in xml
        # the auxv (gdb finds a PIE's load address from its AT_ENTRY) and the program's path
        auxv = c.ask(b"qXfer:auxv:read::0,1000")
        assert auxv[:1] == b"l"
        auxv = re.sub(rb"\}(.)", lambda m: bytes((m.group(1)[0] ^ 0x20,)), auxv[1:], flags=re.S)
        assert len(auxv) % 16 == 0
        pairs = dict(struct.iter_unpack("<QQ", auxv))
        assert pairs[9] == entry                                        # AT_ENTRY
        assert c.ask(b"qXfer:exec-file:read::0,1000") == b"l" + os.path.realpath(program).encode()
        # memory: the entry's instruction, an unmapped address, a write read back
        insn = c.ask(b"m%x,4" % entry)
        assert len(insn) == 8
        assert c.ask(b"m0,4")[:1] == b"E"
        assert c.ask(b"M%x,8:1122334455667788" % (sp - 64)) == b"OK"
        assert c.ask(b"m%x,8" % (sp - 64)) == b"1122334455667788"
        assert c.ask(b"X%x,2:\x7d\x03\x7d\x04" % (sp - 64)) == b"OK"      # binary '#$', escaped
        assert c.ask(b"m%x,3" % (sp - 64)) == b"232433"
        assert c.ask(b"P0=efbeadde00000000") == b"OK" and c.ask(b"p0") == b"efbeadde00000000"
        assert c.ask(b"P0=0000000000000000") == b"OK"
        # one step from the entry: pc moves on by an instruction (or a branch)
        c.send(b"vCont;s:%x;c" % guest.proc.pid)
        stop = c.recv()
        assert stop.startswith(b"T05thread:%x;" % guest.proc.pid), stop
        pc = _le(c.ask(b"p20"))
        assert pc != entry
        # a breakpoint on the entry's next-but-one instruction is hit by continuing
        target = pc + 4
        assert c.ask(b"Z0,%x,4" % target) == b"OK"
        c.send(b"c")
        assert c.recv().startswith(b"T05")
        assert _le(c.ask(b"p20")) == target
        assert c.ask(b"z0,%x,4" % target) == b"OK"
        assert c.ask(b"qfThreadInfo") == b"m%x" % guest.proc.pid
        assert c.ask(b"qsThreadInfo") == b"l"
        assert c.ask(b"qC") == b"QC%x" % guest.proc.pid
        assert c.ask(b"T%x" % guest.proc.pid) == b"OK"
        assert c.ask(b"vUnknownThing") == b""
        # vFile: the program, read through the stub; writes refused
        path = os.path.realpath(program).encode()
        h = c.ask(b"vFile:open:%s,0,0" % path.hex().encode())
        assert h.startswith(b"F") and not h.startswith(b"F-1")
        fd = h[1:]
        head = c.ask(b"vFile:pread:%s,4,0" % fd)
        assert head == b"F4;\x7fELF"
        assert c.ask(b"vFile:fstat:%s" % fd)[:4] == b"F40;"
        assert c.ask(b"vFile:close:%s" % fd) == b"F0"
        assert c.ask(b"vFile:open:%s,1,0" % path.hex().encode()) == b"F-1,d"          # EACCES
        assert c.ask(b"vFile:open:%s,0,0" % b"/nonexistent".hex().encode()) == b"F-1,2"
        # continue to the end: the exit status arrives as W
        c.send(b"c")
        assert c.recv() == b"W07"
    except BaseException:
        guest.close()
        raise
    assert guest.wait() == 7


def test_detach_runs_the_guest_on():
    """D: the guest runs to its end without the debugger."""
    guest = Guest(guest_bin("gdb_target"))
    c = Client(guest.port)
    assert c.ask(b"Z0,%x,4" % _entry(guest_bin("gdb_target"))) == b"OK"   # removed by the detach
    assert c.ask(b"D") == b"OK"
    assert guest.wait() == 7


def test_disconnect_runs_the_guest_on():
    """gdb going away without a word is a detach too."""
    guest = Guest(guest_bin("gdb_target"))
    c = Client(guest.port)
    c.ask(b"qSupported")
    c.sock.close()
    assert guest.wait() == 7


def test_bad_address_is_a_usage_error():
    from helpers import run_elfuse
    r = run_elfuse([guest_bin("hello")], options=["-g", "notaport"])
    assert r.returncode == 2 and b"-g needs a TCP port" in r.stderr
    r = run_elfuse([guest_bin("hello")], extra_env={"ELFUSE_GDB": "70000"})
    assert r.returncode == 2 and b"-g needs a TCP port" in r.stderr


def test_packet_escapes_round_trip():
    from elfuse_py.gdbstub.packets import checksum, escape, unescape
    data = bytes(range(256))
    esc = escape(data)
    assert not set(esc) & set(b"#$*") and unescape(esc) == data
    assert checksum(b"OK") == b"9a"


def test_signal_numbers_by_name():
    """gdb's numbering differs from Linux's: SIGBUS 10, SIGUSR1 30, SIGCHLD 20; RT signals offset."""
    from elfuse_py.gdbstub.gdbsig import from_gdb, to_gdb
    assert [to_gdb(s) for s in (5, 7, 10, 11, 17, 34)] == [5, 10, 30, 11, 20, 46]
    assert all(from_gdb(to_gdb(s)) == s for s in range(1, 65) if s != 16)     # SIGSTKFLT: no gdb name
