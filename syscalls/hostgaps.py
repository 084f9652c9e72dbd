"""What a host truly cannot provide: the facility, the errno the guest gets, one log line.

Most Linux facilities a host lacks are emulated (epoll, eventfd, timerfd,
signalfd, inotify, pidfd, memfd seals on macOS: docs/macos.md).  The few left
here have no honest emulation on that host; the guest gets the errno Linux
itself gives when the feature is missing (so libc and programs take their
fallback), and the emulator says so once per facility on its own diagnostic
stream (runtime/log.py), never on the guest's fd 2.

`docs/syscall_table.py` lists this table in docs/syscalls.md, so the
documentation is what the code does.  A handler on the gap's path returns
`missing(key)`.
"""
from __future__ import annotations

from elfuse_py.host import platform
from elfuse_py.runtime import lerrno, log


class HostGap:
    """One host gap.  syscalls: the guest's calls it concerns; hosts: where it is
    missing; what: what the host lacks; errno: the Linux errno the guest gets
    (Linux's own for the missing feature).  A plain class: `dataclasses` and
    `collections` (namedtuple) cost milliseconds of start-up."""

    __slots__ = ("syscalls", "hosts", "what", "errno")

    def __init__(self, syscalls: str, hosts: str, what: str, errno: str) -> None:
        self.syscalls, self.hosts, self.what, self.errno = syscalls, hosts, what, errno


GAPS: dict[str, HostGap] = {
    "copy_file_range": HostGap(
        "copy_file_range", "macOS",
        "no in-kernel file-to-file copy", "ENOSYS"),
    "sched_rr_get_interval": HostGap(
        "sched_rr_get_interval", "macOS",
        "no round-robin time slice to report", "ENOSYS"),
    "xattr": HostGap(
        "getxattr, setxattr, listxattr, removexattr and their l/f forms", "hosts without extended attributes",
        "no extended-attribute calls", "EOPNOTSUPP"),
    "O_TMPFILE": HostGap(
        "open, openat with O_TMPFILE", "macOS",
        "no unnamed files in a directory", "EOPNOTSUPP"),
}


def missing(key: str) -> int:
    """-errno for the gap `key`, logged once on the emulator's stream."""
    gap = GAPS[key]
    log.warn_once(f"hostgap:{key}", f"{gap.syscalls}: {gap.what} on this host "
                  f"({platform.MODEL}); the guest gets {gap.errno}")
    return -getattr(lerrno, gap.errno)
