"""What the three SysV IPC areas share: keys and ids, permissions, ipc64_perm, waiting.

The objects and their registry live in the emulator tree's store
(elfuse_py/runtime/ipctree.py, which explains the design); this module does
for the handlers of syscalls/ipc_shm.py, ipc_sem.py and ipc_msg.py what
Linux's ipc/util.c does for the kernel's:

- `ipcget`: the key lookup of shmget/semget/msgget (IPC_PRIVATE, IPC_CREAT,
  IPC_EXCL, the kind's extra check, then the permission check), in Linux's
  order of errors;
- `alloc_id`: ids as Linux makes them, (seq << 15) + idx, the index taken
  cyclically below max(in_use * 3/2, 64) and the sequence bumped on wrap;
- `ipcperms` (mode bits against the caller's euid/egid/groups; root passes)
  and the owner check of IPC_SET/IPC_RMID (EPERM);
- struct ipc64_perm as AArch64 lays it out, and IPC_SET's update of it;
- `wait_change`: how a blocked semop/msgsnd/msgrcv waits for another
  process to change the state: it polls the state file's fingerprint with a
  short, growing sleep, which a guest signal interrupts (-EINTR; these calls
  are never restarted, signal(7)); with several guest threads the thread is
  parked instead and the call re-run (syscalls/parking.py).
"""
from __future__ import annotations

import os
import struct
import time

from elfuse_py.runtime import ipctree, lerrno, signals, threads
from elfuse_py.runtime.ipctree import State

IPC_PRIVATE = 0
IPC_CREAT, IPC_EXCL, IPC_NOWAIT = 0o1000, 0o2000, 0o4000
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
S_IRUGO, S_IWUGO, S_IXUGO, S_IRWXUGO = 0o444, 0o222, 0o111, 0o777
IPCMNI_SHIFT = 15
IPCID_SEQ_MAX = (2 ** 31 - 1) >> IPCMNI_SHIFT
IPC_MIN_CYCLE = 64

# struct ipc64_perm: key, uid, gid, cuid, cgid, mode, seq, __pad2, 2 x __unused
PERM = struct.Struct("<iIIIIIHH4xQQ")
TIMESPEC = struct.Struct("<qq")
NSEC = 1_000_000_000
POLL_MIN, POLL_MAX = 0.0002, 0.01     # seconds between looks at the state while blocked
RECHECK = 0.05                         # re-read the state at least this often
PARKED_RECHECK = 0.25                  # ... and a parked thread's call re-run this often


def creds() -> tuple[int, int, set[int]]:
    egid = os.getegid()
    try:
        groups = set(os.getgroups())
    except OSError:
        groups = set()
    groups.add(egid)
    return os.geteuid(), egid, groups


def ipcperms(obj: dict, flag: int) -> bool:
    """True if the caller may access `obj` as the rwx bits of `flag` ask (ipc/util.c ipcperms)."""
    uid, _gid, groups = creds()
    requested = (flag >> 6 | flag >> 3 | flag) & 7
    granted = obj["mode"]
    if uid in (obj["uid"], obj["cuid"]):
        granted >>= 6
    elif obj["gid"] in groups or obj["cgid"] in groups:
        granted >>= 3
    return not (requested & ~granted & 7) or uid == 0


def is_owner(obj: dict) -> bool:
    """IPC_SET/IPC_RMID: the creator, the owner or root (CAP_SYS_ADMIN)."""
    uid = os.geteuid()
    return uid in (obj["uid"], obj["cuid"]) or uid == 0


def new_perm(key: int, flag: int) -> dict:
    uid, gid, _ = creds()
    return {"key": key, "uid": uid, "gid": gid, "cuid": uid, "cgid": gid,
            "mode": flag & S_IRWXUGO, "seq": 0}


def pack_perm(obj: dict) -> bytes:
    return PERM.pack(obj["key"], obj["uid"], obj["gid"], obj["cuid"], obj["cgid"], obj["mode"],
                     obj["seq"] & 0xFFFF, 0, 0, 0)


def set_perm(obj: dict, raw: bytes) -> int:
    """IPC_SET's update of uid, gid and the rwx bits from a guest ipc64_perm; -EINVAL for uid/gid -1."""
    _key, uid, gid, _cuid, _cgid, mode, *_ = PERM.unpack_from(raw)
    if uid == 0xFFFFFFFF or gid == 0xFFFFFFFF:
        return -lerrno.EINVAL
    obj["uid"], obj["gid"] = uid, gid
    obj["mode"] = (obj["mode"] & ~S_IRWXUGO) | (mode & S_IRWXUGO)
    obj["ctime"] = int(time.time())
    return 0


def alloc_id(st: State, kind: str, mni: int) -> int:
    """A new id of `kind` ((seq << 15) + idx, as ipc_idr_alloc), or -ENOSPC at the limit."""
    objs = st[kind]
    if len(objs) >= mni:
        return -lerrno.ENOSPC
    ids = st["ids"][kind]
    used = {i & ((1 << IPCMNI_SHIFT) - 1) for i in objs}
    max_idx = min(max(len(objs) * 3 // 2, IPC_MIN_CYCLE), mni)
    start = ids["next"] if ids["next"] < max_idx else 0
    idx = next((i for i in (*range(start, max_idx), *range(0, start)) if i not in used), None)
    if idx is None:
        return -lerrno.ENOSPC
    if idx <= ids["last"]:
        ids["seq"] = ids["seq"] + 1 if ids["seq"] + 1 < IPCID_SEQ_MAX else 0
    ids["last"], ids["next"] = idx, idx + 1
    st.dirty = True
    return (ids["seq"] << IPCMNI_SHIFT) + idx


def ipcget(st: State, kind: str, key: int, flag: int, create, more_checks=None) -> int:
    """shmget/semget/msgget's lookup (ipcget_public): an id, or -errno."""
    if key == IPC_PRIVATE:
        return create()
    found = next((i for i, o in st[kind].items() if o["key"] == key), None)
    if found is None:
        if not flag & IPC_CREAT:
            return -lerrno.ENOENT
        return create()
    if flag & IPC_CREAT and flag & IPC_EXCL:
        return -lerrno.EEXIST
    obj = st[kind][found]
    if more_checks is not None:
        err = more_checks(obj)
        if err:
            return err
    if not ipcperms(obj, flag):
        return -lerrno.EACCES
    return found


def make(st: State, kind: str, key: int, flag: int, mni: int, **fields) -> int:
    """Create an object of `kind` with its permission part and `fields`; its id or -ENOSPC."""
    new = alloc_id(st, kind, mni)
    if new < 0:
        return new
    obj = new_perm(key, flag)
    obj["seq"] = new >> IPCMNI_SHIFT
    obj["ctime"] = int(time.time())
    obj.update(fields)
    st[kind][new] = obj
    return new


def max_idx(st: State, kind: str) -> int:
    """ipc_get_maxidx as IPC_INFO/*_INFO return it (0 when there is none)."""
    return max((i & ((1 << IPCMNI_SHIFT) - 1) for i in st[kind]), default=0)


def by_index(st: State, kind: str, idx: int) -> tuple[int, dict] | None:
    """*_STAT: the object at index `idx` (not an id), with its id."""
    for i, o in st[kind].items():
        if i & ((1 << IPCMNI_SHIFT) - 1) == idx:
            return i, o
    return None


def timeout_deadline(mem, addr: int) -> int | None:
    """A relative struct timespec as a CLOCK_MONOTONIC deadline (ns); ValueError if invalid."""
    if not addr:
        return None
    sec, nsec = mem.unpack(TIMESPEC, addr)
    if sec < 0 or not 0 <= nsec < NSEC:
        raise ValueError
    return time.monotonic_ns() + sec * NSEC + nsec


PARKED = object()      # wait_change's answer when the thread was parked: the handler returns None


def wait_change(seen, deadline: int | None, orig_x0: int, cleanup=None, on_timeout=None):
    """Block until the state may have changed: None to look again, or the call's result:
    -EAGAIN at `deadline`, -EINTR for a guest signal.  With several guest threads the
    thread is parked instead (PARKED: the handler returns None, the call is re-run
    once the state changed; `cleanup` runs when that wait ends)."""
    if threads.multi():
        r = threads.wait_fds({}, deadline, orig_x0,
                             on_timeout=on_timeout or (lambda: -lerrno.EAGAIN),
                             check=_changed_since(seen), cleanup=cleanup)
        return PARKED if r is None else r
    poll = POLL_MIN
    started = time.monotonic()
    while True:
        if signals.interrupt_pending():
            return -lerrno.EINTR
        step = poll
        if deadline is not None:
            left = (deadline - time.monotonic_ns()) / NSEC
            if left <= 0:
                return -lerrno.EAGAIN
            step = min(step, left)
        time.sleep(step)                   # a guest signal: InterruptedError -> -EINTR
        poll = min(poll * 1.5, POLL_MAX)
        if ipctree.version() != seen or time.monotonic() - started > RECHECK:
            return None


def _changed_since(seen):
    # The fingerprint may miss a change (an inode reused within one timestamp
    # tick): a parked call is re-run every PARKED_RECHECK anyway.
    until = time.monotonic() + PARKED_RECHECK
    return lambda: ipctree.version() != seen or time.monotonic() >= until


signals.register_interruptible(wait_change)
