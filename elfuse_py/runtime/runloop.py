"""The run loop: run the guest until it exits, delivering signals and switching threads.

It sits above the process, signal and thread layers and ties them together:
the CPU runs until something stops it (exit, a fault, a host signal, the end
of a thread's time slice, an execve), and the loop decides what happens next.
"""
from __future__ import annotations

from elfuse_py.runtime import exectoken, signals, threads
from elfuse_py.runtime.cpu import REG_PC
from elfuse_py.runtime.process import UC_ERR_EXCEPTION, UC_ERR_SIGNAL, SIGSEGV, Process


def run(proc: Process, carried_signals: dict | None = None) -> int:
    """Run until the guest exits; returns the status for the host process."""
    signals.setup(carried_signals)
    cpu = proc.cpu
    mem = proc.mem
    pc = proc.entry
    cpu.set_reg(REG_PC, pc)
    while True:
        if cpu.pending:
            # Signals to deliver before the guest runs on (they may end it).
            cpu.stop_reason = None
            signals.deliver_pending()
            if cpu.stop_reason == "exit":
                return cpu.exit_status
            pc = cpu.reg(REG_PC)
        # (threads.sliced: while time slices are on, threads.start decides when
        # they go off, since each switch of mode costs a retranslation)
        mem.fault_addr = None
        if proc.debugger is not None:
            err = proc.debugger.start(pc)     # gdb attached: it says how far to run
        elif exectoken.member:
            err = exectoken.run(threads.start, pc)  # shares writable memory: runs holding the token
        elif not threads.multi() and not threads.sliced() and not signals.needs_exact_stops():
            err = threads.run_alone(pc)     # (no handler: an asynchronous stop is harmless)
        else:
            err = threads.start(pc)
        reason = cpu.stop_reason
        if reason == "exit":
            return cpu.exit_status
        if reason == "exec":
            # execve passed its checks: the new image replaces this one here,
            # in the same process (its failure from now on ends the process).
            status = proc.exec_image()
            if status is not None:
                return status
            pc = proc.entry
            cpu.set_reg(REG_PC, pc)
            cpu.pending = True          # signals pending across the exec stay pending
            continue
        if reason == "resched":
            pc = cpu.reg(REG_PC)        # another thread became runnable: slices back on
            continue
        if reason == "switch" or (reason is None and not err and threads.preempt_requested()):
            pc = threads.switch()       # another guest thread's turn (elfuse_py.runtime.threads)
            continue
        fault_addr = None       # not a memory access (si_addr is then the PC)
        if reason == "fault":
            sig = proc.fault_signal
        elif err == UC_ERR_EXCEPTION and mem.fault_addr is not None:
            sig = SIGSEGV       # the TLB fill refused an access (runtime/cpu.py attach_memory)
            fault_addr = mem.fault_addr         # the handler's si_addr
        elif err:
            sig = UC_ERR_SIGNAL.get(err, SIGSEGV)
        else:
            # Stopped on request (a host signal arrived): deliver, then
            # resume where the CPU is.
            cpu.pending = True
            pc = cpu.reg(REG_PC)
            continue
        if proc.debugger is not None:
            # gdb sees the fault first and may discard it (then the
            # instruction runs again) or hand another signal.
            sig = proc.debugger.on_signal(sig)
            if not sig:
                pc = cpu.reg(REG_PC)
                continue
        if proc.on_guest_fault is not None and proc.on_guest_fault(sig, fault_addr):
            pc = cpu.reg(REG_PC)
            continue
        return proc.terminate_by_signal(sig)
