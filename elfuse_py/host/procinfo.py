"""The host's view of this process and the machine: what Linux keeps in /proc, macOS elsewhere.

One interface, a Linux implementation (the host's /proc) and a portable one
(macOS, and the macOS host model), chosen once: signal-ignore state the libc
hides, memory, uptime and load figures, the CPU count, the boot id, the
process count, the running CPU, the kernel release to report, ru_maxrss's
unit, and the task name that ps shows.

`HAS_PROC` says whether the host has a /proc of its own.  Without one (a Mac,
the macOS model) nothing here opens /proc or /sys: the portable answers come
from sysctl (macOS), os.sysconf, os.getloadavg and the clocks, and the guest's
/proc is synthesised entirely by the runtime (elfuse_py/runtime/procfs.py).
"""
from __future__ import annotations

import os
import struct
import time

from elfuse_py.host import platform

_libc_handle = None
# The inode number of the initial pid namespace (the kernel's PROC_PID_INIT_INO).
_PROC_PID_INIT_INO = 0xEFFFFFFC


def _libc():
    """The C library through ctypes, loaded on first use (ctypes costs ~1.5 ms of start-up)."""
    global _libc_handle
    if _libc_handle is None:
        import ctypes
        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def _sysctl(name: str, size: int = 64) -> bytes | None:
    """sysctlbyname(name) where the libc has it (macOS, the BSDs); None elsewhere or on error."""
    fn = getattr(_libc(), "sysctlbyname", None)
    if fn is None:
        return None
    import ctypes
    buf = ctypes.create_string_buffer(size)
    n = ctypes.c_size_t(size)
    if fn(name.encode(), buf, ctypes.byref(n), None, ctypes.c_size_t(0)) != 0:
        return None
    return buf.raw[:n.value]


def _sysctl_int(name: str) -> int | None:
    raw = _sysctl(name, 8)
    if raw is None or len(raw) not in (4, 8):
        return None
    return int.from_bytes(raw, "little")


def _sysconf(name: str) -> int | None:
    try:
        v = os.sysconf(name)
    except (ValueError, OSError):
        return None
    return v if v > 0 else None


def _clock() -> float:
    """Seconds since boot: macOS's kern.boottime, else the best clock there is.

    (CLOCK_BOOTTIME is Linux's and hidden under the macOS model; a Linux host
    playing a Mac falls back to the monotonic clock, which the sysinfo
    syscall's uptime also uses, so the two agree.)
    """
    raw = _sysctl("kern.boottime", 16)
    if raw is not None and len(raw) >= 12:
        sec, usec = struct.unpack_from("<qi", raw)
        return max(time.time() - (sec + usec / 1e6), 0.0)
    clk = getattr(time, "CLOCK_BOOTTIME", None) or getattr(time, "CLOCK_UPTIME_RAW", None)
    return time.clock_gettime(clk) if clk is not None else time.monotonic()


def _clock_seconds() -> int:
    return int(_clock())


class _Portable:
    MAXRSS_SCALE = 1024          # macOS reports ru_maxrss in bytes; the guest wants KiB
    HAS_PROC = False

    @staticmethod
    def ignored_libc_signals() -> list[int]:
        return []

    @staticmethod
    def meminfo() -> dict[str, int]:
        """Memory figures in bytes, by /proc/meminfo's names, from what the host tells without /proc.

        macOS: hw.memsize, vm.page_free_count and vm.swapusage; elsewhere
        os.sysconf's physical and available pages (glibc answers those from
        the sysinfo syscall).  Only the keys known are present.
        """
        page = _sysconf("SC_PAGE_SIZE") or 4096
        out: dict[str, int] = {}
        total = _sysctl_int("hw.memsize")
        if total is None:
            pages = _sysconf("SC_PHYS_PAGES")
            total = pages * page if pages else None
        if total:
            out["MemTotal"] = total
        free = _sysctl_int("vm.page_free_count")
        free = free * page if free is not None else None
        if free is None:
            pages = _sysconf("SC_AVPHYS_PAGES")
            free = pages * page if pages else None
        if free is not None:
            out["MemFree"] = out["MemAvailable"] = free
        swap = _sysctl("vm.swapusage", 32)           # struct xsw_usage: total, avail, used (u64)
        if swap is not None and len(swap) >= 24:
            st, avail, _used = struct.unpack_from("<QQQ", swap)
            out["SwapTotal"], out["SwapFree"] = st, avail
        return out

    @staticmethod
    def uptime() -> int:
        return _clock_seconds()

    @staticmethod
    def uptime_exact() -> float:
        """Seconds since the host booted, with a fraction (/proc/uptime's first field)."""
        return _clock()

    @staticmethod
    def loadavg() -> tuple[float, float, float]:
        try:
            return os.getloadavg()           # macOS: vm.loadavg; glibc: the sysinfo syscall
        except OSError:
            return (0.0, 0.0, 0.0)

    @staticmethod
    def cpu_count() -> int:
        """CPUs this process may run on.

        os.cpu_count() asks sysctl on a Mac; glibc instead reads
        /sys/devices/system/cpu/online, so a Linux host playing a Mac counts
        the kernel's affinity mask through the libc call (no file) instead.
        """
        fn = getattr(_libc(), "sched_getaffinity", None)
        if fn is not None:
            import ctypes
            buf = ctypes.create_string_buffer(128)
            if fn(0, ctypes.c_size_t(len(buf)), buf) == 0:
                n = sum(bin(b).count("1") for b in buf.raw)
                if n:
                    return n
        return os.cpu_count() or 1

    @staticmethod
    def boot_id() -> str | None:
        """The host's id of this boot (macOS: kern.bootsessionuuid), or None if it has none."""
        raw = _sysctl("kern.bootsessionuuid", 64)
        if raw:
            return raw.split(b"\0", 1)[0].decode(errors="replace").lower() or None
        return None

    @staticmethod
    def pid_namespace() -> int | None:
        """An id of the host pid namespace this process is in, if it is not the
        host's first one (pids are then shared by nobody outside it); None
        otherwise, and where the host has no pid namespaces (macOS)."""
        return None

    @staticmethod
    def nprocs() -> int:
        return 1

    @staticmethod
    def current_cpu() -> int:
        return 0

    @staticmethod
    def kernel_release(u) -> tuple[str, str]:
        """(release, version) for uname: a plausible Linux one off Linux."""
        return "6.1.0", "#1 SMP PREEMPT_DYNAMIC"

    @staticmethod
    def set_comm(name: bytes) -> None:
        """No-op: macOS has no task name a process can set (p_comm is the executable's
        name, fixed by the kernel at exec; pthread_setname_np only names a thread for
        debuggers), so `ps -c` keeps showing the Python that runs the emulator.  The
        guest's own view (/proc/self/comm, PR_GET_NAME) follows the program anyway."""

    @staticmethod
    def publish_identity(argv: list[bytes], name: bytes) -> None:
        """No-op (macOS, and the macOS host model): `ps` there reads the argument area
        through sysctl KERN_PROCARGS2, which Python cannot reach without the undocumented
        _NSGetArgv layout, so it keeps showing the emulator's command line; the guest's
        /proc/PID/cmdline of any guest comes from the guest records (runtime/guests.py)."""


class _Linux(_Portable):
    MAXRSS_SCALE = 1
    HAS_PROC = True                       # checked once selected (below)

    @staticmethod
    def ignored_libc_signals() -> list[int]:
        """Signals 32 and 33 the emulator was started with ignored.

        Python's signal module cannot see them (the host libc keeps them for
        itself), but they are real kernel signals whose SIG_IGN is inherited
        across exec; on a Linux host the kernel's numbering is the guest's.
        """
        try:
            with open("/proc/self/status", "rb") as f:
                for line in f:
                    if line.startswith(b"SigIgn:"):
                        bits = int(line.split()[1], 16)
                        return [s for s in (32, 33) if bits >> (s - 1) & 1]
        except (OSError, ValueError, IndexError):
            pass
        return []

    @staticmethod
    def meminfo() -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            with open("/proc/meminfo", "rb") as f:
                for line in f:
                    k, _, rest = line.partition(b":")
                    parts = rest.split()
                    if parts:
                        out[k.decode()] = int(parts[0]) * 1024
        except OSError:
            pass
        return out

    @staticmethod
    def uptime() -> int:
        return int(_Linux.uptime_exact())

    @staticmethod
    def uptime_exact() -> float:
        try:
            with open("/proc/uptime", "rb") as f:
                return float(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return _clock()

    @staticmethod
    def cpu_count() -> int:
        return os.cpu_count() or 1

    @staticmethod
    def boot_id() -> str | None:
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as f:
                return f.read().strip().decode() or None
        except OSError:
            return None

    @staticmethod
    def pid_namespace() -> int | None:
        try:
            ino = os.stat("/proc/self/ns/pid").st_ino
        except OSError:
            return None
        return None if ino == _PROC_PID_INIT_INO else ino

    @staticmethod
    def nprocs() -> int:
        try:
            return sum(1 for n in os.listdir("/proc") if n.isdigit())
        except OSError:
            return 1

    @staticmethod
    def current_cpu() -> int:
        return max(_libc().sched_getcpu(), 0)

    @staticmethod
    def kernel_release(u) -> tuple[str, str]:
        return u.release, u.version

    @staticmethod
    def set_comm(name: bytes) -> None:
        """The host task name (what ps and killall see from outside)."""
        try:
            with open("/proc/self/comm", "wb", buffering=0) as f:
                f.write(name[:15])
        except OSError:
            pass

    @classmethod
    def publish_identity(cls, argv: list[bytes], name: bytes) -> None:
        """Show the guest's argv and task name in the host's /proc/PID.

        The argv strings are rewritten in place in the host process's own
        argument area (where /proc/PID/cmdline reads), cut to its size and
        padded with NULs; the interpreter keeps its own copies of its arguments.
        """
        if not HAS_PROC:
            return
        cls.set_comm(name)
        try:
            with open("/proc/self/stat", "rb") as f:
                data = f.read()
            fields = data[data.rindex(b")") + 2:].split()
            start, end = int(fields[45]), int(fields[46])       # arg_start, arg_end (fields 48, 49)
        except (OSError, ValueError, IndexError):
            return
        size = end - start
        if size <= 1 or not argv:
            return
        blob = b"".join(a + b"\0" for a in argv)[:size - 1]
        # cffi (already loaded for unicorn) rather than ctypes, which costs start-up.
        from elfuse_py.host.cdefs import load_ffi
        ffi = load_ffi("unicorn")
        ffi.memmove(ffi.cast("char *", start), blob.ljust(size, b"\0"), size)


# The host's /proc is Linux's; a Mac (and the macOS host model) has none.
INFO = _Linux if platform.IS_LINUX and platform.MODEL == "linux" else _Portable
MAXRSS_SCALE = INFO.MAXRSS_SCALE
HAS_PROC = INFO.HAS_PROC and os.path.isdir("/proc/self/fd")
ignored_libc_signals = INFO.ignored_libc_signals
meminfo = INFO.meminfo
uptime = INFO.uptime
uptime_exact = INFO.uptime_exact
loadavg = INFO.loadavg
cpu_count = INFO.cpu_count
boot_id = INFO.boot_id
pid_namespace = INFO.pid_namespace
nprocs = INFO.nprocs
current_cpu = INFO.current_cpu
kernel_release = INFO.kernel_release
set_comm = INFO.set_comm
publish_identity = INFO.publish_identity


def pid_exists(pid: int) -> bool:
    """Is there a process `pid` (a zombie, or one of another user, included)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True              # EPERM: it exists under another uid
    return True

