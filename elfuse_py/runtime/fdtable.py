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

import fcntl
import os
import resource

RESERVED_FDS = 64


class FdState:
    """Emulator state attached to one guest fd (e.g. a socket's Linux type).

    A subclass that sets ``intercepts_io`` implements ``io_read(fd, views)``
    and ``io_write(fd, views)`` (lists of guest memoryviews, returning a byte
    count or -errno); read/readv/write/writev then delegate to it.  State
    objects must be picklable: they survive execve.  One that sets
    ``releases`` has ``release()`` called once no guest fd refers to it any
    more (it owns emulator fds of its own, e.g. a signalfd's pipe end).
    """

    intercepts_io = False
    releases = False

    def release(self) -> None:
        pass


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

    def valid(self, fd: int) -> bool:
        """True if `fd` is a number the guest may use (it may still be closed)."""
        return 0 <= fd < self.limit

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
        st = self.state.get(old)
        if st is None:
            self._drop(self.state.pop(new, None))
        else:
            prev = self.state.get(new)
            self.state[new] = st
            if prev is not st:
                self._drop(prev)

    def on_close(self, fd: int) -> None:
        self._drop(self.state.pop(fd, None))

    def _drop(self, st) -> None:
        """`st` lost a guest fd: release it when that was its last one."""
        if st is not None and getattr(st, "releases", False) and not any(v is st for v in self.state.values()):
            st.release()

    def on_exec(self) -> None:
        """Drop state of fds the host closed on exec (FD_CLOEXEC)."""
        for fd in list(self.state):
            try:
                if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                    del self.state[fd]
            except OSError:
                del self.state[fd]
