"""Host terminal ioctls Python does not export, by host.

The pseudo-terminal master calls (TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER) are the
Linux kernel's numbers (x86-64 and arm64 share the generic _IOC encoding);
macOS has none of them (its ptys are reached through posix_openpt/ptsname),
so they are None there and the guest gets ENOTTY.
"""
from __future__ import annotations

from elfuse_py.host import platform

_PTY_IOCTLS = {"linux": (0x80045430, 0x40045431, 0x5441)}
TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER = _PTY_IOCTLS.get(platform.KIND, (None, None, None))
