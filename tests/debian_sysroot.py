"""Guest roots unpacked from Debian's arm64 packages, cached in tests/.cache/.

`build(name, packages)` downloads the packages with `apt-get download` (arm64
ones as `PKG:arm64`, architecture-independent ones by plain name) and unpacks
them with `dpkg-deb -x` into tests/.cache/NAME, once: a `.complete` marker
lists the packages, so a changed list rebuilds the root.  Where apt-get,
dpkg-deb, the arm64 architecture or the mirror are unavailable the calling
test is skipped.  docs/sysroot.md describes the same steps by hand.
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT

CACHE = ROOT / "tests" / ".cache"

# What coreutils needs (as tests/test_dynamic.py's root).
BASE_ARM64 = ["libc6", "libgcc-s1", "coreutils", "libselinux1", "libpcre2-8-0"]

# python3.11 and the libraries of its extension modules (`apt-cache depends
# python3.11:arm64 libpython3.11-stdlib:arm64 ...`, followed one level into
# libnsl2/libtirpc3's Kerberos libraries).  Debian 12 has no libmpdec3: _decimal
# uses its bundled copy.
PYTHON_ARM64 = [
    "python3.11", "python3.11-minimal", "python3-minimal", "libpython3.11-minimal",
    "libpython3.11-stdlib", "libexpat1", "zlib1g", "libssl3", "libffi8", "libbz2-1.0",
    "liblzma5", "libsqlite3-0", "libncursesw6", "libtinfo6", "libreadline8", "libuuid1",
    "libcrypt1", "libdb5.3", "libnsl2", "libtirpc3", "libgssapi-krb5-2", "libkrb5-3",
    "libk5crypto3", "libcom-err2", "libkrb5support0", "libkeyutils1",
    "dash",     # /bin/sh: subprocess(shell=True), os.system, asyncio's create_subprocess_shell
]
PYTHON_ALL = ["media-types", "readline-common", "libtirpc-common", "tzdata"]


class CacheLock:
    """An exclusive lock on a cache file, so parallel test workers build once."""

    def __init__(self, name: str) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.f = open(CACHE / f"{name}.lock", "w")

    def __enter__(self):
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _merge_usr(root: Path) -> None:
    """/bin, /sbin and /lib into /usr with symlinks, as Debian 12's usrmerge leaves a root
    (PATH lookups of /usr/bin/x then find what packages put in /bin)."""
    for d in ("bin", "sbin", "lib"):
        top, usr = root / d, root / "usr" / d
        if top.is_dir() and not top.is_symlink():
            usr.mkdir(parents=True, exist_ok=True)
            shutil.copytree(top, usr, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(top)
            top.symlink_to(f"usr/{d}")


def build(name: str, arm64: list[str], arch_all: list[str] = (), merge_usr: bool = False) -> Path:
    """The sysroot tests/.cache/NAME with these packages unpacked (skip if impossible)."""
    root = CACHE / name
    want = "\n".join(sorted(arm64) + sorted(arch_all)) + ("\nmerged-usr" if merge_usr else "") + "\n"
    marker = root / ".complete"
    with CacheLock(name):
        if marker.exists() and marker.read_text() == want:
            return root
        if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
            pytest.skip("apt-get/dpkg-deb not available")
        debs = CACHE / f"{name}-debs"
        shutil.rmtree(debs, ignore_errors=True)
        debs.mkdir(parents=True)
        try:
            r = subprocess.run(["apt-get", "download", *[p + ":arm64" for p in arm64], *arch_all],
                               cwd=debs, capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.skip(f"apt-get download failed: {e}")
        files = sorted(debs.glob("*.deb"))
        if r.returncode != 0 or len(files) < len(arm64) + len(arch_all):
            pytest.skip("cannot download Debian arm64 packages (dpkg --add-architecture arm64 "
                        "&& apt-get update?): " + r.stderr.decode(errors="replace")[-300:])
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in files:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        shutil.rmtree(debs, ignore_errors=True)
        if merge_usr:
            _merge_usr(root)
        marker.write_text(want)
    return root


def python_root() -> Path:
    """coreutils + python3.11 (also /usr/bin/python3) with every stdlib extension's libraries."""
    return build("debian-arm64-python", BASE_ARM64 + PYTHON_ARM64, PYTHON_ALL)
