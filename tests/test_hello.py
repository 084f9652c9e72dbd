"""The simplest guest: output, arguments and exit status."""
from helpers import available_libcs, guest_bin, run_elfuse
import pytest


@pytest.mark.parametrize("libc", available_libcs())
def test_hello_prints_and_exits_zero(libc):
    r = run_elfuse([guest_bin("hello", libc), "a", "b c"])
    assert r.stdout == b"Hello from an AArch64 guest! a b c\n"
    assert r.returncode == 0
    assert r.stderr == b""
