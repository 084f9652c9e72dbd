"""Task-sharing calls beyond clone: unshare, setns, restart_syscall.

Guest namespaces do not exist here (the emulator runs in the host's), so
creating or entering one is what Linux gives a process that may not:
EPERM, as a kernel with unprivileged user namespaces disabled
(kernel.unprivileged_userns_clone=0, Ubuntu's AppArmor restriction).
Unsharing what a single-threaded process does not share (files, fs,
System V semaphore undo lists, the VM, signal handlers) is a successful no-op,
as on Linux; in a multi-threaded process those need per-thread host state the
emulator does not have (EINVAL).
"""
from __future__ import annotations

import os

from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.fdargs import check_fd
from elfuse_py.syscalls.table import PARTIAL, syscall

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_NEWTIME, CLONE_THREAD, CLONE_NEWNS, CLONE_SYSVSEM = 0x80, 0x10000, 0x20000, 0x40000
CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = (CLONE_NEWTIME | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC
              | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)
SHARING = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM
UNSHARE_VALID = NAMESPACES | SHARING


@syscall("unshare", "hex", level=PARTIAL,
         note="a new namespace is EPERM (as unprivileged user namespaces disabled); what a "
              "single-threaded process does not share is a no-op; EINVAL in a multi-threaded one")
def sys_unshare(flags):
    flags &= 0xFFFFFFFF
    if flags & ~UNSHARE_VALID:
        return -lerrno.EINVAL
    # kernel/fork.c: CLONE_NEWUSER implies CLONE_THREAD|CLONE_FS, CLONE_NEWNS implies CLONE_FS.
    if flags & CLONE_NEWUSER:
        flags |= CLONE_THREAD | CLONE_FS
    if flags & CLONE_NEWNS:
        flags |= CLONE_FS
    if flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_FS | CLONE_FILES) and threads.multi():
        return -lerrno.EINVAL
    if flags & NAMESPACES:
        return -lerrno.EPERM
    return 0


@syscall("setns", "fd, hex", level=PARTIAL,
         note="EBADF/EINVAL as Linux; a namespace file (/proc/PID/ns/*) gives EPERM (no CAP_SYS_ADMIN)")
def sys_setns(fd, nstype):
    nstype &= 0xFFFFFFFF
    fd = check_fd(fd)
    os.fstat(fd)
    if nstype & ~NAMESPACES:
        return -lerrno.EINVAL
    try:
        where = proc.fds.path_of(fd)
    except OSError:
        where = ""
    parts = where.split("/")
    if len(parts) == 5 and parts[1] == "proc" and parts[3] == "ns":
        return -lerrno.EPERM
    if where.startswith(("pid:", "ns:", "anon_inode:[pidfd]")):
        return -lerrno.EPERM
    return -lerrno.EINVAL                 # not a namespace file nor a pidfd


@syscall("restart_syscall", "", note="EINTR: called by a program itself there is nothing to restart, as Linux")
def sys_restart_syscall():
    return -lerrno.EINTR
