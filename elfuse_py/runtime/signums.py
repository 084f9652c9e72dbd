"""Linux signal numbers and their host counterparts, translated by name.

Linux AArch64 numbers are the guest's; the host's come from Python's signal
module by name (macOS numbers differ: SIGUSR1 is 30), and real-time signals
by their offset from the host's SIGRTMIN where the host has them.  Signal
sets are Linux masks (bit sig-1) on the guest side and sets of host numbers
on the host side.

A guest signal without a host counterpart (the real-time ones on macOS,
32/33, and SIGPWR, whose host number is the emulator's wake-up signal) still
exists between guests: runtime/siginbox.py carries it.
"""
from __future__ import annotations

from elfuse_py.host.hostsig import sig as hs     # (not `signal`: its enum costs start-up)

from elfuse_py.host.sigwait import WAKE_SIGNAL

NSIG = 64

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG",
    24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS",
}
SIGKILL, SIGSTOP = 9, 19
LINUX_SIGRTMIN = 34          # first RT signal a libc hands out (32/33 are libc-internal)


def _build_tables() -> tuple[dict, dict]:
    to_host, to_linux = {}, {}
    for num, name in SIGNAL_NAMES.items():
        h = getattr(hs, name, None)
        if h is not None and int(h) != WAKE_SIGNAL:     # the emulator's own (siginbox)
            to_host[num] = int(h)
            to_linux.setdefault(int(h), num)
    rtmin, rtmax = getattr(hs, "SIGRTMIN", None), getattr(hs, "SIGRTMAX", None)
    if rtmin is not None:
        for num in range(LINUX_SIGRTMIN, NSIG + 1):
            h = int(rtmin) + num - LINUX_SIGRTMIN
            if h > int(rtmax):
                break
            if h == WAKE_SIGNAL:
                continue
            to_host[num] = h
            to_linux[h] = num
    return to_host, to_linux


TO_HOST, TO_LINUX = _build_tables()


def to_host(sig: int) -> int | None:
    """Host signal number for Linux signal `sig` (None if the host has no such signal)."""
    return TO_HOST.get(sig)


def to_linux(hsig: int) -> int:
    """Linux signal number for host signal `hsig` (by name)."""
    return TO_LINUX.get(hsig, hsig)


def bit(sig: int) -> int:
    return 1 << (sig - 1)


UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP)
ALL = (1 << NSIG) - 1


def host_set(mask: int) -> set[int]:
    out = set()
    m = mask & ~UNBLOCKABLE
    while m:
        low = m & -m
        h = TO_HOST.get(low.bit_length())
        if h is not None:
            out.add(h)
        m ^= low
    return out


def linux_mask(hosts) -> int:
    m = 0
    for h in hosts:
        s = TO_LINUX.get(int(h))
        if s:
            m |= bit(s)
    return m
