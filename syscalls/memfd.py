"""memfd_create: an anonymous file the guest can map, share and pass on.

The host floor gives a real memfd on Linux; elsewhere an unlinked temporary
file has the same file semantics, without sealing (elfuse_py/host/memfiles.py).
"""
from __future__ import annotations

import os

from elfuse_py.host import memfiles
from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.seals import F_SEAL_SEAL, SealState
from elfuse_py.syscalls.table import PARTIAL, syscall

MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB, MFD_NOEXEC_SEAL, MFD_EXEC = 1, 2, 4, 8, 0x10
_KNOWN = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
_HUGE_SHIFT_MASK = 0x3F << 26     # MFD_HUGE_* size bits, valid only with MFD_HUGETLB
MFD_NAME_MAX = 249                # NAME_MAX minus the "memfd:" prefix


@syscall("memfd_create", "str, hex", level=PARTIAL,
         note="MFD_HUGETLB is EINVAL (no huge pages); non-Linux hosts: an unlinked temp file, seals kept by the emulator")
def sys_memfd_create(name, flags):
    flags &= 0xFFFFFFFF
    if flags & ~(_KNOWN | _HUGE_SHIFT_MASK) or (flags & _HUGE_SHIFT_MASK and not flags & MFD_HUGETLB):
        return -lerrno.EINVAL
    if flags & MFD_HUGETLB or (flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL):
        return -lerrno.EINVAL
    try:
        label = proc.mem.cstr(name, MFD_NAME_MAX + 1)
    except ValueError:
        return -lerrno.EINVAL
    fd = memfiles.anonymous(os.fsdecode(label), bool(flags & MFD_CLOEXEC), bool(flags & MFD_ALLOW_SEALING))
    if fd >= proc.fds.ceiling:
        os.close(fd)
        return -lerrno.EMFILE
    proc.fds.on_close(fd)
    if not memfiles.HAVE_SEALS:
        # Linux: a memfd made without MFD_ALLOW_SEALING starts sealed with F_SEAL_SEAL.
        proc.fds.set(fd, SealState(0 if flags & MFD_ALLOW_SEALING else F_SEAL_SEAL))
    return fd
