"""process_vm_readv / process_vm_writev (mm/process_vm_access.c).

Checks in Linux's order: flags EINVAL; more than 1024 iovecs EINVAL; a bad
local iovec array EFAULT; nothing to move 0; a bad remote array EFAULT; no
such process ESRCH.  Bytes move segment by segment and stop at the first
page that is not there (or not readable/writable as the direction needs):
the result is what was moved, or EFAULT if nothing was.

- The calling process itself (its pid, or a tid of one of its threads):
  copied inside the guest address space, checked against the guest's own
  mappings and protections.
- Another guest of the same tree: where the host model is Linux, the host's
  process_vm_readv/writev into that emulator's guest window - when the
  target reserved its window at the same host address as ours, which a forked
  emulator did (elfuse_py.host.procmem.window_at); the host kernel applies its
  own ptrace check (EPERM).  On macOS and under the macOS model, and for a
  target whose window is elsewhere (it exec'd), the answer is EPERM, what
  Linux gives a caller without ptrace rights over the target.
"""
from __future__ import annotations

import os
import struct

from elfuse_py.host import procmem
from elfuse_py.runtime import lerrno, threads
from elfuse_py.runtime.memory import WINDOW_SIZE
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.fileio import _prefix
from elfuse_py.syscalls.table import PARTIAL, syscall

UIO_MAXIOV = 1024
_IOVEC = struct.Struct("<QQ")
PROT_READ, PROT_WRITE = 1, 2
_MAX = 0x7FFFF000          # MAX_RW_COUNT


def _iovecs(addr: int, n: int) -> list[tuple[int, int]]:
    if not n:
        return []
    out = []
    for base, ln in _IOVEC.iter_unpack(proc.mem.read(addr, 16 * n)):
        if ln >= 1 << 63:
            raise ValueError
        out.append((base, ln))
    return out


def _exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rw(pid, lvec, liovcnt, rvec, riovcnt, flags, write: bool) -> int:
    if flags:
        return -lerrno.EINVAL
    if liovcnt > UIO_MAXIOV or riovcnt > UIO_MAXIOV:
        return -lerrno.EINVAL
    try:
        local = _iovecs(lvec, liovcnt)
    except ValueError:
        return -lerrno.EINVAL
    if sum(n for _a, n in local) > 0x7FFFFFFFFFFFFFFF:
        return -lerrno.EINVAL
    if not any(n for _a, n in local):
        return 0
    try:
        remote = _iovecs(rvec, riovcnt)
    except ValueError:
        return -lerrno.EINVAL
    pid = s32(pid)
    if pid == os.getpid() or threads.find(pid) is not None:
        return _self(local, remote, write)
    if not _exists(pid):
        return -lerrno.ESRCH
    return _other(pid, local, remote, write)


def _self(local: list, remote: list, write: bool) -> int:
    """Copy within our own guest memory: remote is read (readv) or written (writev)."""
    mem = proc.mem
    rprot, lprot = (PROT_WRITE, PROT_READ) if write else (PROT_READ, PROT_WRITE)
    total = 0
    li = 0
    loff = 0
    for raddr, rlen in remote:
        roff = 0
        while roff < rlen:
            while li < len(local) and loff >= local[li][1]:
                li += 1
                loff = 0
            if li >= len(local) or total >= _MAX:
                return total
            laddr = local[li][0] + loff
            n = min(rlen - roff, local[li][1] - loff, _MAX - total)
            m = min(_prefix(raddr + roff, n, rprot), _prefix(laddr, n, lprot))
            if m:
                if write:
                    mem.write(raddr + roff, mem.read(laddr, m))
                else:
                    mem.write(laddr, mem.read(raddr + roff, m))
                total += m
            if m < n:
                return total or -lerrno.EFAULT
            roff += n
            loff += n
    return total


def _other(pid: int, local: list, remote: list, write: bool) -> int:
    base = proc.mem.host_base
    if not procmem.window_at(pid, base, WINDOW_SIZE):
        return -lerrno.EPERM
    lprot = PROT_READ if write else PROT_WRITE
    hl = []
    for a, n in local:
        m = _prefix(a, n, lprot) if n else 0
        if m:
            hl.append((base + a, m))
        if m < n:
            break
    hr = []
    for a, n in remote:
        if not n:
            continue
        if a >= WINDOW_SIZE:
            break
        hr.append((base + a, min(n, WINDOW_SIZE - a)))
        if a + n > WINDOW_SIZE:
            break
    if not hl or not hr:
        return -lerrno.EFAULT
    try:
        return procmem.transfer(pid, hl, hr, write)
    except OSError as e:
        return -lerrno.to_linux(e.errno)


@syscall("process_vm_readv", "int, ptr, size, ptr, size, hex", level=PARTIAL,
         note="own process; another guest forked from the same emulator on a Linux host; "
              "else EPERM (no ptrace rights)")
def sys_process_vm_readv(pid, lvec, liovcnt, rvec, riovcnt, flags):
    return _rw(pid, lvec, liovcnt, rvec, riovcnt, flags, False)


@syscall("process_vm_writev", "int, ptr, size, ptr, size, hex", level=PARTIAL,
         note="own process; another guest forked from the same emulator on a Linux host; "
              "else EPERM (no ptrace rights)")
def sys_process_vm_writev(pid, lvec, liovcnt, rvec, riovcnt, flags):
    return _rw(pid, lvec, liovcnt, rvec, riovcnt, flags, True)
