"""The text of the guest's /proc files, made from the emulator's own state.

runtime/procfs.py decides which path is which file; this module writes
them, in the kernel's formats (fs/proc/array.c, base.c, task_mmu.c,
meminfo.c, stat.c, uptime.c, loadavg.c, version.c, net/unix/af_unix.c):

- per task (this guest, one of its threads): maps, status, stat, statm,
  limits, mounts, mountinfo, fdinfo/N, net/unix, cpuinfo;
- another live guest (its record from runtime/guests.py): status, stat;
- the machine: meminfo, uptime, loadavg, version, stat, filesystems and the
  /proc/sys values, from the host floor's portable answers (procinfo).

Nothing here reads the host's /proc.  What the syscall layer knows better
(Linux open flags for an fd, a socket's guest type and name) is handed in at
boot through `install_helpers`; the runtime never imports syscalls/.
"""
from __future__ import annotations

import fcntl
import os
import resource
import socket
import stat as _stat
import time

from elfuse_py.host import fs as hostfs
from elfuse_py.host import memory as hostmem
from elfuse_py.host import ids, procinfo
from elfuse_py.runtime import guests, paths, signals
from elfuse_py.runtime.process import proc
from elfuse_py.runtime.threadstate import WAIT

PAGE = 4096
CLK_TCK = os.sysconf("SC_CLK_TCK")
O_LARGEFILE, O_CLOEXEC = 0o400000, 0o2000000         # Linux AArch64 values
# Mount ids and devices of the mounts the guest is shown (mountinfo, fdinfo's mnt_id).
MNT_ROOT, MNT_PROC, MNT_SYS, MNT_DEV, MNT_PTS, MNT_ANON = 21, 22, 23, 24, 25, 15
PROC_DEV = os.makedev(0, 22)
# Linux's capability sets for root / others (41 capabilities in 6.1).
CAP_FULL = (1 << 41) - 1
PID_MAX = 4194304              # PID_MAX_LIMIT on 64-bit
SOMAXCONN = 4096
FILE_MAX = 9223372036854775807
UNAME_FALLBACK = ("6.1.0", "#1 SMP PREEMPT_DYNAMIC")

# arch/arm64/kernel/cpuinfo.c hwcap_str: AT_HWCAP bits 0.., then AT_HWCAP2 bits 0..
_HWCAP_NAMES = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm "
                "jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc "
                "flagm ssbs sb paca pacg").split()
_HWCAP2_NAMES = ("dcpodp sve2 sveaes svepmull svebitperm svesha3 svesm4 flagm2 frint svei8mm "
                 "svef32mm svef64mm svebf16 i8mm bf16 dgh rng bti mte ecv afp rpres mte3 sme "
                 "smei16i64 smef64f64 smei8i32 smef16f32 smeb16f32 smef32f32 smefa64 wfxt ebf16 "
                 "sveebf16").split()


# ----- what the syscall layer knows, installed at boot ---------------------------------------

class _Helpers:
    @staticmethod
    def open_flags_to_linux(host: int) -> int:
        return host

    @staticmethod
    def socket_type(state, htype: int) -> int:
        return htype

    @staticmethod
    def socket_name(host_path: bytes) -> bytes | None:
        return None


helpers = _Helpers


def install_helpers(*, open_flags_to_linux=None, socket_type=None, socket_name=None) -> None:
    """Hand in the syscall layer's translations (Linux open flags, a socket's guest type and name)."""
    for name, fn in (("open_flags_to_linux", open_flags_to_linux), ("socket_type", socket_type),
                     ("socket_name", socket_name)):
        if fn is not None:
            setattr(helpers, name, staticmethod(fn))


# ----- helpers ------------------------------------------------------------------------------

def _nul_list(items: list[bytes]) -> bytes:
    return b"".join(a + b"\0" for a in items)


def _hex_mask(n: int) -> str:
    """A cpumask as Linux's %*pb prints it for `n` CPUs: hex in comma-separated 32-bit groups."""
    digits = f"{(1 << n) - 1:x}".rjust((n + 3) // 4, "0")
    groups = []
    while digits:
        groups.insert(0, digits[-8:])
        digits = digits[:-8]
    return ",".join(groups)


def _cpu_list(n: int) -> str:
    return "0" if n == 1 else f"0-{n - 1}"


def uname() -> tuple[str, str, str]:
    """(nodename, release, version) as the guest's uname reports them."""
    u = os.uname()
    release, version = procinfo.kernel_release(u)
    return u.nodename, release, version


def tid_of_current() -> int:
    cur = proc.threads.current
    return cur.tid if cur is not None else os.getpid()


def thread_state(tid: int) -> str:
    """R or S for one of this process's threads (the reader's own is running)."""
    live = proc.threads.live
    if tid == tid_of_current() or not live:
        return "R"
    t = live.get(tid)
    return "S" if t is not None and t.state == WAIT else "R"


_STATE_NAMES = {"R": "R (running)", "S": "S (sleeping)", "Z": "Z (zombie)", "D": "D (disk sleep)",
                "T": "T (stopped)"}


# ----- memory -------------------------------------------------------------------------------

def vm_figures() -> dict[str, int]:
    """The guest's memory by /proc/PID/status's names, in bytes, from its regions.

    Residency is the host's (mincore over the guest window), so pages the
    guest never touched do not count.
    """
    mem = proc.mem
    exe = proc.exe
    out = dict.fromkeys(("VmSize", "VmRSS", "RssAnon", "RssFile", "VmData", "VmStk", "VmExe",
                         "VmLib"), 0)
    for r in mem.regions:
        size = r.end - r.start
        out["VmSize"] += size
        rss = hostmem.resident(mem.host_base + r.start, size)
        rss = size if rss is None else min(rss, size)
        out["VmRSS"] += rss
        named_file = bool(r.name) and not r.name.startswith("[")
        out["RssFile" if named_file and not r.prot & 2 else "RssAnon"] += rss
        if r.name == "[stack]":
            out["VmStk"] += size
        elif r.prot & 4 and named_file:
            out["VmExe" if r.name == exe else "VmLib"] += size
        elif r.prot & 2 and not r.shared:
            out["VmData"] += size
    return out


def _segment(prot_bit: int) -> tuple[int, int]:
    """Bounds of the program's regions with `prot_bit` (4: text, 2: data); (0, 0) if none."""
    spans = [(r.start, r.end) for r in proc.mem.regions if r.name == proc.exe and r.prot & prot_bit]
    if not spans:
        return 0, 0
    return min(s for s, _ in spans), max(e for _, e in spans)


def _arg_env_bounds() -> tuple[int, int, int, int]:
    """arg_start, arg_end, env_start, env_end: where the initial stack's strings are."""
    sp, mem = proc.start_stack, proc.mem
    if not sp:
        return 0, 0, 0, 0
    try:
        argc = mem.u64(sp)
        argv = [mem.u64(sp + 8 * (1 + i)) for i in range(argc)]
        envp = []
        p = sp + 8 * (argc + 2)
        while len(envp) < 65536:
            a = mem.u64(p)
            if not a:
                break
            envp.append(a)
            p += 8
        a0 = argv[0] if argv else 0
        a1 = argv[-1] + len(proc.argv[-1]) + 1 if argv and proc.argv else a0
        e0 = envp[0] if envp else a1
        e1 = envp[-1] + len(proc.envp[-1]) + 1 if envp and proc.envp else e0
        return a0, a1, e0, e1
    except Exception:  # noqa: BLE001 - the guest may have reused its stack
        return 0, 0, 0, 0


# ----- per-process files ----------------------------------------------------------------------

def maps_text() -> bytes:
    """/proc/self/maps for the guest's mappings, in Linux's show_map_vma() format."""
    mem = proc.mem
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


def cpuinfo_text() -> bytes:
    hw1, hw2 = proc.hwcap
    feats = [n for i, n in enumerate(_HWCAP_NAMES) if hw1 >> i & 1]
    feats += [n for i, n in enumerate(_HWCAP2_NAMES) if hw2 >> i & 1]
    cpus = procinfo.cpu_count()
    block = ("BogoMIPS\t: 50.00\n"
             f"Features\t: {' '.join(feats)}\n"
             "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
             "CPU part\t: 0xd0c\nCPU revision\t: 1\n\n")
    return "".join(f"processor\t: {i}\n{block}" for i in range(cpus)).encode()


def sig_masks(tid: int | None = None) -> dict[str, int]:
    """SigPnd/ShdPnd/SigBlk/SigIgn/SigCgt of thread `tid` (None: the process, as its leader)."""
    st = proc.sig
    T = proc.threads
    ign = cgt = 0
    for sig in range(1, signals.NSIG + 1):
        h = st.actions[sig][0]
        if h == signals.SIG_IGN:
            ign |= signals.bit(sig)
        elif h != signals.SIG_DFL:
            cgt |= signals.bit(sig)
    if procinfo.HAS_PROC:
        try:
            import signal as hs
            host_pending = signals.linux_mask(hs.sigpending())
        except (AttributeError, OSError):
            host_pending = 0
    else:
        host_pending = 0
    tid = os.getpid() if tid is None else tid
    t = T.live.get(tid)
    if tid == tid_of_current() or t is None:
        blocked, own = st.mask, T.directed
    else:
        blocked, own = t.mask, 0
        for s in tuple(t.sigpending):
            own |= signals.bit(s)
    return {"SigPnd": own, "ShdPnd": (st.pending & ~T.directed) | host_pending,
            "SigBlk": blocked, "SigIgn": ign, "SigCgt": cgt}


def _fd_size() -> int:
    fds = open_fds()
    top = max(fds) + 1 if fds else 0
    size = 64
    while size < top:
        size *= 2
    return size


def open_fds() -> list[int]:
    """The guest's open fds (below its limit: never the emulator's reserved ones)."""
    return hostfs.open_fds(proc.fds.limit)


# The keys of status that describe the guest, not the emulator's host process:
# on a host with /proc these replace the host's lines, which give the rest.
GUEST_STATUS_KEYS = frozenset((
    "Name", "Umask", "State", "Tgid", "Pid", "NStgid", "NSpid", "VmPeak", "VmSize", "VmHWM",
    "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData", "VmStk", "VmExe", "VmLib", "Threads",
    "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "NoNewPrivs"))


def status_lines(tid: int | None = None) -> list[tuple[str, str]]:
    """/proc/self/status (or task/TID/status) as (key, value) pairs, in Linux 6.1's order."""
    pid = os.getpid()
    me = tid if tid is not None else pid
    try:
        pgrp, sid = os.getpgrp(), os.getsid(0)
    except OSError:
        pgrp = sid = pid
    (uid, euid, suid), (gid, egid, sgid) = ids.getresuid(), ids.getresgid()
    groups = " ".join(str(g) for g in os.getgroups())
    vm = vm_figures()
    kb = {k: f"{v // 1024:8d} kB" for k, v in vm.items()}
    masks = sig_masks(tid)
    queued = max(proc.sig.queued, bin(masks["SigPnd"] | masks["ShdPnd"]).count("1"))
    sigq_limit = proc.rlimit(11)[0]
    ncpu = procinfo.cpu_count()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    caps = CAP_FULL if euid == 0 else 0
    leader = pid if tid is None else tid
    out = [
        ("Name", proc.comm().decode(errors="replace")), ("Umask", f"{proc.umask:04o}"),
        ("State", _STATE_NAMES[thread_state(leader)]), ("Tgid", str(pid)), ("Ngid", "0"),
        ("Pid", str(me)), ("PPid", str(os.getppid())), ("TracerPid", "0"),
        ("Uid", f"{uid}\t{euid}\t{suid}\t{euid}"), ("Gid", f"{gid}\t{egid}\t{sgid}\t{egid}"),
        ("FDSize", str(_fd_size())), ("Groups", groups + " "), ("NStgid", str(pid)),
        ("NSpid", str(me)), ("NSpgid", str(pgrp)), ("NSsid", str(sid)),
        ("VmPeak", kb["VmSize"]), ("VmSize", kb["VmSize"]), ("VmLck", f"{0:8d} kB"),
        ("VmPin", f"{0:8d} kB"), ("VmHWM", kb["VmRSS"]), ("VmRSS", kb["VmRSS"]),
        ("RssAnon", kb["RssAnon"]), ("RssFile", kb["RssFile"]), ("RssShmem", f"{0:8d} kB"),
        ("VmData", kb["VmData"]), ("VmStk", kb["VmStk"]), ("VmExe", kb["VmExe"]),
        ("VmLib", kb["VmLib"]), ("VmPTE", f"{0:8d} kB"), ("VmSwap", f"{0:8d} kB"),
        ("HugetlbPages", f"{0:8d} kB"), ("CoreDumping", "0"), ("THP_enabled", "1"),
        ("Threads", str(max(len(proc.threads.live), 1))), ("SigQ", f"{queued}/{sigq_limit}"),
    ]
    out += [(k, f"{v:016x}") for k, v in masks.items()]
    out += [
        ("CapInh", f"{0:016x}"), ("CapPrm", f"{caps:016x}"), ("CapEff", f"{caps:016x}"),
        ("CapBnd", f"{CAP_FULL:016x}"), ("CapAmb", f"{0:016x}"), ("NoNewPrivs", str(proc.task.no_new_privs)),
        ("Seccomp", "0"), ("Seccomp_filters", "0"),
        ("Speculation_Store_Bypass", "thread vulnerable"),
        ("SpeculationIndirectBranch", "conditional enabled"),
        ("Cpus_allowed", _hex_mask(ncpu)), ("Cpus_allowed_list", _cpu_list(ncpu)),
        ("Mems_allowed", "00000001"), ("Mems_allowed_list", "0"),
        ("voluntary_ctxt_switches", str(ru.ru_nvcsw)),
        ("nonvoluntary_ctxt_switches", str(ru.ru_nivcsw)),
    ]
    return out


def status_text(tid: int | None = None) -> bytes:
    """/proc/self/status.  On a host with /proc the host's lines give what belongs to the
    emulator's process as a whole (capabilities, seccomp, context switches...), and the
    guest's own lines (GUEST_STATUS_KEYS) replace theirs; without one, all are ours."""
    ours = status_lines(tid)
    if procinfo.HAS_PROC:
        try:
            with open("/proc/self/status", "rb") as f:
                host = f.read().decode(errors="replace").splitlines()
        except OSError:
            host = None
        if host:
            mine = {k: v for k, v in ours if k in GUEST_STATUS_KEYS}
            lines = []
            for line in host:
                key = line.split(":", 1)[0]
                lines.append(f"{key}:\t{mine[key]}" if key in mine else line)
            return ("\n".join(lines) + "\n").encode()
    return "".join(f"{k}:\t{v}\n" for k, v in ours).encode()


def stat_text(tid: int | None = None) -> bytes:
    """/proc/self/stat (or task/TID/stat): the 52 fields of fs/proc/array.c do_task_stat()."""
    pid = os.getpid()
    me = tid if tid is not None else pid
    vm = vm_figures()
    try:
        pgrp, sid = os.getpgrp(), os.getsid(0)
    except OSError:
        pgrp, sid = pid, pid
    t = os.times()
    own_times = tid is None or tid == pid
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ruc = resource.getrusage(resource.RUSAGE_CHILDREN)
    masks = sig_masks(tid)
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        nice = 0
    code, data = _segment(4), _segment(2)
    args = _arg_env_bounds()
    fields = [
        me, f"({proc.comm().decode(errors='replace')})", thread_state(me), os.getppid(), pgrp, sid,
        0, -1, 0x400000, ru.ru_minflt, ruc.ru_minflt, ru.ru_majflt, ruc.ru_majflt,
        int(t.user * CLK_TCK) if own_times else 0, int(t.system * CLK_TCK) if own_times else 0,
        int(t.children_user * CLK_TCK), int(t.children_system * CLK_TCK), 20 + nice, nice,
        max(len(proc.threads.live), 1), 0, int(guests.started * CLK_TCK), vm["VmSize"],
        vm["VmRSS"] // PAGE, proc.rlimit(5)[0], code[0], code[1], proc.start_stack, 0, 0,
        masks["SigPnd"] | masks["ShdPnd"], masks["SigBlk"], masks["SigIgn"], masks["SigCgt"],
        0, 0, 0, 17, procinfo.current_cpu(), 0, 0, 0, 0, 0, data[0], data[1],
        proc.mem.brk_start, *args, 0,
    ]
    return (" ".join(str(f) for f in fields) + "\n").encode()


def statm_text() -> bytes:
    """/proc/self/statm: size resident shared text lib data dt, in pages."""
    vm = vm_figures()
    pages = {k: v // PAGE for k, v in vm.items()}
    return (f"{pages['VmSize']} {pages['VmRSS']} {pages['RssFile']} {pages['VmExe']} 0 "
            f"{pages['VmData'] + pages['VmStk']} 0\n").encode()


_LIMITS = [("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
           ("Max stack size", "bytes"), ("Max core file size", "bytes"),
           ("Max resident set", "bytes"), ("Max processes", "processes"),
           ("Max open files", "files"), ("Max locked memory", "bytes"),
           ("Max address space", "bytes"), ("Max file locks", "locks"),
           ("Max pending signals", "signals"), ("Max msgqueue size", "bytes"),
           ("Max nice priority", ""), ("Max realtime priority", ""),
           ("Max realtime timeout", "us")]


def limits_text() -> bytes:
    """/proc/self/limits: the guest's getrlimit answers, in fs/proc/base.c proc_pid_limits' format."""
    def show(v: int) -> str:
        return f"{'unlimited':<20} " if v >= 1 << 63 else f"{v:<20} "

    out = [f"{'Limit':<25} {'Soft Limit':<20} {'Hard Limit':<20} {'Units':<10}\n"]
    for res, (name, unit) in enumerate(_LIMITS):
        soft, hard = proc.rlimit(res)
        out.append(f"{name:<25} " + show(soft) + show(hard) + (f"{unit:<10}\n" if unit else "\n"))
    return "".join(out).encode()


def _root_dev() -> str:
    try:
        d = os.stat(paths.sysroot or "/").st_dev
        return f"{os.major(d)}:{os.minor(d)}"
    except OSError:
        return "8:1"


def mounts_text() -> bytes:
    """/proc/self/mounts: a plausible Linux root (the host's real mounts are not Linux's)."""
    return ("/dev/root / ext4 rw,relatime 0 0\n"
            "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
            "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
            "udev /dev devtmpfs rw,nosuid,relatime,mode=755 0 0\n"
            "devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=000 0 0\n"
            ).encode()


def mountinfo_text() -> bytes:
    return (f"{MNT_ROOT} 1 {_root_dev()} / / rw,relatime shared:1 - ext4 /dev/root rw\n"
            f"{MNT_PROC} {MNT_ROOT} 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - "
            "proc proc rw\n"
            f"{MNT_SYS} {MNT_ROOT} 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - "
            "sysfs sysfs rw\n"
            f"{MNT_DEV} {MNT_ROOT} 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev "
            "rw,mode=755\n"
            f"{MNT_PTS} {MNT_DEV} 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts "
            "devpts rw,gid=5,mode=620,ptmxmode=000\n").encode()


def fdinfo_text(fd: int, proc_file: bool) -> bytes:
    """/proc/self/fdinfo/N: pos, flags (Linux's, with O_CLOEXEC and O_LARGEFILE), mnt_id, ino."""
    st = os.fstat(fd)
    try:
        pos = os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        pos = 0
    flags = helpers.open_flags_to_linux(fcntl.fcntl(fd, fcntl.F_GETFL)) | O_LARGEFILE
    if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
        flags |= O_CLOEXEC
    if proc_file:
        mnt = MNT_PROC
    elif _stat.S_ISREG(st.st_mode) or _stat.S_ISDIR(st.st_mode) or _stat.S_ISLNK(st.st_mode):
        mnt = MNT_ROOT
    elif _stat.S_ISCHR(st.st_mode) or _stat.S_ISBLK(st.st_mode):
        mnt = MNT_DEV
    else:
        mnt = MNT_ANON
    return f"pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt}\nino:\t{st.st_ino}\n".encode()


def net_unix_text() -> bytes:
    """/proc/net/unix: the header, then the guest's own AF_UNIX sockets (Linux lists the
    whole namespace's; others' are not known here)."""
    out = ["Num       RefCount Protocol Flags    Type St Inode Path\n"]
    for fd in open_fds():
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if not _stat.S_ISSOCK(st.st_mode):
            continue
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.family != socket.AF_UNIX:
                continue
            htype = s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
            listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            name = s.getsockname()
            try:
                s.getpeername()
                connected = True
            except OSError:
                connected = False
        except OSError:
            continue
        finally:
            s.close()
        gtype = helpers.socket_type(proc.fds.get(fd), htype)
        path = ""
        if isinstance(name, str):
            name = os.fsencode(name)
        if name:
            guest = getattr(proc.fds.get(fd), "name", None) or helpers.socket_name(name)
            if guest and len(guest) > 2:
                raw = guest[2:]
                path = "@" + raw[1:].replace(b"\0", b"@").decode(errors="replace") if raw[:1] == b"\0" \
                    else os.fsdecode(raw.split(b"\0", 1)[0])
            elif name[:1] == b"\0":
                path = "@" + name[1:].replace(b"\0", b"@").decode(errors="replace")
            else:
                path = paths.guest_path(os.fsdecode(name))
        flags = 0x10000 if listening else 0
        state = 3 if connected else 1
        line = f"{0:016x}: {2:08X} {0:08X} {flags:08X} {gtype:04X} {state:02X} {st.st_ino:5d}"
        out.append(line + (" " + path if path else "") + "\n")
    return "".join(out).encode()


# ----- another live guest (its record) -----------------------------------------------------------

def _other_ids(rec: dict) -> tuple[int, int, int]:
    pid = rec["pid"]
    try:
        pgrp, sid = os.getpgid(pid), os.getsid(pid)
    except OSError:
        pgrp, sid = rec.get("pgrp", pid), rec.get("sid", pid)
    ppid = rec.get("ppid", 1)
    if rec.get("state") != "Z":
        try:
            os.kill(ppid, 0)
        except ProcessLookupError:
            ppid = 1                             # reparented
        except OSError:
            pass
    return ppid, pgrp, sid


def other_status_text(rec: dict) -> bytes:
    ppid, pgrp, sid = _other_ids(rec)
    pid = rec["pid"]
    uid, euid, gid, egid = rec["uid"], rec["euid"], rec["gid"], rec["egid"]
    lines = [("Name", rec["comm"].decode(errors="replace")), ("Umask", f"{rec.get('umask', 0o22):04o}"),
             ("State", _STATE_NAMES.get(rec.get("state", "S"), "S (sleeping)")), ("Tgid", pid),
             ("Ngid", 0), ("Pid", pid), ("PPid", ppid), ("TracerPid", 0),
             ("Uid", f"{uid}\t{euid}\t{euid}\t{euid}"), ("Gid", f"{gid}\t{egid}\t{egid}\t{egid}"),
             ("FDSize", 64), ("Groups", " "), ("NStgid", pid), ("NSpid", pid), ("NSpgid", pgrp),
             ("NSsid", sid), ("Threads", rec.get("threads", 1)), ("SigQ", "0/0")]
    lines += [(k, f"{0:016x}") for k in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")]
    return "".join(f"{k}:\t{v}\n" for k, v in lines).encode()


def other_stat_text(rec: dict) -> bytes:
    ppid, pgrp, sid = _other_ids(rec)
    fields = [rec["pid"], f"({rec['comm'].decode(errors='replace')})", rec.get("state", "S"),
              ppid, pgrp, sid, 0, -1, 0x400000] + [0] * 8 + [20, 0, rec.get("threads", 1), 0,
                                                             int(rec.get("start", 0) * CLK_TCK)]
    fields += [0] * (52 - len(fields))
    fields[37] = 17                                 # exit_signal
    return (" ".join(str(f) for f in fields[:52]) + "\n").encode()


# ----- the machine ------------------------------------------------------------------------------

def meminfo_text() -> bytes:
    """/proc/meminfo from the host's portable figures (keys it cannot tell are 0)."""
    mi = procinfo.meminfo()
    total = mi.get("MemTotal") or 0
    free = mi.get("MemFree", 0)
    vals = {"MemTotal": total, "MemFree": free, "MemAvailable": mi.get("MemAvailable", free),
            "Buffers": mi.get("Buffers", 0), "Cached": mi.get("Cached", 0), "SwapCached": 0,
            "Active": 0, "Inactive": 0, "Active(anon)": 0, "Inactive(anon)": 0,
            "Active(file)": 0, "Inactive(file)": 0, "Unevictable": 0, "Mlocked": 0,
            "SwapTotal": mi.get("SwapTotal", 0), "SwapFree": mi.get("SwapFree", 0),
            "Zswap": 0, "Zswapped": 0, "Dirty": 0, "Writeback": 0, "AnonPages": 0, "Mapped": 0,
            "Shmem": mi.get("Shmem", 0), "KReclaimable": 0, "Slab": 0, "SReclaimable": 0,
            "SUnreclaim": 0, "KernelStack": 0, "PageTables": 0, "NFS_Unstable": 0, "Bounce": 0,
            "WritebackTmp": 0, "CommitLimit": total // 2 + mi.get("SwapTotal", 0),
            "Committed_AS": 0, "VmallocTotal": 133143592960, "VmallocUsed": 0,
            "VmallocChunk": 0, "Percpu": 0, "HardwareCorrupted": 0, "AnonHugePages": 0,
            "ShmemHugePages": 0, "ShmemPmdMapped": 0, "FileHugePages": 0, "FilePmdMapped": 0,
            "HugePages_Total": None, "HugePages_Free": None, "HugePages_Rsvd": None,
            "HugePages_Surp": None, "Hugepagesize": 2048 * 1024, "Hugetlb": 0}
    out = []
    for k, v in vals.items():
        if v is None:                           # HugePages_*: a count, not kB
            out.append(f"{k + ':':<16}{0:>8}\n")
        else:
            out.append(f"{k + ':':<16}{v // 1024:>8} kB\n")
    return "".join(out).encode()


def uptime_text() -> bytes:
    """/proc/uptime: seconds since boot and the idle time summed over CPUs (not known
    without the host's /proc: the time no guest CPU time was used, as an estimate)."""
    up = procinfo.uptime_exact()
    t = os.times()
    idle = max(up * procinfo.cpu_count() - (t.user + t.system), 0.0)
    return f"{up:.2f} {idle:.2f}\n".encode()


def _last_pid() -> int:
    return max([os.getpid()] + guests.live_pids())


def loadavg_text() -> bytes:
    l1, l5, l15 = procinfo.loadavg()
    n = max(procinfo.nprocs(), len(guests.live_pids()) + 1)
    return f"{l1:.2f} {l5:.2f} {l15:.2f} 1/{n} {_last_pid()}\n".encode()


def version_text() -> bytes:
    node, release, version = uname()
    return f"Linux version {release} (elfuse-py@{node}) (elfuse-py synthetic kernel) {version}\n".encode()


def stat_sys_text() -> bytes:
    """/proc/stat: the CPU lines (the machine idle since boot: its real CPU counters are
    not known without the host's /proc), btime and the process counts."""
    up = procinfo.uptime_exact()
    ncpu = procinfo.cpu_count()
    t = os.times()
    user = int((t.user + t.children_user) * CLK_TCK)
    system = int((t.system + t.children_system) * CLK_TCK)
    idle_each = int(up * CLK_TCK)
    total_idle = max(idle_each * ncpu - user - system, 0)
    lines = [f"cpu  {user} 0 {system} {total_idle} 0 0 0 0 0 0"]
    for i in range(ncpu):
        lines.append(f"cpu{i} {user if i == 0 else 0} 0 {system if i == 0 else 0} "
                     f"{max(idle_each - (user + system if i == 0 else 0), 0)} 0 0 0 0 0 0")
    lines += ["intr 0", "ctxt 0", f"btime {int(time.time() - up)}", f"processes {_last_pid()}",
              "procs_running 1", "procs_blocked 0", "softirq 0 0 0 0 0 0 0 0 0 0 0"]
    return ("\n".join(lines) + "\n").encode()


_FILESYSTEMS = ["nodev\tsysfs", "nodev\ttmpfs", "nodev\tbdev", "nodev\tproc", "nodev\tcgroup2",
                "nodev\tdevtmpfs", "nodev\tdebugfs", "nodev\tsockfs", "nodev\tpipefs",
                "nodev\tramfs", "nodev\tdevpts", "\text4", "\tvfat", "nodev\tfuse", "\tfuseblk",
                "nodev\toverlay"]


def filesystems_text() -> bytes:
    return ("\n".join(_FILESYSTEMS) + "\n").encode()


def sys_values() -> dict[str, object]:
    """/proc/sys files: path below /proc/sys -> value (callable or constant), one line each."""
    import uuid
    return {
        "kernel/ostype": "Linux",
        "kernel/osrelease": lambda: uname()[1],
        "kernel/version": lambda: uname()[2],
        "kernel/hostname": lambda: uname()[0],
        "kernel/domainname": "(none)",
        "kernel/pid_max": PID_MAX,
        "kernel/threads-max": 126741,
        "kernel/ngroups_max": 65536,
        "kernel/random/boot_id": guests.boot_id,
        "kernel/random/uuid": lambda: str(uuid.uuid4()),
        "kernel/random/entropy_avail": 256,
        "kernel/random/poolsize": 256,
        "kernel/yama/ptrace_scope": 1,
        "kernel/cap_last_cap": 40,
        # SysV IPC limits: Linux's defaults, which syscalls/ipc_*.py enforce.
        "kernel/shmmax": 18446744073692774399,
        "kernel/shmall": 18446744073692774399,
        "kernel/shmmni": 4096,
        "kernel/sem": "32000\t1024000000\t500\t32000",
        "kernel/msgmax": 8192,
        "kernel/msgmnb": 16384,
        "kernel/msgmni": 32000,
        "vm/overcommit_memory": 0,
        "vm/max_map_count": 65530,
        "fs/file-max": FILE_MAX,
        "fs/nr_open": 1048576,
        "fs/pipe-max-size": 1048576,
        "net/core/somaxconn": SOMAXCONN,
    }
