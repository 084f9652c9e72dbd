"""SysV shared memory: shmget, shmat, shmdt, shmctl.

A segment is a file in the emulator tree's directory (shm-<id>, sized to
whole host pages), mapped MAP_SHARED into the guest window of each process
that attaches it, so its bytes are really shared: with a fork child (the
host fork keeps the shared mapping), and between any guest processes of the
tree that attach the same id.  The registry (runtime/ipctree.py) counts
attachments per pid (shm_nattch); a segment removed with IPC_RMID while
attached is marked SHM_DEST, loses its key and goes (file and all) with its
last detach, exit or exec.  This process's own attachments (address ->
segment) are `ipctree.attached`, which fork copies and exec drops.

An attachment ends with shmdt, with munmap of its last page or a MAP_FIXED
mapping over it (syscalls/mem.py tells `unmapped`), at exit and at exec.  Not modelled:
SHM_HUGETLB (a normal segment), mremap of an attachment (it stays counted
at its old address), and swapping (shm_swp is 0, shm_rss counts every
page).
"""
from __future__ import annotations

import mmap as _mmap
import os
import struct
import time

from elfuse_py.host import procinfo
from elfuse_py.runtime import exectoken, ipctree, lerrno
from elfuse_py.runtime.memory import PAGE, WINDOW_SIZE
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls.ipc_common import (IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, PERM, S_IRUGO, S_IWUGO,
                                 S_IXUGO, by_index, ipcget, ipcperms, is_owner, make, max_idx,
                                 pack_perm, set_perm)
from elfuse_py.syscalls.table import PARTIAL, syscall

# Linux's defaults (include/uapi/linux/shm.h) and AArch64's SHMLBA (PAGE_SIZE).
SHMMIN, SHMMNI = 1, 4096
SHMMAX = SHMALL = 0xFFFFFFFFFFFFFFFF - (1 << 24)
SHMSEG = SHMMNI
SHMLBA = PAGE
SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
SHM_DEST, SHM_LOCKED = 0o1000, 0o2000
SHM_LOCK, SHM_UNLOCK, SHM_STAT, SHM_INFO, SHM_STAT_ANY = 11, 12, 13, 14, 15
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4

# struct shmid64_ds after its ipc64_perm: segsz, atime, dtime, ctime, cpid, lpid, nattch, 2 unused
SHMID_DS = struct.Struct("<QqqqiiQQQ")
SHMINFO = struct.Struct("<9Q")            # shmmax shmmin shmmni shmseg shmall + 4 unused
SHM_INFO_ST = struct.Struct("<i4x5Q")     # used_ids shm_tot shm_rss shm_swp swap_attempts/successes
HOST_PAGE = max(_mmap.PAGESIZE, PAGE)
_memory_limit: int | None = None


def _too_big(size: int) -> bool:
    """Linux accounts a segment's memory at shmget: under the default heuristic
    overcommit it refuses (ENOMEM) more pages than RAM and swap together."""
    global _memory_limit
    if _memory_limit is None:
        info = procinfo.meminfo()
        total = info.get("MemTotal", 0) + info.get("SwapTotal", 0)
        _memory_limit = min(total, WINDOW_SIZE // 2) if total else WINDOW_SIZE // 2
    return size > _memory_limit


def _host_size(size: int) -> int:
    return (size + HOST_PAGE - 1) // HOST_PAGE * HOST_PAGE


@syscall("shmget", "int, size, hex",
         note="objects shared by the emulator tree's guests (runtime/ipctree.py); SHM_HUGETLB makes a normal segment")
def sys_shmget(key, size, shmflg):
    key, flag = s32(key), shmflg & 0xFFFFFFFF

    def create() -> int:
        if size < SHMMIN or size > SHMMAX:
            return -lerrno.EINVAL
        if _too_big(size):
            return -lerrno.ENOMEM
        new = make(st, "shm", key, flag, SHMMNI, segsz=size, cpid=os.getpid(), lpid=0,
                   atime=0, dtime=0, att={})
        if new >= 0:
            fd = ipctree.open_file(f"shm-{new}", os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            try:
                os.ftruncate(fd, _host_size(size))
            finally:
                os.close(fd)
        return new

    def more_checks(seg: dict) -> int:
        return -lerrno.EINVAL if size > seg["segsz"] else 0
    with ipctree.locked() as st:
        return ipcget(st, "shm", key, flag, create, more_checks)


def _place(mem, shmaddr: int, size: int, flag: int) -> int:
    """Where to attach: the guest's (checked) address, or a free range; -errno."""
    if not shmaddr:
        if flag & SHM_REMAP:
            return -lerrno.EINVAL
        try:
            gap = mem.find_free(size + HOST_PAGE - PAGE)
        except MemoryError:
            return -lerrno.ENOMEM
        return (gap + HOST_PAGE - 1) // HOST_PAGE * HOST_PAGE
    if shmaddr & (SHMLBA - 1):
        if not flag & SHM_RND:
            return -lerrno.EINVAL
        shmaddr &= ~(SHMLBA - 1)
        if not shmaddr and flag & SHM_REMAP:
            return -lerrno.EINVAL
    if shmaddr + size > WINDOW_SIZE:
        return -lerrno.EINVAL if shmaddr + size >= 1 << 64 else -lerrno.ENOMEM
    if not flag & SHM_REMAP and not mem.is_free(shmaddr, size):
        return -lerrno.EINVAL
    if shmaddr % HOST_PAGE:
        return -lerrno.EINVAL             # coarse host pages (Apple silicon) cannot share it
    return shmaddr


@syscall("shmat", "int, ptr, hex", ret="hex", level=PARTIAL,
         note="a file in the tree's directory mapped MAP_SHARED; mremap of an attachment keeps it counted")
def sys_shmat(shmid, shmaddr, shmflg):
    shmid, flag = s32(shmid), shmflg & 0xFFFFFFFF
    if shmid < 0:
        return -lerrno.EINVAL
    if flag & SHM_RDONLY:
        prot, acc = PROT_READ, S_IRUGO
    else:
        prot, acc = PROT_READ | PROT_WRITE, S_IRUGO | S_IWUGO
    if flag & SHM_EXEC:
        prot |= PROT_EXEC
        acc |= S_IXUGO
    mem = proc.mem
    pid = os.getpid()
    if prot & PROT_WRITE:
        exectoken.join()             # shared memory other processes may write: serialise with them
    with ipctree.locked() as st:
        seg = st["shm"].get(shmid)
        if seg is None:
            return -lerrno.EINVAL
        if not ipcperms(seg, acc):
            return -lerrno.EACCES
        size = _host_size(seg["segsz"])
        where = _place(mem, shmaddr, size, flag)
        if where < 0:
            return where
        fd = ipctree.open_file(f"shm-{shmid}", os.O_RDONLY if flag & SHM_RDONLY else os.O_RDWR)
        try:
            if flag & SHM_REMAP and not mem.is_free(where, size):
                mem.unmap(where, size)
            mem.map(where, size, prot, f"/SYSV{seg['key'] & 0xFFFFFFFF:08x} (deleted)",
                    fd=fd, offset=0, shared=True)
        except (OSError, MemoryError):
            return -lerrno.ENOMEM
        finally:
            os.close(fd)
        seg["att"][pid] = seg["att"].get(pid, 0) + 1
        seg["atime"], seg["lpid"] = int(time.time()), pid
        st.dirty = True
        ipctree.attached[where] = (shmid, size)
        return where


@syscall("shmdt", "ptr", note="the segment goes with its last detach once IPC_RMID marked it")
def sys_shmdt(shmaddr):
    if shmaddr & (PAGE - 1):
        return -lerrno.EINVAL
    rec = ipctree.attached.pop(shmaddr, None)
    if rec is None:
        return -lerrno.EINVAL
    shmid, size = rec
    mem = proc.mem
    r = mem.region_at(shmaddr)
    gone = r is None or not r.file           # the guest unmapped it itself
    if not gone:
        mem.unmap(shmaddr, size)
    _detached(shmid)
    return -lerrno.EINVAL if gone else 0


def _detached(shmid: int) -> None:
    """This process has one attachment of `shmid` less (shmdt, or its range unmapped)."""
    pid = os.getpid()
    with ipctree.locked() as st:
        seg = st["shm"].get(shmid)
        if seg is not None and seg["att"].get(pid):
            seg["att"][pid] -= 1
            if not seg["att"][pid]:
                del seg["att"][pid]
            seg["dtime"], seg["lpid"] = int(time.time()), pid
            st.dirty = True
            ipctree.shm_check_destroy(st, shmid)


def unmapped(addr: int, size: int) -> None:
    """After munmap: an attachment none of whose pages is still mapped is detached,
    as Linux's last vma close of the segment does."""
    mem = proc.mem
    for start, (shmid, length) in list(ipctree.attached.items()):
        if start < addr + size and addr < start + length \
                and not any(r.file for r in mem.regions_in(start, length)):
            del ipctree.attached[start]
            _detached(shmid)


def _stat_bytes(seg: dict) -> bytes:
    return pack_perm(seg) + SHMID_DS.pack(seg["segsz"], seg["atime"], seg["dtime"], seg["ctime"],
                                          seg["cpid"], seg["lpid"], ipctree.nattch(seg), 0, 0)


def _info(st, cmd: int, buf: int) -> int:
    if cmd == IPC_INFO:
        data = SHMINFO.pack(SHMMAX, SHMMIN, SHMMNI, SHMSEG, SHMALL, 0, 0, 0, 0)
    else:
        pages = sum(_host_size(s["segsz"]) // PAGE for s in st["shm"].values())
        data = SHM_INFO_ST.pack(len(st["shm"]), pages, pages, 0, 0, 0)
    proc.mem.write(buf, data)
    return max_idx(st, "shm")


@syscall("shmctl", "int, int, ptr",
         note="IPC_STAT/SET/RMID/INFO, SHM_INFO/STAT/STAT_ANY/LOCK/UNLOCK; shm_rss counts every page")
def sys_shmctl(shmid, cmd, buf):
    shmid, cmd = s32(shmid), s32(cmd)
    if cmd < 0 or shmid < 0:
        return -lerrno.EINVAL
    mem = proc.mem
    raw = mem.read(buf, PERM.size) if cmd == IPC_SET else b""     # EFAULT before the lookup
    with ipctree.locked() as st:
        if cmd in (IPC_INFO, SHM_INFO):
            return _info(st, cmd, buf)
        if cmd in (SHM_STAT, SHM_STAT_ANY):
            found = by_index(st, "shm", shmid)
            if found is None:
                return -lerrno.EINVAL
            ident, seg = found
            if cmd == SHM_STAT and not ipcperms(seg, S_IRUGO):
                return -lerrno.EACCES
            mem.write(buf, _stat_bytes(seg))
            return ident
        seg = st["shm"].get(shmid)
        if seg is None:
            return -lerrno.EINVAL
        if cmd == IPC_STAT:
            if not ipcperms(seg, S_IRUGO):
                return -lerrno.EACCES
            mem.write(buf, _stat_bytes(seg))
            return 0
        if cmd in (IPC_SET, IPC_RMID):
            if not is_owner(seg):
                return -lerrno.EPERM
            st.dirty = True
            if cmd == IPC_SET:
                return set_perm(seg, raw)
            if ipctree.nattch(seg):
                seg["mode"] |= SHM_DEST
                seg["key"] = 0                # IPC_PRIVATE: no new shmget finds it
            else:
                ipctree.shm_destroy(st, shmid)
            return 0
        if cmd in (SHM_LOCK, SHM_UNLOCK):
            if os.geteuid() != 0 and os.geteuid() not in (seg["uid"], seg["cuid"]):
                return -lerrno.EPERM
            seg["mode"] = seg["mode"] | SHM_LOCKED if cmd == SHM_LOCK else seg["mode"] & ~SHM_LOCKED
            st.dirty = True
            return 0
        return -lerrno.EINVAL

