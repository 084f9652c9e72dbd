"""SysV message queues: msgget, msgsnd, msgrcv, msgctl.

A queue lives in the emulator tree's registry (runtime/ipctree.py): its
messages (type, bytes) in order, byte count, limit (msg_qbytes) and the
pids and times of the last send and receive.  msgsnd waits while the
message does not fit (msg_fits_inqueue: bytes and count below msg_qbytes),
msgrcv while no message matches; both wait for another process to change
the state (ipc_common.wait_change), and end with EIDRM when the queue is
removed meanwhile, EINTR on a guest signal.  msgrcv selects as Linux's
find_msg: type 0 the first message, > 0 the first of that type (MSG_EXCEPT:
of another type), < 0 the lowest type up to |type|; a message longer than
the buffer is E2BIG and stays unless MSG_NOERROR truncates it; MSG_COPY
(with IPC_NOWAIT) copies the message at that position.
"""
from __future__ import annotations

import os
import struct
import time

from elfuse_py.runtime import ipctree, lerrno
from elfuse_py.runtime.process import proc

from elfuse_py.syscalls.args import s32, s64
from elfuse_py.syscalls.ipc_common import (IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, PERM, S_IRUGO,
                                 S_IWUGO, by_index, ipcget, ipcperms, is_owner, make, max_idx,
                                 PARKED, pack_perm, set_perm, wait_change)
from elfuse_py.syscalls.table import syscall

# Linux's defaults (include/uapi/linux/msg.h).
MSGMNI, MSGMAX, MSGMNB = 32000, 8192, 16384
MSGPOOL = MSGMNI * MSGMNB // 1024
MSGTQL = MSGMAP = MSGMNB
MSGSSZ = 16
MSGSEG = min((MSGPOOL * 1024) // MSGSSZ, 0xFFFF)
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
MSG_NOERROR, MSG_EXCEPT, MSG_COPY = 0o10000, 0o20000, 0o40000
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

# struct msqid64_ds after ipc64_perm: stime rtime ctime cbytes qnum qbytes lspid lrpid 2 unused
MSQID_DS = struct.Struct("<qqqQQQiiQQ")
MSGINFO = struct.Struct("<7iH2x")
_MTYPE = struct.Struct("<q")


@syscall("msgget", "int, hex", note="objects shared by the emulator tree's guests (runtime/ipctree.py)")
def sys_msgget(key, msgflg):
    key, flag = s32(key), msgflg & 0xFFFFFFFF

    def create() -> int:
        return make(st, "msg", key, flag, MSGMNI, msgs=[], cbytes=0, qbytes=MSGMNB,
                    lspid=0, lrpid=0, stime=0, rtime=0)
    with ipctree.locked() as st:
        return ipcget(st, "msg", key, flag, create)


@syscall("msgsnd", "int, ptr, size, hex", interruptible=True, restart=False,
         note="a blocked call re-checks the registry every <= 10 ms")
def sys_msgsnd(msqid, msgp, msgsz, msgflg):
    mem = proc.mem
    mtype = s64(mem.u64(msgp))
    msqid, size, flag = s32(msqid), s64(msgsz), msgflg & 0xFFFFFFFF
    if size > MSGMAX or size < 0 or msqid < 0:
        return -lerrno.EINVAL
    if mtype < 1:
        return -lerrno.EINVAL
    text = mem.read(msgp + 8, size)
    waited = False
    while True:
        with ipctree.locked() as st:
            q = st["msg"].get(msqid)
            if q is None:
                return -lerrno.EIDRM if waited else -lerrno.EINVAL
            if not ipcperms(q, S_IWUGO):
                return -lerrno.EACCES
            if size + q["cbytes"] <= q["qbytes"] and len(q["msgs"]) + 1 <= q["qbytes"]:
                q["msgs"].append((mtype, text))
                q["cbytes"] += size
                q["lspid"], q["stime"] = os.getpid(), int(time.time())
                st.dirty = True
                return 0
            if flag & IPC_NOWAIT:
                return -lerrno.EAGAIN
        waited = True
        r = wait_change(ipctree.version(), None, msqid)
        if r is PARKED:
            return None                       # re-run when the queue changed
        if r is not None:
            return r


def _find(msgs: list, typ: int, flag: int) -> int | None:
    """The index of the message msgrcv takes (find_msg), or None."""
    if typ == 0:
        return 0 if msgs else None
    if typ > 0:
        if flag & MSG_EXCEPT:
            return next((i for i, m in enumerate(msgs) if m[0] != typ), None)
        return next((i for i, m in enumerate(msgs) if m[0] == typ), None)
    limit = LONG_MAX if typ == LONG_MIN else -typ
    best = None
    for i, m in enumerate(msgs):
        if m[0] <= limit and (best is None or m[0] < msgs[best][0]):
            best = i
    return best


@syscall("msgrcv", "int, ptr, size, long, hex", interruptible=True, restart=False,
         note="type 0/>0/<0, MSG_EXCEPT, MSG_NOERROR, MSG_COPY; blocked calls re-check every <= 10 ms")
def sys_msgrcv(msqid, msgp, msgsz, msgtyp, msgflg):
    msqid, size, typ, flag = s32(msqid), s64(msgsz), s64(msgtyp), msgflg & 0xFFFFFFFF
    if msqid < 0 or size < 0:
        return -lerrno.EINVAL
    if flag & MSG_COPY and (flag & MSG_EXCEPT or not flag & IPC_NOWAIT):
        return -lerrno.EINVAL
    mem = proc.mem
    waited = False
    while True:
        with ipctree.locked() as st:
            q = st["msg"].get(msqid)
            if q is None:
                return -lerrno.EIDRM if waited else -lerrno.EINVAL
            if not ipcperms(q, S_IRUGO):
                return -lerrno.EACCES
            msgs = q["msgs"]
            if flag & MSG_COPY:
                i = typ if 0 <= typ < len(msgs) else None
            else:
                i = _find(msgs, typ, flag)
            if i is not None:
                mtype, text = msgs[i]
                if size < len(text) and not flag & MSG_NOERROR:
                    return -lerrno.E2BIG
                n = min(size, len(text))
                mem.write(msgp, _MTYPE.pack(mtype) + text[:n])    # EFAULT: the message stays
                if not flag & MSG_COPY:
                    del msgs[i]
                    q["cbytes"] -= len(text)
                    q["lrpid"], q["rtime"] = os.getpid(), int(time.time())
                    st.dirty = True
                return n
            if flag & IPC_NOWAIT:
                return -lerrno.ENOMSG
        waited = True
        r = wait_change(ipctree.version(), None, msqid)
        if r is PARKED:
            return None                       # re-run when the queue changed
        if r is not None:
            return r


def _stat_bytes(q: dict) -> bytes:
    return pack_perm(q) + MSQID_DS.pack(q["stime"], q["rtime"], q["ctime"], q["cbytes"],
                                        len(q["msgs"]), q["qbytes"], q["lspid"], q["lrpid"], 0, 0)


def _info(st, cmd: int, buf: int) -> int:
    if cmd == IPC_INFO:
        pool, mmap, tql = MSGPOOL, MSGMAP, MSGTQL
    else:
        qs = st["msg"].values()
        pool, mmap, tql = len(qs), sum(len(q["msgs"]) for q in qs), sum(q["cbytes"] for q in qs)
    proc.mem.write(buf, MSGINFO.pack(pool, mmap, MSGMAX, MSGMNB, MSGMNI, MSGSSZ, tql, MSGSEG))
    return max_idx(st, "msg")


@syscall("msgctl", "int, int, ptr", note="IPC_STAT/SET (msg_qbytes)/RMID/INFO, MSG_INFO/STAT/STAT_ANY")
def sys_msgctl(msqid, cmd, buf):
    msqid, cmd = s32(msqid), s32(cmd)
    if msqid < 0 or cmd < 0:
        return -lerrno.EINVAL
    mem = proc.mem
    raw = mem.read(buf, PERM.size + MSQID_DS.size) if cmd == IPC_SET else b""
    with ipctree.locked() as st:
        if cmd in (IPC_INFO, MSG_INFO):
            return _info(st, cmd, buf)
        if cmd in (MSG_STAT, MSG_STAT_ANY):
            found = by_index(st, "msg", msqid)
            if found is None:
                return -lerrno.EINVAL
            ident, q = found
            if cmd == MSG_STAT and not ipcperms(q, S_IRUGO):
                return -lerrno.EACCES
            mem.write(buf, _stat_bytes(q))
            return ident
        if cmd not in (IPC_STAT, IPC_SET, IPC_RMID):
            return -lerrno.EINVAL
        q = st["msg"].get(msqid)
        if q is None:
            return -lerrno.EINVAL
        if cmd == IPC_STAT:
            if not ipcperms(q, S_IRUGO):
                return -lerrno.EACCES
            mem.write(buf, _stat_bytes(q))
            return 0
        if not is_owner(q):
            return -lerrno.EPERM
        if cmd == IPC_RMID:
            del st["msg"][msqid]
            st.dirty = True
            return 0
        qbytes = MSQID_DS.unpack_from(raw, PERM.size)[5]
        if qbytes > MSGMNB and os.geteuid() != 0:
            return -lerrno.EPERM              # raising it needs CAP_SYS_RESOURCE
        r = set_perm(q, raw)
        if r == 0:
            q["qbytes"] = qbytes
            st.dirty = True
        return r
