"""The execution token: guest code of processes that share writable memory runs one process at a time.

Each guest process runs on its own unicorn engine in its own host process,
truly in parallel with the others.  unicorn never sets qemu's CF_PARALLEL,
so a guest atomic (LDXR/STXR, LDADD, CAS...) is translated as a plain load,
compare and store: two processes updating one word of shared memory lose
updates (bench/parallel_engines.py).  Inside one process this cannot
happen: its threads take turns on one engine, stopped only where a
translated block starts (runtime/preempt.py).  This module extends that to
the processes of one emulator tree that share writable memory (its
*members*): a member runs guest code only while it holds the tree's token.

Membership.  A process joins (`join`) when it gets a writable shared
mapping (mmap MAP_SHARED with PROT_WRITE, mprotect adding write to a shared
mapping, shmat without SHM_RDONLY: syscalls/mem.py, ipc_shm.py); a fork
child of a member is one; an execve (which drops every mapping) leaves
(`proc.exec_hooks`), and so does the end of the process (the kernel drops
its locks).  Membership is not given up by munmap.  A process that never
joins pays nothing: its syscall hook, runs and slices are unchanged.

The token is a `flock` on ``exectoken`` in the tree's directory
(runtime/ipctree.py): the kernel releases it when a holder dies, so a
crashed member never wedges the others.  A flock belongs to the open file
description, so every member opens its own (a fork child reopens at once,
`_forked`, before it can run guest code).

Holding.  A member holds the token while its engine runs guest code: the
run loop takes it before each run and gives it back after (`run`), and the
syscall hook gives it back around every handler (`Cpu.install_syscall_hook`'s
gate: a syscall may block, e.g. a futex wait on a lock only another member
can release) and takes it again unless the handler stopped the run.  So the
token is never held while the run is stopped for anything else: signal
delivery and job-control stops, thread switches and idling, gdb's prompt,
exit and exec.  A run stops only where a translated block starts (or after
an SVC), so an LDXR..STXR sequence or a single LSE instruction never has
another member's code in its middle, as with threads.

Handing over.  A member computing without syscalls must let the others in:
members always run with time slices (the ticker of runtime/preempt.py ends
a run exactly at a block start), and at the end of a slice a member that
sees a waiter hands the token over.  flock has no FIFO, and the releaser
would usually take the lock again before the woken waiter runs, so a waiter
announces itself with a shared flock on ``exectoken.wait`` while it waits
and, once it holds the token, stamps ``exectoken`` with its pid and a count;
the releaser sees the waiter (``LOCK_EX|LOCK_NB`` on the wait file fails),
releases, and waits until the stamp changes (at most HANDOVER_WAIT; after a
handover nobody took, it looks only every few slices: a waiter stopped
inside its wait keeps its announcement).  Two spinning members thus
alternate slice by slice.

Stops.  A member stopped by the host kernel while it holds the token (a
SIGSTOP, or a default-action SIGTSTP/SIGTTIN/SIGTTOU) would stop the others
until it is continued.  A stop signal a guest of the tree sends to a member
therefore goes through the member's signal inbox (runtime/siginbox.py,
`signals.send_to_process`): the member's emulator stops the run, gives the
token back and stops itself (the signals layer's default action); a
SIGCONT to a member posts a mark there first, which voids a stop queued
before it, and is repeated until the member took the mark
(`signals._continue_member`).  A stop from outside the tree (a user's `kill -STOP`, a process-group kill) is the
host kernel's and can still catch a member with the token; the others then
wait until it is continued.  Members of different emulator trees are not
serialised with each other.
"""
from __future__ import annotations

import fcntl
import os
import struct
import time

from elfuse_py.runtime import ipctree, log
from elfuse_py.runtime.process import proc

TOKEN_FILE = "exectoken"
WAIT_FILE = "exectoken.wait"
MEMBER_PREFIX = "exectoken.member."
HANDOVER_WAIT = 0.002            # s: how long a releaser waits for a waiter to take the token
HANDOVER_BACKOFF = 8             # slices without handover attempts after one nobody took
_STAMP = struct.Struct("<QQ")    # (pid, count) of the last waiter that took the token

member = False                   # this process is a member (checked by the run loop)
_pid = 0                         # the pid whose fds these are (a fork child reopens)
_tfd = -1                        # the token file (flock LOCK_EX: held)
_wfd = -1                        # the wait file (flock LOCK_SH while waiting)
_held = False
_count = 0                       # this process's contended acquisitions (its stamps)
_backoff = 0                     # slices left before the next handover attempt
_fork_hook = False               # os.register_at_fork done
_warned = False

_flock = fcntl.flock
_EX, _SH, _UN, _NB = fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_UN, fcntl.LOCK_NB


def _open_fds() -> bool:
    """Open this process's own token and wait files (reserved fds, close-on-exec)."""
    global _tfd, _wfd, _pid
    try:
        t = ipctree.open_file(TOKEN_FILE, os.O_RDWR | os.O_CREAT)
        w = ipctree.open_file(WAIT_FILE, os.O_RDWR | os.O_CREAT)
    except OSError:
        return False
    _tfd, _wfd = proc.fds.reserve(t), proc.fds.reserve(w)
    _pid = os.getpid()
    _mark(True)
    return True


def _close_fds() -> None:
    global _tfd, _wfd, _held
    for fd in (_tfd, _wfd):
        if fd >= 0:
            try:
                os.close(fd)          # (never LOCK_UN: a fork parent may share the description)
            except OSError:
                pass
    _tfd = _wfd = -1
    _held = False


def _mark(on: bool) -> None:
    """The tree's list of members (one empty file per pid): senders of stop signals read it."""
    name = f"{MEMBER_PREFIX}{os.getpid()}"
    if on:
        try:
            os.close(ipctree.open_file(name, os.O_WRONLY | os.O_CREAT))
        except OSError:
            pass
    else:
        ipctree.unlink(name)


def is_member(pid: int) -> bool:
    """True if guest process `pid` of this tree is a member (signals.send_to_process)."""
    if not ipctree.available():
        return False
    try:
        os.close(ipctree.open_file(f"{MEMBER_PREFIX}{pid}", os.O_RDONLY))
    except OSError:
        return False
    return True


# ----- joining and leaving ----------------------------------------------------------------------

def join() -> None:
    """This process got a writable shared mapping: from its next run on it is a member.

    Called from inside a syscall handler: the hook with the gate goes in at
    the next run (`run`), and the current run ends after this syscall, so no
    guest code runs outside the token."""
    global member, _fork_hook, _warned
    if member:
        return
    if not ipctree.ensure() or not _open_fds():
        if not _warned:
            _warned = True
            log.emit("elfuse-py: no runtime directory for the execution token: guest processes "
                     "sharing memory run unserialised (atomics between them may lose updates)\n")
        return
    member = True
    proc.threads.slices_wanted = True
    proc.syscall_gate = (release, acquire)
    if leave not in proc.exec_hooks:
        proc.exec_hooks.append(leave)
    if _exited not in proc.exit_hooks:
        proc.exit_hooks.insert(0, _exited)   # (before ipctree's, which closes the tree's fd)
    if not _fork_hook:
        _fork_hook = True
        os.register_at_fork(after_in_child=_forked)
    if proc.cpu is not None:
        proc.cpu.stop("resched")     # (threads: another run follows at once)


def leave() -> None:
    """execve: every mapping goes, and membership with it (the new image's hook has no gate)."""
    if not member:
        return
    _mark(False)
    _close_fds()
    _not_a_member()


def _not_a_member() -> None:
    """Membership off: no gate around syscalls, no slices wanted for it."""
    global member
    member = False
    proc.threads.slices_wanted = False
    proc.syscall_gate = None


def _exited() -> None:
    if member:
        _mark(False)


def _forked() -> None:
    """(os.register_at_fork) A fork child of a member is one, with token fds of its own.

    The child runs here inside the parent's fork handler, where the token is
    not held (the gate gave it back); the fds it inherited share the parent's
    open file descriptions (and their locks), so they are closed, never
    unlocked, and fresh ones opened before the child's first guest code."""
    if not member or _pid == os.getpid():
        return
    _close_fds()
    if not _open_fds():
        _not_a_member()              # (the hook keeps the gate, which does nothing without fds)


# ----- holding -------------------------------------------------------------------------------

def acquire() -> None:
    """Take the token, waiting for it if another member holds it."""
    global _held, _count
    if _held or _tfd < 0:
        return
    try:
        _flock(_tfd, _EX | _NB)
        _held = True
        return
    except BlockingIOError:
        pass
    _flock(_wfd, _SH)                # announced: the holder hands over at its slice end
    try:
        while True:
            try:
                _flock(_tfd, _EX)
                break
            except InterruptedError:  # (a signal handler that raised: wait on)
                continue
        _held = True
        _count += 1
        os.pwrite(_tfd, _STAMP.pack(os.getpid(), _count), 0)
    finally:
        _flock(_wfd, _UN)


def release(handover: bool = False) -> None:
    """Give the token back; `handover` (a slice ended): let a waiting member take it first."""
    global _held, _backoff
    if not _held:
        return
    _held = False
    if handover:
        if _backoff:
            _backoff -= 1
        elif _waiting():
            stamp = os.pread(_tfd, _STAMP.size, 0)
            _flock(_tfd, _UN)
            end = time.monotonic() + HANDOVER_WAIT
            while os.pread(_tfd, _STAMP.size, 0) == stamp:
                if time.monotonic() > end:
                    _backoff = HANDOVER_BACKOFF      # a waiter that does not come (stopped?)
                    break
                time.sleep(0.00005)
            return
    _flock(_tfd, _UN)


def _waiting() -> bool:
    """True if another member announced it waits for the token."""
    try:
        _flock(_wfd, _EX | _NB)
    except BlockingIOError:
        return True
    _flock(_wfd, _UN)
    return False


def run(start, pc: int) -> int:
    """The run loop's run of a member: `start(pc)` holding the token; a run that
    ended by its slice (or a host signal) hands the token over to a waiter."""
    if proc.syscall_gate is not None and proc.cpu.syscall_gate is None:
        proc.install_hook()          # the gated hook (joined during the last run)
    acquire()
    err = 1
    try:
        err = start(pc)
    finally:
        release(proc.cpu.stop_reason is None and not err)
    return err
