"""The guest's file descriptors and the emulator's per-fd state.

Guest fd numbers *are* host fd numbers: fds pass through fork, exec and
SCM_RIGHTS with no translation.  The emulator's own descriptors live in a
reserved range at the top of the host's limit; the guest's RLIMIT_NOFILE ends
below it, so the guest can neither name nor be given one of them.

Per-fd emulator state (for example a socket's cached Linux type) lives in one
table keyed by fd; it follows dup/dup3/F_DUPFD, is dropped on close, and
entries marked close-on-exec go on execve.
"""
from __future__ import annotations

import errno
import fcntl
import os
import resource

from elfuse_py.host import fs as hostfs

RESERVED_FDS = 64


class FdState:
    """Emulator state attached to one guest fd (e.g. a socket's Linux type).

    A subclass that sets ``intercepts_io`` implements ``io_read(fd, views)``
    and ``io_write(fd, views)`` (lists of guest memoryviews, returning a byte
    count or -errno); read/readv/write/writev then delegate to it.  State
    objects must be picklable: they survive execve (of an fd without
    FD_CLOEXEC).  Around that, `before_exec()` runs in the old image just
    before the state is pickled and `after_exec(fd)` in the new one once the
    state is back (also when the host execve failed: the state stays then).
    A state that can say how many bytes a read would find answers FIONREAD
    through `fionread(fd)`.

    A subclass that sets ``computes_readiness`` is an fd with no host
    readiness of its own (an emulated epoll instance): ppoll/pselect6 and the
    thread-parking layer ask it with ``readiness(fd)`` (the Linux poll bits
    ready now) and ``wait_set(fd)`` (the host fds to sleep on), see
    syscalls/readiness.py.

    A state that owns emulator fds (in the reserved range) says so:
    ``carried_fds()`` are kept open across execve (the new image gets them
    back close-on-exec before ``after_exec(fd)`` runs), and ``release()``
    runs when the last guest fd with this state goes (close, dup2 over it...).
    """

    intercepts_io = False
    computes_readiness = False

    def before_exec(self) -> None:
        """The guest execs with this fd open (e.g. let an emulator fd the state needs survive)."""

    def after_exec(self, fd: int) -> None:
        """The state is back in the new image (or the exec failed), attached to guest fd `fd`."""

    def stat_of(self, fd: int) -> os.stat_result:
        """What fstat reports for the fd (the host's, unless the state knows better)."""
        return os.fstat(fd)

    def carried_fds(self) -> tuple[int, ...]:
        """The emulator fds this state needs in the next image (kept open across execve)."""
        return ()

    def fdinfo_lines(self, fd: int) -> str:
        """The lines /proc/self/fdinfo/N shows for this kind of fd after pos/flags/mnt_id/ino
        (an emulated object: what its Linux show_fdinfo prints); "" when none."""
        return ""

    def release(self) -> None:
        """The last guest fd with this state is gone: close what it owns."""


class DirState(FdState):
    """Directory listing of an fd for getdents64: a snapshot and a position.

    The position is the index of the next entry; each record's d_off is the
    index after it, so lseek(fd, d_off, SEEK_SET) resumes there.  Seeking to 0
    (rewinddir) drops the snapshot so the next call sees a fresh listing.
    Shared by dup'd fds, like the open file description's offset on Linux.
    `listing()` gives the entries of a directory the emulator synthesises
    (the guest's /proc); None means the host directory's own.
    """

    guest_dir: bytes | None = None    # a synthesised directory's guest path (*at() calls resolve under it)

    def __init__(self) -> None:
        self.entries: list | None = None
        self.pos = 0

    def listing(self) -> list[tuple[bytes, int, int]] | None:
        """(name, inode, Linux DT_*) of every entry, "." and ".." first; None: list the host's."""
        return None


class FdTable:
    def __init__(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # What getrlimit reports to the guest: the limits the emulator was
        # started with (a native process would see them), even when the
        # reserved range had to be cut out of them (soft == hard, common in
        # containers) and the usable range ends 64 lower.  execve carries it.
        self.nominal = (soft, hard)
        if hard == resource.RLIM_INFINITY or hard >= soft + RESERVED_FDS:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft + RESERVED_FDS, hard))
                self.limit = soft
            except (ValueError, OSError):
                self.limit = soft - RESERVED_FDS
        else:
            self.limit = soft - RESERVED_FDS
        self.hard_limit = hard
        self.state: dict[int, object] = {}
        # Host paths of files the guest opened, kept only where the host
        # cannot name an open file itself (see path_of).
        self.paths: dict[int, str] | None = None if hostfs.FD_PATHS_KNOWN else {}
        # Called with an fd number whose file the guest closed (close, dup2
        # over it, a new file given that number): an emulated epoll forgets it.
        self.close_hooks: list = []

    def valid(self, fd: int) -> bool:
        """True if `fd` is a number the guest may use (it may still be closed)."""
        return 0 <= fd < self.limit

    def is_open(self, fd: int) -> bool:
        """True if `fd` is one of the guest's numbers and open."""
        if not self.valid(fd):
            return False
        try:
            os.fstat(fd)
        except OSError:
            return False
        return True

    def reserve(self, fd: int) -> int:
        """Move an emulator-owned host fd into the reserved range (close-on-exec)."""
        new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, self.limit)
        os.close(fd)
        return new

    # ----- per-fd emulator state ---------------------------------------------------

    def get(self, fd: int):
        return self.state.get(fd)

    def set(self, fd: int, value) -> None:
        self.state[fd] = value

    def on_dup(self, old: int, new: int) -> None:
        for hook in self.close_hooks:       # whatever `new` was is closed
            hook(new)
        st = self.state.get(old)
        gone = self.state.get(new)
        if st is None:
            self.state.pop(new, None)
        else:
            self.state[new] = st
        if gone is not None and gone is not st:
            self._released(gone)
        if self.paths is not None:
            p = self.paths.get(old)
            if p is None:
                self.paths.pop(new, None)
            else:
                self.paths[new] = p

    def on_close(self, fd: int) -> None:
        for hook in self.close_hooks:
            hook(fd)
        st = self.state.pop(fd, None)
        if st is not None:
            self._released(st)
        if self.paths is not None:
            self.paths.pop(fd, None)

    def _released(self, st) -> None:
        """`st` left one fd: release it when no other guest fd still has it."""
        if getattr(type(st), "release", FdState.release) is FdState.release:
            return                       # owns nothing: no need to look for other fds
        if any(v is st for v in self.state.values()):
            return
        try:
            st.release()
        except OSError:
            pass

    def opened(self, fd: int, host_path: str) -> None:
        """A file was opened at `host_path` (absolute) as `fd`: remember it where the host cannot tell."""
        if self.paths is not None:
            self.paths[fd] = host_path

    def path_of(self, fd: int) -> str:
        """The host path (or Linux-style pipe:/socket: name) of open fd `fd`; OSError if closed."""
        p = hostfs.fd_path(fd)
        if p is None:
            p = self.paths.get(fd) if self.paths is not None else None
            if p is None:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        return p

    def on_exec(self) -> None:
        """Drop state of fds the host closed on exec (FD_CLOEXEC)."""
        for table in (self.state, self.paths or {}):
            for fd in list(table):
                try:
                    if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                        del table[fd]
                except OSError:
                    del table[fd]
