"""The macOS host model on Linux (ELFUSE_HOST_COMPAT=darwin): make leftover Linux use fail loudly.

CI cannot run a Mac, so a Linux host plays one.  `platform` applies this
module once, first thing at start-up, before any other module of the
emulator looks at the host:

1. **Names macOS's Python lacks are hidden** from the standard modules
   (`select.epoll`, `os.eventfd`, `os.memfd_create`, `os.pidfd_open`,
   `os.pipe2`, `os.getxattr`, `signal.SIGRTMIN`, `signal.sigtimedwait`,
   `socket.SOCK_CLOEXEC`, `socket.SO_PEERCRED`, `time.CLOCK_BOOTTIME`…),
   so every capability probe by name takes the branch a Mac takes.
2. **Host syscalls macOS lacks are refused with ENOSYS** by a seccomp filter
   on the emulator process (and its children): epoll_*, eventfd, timerfd_*,
   signalfd, inotify_*, memfd_create, pidfd_*, splice/tee/vmsplice,
   copy_file_range, and real-time signals sent with kill/tkill/tgkill/
   rt_(tg)sigqueueinfo.  Signals 32 and 33 stay allowed through tkill/tgkill:
   they are the host glibc's own (thread cancellation, setxid broadcast), not
   the emulator's.  A Linux call left behind in the emulator then fails in
   CI, as it would on the user's Mac.

The lists follow what macOS provides (XNU has none of these calls; CPython's
documentation marks the names "Availability: Linux").  Nothing here is used
on a real Mac or on a plain Linux host.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform as _pyplatform
import struct
import sys

# ----- 1. names ------------------------------------------------------------------------

HIDDEN = {
    "os": [
        "eventfd", "eventfd_read", "eventfd_write", "EFD_CLOEXEC", "EFD_NONBLOCK", "EFD_SEMAPHORE",
        "memfd_create", "MFD_CLOEXEC", "MFD_ALLOW_SEALING", "MFD_HUGETLB",
        "pidfd_open", "P_PIDFD", "PIDFD_NONBLOCK", "pipe2", "splice", "SPLICE_F_MOVE",
        "SPLICE_F_NONBLOCK", "SPLICE_F_MORE", "copy_file_range",
        "getxattr", "setxattr", "listxattr", "removexattr", "XATTR_CREATE", "XATTR_REPLACE",
        "XATTR_SIZE_MAX", "getresuid", "getresgid", "setresuid", "setresgid",
        "sched_getaffinity", "sched_setaffinity", "sched_getscheduler", "sched_setscheduler",
        "sched_getparam", "sched_setparam", "sched_rr_get_interval", "SCHED_BATCH", "SCHED_IDLE",
        "SCHED_RESET_ON_FORK", "posix_fallocate", "posix_fadvise", "POSIX_FADV_NORMAL",
        "POSIX_FADV_SEQUENTIAL", "POSIX_FADV_RANDOM", "POSIX_FADV_NOREUSE",
        "POSIX_FADV_WILLNEED", "POSIX_FADV_DONTNEED", "fdatasync", "getrandom", "GRND_NONBLOCK",
        "GRND_RANDOM", "O_PATH", "O_TMPFILE", "O_DIRECT", "O_NOATIME", "O_RSYNC", "O_LARGEFILE",
        "RWF_APPEND", "RWF_DSYNC", "RWF_HIPRI", "RWF_NOWAIT", "RWF_SYNC", "preadv2", "pwritev2",
        "MFD_HUGE_SHIFT", "unshare", "setns", "SCHED_SPORADIC",
    ] + ([] if sys.version_info >= (3, 13) else
         # CPython exposes waitid on macOS only from 3.13 on (gh-113536).
         ["waitid", "waitid_result", "P_ALL", "P_PID", "P_PGID"]),
    "select": ["epoll", "EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLERR", "EPOLLHUP", "EPOLLET",
               "EPOLLONESHOT", "EPOLLEXCLUSIVE", "EPOLLRDHUP", "EPOLLRDNORM", "EPOLLRDBAND",
               "EPOLLWRNORM", "EPOLLWRBAND", "EPOLLMSG", "EPOLL_CLOEXEC", "POLLRDHUP"],
    "signal": ["SIGRTMIN", "SIGRTMAX", "sigtimedwait", "sigwaitinfo", "pidfd_send_signal", "SIGPOLL", "SIGPWR",
               "SIGSTKFLT", "SIGCLD"],
    # The C module behind `signal`, which the start-up path uses directly (host/hostsig.py).
    "_signal": ["SIGRTMIN", "SIGRTMAX", "sigtimedwait", "sigwaitinfo", "pidfd_send_signal", "SIGPOLL",
                "SIGPWR", "SIGSTKFLT", "SIGCLD"],
    "socket": ["SOCK_CLOEXEC", "SOCK_NONBLOCK", "SO_PEERCRED", "SO_PASSCRED", "SCM_CREDENTIALS",
               "MSG_NOSIGNAL", "MSG_CMSG_CLOEXEC", "SO_DOMAIN", "SO_PROTOCOL", "SO_PEERSEC",
               "SO_PASSSEC", "SO_BINDTODEVICE", "SO_MARK", "SO_PRIORITY", "AF_NETLINK",
               "AF_PACKET", "SO_BUSY_POLL", "SO_INCOMING_CPU", "TCP_CORK", "TCP_QUICKACK",
               "TCP_USER_TIMEOUT", "TCP_CONGESTION", "MSG_CONFIRM", "MSG_MORE",
               "MSG_ERRQUEUE", "MSG_FASTOPEN", "SO_TIMESTAMPNS", "SCM_TIMESTAMPNS"],
    "time": ["CLOCK_BOOTTIME", "CLOCK_TAI", "pthread_getcpuclockid"],
    "resource": ["prlimit", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
                 "RLIMIT_SIGPENDING", "RLIMIT_LOCKS", "RLIMIT_OFILE"],
    "fcntl": ["F_ADD_SEALS", "F_GET_SEALS", "F_SEAL_SEAL", "F_SEAL_SHRINK", "F_SEAL_GROW",
              "F_SEAL_WRITE", "F_SEAL_FUTURE_WRITE", "F_OFD_GETLK", "F_OFD_SETLK", "F_OFD_SETLKW",
              "F_SETPIPE_SZ", "F_GETPIPE_SZ", "F_NOTIFY", "F_SETLEASE", "F_GETLEASE",
              "DN_ACCESS", "DN_MODIFY", "DN_CREATE", "DN_DELETE", "DN_RENAME", "DN_ATTRIB",
              "DN_MULTISHOT", "F_EXLCK", "F_SHLCK"],
}
# The C module behind `socket`, which the socket seam and the parked calls use directly
# (socket.py's enum and selectors imports cost a process's first thread ~4 ms).
HIDDEN["_socket"] = HIDDEN["socket"]


def hide_names() -> list[str]:
    """Delete the Linux-only names from the standard modules; returns what was hidden."""
    import importlib
    gone = []
    for modname, names in HIDDEN.items():
        mod = importlib.import_module(modname)
        for name in names:
            if name in mod.__dict__:
                delattr(mod, name)
                gone.append(f"{modname}.{name}")
    return gone


# ----- 2. host syscalls ------------------------------------------------------------------

# Linux syscall numbers of the calls macOS has no counterpart of, per host ABI.
_DENY = {
    "x86_64": {"epoll_create": 213, "epoll_wait": 232, "epoll_ctl": 233, "epoll_pwait": 281,
               "epoll_create1": 291, "epoll_pwait2": 441, "eventfd": 284, "eventfd2": 290,
               "timerfd_create": 283, "timerfd_settime": 286, "timerfd_gettime": 287,
               "signalfd": 282, "signalfd4": 289, "inotify_init": 253, "inotify_add_watch": 254,
               "inotify_rm_watch": 255, "inotify_init1": 294, "memfd_create": 319,
               "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438, "splice": 275,
               "tee": 276, "vmsplice": 278, "copy_file_range": 326},
    "aarch64": {"epoll_create1": 20, "epoll_ctl": 21, "epoll_pwait": 22, "epoll_pwait2": 441,
                "eventfd2": 19, "timerfd_create": 85, "timerfd_settime": 86, "timerfd_gettime": 87,
                "signalfd4": 74, "inotify_init1": 26, "inotify_add_watch": 27, "inotify_rm_watch": 28,
                "memfd_create": 279, "pidfd_send_signal": 424, "pidfd_open": 434,
                "pidfd_getfd": 438, "splice": 76, "tee": 77, "vmsplice": 75, "copy_file_range": 285},
}
# (syscall, index of the signal argument, lowest refused signal)
_SIGNAL_CALLS = {
    "x86_64": [(62, 1, 32), (129, 1, 32), (200, 1, 34), (234, 2, 34), (297, 2, 34)],
    "aarch64": [(129, 1, 32), (138, 1, 32), (130, 1, 34), (131, 2, 34), (240, 2, 34)],
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SYS_PRCTL = {"x86_64": 157, "aarch64": 167}

# classic BPF
_LD_W_ABS, _JEQ_K, _JGT_K, _JGE_K, _RET_K = 0x20, 0x15, 0x25, 0x35, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_PR_SET_NO_NEW_PRIVS, _SECCOMP_SET_MODE_FILTER = 38, 1
_NR, _ARCH, _ARGS = 0, 4, 16          # offsets in struct seccomp_data


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program(arch: str) -> list[bytes]:
    """The BPF program: ENOSYS for the denied calls and for real-time signals, allow the rest.

    Layout: check the arch; load the number; one `jeq` per denied number to
    the shared ENOSYS return; per signal-sending call a block that loads the
    signal argument and refuses lowest..64; then ALLOW, ENOSYS, ALLOW.
    Jumps are counted from the next instruction, as classic BPF wants.
    """
    ops: list[tuple] = [("ld", _ARCH), ("jeq", _AUDIT_ARCH[arch], 1, 0), ("ret", _RET_ALLOW),
                        ("ld", _NR)]
    for nr in sorted(_DENY[arch].values()):
        ops.append(("jeq", nr, "ENOSYS", 0))
    for nr, argi, low in _SIGNAL_CALLS[arch]:
        ops += [("jeq", nr, 0, 4),                     # another call: skip this block
                ("ld", _ARGS + 8 * argi),              # the signal's low 32 bits
                ("jge", low, 0, "ALLOW"),              # below the first refused signal
                ("jgt", 64, "ALLOW", 0),               # not a signal number at all: the kernel says EINVAL
                ("ret", _RET_ERRNO | errno.ENOSYS)]
    ops += [("ret", _RET_ALLOW)]
    labels = {"ENOSYS": len(ops), "ALLOW": len(ops) + 1}
    ops += [("ret", _RET_ERRNO | errno.ENOSYS), ("ret", _RET_ALLOW)]
    codes = {"ld": _LD_W_ABS, "jeq": _JEQ_K, "jge": _JGE_K, "jgt": _JGT_K, "ret": _RET_K}
    out = []
    for i, op in enumerate(ops):
        if op[0] in ("ld", "ret"):
            out.append(_insn(codes[op[0]], 0, 0, op[1]))
            continue
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in op[2:4])
        out.append(_insn(codes[op[0]], jt, jf, op[1]))
    return out


def install_seccomp() -> bool:
    """Install the filter on this process (inherited by its threads' children and execs)."""
    arch = _pyplatform.machine()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch.lower(), arch)
    if arch not in _DENY:
        return False
    prog = b"".join(filter_program(arch))
    n = len(prog) // 8
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("=H6xQ", n, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(ctypes.c_long(_SYS_PRCTL[arch]), ctypes.c_long(_PR_SET_NO_NEW_PRIVS),
                    ctypes.c_long(1), ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0)) != 0:
        return False
    r = libc.syscall(ctypes.c_long(_SYS_SECCOMP[arch]), ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
                     ctypes.c_long(0), ctypes.c_void_p(ctypes.addressof(fbuf)))
    return r == 0


def apply() -> None:
    """Hide the names and install the filter (once per process; exec'd emulators apply it again)."""
    hide_names()
    if os.environ.get("ELFUSE_MODEL_NO_SECCOMP") != "1":
        install_seccomp()
