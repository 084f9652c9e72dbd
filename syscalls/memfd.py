"""memfd_create: an anonymous file the guest can map, share and pass on.

Linux hosts give a real memfd (flags translated by name); elsewhere an
unlinked temporary file has the same file semantics, without sealing.
"""
from __future__ import annotations

import os
import tempfile

from elfuse_py.runtime import lerrno
from elfuse_py.runtime.process import proc

from syscalls.table import PARTIAL, syscall

MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB, MFD_NOEXEC_SEAL, MFD_EXEC = 1, 2, 4, 8, 0x10
_KNOWN = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
_HUGE_SHIFT_MASK = 0x3F << 26     # MFD_HUGE_* size bits, valid only with MFD_HUGETLB
MFD_NAME_MAX = 249                # NAME_MAX minus the "memfd:" prefix

_TO_HOST = [(MFD_CLOEXEC, "MFD_CLOEXEC"), (MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING")]


@syscall("memfd_create", "str, hex", level=PARTIAL,
         note="MFD_HUGETLB is EINVAL (no huge pages); non-Linux hosts: an unlinked temp file, no sealing")
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
    if hasattr(os, "memfd_create"):
        host = 0
        for bit, hname in _TO_HOST:
            if flags & bit and hasattr(os, hname):
                host |= getattr(os, hname)
        fd = os.memfd_create(os.fsdecode(label), host)
    else:
        fd, path = tempfile.mkstemp(prefix="elfuse-memfd-")
        os.unlink(path)
        os.set_inheritable(fd, not flags & MFD_CLOEXEC)
    if fd >= proc.fds.limit:
        os.close(fd)
        return -lerrno.EMFILE
    return fd
