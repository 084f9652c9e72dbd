"""pidfd_open and pidfd_send_signal (waitid(P_PIDFD) is in syscalls/proc.py).

Guest pids are host pids, so on a Linux host a pidfd is the host kernel's
(os.pidfd_open, signal.pidfd_send_signal).  Where the host model has none
(macOS, and the macOS host model on Linux: elfuse_py.host.events.HAVE_PIDFD),
`PidfdEmu` provides one:

- the guest's fd is one end of a host socketpair (close-on-exec, O_RDWR, as
  a pidfd is); the emulator keeps the other end in its reserved range;
- the wake-up thread (syscalls/wakeup.py) looks at the process now and then
  (2 ms, backing off to 50 ms) and writes one byte to the emulator's end once
  it has exited, so poll/select/epoll see POLLIN then, as on Linux.  For a
  child of this process it asks waitid(WEXITED|WNOHANG|WNOWAIT), which tells
  an exited (zombie) child without reaping it, so the guest's own wait4 or
  waitid still gets the status; for any other process it asks kill(pid, 0),
  which sees the exit only once the parent has reaped it;
- read and write are EINVAL, as on a pidfd;
- pidfd_send_signal sends to the pid (a signal to this process itself is
  queued for the guest like kill's; a siginfo's payload does not reach
  another process, as with rt_sigqueueinfo).  Once the process is known to
  be gone (its exit seen and it reaped, or reaped by the guest's own wait)
  the pidfd answers ESRCH without touching the pid, which may have been
  reused; the one window left is a pid reaped and reused before anything
  here saw it go;
- waitid(P_PIDFD) becomes waitid(P_PID) on the pid, EAGAIN on a
  PIDFD_NONBLOCK pidfd whose child is still running.
"""
from __future__ import annotations

import os
import signal as hs
import struct

from elfuse_py.host import children
from elfuse_py.host import events as host
from elfuse_py.runtime import lerrno, signals, threads
from elfuse_py.runtime.fdtable import FdState
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls import wakeup
from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.events import _L_O_NONBLOCK, _emulated_pair, _guest_fd
from elfuse_py.syscalls.signal import _send, _valid
from elfuse_py.syscalls.table import PARTIAL, syscall

_L_PIDFD_NONBLOCK = _L_O_NONBLOCK
_L_PIDFD_THREAD = 0o200                          # O_EXCL (Linux 6.9)
# pidfd_send_signal flags (Linux 6.9): at most one of them
_L_PIDFD_SIGNAL_THREAD, _L_PIDFD_SIGNAL_THREAD_GROUP, _L_PIDFD_SIGNAL_PROCESS_GROUP = 1, 2, 4
_SIGNAL_FLAGS = 7
_SIGINFO_HEAD = struct.Struct("<iii")            # si_signo, si_errno, si_code

RUNNING, EXITED, GONE = 0, 1, 2


def process_state(pid: int) -> int:
    """RUNNING, EXITED (a zombie child of ours) or GONE (no such process), asking
    nothing that reaps: a child's status stays for the guest's own wait."""
    if children.WNOWAIT:
        try:
            return RUNNING if children.peek("P_PID", pid, children.WEXITED) is None else EXITED
        except ChildProcessError:
            pass                         # not a child of ours, or reaped already
        except OSError:
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return GONE
    except PermissionError:
        pass
    return RUNNING


class PidfdEmu(FdState):
    """An emulated pidfd for `pid` (see the module docstring).  Fields are guarded by wakeup.lock."""

    intercepts_io = True

    def __init__(self, pid: int, peer: int) -> None:
        self.pid = pid
        self.peer = peer
        self.exited = False              # the readiness byte was written
        self.gone = False                # reaped: the pid may now name another process
        self.closed = False

    def carried_fds(self) -> tuple[int, ...]:
        return () if self.closed else (self.peer,)

    def after_exec(self, fd: int = -1) -> None:
        with wakeup.lock:
            self.watch()

    def release(self) -> None:
        with wakeup.lock:
            if not self.closed:
                self.closed = True
                os.close(self.peer)

    def io_read(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL

    def io_write(self, fd: int, views: list) -> int:
        return -lerrno.EINVAL

    def watch(self) -> None:
        """Look at the process now, and from the wake-up thread until it exits (lock held)."""
        if self.exited or self.closed or self.pid == os.getpid():
            return
        if not self.check():
            wakeup.poll_every(self.check)

    def check(self) -> bool:
        """True once there is nothing more to watch (wakeup.lock held)."""
        if self.closed:
            return True
        state = process_state(self.pid)
        if state == RUNNING:
            return False
        self.mark(state == GONE)
        return True

    def mark(self, gone: bool) -> None:
        """The process exited (and, if `gone`, was reaped): make the fd readable."""
        if gone:
            self.gone = True
        if not self.exited and not self.closed:
            self.exited = True
            try:
                os.write(self.peer, b"\1")
            except OSError:
                pass


def emulated(fd: int) -> PidfdEmu | None:
    """The emulated pidfd behind guest `fd` (None: a bad fd or no pidfd: EBADF)."""
    st = proc.fds.get(fd) if proc.fds.valid(fd) else None
    return st if isinstance(st, PidfdEmu) else None


def reaped(pid: int) -> None:
    """The guest reaped `pid` (wait4/waitid): its emulated pidfds are readable, and gone."""
    sts = [st for st in proc.fds.state.values() if isinstance(st, PidfdEmu) and st.pid == pid]
    if sts:
        with wakeup.lock:
            for st in sts:
                st.mark(True)


def _native_pid(fd: int) -> int:
    """The pid a host pidfd refers to, from its fdinfo (-1: exited and reaped; 0: no pidfd)."""
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


# ----- pidfd_open -----------------------------------------------------------------------

def _open_emulated(pid: int, nonblock: bool) -> int:
    if pid != os.getpid():
        if threads.find(pid) is not None:
            return -lerrno.EINVAL       # a thread of this process, not a thread-group leader
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return -lerrno.ESRCH
        except PermissionError:
            pass
    pair = _emulated_pair(True, nonblock)      # a pidfd is always close-on-exec
    if isinstance(pair, int):
        return pair
    fd, peer = pair
    st = PidfdEmu(pid, peer)
    proc.fds.set(fd, st)
    with wakeup.lock:
        st.watch()
    return fd


@syscall("pidfd_open", "int, hex", ret="fd", level=PARTIAL,
         note="host kernel pidfd on Linux; elsewhere a socketpair made readable by a helper "
              "thread when the process exits (docs/macos.md); PIDFD_THREAD only on Linux hosts")
def sys_pidfd_open(pid, flags):
    pid, flags = s32(pid), flags & 0xFFFFFFFF
    if host.HAVE_PIDFD:
        if flags & ~(_L_PIDFD_NONBLOCK | _L_PIDFD_THREAD) or pid <= 0:
            return -lerrno.EINVAL
        hflags = (os.O_NONBLOCK if flags & _L_PIDFD_NONBLOCK else 0) | \
                 (os.O_EXCL if flags & _L_PIDFD_THREAD else 0)
        return _guest_fd(os.pidfd_open(pid, hflags))
    if flags & ~_L_PIDFD_NONBLOCK or pid <= 0:
        return -lerrno.EINVAL
    return _open_emulated(pid, bool(flags & _L_PIDFD_NONBLOCK))


# ----- pidfd_send_signal -------------------------------------------------------------------

@syscall("pidfd_send_signal", "fd, signal, ptr, hex", level=PARTIAL,
         note="a siginfo's payload reaches other guests through their inbox; PIDFD_SIGNAL_THREAD "
              "signals the process")
def sys_pidfd_send_signal(pidfd, sig, info, flags):
    flags &= 0xFFFFFFFF
    if not 0 <= sig <= signals.NSIG or flags & ~_SIGNAL_FLAGS or bin(flags).count("1") > 1:
        return -lerrno.EINVAL
    st = None
    if host.HAVE_PIDFD:
        if not proc.fds.valid(pidfd):
            return -lerrno.EBADF
        pid = _native_pid(pidfd)
        if pid == 0:
            return -lerrno.EBADF        # not a pidfd
    else:
        st = emulated(pidfd)
        if st is None:
            return -lerrno.EBADF
        pid = st.pid
    raw = None
    if info:
        raw = proc.mem.read(info, signals.SIGINFO_SIZE)
        signo, _errno, code = _SIGINFO_HEAD.unpack_from(raw)
        if signo != sig:
            return -lerrno.EINVAL
        if pid != os.getpid() and (code >= 0 or code == signals.SI_TKILL):
            return -lerrno.EPERM
    if st is not None:
        with wakeup.lock:
            if not st.gone and process_state(pid) == GONE:
                st.mark(True)
            if st.gone:
                return -lerrno.ESRCH
    elif pid < 0:
        return -lerrno.ESRCH
    if flags & _L_PIDFD_SIGNAL_PROCESS_GROUP:
        h = signals.to_host(sig) if sig else 0
        if h is None:
            return -lerrno.EINVAL
        os.killpg(os.getpgid(pid), h)
        return 0
    if pid == os.getpid():
        if raw is not None and sig:
            signals.queue(sig, raw)
            return 0
        return _send(pid, sig, signals.SI_USER)
    if not sig or _valid(sig):
        h = signals.to_host(sig) if sig else 0
        if sig and (raw is not None or h is None or sig >= signals.SIGRTMIN_KERNEL):
            # A value or a signal the host cannot carry: the guest's inbox (runtime/siginbox.py).
            if raw is None:
                raw = signals._si(sig, signals.SI_USER, os.getpid(), os.getuid())
            return signals.send_to_process(pid, sig, raw, plain=False)
        if st is None:
            hs.pidfd_send_signal(pidfd, h)
        else:
            os.kill(pid, h)
        return 0
    return -lerrno.EINVAL
