"""The emulated process: its CPU, memory, fds and program image, and the run loop.

One emulator process runs one guest process, so the state lives in the module
singleton `proc`, which syscall handlers import directly (a global lookup is
the cheapest way to reach it from the hot path).
"""
from __future__ import annotations

import os
import signal as _hostsig
import sys

from . import log
from .cpu import REG_PC, REG_SP, REG_TPIDR_EL0, Cpu
from .fdtable import FdTable
from .memory import INTERP_BASE, PAGE, GuestMemory, page_up

# What Linux shells print for a child killed by a signal (strsignal's wording).
SIGNAL_MESSAGES = {
    4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
    8: "Floating point exception", 11: "Segmentation fault", 31: "Bad system call",
}
SIGILL, SIGTRAP, SIGBUS, SIGSEGV = 4, 5, 7, 11
_FAULT_SIGNALS = {SIGILL, SIGTRAP, SIGBUS, 8, SIGSEGV}      # 8: SIGFPE

# unicorn uc_err -> the Linux signal a real CPU fault would raise
_UC_ERR_SIGNAL = {6: SIGSEGV, 7: SIGSEGV, 8: SIGSEGV, 12: SIGSEGV, 13: SIGSEGV, 14: SIGSEGV,
                  10: SIGILL, 16: SIGBUS, 17: SIGBUS, 18: SIGBUS, 21: SIGILL}
# unicorn interrupt numbers (qemu EXCP_*) other than SVC -> Linux signal
_INTNO_SIGNAL = {1: SIGILL, 7: SIGTRAP, 3: SIGSEGV, 4: SIGSEGV}


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

    # ----- set-up -----------------------------------------------------------------

    def boot(self, path: str, argv: list[bytes], envp: list[bytes], *, strace: bool = False,
             execfn: bytes | None = None) -> None:
        """Create the CPU and memory, load `path` (and its interpreter), build the stack."""
        from loader.elf import load_elf
        from loader.hwcaps import compute_hwcaps
        from loader import stack as st

        if self.fds is None:
            self.fds = FdTable()
            try:
                logfd = os.dup(2)
            except OSError:
                # Started with stderr closed: the guest must find fd 2 closed
                # too, so the emulator's diagnostics go nowhere, as its would.
                logfd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            log.set_fd(self.fds.reserve(logfd))
        self.cpu = cpu = Cpu()
        self.mem = mem = GuestMemory(cpu.uc)
        self.strace = strace
        image = load_elf(mem, path)
        entry = image.entry
        interp_base = 0
        if image.interp:
            from .paths import host_path
            interp = load_elf(mem, host_path(os.fsencode(image.interp)), base=INTERP_BASE)
            interp_base, entry = interp.base, interp.entry
        mem.brk_start = mem.brk_cur = page_up(image.brk)
        st.map_stack(mem)
        self.hwcap = compute_hwcaps(cpu.sysreg)
        uid, gid = os.getuid(), os.getgid()
        auxv = [
            (st.AT_PHDR, image.phdr), (st.AT_PHENT, image.phent), (st.AT_PHNUM, image.phnum),
            (st.AT_PAGESZ, PAGE), (st.AT_BASE, interp_base), (st.AT_FLAGS, 0),
            (st.AT_ENTRY, image.entry), (st.AT_UID, uid), (st.AT_EUID, os.geteuid()),
            (st.AT_GID, gid), (st.AT_EGID, os.getegid()), (st.AT_SECURE, 0),
            (st.AT_HWCAP, self.hwcap[0]), (st.AT_HWCAP2, self.hwcap[1]),
            (st.AT_CLKTCK, os.sysconf("SC_CLK_TCK")), (st.AT_MINSIGSTKSZ, st.MINSIGSTKSZ),
        ]
        sp, self.auxv = st.build_stack(mem, argv, envp, auxv,
                                       execfn if execfn is not None else os.fsencode(path))
        self.exe = image.path
        # The name execve was given (/proc/self/exe, a script): Linux takes the
        # task name (comm) from it, not from the file it resolved to.
        self.execfn = execfn if execfn is not None else os.fsencode(path)
        self.argv, self.envp = argv, envp
        from .procfs import publish_host_identity
        publish_host_identity(argv, os.path.basename(self.execfn))
        cpu.set_reg(REG_SP, sp)
        cpu.set_reg(REG_TPIDR_EL0, 0)
        self.entry = entry
        self.install_hook()

    def install_hook(self) -> None:
        import syscalls
        from syscalls.strace import Tracer

        tracer = Tracer(self).trace if self.strace else None
        self.cpu.install_syscall_hook(syscalls.dispatch_list(), self._on_cpu_exception,
                                      syscalls.on_unknown, self._after_syscall, tracer)

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

    def run(self, carried_signals: dict | None = None) -> int:
        """Run until the guest exits; returns the status for the host process."""
        from . import signals, threads
        signals.setup(self, carried_signals)
        cpu = self.cpu
        pc = self.entry
        cpu.set_reg(REG_PC, pc)
        while True:
            if cpu.pending:
                # Signals to deliver before the guest runs on (they may end it).
                cpu.stop_reason = None
                signals.deliver_pending()
                if cpu.stop_reason == "exit":
                    return cpu.exit_status
                pc = cpu.reg(REG_PC)
            # (threads.sliced: a process single-threaded again keeps counted slices a
            # while, since each switch of mode costs a retranslation)
            err = cpu.start(pc) if len(threads.threads) < 2 and not threads.sliced() \
                else threads.start(pc)
            reason = cpu.stop_reason
            if reason == "exit":
                return cpu.exit_status
            if reason == "switch" or (reason is None and not err and threads._preempt):
                pc = threads.switch()       # another guest thread's turn (elfuse_py.threads)
                continue
            if reason == "fault":
                sig = self.fault_signal
            elif err:
                sig = _UC_ERR_SIGNAL.get(err, SIGSEGV)
            else:
                # Stopped on request (a host signal arrived): deliver, then
                # resume where the CPU is.
                cpu.pending = True
                pc = cpu.reg(REG_PC)
                continue
            if self.on_guest_fault is not None and self.on_guest_fault(sig):
                pc = cpu.reg(REG_PC)
                continue
            return self.terminate_by_signal(sig)

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
        if self.nested or (generated and sig not in _FAULT_SIGNALS):
            self._die_by_host_signal(sig)
        if os.environ.get("ELFUSE_DEBUG") or "--trace-faults" in sys.argv:
            from .faults import describe_fault
            log.emit(describe_fault(self, sig))
        if sig in (2, 13):
            return 128 + sig          # shells stay silent for SIGINT and SIGPIPE
        msg = SIGNAL_MESSAGES.get(sig)
        if msg is None:
            from .signals import to_host
            try:
                msg = _hostsig.strsignal(to_host(sig) or 0) or f"Signal {sig}"
            except (ValueError, TypeError):
                msg = f"Signal {sig}"
        log.emit(msg + "\n")
        return 128 + sig

    def _die_by_host_signal(self, sig: int) -> None:
        import resource
        from .signals import to_host
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


proc = Process()
