"""Credentials of AF_UNIX peers where the host cannot tell them (docs/net.md).

SO_PEERCRED and SCM_CREDENTIALS give a peer's (pid, uid, gid).  Linux keeps
them in the socket: a connecting client gets the listener's (taken at
listen()), an accepted socket the client's (taken at connect()), a listener
its own, a socketpair its creator's.  macOS answers LOCAL_PEERCRED and
LOCAL_PEERPID; the Linux that plays a Mac (the macOS host model) has
neither, so there (`needed()`) the emulator keeps the facts itself, in the
private runtime directory's registry:

- a **listener** records its credentials at listen() under its host name
  (`types/n-<sha256(host path)>`), and keeps them as its own SO_PEERCRED;
- a **bound client** records its credentials under its host name before it
  connects (so an accept that races the connect finds them);
- an **unbound client** is bound, just before connect, to a hidden name in the
  runtime directory that carries them: `h-<pid>-<uid>-<gid>-<random>` (hex),
  unlinked at once (a socket keeps its name without the file).  The guest
  never sees it: getsockname/getpeername/accept report "unnamed" and recvmsg
  no sender (policies.guest_name_of_host_path);
- a connecting client and an accepting socket take their peer's credentials
  from the peer's host name (`of_host_name`) and keep them in the SockState;
  a socket that has none (received through SCM_RIGHTS) looks them up from its
  peer's name when asked.

Datagram senders: a bound datagram socket records its binder's credentials by
the socket file's inode (`record_binder`, `types/c-<dev>-<ino>`), which a
receiver with SO_PASSCRED finds from the sender address (`binder_credentials`).
"""
from __future__ import annotations

import os
import socket as _s

from elfuse_py.host import caps as hostcaps
from elfuse_py.host import sockets as host

from elfuse_py.syscalls.net import policies
from elfuse_py.syscalls.net.state import SockState

ffi, libc = host.ffi, host.libc
_NAMEBUF = 256
_HIDDEN_RE = rb"h-([0-9a-f]{1,8})-([0-9a-f]{1,8})-([0-9a-f]{1,8})-[0-9a-f]+"


def needed() -> bool:
    """The host cannot tell a connected peer's credentials: the records must."""
    return not hostcaps.caps().peer_lookup


def own() -> tuple[int, int, int]:
    return (os.getpid(), os.geteuid(), os.getegid())


def _host_name(fn, fd: int) -> bytes:
    buf = ffi.new("char[]", _NAMEBUF)
    ln = ffi.new("socklen_t *", _NAMEBUF)
    if fn(fd, buf, ln) < 0:
        return b""
    return ffi.buffer(buf, ln[0])[:]


def _path_of(hraw: bytes) -> bytes:
    """The socket file path in host sockaddr bytes (b"" for unnamed or abstract)."""
    fam, payload = host.split_host_sockaddr(hraw)
    if fam != _s.AF_UNIX:
        return b""
    return payload.split(b"\0")[0]


def _name_record(path: bytes) -> str:
    import hashlib                          # not at start-up
    return os.path.join(policies.runtime_dir(), "types",
                        "n-" + hashlib.sha256(path).hexdigest()[:40])


def record_name(fd: int) -> None:
    """Record this process's credentials under the host name `fd` is bound to."""
    path = _path_of(_host_name(libc.getsockname, fd))
    if path and not is_hidden(path):
        try:
            policies.store_record(_name_record(path), own())
        except OSError:
            pass                           # best effort: the peer says "unknown"


def _runtime() -> bytes | None:
    try:
        return os.fsencode(policies.runtime_dir())
    except OSError:
        return None


def is_hidden(path: bytes) -> bool:
    """A hidden client name (before_connect), not a guest's own path."""
    return os.path.basename(path).startswith(policies.HIDDEN_PREFIX.encode()) \
        and os.path.dirname(path) == _runtime()


def of_host_name(hraw: bytes) -> tuple[int, int, int] | None:
    """The credentials recorded for the socket whose host sockaddr is `hraw`."""
    path = _path_of(hraw)
    rd = _runtime()
    if not path or rd is None:
        return None
    import re                       # compiled on first use (re's import costs start-up); re caches it
    m = re.fullmatch(_HIDDEN_RE, os.path.basename(path))
    if m is not None and os.path.dirname(path) == rd:
        return tuple(int(x, 16) for x in m.groups())      # type: ignore[return-value]
    rec = policies.load_record(_name_record(path))
    if rec is None or len(rec) != 3:
        return None
    return rec                                             # type: ignore[return-value]


def before_connect(fd: int) -> None:
    """A stream client about to connect: leave its credentials where the acceptor
    will look (its hidden name if unnamed, else a record under its name).  Best
    effort: without the runtime directory the acceptor says "unknown"."""
    path = _path_of(_host_name(libc.getsockname, fd))
    if path:
        if not is_hidden(path):
            record_name(fd)
        return
    pid, uid, gid = own()
    name = "%s%x-%x-%x-%s" % (policies.HIDDEN_PREFIX, pid, uid, gid, os.urandom(3).hex())
    try:
        hidden = os.fsencode(os.path.join(policies.runtime_dir(), name))
    except OSError:
        return
    sa = host.host_sockaddr(_s.AF_UNIX, hidden + b"\0")
    if libc.bind(fd, sa, len(sa)) == 0:
        try:
            os.unlink(hidden)              # the socket keeps the name; no file is left
        except OSError:
            pass


def after_connect(fd: int, st: SockState) -> None:
    """A connected stream client keeps the listener's credentials."""
    st.peer_creds = of_host_name(_host_name(libc.getpeername, fd))


def after_listen(fd: int, st: SockState) -> None:
    """A listener records its credentials for clients and keeps them as its own."""
    record_name(fd)
    st.peer_creds = own()


def after_accept(st: SockState, peer_hraw: bytes) -> None:
    st.peer_creds = of_host_name(peer_hraw)


def peer_creds(fd: int, st) -> tuple[int, int, int] | None:
    """The peer's credentials as the policy knows them: a socketpair's creator's,
    those taken at connect/accept/listen, the host's answer (macOS LOCAL_PEERCRED),
    or the records of the peer's name; None if nobody can tell."""
    if isinstance(st, SockState):
        if st.pair_creds is not None:
            return st.pair_creds
        if st.peer_creds is not None:
            return st.peer_creds
    pc = host.peer_credentials(fd)
    if pc is not None:
        return pc
    if needed():
        return of_host_name(_host_name(libc.getpeername, fd))
    return None


# ----- who bound a name (SCM_CREDENTIALS of unconnected datagram senders) ------------------
# macOS attaches no credentials to a datagram, but a receiver with SO_PASSCRED is
# owed the sender's.  When the sender is bound (explicitly, by autobind, or by
# SO_PASSCRED's autobind on send), the binder's credentials are recorded by the
# socket file's inode (with its mtime against recycling) and looked up from the
# sender address the host reports.  An unbound sender stays "unknown".

def record_binder(fd: int) -> None:
    """Record this process's credentials for the socket file `fd` is bound to."""
    try:
        path = _path_of(_host_name(libc.getsockname, fd))
        key = policies.inode_record(path, "c") if path else None
        if key is None:
            return
        p, st = key
        policies.store_record(p, (policies.file_stamp(st),) + own())
    except OSError:
        pass                                 # best effort: the receiver says "unknown"


def binder_credentials(host_name: bytes) -> tuple[int, int, int] | None:
    """(pid, uid, gid) recorded for the sender whose host sockaddr is `host_name`."""
    path = _path_of(host_name)
    key = policies.inode_record(path, "c") if path else None
    if key is None:
        return None
    p, st = key
    rec = policies.load_record(p)
    if rec is None or len(rec) != 4 or rec[0] != policies.file_stamp(st):
        return None
    return rec[1:]
