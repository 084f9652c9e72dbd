"""Host terminal ioctls Python does not export, or not without its termios module, by host.

The pseudo-terminal master calls (TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER) are the
Linux kernel's numbers (x86-64 and arm64 share the generic _IOC encoding);
macOS has none of them (its ptys are reached through posix_openpt/ptsname),
so they are None there and the guest gets ENOTTY.

TIOCGWINSZ, the window-size query a musl program makes on its first write to
stdout, is Linux's generic number on the machines that use asm-generic's
ioctls.h, so that query needs no `termios` import (~0.3 ms with the termios
tables); None elsewhere (macOS, Linux on powerpc, mips, sparc, alpha): the
caller asks termios.
"""
from __future__ import annotations

import os

from elfuse_py.host import platform

_PTY_IOCTLS = {"linux": (0x80045430, 0x40045431, 0x5441)}
TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER = _PTY_IOCTLS.get(platform.KIND, (None, None, None))

_GENERIC_IOCTLS = ("x86_64", "i386", "i486", "i586", "i686", "aarch64", "arm64", "armv7l",
                   "armv8l", "riscv64", "s390x", "loongarch64")
TIOCGWINSZ = 0x5413 if platform.IS_LINUX and os.uname().machine in _GENERIC_IOCTLS else None
