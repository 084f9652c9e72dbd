"""Process syscalls: exit, ids, limits, and (later) fork/exec/wait."""
from __future__ import annotations

import os

from elfuse_py.process import proc

from .table import syscall


@syscall("exit", "int")
def sys_exit(status):
    # Single-threaded guests: exit ends the process like exit_group.
    proc.exit(status)


@syscall("exit_group", "int")
def sys_exit_group(status):
    proc.exit(status)


@syscall("set_tid_address", "ptr")
def sys_set_tid_address(tidptr):
    proc.clear_child_tid = tidptr
    return os.getpid()
