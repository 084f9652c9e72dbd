"""Signal waiters: host fds that are readable exactly while a guest signal they watch is pending.

A waiter watches a set of Linux signals (`mask`) and owns a host pipe.  Its
read end is what gets waited on (the guest's signalfd *is* that read end; the
portable rt_sigtimedwait keeps one of its own); the write end stays with the
emulator, in its reserved fd range.  One byte waits in the pipe while a
signal of the set is pending, so poll, select and epoll see POLLIN exactly
then - and only POLLIN: the read end of a pipe is never writable.

Who puts the byte there:

- the main thread (`sync_all`), whenever the pending set changed (a signal
  queued, delivered, or taken by a read or a sigtimedwait); it drains the
  pipe when nothing the waiter watches is pending any more;
- a helper thread of the signals layer (`wake`, `wake_mask`), the moment a
  host signal a waiter watches arrives - the main thread may be blocked in a
  host call waiting on this very fd.  Such a byte is followed by the main
  thread queueing (or pulling) the signal and syncing.

What "pending" is, and how the host's signals reach the waiters, is the
signals layer's business (runtime/signals.py); this module keeps the waiters
and their pipes.  A waiter is an FdState: a signalfd's state survives execve
(pickled without its write end; the new image gives it a fresh pipe,
`adopt`) and fork (the child gets pipes of its own, `after_fork`: Linux's
signalfd reads the *reading* process's signals, and a shared pipe would let
one process drain the other's readiness).
"""
from __future__ import annotations

import _thread
import fcntl
import os

from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.signums import bit

# Set by the signals layer: called when the set of waiters or a waiter's mask changed.
on_change = None
# Held while a write end is written from a helper thread or closed (its number
# must not be reused under a writer's feet).
_lock = _thread.allocate_lock()


class SignalWaiter(FdState):
    """A pipe that holds one byte while a signal of `mask` (Linux bits) is pending."""

    # release() (below) closes the write end once the last guest fd of the pipe is gone.
    transient = False      # True: an emulator-side wait, both ends reserved

    def __init__(self, mask: int) -> None:
        self.mask = mask
        self.rfd = -1          # a read end: one of the guest's fd numbers (or reserved)
        self.wfd = -1          # the write end, in the reserved range, non-blocking
        self.signalled = False
        self.poked = False     # a helper thread wrote a byte the main thread has not accounted for

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d.update(wfd=-1, signalled=False, poked=False)   # the write end does not survive execve
        return d

    # ----- the pipe ----------------------------------------------------------------

    def open(self, cloexec: bool = True, nonblock: bool = False) -> int:
        """Create the pipe; returns the read end (a guest fd, or reserved if transient).

        Raises OSError(EMFILE) when the read end lands past the guest's fd limit.
        """
        r, w = os.pipe()
        try:
            w = proc.fds.reserve(w)
            if self.transient:
                r = proc.fds.reserve(r)
            elif not proc.fds.valid(r):
                raise OSError(24, os.strerror(24))          # EMFILE
        except OSError:
            for fd in (r, w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            raise
        os.set_blocking(w, False)
        if not self.transient:
            os.set_inheritable(r, not cloexec)
        os.set_blocking(r, not nonblock)
        self.rfd, self.wfd = r, w
        return r

    def guest_fds(self) -> list[int]:
        return [fd for fd, st in proc.fds.state.items() if st is self]

    def read_end(self) -> int:
        """A host fd of the read end, or -1 when the guest closed them all."""
        if self.transient or proc.fds.state.get(self.rfd) is self:
            return self.rfd
        for fd in self.guest_fds():
            self.rfd = fd
            return fd
        return -1

    def rebind(self, close_old: bool) -> None:
        """A fresh pipe under the same guest fd numbers (after fork, after execve)."""
        with _lock:
            old, self.wfd = self.wfd, -1
        if close_old and old >= 0:
            os.close(old)
        fds = self.guest_fds()
        self.signalled = self.poked = False
        if not fds:
            return
        r, w = os.pipe()
        for n in fds:
            try:
                cloexec = bool(fcntl.fcntl(n, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
                blocking = os.get_blocking(n)
            except OSError:
                cloexec, blocking = False, True
            os.dup2(r, n, inheritable=not cloexec)
            os.set_blocking(n, blocking)
        os.close(r)
        w = proc.fds.reserve(w)
        os.set_blocking(w, False)
        self.rfd = fds[0]
        with _lock:
            self.wfd = w

    def release(self) -> None:
        """The last guest fd is gone (or the emulator's wait ended): stop watching, close our ends."""
        unregister(self)
        with _lock:
            w, self.wfd = self.wfd, -1
        if w >= 0:
            os.close(w)
        if self.transient and self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1

    # ----- readiness -----------------------------------------------------------------

    def sync(self, pending: int) -> None:
        """Main thread: one byte in the pipe iff a signal of the mask is in `pending`."""
        if pending & self.mask:
            if not self.signalled and self.wfd >= 0:
                try:
                    os.write(self.wfd, b"\1")
                except OSError:
                    pass
                self.signalled = True
        elif self.signalled or self.poked:
            self.signalled = self.poked = False
            fd = self.read_end()
            if fd >= 0:
                _drain(fd)


def _drain(fd: int) -> None:
    import select                   # (here: not at start-up)
    p = select.poll()
    p.register(fd, select.POLLIN)
    try:
        while p.poll(0):
            if not os.read(fd, 4096):
                break
    except OSError:
        pass


# ----- the registry (proc.sig.waiters) ------------------------------------------------------

def _changed() -> None:
    if on_change is not None:
        on_change()


def register(w: SignalWaiter) -> None:
    _prune()
    proc.sig.waiters = tuple(x for x in proc.sig.waiters if x is not w) + (w,)
    _changed()


def unregister(w: SignalWaiter) -> None:
    if any(x is w for x in proc.sig.waiters):
        proc.sig.waiters = tuple(x for x in proc.sig.waiters if x is not w)
        _changed()


def mask_changed() -> None:
    """A waiter's mask was updated (signalfd4 on an existing signalfd)."""
    _changed()


def _prune() -> None:
    """Forget waiters whose guest fds went without a close the fd table saw (safety net)."""
    live = {id(st) for st in proc.fds.state.values()}
    for w in proc.sig.waiters:
        if not w.transient and id(w) not in live:
            proc.sig.waiters = tuple(x for x in proc.sig.waiters if x is not w)
            with _lock:
                fd, w.wfd = w.wfd, -1
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass


def watched() -> int:
    m = 0
    for w in proc.sig.waiters:
        m |= w.mask
    return m


_busy = False
_again = False


def sync_all(pending) -> None:
    """Main thread: bring every waiter's byte in line with `pending()` (Linux bits).

    A Python signal handler may run in the middle (between bytecodes) and
    queue a signal, which syncs again: the nested call only asks the outer
    one for another round, so a drain never undoes the nested byte.
    """
    global _busy, _again
    if _busy:
        _again = True
        return
    _busy = True
    try:
        while True:
            _again = False
            p = pending()
            for w in proc.sig.waiters:
                w.sync(p)
            if not _again:
                break
    finally:
        _busy = False


def wake(sig: int) -> None:
    """Any thread: Linux signal `sig` just arrived from the host."""
    wake_mask(bit(sig))


def wake_mask(mask: int) -> None:
    """Any thread: a byte for every waiter watching a signal of `mask`."""
    with _lock:
        for w in proc.sig.waiters:
            if w.mask & mask and w.wfd >= 0:
                w.poked = True
                try:
                    os.write(w.wfd, b"\1")
                except OSError:
                    pass


def watches(fds, sig: int) -> bool:
    """True if one of the host fds `fds` is a signalfd watching `sig` (a parked reader)."""
    b = bit(sig)
    for fd in fds:
        st = proc.fds.state.get(fd)
        if isinstance(st, SignalWaiter) and st.mask & b:
            return True
    return False


# ----- fork and execve -------------------------------------------------------------------

def after_fork() -> None:
    """Fork child: pipes of its own (the parent's stay the parent's)."""
    global _lock, _busy
    _lock = _thread.allocate_lock()      # a helper thread may have held it at the fork
    _busy = False
    for w in proc.sig.waiters:
        if w.transient:
            continue
        w.rebind(close_old=True)
    proc.sig.waiters = tuple(w for w in proc.sig.waiters if not w.transient)


def adopt() -> bool:
    """New image after execve: the carried signalfds get pipes again. True if there are any."""
    seen: list = []
    for st in proc.fds.state.values():
        if isinstance(st, SignalWaiter) and not any(st is x for x in seen):
            seen.append(st)
    for w in seen:
        w.rebind(close_old=False)
    proc.sig.waiters = tuple(seen)
    return bool(seen)
