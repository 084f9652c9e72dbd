"""The snapshot watcher behind the inotify twin (elfuse_py/host/fswatch.py), without a guest.

Each test changes the tree between two scans and checks the change records,
so nothing here depends on timing.
"""
from __future__ import annotations

import os

import pytest

from elfuse_py.host import fswatch


def _scan(watches):
    return fswatch.scan(watches)


def test_entry_changes(tmp_path):
    w = {1: fswatch.open_watch(str(tmp_path), True)}
    assert w[1].is_dir and _scan(w) == []
    (tmp_path / "a").write_bytes(b"")
    os.mkdir(tmp_path / "d")
    assert sorted(_scan(w)) == [("create", 1, b"a", False), ("create", 1, b"d", True)]
    (tmp_path / "a").write_bytes(b"hello")
    assert _scan(w) == [("modify", 1, b"a", False)]
    os.chmod(tmp_path / "a", 0o600)
    assert _scan(w) == [("attrib", 1, b"a", False)]
    os.rename(tmp_path / "a", tmp_path / "b")
    assert _scan(w) == [("move", 1, b"a", 1, b"b", False)]
    os.unlink(tmp_path / "b")
    os.rmdir(tmp_path / "d")
    assert sorted(_scan(w)) == [("delete", 1, b"b", False), ("delete", 1, b"d", True)]
    assert _scan(w) == []


def test_move_between_watched_directories(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "f").write_bytes(b"1")
    w = {1: fswatch.open_watch(str(tmp_path / "x"), True), 2: fswatch.open_watch(str(tmp_path / "y"), True)}
    os.rename(tmp_path / "x" / "f", tmp_path / "y" / "g")
    assert _scan(w) == [("move", 1, b"f", 2, b"g", False)]


def test_replaced_name_is_delete_and_create(tmp_path):
    (tmp_path / "f").write_bytes(b"1")
    w = {1: fswatch.open_watch(str(tmp_path), True)}
    (tmp_path / "t").write_bytes(b"2")
    keep = os.open(tmp_path / "f", os.O_RDONLY)     # the old inode stays in use: no reuse
    try:
        os.unlink(tmp_path / "f")
        os.rename(tmp_path / "t", tmp_path / "f")
        assert _scan(w) == [("delete", 1, b"f", False), ("create", 1, b"f", False)]
    finally:
        os.close(keep)


def test_self_events_and_carried_paths(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "file").write_bytes(b"")
    w = {1: fswatch.open_watch(str(tmp_path / "d"), True),
         2: fswatch.open_watch(str(tmp_path / "d" / "sub" / "file"), True)}
    os.rename(tmp_path / "d", tmp_path / "e")
    assert _scan(w) == [("move_self", 1, b"", True)]
    assert w[1].path == os.fsencode(tmp_path / "e")
    assert w[2].path == os.fsencode(tmp_path / "e" / "sub" / "file")
    (tmp_path / "e" / "sub" / "file").write_bytes(b"x")
    assert _scan(w) == [("modify", 2, b"", False)]
    os.chmod(tmp_path / "e", 0o700)
    assert _scan(w) == [("attrib", 1, b"", True)]
    os.unlink(tmp_path / "e" / "sub" / "file")
    assert _scan(w) == [("delete_self", 2, b"", False)]


def test_open_watch_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        fswatch.open_watch(str(tmp_path / "missing"), True)
    with pytest.raises(FileNotFoundError):
        fswatch.open_watch("", True)
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fswatch.open_watch(str(tmp_path / "f" / "x"), True)
    os.symlink("f", tmp_path / "link")
    via = fswatch.open_watch(str(tmp_path / "link"), True)
    own = fswatch.open_watch(str(tmp_path / "link"), False)
    assert via.key != own.key and via.path == os.fsencode(tmp_path / "f")
    rel = fswatch.open_watch(os.path.relpath(tmp_path / "f"), True)
    assert os.path.isabs(rel.path) and rel.key == via.key


def test_pacer_stretches_after_a_slow_scan():
    p = fswatch.Pacer()
    assert p.pause == fswatch.INTERVAL
    p.timed(lambda: None)
    assert p.pause == fswatch.INTERVAL
    import time
    p.timed(time.sleep, 0.01)
    assert p.pause >= 0.04
