"""The gdb stub proper: answers gdb's packets and runs the guest as gdb says.

The run loop (runtime/runloop.py) hands control here through `proc.debugger`:

* `start(pc)` replaces one uc_emu_start.  The guest always runs in counted
  slices while gdb is attached: a slice of SLICE_INSNS instructions for
  `continue`, one instruction for a single step.  Between slices the stub
  looks at its socket for gdb's Ctrl-C (a 0x03 byte).  Counting stops the
  engine exactly at an instruction boundary; an asynchronous uc_emu_stop from
  another thread could replay part of a translation block (see `threads.start`).
* Software (Z0) and hardware (Z1) breakpoints are unicorn code hooks limited
  to their one address: translated code elsewhere carries no hook, and the
  block holding the address is dropped from unicorn's cache (TB_REMOVE_CACHE)
  so that it is translated again with the hook.  A hook stops the engine
  before the instruction runs; resuming on a breakpoint executes that one
  instruction with the hook muted, as a stepping-over debugger expects.
  Watchpoints (Z2-Z4) are memory hooks: watch.py.
* `on_signal(sig)`: a signal is about to be delivered to the guest (a CPU
  fault from the run loop, any other from signal delivery).  gdb sees a stop
  with it and decides: `C sig` delivers (maybe another), `c` discards it.
* `on_exit(status)` / `on_death(sig)`: the guest ended; gdb gets W / X.

None of this exists when -g is not given: `proc.debugger` stays None and the
run loop takes its usual path (one attribute test per run-loop turn).

Threads are gdb threads with the guest's tids (the main thread's is the pid).
All-stop only: every guest thread stops when one does, since they share the
one engine anyway.  A step of one thread lets the others run in their turn
(gdb's default, scheduler-locking off).

A fork child runs without the stub (its hooks are removed and the connection
closed in the child, as qemu-user does).  execve ends the session: gdb's
console gets a line saying so, then the connection closes (gdb: "Remote
connection closed") and the new image runs undebugged.
"""
from __future__ import annotations

import os

from elfuse_py.gdbstub import gdbsig
from elfuse_py.gdbstub.hostio import HostIO
from elfuse_py.gdbstub.packets import Connection, Disconnected, escape, unescape
from elfuse_py.gdbstub.target import REGISTERS, REGNUM_FP, REGNUM_PC, REGNUM_SP, TARGET_XML, RegisterFile
from elfuse_py.gdbstub.watch import Watchpoints
from elfuse_py.runtime import exectoken, log, signals, threads
from elfuse_py.runtime.cpu import REG_PC
from elfuse_py.runtime.memory import PROT_WRITE
from elfuse_py.runtime.uc import check, ffi, lib, uc_ctl_write

UC_HOOK_CODE = 4
UC_CTL_TB_REMOVE_CACHE = 9
NEVER = (1 << 64) - 1
SLICE = threads.SLICE_INSNS
SIGINT, SIGKILL, SIGTRAP = 2, 9, 5
E_FAULT = b"E0e"            # EFAULT: memory that is not there
E_INVAL = b"E16"            # EINVAL: a malformed or impossible request
MAX_MEM = 0x4000            # bytes per m/M packet (PacketSize is twice this in hex)

SUPPORTED = (b"PacketSize=%x;qXfer:features:read+;qXfer:auxv:read+;qXfer:exec-file:read+;"
             b"QStartNoAckMode+;QPassSignals+;vContSupported+;multiprocess-" % (2 * MAX_MEM + 32))

# Stubs whose hooks unicorn may still point to (a fork child drops its stub
# from inside the syscall hook): keep their callbacks alive.
_retired: list = []


class Stub:
    """One gdb connection debugging the guest of `proc`."""

    def __init__(self, conn: Connection, proc) -> None:
        self.conn = conn
        self.proc = proc
        self.cpu = proc.cpu
        self.uc = proc.cpu.uc
        self.bps: dict[int, object] = {}       # address -> uc_hook handle (Z0 and Z1 alike)
        self.watches = Watchpoints(proc.cpu)   # Z2-Z4
        self.hostio = HostIO(2 * MAX_MEM)      # vFile: the guest's files for gdb
        self.skip = None                       # a breakpoint address muted for one step
        self.first = True                      # the stop before the first instruction
        self.mode = "c"                        # how gdb resumed: "c" continue, "s" step
        self.step_tid: int | None = None
        self.step_crossed = False              # the step's instruction blocked the thread
        self.resume_signal = 0                 # the Linux signal gdb resumed with (C/S)
        self.injected = 0                      # ... and raised after a stop that was no signal
        self.in_run = False                    # inside our uc_emu_start (hooks run there)
        self.reported_in_run = False           # a signal stop was served from inside it
        self.g_tid: int | None = None          # thread of g/G/p/P (None: the stopped one)
        self.last_stop = b"S05"                # (made a T packet with the thread at the first stop)
        self.pass_signals: set[int] = set()    # gdb numbers: deliver without stopping
        self._noack = False
        self._cb = ffi.callback("void(uc_engine *, uint64_t, uint32_t, void *)", self._on_breakpoint)
        self.handlers = {
            b"?": lambda p: self.last_stop, b"g": self._get_regs, b"G": self._set_regs,
            b"p": self._get_reg, b"P": self._set_reg, b"m": self._read_mem, b"M": self._write_mem,
            b"X": self._write_bin, b"Z": self._insert, b"z": self._remove, b"H": self._set_thread,
            b"T": self._thread_alive, b"q": self._query, b"Q": self._set, b"v": self._v,
            b"c": self._cont, b"C": self._cont, b"s": self._cont, b"S": self._cont,
            b"D": self._detach, b"k": self._kill,
        }
        os.register_at_fork(after_in_child=self._forked)

    # ----- the run loop's side ------------------------------------------------------

    def start(self, pc: int) -> int:
        """Run the guest for one slice (or one step) as gdb asked; returns unicorn's error."""
        cpu = self.cpu
        if self.first:                         # gdb asks '?' and looks around first
            self.first = False
            return self._stop(SIGTRAP, announce=False)
        if self.watches.hit is not None:       # the access ended the last run: stop before more
            return self._stop(SIGTRAP)
        tid = threads.gettid()
        if self.mode == "s" and (self.step_tid in (None, tid) or self.step_tid not in _tids()):
            if self.step_crossed:              # its syscall returned: the step is done
                self.step_crossed = False
                return self._stop(SIGTRAP)
            err = self._run(pc, 1)
            if self._served_during_run():
                return err
            if self.proc.debugger is not self or err or cpu.stop_reason in ("exit", "fault"):
                return err                     # the run loop reports faults and the end
            if cpu.stop_reason == "switch":    # blocked, yielded or left: done when it runs again
                self.step_crossed = True
                return err
            return self._stop(SIGTRAP)
        err = self._run(pc, SLICE)
        if self.proc.debugger is not self or self._served_during_run():
            return err                         # (a fork child, or detached)
        if cpu.stop_reason == "debug":
            return self._stop(SIGTRAP)
        if err or cpu.stop_reason is not None:
            return err
        try:
            if self.conn.poll_interrupt():
                return self._stop(SIGINT)
        except Disconnected:
            self._drop()
            return 0
        if threads.multi():
            self.proc.threads.preempt = True   # the slice ended: the next thread's turn
        return 0

    def _served_during_run(self) -> bool:
        """True (once) when gdb was served during the last run: its new orders apply from the next."""
        if self.reported_in_run:
            self.reported_in_run = False
            return True
        return False

    def on_signal(self, sig: int) -> int:
        """Signal `sig` is about to reach the guest: gdb decides; returns the one to deliver (0: none)."""
        if sig == SIGKILL or gdbsig.to_gdb(sig) in self.pass_signals:
            return sig
        if sig == self.injected:               # gdb's own `signal SIG`: not shown to it again
            self.injected = 0
            return sig
        self._report(sig)
        if self.proc.debugger is not self:
            return sig                         # gdb went away: the signal takes its course
        if self.in_run:
            # Delivery after a syscall runs inside the syscall hook, in the middle
            # of a run: end that run after the syscall, so that the next `start`
            # follows what gdb asked (a step must not become the rest of a slice).
            self.reported_in_run = True
            lib.uc_emu_stop(self.uc)
        out, self.resume_signal = self.resume_signal, 0
        return out

    def on_exit(self, status: int) -> None:
        self._finish(b"W%02x" % (status & 0xFF))

    def on_exec(self, path: str) -> None:
        """The guest execs: say so on gdb's console; the new image runs undebugged."""
        msg = f"elfuse-py: the guest execs {path}; the new image runs without the debugger\n"
        try:
            self.conn.send(b"O" + msg.encode().hex().encode())
        except Disconnected:
            pass
        self._drop(drain=0)

    def on_death(self, sig: int) -> None:
        self._finish(b"X%02x" % gdbsig.to_gdb(sig))

    # ----- running and stopping ---------------------------------------------------------

    def _run(self, pc: int, count: int) -> int:
        self.in_run = True
        try:
            if exectoken.member:
                # Holding the execution token only while the guest runs: never
                # while gdb's prompt waits (runtime/exectoken.py).
                return exectoken.run(lambda p: self._run_counted(p, count), pc)
            return self._run_counted(pc, count)
        finally:
            self.in_run = False

    def _run_counted(self, pc: int, count: int) -> int:
        cpu = self.cpu
        cpu.stop_reason = None
        if pc in self.bps:
            # Resuming on a breakpoint: run its instruction with the hook muted.
            self.skip = pc
            try:
                err = lib.uc_emu_start(self.uc, pc, NEVER, 0, 1)
            finally:
                self.skip = None
            if err or cpu.stop_reason is not None or count == 1:
                return err
            pc = cpu.reg(REG_PC)
            count -= 1
        return lib.uc_emu_start(self.uc, pc, NEVER, 0, count)

    def _on_breakpoint(self, _uc, addr, _size, _data) -> None:
        if addr != self.skip and addr in self.bps:
            self.cpu.stop("debug")

    def _stop(self, sig: int, announce: bool = True) -> int:
        """The guest stopped for gdb (breakpoint, step, Ctrl-C): report, serve, resume."""
        self._report(sig, announce)
        if self.resume_signal:                 # `signal SIG` after a plain stop: raise it
            self.injected = self.resume_signal
            self.resume_signal = 0
            signals.queue(self.injected)
        # The run loop resumes at the (maybe changed) PC; nothing ran this turn.
        self.cpu.stop_reason = None
        return 0

    def _report(self, sig: int, announce: bool = True) -> None:
        """Tell gdb (waiting for a stop) that the guest stopped with `sig`; serve until it resumes.
        The first stop is not announced: gdb asks for it with '?'."""
        tid = threads.gettid()
        regs = RegisterFile(self.cpu)
        expedite = b"".join(b"%02x:%s;" % (n, regs.read(n).hex().encode())
                            for n in (REGNUM_FP, REGNUM_SP, REGNUM_PC))
        hit = self.watches.take()
        if hit is not None:                    # a watchpoint: "watch:ADDR;" says which access
            expedite += b"%s:%x;" % hit
        self.last_stop = b"T%02xthread:%x;%s" % (gdbsig.to_gdb(sig), tid, expedite)
        self.g_tid = None
        try:
            if announce:
                self.conn.send(self.last_stop)
        except Disconnected:
            self._drop()
            return
        self._serve()

    def _serve(self) -> None:
        """Answer gdb's packets until it resumes the guest (or leaves)."""
        self.conn.interrupted = False
        while self.proc.debugger is self:
            try:
                pkt = self.conn.read_packet()
                handler = self.handlers.get(pkt[:1])
                try:
                    reply = handler(pkt) if handler is not None else b""
                except (Disconnected, SystemExit):
                    raise
                except Exception as e:  # noqa: BLE001 - a stub bug fails the packet, not the guest
                    log.emit(f"elfuse-py: gdb stub: internal error on {pkt[:16]!r}: "
                             f"{type(e).__name__}: {e}\n")
                    reply = E_INVAL
                if reply is None:              # resumed
                    self.conn.interrupted = False
                    return
                self.conn.send(reply)
                if self._noack:
                    self.conn.ack = self._noack = False
            except Disconnected:
                self._drop()
                return

    def _finish(self, packet: bytes) -> None:
        """The guest ended: the last packet gdb gets."""
        try:
            self.conn.send(packet)
        except Disconnected:
            pass
        self._drop()

    def _drop(self, drain: float = 1.0) -> None:
        """End the session; the guest runs on without a debugger."""
        self.proc.debugger = None
        for addr in list(self.bps):
            self._unhook(addr)
        self.watches.clear()
        self.proc.cpu.exit_checks(False)      # (see gdbstub.attach)
        self.conn.close(drain)

    def _forked(self) -> None:
        """In a fork child (inside the syscall hook): run on without gdb, leave the parent's connection be."""
        if self.proc.debugger is not self:
            return
        self.proc.debugger = None
        _retired.append(self)
        for h in self.bps.values():
            lib.uc_hook_del(self.uc, h[0])   # a deleted hook is not called; its blocks may stay
        self.bps.clear()
        self.watches.clear(flush=False)
        try:
            self.conn.sock.close()
        except OSError:
            pass

    # ----- breakpoints -------------------------------------------------------------------

    def _drop_cache(self, addr: int, size: int) -> None:
        lib.uc_ctl(self.uc, uc_ctl_write(UC_CTL_TB_REMOVE_CACHE, 2),
                   ffi.cast("uint64_t", addr), ffi.cast("uint64_t", addr + size))

    def _hook(self, addr: int) -> None:
        if addr in self.bps:
            return
        h = ffi.new("uc_hook *")
        check(lib.uc_hook_add(self.uc, h, UC_HOOK_CODE, self._cb, ffi.NULL, addr, addr), "breakpoint")
        self.bps[addr] = h
        self._drop_cache(addr, 4)

    def _unhook(self, addr: int) -> None:
        h = self.bps.pop(addr, None)
        if h is not None:
            lib.uc_hook_del(self.uc, h[0])
            self._drop_cache(addr, 4)

    def _insert(self, pkt: bytes) -> bytes:
        kind, addr, length = _bp_args(pkt)
        if addr is None:
            return E_INVAL
        if kind in (0, 1):                     # software and hardware breakpoints alike
            self._hook(addr)
            return b"OK"
        return b"OK" if self.watches.add(kind, addr, length) else b""

    def _remove(self, pkt: bytes) -> bytes:
        kind, addr, length = _bp_args(pkt)
        if addr is None:
            return E_INVAL
        if kind in (0, 1):
            self._unhook(addr)
            return b"OK"
        return b"OK" if self.watches.remove(kind, addr, length) else b""

    # ----- registers ------------------------------------------------------------------------

    def _regs(self) -> RegisterFile | None:
        tid = self.g_tid
        if tid is None or tid <= 0 or tid == threads.gettid():
            return RegisterFile(self.cpu)
        t = self.proc.threads.live.get(tid)
        if t is None or t.ctx is None:
            return None
        return RegisterFile(self.cpu, t.ctx[0])

    def _get_regs(self, pkt: bytes) -> bytes:
        regs = self._regs()
        return E_INVAL if regs is None else regs.read_all().hex().encode()

    def _set_regs(self, pkt: bytes) -> bytes:
        regs = self._regs()
        try:
            data = bytes.fromhex(pkt[1:].decode())
        except ValueError:
            return E_INVAL
        if regs is None:
            return E_INVAL
        regs.write_all(data)
        return b"OK"

    def _get_reg(self, pkt: bytes) -> bytes:
        regs = self._regs()
        try:
            n = int(pkt[1:], 16)
        except ValueError:
            return E_INVAL
        if regs is None or not 0 <= n < len(REGISTERS):
            return E_INVAL
        return regs.read(n).hex().encode()

    def _set_reg(self, pkt: bytes) -> bytes:
        regs = self._regs()
        try:
            n, _, val = pkt[1:].partition(b"=")
            n = int(n, 16)
            data = bytes.fromhex(val.decode())
            if regs is None or not 0 <= n < len(REGISTERS):
                return E_INVAL
            regs.write(n, data)
        except ValueError:
            return E_INVAL
        return b"OK"

    # ----- memory -------------------------------------------------------------------------------

    def _span(self, addr: int, size: int, write: bool) -> int:
        """How many bytes from `addr` (at most `size`) are mapped guest memory gdb may touch."""
        mem = self.proc.mem
        done = 0
        while done < size:
            r = mem.region_at(addr + done)
            if r is None or (write and r.file and not r.prot & PROT_WRITE):
                break               # (a read-only shared file mapping is read-only on the host too)
            done = min(size, r.end - addr)
        return done

    def _read_mem(self, pkt: bytes) -> bytes:
        addr, size = _addr_len(pkt[1:])
        if addr is None:
            return E_INVAL
        n = self._span(addr, min(size, MAX_MEM), write=False)
        if n == 0 and size:
            return E_FAULT
        return bytes(self.proc.mem.window[addr:addr + n]).hex().encode()

    def _store(self, addr: int, data: bytes) -> bytes:
        if self._span(addr, len(data), write=True) < len(data):
            return E_FAULT
        if data:
            self.proc.mem.window[addr:addr + len(data)] = data
            self._drop_cache(addr, len(data))     # gdb may have patched code
        return b"OK"

    def _write_mem(self, pkt: bytes) -> bytes:
        head, _, hexdata = pkt[1:].partition(b":")
        addr, size = _addr_len(head)
        try:
            data = bytes.fromhex(hexdata.decode())
        except ValueError:
            return E_INVAL
        if addr is None or len(data) != size:
            return E_INVAL
        return self._store(addr, data)

    def _write_bin(self, pkt: bytes) -> bytes:
        head, _, raw = pkt[1:].partition(b":")
        addr, size = _addr_len(head)
        data = unescape(raw)
        if addr is None or len(data) != size:
            return E_INVAL
        return self._store(addr, data)

    # ----- threads and resuming ----------------------------------------------------------

    def _set_thread(self, pkt: bytes) -> bytes:
        op, tid = pkt[1:2], _tid(pkt[2:])
        if tid is None or (tid > 0 and tid not in _tids()):
            return E_INVAL
        if op == b"g":
            self.g_tid = tid if tid > 0 else None
        return b"OK"                          # Hc: vCont says which thread steps

    def _thread_alive(self, pkt: bytes) -> bytes:
        tid = _tid(pkt[1:])
        return b"OK" if tid is not None and tid in _tids() else b"E01"

    def _resume(self, mode: str, tid: int | None, sig: int, addr: int | None = None) -> None:
        self.mode = mode
        self.step_tid = tid if tid and tid > 0 else threads.gettid()
        self.step_crossed = False
        self.resume_signal = gdbsig.from_gdb(sig)
        if addr is not None:
            self.cpu.set_reg(REG_PC, addr)

    def _cont(self, pkt: bytes) -> bytes | None:
        """c [addr], s [addr], C sig[;addr], S sig[;addr]."""
        op, rest = pkt[:1], pkt[1:]
        sig = 0
        if op in (b"C", b"S"):
            s, _, rest = rest.partition(b";")
            try:
                sig = int(s, 16)
            except ValueError:
                return E_INVAL
        try:
            addr = int(rest, 16) if rest else None
        except ValueError:
            return E_INVAL
        self._resume("s" if op in (b"s", b"S") else "c", None, sig, addr)
        return None

    def _vcont(self, actions: bytes) -> bytes | None:
        """vCont;ACTION[:TID];...: a step of some thread makes it a step (the
        others run in their turns); otherwise everything continues."""
        acts = []
        for item in actions.split(b";"):
            act, _, t = item.partition(b":")
            tid = _tid(t) if t else -1
            if act[:1] not in (b"c", b"C", b"s", b"S") or tid is None:
                return E_INVAL
            acts.append((act, tid))
        step = next(((a, t) for a, t in acts if a[:1] in (b"s", b"S")), None)
        act, tid = step if step is not None else acts[0]
        try:
            sig = int(act[1:], 16) if act[:1] in (b"C", b"S") else 0
        except ValueError:
            return E_INVAL
        self._resume("s" if step is not None else "c", tid, sig)
        return None

    def _v(self, pkt: bytes) -> bytes | None:
        if pkt == b"vCont?":
            return b"vCont;c;C;s;S"
        if pkt.startswith(b"vCont;"):
            return self._vcont(pkt[6:])
        if pkt.startswith(b"vFile:"):
            return self.hostio.handle(pkt)
        if pkt.startswith(b"vKill"):
            self._kill(pkt)
        return b""

    def _detach(self, pkt: bytes) -> None:
        try:
            self.conn.send(b"OK")
        except Disconnected:
            pass
        self._drop()
        return None

    def _kill(self, pkt: bytes) -> None:
        """k / vKill: the guest dies as by SIGKILL (gdb expects no answer to k)."""
        if pkt.startswith(b"vFile:"):
            return self.hostio.handle(pkt)
        if pkt.startswith(b"vKill"):
            try:
                self.conn.send(b"OK")
            except Disconnected:
                pass
        self.proc.debugger = None
        self.conn.close(drain=0)
        self.proc.terminate_by_signal(SIGKILL, generated=True)     # does not return
        os._exit(128 + SIGKILL)

    # ----- queries ---------------------------------------------------------------------------

    def _query(self, pkt: bytes) -> bytes:
        if pkt.startswith(b"qSupported"):
            return SUPPORTED
        if pkt.startswith(b"qXfer:"):
            return self._xfer(pkt)
        if pkt == b"qC":
            return b"QC%x" % threads.gettid()
        if pkt == b"qfThreadInfo":
            return b"m" + b",".join(b"%x" % t for t in _tids())
        if pkt == b"qsThreadInfo":
            return b"l"
        if pkt.startswith(b"qAttached"):
            return b"0"                        # started by us: gdb kills it when it quits
        if pkt.startswith(b"qSymbol"):
            return b"OK"
        return b""

    def _xfer(self, pkt: bytes) -> bytes:
        """qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH."""
        parts = pkt.split(b":", 4)
        if len(parts) != 5 or parts[2] != b"read":
            return b""
        obj, annex, span = parts[1], parts[3], parts[4]
        off, length = _addr_len(span)
        if off is None:
            return E_INVAL
        if obj == b"features":
            if annex != b"target.xml":
                return b"E00"
            data = TARGET_XML
        elif obj == b"auxv":
            data = self.proc.auxv
        elif obj == b"exec-file":
            data = os.fsencode(self.proc.exe)
        else:
            return b""
        chunk = data[off:off + length]
        return (b"l" if off + length >= len(data) else b"m") + escape(chunk)

    def _set(self, pkt: bytes) -> bytes:
        if pkt == b"QStartNoAckMode":
            self._noack = True                 # after this OK (which gdb still acknowledges)
            return b"OK"
        if pkt.startswith(b"QPassSignals:"):
            try:
                self.pass_signals = {int(s, 16) for s in pkt[13:].split(b";") if s}
            except ValueError:
                return E_INVAL
            return b"OK"
        return b""


# ----- parsing -----------------------------------------------------------------------------

def _tids() -> list[int]:
    live = list(threads.T.live)
    return live or [threads.gettid()]


def _tid(text: bytes) -> int | None:
    """A thread id: hex, -1 (all) or 0 (any); None if malformed."""
    if text.startswith(b"p"):                 # (multiprocess form, if gdb uses it anyway)
        text = text.partition(b".")[2] or b"-1"
    try:
        return -1 if text == b"-1" else int(text, 16)
    except ValueError:
        return None


def _addr_len(text: bytes) -> tuple[int | None, int]:
    a, _, n = text.partition(b",")
    try:
        return int(a, 16), int(n, 16)
    except ValueError:
        return None, 0


def _bp_args(pkt: bytes) -> tuple[int, int | None, int]:
    """Z/z TYPE,ADDR,KIND (KIND: a breakpoint's instruction size, a watchpoint's length)."""
    fields = pkt[1:].split(b",")
    try:
        return int(fields[0], 16), int(fields[1], 16), int(fields[2].split(b";")[0], 16)
    except (ValueError, IndexError):
        return -1, None, 0
