"""/proc as the guest expects it, synthesised from the emulator's state.

The host's /proc describes the Python process running the emulator; the guest
must instead see *its* program, mappings, argv and CPU.  This module owns:

- links: /proc/self/exe (the guest program, by its guest name),
  /proc/self/fd/N (the host's link, with the sysroot prefix taken off),
  /proc/self/cwd, /proc/self/root;
- synthesised read-only files: /proc/self/maps (from proc.mem.regions, in
  Linux's format), cmdline, environ, auxv, stat, status, limits, comm, and /proc/cpuinfo for an
  AArch64 CPU (features from proc.hwcap).  Each open gets a fresh snapshot in
  an anonymous file (memfd on Linux, an unlinked temp file elsewhere), so
  reads, seeks and fstat behave like a regular file;
- /proc/<own pid>/… and /proc/thread-self/… mean /proc/self/…;
  /proc/self/fd/ lists the guest's fds (the host's list on Linux, /dev/fd on
  hosts without /proc).

The other direction (the host's /proc/PID showing the guest's name and argv
to ps, killall and pidof) is the host floor's `procinfo.publish_identity`.

The composition root installs this module into `paths` as the special-file
provider (`paths.install_special_files`).
"""
from __future__ import annotations

import errno
import os

from elfuse_py.host import fs as hostfs
from elfuse_py.host import memfiles
from elfuse_py.runtime import paths, signals
from elfuse_py.runtime.process import proc

# Linux open flags (the guest's), as numbers: only these matter here.
_O_ACCMODE, _O_CREAT, _O_TRUNC, _O_DIRECTORY, _O_CLOEXEC = 3, 0o100, 0o1000, 0o40000, 0o2000000

_HAVE_PROC = hostfs.HAS_FD_DIR
_HOST_FD_DIR = "/proc/self/fd" if _HAVE_PROC else "/dev/fd"

# arch/arm64/kernel/cpuinfo.c hwcap_str: AT_HWCAP bits 0.., then AT_HWCAP2 bits 0..
_HWCAP_NAMES = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm "
                "jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc "
                "flagm ssbs sb paca pacg").split()
_HWCAP2_NAMES = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm "
                 "svef32mm svef64mm svebf16 i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme "
                 "smei16i64 smef64f64 smei8i32 smef16f32 smeb16f32 smef32f32 smefa64 wfxt ebf16 "
                 "sveebf16").split()


def _proc():
    return proc


def _normalise(guest: bytes) -> bytes | None:
    """`guest` as b'self/…' (or b'cpuinfo' …) relative to /proc, for our own process; else None."""
    if not guest.startswith(b"/proc/"):
        return None
    rest = [p for p in guest[6:].split(b"/") if p and p != b"."]
    if not rest:
        return None
    head = rest[0]
    if head in (b"self", b"thread-self") or head == str(os.getpid()).encode():
        rest[0] = b"self"
    elif head.isdigit():
        return None          # another process: the host's view
    return b"/".join(rest)


# ----- links ------------------------------------------------------------------------------

def exe_guest_path() -> bytes:
    return os.fsencode(paths.guest_path(_proc().exe))


def readlink_special(guest: bytes) -> bytes | None:
    """Target of /proc/self/exe, /proc/self/fd/N, cwd, root as the guest sees them; else None."""
    rel = _normalise(guest)
    if rel is None or not rel.startswith(b"self/"):
        return None
    parts = rel.split(b"/")
    if parts == [b"self", b"exe"]:
        return exe_guest_path()
    if parts == [b"self", b"root"]:
        return b"/"
    if parts == [b"self", b"cwd"]:
        return os.fsencode(paths.guest_path(os.getcwd()))
    if len(parts) == 3 and parts[1] == b"fd" and parts[2].isdigit():
        fd = int(parts[2])
        if not _proc().fds.valid(fd):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        if not _HAVE_PROC:
            os.fstat(fd)                                   # EBADF -> ENOENT below
        target = proc.fds.path_of(fd)                      # ENOENT if not open
        return os.fsencode(paths.guest_path(target))
    return None


def proc_host_path(guest: bytes) -> str:
    """Host path for a /proc/… guest path: /proc/self/exe is the guest program itself."""
    rel = _normalise(guest)
    if rel == b"self/exe":
        return _proc().exe
    if rel is not None and rel.startswith(b"self/fd") and not _HAVE_PROC:
        return _HOST_FD_DIR + os.fsdecode(rel[7:])
    if rel is not None and rel.startswith(b"self") and _HAVE_PROC:
        return "/proc/" + os.fsdecode(rel)       # /proc/<own pid>/x -> /proc/self/x
    return os.fsdecode(guest)


# ----- synthesised files ----------------------------------------------------------------------

def maps_text() -> bytes:
    """/proc/self/maps for the guest's mappings, in Linux's show_map_vma() format."""
    mem = _proc().mem
    out = []
    inodes: dict[str, tuple[int, int]] = {}
    for r in mem.regions:
        perms = ("r" if r.prot & 1 else "-") + ("w" if r.prot & 2 else "-") + \
                ("x" if r.prot & 4 else "-") + ("s" if r.shared else "p")
        name = r.name
        dev, ino, offset = "00:00", 0, 0
        if name and not name.startswith("["):
            if name not in inodes:
                try:
                    st = os.stat(name)
                    inodes[name] = (st.st_dev, st.st_ino)
                except OSError:
                    inodes[name] = (0, 0)
            d, ino = inodes[name]
            dev = f"{os.major(d):02x}:{os.minor(d):02x}"
            offset = r.offset
            name = paths.guest_path(name)
        line = f"{r.start:08x}-{r.end:08x} {perms} {offset:08x} {dev} {ino}"
        if name:
            # seq_setwidth(25 + 6 * sizeof(void *) - 1) then seq_pad(' ')
            line = line.ljust(72) + " " + name
        out.append(line + "\n")
    return "".join(out).encode()


def _nul_list(items: list[bytes]) -> bytes:
    return b"".join(a + b"\0" for a in items)


def cpuinfo_text() -> bytes:
    hw1, hw2 = _proc().hwcap
    feats = [n for i, n in enumerate(_HWCAP_NAMES) if hw1 >> i & 1]
    feats += [n for i, n in enumerate(_HWCAP2_NAMES) if hw2 >> i & 1]
    cpus = os.cpu_count() or 1
    block = ("BogoMIPS\t: 50.00\n"
             f"Features\t: {' '.join(feats)}\n"
             "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
             "CPU part\t: 0xd0c\nCPU revision\t: 1\n\n")
    return "".join(f"processor\t: {i}\n{block}" for i in range(cpus)).encode()


def comm() -> bytes:
    """The task name: PR_SET_NAME's if the guest set one, else the program's basename."""
    return _proc().comm()


def _sig_masks() -> dict[str, int]:
    st = proc.sig
    ign = cgt = 0
    for sig in range(1, signals.NSIG + 1):
        h = st.actions[sig][0]
        if h == signals.SIG_IGN:
            ign |= signals.bit(sig)
        elif h != signals.SIG_DFL:
            cgt |= signals.bit(sig)
    try:
        import signal as hs
        host_pending = signals.linux_mask(hs.sigpending())
    except (AttributeError, OSError):
        host_pending = 0
    return {"SigPnd": 0, "ShdPnd": st.pending | host_pending, "SigBlk": st.mask,
            "SigIgn": ign, "SigCgt": cgt}


def status_text() -> bytes:
    """/proc/self/status: the host's, with the fields that describe the guest rewritten.

    Name (the task name), Umask, Threads and the signal masks are the guest's
    (the host's describe the Python process: its name, its watcher thread and
    its handlers); VmSize is the guest's mappings.  Without a host /proc the
    guest gets the identity and signal lines only.
    """
    proc = _proc()
    pid = os.getpid()
    ours = {"Name": comm().decode(errors="replace"), "Umask": f"{proc.umask:04o}",
            "Threads": "1",
            "VmSize": f"{sum(r.end - r.start for r in proc.mem.regions) // 1024:8d} kB"}
    ours.update({k: f"{v:016x}" for k, v in _sig_masks().items()})
    try:
        with open("/proc/self/status", "rb") as f:
            host = f.read().decode(errors="replace").splitlines()
    except OSError:
        uid, gid = os.getuid(), os.getgid()
        host = [f"Name:\t", "Umask:\t", "State:\tR (running)", f"Tgid:\t{pid}", f"Pid:\t{pid}",
                f"PPid:\t{os.getppid()}", f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}",
                f"Gid:\t{gid}\t{gid}\t{gid}\t{gid}", "Threads:\t"] + \
               [f"{k}:\t" for k in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")]
    out = []
    for line in host:
        key = line.split(":", 1)[0]
        out.append(f"{key}:\t{ours[key]}" if key in ours else line)
    return ("\n".join(out) + "\n").encode()


def stat_text() -> bytes:
    """/proc/self/stat: the fields programs read (pid, comm, state, ppid, pgrp, sid, vsize…)."""
    proc = _proc()
    pid = os.getpid()
    vsize = sum(r.end - r.start for r in proc.mem.regions)
    try:
        pgrp, sid = os.getpgrp(), os.getsid(0)
    except OSError:
        pgrp, sid = pid, pid
    t = os.times()
    tck = os.sysconf("SC_CLK_TCK")
    fields = [pid, f"({comm().decode(errors='replace')})", "R", os.getppid(), pgrp, sid, 0, -1, 0,
              0, 0, 0, 0, int(t.user * tck), int(t.system * tck), 0, 0, 20, 0, 1, 0, 0,
              vsize, 0, 2 ** 64 - 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0,
              0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    return (" ".join(str(f) for f in fields) + "\n").encode()


def limits_text() -> bytes:
    """/proc/self/limits: the host's, with "Max open files" as the guest's getrlimit sees it
    (the emulator raised the host's soft limit for its reserved fds)."""
    try:
        with open("/proc/self/limits", "rb") as f:
            lines = f.read().decode(errors="replace").splitlines(keepends=True)
    except OSError:
        return b""
    soft, hard = _proc().nofile()

    def show(v: int) -> str:
        return "unlimited" if v >= 1 << 63 else str(v)
    out = []
    for line in lines:
        if line.startswith("Max open files"):
            # fs/proc/base.c proc_pid_limits: "%-25s %-20s %-20s %-10s\n"
            line = f"{'Max open files':<25} {show(soft):<20} {show(hard):<20} {'files':<10}\n"
        out.append(line)
    return "".join(out).encode()


def _files() -> dict:
    proc = _proc()
    return {
        b"self/maps": maps_text,
        b"self/cmdline": lambda: _nul_list(proc.argv),
        b"self/environ": lambda: _nul_list(proc.envp),
        b"self/auxv": lambda: proc.auxv,
        b"self/stat": stat_text,
        b"self/comm": lambda: comm() + b"\n",
        b"self/status": status_text,
        b"self/limits": limits_text,
        b"cpuinfo": cpuinfo_text,
    }


def _anon_file(data: bytes, cloexec: bool) -> int:
    """A read-only fd on an anonymous regular file holding `data`, at offset 0."""
    fd = memfiles.snapshot(data)
    # Python opens fds close-on-exec; the guest asked for what it asked for.
    if not cloexec:
        os.set_inheritable(fd, True)
    return fd


def open_special(guest: bytes, flags: int, mode: int) -> int | None:
    """An fd for a synthesised /proc file, or None for paths the host serves.

    `flags` are Linux open flags.  Raises OSError (EACCES for writing, ENOTDIR
    for O_DIRECTORY) as Linux would for these read-only files.
    """
    rel = _normalise(guest)
    if rel is None:
        make = _other_cmdline(guest)
        if make is None:
            return None
        if flags & _O_ACCMODE or flags & (_O_CREAT | _O_TRUNC):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return _guest_fd(_anon_file(make, bool(flags & _O_CLOEXEC)))
    make = _files().get(rel)
    if make is None:
        return None
    if flags & _O_ACCMODE or flags & (_O_CREAT | _O_TRUNC):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    if flags & _O_DIRECTORY:
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
    return _guest_fd(_anon_file(make(), bool(flags & _O_CLOEXEC)))


def _guest_fd(fd: int) -> int:
    if not _proc().fds.valid(fd):
        os.close(fd)
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    return fd


def _other_cmdline(guest: bytes) -> bytes | None:
    """/proc/PID/cmdline of another process, when that process is an emulated
    guest: its argument area holds the guest argv padded with NULs (see
    publish_host_identity), which are cut back to the one a real one ends with."""
    parts = guest.split(b"/")
    if len(parts) != 4 or parts[1] != b"proc" or not parts[2].isdigit() or parts[3] != b"cmdline":
        return None
    try:
        with open(os.fsdecode(guest), "rb") as f:
            data = f.read()
    except OSError:
        return None                # the host's open gives the guest its errno
    if not data.endswith(b"\0\0"):
        return data
    return data.rstrip(b"\0") + b"\0"


