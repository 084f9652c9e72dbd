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


def test_busy_wait_across_threads(root):
    """A Python thread spinning on a variable that another thread sets: the eval loop
    was translated before the second thread existed, and must still be preempted."""
    assert _py(root, """
        import threading, time
        done = False
        def f():
            global done
            time.sleep(0.05)
            done = True
        for i in range(200000): pass
        t = threading.Thread(target=f); t.start()
        while not done: pass
        t.join(); print('ok')
    """, qemu=False) == b"ok\n"


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


SOCKET_OPTS = """
    import socket, os, struct, array, threading, time, tempfile
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    cred = b.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
    pid, uid, gid = struct.unpack('3i', cred)
    print(a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_SEQPACKET,
          pid == os.getpid(), uid == os.getuid(), gid == os.getgid())
    b.settimeout(0.2); t0 = time.monotonic()
    try:
        b.recv(10)
    except socket.timeout as e:
        print('timeout', type(e).__name__, 0.15 < time.monotonic() - t0 < 3)
    b.settimeout(None)
    # a listening socket passed over SCM_RIGHTS still accepts
    p = os.path.join(tempfile.mkdtemp(), 'l')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); srv.bind(p); srv.listen(5)
    socket.send_fds(a, [b'L'], [srv.fileno()])
    _, fds, _, _ = socket.recv_fds(b, 10, 1)
    srv2 = socket.socket(fileno=fds[0])
    print(srv2.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), srv2.getsockname() == p)
    c = socket.socket(socket.AF_UNIX); c.connect(p)
    conn, _ = srv2.accept(); c.sendall(b'via passed'); print(conn.recv(100))
    # an abstract name, server in a thread
    name = '\\0elfuse-py3-%d' % os.getpid()
    asrv = socket.socket(socket.AF_UNIX); asrv.bind(name); asrv.listen(2)
    print(asrv.getsockname() == name.encode())
    res = []
    def serve():
        cc, _ = asrv.accept(); res.append(cc.recv(10)); cc.sendall(b'pong'); cc.close()
    t = threading.Thread(target=serve); t.start()
    cl = socket.socket(socket.AF_UNIX); cl.connect(name); cl.sendall(b'ping')
    print(cl.recv(10), cl.recv(10)); t.join(); print(res)
    # bound datagram sockets
    d1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d1.bind(p + 'd1')
    d2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d2.bind(p + 'd2')
    d1.sendto(b'dg', p + 'd2'); m, src = d2.recvfrom(10); print(m, src == p + 'd1')
    d2.settimeout(0.1)
    try:
        d2.recvfrom(10)
    except socket.timeout:
        print('dgram timeout')
"""


def test_socket_options_timeouts_abstract(root):
    out = _py(root, SOCKET_OPTS, darwin=True)
    assert out.splitlines()[0] == b"True True True True"
    assert b"timeout TimeoutError True" in out and out.endswith(b"dgram timeout\n")


BLOCKING_WITH_THREADS = """
    import socket, threading, time, struct, os, tempfile, signal, fcntl
    # One guest thread in a call the host would block in, another one needed
    # to release it: a host-blocking emulator deadlocks here.
    a, b = socket.socketpair(); got = []
    def reader():
        n = 0
        while n < 2000000:
            n += len(b.recv(65536))
        got.append(n)
    t = threading.Thread(target=reader); t.start()
    a.sendall(b'x' * 2000000); t.join()              # far more than the socket buffer
    r, w = os.pipe()
    def preader():
        n = 0
        while n < 1000000:
            n += len(os.read(r, 65536))
        got.append(n)
    t = threading.Thread(target=preader); t.start()
    print(os.write(w, b'y' * 1000000)); t.join(); print(got)
    def pieces():
        for i in range(4):
            time.sleep(0.02); a.sendall(b'x' * 250)
    t = threading.Thread(target=pieces); t.start()
    print(len(b.recv(1000, socket.MSG_WAITALL))); t.join()
    # SO_RCVTIMEO on a blocking socket (Python's settimeout polls instead)
    ticks = []; stop = threading.Event()
    def ticker():
        while not stop.is_set():
            ticks.append(1); time.sleep(0.01)
    t = threading.Thread(target=ticker); t.start()
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack('ll', 0, 200000))
    t0 = time.monotonic()
    try:
        b.recv(10)
    except BlockingIOError as e:
        print('rcvtimeo', e.errno, 0.15 < time.monotonic() - t0 < 3)
    stop.set(); t.join(); print(len(ticks) > 5)
    # connect() to a listener with a full backlog; a thread accepts later
    p = os.path.join(tempfile.mkdtemp(), 'q')
    srv = socket.socket(socket.AF_UNIX); srv.bind(p); srv.listen(0); acc = []
    def acceptor():
        time.sleep(0.2)
        for i in range(3):
            c, _ = srv.accept(); acc.append(c.recv(10))
    t = threading.Thread(target=acceptor); t.start(); cs = []
    for i in range(3):
        c = socket.socket(socket.AF_UNIX); c.connect(p); c.sendall(b'c%d' % i); cs.append(c)
    t.join(); print(sorted(acc))
    # signals meet waiting threads: pause() in the main thread, sigwait, flock
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    def later(sig):
        time.sleep(0.1); os.kill(os.getpid(), sig)
    t = threading.Thread(target=later, args=(signal.SIGUSR1,)); t.start()
    signal.pause(); t.join(); print('pause woke', got)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
    t = threading.Thread(target=later, args=(signal.SIGUSR2,)); t.start()
    print('sigwait', signal.sigwait({signal.SIGUSR2}) == signal.SIGUSR2); t.join()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR2})
    f1 = open(p + 'lock', 'w'); f2 = open(p + 'lock', 'w'); order = []
    fcntl.flock(f1, fcntl.LOCK_EX)
    def locker():
        fcntl.flock(f2, fcntl.LOCK_EX); order.append('t2 locked')
    t = threading.Thread(target=locker); t.start()
    time.sleep(0.1); order.append('t1 unlock'); fcntl.flock(f1, fcntl.LOCK_UN); t.join()
    print(order)
    class Alarm(Exception):
        pass
    def on_alarm(s, f):
        raise Alarm()
    signal.signal(signal.SIGALRM, on_alarm)
    t = threading.Thread(target=time.sleep, args=(2,)); t.start()
    signal.setitimer(signal.ITIMER_REAL, 0.2); t0 = time.monotonic()
    try:
        t.join()
    except Alarm:
        print('alarm during join', time.monotonic() - t0 < 1.5)
    t.join()
"""


def test_threads_blocking_writes_timeouts_signals(root):
    out = _py(root, BLOCKING_WITH_THREADS, darwin=True)
    assert out == (b"1000000\n[2000000, 1000000]\n1000\nrcvtimeo 11 True\nTrue\n[b'c0', b'c1', b'c2']\n"
                   b"pause woke [10]\nsigwait True\n['t1 unlock', 't2 locked']\n"
                   b"alarm during join True\n")


SELECT_AND_ASYNCIO = """
    import selectors, socket, threading, os, tempfile, time, select, asyncio
    sel = selectors.DefaultSelector(); print(type(sel).__name__)
    p = os.path.join(tempfile.mkdtemp(), 'echo')
    srv = socket.socket(socket.AF_UNIX); srv.bind(p); srv.listen(8); srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ, None); stop = [False]
    def serve():
        while not stop[0]:
            for key, ev in sel.select(timeout=0.2):
                if key.data is None:
                    c, _ = key.fileobj.accept(); c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, 'c')
                elif (d := key.fileobj.recv(100)):
                    key.fileobj.sendall(d.upper())
                else:
                    sel.unregister(key.fileobj); key.fileobj.close()
    t = threading.Thread(target=serve); t.start(); out = []
    def client(i):
        c = socket.socket(socket.AF_UNIX); c.connect(p)
        for j in range(3):
            c.sendall(b'msg%d-%d' % (i, j)); out.append(c.recv(100))
        c.close()
    cs = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    [c.start() for c in cs]; [c.join() for c in cs]; stop[0] = True; t.join()
    print(len(out), sorted(out)[:2])
    r, w = os.pipe(); po = select.poll(); po.register(r, select.POLLIN)
    print(po.poll(50)); os.write(w, b'x'); print(po.poll(0) == [(r, select.POLLIN)])
    print(select.select([r], [w], [], 0.1) == ([r], [w], []))
    ep = select.epoll(); ep.register(r, select.EPOLLIN); print(ep.poll(0.1) == [(r, select.EPOLLIN)])
    os.read(r, 1); t0 = time.monotonic(); print(ep.poll(0.2), 0.15 < time.monotonic() - t0 < 2)
    async def handle(reader, writer):
        writer.write((await reader.readline()).upper()); await writer.drain(); writer.close()
    async def main():
        srv = await asyncio.start_unix_server(handle, p + '2')
        async def cli(i):
            r, w = await asyncio.open_unix_connection(p + '2')
            w.write(b'hello %d\\n' % i); await w.drain(); d = await r.readline(); w.close()
            return d
        print(await asyncio.gather(*(cli(i) for i in range(4))))
        srv.close(); await srv.wait_closed()
        t0 = time.monotonic(); await asyncio.sleep(0.1); print(0.08 < time.monotonic() - t0 < 2)
        loop = asyncio.get_running_loop()
        print(await loop.run_in_executor(None, sum, [1, 2, 3]))
        try:
            await asyncio.wait_for(asyncio.sleep(10), 0.1)
        except asyncio.TimeoutError:
            print('wait_for timeout')
        a, b = socket.socketpair(); a.setblocking(False); b.setblocking(False)
        t = asyncio.create_task(loop.sock_sendall(a, b'z' * 300000)); n = 0
        while n < 300000:
            n += len(await loop.sock_recv(b, 65536))
        await t; print(n)
    asyncio.run(main())
"""


def test_selectors_poll_epoll_asyncio(root):
    out = _py(root, SELECT_AND_ASYNCIO, darwin=True)
    assert out.startswith(b"EpollSelector\n12 [b'MSG0-0', b'MSG0-1']\n[]\nTrue\nTrue\nTrue\n[] True\n")
    assert out.endswith(b"True\n6\nwait_for timeout\n300000\n")


def test_multiprocessing_fork(root):
    out = _py(root, """
        import multiprocessing as mp, os, time
        def sq(x): return x * x
        def worker(q, n): q.put(n)
        def pipe_child(c): c.send(c.recv() * 2); c.close()
        ctx = mp.get_context('fork')
        with ctx.Pool(3) as pool:
            print(pool.map(sq, range(10)), pool.apply_async(sq, (7,)).get(timeout=60))
        q = ctx.Queue(); ps = [ctx.Process(target=worker, args=(q, i)) for i in range(3)]
        [p.start() for p in ps]; print(sorted(q.get(timeout=60) for _ in ps))
        [p.join() for p in ps]; print([p.exitcode for p in ps])
        a, b = ctx.Pipe(); p = ctx.Process(target=pipe_child, args=(b,)); p.start()
        a.send(21); print(a.recv()); p.join()
        p = ctx.Process(target=os._exit, args=(3,)); p.start(); p.join(); print(p.exitcode)
        ev = ctx.Event(); p = ctx.Process(target=ev.set); p.start(); print(ev.wait(30)); p.join()
        p = ctx.Process(target=time.sleep, args=(30,)); p.start(); time.sleep(0.1)
        p.terminate(); p.join(); print(p.exitcode)
    """)
    assert out == (b"[0, 1, 4, 9, 16, 25, 36, 49, 64, 81] 49\n[0, 1, 2]\n[0, 0, 0]\n42\n3\n"
                   b"True\n-15\n")


def test_multiprocessing_shared_lock(root):
    """Three processes count to 150 under one multiprocessing.Lock (a sem_t in shared memory).

    Each process runs on its own engine, whose atomics are not atomic across
    engines; the execution token (runtime/exectoken.py) serialises the guest
    code of processes sharing writable memory, so the lock's word loses no update."""
    out = _py(root, """
        import multiprocessing as mp
        def inc(v, l):
            for _ in range(50):
                with l: v.value += 1
        ctx = mp.get_context('fork')
        v = ctx.Value('i', 0); l = ctx.Lock(); ps = [ctx.Process(target=inc, args=(v, l)) for _ in range(3)]
        [p.start() for p in ps]; [p.join() for p in ps]; print(v.value)
    """)
    assert out == b"150\n"


def test_subprocess_asyncio_and_threads(root):
    """asyncio's child watcher is a thread in waitpid(); subprocess.run while another
    thread runs; signal exit statuses (qemu-user cannot re-exec the guest python3)."""
    out = _py(root, """
        import asyncio, subprocess, sys, threading, time, os
        async def run(i):
            p = await asyncio.create_subprocess_exec(
                sys.executable, '-c', f'import sys; print({i}); sys.exit({i})',
                stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate()
            return out.strip(), p.returncode
        async def main():
            print(await asyncio.gather(*(run(i) for i in range(3))))
            p = await asyncio.create_subprocess_exec('/bin/cat', stdin=asyncio.subprocess.PIPE,
                                                     stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate(b'y' * 200000); print(len(out), p.returncode)
            p = await asyncio.create_subprocess_exec(sys.executable, '-c', 'import time; time.sleep(30)')
            try:
                await asyncio.wait_for(p.wait(), 0.2)
            except asyncio.TimeoutError:
                p.kill(); print('killed', await p.wait())
        asyncio.run(main())
        ticks = []; stop = threading.Event()
        def ticker():
            while not stop.is_set():
                ticks.append(1); time.sleep(0.01)
        t = threading.Thread(target=ticker); t.start()
        r = subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.3); print("slept")'],
                           capture_output=True)
        stop.set(); t.join(); print(r.returncode, r.stdout, len(ticks) > 5)
        p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
        time.sleep(0.1); p.terminate(); print(p.wait())
        try:
            subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'], timeout=0.3)
        except subprocess.TimeoutExpired:
            print('timeout expired')
        p = subprocess.Popen([sys.executable, '-c', 'import sys\\nfor i in range(2000): '
                              'sys.stderr.write("e%d\\\\n" % i); sys.stdout.write("o%d\\\\n" % i)'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errs = []; th = threading.Thread(target=lambda: errs.append(p.stderr.read())); th.start()
        o = p.stdout.read(); th.join(); p.wait()
        print(len(o.splitlines()), len(errs[0].splitlines()), p.returncode)
        pid = os.fork()
        if pid == 0:
            os.execv('/proc/self/exe', ['python3', '-c', 'import sys; sys.exit(11)'])
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """, qemu=False)
    assert out == (b"[(b'0', 0), (b'1', 1), (b'2', 2)]\n200000 0\nkilled -9\n0 b'slept\\n' True\n"
                   b"-15\ntimeout expired\n2000 2000 0\n11\n")


def test_fork_files_mmap(root):
    out = _py(root, """
        import os, shutil, mmap, resource, pathlib, tempfile
        os.chdir(tempfile.mkdtemp())
        pid = os.fork()
        if pid == 0:
            os._exit(42)
        p, st = os.waitpid(pid, 0); print(p == pid, os.WIFEXITED(st), os.WEXITSTATUS(st))
        pid = os.fork()
        if pid == 0:
            os.kill(os.getpid(), 9)
        print(os.WTERMSIG(os.waitpid(pid, 0)[1]))
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            print('no children')
        with open('a.txt', 'w') as f:
            f.write('hello\\n' * 100)
        shutil.copy('a.txt', 'b.txt'); cp = os.getcwd() + '-copy'; shutil.copytree('.', cp)
        print(sorted(os.listdir(cp)), sorted(e.name for e in os.scandir('.')))
        st = os.stat('a.txt'); print(st.st_size, oct(st.st_mode & 0o777), st.st_nlink)
        os.utime('a.txt', (1000000000, 1000000000)); print(os.stat('a.txt').st_mtime)
        os.symlink('a.txt', 'ln'); print(os.readlink('ln'), sorted(x.name for x in pathlib.Path('.').glob('*.txt')))
        with open('a.txt', 'r+b') as f:
            m = mmap.mmap(f.fileno(), 0); m[0:5] = b'HELLO'; m.flush(); m.close()
        print(open('a.txt', 'rb').read(6))
        m = mmap.mmap(-1, 4096)                      # MAP_SHARED|MAP_ANONYMOUS across fork
        pid = os.fork()
        if pid == 0:
            m[0:4] = b'kid!'; os._exit(0)
        os.waitpid(pid, 0); print(m[0:4])
        src = open('a.txt', 'rb'); dst = open('sf', 'wb')
        print(os.sendfile(dst.fileno(), src.fileno(), 0, 600)); dst.close()
        fd = os.memfd_create('x'); os.write(fd, b'memfd!'); print(os.pread(fd, 6, 0))
        print(os.cpu_count() == len(os.sched_getaffinity(0)), resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 0)
        shutil.rmtree(cp); shutil.rmtree(os.getcwd())
    """)
    assert out.splitlines()[:3] == [b"True True 42", b"9", b"no children"]
    assert b"b'HELLO\\n'\nb'kid!'\n600\nb'memfd!'\nTrue True\n" in out
