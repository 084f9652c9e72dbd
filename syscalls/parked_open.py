"""Parked open(): a blocking open of a FIFO, run on a helper host thread.

A blocking open() of a FIFO waits in the kernel until the other end is
opened, often by another guest thread, and nothing can be polled for that
meanwhile.  So with several threads (see syscalls/parking.py) the open runs
on a helper host thread while the guest thread is parked on a pipe the
helper writes when it is done.  A signal that ends the wait completes the
helper's open by opening the other end for a moment.
"""
from __future__ import annotations

import os
import stat

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.parking import IN, WRAP
from elfuse_py.syscalls import fsflags as F
from elfuse_py.syscalls.fdargs import at_path, guest_path


def _fifo_path(dirfd: int, pathname: int, flags: int) -> tuple | None:
    """(host path, dir fd) of the guest path if it names a FIFO, else None."""
    try:
        path, dfd = at_path(dirfd, guest_path(pathname), not flags & F.O_NOFOLLOW)
        return (path, dfd) if stat.S_ISFIFO(os.stat(path, dir_fd=dfd).st_mode) else None
    except Exception:  # noqa: BLE001 - bad path or pointer: the handler reports it
        return None


def _release(fifo: tuple, reader: bool) -> None:
    """Complete an abandoned helper's open by opening the FIFO's other end
    (non-blocking) for a moment: a FIFO end nobody waits for must not stay."""
    path, dfd = fifo
    try:
        os.close(os.open(path, (os.O_WRONLY if reader else os.O_RDONLY) | os.O_NONBLOCK,
                         dir_fd=dfd))
    except OSError:
        pass


def _openat(fn):

    def wrapped(dirfd, pathname, flags, mode):
        f = flags & 0xFFFFFFFF
        if not threads.multi() or f & (F.O_NONBLOCK | F.O_PATH) \
                or f & F.O_ACCMODE == F.O_RDWR:
            return fn(dirfd, pathname, flags, mode)
        fifo = _fifo_path(dirfd, pathname, f)
        if fifo is None:
            return fn(dirfd, pathname, flags, mode)
        done_r, done_w = (proc.fds.reserve(x) for x in os.pipe())
        box: dict = {}

        def work() -> None:
            try:
                r = fn(dirfd, pathname, flags, mode)
            except OSError as e:
                r = -lerrno.to_linux(e.errno)
            except Exception:  # noqa: BLE001 - guest memory gone and the like
                r = -lerrno.EFAULT
            with lock:
                box["r"] = r
                if box.get("abandoned") and r >= 0:
                    os.close(r)          # the guest stopped waiting (a signal)
            # The helper owns the write end: the waiter may be gone already
            # (its read end closed: EPIPE).
            try:
                os.write(done_w, b"x")
            except OSError:
                pass
            os.close(done_w)

        def result() -> int:
            return box["r"]

        def abandon() -> int:
            with lock:
                r = box.get("r")
                if r is not None:
                    return r             # finished just as the signal came: keep it
                box["abandoned"] = True
            _release(fifo, f & F.O_ACCMODE == F.O_RDONLY)
            return -lerrno.EINTR

        def cleanup() -> None:
            os.close(done_r)

        import threading              # (here: only a FIFO open that would block needs it)
        lock = threading.Lock()
        threading.Thread(target=work, daemon=True, name="elfuse-fifo-open").start()
        return threads.wait_fds({done_r: IN}, None, dirfd, on_ready=result,
                                cleanup=cleanup, on_eintr=abandon)
    wrapped._blocking_wrapper = True
    return wrapped


# name -> wrapper factory, for parking.install()
WRAP["openat"] = _openat
