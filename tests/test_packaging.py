"""Packaging: the wheel and sdist carry the LICENSE, and what a plain install needs.

Builds both from a copy of the project with the setuptools in this
interpreter (PEP 517's build_meta, called directly: offline, no build
isolation); skipped where that setuptools is older than pyproject.toml needs.
"""
from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT

_SHIPPED = ["pyproject.toml", "README.md", "LICENSE", "elfuse_py", "syscalls", "loader"]


def _setuptools_ok() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major = int(setuptools.__version__.split(".")[0])
    return major >= 77           # license-files and the SPDX license field


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    if not _setuptools_ok():
        pytest.skip("needs setuptools>=77 in this interpreter (the dev extra installs it)")
    src = tmp_path_factory.mktemp("src")
    for name in _SHIPPED:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(p, src / name)
    out = tmp_path_factory.mktemp("dist")
    built = {}
    for kind in ("wheel", "sdist"):          # one process each, as PEP 517 frontends do
        code = (f"import sys; from setuptools import build_meta as b; "
                f"print('BUILT', b.build_{kind}(sys.argv[1]))")
        r = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        built[kind] = out / next(l for l in r.stdout.splitlines() if l.startswith("BUILT ")).split()[1]
    return built


def test_license_file_exists_and_matches_the_metadata():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()


def test_wheel_ships_license_and_core_dependencies(built):
    with zipfile.ZipFile(built["wheel"]) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_string(z.read(meta_name).decode())
        eps = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in meta.get_all("License-File")
    requires = meta.get_all("Requires-Dist")
    # elfuse-py-check and the plugin work from a plain install: pytest is no extra.
    assert any(r.startswith("pytest") and "extra" not in r for r in requires), requires
    assert "elfuse-py-check = elfuse_py.check:main" in eps
    # syscalls/ and loader/ are installed inside elfuse_py: nothing generic at the top.
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"elfuse_py"}, tops
    assert "elfuse_py/syscalls/table.py" in names and "elfuse_py/loader/elf.py" in names
    assert "elfuse_py/syscalls/net/__init__.py" in names
    assert "elfuse_py.pytest_plugin" in eps


def test_sdist_ships_license(built):
    with tarfile.open(built["sdist"]) as t:
        names = t.getnames()
    top = names[0].split("/")[0]
    assert f"{top}/LICENSE" in names, names
    assert f"{top}/pyproject.toml" in names


def test_the_package_list_names_every_package_directory():
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("elfuse_py", "elfuse_py"), ("syscalls", "elfuse_py.syscalls"),
                      ("loader", "elfuse_py.loader")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join((name, *rel.parts)) if rel.parts else name)
    assert listed == found, f"pyproject.toml packages: missing {found - listed}, extra {listed - found}"

