"""The guest process's signal state: dispositions, mask, pending set, altstack.

The state lives on the process (`proc.sig`); `signals.py` owns what is done
with it (delivery, the host side, interruption).
"""
from __future__ import annotations

from elfuse_py.runtime.signums import NSIG

SIG_DFL, SIG_IGN = 0, 1
SS_DISABLE = 2


class SigState:
    def __init__(self) -> None:
        # Per signal (index = Linux number): (handler, flags, restorer, mask)
        self.actions: list[tuple[int, int, int, int]] = [(SIG_DFL, 0, 0, 0)] * (NSIG + 1)
        self.mask = 0
        self.pending = 0                   # raised by the emulator, not (yet) in the host kernel
        self.infos: dict[int, bytes] = {}
        self.altstack = (0, SS_DISABLE, 0)
        self.interrupted = False           # a blocking syscall was cut short by a handled signal
        self.restart_x0 = 0
        # Called (sig, siginfo bytes) as a signal is delivered (--strace's `--- SIG ---`), if set.
        self.on_deliver = None
        self.restart_nr = 0
        self.saved_mask: int | None = None  # mask to restore after rt_sigsuspend's delivery
        self.undelivered = False           # the watcher keeps stopping the CPU while set
        self.arrived = 0                   # host signals seen by the watcher / by the handler
        self.seen = 0
        self.watcher = False
        self.wake_fds: tuple[int, int] | None = None
        self.trampoline = 0
        self.hold = False                  # never interrupt: a host call has completed
        # Signal waiters (signalfds, a portable sigtimedwait): runtime/sigwaiters.py.
        self.waiters: tuple = ()
        self.watched = 0                   # the signals some waiter watches (routable ones)
        # Hosts without KERNEL_QUEUE: the blocked watched signals the watcher
        # thread catches for the waiters (its host mask leaves them unblocked).
        self.catch = 0
        self.catch_hosts: frozenset = frozenset()
        self.catch_gen = 0                 # bumped per change; the watcher acks with catch_applied
        self.catch_applied = 0
        # Hosts with KERNEL_QUEUE: a host signalfd over the watched signals, polled by a thread.
        self.host_sigfd = -1
