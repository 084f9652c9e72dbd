"""The host's view of this process and the machine: what Linux keeps in /proc, macOS elsewhere.

One interface, a Linux implementation (the host's /proc) and a macOS one
(sysctl-free portable fallbacks), chosen once: signal-ignore state the libc
hides, memory and uptime figures, the process count, the running CPU, the
kernel release to report, ru_maxrss's unit, and the task name that ps shows.
"""
from __future__ import annotations

import ctypes
import os
import time

from elfuse_py.host import platform


def _clock_seconds() -> int:
    clk = getattr(time, "CLOCK_BOOTTIME", None) or getattr(time, "CLOCK_UPTIME_RAW", None)
    return int(time.clock_gettime(clk)) if clk is not None else int(time.monotonic())


class _Portable:
    MAXRSS_SCALE = 1024          # macOS reports ru_maxrss in bytes; the guest wants KiB
    HAS_PROC = False

    @staticmethod
    def ignored_libc_signals() -> list[int]:
        return []

    @staticmethod
    def meminfo() -> dict[str, int]:
        return {}

    @staticmethod
    def uptime() -> int:
        return _clock_seconds()

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
        pass

    @staticmethod
    def publish_identity(argv: list[bytes], name: bytes) -> None:
        pass


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
        try:
            with open("/proc/uptime", "rb") as f:
                return int(float(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            return _clock_seconds()

    @staticmethod
    def nprocs() -> int:
        try:
            return sum(1 for n in os.listdir("/proc") if n.isdigit())
        except OSError:
            return 1

    @staticmethod
    def current_cpu() -> int:
        return max(ctypes.CDLL(None).sched_getcpu(), 0)

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
        ctypes.memmove(start, blob.ljust(size, b"\0"), size)


# The host's /proc is Linux's; a Mac (and the macOS host model) has none.
INFO = _Linux if platform.IS_LINUX and platform.MODEL == "linux" else _Portable
MAXRSS_SCALE = INFO.MAXRSS_SCALE
HAS_PROC = INFO.HAS_PROC and os.path.isdir("/proc/self/fd")
ignored_libc_signals = INFO.ignored_libc_signals
meminfo = INFO.meminfo
uptime = INFO.uptime
nprocs = INFO.nprocs
current_cpu = INFO.current_cpu
kernel_release = INFO.kernel_release
set_comm = INFO.set_comm
publish_identity = INFO.publish_identity
