"""inotify on hosts without it (macOS, and the macOS host model on Linux): the twin.

syscalls/notify.py registers these handlers when the host model has no
inotify (`host.events.HAVE_INOTIFY` false).  The guest's inotify fd is the
read end of a host pipe; the emulator keeps the write end in its reserved
fd range.  The instance's state (`InotifyTwin`, the fd's FdState) holds the
watches, the Linux event queue and the pipe's write end.  One helper thread
per emulator process (started with every host signal blocked, so signals
keep reaching the guest's thread) looks at the watched paths every few
milliseconds through elfuse_py/host/fswatch.py, turns the changes into
struct inotify_event records and keeps one byte in the pipe while records
are queued: poll/select/epoll, a blocking read and the thread-parking layer
see the fd readable exactly then.  A read or FIONREAD with nothing queued
looks once more first, so changes made before it are seen at once.

As Linux: flags and mask checks (EINVAL, EBADF, EINVAL for a fd that is not
an inotify instance, ENOENT/ENOTDIR/EACCES/ELOOP of the path, EEXIST for
IN_MASK_CREATE), one wd per inode, IN_MASK_ADD, IN_ONESHOT, IN_IGNORED after
rm_watch and after a watched target is deleted, the record layout (the name
NUL-padded to a multiple of 16 bytes), EINVAL when the next record does not
fit, merging of identical consecutive records, IN_Q_OVERFLOW past 16384
queued records, FIONREAD.  Writes are EBADF (the fd is read-only).

What differs (see fswatch.py for the snapshot's limits): events arrive up to
one scan interval late and coalesce within it; no IN_OPEN, IN_ACCESS,
IN_CLOSE_WRITE/NOWRITE or IN_UNMOUNT; moves into or out of the watched
directories are IN_CREATE/IN_DELETE; fstat shows a FIFO; a forked child
shares the fd but receives no new events (the instance is watched by the
process that created it, also across its execve).
"""
from __future__ import annotations

import _thread
import collections
import os
import select
import signal as hs
import struct

from elfuse_py.host import fswatch
from elfuse_py.runtime import lerrno, log, paths, signals
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

# ----- Linux ABI --------------------------------------------------------------------------

IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x1, 0x2, 0x4, 0x8
IN_CLOSE_NOWRITE, IN_OPEN, IN_MOVED_FROM, IN_MOVED_TO = 0x10, 0x20, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED = 0x2000, 0x4000, 0x8000
IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK = 0x01000000, 0x02000000, 0x04000000
IN_MASK_CREATE, IN_MASK_ADD, IN_ISDIR, IN_ONESHOT = 0x10000000, 0x20000000, 0x40000000, 0x80000000
IN_ALL_EVENTS = 0xFFF
ALL_INOTIFY_BITS = (IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ONLYDIR
                    | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_CREATE | IN_MASK_ADD
                    | IN_ISDIR | IN_ONESHOT)
# What a watch keeps of the mask it was given.
_KEPT = IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK
IN_CLOEXEC, IN_NONBLOCK = 0o2000000, 0o4000     # = Linux O_CLOEXEC, O_NONBLOCK

PATH_MAX = 4096
MAX_QUEUED_EVENTS = 16384                         # /proc/sys/fs/inotify/max_queued_events
_EVENT = struct.Struct("<iIII")                   # wd, mask, cookie, len; then the name
_OVERFLOW = _EVENT.pack(-1, IN_Q_OVERFLOW, 0, 0)
_RECORD_KINDS = {"create": IN_CREATE, "delete": IN_DELETE, "modify": IN_MODIFY,
                 "attrib": IN_ATTRIB, "move_self": IN_MOVE_SELF, "delete_self": IN_DELETE_SELF}


def _record(wd: int, mask: int, cookie: int = 0, name: bytes = b"") -> bytes:
    """One struct inotify_event: the name NUL-padded to a multiple of 16 bytes (Linux's
    round_event_name_len rounds to sizeof(struct inotify_event))."""
    if not name:
        return _EVENT.pack(wd, mask, cookie, 0)
    size = (len(name) + 1 + 15) // 16 * 16
    return _EVENT.pack(wd, mask, cookie, size) + name.ljust(size, b"\0")


# ----- one instance ---------------------------------------------------------------------------

# One lock for every instance's watches and queue: the helper thread scans
# under it, the guest's syscalls read and change them under it.
_lock = _thread.allocate_lock()
_live: list = []                  # instances this process watches for
_running = False                  # the helper thread is up


class InotifyTwin(FdState):
    """The emulator side of one guest inotify instance (shared by its dups)."""

    intercepts_io = True

    def __init__(self, peer: int) -> None:
        self.peer = peer                  # the pipe's write end, in the reserved range
        self.owner = os.getpid()          # the process whose helper thread watches
        self.masks: dict[int, int] = {}   # wd -> kept mask
        self.targets: dict[int, fswatch.Watch] = {}
        self.next_wd = 1
        self.cookie = 0
        self.queue: collections.deque = collections.deque()   # encoded records
        self.signalled = False            # the wake byte is in the pipe

    # -- all below with _lock held ------------------------------------------------------------

    def owned(self) -> bool:
        return self.owner == os.getpid()

    def push(self, rec: bytes) -> None:
        q = self.queue
        if q and q[-1] == rec:
            return                        # Linux merges identical consecutive events
        if len(q) >= MAX_QUEUED_EVENTS:
            if q[-1] != _OVERFLOW:
                q.append(_OVERFLOW)
            return
        q.append(rec)

    def drop(self, wd: int) -> None:
        """The watch ends: IN_IGNORED, and its wd is free."""
        self.masks.pop(wd, None)
        self.targets.pop(wd, None)
        self.push(_record(wd, IN_IGNORED))

    def emit(self, wd: int, bit: int, name: bytes, is_dir: bool, cookie: int = 0) -> None:
        mask = self.masks.get(wd)
        if mask is None or not mask & bit:
            return
        if is_dir and bit not in (IN_DELETE_SELF, IN_MOVE_SELF):
            bit |= IN_ISDIR               # inotify never sets IN_ISDIR on the self events
        self.push(_record(wd, bit, cookie, name))
        if mask & IN_ONESHOT:
            self.drop(wd)

    def scan(self) -> None:
        """Look at the watches again and queue what changed."""
        if not self.targets:
            return
        for rec in fswatch.scan(self.targets):
            kind = rec[0]
            if kind == "move":
                _, src, sname, dst, dname, is_dir = rec
                self.cookie = (self.cookie + 1) & 0xFFFFFFFF or 1
                self.emit(src, IN_MOVED_FROM, sname, is_dir, self.cookie)
                self.emit(dst, IN_MOVED_TO, dname, is_dir, self.cookie)
                continue
            _, wd, name, is_dir = rec
            if wd not in self.targets:
                continue                  # a one-shot watch that already fired
            self.emit(wd, _RECORD_KINDS[kind], name, is_dir)
            if kind == "delete_self" and wd in self.targets:
                self.drop(wd)

    def wake(self) -> None:
        """The wake byte follows the queue (in the owning process only)."""
        if self.queue and not self.signalled and self.owned():
            try:
                os.write(self.peer, b"\1")
                self.signalled = True
            except OSError:
                pass

    def unwake(self, fd: int) -> None:
        if self.queue or not self.owned():
            return
        if _readable(fd):
            try:
                os.read(fd, 64)
            except OSError:
                pass
        self.signalled = False

    def closed(self) -> bool:
        """Every guest fd of the instance is closed (the pipe has no reader left)."""
        p = select.poll()
        p.register(self.peer, select.POLLOUT)
        try:
            ev = p.poll(0)
        except OSError:
            return True
        return bool(ev) and bool(ev[0][1] & (select.POLLERR | select.POLLHUP | select.POLLNVAL))

    # -- the guest's side -------------------------------------------------------------------

    def fresh(self) -> None:
        """Nothing queued: look once more before answering (a change the guest made
        just before this call is then seen at once)."""
        if not self.queue and self.owned():
            self.scan()
            self.wake()

    def read_one(self, fd: int, view) -> int:
        """One read(2) of an inotify fd into `view` (Linux's inotify_read)."""
        while True:
            with _lock:
                self.fresh()
                if self.queue:
                    pos, room = 0, len(view)
                    while self.queue and len(self.queue[0]) <= room - pos:
                        rec = self.queue.popleft()
                        view[pos:pos + len(rec)] = rec
                        pos += len(rec)
                    self.unwake(fd)
                    return pos if pos else -lerrno.EINVAL
                self.unwake(fd)
                owned = self.owned()
            if not os.get_blocking(fd):
                return -lerrno.EAGAIN
            _wait(fd if owned else -1)

    def io_read(self, fd: int, views: list) -> int:
        # Like Linux's readv of a file with only .read: one read per buffer, and
        # a short one ends the call.
        total = 0
        for v in views:
            n = self.read_one(fd, v)
            if n < 0:
                return total or n
            total += n
            if n != len(v):
                break
        return total

    def io_write(self, fd: int, views: list) -> int:
        return -lerrno.EBADF              # Linux opens the instance O_RDONLY

    def fionread(self, fd: int) -> int:
        with _lock:
            self.fresh()
            return sum(len(r) for r in self.queue)

    # -- execve (syscalls/execve.py) ------------------------------------------------------------

    def before_exec(self) -> None:
        # The write end must reach the new image, which watches on.
        os.set_inheritable(self.peer, True)

    def after_exec(self, fd: int) -> None:
        try:
            os.set_inheritable(self.peer, False)
        except OSError:
            return
        if self.owned():
            with _lock:
                if self not in _live:
                    _live.append(self)
            _ensure_thread()


def _readable(fd: int) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    try:
        return bool(p.poll(0))
    except OSError:
        return False


def _wait(fd: int) -> None:
    """Block until `fd` is readable (fd < 0: until a signal); a guest signal interrupts."""
    p = select.poll()
    if fd >= 0:
        p.register(fd, select.POLLIN)
    p.poll()


signals.register_interruptible(_wait)


# ----- the helper thread -----------------------------------------------------------------

def _pass() -> None:
    """One look at every live instance (with _lock held)."""
    for inst in list(_live):
        if inst.closed():
            _live.remove(inst)
            try:
                os.close(inst.peer)
            except OSError:
                pass
            continue
        try:
            inst.scan()
        except Exception as e:  # noqa: BLE001 - an emulator bug: keep watching the others
            log.warn_once("inotify-scan", f"inotify twin: scan failed: {e!r}")
        inst.wake()


def _loop() -> None:
    global _running
    pacer = fswatch.Pacer()
    while True:
        pacer.wait()
        with _lock:
            pacer.timed(_pass)
            if not _live:
                _running = False
                return


def _ensure_thread() -> None:
    global _running
    with _lock:
        if _running:
            return
        _running = True
    # The thread must not take process signals: block everything while it starts.
    old = hs.pthread_sigmask(hs.SIG_BLOCK, hs.valid_signals())
    try:
        _thread.start_new_thread(_loop, ())
    finally:
        hs.pthread_sigmask(hs.SIG_SETMASK, old)


def _before_fork() -> None:
    _lock.acquire()


def _after_fork_parent() -> None:
    _lock.release()


def _after_fork_child() -> None:
    # Only the forking thread survives: no helper thread, and the copies of the
    # instances belong to the parent (owner), which keeps receiving the events.
    global _running
    _running = False
    _live.clear()
    _lock.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                    after_in_child=_after_fork_child)


# ----- the syscalls --------------------------------------------------------------------------

def _instance(fd: int) -> InotifyTwin | int:
    """The twin behind guest fd `fd`, or -EBADF (not open) / -EINVAL (not inotify)."""
    if not proc.fds.valid(fd):
        return -lerrno.EBADF
    st = proc.fds.get(fd)
    if isinstance(st, InotifyTwin):
        return st
    try:
        os.fstat(fd)
    except OSError:
        return -lerrno.EBADF
    return -lerrno.EINVAL


def init1(flags: int) -> int:
    if flags & ~(IN_CLOEXEC | IN_NONBLOCK):
        return -lerrno.EINVAL
    r, w = os.pipe()
    os.set_blocking(w, False)
    w = proc.fds.reserve(w)
    if not proc.fds.valid(r):
        os.close(r)
        os.close(w)
        return -lerrno.EMFILE
    proc.fds.on_close(r)              # no stale per-fd state from an earlier owner of the number
    os.set_inheritable(r, not flags & IN_CLOEXEC)
    os.set_blocking(r, not flags & IN_NONBLOCK)
    inst = InotifyTwin(w)
    proc.fds.set(r, inst)
    with _lock:
        _live.append(inst)
    _ensure_thread()
    return r


def add_watch(fd: int, path: int, mask: int) -> int:
    if mask & IN_MASK_ADD and mask & IN_MASK_CREATE:
        return -lerrno.EINVAL
    if mask & ~ALL_INOTIFY_BITS or not mask & ALL_INOTIFY_BITS:
        return -lerrno.EINVAL
    inst = _instance(fd)
    if isinstance(inst, int):
        return inst
    try:
        guest = proc.mem.cstr(path, PATH_MAX)
    except ValueError:
        return -lerrno.ENAMETOOLONG
    host = paths.host_path(guest) if guest[:1] == b"/" else os.fsdecode(guest)
    target = fswatch.open_watch(host, follow=not mask & IN_DONT_FOLLOW)   # OSError: the path's errno
    if mask & IN_ONLYDIR and not target.is_dir:
        return -lerrno.ENOTDIR
    with _lock:
        for wd, t in inst.targets.items():
            if t.key == target.key:
                if mask & IN_MASK_CREATE:
                    return -lerrno.EEXIST
                if mask & IN_MASK_ADD:
                    inst.masks[wd] |= mask & _KEPT
                else:
                    inst.masks[wd] = mask & _KEPT
                return wd
        wd = inst.next_wd
        inst.next_wd = wd + 1 if wd < 0x7FFFFFFF else 1
        inst.masks[wd] = mask & _KEPT
        inst.targets[wd] = target
        if inst not in _live and inst.owned():
            _live.append(inst)
    _ensure_thread()
    return wd


def rm_watch(fd: int, wd: int) -> int:
    inst = _instance(fd)
    if isinstance(inst, int):
        return inst
    with _lock:
        if wd not in inst.targets:
            return -lerrno.EINVAL
        inst.drop(wd)
        inst.wake()
    return 0
