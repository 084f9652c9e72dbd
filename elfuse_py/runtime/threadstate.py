"""The process's guest threads as data: one record per thread, and the table the scheduler keeps.

The table lives on the process (`proc.threads`); `threads.py` owns what is
done with it (clone, futex queues, parking, the scheduler).
"""
from __future__ import annotations

# collections.deque itself: the `collections` package (namedtuple, OrderedDict...)
# costs ~1.5 ms of every start-up.
from _collections import deque

from elfuse_py.runtime import lerrno

RUN, WAIT, DEAD = 0, 1, 2
FUTEX_BITSET_ANY = 0xFFFFFFFF


class Thread:
    """One guest thread's saved state."""

    __slots__ = ("tid", "ctx", "state", "result", "key", "bitset", "deadline", "timeout_result",
                 "shared_val", "block_pc", "mask", "altstack", "saved_mask", "clear_child_tid",
                 "sigpending", "exit_status", "pollset", "restart_x0", "on_timeout", "check",
                 "cleanup", "on_ready", "on_eintr", "sig_restart_x0", "pi", "waitv")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.ctx = None               # uc_context ** (None for the running thread until a switch)
        self.state = RUN
        self.result: int | None = None   # X0 to set when the thread runs again
        self.key: int | None = None   # futex address waited on (None: a plain sleep)
        self.bitset = FUTEX_BITSET_ANY
        self.deadline: int | None = None  # CLOCK_MONOTONIC ns
        self.timeout_result = -lerrno.ETIMEDOUT
        self.shared_val: int | None = None   # non-private futex: the value waited on (polled)
        self.block_pc = 0
        self.mask = 0
        self.altstack = (0, 2, 0)     # SS_DISABLE
        self.saved_mask = None
        self.clear_child_tid = 0
        self.sigpending: dict[int, bytes] = {}
        self.exit_status = 0
        self.pollset: dict[int, int] | None = None   # host fd -> host poll events waited for
        self.restart_x0: int | None = None   # fd wait: X0 to restore when the syscall restarts
        self.on_timeout = None        # fd wait: callable giving the result at the deadline
        self.check = None             # fd wait: callable, True when the syscall may restart
        self.cleanup = None           # fd wait: callable run once when the wait ends
        self.on_ready = None          # fd wait: continue the call (None: keep waiting)
        self.on_eintr = None          # fd wait: the result when a signal interrupts it
        self.sig_restart_x0: int | None = None   # interrupted fd wait: X0 for an SA_RESTART re-run
        self.pi = False               # futex wait: a FUTEX_LOCK_PI waiter (the unlocker hands it the lock)
        self.waitv: list[int] | None = None   # futex_waitv: every address waited on, in order


class ThreadTable:
    """The process's threads and the scheduler's state; it lives on the process (`proc.threads`)."""

    def __init__(self) -> None:
        self.live: dict[int, Thread] = {}       # live threads by tid (empty while single-threaded)
        self.current: Thread | None = None
        self.runq: deque = deque()   # runnable threads other than `current`
        self.waiters: dict[int, list] = {}      # futex address -> waiting threads, FIFO
        self.sleepers: list = []                # threads in a timed wait without a futex (nanosleep)
        self.next_tid = 1
        self.preempt = False
        self.next_check: int | None = None      # monotonic ns when a waiting thread needs a look (timeout)
        self.leader_status: int | None = None   # exit status of the main thread if it exited first
        self.counted = False                    # time slices by instruction count are on (no native hook)
        self.unbounded = False                  # a run without time slices is under way (threads._kick)
        self.slices_wanted = False              # always sliced: a member of the execution token (exectoken.py)
        self.preempter = None                   # the engine's preempt.BlockPreempter, once made
        self.directed = 0                       # pending signals sent to the running thread itself
        self.in_switch = False                  # threads.switch is under way (T.current not settled)
        self.on_multi: list = []                # called when a second thread appears (registered at boot)
        # Called (tid, result) when a parked thread resumes with the result its
        # syscall finished with (--strace's `<... resumed>` line), if set.
        self.on_result = None
        self.robust: dict[int, int] = {}        # tid -> its robust list head (set_robust_list)
        self.on_exit: list = []                 # called with a tid when that thread exits (robust futexes)
