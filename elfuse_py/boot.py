"""The composition root: the one place where the floors are wired together.

The CLI, the Python API's in-process paths and the exec'd image all start a
guest here.  Boot order:

1. the host floor was chosen when `elfuse_py.host.platform` was first imported;
2. the runtime gets its pieces from above, by registration: the guest /proc
   becomes the path layer's special-file provider, and the syscall table
   (`syscalls.registry.register`) is registered into the process;
3. the loader maps the program into the runtime's fresh address space
   (through the GuestSpace interface it is handed);
4. the run loop runs it.

Nothing below this module imports it.
"""
from __future__ import annotations

import os

from elfuse_py.host import procinfo
from elfuse_py.runtime import guests, ipctree, log, paths, rundir, runloop
from elfuse_py.runtime.cpu import REG_SP, REG_TPIDR_EL0
from elfuse_py.runtime.process import SIGSEGV, proc
from elfuse_py.loader.hwcaps import compute_hwcaps
from elfuse_py.loader.image import load_program
from elfuse_py.syscalls import registry, strace_out


def boot(path: str, argv: list[bytes], envp: list[bytes], *,
         strace: bool | str | strace_out.TraceConfig = False, execfn: bytes | None = None,
         ipc_tree: tuple | None = None) -> None:
    """Create the CPU and memory, load `path` (and its interpreter), build the stack, register the syscalls.

    `strace`: False, True (trace to stderr), a file name (-o FILE), or the
    trace state an exec'd image was handed (syscalls/strace_out.py).  A file
    that cannot be opened raises OSError.  `ipc_tree`: the SysV IPC tree an
    exec'd image joins (runtime/ipctree.py).
    """
    paths.install_special_files(paths.LazySpecialFiles(_guest_proc))
    proc.create_machine()
    if strace and not isinstance(strace, strace_out.TraceConfig):
        strace = strace_out.start(strace if isinstance(strace, str) else None, proc.fds.reserve)
    proc.strace = strace
    cpu = proc.cpu
    execfn = execfn if execfn is not None else os.fsencode(path)
    proc.hwcap = compute_hwcaps(cpu.sysreg)
    _load_image(path, argv, envp, execfn)
    if guests.exited not in proc.exit_hooks:
        proc.exit_hooks.append(guests.exited)
        proc.exit_hooks.append(rundir.leave)      # the tree's runtime entries, if it was the last
    ipctree.start(ipc_tree)             # the emulator tree's SysV IPC objects
    registry.register(proc)
    proc.install_hook()
    proc.exec_image = _exec_image       # a guest execve replaces the image in this process


def _load_image(path: str, argv: list[bytes], envp: list[bytes], execfn: bytes) -> None:
    """Map the program into the (empty) address space, build its stack and auxv, and
    make the process's identity its own: at start-up and at each execve alike."""
    program = load_program(proc.mem, path, argv, envp, execfn, resolve=paths.host_path, hwcap=proc.hwcap)
    proc.exe = program.exe
    # The name execve was given (/proc/self/exe, a script): Linux takes the
    # task name (comm) from it, not from the file it resolved to.
    proc.execfn = execfn
    proc.argv, proc.envp, proc.auxv = argv, envp, program.auxv
    procinfo.publish_identity(argv, os.path.basename(execfn))
    proc.start_stack = program.sp
    guests.publish()                    # the record other guests' /proc reads (no host /proc)
    cpu = proc.cpu
    cpu.set_reg(REG_SP, program.sp)
    cpu.set_reg(REG_TPIDR_EL0, 0)
    proc.entry = program.entry


def _exec_image() -> int | None:
    """The run loop, after a guest execve passed its checks (syscalls/execve.py): tear
    the old image down and load the new one in this process.  None: run on from
    `proc.entry`; else the status the process ends with (Linux: SIGSEGV)."""
    from elfuse_py.loader.elf import ElfError
    from elfuse_py.syscalls import execve as guest_exec

    path, argv, envp, execfn = proc.exec_plan
    proc.exec_plan = None
    try:
        guest_exec.begin_new_image()
        _load_image(path, argv, envp, execfn)
        proc.install_hook()             # (a new --strace tracer prints the execve line, `= 0`)
    except ElfError as e:
        # Past the point of no return (a file changed since the checks): the
        # process dies as Linux kills it, by SIGSEGV.
        log.emit(f"elfuse-py: {e}\n")
        if e.segv and proc.nested:
            return proc.terminate_by_signal(SIGSEGV)
        return e.status
    except Exception as e:  # noqa: BLE001 - no memory, or the emulator's own failure
        # Neither may surface as a traceback: the old image is gone, so the
        # process ends as Linux ends one that cannot finish an exec.
        log.emit(f"elfuse-py: execve of {os.fsdecode(path)}: {type(e).__name__}: {e}\n")
        return proc.terminate_by_signal(SIGSEGV)
    return None


def _guest_proc():
    """The guest /proc, wired up on the first /proc path the guest names (not at start-up)."""
    from elfuse_py.runtime import procfs
    from elfuse_py.syscalls import fsflags
    from elfuse_py.syscalls.net import policies
    procfs.install_helpers(open_flags_to_linux=fsflags.open_flags_to_linux,
                           socket_type=policies.guest_type,
                           socket_name=policies.guest_name_of_host_path)
    return procfs


def attach_gdb(address: str) -> None:
    """-g: wait for gdb on `address` ([HOST:]PORT) before the guest's first instruction."""
    from elfuse_py import gdbstub                   # only with -g: nothing of it otherwise
    gdbstub.install(proc, address)


def run(carried_signals: dict | None = None) -> int:
    """Run the booted guest to its end; returns the status for the host process."""
    status = runloop.run(proc, carried_signals)
    if proc.debugger is not None:
        proc.debugger.on_exit(status)               # gdb hears the exit status (W packet)
    proc.run_exit_hooks()
    return status


def exec_main() -> None:
    """Entry point of the emulator a guest execve started: restore the carried state, run the new image."""
    from elfuse_py.loader.elf import ElfError
    from elfuse_py.syscalls import execve as guest_exec

    state = guest_exec.take_state()
    if state["sysroot"]:
        paths.set_sysroot(state["sysroot"])
    proc.nested = state["nested"]
    proc.umask = state["umask"]
    guests.started = state.get("started", guests.started)
    paths.special_cwd = state.get("special_cwd")
    paths.root = state.get("root")           # a chroot survives execve
    try:
        boot(state["exe"], state["argv"], state["envp"], strace=state["strace"], execfn=state["execfn"],
             ipc_tree=state.get("ipc"))
    except ElfError as e:
        # The guest's execve checked everything Linux checks before its point of no
        # return; what fails now (or a file changed since) ends the new image as
        # Linux ends it: SIGSEGV, seen by the parent's wait as WIFSIGNALED.
        log.emit(f"elfuse-py: {e}\n")
        if e.segv and proc.nested:
            proc.terminate_by_signal(SIGSEGV)   # dies by the host signal
        os._exit(e.status)
    guest_exec.restore_state(proc, state)
    os._exit(run(state["signals"]))
