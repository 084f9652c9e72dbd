"""--strace's name tables: Linux AArch64 constants by name, as strace prints them.

Only data and the two generic printers strace uses for it: `flags` (`A|B|0x..`,
bits named in a table, the rest in hex) and `named` (one value, or its number).
The tables list names in strace's own order where that is not the numeric one
(eventfd's `EFD_CLOEXEC|EFD_NONBLOCK`), so a line reads as strace's does.
Values are the generic Linux ones AArch64 uses (asm-generic), never the host's.
"""
from __future__ import annotations

FlagTable = list[tuple[int, str]]


def flags(v: int, table: FlagTable, zero: str = "0") -> str:
    """`A|B|0x..` for the bits of v named in table (strace's printflags)."""
    if v == 0:
        return zero
    names = []
    rest = v
    for bit, name in table:
        if bit and v & bit == bit and rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names)


def named(v: int, table: dict[int, str], fallback: str | None = None) -> str:
    """The name of v in table, else `fallback` or its number (strace's printxval)."""
    name = table.get(v)
    if name is not None:
        return name
    return fallback if fallback is not None else str(v)


# ----- files ----------------------------------------------------------------------------

O_ACCMODE_NAMES = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"]
O_FLAGS: FlagTable = [
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECTORY"), (0o100000, "O_NOFOLLOW"), (0o200000, "O_DIRECT"),
    (0o400000, "O_LARGEFILE"), (0o1000000, "O_NOATIME"), (0o2000000, "O_CLOEXEC"),
    (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"), (0o20000000, "__O_TMPFILE")]
O_CLOEXEC, O_NONBLOCK = 0o2000000, 0o4000

# pipe2, dup3: flags only, no access mode (strace prints 0 as 0).
PIPE_FLAGS: FlagTable = [(0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o200000, "O_DIRECT"),
                         (0o2000000, "O_CLOEXEC"), (0o4000000, "O_NOTIFICATION_PIPE")]
EFD_FLAGS: FlagTable = [(1, "EFD_SEMAPHORE"), (O_CLOEXEC, "EFD_CLOEXEC"), (O_NONBLOCK, "EFD_NONBLOCK")]
TFD_FLAGS: FlagTable = [(O_CLOEXEC, "TFD_CLOEXEC"), (O_NONBLOCK, "TFD_NONBLOCK")]
TFD_SETTIME_FLAGS: FlagTable = [(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET")]
SFD_FLAGS: FlagTable = [(O_CLOEXEC, "SFD_CLOEXEC"), (O_NONBLOCK, "SFD_NONBLOCK")]
IN_FLAGS: FlagTable = [(O_NONBLOCK, "IN_NONBLOCK"), (O_CLOEXEC, "IN_CLOEXEC")]
EPOLL_FLAGS: FlagTable = [(O_CLOEXEC, "EPOLL_CLOEXEC")]
MFD_FLAGS: FlagTable = [(1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (4, "MFD_HUGETLB"),
                        (8, "MFD_NOEXEC_SEAL"), (0x10, "MFD_EXEC")]
PIDFD_FLAGS: FlagTable = [(O_NONBLOCK, "PIDFD_NONBLOCK")]
AT_FLAGS: FlagTable = [(0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_REMOVEDIR"),
                       (0x400, "AT_SYMLINK_FOLLOW"), (0x800, "AT_NO_AUTOMOUNT"),
                       (0x1000, "AT_EMPTY_PATH"), (0x8000, "AT_RECURSIVE")]
FD_FLAGS: FlagTable = [(1, "FD_CLOEXEC")]

FCNTL_CMDS = {0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL",
              5: "F_GETLK", 6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN",
              10: "F_SETSIG", 11: "F_GETSIG", 15: "F_SETOWN_EX", 16: "F_GETOWN_EX",
              36: "F_OFD_GETLK", 37: "F_OFD_SETLK", 38: "F_OFD_SETLKW", 1024: "F_SETLEASE",
              1025: "F_GETLEASE", 1026: "F_NOTIFY", 1030: "F_DUPFD_CLOEXEC",
              1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS", 1034: "F_GET_SEALS"}
SEAL_FLAGS: FlagTable = [(1, "F_SEAL_SEAL"), (2, "F_SEAL_SHRINK"), (4, "F_SEAL_GROW"),
                         (8, "F_SEAL_WRITE"), (0x10, "F_SEAL_FUTURE_WRITE")]

# ----- memory ---------------------------------------------------------------------------

PROT_FLAGS: FlagTable = [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (8, "PROT_SEM"),
                         (0x10, "PROT_BTI"), (0x20, "PROT_MTE"), (0x01000000, "PROT_GROWSDOWN"),
                         (0x02000000, "PROT_GROWSUP")]
MAP_TYPES = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}
MAP_FLAGS: FlagTable = [
    (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"), (0x80000, "MAP_SYNC"),
    (0x100000, "MAP_FIXED_NOREPLACE"), (0x4000000, "MAP_UNINITIALIZED")]

MADV_NAMES = {0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL", 3: "MADV_WILLNEED",
              4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE", 10: "MADV_DONTFORK",
              11: "MADV_DOFORK", 12: "MADV_MERGEABLE", 13: "MADV_UNMERGEABLE",
              14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE", 16: "MADV_DONTDUMP", 17: "MADV_DODUMP",
              18: "MADV_WIPEONFORK", 19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT",
              22: "MADV_POPULATE_READ", 23: "MADV_POPULATE_WRITE", 100: "MADV_HWPOISON",
              101: "MADV_SOFT_OFFLINE"}

# ----- processes ------------------------------------------------------------------------

CSIGNAL = 0xFF
# strace leaves 0x400000 (CLONE_DETACHED, ignored by Linux) unnamed.
CLONE_FLAGS: FlagTable = [
    (0x80, "CLONE_NEWTIME"), (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"), (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"), (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"), (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"), (0x100000000, "CLONE_CLEAR_SIGHAND"),
    (0x200000000, "CLONE_INTO_CGROUP")]
CLONE_VFORK, CLONE_THREAD, CLONE_PIDFD = 0x4000, 0x10000, 0x1000
CLONE_SETTLS, CLONE_PARENT_SETTID = 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x200000, 0x1000000

WAIT4_OPTIONS: FlagTable = [(1, "WNOHANG"), (2, "WUNTRACED"), (4, "WEXITED"), (8, "WCONTINUED"),
                            (0x1000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"),
                            (0x40000000, "__WALL"), (0x80000000, "__WCLONE")]
WAITID_OPTIONS: FlagTable = [(1, "WNOHANG"), (2, "WSTOPPED"), (4, "WEXITED"), (8, "WCONTINUED"),
                             (0x1000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"),
                             (0x40000000, "__WALL"), (0x80000000, "__WCLONE")]
IDTYPES = {0: "P_ALL", 1: "P_PID", 2: "P_PGID", 3: "P_PIDFD"}
CLD_CODES = {1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
             5: "CLD_STOPPED", 6: "CLD_CONTINUED"}

SIGNALS = ["0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
           "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
           "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
           "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
           "SIGSYS"]
SIGPROCMASK_HOW = {0: "SIG_BLOCK", 1: "SIG_UNBLOCK", 2: "SIG_SETMASK"}
# siginfo si_code: the generic ones, then those of the signals with their own.
SI_CODES = {0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
            -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"}
FAULT_CODES = {
    4: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC",
        6: "ILL_PRVREG", 7: "ILL_COPROC", 8: "ILL_BADSTK"},
    5: {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT"},
    7: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"},
    8: {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND",
        6: "FPE_FLTRES", 7: "FPE_FLTINV", 8: "FPE_FLTSUB"},
    11: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR",
         8: "SEGV_MTEAERR", 9: "SEGV_MTESERR"}}


def signal_name(v: int) -> str:
    """SIGCHLD, SIGRTMIN, SIGRT_3, or the number (strace's printsignal)."""
    if 0 <= v < len(SIGNALS):
        return SIGNALS[v]
    if v == 32:
        return "SIGRTMIN"
    if 32 < v <= 64:
        return f"SIGRT_{v - 32}"
    return str(v)


def sigset(bits: int, nsig: int = 64) -> str:
    """A signal set as strace prints it: `[CHLD USR1]`, or `~[...]` when most are set."""
    members = [s for s in range(1, nsig + 1) if bits >> (s - 1) & 1]
    inverted = len(members) > nsig // 2
    if inverted:
        members = [s for s in range(1, nsig + 1) if not bits >> (s - 1) & 1]
    names = []
    for s in members:
        n = signal_name(s)
        names.append(n[3:] if n.startswith("SIG") else n)
    return ("~" if inverted else "") + "[" + " ".join(names) + "]"


FUTEX_OPS = {0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE",
             4: "FUTEX_CMP_REQUEUE", 5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI",
             8: "FUTEX_TRYLOCK_PI", 9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET",
             11: "FUTEX_WAIT_REQUEUE_PI", 12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2"}
FUTEX_PRIVATE, FUTEX_CLOCK_REALTIME = 128, 256


def futex_op(v: int) -> str:
    """FUTEX_WAIT_PRIVATE, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME..."""
    base = FUTEX_OPS.get(v & 0x7F, str(v & 0x7F))
    if v & FUTEX_PRIVATE:
        base += "_PRIVATE"
    if v & FUTEX_CLOCK_REALTIME:
        base += "|FUTEX_CLOCK_REALTIME"
    rest = v & ~(0x7F | FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME)
    return base + (f"|{rest:#x}" if rest else "")


# ----- sockets --------------------------------------------------------------------------

AF_NAMES = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX",
            5: "AF_APPLETALK", 9: "AF_X25", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
            29: "AF_CAN", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP"}
SOCK_TYPES = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
              5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}
SOCK_FLAGS: FlagTable = [(O_CLOEXEC, "SOCK_CLOEXEC"), (O_NONBLOCK, "SOCK_NONBLOCK")]
IPPROTO_NAMES = {0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP",
                 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 41: "IPPROTO_IPV6", 47: "IPPROTO_GRE",
                 58: "IPPROTO_ICMPV6", 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE",
                 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP"}
NETLINK_PROTOCOLS = {0: "NETLINK_ROUTE", 4: "NETLINK_SOCK_DIAG", 9: "NETLINK_AUDIT",
                     15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC"}
# socket()'s protocol argument is named per domain.
PROTOCOLS_BY_DOMAIN = {2: IPPROTO_NAMES, 10: IPPROTO_NAMES, 16: NETLINK_PROTOCOLS}

SOL_NAMES = {0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6",
             58: "SOL_ICMPV6", 132: "SOL_SCTP", 255: "SOL_RAW", 263: "SOL_PACKET",
             270: "SOL_NETLINK", 280: "SOL_ALG"}
SO_NAMES = {1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE",
            6: "SO_BROADCAST", 7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE",
            10: "SO_OOBINLINE", 11: "SO_NO_CHECK", 12: "SO_PRIORITY", 13: "SO_LINGER",
            14: "SO_BSDCOMPAT", 15: "SO_REUSEPORT", 16: "SO_PASSCRED", 17: "SO_PEERCRED",
            18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT", 20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD",
            25: "SO_BINDTODEVICE", 26: "SO_ATTACH_FILTER", 27: "SO_DETACH_FILTER",
            28: "SO_PEERNAME", 29: "SO_TIMESTAMP_OLD", 30: "SO_ACCEPTCONN", 31: "SO_PEERSEC",
            32: "SO_SNDBUFFORCE", 33: "SO_RCVBUFFORCE", 34: "SO_PASSSEC",
            35: "SO_TIMESTAMPNS_OLD", 36: "SO_MARK", 37: "SO_TIMESTAMPING_OLD",
            38: "SO_PROTOCOL", 39: "SO_DOMAIN", 40: "SO_RXQ_OVFL", 41: "SO_WIFI_STATUS",
            42: "SO_PEEK_OFF", 43: "SO_NOFCS", 44: "SO_LOCK_FILTER", 45: "SO_SELECT_ERR_QUEUE",
            46: "SO_BUSY_POLL", 47: "SO_MAX_PACING_RATE", 48: "SO_BPF_EXTENSIONS",
            49: "SO_INCOMING_CPU", 50: "SO_ATTACH_BPF", 51: "SO_ATTACH_REUSEPORT_CBPF",
            52: "SO_ATTACH_REUSEPORT_EBPF", 53: "SO_CNX_ADVICE", 55: "SO_MEMINFO",
            56: "SO_INCOMING_NAPI_ID", 57: "SO_COOKIE", 59: "SO_PEERGROUPS", 60: "SO_ZEROCOPY",
            61: "SO_TXTIME", 62: "SO_BINDTOIFINDEX", 63: "SO_TIMESTAMP_NEW",
            64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW", 66: "SO_RCVTIMEO_NEW",
            67: "SO_SNDTIMEO_NEW"}
TCP_NAMES = {1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE",
             5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2",
             9: "TCP_DEFER_ACCEPT", 10: "TCP_WINDOW_CLAMP", 11: "TCP_INFO", 12: "TCP_QUICKACK",
             13: "TCP_CONGESTION", 14: "TCP_MD5SIG", 18: "TCP_USER_TIMEOUT",
             23: "TCP_FASTOPEN", 25: "TCP_NOTSENT_LOWAT", 30: "TCP_FASTOPEN_CONNECT"}
IP_NAMES = {1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 6: "IP_RECVOPTS",
            7: "IP_RETOPTS", 8: "IP_PKTINFO", 10: "IP_MTU_DISCOVER", 11: "IP_RECVERR",
            12: "IP_RECVTTL", 13: "IP_RECVTOS", 14: "IP_MTU", 15: "IP_FREEBIND",
            19: "IP_TRANSPARENT", 24: "IP_BIND_ADDRESS_NO_PORT", 32: "IP_MULTICAST_IF",
            33: "IP_MULTICAST_TTL", 34: "IP_MULTICAST_LOOP", 35: "IP_ADD_MEMBERSHIP",
            36: "IP_DROP_MEMBERSHIP"}
IPV6_NAMES = {16: "IPV6_UNICAST_HOPS", 17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS",
              19: "IPV6_MULTICAST_LOOP", 20: "IPV6_ADD_MEMBERSHIP", 21: "IPV6_DROP_MEMBERSHIP",
              23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU", 25: "IPV6_RECVERR", 26: "IPV6_V6ONLY",
              49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO", 66: "IPV6_RECVTCLASS",
              67: "IPV6_TCLASS"}
# setsockopt/getsockopt: the option names that go with each level.
OPTIONS_BY_LEVEL = {1: SO_NAMES, 6: TCP_NAMES, 0: IP_NAMES, 41: IPV6_NAMES}
MSG_FLAGS: FlagTable = [(1, "MSG_OOB"), (2, "MSG_PEEK"), (4, "MSG_DONTROUTE"), (8, "MSG_CTRUNC"),
                        (0x20, "MSG_TRUNC"), (0x40, "MSG_DONTWAIT"), (0x80, "MSG_EOR"),
                        (0x100, "MSG_WAITALL"), (0x4000, "MSG_NOSIGNAL"), (0x8000, "MSG_MORE"),
                        (0x10000, "MSG_WAITFORONE"), (0x40000000, "MSG_CMSG_CLOEXEC")]
SHUT_HOW = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}

# ----- ioctl ----------------------------------------------------------------------------

IOCTL_NAMES = {
    0x5401: "TCGETS", 0x5402: "TCSETS", 0x5403: "TCSETSW", 0x5404: "TCSETSF", 0x5405: "TCGETA",
    0x5406: "TCSETA", 0x5407: "TCSETAW", 0x5408: "TCSETAF", 0x5409: "TCSBRK", 0x540A: "TCXONC",
    0x540B: "TCFLSH", 0x540C: "TIOCEXCL", 0x540D: "TIOCNXCL", 0x540E: "TIOCSCTTY",
    0x540F: "TIOCGPGRP", 0x5410: "TIOCSPGRP", 0x5411: "TIOCOUTQ", 0x5412: "TIOCSTI",
    0x5413: "TIOCGWINSZ", 0x5414: "TIOCSWINSZ", 0x5415: "TIOCMGET", 0x5416: "TIOCMBIS",
    0x5417: "TIOCMBIC", 0x5418: "TIOCMSET", 0x5419: "TIOCGSOFTCAR", 0x541A: "TIOCSSOFTCAR",
    0x541B: "FIONREAD", 0x541C: "TIOCLINUX", 0x541D: "TIOCCONS", 0x541E: "TIOCGSERIAL",
    0x541F: "TIOCSSERIAL", 0x5420: "TIOCPKT", 0x5421: "FIONBIO", 0x5422: "TIOCNOTTY",
    0x5423: "TIOCSETD", 0x5424: "TIOCGETD", 0x5425: "TCSBRKP", 0x5427: "TIOCSBRK",
    0x5428: "TIOCCBRK", 0x5429: "TIOCGSID", 0x802C542A: "TCGETS2", 0x402C542B: "TCSETS2",
    0x402C542C: "TCSETSW2", 0x402C542D: "TCSETSF2", 0x80045430: "TIOCGPTN",
    0x40045431: "TIOCSPTLCK", 0x80045432: "TIOCGDEV", 0x40045436: "TIOCSIG",
    0x5437: "TIOCVHANGUP", 0x80045438: "TIOCGPKT", 0x80045439: "TIOCGPTLCK",
    0x80045440: "TIOCGEXCL", 0x5441: "TIOCGPTPEER", 0x5450: "FIONCLEX", 0x5451: "FIOCLEX",
    0x5452: "FIOASYNC", 0x5459: "TIOCSERGETLSR", 0x545D: "TIOCGICOUNT", 0x5460: "FIOQSIZE",
    0x8901: "FIOSETOWN", 0x8902: "SIOCSPGRP", 0x8903: "FIOGETOWN", 0x8904: "SIOCGPGRP",
    0x8905: "SIOCATMARK", 0x8906: "SIOCGSTAMP", 0x8910: "SIOCGIFNAME", 0x8912: "SIOCGIFCONF",
    0x8913: "SIOCGIFFLAGS", 0x8915: "SIOCGIFADDR", 0x8921: "SIOCGIFMTU",
    0x8927: "SIOCGIFHWADDR", 0x8933: "SIOCGIFINDEX", 1: "FIBMAP", 2: "FIGETBSZ",
    0x80086601: "FS_IOC_GETFLAGS", 0x40086602: "FS_IOC_SETFLAGS", 0x40049409: "FICLONE",
    0x80081272: "BLKGETSIZE64", 0x80045200: "RNDGETENTCNT"}
# How the third argument shows: an int the call reads (at entry) or writes (on
# success), `[N]`; a struct winsize; nothing (FIOCLEX); a plain int value.
IOCTL_INT_IN = {0x5421, 0x5410, 0x40045431, 0x5452, 0x5423, 0x8901, 0x8902, 0x40045436}
IOCTL_INT_OUT = {0x541B, 0x540F, 0x5411, 0x80045430, 0x5429, 0x5424, 0x80045439, 0x80045438,
                 0x8903, 0x8904, 0x8905, 0x80045440, 0x5460}
IOCTL_WINSZ_IN, IOCTL_WINSZ_OUT = {0x5414}, {0x5413}
IOCTL_NO_ARG = {0x5450, 0x5451, 0x540C, 0x540D, 0x5422, 0x5427, 0x5428, 0x5437, 0x541D}
IOCTL_VALUE_ARG = {0x540E, 0x5409, 0x540A, 0x540B, 0x5425, 0x5441}

# ----- misc -----------------------------------------------------------------------------

GRND_FLAGS: FlagTable = [(1, "GRND_NONBLOCK"), (2, "GRND_RANDOM"), (4, "GRND_INSECURE")]
TIMER_FLAGS: FlagTable = [(1, "TIMER_ABSTIME")]


def open_flags(v: int) -> str:
    """open's flags: the access mode always (`O_RDONLY` for 0), then the flag bits."""
    v &= 0xFFFFFFFF
    rest = flags(v & ~3, O_FLAGS, "")
    return O_ACCMODE_NAMES[v & 3] + ("|" + rest if rest else "")
