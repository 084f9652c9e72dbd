"""Host policies: what the emulator does where the host kernel cannot do what
Linux does (see docs/net.md).  Each is chosen from `hostcaps.caps()`.

- SEQPACKET fallback: socket() and socketpair() -> framed SOCK_STREAM,
  guest type kept in a SockState.
- Abstract names -> socket files in a private 0700 runtime directory
  (`a-<sha256>`), with a `.name` side file for the way back.
- Long sun_path (> host bound) -> bind/connect under an fd of the parent directory.
- Fallback sockets received through SCM_RIGHTS find their SockState again in a
  registry keyed by the host socket's (st_dev, st_ino).
- The registry's small record files (`store_record`/`load_record`, by inode:
  `inode_record`) also carry credentials (creds.py) and shutdowns (readiness.py).
"""
from __future__ import annotations

import errno
import os
import socket as _s
import stat

from elfuse_py.host import caps as hostcaps
from elfuse_py.runtime import lerrno, paths, rundir

from elfuse_py.syscalls.net import consts as C
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.sockaddr import guest_unix, unix_name
from elfuse_py.syscalls.net.state import SockState

_runtime: str | None = None


def runtime_dir() -> str:
    """The private per-user directory behind abstract names (elfuse_py/runtime/rundir.py)."""
    global _runtime
    if _runtime is not None:
        return _runtime
    path = rundir.runtime_dir()
    os.makedirs(os.path.join(path, "types"), 0o700, exist_ok=True)
    _runtime = path
    return path


# ----- abstract names as files --------------------------------------------------------------

def abstract_path(name: bytes, gtype: int) -> str:
    """The file standing for abstract `name` of guest socket type `gtype`: Linux
    hashes abstract names per type (unix_abstract_hash), so a STREAM and a DGRAM
    socket may hold the same name, and a connect from another type finds nothing
    (ECONNREFUSED, not EPROTOTYPE)."""
    import hashlib                          # only once a socket is named: not at start-up
    key = bytes((gtype & 0xFF,)) + name
    return os.path.join(runtime_dir(), "a-" + hashlib.sha256(key).hexdigest()[:40])


def guest_type(st, htype: int) -> int:
    """The guest's socket type: the SockState's, else the host's by name."""
    if isinstance(st, SockState) and st.type:
        return st.type
    return C.GUEST_TYPE.get(htype, htype)


def _alive(path: str, htype: int) -> bool:
    probe = _s.socket(_s.AF_UNIX, htype)
    try:
        probe.connect(path)
        return True
    except OSError as e:
        return e.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        probe.close()


def bind_abstract(fd: int, name: bytes, htype: int, gtype: int) -> None:
    path = abstract_path(name, gtype)
    if os.path.lexists(path):
        if _alive(path, htype):
            raise OSError(errno.EADDRINUSE, "abstract name in use")
        os.unlink(path)                       # a dead socket's leftover
    sa = host.host_sockaddr(_s.AF_UNIX, os.fsencode(path) + b"\0")
    host.check(host.libc.bind(fd, sa, len(sa)))
    rundir.own(path)
    tmp = path + ".name.tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(name)
    os.replace(tmp, path + ".name")
    rundir.own(path + ".name")


def autobind_name(gtype: int) -> bytes:
    """A free Linux-style autobind name: five hex digits."""
    for _ in range(64):
        name = b"%05x" % (int.from_bytes(os.urandom(3), "little") & 0xFFFFF)
        if not os.path.lexists(abstract_path(name, gtype)):
            return name
    raise OSError(errno.EADDRINUSE, "no free autobind name")


HIDDEN_PREFIX = "h-"      # creds.py: the hidden name of an unnamed connecting client


def guest_name_of_host_path(path: bytes) -> bytes | None:
    """Guest sockaddr for a host path that stands for an abstract name, a long path,
    or no name at all (a hidden client name: just the family), else None."""
    if _runtime is None and not hostcaps.caps().compat and hostcaps.caps().abstract:
        return None
    try:
        rd = os.fsencode(runtime_dir())
    except OSError:
        return None
    if path.startswith(rd + b"/" + HIDDEN_PREFIX.encode()):
        return guest_unix(False, b"")
    if path.startswith(rd + b"/p-"):           # a long path bound by bind_long_by_link
        try:
            with open(path + b".name", "rb") as f:
                return guest_unix(False, f.read())
        except OSError:
            return None
    if not path.startswith(rd + b"/a-"):
        return None
    try:
        with open(path + b".name", "rb") as f:
            return guest_unix(True, f.read())
    except OSError:
        return None


# ----- unix addresses: guest -> host action -------------------------------------------------

def validate_unix(raw: bytes) -> int:
    """unix_validate_addr: 0 or a Linux errno."""
    if len(raw) <= 2 or len(raw) > 110:
        return 22
    if int.from_bytes(raw[:2], "little") != C.AF_UNIX:
        return 22
    return 0


def in_root(raw: bytes) -> bytes:
    """Inside a guest's chroot, a validated path sockaddr_un names the socket file
    under its root (/dev/log there, ENOENT if the root has none, as on Linux): the
    address with that host path.  Any other address is unchanged.  A result longer
    than the host's sun_path goes through the long-path policies like any other."""
    if paths.root is None:
        return raw
    abstract, name = unix_name(raw)
    if abstract or not name:
        return raw
    guest = name if name[:1] == b"/" else paths.rooted(name)
    if guest is None:                   # a cwd outside the root: the host's relative name
        return raw
    return raw[:2] + os.fsencode(paths.host_path(guest)) + b"\0"


def root_name(g: bytes) -> bytes:
    """Inside a chroot, a guest sockaddr_un naming a path under the root: the name
    below the root (what the chrooted binder gave bind); any other unchanged."""
    if paths.root is None:
        return g
    abstract, name = unix_name(g)
    root = os.fsencode(paths.root)
    if abstract or not name.startswith(root + b"/"):
        return g
    return guest_unix(False, name[len(root):])


def unix_op(op: str, fd: int, raw: bytes, st: SockState | None, htype: int) -> bytes | None:
    """Do bind/connect of `fd` to guest sockaddr_un `raw` where a policy is needed.

    Returns None when the plain host call with the translated address will do,
    else performs the call and returns the guest-visible name to remember.
    """
    caps = hostcaps.caps()
    abstract, name = unix_name(raw)
    if abstract:
        if caps.abstract:
            return None
        gtype = guest_type(st, htype)
        if op == "bind":
            bind_abstract(fd, name, htype, gtype)
        else:
            path = abstract_path(name, gtype)
            sa = host.host_sockaddr(_s.AF_UNIX, os.fsencode(path) + b"\0")
            fn = host.libc.connect if op == "connect" else None
            if not os.path.lexists(path):
                raise OSError(errno.ECONNREFUSED, "no such abstract name")
            host.check(fn(fd, sa, len(sa)))
        return guest_unix(True, name)
    # A path that exactly fills sun_path (no NUL) is still a host path.
    if len(name) <= caps.sun_path_max and not (caps.compat and len(name) > 104):
        return None
    # Longer than the host's sun_path: bind by a hard link from a short name, else
    # bind/connect under the parent directory's fd.
    if op == "bind" and bind_long_by_link(fd, name):
        return guest_unix(False, name)
    if op == "connect":
        sa, link = to_host_sendto(raw)
        try:
            host.check(host.libc.connect(fd, sa, len(sa)))
        finally:
            os.unlink(link)
        return guest_unix(False, name)
    d, base = os.path.split(name)
    if len(base) + 1 > caps.sun_path_max:
        raise OSError(errno.ENAMETOOLONG, "socket name too long")
    dflags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    dfd = os.open(d or b".", dflags)
    try:
        host.bindat_or_connectat(op, dfd, fd, base)
    finally:
        os.close(dfd)
    return guest_unix(False, name)


def to_host_sendto(raw: bytes, gtype: int = C.SOCK_DGRAM) -> tuple[bytes, bytes | None] | None:
    """(host address, temporary link to remove after the send) for a dgram sendto
    under the policies (abstract names, long paths), or None for a plain one.

    A path longer than the host's sun_path is reached through a short symlink
    in the private runtime directory (AF_UNIX lookups follow symlinks on Linux
    and macOS alike); there is no sendtoat."""
    caps = hostcaps.caps()
    abstract, name = unix_name(raw)
    if abstract and not caps.abstract:
        return host.host_sockaddr(_s.AF_UNIX, os.fsencode(abstract_path(name, gtype)) + b"\0"), None
    if not abstract and (len(name) > caps.sun_path_max or (caps.compat and len(name) > 104)):
        target = name if name.startswith(b"/") else os.path.join(os.getcwdb(), name)
        link = os.fsencode(os.path.join(runtime_dir(), "s-" + os.urandom(8).hex()))
        os.symlink(target, link)
        return host.host_sockaddr(_s.AF_UNIX, link + b"\0"), link
    return None


def bind_long_by_link(fd: int, name: bytes) -> bool:
    """Bind `fd` to a path longer than the host's sun_path: bind a short name in
    the runtime directory, hard-link it to the guest's path (no clobbering), and
    record the guest's name for the way back (recvfrom/accept report the short
    host name).  False if the runtime directory is on another filesystem."""
    d = os.path.dirname(name) or b"."
    dst = os.stat(d)                    # ENOENT / ENOTDIR / EACCES as the host says
    if not stat.S_ISDIR(dst.st_mode):
        raise OSError(errno.ENOTDIR, "not a directory")
    if dst.st_dev != os.stat(runtime_dir()).st_dev:
        return False
    if os.path.lexists(name):
        raise OSError(errno.EADDRINUSE, "address in use")
    if not os.access(d, os.W_OK | os.X_OK):
        raise OSError(errno.EACCES, "permission denied")
    tmp = os.path.join(runtime_dir(), "p-" + os.urandom(8).hex())
    sa = host.host_sockaddr(_s.AF_UNIX, os.fsencode(tmp) + b"\0")
    host.check(host.libc.bind(fd, sa, len(sa)))
    with open(tmp + ".name", "wb") as f:
        f.write(name)
    rundir.own(tmp + ".name")
    try:
        os.link(tmp, name)
    finally:
        os.unlink(tmp)
    return True


# ----- the registry that lets fallback state travel through SCM_RIGHTS ---------------------

def _reg_path(fd: int) -> str | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return os.path.join(runtime_dir(), "types", f"{st.st_dev:x}-{st.st_ino:x}")


def store_record(p: str, value: tuple) -> None:
    tmp = p + ".tmp%d" % os.getpid()
    import pickle                           # only for AF_UNIX records: not at start-up
    with open(tmp, "wb") as f:
        pickle.dump(value, f)
    os.replace(tmp, p)
    rundir.own(p)                 # removed with the tree of emulators that made it


def load_record(p: str) -> tuple | None:
    import pickle
    try:
        with open(p, "rb") as f:
            return pickle.load(f)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None


def register(fd: int, state: SockState) -> None:
    p = _reg_path(fd)
    if p is None:
        return
    store_record(p, (state.family, state.type, state.protocol, state.framed, _host_type(fd)))


def _host_type(fd: int) -> int:
    buf = host.ffi.new("int *")
    ln = host.ffi.new("socklen_t *", 4)
    if host.libc.getsockopt(fd, _s.SOL_SOCKET, _s.SO_TYPE, buf, ln) < 0:
        return -1
    return buf[0]


def lookup(fd: int) -> SockState | None:
    """The fallback state of a socket received from another guest process, if any."""
    p = _reg_path(fd)
    if p is None:
        return None
    rec = load_record(p)
    if rec is None or len(rec) != 5:
        return None
    family, stype, proto, framed, htype = rec
    if htype != _host_type(fd):       # a recycled inode: not ours
        return None
    return SockState(family, stype, proto, framed=framed)


def needs_registry() -> bool:
    return not hostcaps.caps().seqpacket


# ----- guest socket types of bound paths (EPROTOTYPE across the fallback) -----------------
# A SEQPACKET listener is a host STREAM socket under the fallback, so the host
# would let a STREAM socket connect to it (and a SEQPACKET one to a real STREAM
# listener).  The socket file a framed socket binds is recorded by inode (plus
# its mtime, so a recycled inode is not mistaken for it); connect compares.

def file_stamp(st: os.stat_result) -> int:
    """What tells a socket file from an earlier one with the same inode: its mtime.

    Set when bind makes the file and never moved by using the socket; not the
    ctime, which a chmod or chown after bind moves (a server making its
    socket 0666 then lost its records: its SEQPACKET listener was taken for
    a STREAM one, EPROTOTYPE)."""
    return st.st_mtime_ns


def inode_record(path, kind: str) -> tuple[str, os.stat_result] | None:
    """Where facts of `kind` about the socket file at host `path` are kept (a
    file in the runtime dir named by its inode and `file_stamp`), and its
    stat: callers store the stamp too.  None: no socket file."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISSOCK(st.st_mode):
        return None
    # The stamp is in the *name* too, not only in the record: each record is
    # removed when the tree of emulators that wrote it ends (rundir.own), and a
    # file system that recycles inodes at once (ext4) hands a socket file's inode
    # to the next one bound, maybe by another emulator.  Named by inode alone,
    # that one's record had the same name, and the first tree's exit deleted it:
    # a SEQPACKET connect then found no "p" record and failed with EPROTOTYPE
    # (t_net_fork under the macOS model: 5 runs in 1600, two at a time).  With the stamp, a
    # recycled inode's record is another file, which only its own tree removes.
    return os.path.join(runtime_dir(), "types",
                        f"{kind}-{st.st_dev:x}-{st.st_ino:x}-{file_stamp(st):x}"), st


def _bound_key(raw: bytes, gtype: int) -> tuple[str, os.stat_result] | None:
    abstract, name = unix_name(raw)
    if abstract and hostcaps.caps().abstract:
        return None
    return inode_record(abstract_path(name, gtype) if abstract else name, "p")


def register_bound(raw: bytes, state: SockState) -> None:
    """Record that the socket file of guest address `raw` is a framed SEQPACKET one."""
    key = _bound_key(raw, state.type)
    if key is None:
        return
    p, st = key
    store_record(p, (state.type, file_stamp(st)))


def connect_type_error(raw: bytes, state) -> int:
    """EPROTOTYPE when a connect would join a SEQPACKET and a non-SEQPACKET
    socket, which the host cannot see under the fallback; else 0."""
    if unix_name(raw)[0]:
        return 0          # abstract names are per type: another type finds no file
    key = _bound_key(raw, 0)
    if key is None:
        return 0
    p, st = key
    rec = load_record(p)
    target_seq = rec is not None and rec == (C.SOCK_SEQPACKET, file_stamp(st))
    mine_seq = isinstance(state, SockState) and state.type == C.SOCK_SEQPACKET
    return lerrno.EPROTOTYPE if mine_seq != target_seq else 0
