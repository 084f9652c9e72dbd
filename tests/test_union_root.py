"""The union root under `-L ROOT`: a directory fd resolves names sysroot first, then host.

A small sysroot (a static guest copied in, a sysroot-only directory, its own
/tmp) and a host directory: guest-bins/src/union_walk.c opens "/" with O_PATH
and walks the host directory one component at a time, as rsync does, then
opens, creates, renames and lists through those fds, and checks that `..`
stays inside the sysroot.  Under elfuse-py and under the macOS host model.

Then real rsync (Debian 12's arm64 build, fetched with `apt-get download` as
tests/debian_sysroot.py does; skipped where that is impossible) copies one
host directory to another under `-L` the Debian root.
"""
from __future__ import annotations

import os
import shutil

import pytest

import debian_sysroot
from helpers import guest_bin, run_elfuse

RSYNC_ARM64 = ["rsync", "libacl1", "liblz4-1", "libpopt0", "libssl3", "libxxhash0", "libzstd1", "zlib1g"]


@pytest.fixture
def union(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "elfuse-sysroot-only").mkdir()
    shutil.copy(guest_bin("union_walk"), root / "bin" / "union_walk")
    host = tmp_path / "host" / "dir"
    host.mkdir(parents=True)
    (host / "data").write_bytes(b"payload")
    marker = f"elfuse-union-{os.getpid()}-{tmp_path.name}"
    tmpfile = os.path.join("/tmp", marker)
    with open(tmpfile, "w"):
        pass
    yield root, host, marker
    os.unlink(tmpfile)


@pytest.mark.parametrize("model", [False, True], ids=["native", "macos-model"])
def test_o_path_walk_through_union_root(union, model):
    root, host, marker = union
    extra = {"ELFUSE_HOST_COMPAT": "darwin"} if model else None
    r = run_elfuse([str(root / "bin" / "union_walk"), str(host), marker],
                   options=["-L", str(root)], extra_env=extra, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and "not ok" not in out, out + r.stderr.decode(errors="replace")
    assert (host / "renamed").exists() and (host / "made").is_dir()
    assert not (root / str(host).lstrip("/")).exists()      # nothing was created inside the sysroot


@pytest.mark.parametrize("model", [False, True], ids=["native", "macos-model"])
def test_rsync_between_host_directories(tmp_path, model):
    root = debian_sysroot.build("debian-arm64-rsync", debian_sysroot.BASE_ARM64 + RSYNC_ARM64)
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(70000))
    (src / "sub" / "deeper" / "c").write_text("gamma\n")
    os.symlink("a.txt", src / "link")
    os.chmod(src / "a.txt", 0o640)
    dst = tmp_path / "dst"
    r = run_elfuse([str(root / "usr" / "bin" / "rsync"), "-a", f"{src}/", f"{dst}/"],
                   options=["-L", str(root)], timeout=300,
                   extra_env={"ELFUSE_HOST_COMPAT": "darwin"} if model else None)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    for rel in ("a.txt", "sub/b.bin", "sub/deeper/c"):
        assert (dst / rel).read_bytes() == (src / rel).read_bytes(), rel
    assert os.readlink(dst / "link") == "a.txt"
    assert (os.stat(dst / "a.txt").st_mode & 0o777) == 0o640
    assert os.stat(dst / "sub" / "b.bin").st_mtime == os.stat(src / "sub" / "b.bin").st_mtime
