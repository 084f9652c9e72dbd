"""The precompiled cffi modules in elfuse_py/_ffi match the declarations in cdefs.py."""
import importlib
import subprocess
import sys

import pytest

from elfuse_py.host import cdefs


@pytest.mark.parametrize("name", sorted(cdefs.SPECS))
def test_precompiled_module_is_current(name):
    path = f"{cdefs.GENERATED_DIR}/{name}.py"
    with open(path) as f:
        assert f.read() == cdefs.generated_source(name), \
            f"{path} is stale: run `python -m elfuse_py.host.cdefs`"


@pytest.mark.parametrize("name", sorted(cdefs.SPECS))
def test_precompiled_and_parsed_agree(name):
    fast, slow = cdefs.load_ffi(name), cdefs.parse_ffi(name)
    assert fast is importlib.import_module(f"elfuse_py.host._ffi.{name}").ffi, "load_ffi fell back to parsing"
    for t in ("struct msghdr", "struct epoll_event", "struct h_itimerspec", "uc_arm64_cp_reg",
              "uc_tlb_entry", "struct iovec"):
        try:
            want = slow.sizeof(t)
        except Exception:
            continue
        assert fast.sizeof(t) == want, t


def test_startup_does_not_import_the_c_parser():
    code = ("import sys, elfuse_py.runtime.cpu, elfuse_py.runtime.memory, elfuse_py.runtime.threads, elfuse_py.host.events, "
            "elfuse_py.host.sockets; print('pycparser' in sys.modules, 'cffi.cparser' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr
