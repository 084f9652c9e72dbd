"""Import everything the emulator may import later, before the guest gives up an identity.

Start-up imports only what a plain run needs (docs/architecture.md, "Start-up");
the rest (pickle, tempfile, hashlib, shutil, re, the disassembler for fault
reports, our own modules imported inside functions) comes in on first use.
A guest running as root that drops to another user (sshd's privilege
separation, su, any daemon) takes the emulator's host identity with it, and
that user may not be able to read the Python installation or the emulator's
source tree (a pyenv under /root, say): an import after the drop then fails
inside a syscall.  So the first identity change imports all of it first;
later imports are cache hits.
"""
from __future__ import annotations

import importlib
import os
import sys

# Standard modules the emulator imports inside functions (grep "^ +import" in
# the runtime, host, syscalls and loader), and the disassembler of fault reports.
_STDLIB = ("pickle", "tempfile", "shutil", "hashlib", "re", "json", "subprocess", "capstone",
           "termios", "array")
# Our packages whose modules may be imported inside functions; the top floor's
# tools (gdb stub, sysroot builder, harness) are started before any guest runs.
_PACKAGES = ("elfuse_py.runtime", "elfuse_py.host", "elfuse_py.syscalls", "elfuse_py.loader")

_done = False


def _module_names(package: str) -> list[str]:
    mod = sys.modules.get(package) or importlib.import_module(package)
    names = []
    for directory in getattr(mod, "__path__", []):
        for root, dirs, files in os.walk(directory):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            rel = os.path.relpath(root, directory)
            prefix = package if rel == "." else package + "." + rel.replace(os.sep, ".")
            names += [f"{prefix}.{f[:-3]}" for f in files if f.endswith(".py") and f != "__init__.py"]
    return names


def before_identity_change() -> None:
    """Import now what might be needed later (once per process; errors ignored)."""
    global _done
    if _done:
        return
    _done = True
    for name in _STDLIB + tuple(n for p in _PACKAGES for n in _module_names(p)):
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:       # noqa: BLE001 - an optional module (no capstone): not needed then
            pass
