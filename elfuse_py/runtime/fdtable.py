"""The guest's file descriptors and the emulator's per-fd state.

Guest fd numbers *are* host fd numbers: fds pass through fork, exec and
SCM_RIGHTS with no translation, and the hot path translates nothing.  The
emulator's own descriptors live in a reserved range just above the guest's
hard RLIMIT_NOFILE (`plan_limits` raises the host's limit to make room), so
the guest gets every fd number its limit allows (0..RLIMIT_NOFILE-1) and can
neither name nor be given one of the emulator's, under any spelling.

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


# The guest's RLIMIT_NOFILE is at most this many fds (soft and hard) unless the
# emulator was started with more: the emulator's own fds sit just above the
# guest's hard limit, and the host kernel sizes a process's fd table by its
# highest fd, so a far-away reserved range would cost every emulator process
# megabytes (a 1048576-fd hard limit: 8 MiB).
NOFILE_CAP = 65536

# The numbering an exec'd image takes over from the image before it (set by
# syscalls/execve.take_state before the fd table is made): (limit, nominal).
carried: tuple[int, tuple[int, int]] | None = None


def _try_setrlimit(soft: int, hard: int) -> bool:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    except (ValueError, OSError):
        return False
    return True


def plan_limits() -> tuple[int, tuple[int, int]]:
    """Make room for the emulator's fds above the guest's: (limit, the guest's (soft, hard)).

    `limit` is the first fd number the guest can never name; the reserved
    range [limit, limit + RESERVED_FDS) is the emulator's.  The guest's hard
    RLIMIT_NOFILE is `limit` itself, so whatever the guest sets (setrlimit
    up to its hard limit) stays below the emulator's fds.  In order:

    - the host's soft limit is raised to make room above the guest's full
      limits (fits under the host's hard limit, or the emulator may raise it:
      CAP_SYS_RESOURCE): the guest sees exactly the limits it was started with;
    - else the room comes out of the top of the host's hard limit: the guest
      sees a hard (and, if equal, soft) limit RESERVED_FDS lower, and every fd
      below it is usable, as a native process started with that limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = hard == resource.RLIM_INFINITY or hard < 0
    top = max(soft, NOFILE_CAP) if inf else min(hard, max(soft, NOFILE_CAP))
    if inf:
        # macOS caps the soft limit (OPEN_MAX, kern.maxfilesperproc) under an
        # "unlimited" hard one: take the largest room the host grants.
        for base in (top, 10240 - RESERVED_FDS, 4096 - RESERVED_FDS, soft):
            if _try_setrlimit(base + RESERVED_FDS, hard):
                return base, (min(soft, base), base)
        base = soft - RESERVED_FDS
        return base, (base, base)
    if _try_setrlimit(top + RESERVED_FDS, max(hard, top + RESERVED_FDS)):
        return top, (min(soft, top), top)
    base = min(top, hard - RESERVED_FDS)
    if not _try_setrlimit(base + RESERVED_FDS, hard):
        base = soft - RESERVED_FDS         # cannot happen (base + 64 <= hard); stay inside
    return base, (min(soft, base), base)


class FdTable:
    def __init__(self) -> None:
        if carried is not None:
            # An exec'd image: the host limits were inherited; the numbering stays.
            self.limit, self.nominal = carried
        else:
            self.limit, self.nominal = plan_limits()
        # What getrlimit reports to the guest until it sets its own (proc.task.nofile);
        # `ceiling` is the first number the guest may not be *given* (its soft limit),
        # while fds up to `limit` may still be named (opened before a lowered limit).
        self.ceiling = min(self.nominal[0], self.limit)
        self.state: dict[int, object] = {}
        # (st_dev, st_ino) of the file behind each reserved fd (by number: bounded).
        self.reserved: dict[int, tuple[int, int]] = {}
        self.reserved_ids: set[tuple[int, int]] = set()
        # Host paths of files the guest opened, kept only where the host
        # cannot name an open file itself (see path_of).
        self.paths: dict[int, str] | None = None if hostfs.FD_PATHS_KNOWN else {}
        # Called with an fd number whose file the guest closed (close, dup2
        # over it, a new file given that number): an emulated epoll forgets it.
        self.close_hooks: list = []

    def set_soft_limit(self, soft: int) -> None:
        """The guest set its RLIMIT_NOFILE soft limit (<= its hard one, <= `limit`)."""
        self.ceiling = min(soft, self.limit)

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
        try:
            st = os.fstat(new)
            self.reserved[new] = (st.st_dev, st.st_ino)
            self.reserved_ids = set(self.reserved.values())
        except OSError:
            pass
        return new

    def is_emulators(self, st: os.stat_result) -> bool:
        """True if the file of `st` is (or was) one an emulator fd has open: a guest
        that reached it by a path may have gone through /proc/self/fd by a link."""
        return (st.st_dev, st.st_ino) in self.reserved_ids

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
