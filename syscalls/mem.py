"""Memory syscalls: brk, mmap, munmap, mprotect, madvise, mremap, msync, mlock*.

Everything goes through GuestMemory (elfuse_py/memory.py), which keeps the
region list and the unicorn mappings in step with host pages.  Guest flag
values are Linux AArch64 ones and are decoded here by meaning; only GuestMemory
talks to the host's mmap.
"""
from __future__ import annotations

import os
import stat

from elfuse_py.runtime import exectoken, ipctree, lerrno
from elfuse_py.runtime.memory import (HOST_MS_ASYNC, HOST_MS_INVALIDATE, HOST_MS_SYNC, MAX_MAP_COUNT, PAGE,
                                      WINDOW_SIZE, page_up)
from elfuse_py.runtime.process import LINUX_RLIM_INFINITY, RLIMIT_AS, proc

from elfuse_py.syscalls import ipc_shm
from elfuse_py.syscalls.args import s32, s64
from elfuse_py.syscalls.seals import F_SEAL_FUTURE_WRITE, F_SEAL_WRITE, seals_of
from elfuse_py.syscalls.table import PARTIAL, syscall

# <asm-generic/mman-common.h>, <linux/mman.h> (AArch64 uses the generic values)
PROT_READ, PROT_WRITE, PROT_EXEC, PROT_SEM = 1, 2, 4, 8
PROT_BTI, PROT_MTE = 0x10, 0x20                 # arm64-specific
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000
PROT_KNOWN = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_BTI | PROT_GROWSDOWN | PROT_GROWSUP

MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE = 1, 2, 3, 0xF
MAP_FIXED, MAP_ANONYMOUS = 0x10, 0x20
MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED = 0x100, 0x800, 0x1000, 0x2000
MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK, MAP_STACK = 0x4000, 0x8000, 0x10000, 0x20000
MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE = 0x40000, 0x80000, 0x100000
MAP_UNINITIALIZED = 0x4000000
# Flags MAP_SHARED_VALIDATE accepts (the kernel's LEGACY_MAP_MASK plus MAP_SYNC).
_VALIDATE_OK = (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE
                | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED
                | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB
                | MAP_FIXED_NOREPLACE)

MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4

MADV_DONTNEED = 4
MADV_FREE = 8
# Every advice value Linux 6.x knows; only DONTNEED changes what the guest sees.
MADV_KNOWN = frozenset({0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                        22, 23, 24, 25, 100, 101})

# Linux refuses fixed mappings below vm.mmap_min_addr (64 KiB by default).
MMAP_MIN_ADDR = 0x10000

_ACCMODE = os.O_RDONLY | os.O_WRONLY | os.O_RDWR
_DEV_ZERO_RDEV: int | None = None


def _is_dev_zero(st: os.stat_result) -> bool:
    global _DEV_ZERO_RDEV
    if _DEV_ZERO_RDEV is None:
        try:
            _DEV_ZERO_RDEV = os.stat("/dev/zero").st_rdev
        except OSError:
            _DEV_ZERO_RDEV = -1
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == _DEV_ZERO_RDEV


# ----- limits (Linux's may_expand_vm and map_count checks) ---------------------------


def _no_room(extra: int) -> bool:
    """True if `extra` more bytes of mappings would pass RLIMIT_AS (kept by the emulator)."""
    soft = proc.rlimit(RLIMIT_AS)[0]
    return soft != LINUX_RLIM_INFINITY and proc.mem.total + extra > soft


def _too_many(addr: int, end: int) -> bool:
    """An mprotect of [addr, end) would split a region at vm.max_map_count (split_vma)."""
    mem = proc.mem
    return mem.map_count() >= MAX_MAP_COUNT and mem.splits(addr, end) > 0


def _hole_at_limit(addr: int, end: int) -> bool:
    """A munmap of [addr, end) would cut a hole in one region at vm.max_map_count
    (Linux lets a munmap that only trims a region pass: it frees resources)."""
    mem = proc.mem
    if mem.map_count() < MAX_MAP_COUNT:
        return False
    r = mem.region_at(addr)
    return r is not None and r.start < addr and end < r.end


# ----- brk ---------------------------------------------------------------------------


@syscall("brk", "ptr", ret="hex")
def sys_brk(addr):
    """Linux semantics: the new break on success, the unchanged break on failure."""
    mem = proc.mem
    cur = mem.brk_cur
    if addr < mem.brk_start or addr >= WINDOW_SIZE:
        return cur
    old_top, new_top = page_up(cur), page_up(addr)
    if new_top > old_top:
        if not mem.is_free(old_top, new_top - old_top) or _no_room(new_top - old_top) \
                or mem.map_count() > MAX_MAP_COUNT:
            return cur
        try:
            mem.map(old_top, new_top - old_top, PROT_READ | PROT_WRITE, "[heap]")
        except (OSError, MemoryError):
            return cur
    elif new_top < old_top:
        mem.unmap(new_top, old_top - new_top)
    mem.brk_cur = addr
    return addr


# ----- mmap / munmap ---------------------------------------------------------------


def _fd_name(fd: int) -> str:
    """What /proc/self/maps shows for a file mapping: the file's path if known."""
    try:
        return proc.fds.path_of(fd)
    except OSError:
        return ""


@syscall("mmap", "ptr, size, mmap_prot, mmap_flags, fd, off", level=PARTIAL, ret="hex",
         note="MAP_SHARED file/anonymous mappings need host pages of 4 KiB; "
              "file pages past EOF read as zeros instead of raising SIGBUS")
def sys_mmap(addr, length, prot, flags, fd, offset):
    try:
        return _mmap(addr, length, prot, flags, fd, offset)
    except MemoryError:          # unicorn could not take one more mapping
        return -lerrno.ENOMEM


def _mmap(addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    flags &= 0xFFFFFFFF
    prot &= 0xFFFFFFFF
    fd = s32(fd)
    offset = s64(offset)
    if offset & (PAGE - 1) or offset < 0:
        return -lerrno.EINVAL
    anon = bool(flags & MAP_ANONYMOUS)
    if not anon and not proc.fds.valid(fd):
        return -lerrno.EBADF
    if length == 0:
        return -lerrno.EINVAL
    size = page_up(length)
    if size > WINDOW_SIZE:
        return -lerrno.ENOMEM
    mtype = flags & MAP_TYPE
    if mtype == MAP_SHARED_VALIDATE:
        if flags & ~_VALIDATE_OK:
            return -lerrno.EOPNOTSUPP
        mtype = MAP_SHARED
    elif mtype not in (MAP_SHARED, MAP_PRIVATE):
        return -lerrno.EINVAL
    if prot & ~PROT_KNOWN:
        return -lerrno.EINVAL
    if flags & MAP_HUGETLB:
        return -lerrno.EINVAL if not anon else -lerrno.ENOMEM  # no huge pages configured
    shared = mtype == MAP_SHARED
    fixed = bool(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
    if fixed and addr & (PAGE - 1):
        return -lerrno.EINVAL
    if proc.mem.map_count() > MAX_MAP_COUNT:
        return -lerrno.ENOMEM           # do_mmap(): "Too many mappings?"

    mem = proc.mem
    name = ""
    file_size = 0
    if not anon:
        try:
            st = os.fstat(fd)
        except OSError as e:
            return -lerrno.to_linux(e.errno)
        import fcntl
        try:
            acc = fcntl.fcntl(fd, fcntl.F_GETFL) & _ACCMODE
        except OSError as e:
            return -lerrno.to_linux(e.errno)
        if acc == os.O_WRONLY:
            return -lerrno.EACCES
        if shared and prot & PROT_WRITE and acc != os.O_RDWR:
            return -lerrno.EACCES
        sealed = seals_of(fd)
        if shared and prot & PROT_WRITE and sealed is not None \
                and sealed.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
            return -lerrno.EPERM
        if _is_dev_zero(st):
            anon = True               # /dev/zero maps as anonymous memory
        elif not stat.S_ISREG(st.st_mode):
            return -lerrno.ENODEV
        else:
            name = _fd_name(fd)
            file_size = st.st_size

    # Where: MAP_FIXED replaces, MAP_FIXED_NOREPLACE must find it free, else a hint.
    if fixed:
        if addr < MMAP_MIN_ADDR and (addr < PAGE or os.geteuid() != 0):
            # Below vm.mmap_min_addr only CAP_SYS_RAWIO may map; page 0 never here.
            return -lerrno.EPERM
        if addr + size > WINDOW_SIZE:
            return -lerrno.ENOMEM
        if not mem.is_free(addr, size):
            if flags & MAP_FIXED_NOREPLACE:
                return -lerrno.EEXIST
            if _no_room(size - mem.mapped_bytes(addr, size)) or _hole_at_limit(addr, addr + size):
                return -lerrno.ENOMEM
            mem.unmap(addr, size)
            if ipctree.attached:
                ipc_shm.unmapped(addr, size)  # a SysV attachment replaced: detached
        elif _no_room(size):
            return -lerrno.ENOMEM
        where = addr
    else:
        if _no_room(size):
            return -lerrno.ENOMEM
        hint = addr if MMAP_MIN_ADDR <= addr < WINDOW_SIZE else 0
        try:
            where = mem.find_free(size, hint)
        except MemoryError:
            return -lerrno.ENOMEM
    gprot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC)

    if shared and gprot & PROT_WRITE:
        exectoken.join()             # writable memory another process may share: serialise with it
    if anon:
        mem.map(where, size, gprot, name, shared=shared, noreserve=bool(flags & MAP_NORESERVE))
        return where
    if shared:
        # The host maps the file itself, so writes reach the file and other mappers.
        mem.map(where, size, gprot, name, fd=fd, offset=offset, shared=True)
        return where
    # Private file mapping: a private copy of the file's pages, zeros past EOF.
    mem.map(where, size, gprot, name, offset=offset)
    want = max(0, min(size, file_size - offset))
    done = 0
    view = mem.window[where:where + want]
    try:
        while done < want:
            n = os.preadv(fd, [view[done:]], offset + done)
            if n <= 0:
                break
            done += n
    except OSError as e:
        mem.unmap(where, size)
        return -lerrno.to_linux(e.errno)
    return where


@syscall("munmap", "ptr, size")
def sys_munmap(addr, length):
    if addr & (PAGE - 1) or length == 0:
        return -lerrno.EINVAL
    size = page_up(length)
    if addr + size > WINDOW_SIZE:
        # Beyond our window nothing is mapped; Linux fails only past TASK_SIZE.
        if addr >= 1 << 48 or addr + size > 1 << 48:
            return -lerrno.EINVAL
        size = max(0, WINDOW_SIZE - addr)
        if size == 0:
            return 0
    if _hole_at_limit(addr, addr + size):
        return -lerrno.ENOMEM
    proc.mem.unmap(addr, size)
    if ipctree.attached:
        ipc_shm.unmapped(addr, size)          # a SysV segment's last piece: shm_nattch drops
    return 0


@syscall("mprotect", "ptr, size, mmap_prot")
def sys_mprotect(addr, length, prot):
    prot &= 0xFFFFFFFF
    if addr & (PAGE - 1) or prot & ~PROT_KNOWN:
        return -lerrno.EINVAL
    if prot & PROT_GROWSDOWN and prot & PROT_GROWSUP:
        return -lerrno.EINVAL
    if length == 0:
        return 0
    size = page_up(length)
    if addr + size > WINDOW_SIZE or not proc.mem.mapped(addr, size) or _too_many(addr, addr + size):
        return -lerrno.ENOMEM
    if prot & PROT_WRITE and not exectoken.member and any(r.shared for r in proc.mem.regions_in(addr, size)):
        exectoken.join()             # a shared mapping made writable (see sys_mmap)
    proc.mem.protect(addr, size, prot & (PROT_READ | PROT_WRITE | PROT_EXEC))
    return 0


@syscall("madvise", "ptr, size, int")
def sys_madvise(addr, length, advice):
    advice = s32(advice)
    if addr & (PAGE - 1) or advice not in MADV_KNOWN:
        return -lerrno.EINVAL
    if length == 0:
        return 0
    size = page_up(length)
    mem = proc.mem
    if addr + size > WINDOW_SIZE:
        return -lerrno.ENOMEM
    if advice == MADV_FREE and any(r.shared or _file_backed(r) for r in mem.regions_in(addr, size)):
        return -lerrno.EINVAL           # madvise_free_single_vma: anonymous private memory only
    if advice == MADV_DONTNEED:
        # Linux: private anonymous pages read back as zeros afterwards.
        mem.zero(addr, size)
    # Like Linux, advice is applied to what is mapped and ENOMEM reports holes.
    return 0 if mem.mapped(addr, size) else -lerrno.ENOMEM


def _file_backed(r) -> bool:
    """A mapping of a file (named by its path), not anonymous memory ("" or [heap], [stack], [anon:...])."""
    return bool(r.name) and not r.name.startswith("[")


@syscall("mremap", "ptr, size, size, hex, ptr", level=PARTIAL, ret="hex",
         note="MREMAP_DONTUNMAP unsupported (EINVAL); a grown private file mapping "
              "is zero-filled past the old end")
def sys_mremap(old, old_size, new_size, flags, new_addr):
    flags &= 0xFFFFFFFF
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) or old & (PAGE - 1):
        return -lerrno.EINVAL
    if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
        return -lerrno.EINVAL
    if flags & MREMAP_DONTUNMAP:
        return -lerrno.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0 or old_size == 0:
        return -lerrno.EINVAL
    mem = proc.mem
    if old + old_size > WINDOW_SIZE or new_size > WINDOW_SIZE:
        return -lerrno.EFAULT if old + old_size > WINDOW_SIZE else -lerrno.ENOMEM
    # The old range must be one mapping (Linux: one VMA), else EFAULT.
    parts = mem.regions_in(old, old_size)
    if not mem.mapped(old, old_size) or any(
            (r.shared, r.file, r.name) != (parts[0].shared, parts[0].file, parts[0].name)
            for r in parts):
        return -lerrno.EFAULT
    if flags & MREMAP_FIXED:
        if new_addr & (PAGE - 1) or new_addr < MMAP_MIN_ADDR:
            return -lerrno.EINVAL
        if new_addr + new_size > WINDOW_SIZE:
            return -lerrno.ENOMEM
        if new_addr < old + old_size and old < new_addr + new_size:
            return -lerrno.EINVAL
        mem.unmap(new_addr, new_size)
        mem.move(old, old_size, new_addr, new_size)
        return new_addr
    if new_size <= old_size:
        if new_size < old_size:
            mem.unmap(old + new_size, old_size - new_size)
        return old
    if _no_room(new_size - old_size):
        return -lerrno.ENOMEM
    if mem.is_free(old + old_size, new_size - old_size):
        mem.grow(old, old_size, new_size)
        return old
    if not flags & MREMAP_MAYMOVE:
        return -lerrno.ENOMEM
    try:
        where = mem.find_free(new_size)
    except MemoryError:
        return -lerrno.ENOMEM
    mem.move(old, old_size, where, new_size)
    return where


@syscall("msync", "ptr, size, hex")
def sys_msync(addr, length, flags):
    flags &= 0xFFFFFFFF
    if addr & (PAGE - 1) or flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC):
        return -lerrno.EINVAL
    if flags & MS_ASYNC and flags & MS_SYNC:
        return -lerrno.EINVAL
    size = page_up(length)
    if size == 0:
        return 0
    mem = proc.mem
    if addr + size > WINDOW_SIZE or not mem.mapped(addr, size):
        return -lerrno.ENOMEM
    host = ((HOST_MS_SYNC if flags & MS_SYNC else HOST_MS_ASYNC)
            | (HOST_MS_INVALIDATE if flags & MS_INVALIDATE else 0))
    mem.sync(addr, size, host)
    return 0


def _lock_range(addr: int, length: int) -> int:
    # Locking is accepted without pinning host memory; it only checks the range.
    start = addr & ~(PAGE - 1)
    size = page_up(addr + length) - start
    if size == 0:
        return 0
    if start + size > WINDOW_SIZE or not proc.mem.mapped(start, size):
        return -lerrno.ENOMEM
    return 0


@syscall("mlock", "ptr, size", level=PARTIAL, note="accepted; host pages are not pinned")
def sys_mlock(addr, length):
    return _lock_range(addr, length)


@syscall("mlock2", "ptr, size, hex", level=PARTIAL, note="accepted; host pages are not pinned")
def sys_mlock2(addr, length, flags):
    if flags & ~1:                     # MLOCK_ONFAULT
        return -lerrno.EINVAL
    return _lock_range(addr, length)


@syscall("munlock", "ptr, size")
def sys_munlock(addr, length):
    return _lock_range(addr, length)


@syscall("mlockall", "hex", level=PARTIAL, note="accepted; host pages are not pinned")
def sys_mlockall(flags):
    flags &= 0xFFFFFFFF
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        return -lerrno.EINVAL
    return 0


@syscall("munlockall")
def sys_munlockall():
    return 0


# ----- residency ------------------------------------------------------

@syscall("mincore", "ptr, size, ptr", level=PARTIAL,
         note="every mapped page is reported resident (the host's residency is not asked)")
def sys_mincore(addr, length, vec):
    if addr & (PAGE - 1):
        return -lerrno.EINVAL
    if addr + length > WINDOW_SIZE or addr + length < addr:
        return -lerrno.ENOMEM
    pages = (length + PAGE - 1) // PAGE
    if not pages:
        return 0
    proc.mem.check(vec, pages, 2)          # PROT_WRITE: EFAULT for a bad vector first
    if not proc.mem.mapped(addr, pages * PAGE):
        return -lerrno.ENOMEM
    proc.mem.write(vec, b"\x01" * pages)
    return 0
