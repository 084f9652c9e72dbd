"""Which host this is, decided once: the only reader of sys.platform and ELFUSE_HOST_COMPAT.

`KIND` is the real host OS ("linux", "darwin" or "other"); `COMPAT` is the
host model asked for with ELFUSE_HOST_COMPAT (today "darwin": a Linux host
behaves as macOS where a concern implements that model).  Every other module
asks the concern modules of this package (`sockets`, `events`, `fs`,
`procinfo`, ...) what the host provides, never the platform itself.
"""
from __future__ import annotations

import os
import sys

KIND = "linux" if sys.platform.startswith("linux") else "darwin" if sys.platform == "darwin" else "other"
IS_LINUX = KIND == "linux"
IS_DARWIN = KIND == "darwin"
COMPAT = os.environ.get("ELFUSE_HOST_COMPAT", "").strip().lower()
# The host whose behaviour the guest-visible policies follow: macOS on a Mac,
# and on Linux under ELFUSE_HOST_COMPAT=darwin.
MODEL = "darwin" if IS_DARWIN or COMPAT == "darwin" else KIND
# May uc_emu_stop be called from a host thread other than the one running the
# engine?  Not on Apple silicon: there unicorn's uc_emu_stop, like every API
# call, counts its nesting in the engine (uc->nested, for the per-thread JIT
# write protection of MAP_JIT code) without atomics, racing the engine
# thread's own API calls from hooks.  (Read in unicorn 2.1's uc.c
# save_jit_state/restore_jit_state; not observed on a Mac: nobody here has one.)
ENGINE_STOP_FROM_ANY_THREAD = not (IS_DARWIN and os.uname().machine == "arm64")

_started = False


def start() -> None:
    """Put the host in place, once, before anything else of the emulator looks at it.

    Under the macOS host model on Linux this hides the names macOS's Python
    lacks and refuses the host syscalls macOS lacks (host/darwin_model.py),
    so the rest of start-up already sees a Mac.
    """
    global _started
    if _started:
        return
    _started = True
    if COMPAT == "darwin" and IS_LINUX:
        from elfuse_py.host import darwin_model
        darwin_model.apply()


def exec_environment() -> dict[bytes, bytes]:
    """What the emulator a guest execve starts needs in its host environment to choose this same host."""
    return {b"ELFUSE_HOST_COMPAT": COMPAT.encode()} if COMPAT else {}
