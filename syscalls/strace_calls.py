"""--strace's per-call printers: the calls strace decodes beyond their argument kinds.

`CALLS` maps a syscall name to a printer `fmt(t, a, ret) -> [arg text...]`,
where `t` is the Tracer (guest memory readers), `a` the six raw registers and
`ret` the result (None while the call has not finished: output arguments then
show as addresses).  Flags come out by name (strace_names.py): clone's
`CLONE_VM|...|SIGCHLD`, wait options, socket domain/type/protocol, socket
option levels and names, ioctl requests, fcntl commands, futex operations,
signal sets.  `EXIT_ARGS` says from which argument on a call's arguments are
its results: what strace prints after `<... NAME resumed>` when the call
blocked while another task ran.  Calls not listed here print by the argument
kinds of their table entry (syscalls/strace.py).
"""
from __future__ import annotations

import struct
from collections.abc import Callable

from elfuse_py.runtime.memory import GuestFault

from elfuse_py.syscalls.args import s32
from elfuse_py.syscalls import strace_names as N

STRING_LIMIT = 32          # strace -s default: string and array elements shown
_WINSZ = struct.Struct("<HHHH")
_CLONE_ARGS = struct.Struct("<8Q")


def _fd(v: int) -> str:
    return str(s32(v))


def _int(v: int) -> str:
    return str(s32(v))


def _addr(v: int) -> str:
    return "NULL" if v == 0 else hex(v)


def _done(ret: int | None) -> bool:
    return ret is not None and ret >= 0


# ----- processes -------------------------------------------------------------------------

def _clone_flags(flags: int) -> str:
    sig = flags & N.CSIGNAL
    text = N.flags(flags & ~N.CSIGNAL & 0xFFFFFFFFFFFFFF00, N.CLONE_FLAGS, "")
    if sig:
        text = (text + "|" if text else "") + N.signal_name(sig)
    return text or "0"


def clone(t, a, ret):
    """clone(child_stack=, flags=, parent_tid=, tls=, child_tidptr=) as strace shows it
    (AArch64 passes flags, stack, parent_tid, tls, child_tid)."""
    flags, stack, ptid, tls, ctid = a[:5]
    out = [f"child_stack={_addr(stack)}", f"flags={_clone_flags(flags)}"]
    if flags & N.CLONE_PARENT_SETTID:
        out.append("parent_tid=" + (t.int_at(ptid) if _done(ret) else _addr(ptid)))
    if flags & N.CLONE_SETTLS:
        out.append(f"tls={_addr(tls)}")
    if flags & (N.CLONE_CHILD_SETTID | N.CLONE_CHILD_CLEARTID):
        out.append(f"child_tidptr={_addr(ctid)}")
    return out


def clone3(t, a, ret):
    addr, size = a[0], a[1]
    try:
        flags, pidfd, ctid, ptid, esig, stack, ssize, tls = t.mem.unpack(_CLONE_ARGS, addr)
    except GuestFault:
        return [hex(addr), str(size)]
    parts = [f"flags={N.flags(flags, N.CLONE_FLAGS)}"]
    if flags & N.CLONE_PIDFD:
        parts.append(f"pidfd={_addr(pidfd)}")
    if flags & (N.CLONE_CHILD_SETTID | N.CLONE_CHILD_CLEARTID):
        parts.append(f"child_tid={_addr(ctid)}")
    if flags & N.CLONE_PARENT_SETTID:
        parts.append(f"parent_tid={_addr(ptid)}")
    parts += [f"exit_signal={N.signal_name(esig) if esig else 0}", f"stack={_addr(stack)}",
              f"stack_size={ssize:#x}" if ssize else "stack_size=0"]
    if flags & N.CLONE_SETTLS:
        parts.append(f"tls={_addr(tls)}")
    return ["{" + ", ".join(parts) + "}", str(size)]


def _wait_status(s: int) -> str:
    """strace's decoding of a wait status word."""
    if s & 0x7F == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {s >> 8 & 0xFF}}}]"
    if s & 0xFF == 0x7F:
        return f"[{{WIFSTOPPED(s) && WSTOPSIG(s) == {N.signal_name(s >> 8 & 0xFF)}}}]"
    if s == 0xFFFF:
        return "[{WIFCONTINUED(s)}]"
    core = " && WCOREDUMP(s)" if s & 0x80 else ""
    return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {N.signal_name(s & 0x7F)}{core}}}]"


def wait4(t, a, ret):
    pid, status, options, rusage = a[:4]
    st = _addr(status)
    if status and ret is not None and ret > 0:
        try:
            st = _wait_status(t.mem.u32(status))
        except GuestFault:
            pass
    return [_int(pid), st, N.flags(options & 0xFFFFFFFF, N.WAIT4_OPTIONS), _addr(rusage)]


_SI_HEAD = struct.Struct("<iii")
_SI_KILL = struct.Struct("<iI")
_SI_CHLD = struct.Struct("<iIi4xqq")
_SI_VALUE = struct.Struct("<iIi")


def _si_kill(name, code, info):
    pid, uid = _SI_KILL.unpack_from(info, 16)
    return f"si_pid={pid}, si_uid={uid}"


def _si_queue(name, code, info):
    pid, uid, value = _SI_VALUE.unpack_from(info, 16)
    ptr = struct.unpack_from("<Q", info, 24)[0]
    return f"si_pid={pid}, si_uid={uid}, si_int={value}, si_ptr={_addr(ptr)}"


def _si_timer(name, code, info):
    tid, overrun, value = _SI_VALUE.unpack_from(info, 16)
    ptr = struct.unpack_from("<Q", info, 24)[0]
    return f"si_timerid={tid}, si_overrun={overrun}, si_int={value}, si_ptr={_addr(ptr)}"


def _si_chld(name, code, info):
    pid, uid, status, utime, stime = _SI_CHLD.unpack_from(info, 16)
    shown = status if code == 1 else N.signal_name(status)       # CLD_EXITED: an exit code
    return (f"si_pid={pid}, si_uid={uid}, si_status={shown}, si_utime={_clock_t(utime)}, "
            f"si_stime={_clock_t(stime)}")


def _clock_t(ticks: int) -> str:
    """A clock_t in USER_HZ ticks, with strace's seconds comment when not 0."""
    return f"{ticks} /* {ticks / 100:.2f} s */" if ticks else "0"


def _si_fault(name, code, info):
    return f"si_addr={_addr(struct.unpack_from('<Q', info, 16)[0])}"


# The union member strace shows for each si_code (before the signal's own codes).
_SI_FIELDS = {0: _si_kill, -6: _si_kill, -1: _si_queue, -3: _si_queue, -2: _si_timer}


def siginfo(info: bytes) -> str:
    """A siginfo_t as strace prints it: `{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=...}`."""
    if len(info) < 48:
        return "{}"
    signo, _err, code = _SI_HEAD.unpack_from(info)
    if signo == 0:
        return "{}"
    if code > 0 and signo == 17:
        cname, fields = N.named(code, N.CLD_CODES), _si_chld
    elif code > 0 and code != 0x80 and signo in N.FAULT_CODES:
        cname, fields = N.named(code, N.FAULT_CODES[signo]), _si_fault
    else:
        cname, fields = N.named(code, N.SI_CODES), _SI_FIELDS.get(code)
    head = f"si_signo={N.signal_name(signo)}, si_code={cname}"
    return "{" + head + (", " + fields(signo, code, info) if fields is not None else "") + "}"


def waitid(t, a, ret):
    idtype, id_, infop, options, rusage = a[:5]
    info = _addr(infop)
    if infop and ret == 0:
        try:
            info = siginfo(t.mem.read(infop, 128))
        except GuestFault:
            pass
    return [N.named(s32(idtype), N.IDTYPES), _int(id_), info,
            N.flags(options & 0xFFFFFFFF, N.WAITID_OPTIONS), _addr(rusage)]


def execve_args(t, path: int, argv: int, envp: int) -> list[str]:
    """execve's path, `["argv0", ...]` and `0x... /* N vars */`."""
    return [t.string(path), t.string_array(argv), t.env_summary(envp)]


def execve(t, a, ret):
    return execve_args(t, a[0], a[1], a[2])


def execveat(t, a, ret):
    return [t.dirfd(a[0]), *execve_args(t, a[1], a[2], a[3]),
            N.flags(a[4] & 0xFFFFFFFF, N.AT_FLAGS)]


# ----- files and fd flags -------------------------------------------------------------

def _fd_pair(t, addr: int, ret) -> str:
    if addr and ret == 0:
        try:
            return f"[{s32(t.mem.u32(addr))}, {s32(t.mem.u32(addr + 4))}]"
        except GuestFault:
            pass
    return _addr(addr)


def pipe2(t, a, ret):
    return [_fd_pair(t, a[0], ret), N.flags(a[1] & 0xFFFFFFFF, N.PIPE_FLAGS)]


def dup3(t, a, ret):
    return [_fd(a[0]), _fd(a[1]), N.flags(a[2] & 0xFFFFFFFF, N.PIPE_FLAGS)]


def _flags_only(table: N.FlagTable, before: int = 0) -> Callable:
    """A call whose last argument is a flag word, after `before` plain ints."""
    def fmt(t, a, ret):
        return [_int(v) for v in a[:before]] + [N.flags(a[before] & 0xFFFFFFFF, table)]
    return fmt


def timerfd_create(t, a, ret):
    return [t.clock(a[0]), N.flags(a[1] & 0xFFFFFFFF, N.TFD_FLAGS)]


def timerfd_settime(t, a, ret):
    return [_fd(a[0]), N.flags(a[1] & 0xFFFFFFFF, N.TFD_SETTIME_FLAGS), _addr(a[2]), _addr(a[3])]


def signalfd4(t, a, ret):
    return [_fd(a[0]), t.sigset_at(a[1], a[2]), str(a[2]), N.flags(a[3] & 0xFFFFFFFF, N.SFD_FLAGS)]


def memfd_create(t, a, ret):
    return [t.string(a[0], STRING_LIMIT), N.flags(a[1] & 0xFFFFFFFF, N.MFD_FLAGS)]


def fcntl(t, a, ret):
    fd, cmd, arg = _fd(a[0]), s32(a[1]), a[2]
    out = [fd, N.named(cmd, N.FCNTL_CMDS)]
    show = _FCNTL_ARG.get(cmd, "int")
    if show is not None:
        out.append(show(arg) if callable(show) else _int(arg))
    return out


# fcntl's third argument per command: None (not shown), a printer, or "int".
_FCNTL_ARG = {1: None, 3: None, 9: None, 11: None, 16: None, 1025: None, 1032: None, 1034: None,
              2: lambda v: N.flags(v & 0xFFFFFFFF, N.FD_FLAGS), 4: N.open_flags,
              1033: lambda v: N.flags(v & 0xFFFFFFFF, N.SEAL_FLAGS),
              5: _addr, 6: _addr, 7: _addr, 36: _addr, 37: _addr, 38: _addr,
              15: _addr, 10: lambda v: N.signal_name(s32(v))}


# ----- sockets ---------------------------------------------------------------------------

def _sock_type(v: int) -> str:
    v &= 0xFFFFFFFF
    base = N.named(v & 0xF, N.SOCK_TYPES)
    rest = N.flags(v & ~0xF, N.SOCK_FLAGS, "")
    return base + ("|" + rest if rest else "")


def _protocol(domain: int, proto: int) -> str:
    return N.named(proto, N.PROTOCOLS_BY_DOMAIN.get(domain, {}))


def socket(t, a, ret):
    domain = s32(a[0])
    return [N.named(domain, N.AF_NAMES), _sock_type(a[1]), _protocol(domain, s32(a[2]))]


def socketpair(t, a, ret):
    return socket(t, a, ret) + [_fd_pair(t, a[3], ret)]


def accept4(t, a, ret):
    return [_fd(a[0]), _addr(a[1]), _addr(a[2]), N.flags(a[3] & 0xFFFFFFFF, N.SOCK_FLAGS)]


def _sockopt_names(level: int, name: int) -> tuple[str, str]:
    return N.named(level, N.SOL_NAMES), N.named(name, N.OPTIONS_BY_LEVEL.get(level, {}))


def setsockopt(t, a, ret):
    fd, level, name, val, length = _fd(a[0]), s32(a[1]), s32(a[2]), a[3], s32(a[4])
    lv, nm = _sockopt_names(level, name)
    shown = t.int_at(val) if length == 4 else _addr(val)
    return [fd, lv, nm, shown, str(length)]


def getsockopt(t, a, ret):
    fd, level, name, val, lenp = _fd(a[0]), s32(a[1]), s32(a[2]), a[3], a[4]
    lv, nm = _sockopt_names(level, name)
    shown, shown_len = _addr(val), _addr(lenp)
    if ret == 0:
        try:
            n = t.mem.u32(lenp)
        except GuestFault:
            n = None
        if n is not None:
            shown_len = f"[{n}]"
            if n == 4:
                shown = t.int_at(val)
    return [fd, lv, nm, shown, shown_len]


def shutdown(t, a, ret):
    return [_fd(a[0]), N.named(s32(a[1]), N.SHUT_HOW)]


def _msg_call(buf_kind: str, tail: tuple[Callable, ...]) -> Callable:
    """send/recv-style calls: fd, buffer, length, MSG_ flags, then the address arguments."""
    def fmt(t, a, ret):
        if buf_kind == "in":
            buf = t.buffer(a[1], a[2])
        else:
            buf = t.buffer(a[1], ret) if _done(ret) else _addr(a[1])
        return ([_fd(a[0]), buf, str(a[2]), N.flags(a[3] & 0xFFFFFFFF, N.MSG_FLAGS)]
                + [show(v) for show, v in zip(tail, a[4:])])
    return fmt


# ----- ioctl -----------------------------------------------------------------------------

def _winsize(t, addr: int) -> str:
    try:
        row, col, x, y = t.mem.unpack(_WINSZ, addr)
    except GuestFault:
        return _addr(addr)
    return f"{{ws_row={row}, ws_col={col}, ws_xpixel={x}, ws_ypixel={y}}}"


# How each request's third argument shows: read by the call (`in`, shown at
# entry), written by it (`out`, shown on success), or a plain value.
_IOCTL_ARG: dict[int, Callable] = {}
_IOCTL_ARG.update({r: lambda t, v, ret: t.int_at(v) for r in N.IOCTL_INT_IN})
_IOCTL_ARG.update({r: lambda t, v, ret: t.int_at(v) if ret == 0 else _addr(v)
                   for r in N.IOCTL_INT_OUT})
_IOCTL_ARG.update({r: lambda t, v, ret: _winsize(t, v) for r in N.IOCTL_WINSZ_IN})
_IOCTL_ARG.update({r: lambda t, v, ret: _winsize(t, v) if ret == 0 else _addr(v)
                   for r in N.IOCTL_WINSZ_OUT})
_IOCTL_ARG.update({r: lambda t, v, ret: _int(v) for r in N.IOCTL_VALUE_ARG})
_IOCTL_ARG.update({r: None for r in N.IOCTL_NO_ARG})


def ioctl(t, a, ret):
    fd, req, arg = _fd(a[0]), a[1] & 0xFFFFFFFF, a[2]
    name = N.IOCTL_NAMES.get(req, f"{req:#x}")
    show = _IOCTL_ARG.get(req, lambda t, v, ret: _addr(v))
    if show is None:
        return [fd, name]
    return [fd, name, show(t, arg, ret)]


# ----- threads and signals -------------------------------------------------------------------

def futex(t, a, ret):
    uaddr, op, val = a[:3]
    out = [_addr(uaddr), N.futex_op(op & 0xFFFFFFFF), str(val & 0xFFFFFFFF)]
    shape = _FUTEX_SHAPES.get(op & 0x7F, ("ptr4", "uaddr2", "val3"))
    return out + [_FUTEX_ARG[kind](t, a) for kind in shape]


def _bitset(v: int) -> str:
    v &= 0xFFFFFFFF
    return "FUTEX_BITSET_MATCH_ANY" if v == 0xFFFFFFFF else f"{v:#x}"


# futex's arguments after (uaddr, op, val): how each shows, and which each command has.
_FUTEX_ARG = {"timeout": lambda t, a: t.timespec(a[3]), "val2": lambda t, a: str(a[3] & 0xFFFFFFFF),
              "ptr4": lambda t, a: _addr(a[3]), "uaddr2": lambda t, a: _addr(a[4]),
              "val3": lambda t, a: str(a[5] & 0xFFFFFFFF), "bitset": lambda t, a: _bitset(a[5])}
_FUTEX_SHAPES = {0: ("timeout",), 1: (), 3: ("val2", "uaddr2"), 4: ("val2", "uaddr2", "val3"),
                 6: ("timeout",), 7: (), 8: (), 9: ("timeout", "bitset"), 10: ("bitset",),
                 13: ("timeout",)}


def madvise(t, a, ret):
    return [_addr(a[0]), str(a[1]), N.named(s32(a[2]), N.MADV_NAMES)]


def rt_sigprocmask(t, a, ret):
    how, nset, oset, size = s32(a[0]), a[1], a[2], a[3]
    old = t.sigset_at(oset, size) if oset and ret == 0 else _addr(oset)
    return [N.named(how, N.SIGPROCMASK_HOW), t.sigset_at(nset, size), old, str(size)]


def rt_sigsuspend(t, a, ret):
    return [t.sigset_at(a[0], a[1]), str(a[1])]


CALLS: dict[str, Callable] = {
    "clone": clone, "clone3": clone3, "wait4": wait4, "waitid": waitid,
    "execve": execve, "execveat": execveat,
    "pipe2": pipe2, "dup3": dup3, "fcntl": fcntl,
    "eventfd2": _flags_only(N.EFD_FLAGS, before=1), "epoll_create1": _flags_only(N.EPOLL_FLAGS),
    "inotify_init1": _flags_only(N.IN_FLAGS), "pidfd_open": _flags_only(N.PIDFD_FLAGS, before=1),
    "timerfd_create": timerfd_create, "timerfd_settime": timerfd_settime,
    "signalfd4": signalfd4, "memfd_create": memfd_create,
    "socket": socket, "socketpair": socketpair, "accept4": accept4,
    "setsockopt": setsockopt, "getsockopt": getsockopt, "shutdown": shutdown,
    "sendto": _msg_call("in", (_addr, _int)), "recvfrom": _msg_call("out", (_addr, _addr)),
    "ioctl": ioctl, "futex": futex, "madvise": madvise,
    "rt_sigprocmask": rt_sigprocmask, "rt_sigsuspend": rt_sigsuspend,
}

# Where a call's results begin among its arguments (what follows `<... NAME resumed>`).
EXIT_ARGS = {"wait4": 1, "waitid": 2, "accept": 1, "accept4": 1, "recvfrom": 1, "recvmsg": 1,
             "recvmmsg": 1, "readv": 1, "preadv": 1, "nanosleep": 1, "clock_nanosleep": 3,
             "epoll_pwait": 1, "epoll_pwait2": 1, "rt_sigtimedwait": 1, "pipe2": 0,
             "socketpair": 3, "getsockopt": 3, "clone": 2, "rt_sigprocmask": 2}
