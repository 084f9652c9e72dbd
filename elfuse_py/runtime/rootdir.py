"""Resolving a guest path inside a chroot(2) root: the strict counterpart of the sysroot walk.

After a guest's chroot every absolute path it names lives below one host
directory (runtime/paths.root), with Linux's rules:

- `..` at the root stays at the root, so no path climbs out;
- a symlink met on the way is followed inside the root: an absolute target
  restarts from the root, a relative one goes on from the link's directory;
- nothing falls back to the host: a name the root lacks is the path it would
  have there, so the host call reports ENOENT (or creates it there), ENOTDIR,
  EACCES or ENAMETOOLONG exactly as for the real file.

This module only walks; paths.host_path decides when it applies.
"""
from __future__ import annotations

import errno
import os

# Links followed while resolving one path before giving ELOOP, as Linux's MAXSYMLINKS.
MAXSYMLINKS = 40


def resolve(base: bytes, guest: bytes, follow: bool = True) -> bytes:
    """The host path of guest path `guest` (taken from the root) inside host directory `base`.

    `follow` False: a symlink in the last component is named itself (lstat, unlink…)."""
    stack: list[bytes] = []
    todo = [p for p in reversed(guest.split(b"/")) if p and p != b"."]
    links = 0
    while todo:
        part = todo.pop()
        if part == b"..":
            if stack:
                stack.pop()
            continue
        stack.append(part)
        if not follow and not todo:
            break
        here = base + b"/" + b"/".join(stack)
        try:
            target = os.readlink(here)
        except OSError as e:
            if e.errno == errno.EINVAL:      # exists, not a link
                continue
            # Missing, a file used as a directory, no search permission, a name
            # too long: the host call on this path reports it (no component of
            # the rest is reached, so nothing escapes the root).
            return here + b"".join(b"/" + p for p in reversed(todo))
        links += 1
        if links > MAXSYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        stack.pop()
        if target.startswith(b"/"):
            stack = []
        todo.extend(p for p in reversed(target.split(b"/")) if p and p != b".")
    out = base + b"".join(b"/" + p for p in stack)
    if guest.endswith(b"/") and stack:
        out += b"/"                          # "file/" stays ENOTDIR
    return out or b"/"
