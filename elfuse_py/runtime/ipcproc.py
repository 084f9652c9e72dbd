"""/proc/sysvipc/{shm,sem,msg}: the emulator tree's SysV IPC objects in Linux's format.

The lines are those of ipc/shm.c, sem.c and msg.c (sysvipc_*_proc_show,
64-bit widths), so `ipcs` reads them; the objects come from the tree's
registry (runtime/ipctree.py).  A tree where no object was ever made shows
the headers only.
"""
from __future__ import annotations

from elfuse_py.runtime import ipctree

SHM_HEADER = ("       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid"
              "  cgid      atime      dtime      ctime                   rss                  swap\n")
SEM_HEADER = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n"
MSG_HEADER = ("       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid"
              "      stime      rtime      ctime\n")
_PAGE = 4096


def _objects(kind: str) -> list[tuple[int, dict]]:
    if not ipctree.state_exists():
        return []
    try:
        with ipctree.locked() as st:
            return sorted(st[kind].items(), key=lambda kv: kv[0] & 0x7FFF)
    except OSError:
        return []


def shm_text() -> bytes:
    out = [SHM_HEADER]
    for i, s in _objects("shm"):
        pages = (s["segsz"] + _PAGE - 1) // _PAGE
        out.append(f"{s['key']:10d} {i:10d}  {s['mode']:4o} {s['segsz']:21d} {s['cpid']:5d} "
                   f"{s['lpid']:5d}  {ipctree.nattch(s):5d} {s['uid']:5d} {s['gid']:5d} "
                   f"{s['cuid']:5d} {s['cgid']:5d} {s['atime']:10d} {s['dtime']:10d} "
                   f"{s['ctime']:10d} {pages * _PAGE:21d} {0:21d}\n")
    return "".join(out).encode()


def sem_text() -> bytes:
    out = [SEM_HEADER]
    for i, s in _objects("sem"):
        out.append(f"{s['key']:10d} {i:10d}  {s['mode']:4o} {s['nsems']:10d} {s['uid']:5d} "
                   f"{s['gid']:5d} {s['cuid']:5d} {s['cgid']:5d} {s['otime']:10d} "
                   f"{s['ctime']:10d}\n")
    return "".join(out).encode()


def msg_text() -> bytes:
    out = [MSG_HEADER]
    for i, q in _objects("msg"):
        out.append(f"{q['key']:10d} {i:10d}  {q['mode']:4o}  {q['cbytes']:10d} "
                   f"{len(q['msgs']):10d} {q['lspid']:5d} {q['lrpid']:5d} {q['uid']:5d} "
                   f"{q['gid']:5d} {q['cuid']:5d} {q['cgid']:5d} {q['stime']:10d} "
                   f"{q['rtime']:10d} {q['ctime']:10d}\n")
    return "".join(out).encode()
