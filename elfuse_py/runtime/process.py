"""The emulated process: the one object that holds a guest process's state.

One emulator process runs one guest process.  Its CPU, memory, fds, program
image, per-task kernel state (`task`), and the syscall table registered into
it at boot (`syscalls`) all hang off one `Process`; the runtime and the
syscall handlers reach it through the accessor `proc` (a global lookup is the
cheapest way to reach it from the hot path).  The signal and thread layers
keep their state with it too and install their hooks into it.
"""
from __future__ import annotations

import os
import resource
from elfuse_py.host.hostsig import sig as _hostsig     # (not `signal`: its enum costs start-up)
import sys

from _collections_abc import Callable     # (collections.abc's own: the package costs start-up)

from elfuse_py.runtime import log
from elfuse_py.runtime.cpu import Cpu
from elfuse_py.runtime.fdtable import FdTable
from elfuse_py.runtime.memory import GuestMemory
from elfuse_py.runtime.sigstate import SigState
from elfuse_py.runtime.signums import to_host
from elfuse_py.runtime.threadstate import ThreadTable

# types.CodeType, without the `types` module (~0.2 ms of start-up for one name).
CodeType = type((lambda: None).__code__)

# What Linux shells print for a child killed by a signal (strsignal's wording).
SIGNAL_MESSAGES = {
    4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
    8: "Floating point exception", 11: "Segmentation fault", 31: "Bad system call",
}
SIGILL, SIGTRAP, SIGBUS, SIGSEGV = 4, 5, 7, 11
_FAULT_SIGNALS = {SIGILL, SIGTRAP, SIGBUS, 8, SIGSEGV}      # 8: SIGFPE

# unicorn uc_err -> the Linux signal a real CPU fault would raise
UC_ERR_SIGNAL = {6: SIGSEGV, 7: SIGSEGV, 8: SIGSEGV, 12: SIGSEGV, 13: SIGSEGV, 14: SIGSEGV,
                 10: SIGILL, 16: SIGBUS, 17: SIGBUS, 18: SIGBUS, 21: SIGILL}
UC_ERR_EXCEPTION = 21
# unicorn interrupt numbers (qemu EXCP_*) other than SVC -> Linux signal
_INTNO_SIGNAL = {1: SIGILL, 7: SIGTRAP, 3: SIGSEGV, 4: SIGSEGV}


class SyscallSet:
    """The syscall table as the runtime sees it, registered at boot (the runtime never imports syscalls/).

    `dispatch` is indexed by number: (handler, decode) or None, where
    `decode(registers)` gives the handler its arguments; the thread
    layer's blocking wrappers may replace entries in it.  `interruptible`
    holds the code objects of handlers whose blocking host calls a guest
    signal may cut short; `no_restart` the numbers Linux never restarts after
    a handler, whatever SA_RESTART says.
    """
    # A plain class, not a dataclass: `dataclasses` (and the inspect/dis it
    # imports) costs milliseconds of every start-up (docs/architecture.md).
    __slots__ = ("dispatch", "on_unknown", "name_of", "interruptible", "no_restart", "tracer")

    def __init__(self, dispatch: list, on_unknown: Callable[[int], int],
                 name_of: Callable[[int], str] = str,
                 interruptible: frozenset[CodeType] = frozenset(),
                 no_restart: frozenset[int] = frozenset(),
                 tracer: Callable | None = None) -> None:
        self.dispatch = dispatch
        self.on_unknown = on_unknown
        self.name_of = name_of
        self.interruptible = interruptible
        self.no_restart = no_restart
        self.tracer = tracer                # tracer(process) -> trace(nr, entry, args), for --strace


TASK_COMM_LEN = 16
LINUX_RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
# Linux RLIMIT_* numbers -> names in the host's `resource` module.
RLIMIT_NAMES = ["RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
                "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
                "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                "RLIMIT_RTPRIO", "RLIMIT_RTTIME"]
RLIMIT_NOFILE = 7
RLIMIT_AS = 9
# Limits the emulator keeps for the guest instead of setting them on the host:
# RLIMIT_AS on the host would count the emulator's own 1 TiB window and heap
# (its next allocation would fail); the guest's mmap/brk/mremap check it
# against the guest's mapped bytes (syscalls/mem.py).
GUEST_KEPT_LIMITS = frozenset({RLIMIT_AS})


class TaskState:
    """Per-task kernel state with no host counterpart we can use (prctl, personality, limits)."""

    def __init__(self, comm: bytes | None = None, comm_exe: str = "", dumpable: int = 1,
                 pdeathsig: int = 0, personality: int = 0, robust_list: tuple[int, int] = (0, 0),
                 nofile: tuple[int, int] | None = None,
                 missing_limits: dict[int, tuple[int, int]] | None = None,
                 no_new_privs: int = 0) -> None:
        self.comm = comm                    # PR_SET_NAME (None: derived from the exe)
        self.comm_exe = comm_exe
        self.dumpable = dumpable
        self.pdeathsig = pdeathsig
        self.no_new_privs = no_new_privs    # PR_SET_NO_NEW_PRIVS: inherited by fork and execve, never cleared
        self.personality = personality
        self.robust_list = robust_list
        self.nofile = nofile                # guest (soft, hard) RLIMIT_NOFILE once set
        self.missing_limits: dict[int, tuple[int, int]] = {} if missing_limits is None else missing_limits

    def __repr__(self) -> str:
        return f"TaskState({vars(self)!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is TaskState and vars(self) == vars(other)


class Process:
    """All state of the one guest process this emulator runs."""

    def __init__(self) -> None:
        self.cpu: Cpu | None = None
        self.mem: GuestMemory | None = None
        self.fds: FdTable | None = None
        self.exe = ""                 # host path of the running guest program
        self.execfn = b""             # the path execve was given for it
        self.argv: list[bytes] = []
        self.envp: list[bytes] = []
        self.auxv = b""
        self.hwcap = (0, 0)
        self.strace = False
        self.fault_signal = 0
        self.killed_by = 0            # the Linux signal that ended the process, once one did
        self.umask = 0o022
        # Hooks later layers install: deliver a fault to a guest handler
        # (returns True if the guest goes on), and work to do after a syscall.
        self.on_guest_fault = None
        self.after_syscall = None
        self.signal_hook = None       # set by the signals layer: queue a signal for delivery
        # True when this guest's parent is a guest (fork child, or exec'd by
        # one): fatal signals then kill the emulator with the real host signal.
        self.nested = False
        self.vfork_fd = -1            # fork child of a vfork: closes when it execs or exits
        self.clear_child_tid = 0
        self.entry = 0
        self.start_stack = 0          # the initial stack pointer (/proc/self/stat startstack)
        # Run once when the guest process ends (exit, fatal signal), not at exec:
        # e.g. the record of the live guest for a host without /proc (runtime/guests.py).
        self.exit_hooks: list[Callable[[], None]] = []
        # An execve replaces the image in this same process (syscalls/execve.py):
        # the handler leaves the new program in `exec_plan` and stops the CPU
        # with reason "exec"; the run loop then calls `exec_image()`, set by the
        # composition root, which loads it (None) or gives the status the
        # process ends with.  `exec_hooks` run past the point of no return, so
        # the layers above reset what belongs to the old image (POSIX timers...).
        self.exec_plan = None
        self.exec_image: Callable[[], int | None] | None = None
        self.exec_hooks: list[Callable[[], None]] = []
        self.task = TaskState()
        self.sig = SigState()             # dispositions, mask, pending (runtime/signals.py acts on it)
        self.threads = ThreadTable()      # guest threads and the scheduler's state (runtime/threads.py)
        self.syscalls: SyscallSet | None = None
        # A debugger attached to this guest (elfuse_py/gdbstub's stub, installed by
        # the composition root for -g): the run loop hands it each run of the CPU
        # and signal delivery shows it each signal.  None: no cost anywhere else.
        self.debugger = None
        # (leave, enter) around every syscall while this process is a member of
        # the execution token (runtime/exectoken.py); None: the plain hook.
        self.syscall_gate = None

    # ----- set-up -----------------------------------------------------------------

    def create_machine(self) -> None:
        """A fresh CPU and an empty guest address space (the fd table outlives execs)."""
        if self.fds is None:
            self.fds = FdTable()
            logfd = log.open_channel()       # the emulator's own stream (runtime/log.py)
            log.set_fd(self.fds.reserve(logfd) if logfd is not None else -1)
        self.cpu = Cpu()
        self.mem = GuestMemory(self.cpu.uc)

    def comm(self) -> bytes:
        """The task name: PR_SET_NAME's if the guest set one, else the basename execve was given.

        Linux takes it from the path execve was given (exec of /proc/self/exe
        is "exe", which busybox checks for), and a new image resets it.
        """
        t = self.task
        if t.comm is None or t.comm_exe != self.exe:
            name = self.execfn or os.fsencode(self.exe)
            t.comm = os.path.basename(name)[:TASK_COMM_LEN - 1]
            t.comm_exe = self.exe
        return t.comm

    def nofile(self) -> tuple[int, int]:
        """The guest's RLIMIT_NOFILE: what it set, else what the emulator was started with."""
        if self.task.nofile is None:
            soft, hard = self.fds.nominal
            return rlim_to_guest(soft), rlim_to_guest(hard)
        return self.task.nofile

    def rlimit(self, res: int) -> tuple[int, int]:
        """The guest's (soft, hard) for Linux RLIMIT_* `res`, in Linux's encoding (~0 is infinity).

        RLIMIT_NOFILE is the emulator's view (see `nofile`); a limit the host
        does not have is what the guest set, else unlimited.
        """
        if res == RLIMIT_NOFILE:
            return self.nofile()
        host = getattr(resource, RLIMIT_NAMES[res], None)
        if res in GUEST_KEPT_LIMITS:
            kept = self.task.missing_limits.get(res)
            if kept is not None:
                return kept
        elif host is None:
            return self.task.missing_limits.get(res, (LINUX_RLIM_INFINITY, LINUX_RLIM_INFINITY))
        if host is None:
            return LINUX_RLIM_INFINITY, LINUX_RLIM_INFINITY
        soft, hard = resource.getrlimit(host)
        return rlim_to_guest(soft), rlim_to_guest(hard)

    def run_exit_hooks(self) -> None:
        """The guest process ends: run `exit_hooks` once (they must not raise)."""
        hooks, self.exit_hooks = self.exit_hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001 - the guest is ending either way
                pass

    def install_hook(self) -> None:
        """Put the registered syscall table into the CPU's one syscall hook."""
        table = self.syscalls
        tracer = table.tracer(self) if self.strace and table.tracer is not None else None
        self.cpu.install_syscall_hook(self.mem, table.dispatch, self._on_cpu_exception,
                                      table.on_unknown, self._after_syscall, tracer, table.name_of,
                                      self.syscall_gate)

    def _after_syscall(self) -> None:
        if self.after_syscall is not None:
            self.after_syscall()

    def _on_cpu_exception(self, intno: int) -> None:
        self.fault_signal = _INTNO_SIGNAL.get(intno, SIGILL)
        self.cpu.stop("fault")

    def post_signal(self, sig: int) -> None:
        """Raise Linux signal `sig` in the guest (e.g. SIGPIPE after EPIPE).

        Until signal delivery exists this applies the default action of the
        signals syscalls raise synchronously: SIGPIPE terminates.
        """
        if self.signal_hook is not None:
            self.signal_hook(sig)
            return
        self.cpu.exit_status = self.terminate_by_signal(sig)
        self.cpu.stop("exit")

    # ----- running -------------------------------------------------------------------

    def exit(self, status: int) -> None:
        """End the guest with exit status `status` (called from exit/exit_group)."""
        self.cpu.exit_status = status & 0xFF
        self.cpu.stop("exit")

    def terminate_by_signal(self, sig: int, generated: bool = False) -> int:
        """End like a Linux process killed by Linux signal `sig`.

        A guest whose parent is a guest (a fork child, or an image a guest
        exec'd) dies by the real host signal, so its parent's wait sees
        WIFSIGNALED.  So does a guest killed by a sent (`generated`: kill,
        tgkill, raise, abort) signal other than the CPU-fault ones: the same
        end as when another process sends it and the host kernel applies the
        default action itself, and what the caller of a native program sees
        (`kill -TERM $$` in a script: no message, WIFSIGNALED).  At the top
        level a CPU fault (or SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP sent to
        itself) instead gives the user's shell the shell-style message and
        status 128+sig (139 for a segfault).
        """
        self.killed_by = sig
        if self.debugger is not None:
            self.debugger.on_death(sig)       # gdb hears of it first (X packet)
        if self.nested or (generated and sig not in _FAULT_SIGNALS):
            self._die_by_host_signal(sig)
        if os.environ.get("ELFUSE_DEBUG") or "--trace-faults" in sys.argv:
            from elfuse_py.runtime.faults import describe_fault   # capstone: only on a fault
            log.emit(describe_fault(self, sig))
        if sig in (2, 13):
            return 128 + sig          # shells stay silent for SIGINT and SIGPIPE
        msg = SIGNAL_MESSAGES.get(sig)
        if msg is None:
            try:
                msg = _hostsig.strsignal(to_host(sig) or 0) or f"Signal {sig}"
            except (ValueError, TypeError):
                msg = f"Signal {sig}"
        log.emit(msg + "\n")
        return 128 + sig

    def _die_by_host_signal(self, sig: int) -> None:
        self.run_exit_hooks()
        h = to_host(sig)
        if h is not None:
            try:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            except (ValueError, OSError):
                pass
            try:
                _hostsig.signal(h, _hostsig.SIG_DFL)
            except (ValueError, OSError):
                pass
            _hostsig.pthread_sigmask(_hostsig.SIG_UNBLOCK, {h})
            os.kill(os.getpid(), h)
        os._exit(128 + sig)


def rlim_to_guest(v: int) -> int:
    """A host rlimit value as the guest's: host "infinity" may be -1 (Linux) or
    2**63-1 (macOS); the guest's is ~0."""
    return LINUX_RLIM_INFINITY if v == resource.RLIM_INFINITY or v < 0 or v >= 1 << 63 else v


proc = Process()
