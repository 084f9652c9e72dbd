"""Register the syscall table into the runtime: the one module that imports every handler area.

The handler modules fill `syscalls.table.TABLE` as they are imported (each
`@syscall` decorator is one entry).  `register()` then gives the runtime
what it needs of the table, as data: the dispatch list the CPU hook indexes,
the fallback for numbers without a handler, names for error reports, the
interruptible handlers and no-restart numbers the signals layer needs, and
the --strace tracer (`register`); and the fd-close hook of the epoll
emulation.  The runtime never imports this package.
"""
from __future__ import annotations

from elfuse_py.runtime import lerrno, log
from elfuse_py.runtime.process import Process, SyscallSet

# Handler modules, by area.  Import order does not matter.
from elfuse_py.syscalls import (absent, admin, openat2, tasks,  # noqa: F401
                      dirs, epoll, eventfd, events, execve, fdops, fileio, fsmeta, fsnames,  # noqa: F401
                      futex, info, ioctl, mem, memfd, notify, pidfd, poll, proc, procvm, ptimers,
                      sched, signal, sigwait, splice, time, timerfd, xattr)
from elfuse_py.syscalls import ipc_msg, ipc_sem, ipc_shm  # noqa: F401  (SysV IPC)
from elfuse_py.syscalls.net import messages, names, sockets, sockopt  # noqa: F401
# Thread-parking wrappers: each module adds its calls to parking.WRAP as it is imported.
from elfuse_py.syscalls import parked_io, parked_open, parked_waits, parking  # noqa: F401
from elfuse_py.syscalls import coverage
from elfuse_py.syscalls.numbers import SYSCALL_NAMES
from elfuse_py.syscalls.table import ENOSYS_LEVEL, TABLE, dispatch_list

# The event-fd areas, each a native path and a macOS-model emulation (docs/macos.md).
EVENT_FD_AREAS = (eventfd, timerfd, pidfd)


def on_unknown(nr: int) -> int:
    """Result for a number with no handler: -ENOSYS, and one warning unless expected."""
    entry = TABLE.get(nr)
    if entry is None:
        log.warn_once(f"nr{nr}", f"unknown syscall number {nr}")
    elif entry.level != ENOSYS_LEVEL or not entry.note:
        log.warn_once(entry.name, f"unsupported syscall {entry.name} (nr {nr})")
    return -lerrno.ENOSYS


def name_of(nr: int) -> str:
    return SYSCALL_NAMES.get(nr, str(nr))


def _tracer(process: Process):
    """--strace's tracer for `process`: imported only when a trace starts (its tables cost start-up)."""
    from elfuse_py.syscalls.strace import Tracer
    return Tracer(process).trace


def register(process: Process) -> None:
    """Register the table into `process` (gVisor's RegisterSyscallTable direction)."""
    process.syscalls = SyscallSet(
        dispatch=coverage.wrap(dispatch_list(), name_of),
        on_unknown=on_unknown,
        name_of=name_of,
        interruptible=frozenset(e.handler.__code__ for e in TABLE.values()
                                if e.interruptible and e.handler is not None),
        no_restart=frozenset(nr for nr, e in TABLE.items() if not e.restart),
        tracer=_tracer,
    )
    # The epoll emulation (hosts without epoll) hears of every fd the guest closes.
    epoll.install(process)
    # Once a second guest thread exists, the blocking calls park their thread
    # instead of stopping every thread (syscalls/parking.py).
    if parking.install not in process.threads.on_multi:
        process.threads.on_multi.append(parking.install)
