"""The `elfuse-py` command line: options in qemu-user's conventions, then PROGRAM ARGS…

Exit status: the guest's; 126 for a file that cannot be executed, 127 for a
missing one, 128+N for a guest killed by signal N.  Errors are one line on
stderr, never a traceback.
"""
from __future__ import annotations

import gc
import os
import sys

from elfuse_py import __version__, bundle

USAGE = """\
usage: elfuse-py [options] PROGRAM [ARGS...]

Run a Linux AArch64 program (static, static-PIE, dynamically linked, or a #!
script) on this host.  A dynamically linked program needs a Linux AArch64 root
directory holding its interpreter (/lib/ld-linux-aarch64.so.1, ld-musl-...)
and libraries: give it with -L ROOT or ELFUSE_SYSROOT=ROOT.

options:
  -E VAR=VALUE      set VAR in the guest's environment (repeatable)
  -U VAR            remove VAR from the guest's environment (repeatable)
  -0 ARGV0          use ARGV0 as the guest's argv[0]
  -L, --sysroot DIR the guest's root directory: absolute paths the guest uses
                    (its interpreter, libraries, #! lines, open()) resolve
                    inside DIR first (also: ELFUSE_SYSROOT=DIR); PROGRAM
                    itself is a host path
  --strace          print each syscall with its arguments and result on stderr,
                    as `strace -f` does (also: ELFUSE_STRACE=1)
  -o FILE           write the --strace output to FILE instead (implies --strace;
                    also: ELFUSE_STRACE_FILE=FILE); every guest process appends to it
  -D FILE           write the emulator's own messages (warnings such as
                    "unsupported syscall", --strace, fault reports) to FILE
                    instead of the stderr elfuse-py was started with
                    (also ELFUSE_LOG=FILE); never to the guest's fd 2
  -q, --quiet       no emulator messages at all, --strace to stderr included
                    (also ELFUSE_QUIET=1; -o FILE still traces)
  --trace-faults    describe a guest fault (registers, instruction) before exiting
  -g [HOST:]PORT    wait for gdb (remote protocol, TCP) before the first instruction;
                    PORT 0 picks a free port and says which (also ELFUSE_GDB=PORT)
  --version         print the version and exit
  -h, --help        print this help and exit

environment: ELFUSE_SYSROOT (as -L), ELFUSE_STRACE and ELFUSE_STRACE_FILE (as
--strace and -o), ELFUSE_GDB (as -g).
"""


class UsageError(Exception):
    pass


def parse_args(args: list[str]) -> dict:
    opts: dict = {"set": [], "unset": [], "argv0": None, "strace": False, "sysroot": None,
                  "strace_file": None, "gdb": None, "log": None, "quiet": False}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-") or a == "-":
            break

        def value() -> str:
            nonlocal i
            if i + 1 >= len(args):
                raise UsageError(f"option {a} needs a value")
            i += 1
            return args[i]

        if a in ("-h", "--help"):
            opts["help"] = True
        elif a == "--version":
            opts["version"] = True
        elif a == "-E":
            opts["set"].append(value())
        elif a == "-U":
            opts["unset"].append(value())
        elif a == "-0":
            opts["argv0"] = value()
        elif a in ("-L", "--sysroot"):
            opts["sysroot"] = value()
        elif a.startswith("--sysroot="):
            opts["sysroot"] = a.split("=", 1)[1]
        elif a in ("-g", "--gdb"):
            opts["gdb"] = value()
        elif a == "-D":
            opts["log"] = value()
        elif a in ("-q", "--quiet"):
            opts["quiet"] = True
        elif a in ("--strace", "-strace"):
            opts["strace"] = True
        elif a == "-o":
            opts["strace_file"] = value()
        elif a == "--trace-faults":
            pass
        else:
            raise UsageError(f"unknown option {a}")
        i += 1
    opts["program"] = args[i:]
    return opts


def guest_environment(sets: list[str], unsets: list[str]) -> list[bytes]:
    # The emulator's own settings (ELFUSE_*) are not the guest's: only an explicit -E passes one.
    env = {k: v for k, v in os.environb.items() if not k.startswith(b"ELFUSE_")}
    for item in sets:
        if "=" not in item:
            raise UsageError(f"-E needs VAR=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        env[os.fsencode(k)] = os.fsencode(v)
    for k in unsets:
        env.pop(os.fsencode(k), None)
    return [k + b"=" + v for k, v in env.items()]


def _error(msg: str) -> None:
    # The stderr elfuse-py was started with (the guest has not run, or has ended).  A
    # file name that is not UTF-8 arrives with surrogate escapes: write its original
    # bytes back (never a UnicodeEncodeError traceback).
    data = f"elfuse-py: {msg}\n".encode("utf-8", "surrogateescape")
    try:
        sys.__stderr__.flush()
        os.write(sys.__stderr__.fileno(), data)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(args)
    except UsageError as e:
        _error(str(e))
        sys.stderr.write(USAGE)
        return 2
    if opts.get("help"):
        sys.stdout.write(USAGE)
        return 0
    if opts.get("version"):
        sys.stdout.write(f"elfuse-py {__version__}\n")
        return 0
    if not opts["program"]:
        sys.stderr.write(USAGE)
        return 2
    try:
        envp = guest_environment(opts["set"], opts["unset"])
    except UsageError as e:
        _error(str(e))
        return 2
    sysroot = opts["sysroot"] or os.environ.get("ELFUSE_SYSROOT")
    if sysroot:
        from elfuse_py import hints
        problem = hints.check_sysroot(sysroot, "-L " if opts["sysroot"] else "ELFUSE_SYSROOT=")
        if problem:
            _error(problem)
            return 2
    bundle.install()                    # the start-up's modules, from one file (elfuse_py/bundle.py)
    from elfuse_py.runtime import log
    log.configure(file=opts["log"] or os.environ.get("ELFUSE_LOG") or None,
                  quiet=opts["quiet"] or os.environ.get("ELFUSE_QUIET", "") not in ("", "0"))
    program, *rest = opts["program"]
    guest_argv = [os.fsencode(opts["argv0"] or program)] + [os.fsencode(a) for a in rest]
    gdb = opts["gdb"] or os.environ.get("ELFUSE_GDB") or None
    if gdb is not None:
        from elfuse_py.gdbstub import GdbAddressError, parse_address
        try:
            parse_address(gdb)
        except GdbAddressError as e:
            _error(str(e))
            return 2
    return run_program(program, guest_argv, envp, strace=strace_setting(opts), sysroot=sysroot,
                       gdb=gdb)


def strace_setting(opts: dict) -> bool | str:
    """--strace (to stderr), -o FILE (to FILE, implies tracing); without either the
    environment's ELFUSE_STRACE_FILE=FILE, then ELFUSE_STRACE=1 (the command line wins,
    so elfuse_py.run(strace=True) gets its trace whatever the environment says)."""
    if opts.get("strace_file"):
        return opts["strace_file"]
    if opts.get("strace"):
        return True
    if os.environ.get("ELFUSE_STRACE_FILE"):
        return os.environ["ELFUSE_STRACE_FILE"]
    return os.environ.get("ELFUSE_STRACE", "") not in ("", "0")


def run_program(program: str, argv: list[bytes], envp: list[bytes], *,
                strace: bool | str = False, sysroot: str | None = None,
                gdb: str | None = None) -> int:
    """Resolve `program` (following #! lines), load it and run it to completion."""
    # Modules are imported during the run (a handler area on its first call, rare
    # standard helpers), after the guest may have changed the working directory: a
    # relative sys.path entry ('' under `python -c`) must keep naming the directory
    # elfuse-py started in, or a guest directory's own re.py would shadow the real one.
    sys.path[:] = [p if os.path.isabs(p) else os.path.abspath(p) for p in sys.path]
    # No cyclic garbage collection while the emulator starts: its imports and boot
    # create ~100 000 objects that live as long as the process, and the collections
    # their allocations would trigger (~1 ms of every start-up) free nothing.  They
    # are then frozen (kept out of every later collection, as a fork child's are),
    # and the gdb stub (-g) and the guest run with the collector on.
    gc.disable()
    try:
        failed = _start_guest(program, argv, envp, strace, sysroot)
    finally:
        gc.freeze()
        gc.enable()
    if failed is not None:
        return failed
    from elfuse_py import boot
    if gdb is not None:
        try:
            boot.attach_gdb(gdb)
        except OSError as e:
            _error(f"gdb stub: cannot listen on {gdb}: {e.strerror or e}")
            return 1
        except KeyboardInterrupt:
            return 130
    status = boot.run()
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):    # None when fd 1 was closed at start
        pass
    bundle.refresh()                    # (only when it was missing or stale)
    from elfuse_py.host import prebind  # (loaded with libunicorn)
    prebind.refresh()                   # libunicorn's copy, when it was missing
    # Skip interpreter teardown: the guest has finished and its fds are its own.
    os._exit(status)


def _start_guest(program: str, argv: list[bytes], envp: list[bytes], strace: bool | str,
                 sysroot: str | None) -> int | None:
    """Boot `program`: None, or the status to exit with."""
    from elfuse_py.host import platform
    platform.start()                    # before any other module looks at the host
    from elfuse_py import boot
    from elfuse_py.runtime import paths
    from elfuse_py.loader.elf import ElfError
    from elfuse_py.loader.shebang import ShebangError, cli_error, resolve_program
    from elfuse_py.syscalls.strace_out import TraceOutputError

    if sysroot:
        paths.set_sysroot(sysroot)
    elf_path = program
    try:
        elf_path, argv = resolve_program(program, argv, paths.host_path)
        boot.boot(elf_path, argv, envp, strace=strace, execfn=os.fsencode(program))
    except ShebangError as e:
        msg, status = cli_error(program, e)
        _error(msg)
        return status
    except ElfError as e:
        # One line; e.status is 126/127 as a shell gives for a failed execve, or 139
        # when Linux would have exec'd and then killed the process with SIGSEGV.
        _error(str(e))
        from elfuse_py import hints     # (only after a load error: nothing of it at start-up)
        shown = program if os.path.realpath(elf_path) == os.path.realpath(program) else elf_path
        for line in hints.for_load_error(shown, elf_path, sysroot, paths.host_path, e.errno_name):
            _error(line)
        return e.status
    except TraceOutputError as e:
        _error(str(e))
        return 1
    return None


def exec_entry() -> None:
    """Where the emulator a guest execve started begins (see syscalls/execve.py)."""
    from elfuse_py.host import platform
    platform.start()
    from elfuse_py import boot
    boot.exec_main()
