"""What maintainer scripts would do for a root, done without running them.

* `merge_usr`: Debian 12's merged /usr (`/bin`, `/sbin`, `/lib` -> `usr/...`).
  Made *before* unpacking, so the `./bin/bash` that bookworm packages still
  ship lands in `usr/bin` (extract.py resolves paths inside the root); a real
  directory left by an earlier unpack is moved into /usr first.
* `ensure_interpreter`: `/lib/ld-linux-aarch64.so.1` exists (libc6 ships it;
  it is linked from the multiarch directory if not).
* `loader_searches_multiarch`: no ld.so.cache is made (ldconfig is a
  postinst step); Debian's glibc searches its multiarch directories
  `/lib/aarch64-linux-gnu` and `/usr/lib/aarch64-linux-gnu` by default, which
  this checks in the loader's own strings.
* `ensure_accounts`: `/etc/passwd` and `/etc/group` as base-passwd's postinst
  writes them (from its master files), or a root user and group if
  base-passwd is not in the root.
* `alternatives`/`apply_alternatives`: the `update-alternatives --install`
  calls of postinst scripts (mawk's `/usr/bin/awk`, ...), read from the
  script text and made as Debian makes them: LINK -> /etc/alternatives/NAME
  -> PATH, the highest priority winning.  `python3` is no alternative: the
  `/usr/bin/python3` link comes with python3-minimal, only if that is listed.
* `case_sensitive`: whether the root's volume tells `a` from `A`.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field

from elfuse_py.sysroot.extract import Extractor, member_parts

MERGED_DIRS = ("bin", "sbin", "lib")
INTERP = "ld-linux-aarch64.so.1"
MULTIARCH = "aarch64-linux-gnu"
CASE_FIX = ("Linux programs expect 'a' and 'A' to be two files; on macOS make a "
            "case-sensitive APFS volume and build the root there, e.g.\n"
            "    diskutil apfs addVolume disk1 'Case-sensitive APFS' Linux    # mounted at /Volumes/Linux\n"
            "(`diskutil list` names the APFS container: disk1 on Intel Macs, often disk3 on Apple silicon), "
            "or a disk image: hdiutil create -size 20g -type SPARSE -fs 'Case-sensitive APFS' "
            "-volname guest ~/guest.dmg (README: macOS hosts)")


def merge_usr(root: str) -> list[str]:
    """Make bin, sbin, lib links into usr/; returns notes about conflicts met."""
    notes = []
    for d in MERGED_DIRS:
        top = os.path.join(root, d)
        usr = os.path.join(root, "usr", d)
        if os.path.islink(top):
            continue
        os.makedirs(usr, exist_ok=True)
        if os.path.isdir(top):
            notes += _move_tree(top, usr, f"/{d}")
            shutil.rmtree(top)
        elif os.path.lexists(top):
            os.unlink(top)
        os.symlink(f"usr/{d}", top)
    return notes


def _move_tree(src: str, dst: str, label: str) -> list[str]:
    """Move src's entries into dst; where both have a file, /usr's copy is kept."""
    notes = []
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s) and os.path.isdir(d) and not os.path.islink(d):
            notes += _move_tree(s, d, f"{label}/{name}")
        elif os.path.lexists(d):
            notes.append(f"{label}/{name} and /usr{label}/{name} both exist: kept /usr's")
        else:
            os.rename(s, d)
    return notes


def ensure_interpreter(root: str) -> bool:
    """True when /lib/ld-linux-aarch64.so.1 resolves in the root (linking it if needed)."""
    ex = Extractor(root)
    link = ex.resolve(["lib", INTERP])
    if os.path.isfile(link):
        return True
    real = ex.resolve(["usr", "lib", MULTIARCH, INTERP])
    if not os.path.isfile(real):
        return False
    parent = ex.resolve(["lib"])
    os.makedirs(parent, exist_ok=True)
    dest = os.path.join(parent, INTERP)
    if os.path.lexists(dest):
        os.unlink(dest)
    os.symlink(f"/usr/lib/{MULTIARCH}/{INTERP}", dest)
    return True


def loader_searches_multiarch(root: str) -> bool | None:
    """Whether the root's ld.so has the multiarch library directories built in (None: no ld.so)."""
    path = Extractor(root).resolve(["lib", INTERP])
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    return f"/usr/lib/{MULTIARCH}/".encode() in data and f"/lib/{MULTIARCH}/".encode() in data


ROOT_PASSWD = "root:x:0:0:root:/root:{shell}\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
ROOT_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def ensure_accounts(root: str) -> list[str]:
    """Write /etc/passwd and /etc/group where missing; returns what was written."""
    made = []
    etc = os.path.join(root, "etc")
    os.makedirs(etc, exist_ok=True)
    shell = "/bin/bash" if os.path.lexists(os.path.join(root, "usr/bin/bash")) else "/bin/sh"
    for name, fallback in (("passwd", ROOT_PASSWD.format(shell=shell)), ("group", ROOT_GROUP)):
        dest = os.path.join(etc, name)
        if os.path.lexists(dest):
            continue
        master = os.path.join(root, "usr/share/base-passwd", f"{name}.master")
        if os.path.isfile(master) and not os.path.islink(master):
            shutil.copyfile(master, dest)
            made.append(f"/etc/{name} (from base-passwd's {name}.master)")
        else:
            with open(dest, "w") as f:
                f.write(fallback)
            made.append(f"/etc/{name} (root only: base-passwd is not in the root)")
        os.chmod(dest, 0o644)
    return made


# --- update-alternatives, read from postinst scripts --------------------------------

@dataclass
class Alternative:
    name: str
    link: str
    path: str
    priority: int
    package: str
    slaves: list[tuple[str, str, str]] = field(default_factory=list)   # (link, name, path)


def alternatives(postinst: str, package: str) -> list[Alternative]:
    """The `update-alternatives --install LINK NAME PATH PRIO [--slave L N P]...` calls of a script.

    Calls whose words hold shell expansions ($var, `...`) are skipped: only
    literal ones can be made without running the script.
    """
    text = postinst.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if "update-alternatives" not in line or "--install" not in line:
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        i = words.index("--install") if "--install" in words else -1
        if i < 0 or len(words) < i + 5:
            continue
        link, name, path, prio = words[i + 1:i + 5]
        if any(c in w for w in (link, name, path, prio) for c in "$`") or not prio.isdigit():
            continue
        alt = Alternative(name, link, path, int(prio), package)
        j = i + 5
        while j + 3 < len(words) and words[j] == "--slave":
            sl, sn, sp = words[j + 1:j + 4]
            if not any(c in w for w in (sl, sn, sp) for c in "$`"):
                alt.slaves.append((sl, sn, sp))
            j += 4
        out.append(alt)
    return out


def apply_alternatives(root: str, alts: list[Alternative]) -> list[str]:
    """Make the winning alternative of each name; returns 'LINK -> PATH' lines."""
    ex = Extractor(root)
    best: dict[str, Alternative] = {}
    for a in alts:
        if a.name not in best or a.priority > best[a.name].priority:
            best[a.name] = a
    made = []
    for a in best.values():
        for link, name, path in [(a.link, a.name, a.path)] + a.slaves:
            if not os.path.lexists(ex.resolve(member_parts(path))):
                continue                            # a slave whose file is not shipped
            for parts, target in ((["etc", "alternatives", name], path),
                                  (member_parts(link), f"/etc/alternatives/{name}")):
                parent = ex.parent_of(parts)
                dest = os.path.join(parent, parts[-1])
                if os.path.lexists(dest):
                    if not os.path.islink(dest):
                        continue                    # a real file: never overwrite
                    os.unlink(dest)
                os.symlink(target, dest)
            made.append(f"{link} -> {path}")
    return made


def case_sensitive(directory: str) -> bool:
    """Whether the volume of `directory` keeps 'a' and 'A' apart (it must exist)."""
    probe = tempfile.mkdtemp(prefix=".case-probe-", dir=directory)
    try:
        with open(os.path.join(probe, "a"), "w"):
            pass
        return not os.path.exists(os.path.join(probe, "A"))
    finally:
        shutil.rmtree(probe, ignore_errors=True)
