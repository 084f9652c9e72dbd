"""Case-insensitive volumes (macOS's default): a guest never silently gets "a" back for "A".

On such a volume, creating "A" next to an existing "a" would open "a" and
lose its data.  The emulator refuses with EEXIST and says why on its own
stream.  A Linux disk is case-sensitive, so the macOS model is asked to treat
the volume as the Mac default does (ELFUSE_MODEL_CASEFOLD=1); natively the
same program makes two files of each name.
"""
from __future__ import annotations

import pytest

from helpers import available_libcs, guest_bin, run_elfuse


def _probe(libc, tmp_path, env):
    r = run_elfuse([guest_bin("case_probe", libc)], cwd=str(tmp_path), extra_env=env, input=b"")
    assert r.returncode == 0, r.stderr
    return dict(line.split(": ", 1) for line in r.stdout.decode().splitlines()), r.stderr.decode()


@pytest.mark.parametrize("libc", available_libcs())
def test_case_sensitive_volume_makes_two_files(libc, tmp_path):
    out, err = _probe(libc, tmp_path, {})
    assert out["create A"] == "ok" and out["mkdir D"] == "ok" and out["link a->l"] == "ok"
    # (the last renames moved x, then a, onto A)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A", "D", "L", "S", "d", "l", "s"]
    assert "ignores case" not in err


@pytest.mark.parametrize("libc", available_libcs())
def test_case_insensitive_volume_refuses_a_twin(libc, tmp_path):
    env = {"ELFUSE_HOST_COMPAT": "darwin", "ELFUSE_MODEL_CASEFOLD": "1"}
    out, err = _probe(libc, tmp_path, env)
    exists = "exists"                       # strerror(EEXIST): "File exists"
    assert out["create a"] == "ok"
    for what in ("create A", "mkdir D", "symlink s->a", "link a->l", "rename x->A"):
        assert out[what].endswith(exists), (what, out)
    assert out["a holds"] == "lower"          # "a" kept its data
    assert out["mkdir d"] == "ok" and out["link a->L"] == "ok" and out["symlink S->a"] == "ok"
    assert out["rename a->A"] == "ok"       # a file may change the case of its own name
    assert "ignores case" in err and "docs/macos.md" in err
