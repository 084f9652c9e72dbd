"""Debian's arm64 python3.11 under elfuse-py with a guest root, against qemu-aarch64 -L.

The root (tests/.cache/debian-arm64-python, built by tests/debian_sysroot.py
from Debian's packages; skipped where apt-get or the mirror are unavailable)
holds coreutils and python3.11 with its stdlib's libraries.  Each test runs
one `python3.11 -c SCRIPT` (Python's start-up under emulation is the slow
part, so every script checks several things) and compares stdout and status
with qemu-aarch64 on the same root.  Socket scripts also run with
ELFUSE_HOST_COMPAT=darwin (SEQPACKET over framed streams, SCM_RIGHTS through
the registry) and must print the same.  subprocess starting a child python3 is
checked against the expected value: qemu-user cannot exec the guest binary
again without binfmt_misc.
"""
from __future__ import annotations

import textwrap

import pytest

import debian_sysroot
from helpers import run_elfuse, run_qemu

TIMEOUT = 180


@pytest.fixture(scope="module")
def root():
    return debian_sysroot.python_root()


def _py(root, script: str, *, cwd=None, extra_env=None, qemu: bool = True, darwin: bool = False,
        args: list[str] = ()) -> bytes:
    """Run the script under elfuse-py (and qemu, and the darwin policies); same output everywhere."""
    argv = [str(root / "usr/bin/python3.11"), "-c", textwrap.dedent(script), *args]
    e = run_elfuse(argv, options=["--sysroot", str(root)], timeout=TIMEOUT, cwd=cwd,
                   extra_env=extra_env)
    err = e.stderr.decode(errors="replace")[-3000:]
    assert e.returncode == 0, err
    if qemu:
        q = run_qemu(["-L", str(root), *argv], timeout=TIMEOUT, cwd=cwd, extra_env=extra_env)
        assert e.stdout == q.stdout, err
        assert e.returncode == q.returncode
    if darwin:
        d = run_elfuse(argv, options=["--sysroot", str(root)], timeout=TIMEOUT, cwd=cwd,
                       extra_env={**(extra_env or {}), "ELFUSE_HOST_COMPAT": "darwin"})
        assert d.stdout == e.stdout, d.stderr.decode(errors="replace")[-3000:]
        assert d.returncode == 0
    return e.stdout


def test_print_and_status(root):
    assert _py(root, "print(1 + 1, 2 ** 100, 7 / 2, -7 // 2)") == \
        b"2 1267650600228229401496703205376 3.5 -4\n"
    argv = [str(root / "usr/bin/python3.11"), "-c", "import sys; print('bye'); sys.exit(3)"]
    e = run_elfuse(argv, options=["--sysroot", str(root)], timeout=TIMEOUT)
    q = run_qemu(["-L", str(root), *argv], timeout=TIMEOUT)
    assert (e.returncode, e.stdout) == (q.returncode, q.stdout) == (3, b"bye\n")


def test_sys_info_and_imports(root, tmp_path):
    (tmp_path / "f1").write_text("x")
    (tmp_path / "d").mkdir()
    out = _py(root, """
        import os, sys, platform, json, hashlib, zlib, bz2, lzma, math, struct, datetime, re
        import decimal, fractions, sqlite3, ctypes, uuid
        print(sys.version_info[:3], sys.platform, sys.byteorder, sys.maxsize)
        print(platform.machine(), os.uname().machine, os.name, os.cpu_count() > 0)
        print(os.path.basename(sys.executable), sys.argv)
        print(sorted(os.listdir('.')), os.path.isdir('d'), os.getcwd() == os.path.realpath('.'))
        print(os.path.exists('/usr/lib/python3.11/os.py'), os.getpid() > 0)
        print(json.dumps({'a': [1, 2.5, None, True], 'b': 'é'}, sort_keys=True))
        print(json.loads('{"x": [1, {"y": null}]}'))
        print(hashlib.sha256(b'abc').hexdigest(), hashlib.md5(b'x').hexdigest())
        print(hashlib.sha3_256(b'').hexdigest()[:16], hashlib.blake2b(b'a').hexdigest()[:16])
        print(zlib.crc32(b'hello'), zlib.decompress(zlib.compress(b'xyz' * 100)) == b'xyz' * 100)
        print(bz2.decompress(bz2.compress(b'q' * 999)) == b'q' * 999,
              lzma.decompress(lzma.compress(b'w' * 999)) == b'w' * 999)
        print(math.pi, math.sqrt(2), float('1e308') * 10, struct.pack('<dI', 1.5, 7).hex())
        print(decimal.Decimal(1) / decimal.Decimal(7), fractions.Fraction(3, 9))
        print(datetime.datetime(2020, 1, 2, 3, 4, 5).isoformat(), re.findall(r'\\d+', 'a1b22'))
        db = sqlite3.connect(':memory:'); db.execute('create table t(x)')
        db.executemany('insert into t values (?)', [(i,) for i in range(10)])
        print(db.execute('select sum(x) from t').fetchone())
        print(ctypes.CDLL(None).abs(-5), len(str(uuid.uuid4())))
    """, cwd=tmp_path, args=["arg1"])
    assert b"aarch64 aarch64 posix True" in out
    assert b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in out


SEQPACKET = """
    import socket, os, tempfile, array
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    print(a.type == socket.SOCK_SEQPACKET, a.family == socket.AF_UNIX,
          a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_SEQPACKET)
    for m in (b'one', b'two-two', b'', b'x' * 5000):
        a.send(m)
    print([len(b.recv(10000)) for _ in range(4)])
    a.send(b'abcdefgh'); print(b.recv(3))            # the rest of the message is dropped
    a.send(b'zz'); print(b.recv(10))
    a.send(b'0123456789'); data, anc, flags, _ = b.recvmsg(4)
    print(data, bool(flags & socket.MSG_TRUNC))
    a.sendmsg([b'ab', b'cd']); print(b.recv(100))
    a.close(); print(b.recv(10))                      # EOF once the peer is gone
    s, t = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    s.sendall(b'ab'); s.sendall(b'cd'); s.close(); print(t.recv(10))
    d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    d1.send(b'm1'); d1.send(b'm2'); print(d2.recv(100), d2.recv(100))
    p = os.path.join(tempfile.mkdtemp(), 'sk')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); srv.bind(p); srv.listen(1)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect(p)
    conn, _ = srv.accept()
    c.send(b'hello'); c.send(b'world'); print(conn.recv(100), conn.recv(100))
    conn.send(b'back'); print(c.recv(2), srv.getsockname() == p, c.getpeername() == p)
    c.close(); print(conn.recv(10))
    os.unlink(p)
"""


def test_af_unix_seqpacket(root):
    out = _py(root, SEQPACKET, darwin=True)
    assert out.splitlines()[1] == b"[3, 7, 0, 5000]"


FD_PASSING = """
    import socket, os, tempfile, array
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    f = tempfile.TemporaryFile(); f.write(b'file-data'); f.flush()
    r, w = os.pipe()
    socket.send_fds(a, [b'payload'], [f.fileno(), r])
    msg, fds, flags, addr = socket.recv_fds(b, 100, 4)
    print(msg, len(fds), flags, fds[0] not in (f.fileno(), r))
    os.write(w, b'through-pipe'); print(os.read(fds[1], 100))
    print(os.pread(fds[0], 100, 0), os.fstat(fds[0]).st_ino == os.fstat(f.fileno()).st_ino)
    os.lseek(fds[0], 0, 0); print(os.read(f.fileno(), 4))   # one open file: shared offset
    s1, s2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r2, w2 = os.pipe()
    socket.send_fds(s1, [b'sq'], [w2, r]); socket.send_fds(s1, [b'none'], [])
    m, got, fl, _ = socket.recv_fds(s2, 10, 2); print(m, len(got))
    m2, got2, _, _ = socket.recv_fds(s2, 10, 2); print(m2, got2)
    os.write(got[0], b'x'); print(os.read(r2, 1))
    # a socket passed over a socket keeps its type and boundaries
    x1, x2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    socket.send_fds(s1, [b's'], [x2.fileno()]); _, (sfd,), _, _ = socket.recv_fds(s2, 10, 1)
    y = socket.socket(fileno=sfd)
    print(y.type == socket.SOCK_SEQPACKET)
    x1.send(b'12'); x1.send(b'345'); print(y.recv(10), y.recv(10))
"""


def test_scm_rights(root):
    out = _py(root, FD_PASSING, darwin=True)
    assert out.splitlines()[0] == b"b'payload' 2 0 True"


def test_scm_rights_ctrunc(root):
    """More fds than the control buffer holds: Linux passes what fits and sets MSG_CTRUNC
    (qemu-user does not report the truncation, so this is checked against Linux's answer)."""
    out = _py(root, """
        import socket, os, array
        s1, s2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        r, w = os.pipe()
        s1.sendmsg([b'c'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r, w, r]))])
        m, anc, fl, _ = s2.recvmsg(10, socket.CMSG_SPACE(4))
        fds = array.array('i'); fds.frombytes(anc[0][2])
        os.write(w, b'z'); print(m, len(fds), bool(fl & socket.MSG_CTRUNC), os.read(fds[0], 1))
        print(sorted(map(int, os.listdir('/proc/self/fd'))))   # the fd that did not fit was closed
    """, qemu=False, darwin=True)
    lines = out.splitlines()
    assert lines[0] == b"b'c' 2 True b'z'"     # CMSG_SPACE(4) has room for two ints
    # 0-2, the pair, the pipe, the two received fds, listdir's own: no emulator fds
    assert lines[1] == b"[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"


THREADS = """
    import threading, queue, time
    from concurrent.futures import ThreadPoolExecutor
    lock = threading.Lock(); count = [0]; q = queue.Queue()
    def work(n):
        for i in range(3000):
            with lock:
                count[0] += 1
        q.put(n * n)
    ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in ts: t.start()
    for t in ts: t.join()
    print(count[0], sorted(q.get() for _ in range(6)), threading.active_count())
    ev = threading.Event(); res = []
    def waiter(): res.append(ev.wait(30))
    t = threading.Thread(target=waiter); t.start(); time.sleep(0.05); ev.set(); t.join()
    print(res)
    c = threading.Condition(); items = []
    def consumer():
        with c:
            while len(items) < 5:
                c.wait()
            print('consumer saw', items)
    t = threading.Thread(target=consumer); t.start()
    for i in range(5):
        with c:
            items.append(i); c.notify()
    t.join()
    with ThreadPoolExecutor(4) as ex:
        print(list(ex.map(lambda x: x * 2, range(10))))
    tl = threading.local(); out = []
    def tls(i): tl.v = i; time.sleep(0.01); out.append(tl.v == i)
    ts = [threading.Thread(target=tls, args=(i,)) for i in range(4)]
    [t.start() for t in ts]; [t.join() for t in ts]; print(out)
    print(threading.current_thread() is threading.main_thread())
"""


def test_threads(root):
    out = _py(root, THREADS)
    assert out.splitlines()[0] == b"18000 [0, 1, 4, 9, 16, 25] 1"


THREADED_SOCKETS = """
    import socket, threading, os, tempfile, struct
    # A server thread blocks in accept()/recv() while the main thread is the client:
    # the emulator must run the other guest thread while one waits in the host.
    p = os.path.join(tempfile.mkdtemp(), 'srv')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); srv.bind(p); srv.listen(4)
    log = []
    def serve():
        for i in range(3):
            conn, _ = srv.accept()
            while True:
                m = conn.recv(100)
                if not m:
                    break
                conn.send(m.upper())
            conn.close()
            log.append(i)
    t = threading.Thread(target=serve); t.start()
    for i in range(3):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect(p)
        for w in (b'ab', b'cde'):
            c.send(w); print(c.recv(100))
        c.close()
    t.join(); print(log)
    # a pipe read in one thread, written by another after a delay
    r, w = os.pipe(); got = []
    t = threading.Thread(target=lambda: got.append(os.read(r, 10))); t.start()
    import time; time.sleep(0.05); os.write(w, b'late'); t.join(); print(got)
    # a stream pair with both ends in threads
    a, b = socket.socketpair()
    def echo():
        while (m := b.recv(100)):
            b.sendall(m[::-1])
        b.close()
    t = threading.Thread(target=echo); t.start()
    for m in (b'abc', b'xyz'):
        a.sendall(m); print(a.recv(100))
    a.shutdown(socket.SHUT_WR); t.join(); print(a.recv(10))
    os.unlink(p)
"""


def test_threads_blocking_in_host_calls(root):
    out = _py(root, THREADED_SOCKETS, darwin=True)
    assert out.splitlines()[-1] == b"b''"


def test_subprocess_child_python_exit_status(root):
    """fork + execve of the guest's own python3 (qemu-user cannot: compare with the expected values)."""
    out = _py(root, """
        import subprocess, sys
        print(subprocess.run([sys.executable, '-c', 'import sys; sys.exit(7)']).returncode)
        r = subprocess.run([sys.executable, '-c', 'import sys; print("child", 6 * 7); sys.exit(0)'],
                           capture_output=True)
        print(r.returncode, r.stdout)
        r = subprocess.run(['/usr/bin/python3', '-c', 'import os; os.kill(os.getpid(), 15)'])
        print(r.returncode)
        print(subprocess.run(['/bin/cat'], input=b'via-cat', capture_output=True).stdout)
    """, qemu=False)
    assert out == b"7\n0 b'child 42\\n'\n-15\nb'via-cat'\n"


def test_xattrs_and_ls_long(root, tmp_path):
    """ls -l asks for ACLs/labels with lgetxattr; Python's os.*xattr round trip (same as qemu)."""
    (tmp_path / "f").write_text("data\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "ln").symlink_to("f")
    argv = [str(root / "bin/ls"), "-l", "--time-style=+%s", str(tmp_path)]
    e = run_elfuse(argv, options=["--sysroot", str(root)], timeout=TIMEOUT)
    q = run_qemu(["-L", str(root), *argv], timeout=TIMEOUT)
    assert (e.stdout, e.returncode) == (q.stdout, q.returncode), e.stderr
    assert b"ln -> f" in e.stdout and not e.stderr
    _py(root, """
        import os, errno
        p = 'f'
        try:
            os.setxattr(p, 'user.k', b'value'); os.setxattr(p, 'user.e', b'')
            print(os.getxattr(p, 'user.k'), sorted(os.listxattr(p)))
            try:
                os.setxattr(p, 'user.k', b'x', os.XATTR_CREATE)
            except OSError as ex:
                print('create', errno.errorcode[ex.errno])
            os.removexattr(p, 'user.k'); print(sorted(os.listxattr(p)))
        except OSError as ex:
            print('host fs', errno.errorcode[ex.errno])
        for bad in ('user.missing', 'x' * 300):
            try:
                os.getxattr(p, bad)
            except OSError as ex:
                print(errno.errorcode[ex.errno])
        try:
            os.getxattr('/nonexistent-dir/x', 'user.k')
        except OSError as ex:
            print(errno.errorcode[ex.errno])
    """, cwd=tmp_path)
