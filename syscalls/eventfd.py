"""eventfd2: the host kernel's eventfd on Linux hosts, an emulation elsewhere.

Where the host model has no eventfd (macOS, and the macOS host model on
Linux: elfuse_py.host.events.HAVE_EVENTFD), `EventfdEmu` provides it with a
FIFO and a file:

- the guest's fd is a FIFO opened read-write (made in a private temporary
  directory and unlinked at once), so the emulator writes and reads its
  readiness byte through the guest's own fd, no second fd needed;
- the 64-bit counter lives in a slot of a small anonymous file
  (elfuse_py.host.memfiles), read and written with pread/pwrite under a
  POSIX record lock on that slot.  A forked child inherits both the FIFO and
  the file, so parent and child share one counter as on Linux (POSIX locks
  belong to a process: they exclude the parent from the child, which flock
  on a shared open file would not);
- readiness is kept in the FIFO under the lock, whichever process changed
  the counter: empty while the counter is 0, one byte while it is between 1
  and 0xfffffffffffffffe exclusive, and filled until the host refuses more
  at the maximum.  poll/select/epoll therefore say POLLIN exactly when a read
  succeeds and POLLOUT exactly when a write of 1 would not block.  A write
  to a counter that is already non-zero writes and takes back one extra byte,
  so an edge-triggered waiter is woken again, as Linux wakes it;
- a blocking read waits in poll() for the byte; a blocking write that would
  overflow waits for POLLOUT (a full counter) or re-checks every 10 ms (the
  rarer case of a smaller counter plus a big value).  Both are cut short by a
  guest signal (EINTR, or a restart under SA_RESTART), and with several
  guest threads the thread is parked instead (syscalls/parking.py).

Every process of the guest's tree that inherited the fd must be an elfuse-py
process for the counter to stay right: an eventfd passed with SCM_RIGHTS
reaches the receiver as a bare FIFO.
"""
from __future__ import annotations

import fcntl
import os
import select
import struct
import time

from elfuse_py.host import events as host
from elfuse_py.host import memfiles
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.events import _L_O_CLOEXEC, _L_O_NONBLOCK, _fd_flags, _guest_fd, _host_fd_flags, _scatter
from elfuse_py.syscalls.parking import later
from elfuse_py.syscalls.table import syscall

_L_EFD_SEMAPHORE = 1
_HOST_EFD_SEMAPHORE = getattr(os, "EFD_SEMAPHORE", 1)
EVENTFD_MAX = 0xFFFFFFFFFFFFFFFE
_U64 = struct.Struct("<Q")
_SLOT = 8                         # bytes per counter in the counter file; slot 0 is the allocator
_OVERFLOW_RECHECK = 0.01          # s between checks of a blocked write that POLLOUT cannot announce

# The counter file of this process (and of the children it forks): one fd in the
# reserved range, however many eventfds the guest makes.
_counters: int | None = None


def _counter_file() -> int:
    global _counters
    if _counters is None:
        fd = memfiles.anonymous("elfuse-eventfd", cloexec=True)
        try:
            _counters = proc.fds.reserve(fd)
        except OSError:
            os.close(fd)
            raise
    return _counters


def _lock(fd: int, off: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_EX, _SLOT, off)


def _unlock(fd: int, off: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_UN, _SLOT, off)


def _new_slot(cfd: int, initval: int) -> int:
    """A fresh counter slot in the counter file (shared with forked relatives)."""
    _lock(cfd, 0)
    try:
        raw = os.pread(cfd, _SLOT, 0)
        n = _U64.unpack(raw)[0] if len(raw) == _SLOT else 0
        os.pwrite(cfd, _U64.pack(n + 1), 0)
    finally:
        _unlock(cfd, 0)
    off = (n + 1) * _SLOT
    os.pwrite(cfd, _U64.pack(initval), off)
    return off


class _Nonblocking:
    """O_NONBLOCK on the FIFO for the length of a fill or a drain (taken under the
    slot lock: every emulator that looks at the fd's mode holds it too)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self):
        self.was = os.get_blocking(self.fd)
        if self.was:
            os.set_blocking(self.fd, False)

    def __exit__(self, *exc):
        if self.was:
            os.set_blocking(self.fd, True)
        return False


def _fill(fd: int) -> None:
    with _Nonblocking(fd):
        for size in (65536, 4096, 512, 64, 8, 1):
            chunk = b"\1" * size
            try:
                while True:
                    os.write(fd, chunk)
            except BlockingIOError:
                pass


def _drain(fd: int) -> None:
    with _Nonblocking(fd):
        try:
            while os.read(fd, 65536):
                pass
        except BlockingIOError:
            pass


def _sync(fd: int, old: int, new: int) -> None:
    """Make the FIFO's contents say what the counter now says (slot lock held)."""
    if old == new:
        return
    if new == EVENTFD_MAX:
        _fill(fd)
    elif old == EVENTFD_MAX:
        _drain(fd)
        if new:
            os.write(fd, b"\1")
    elif new == 0:
        os.read(fd, 1)               # the one byte is there: this cannot block
    elif old == 0:
        os.write(fd, b"\1")
    elif new > old:
        os.write(fd, b"\1")          # a fresh wake-up for edge-triggered waiters
        os.read(fd, 1)


class EventfdEmu(FdState):
    """An emulated eventfd (see the module docstring): slot `off` of counter file `cfd`."""

    intercepts_io = True

    def __init__(self, cfd: int, off: int, semaphore: bool) -> None:
        self.cfd = cfd
        self.off = off
        self.semaphore = semaphore

    def carried_fds(self) -> tuple[int, ...]:
        return (self.cfd,)

    def fdinfo_lines(self, fd: int) -> str:
        # eventfd_show_fdinfo; the slot number stands for the kernel's eventfd id
        return (f"eventfd-count: {self._load():16x}\neventfd-id: {self.off // _SLOT}\n"
                f"eventfd-semaphore: {int(self.semaphore)}\n")

    def _load(self) -> int:
        return _U64.unpack(os.pread(self.cfd, _SLOT, self.off))[0]

    def _store(self, v: int) -> None:
        os.pwrite(self.cfd, _U64.pack(v), self.off)

    def io_read(self, fd: int, views: list) -> int:
        if sum(len(v) for v in views) < 8:
            return -lerrno.EINVAL
        while True:
            _lock(self.cfd, self.off)
            try:
                count = self._load()
                if count:
                    value = 1 if self.semaphore else count
                    self._store(count - value)
                    _sync(fd, count, count - value)
                    break
                blocking = os.get_blocking(fd)
            finally:
                _unlock(self.cfd, self.off)
            if not blocking:
                return -lerrno.EAGAIN
            if threads.multi():
                return threads.wait_fds({fd: select.POLLIN}, None, fd)
            # Another process writes the byte; a guest signal interrupts the wait.
            p = select.poll()
            p.register(fd, select.POLLIN)
            p.poll()
        _scatter(views, value.to_bytes(8, "little"))
        return 8

    def io_write(self, fd: int, views: list) -> int:
        # Exactly 8 bytes, as Linux since 6.10 asks (earlier kernels took the first 8 of more).
        if sum(len(v) for v in views) != 8:
            return -lerrno.EINVAL
        data = b"".join(bytes(v) for v in views)
        value = int.from_bytes(data, "little")
        if value == 0xFFFFFFFFFFFFFFFF:
            return -lerrno.EINVAL
        while True:
            _lock(self.cfd, self.off)
            try:
                count = self._load()
                if count + value <= EVENTFD_MAX:
                    self._store(count + value)
                    _sync(fd, count, count + value)
                    return 8
                blocking = os.get_blocking(fd)
            finally:
                _unlock(self.cfd, self.off)
            full = count == EVENTFD_MAX
            if not blocking:
                return -lerrno.EAGAIN
            if threads.multi():
                if full:
                    return threads.wait_fds({fd: select.POLLOUT}, None, fd)
                return threads.wait_fds({}, None, fd, check=later())
            # A read (in another process) makes room; a guest signal interrupts the wait.
            if full:
                p = select.poll()
                p.register(fd, select.POLLOUT)
                p.poll()
            else:
                time.sleep(_OVERFLOW_RECHECK)


def _fifo(cloexec: bool, nonblock: bool) -> int:
    """A FIFO with no name, opened read-write."""
    import tempfile                         # only for an emulated eventfd
    d = tempfile.mkdtemp(prefix="elfuse-eventfd-")
    try:
        path = os.path.join(d, "fifo")
        os.mkfifo(path, 0o600)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    os.set_inheritable(fd, not cloexec)
    os.set_blocking(fd, not nonblock)
    return fd


def _eventfd_emulated(initval: int, semaphore: bool, cloexec: bool, nonblock: bool) -> int:
    try:
        cfd = _counter_file()
    except OSError:                      # the emulator's reserved range is full
        return -lerrno.EMFILE
    fd = _guest_fd(_fifo(cloexec, nonblock))
    if fd < 0:
        return fd
    off = _new_slot(cfd, initval)
    if initval:
        os.write(fd, b"\1")
    proc.fds.set(fd, EventfdEmu(cfd, off, semaphore))
    return fd


@syscall("eventfd2", "uint, hex", ret="fd",
         note="host kernel eventfd on Linux; elsewhere a FIFO plus a counter file shared "
              "with forked children (docs/macos.md)")
def sys_eventfd2(initval, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(_L_EFD_SEMAPHORE | _L_O_CLOEXEC | _L_O_NONBLOCK):
        return -lerrno.EINVAL
    if not host.HAVE_EVENTFD:
        return _eventfd_emulated(initval, bool(flags & _L_EFD_SEMAPHORE), *_fd_flags(flags))
    hflags = _host_fd_flags(*_fd_flags(flags)) | (_HOST_EFD_SEMAPHORE if flags & _L_EFD_SEMAPHORE else 0)
    return _guest_fd(host.eventfd(initval, hflags))
