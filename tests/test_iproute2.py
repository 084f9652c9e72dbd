"""iproute2's `ip link` and `ip addr` from Debian arm64 over the emulated netlink route socket.

The root is Debian's iproute2 with its libraries (tests/debian_sysroot.py); the
test is skipped where those packages cannot be fetched.  `ip` opens a
NETLINK_ROUTE socket, turns on NETLINK_EXT_ACK and NETLINK_GET_STRICT_CHK,
dumps RTM_GETLINK and RTM_GETADDR and reads the answers with
MSG_PEEK|MSG_TRUNC first: every interface of the host must appear with its
index, and the loopback with its flags and 127.0.0.1/8.
"""
from __future__ import annotations

import socket

import pytest

import debian_sysroot
from helpers import run_elfuse

IPROUTE2_ARM64 = debian_sysroot.BASE_ARM64 + [
    "iproute2", "libbpf1", "libbsd0", "libmd0", "libcap2", "libdb5.3", "libelf1", "libmnl0",
    "libtirpc3", "libxtables12", "zlib1g", "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3",
    "libcom-err2", "libkrb5support0", "libkeyutils1"]


@pytest.fixture(scope="module")
def root():
    return debian_sysroot.build("debian-arm64-iproute2", IPROUTE2_ARM64)


@pytest.mark.parametrize("compat", ["", "darwin"])
@pytest.mark.parametrize("what", ["link", "addr"])
def test_ip(root, what, compat):
    extra = {"ELFUSE_HOST_COMPAT": compat} if compat else {}
    r = run_elfuse(["-L", str(root), str(root / "bin" / "ip"), what], extra_env=extra, timeout=120)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    for index, name in socket.if_nameindex():
        assert f"{index}: {name}" in out, out
    assert "<LOOPBACK,UP,LOWER_UP>" in out, out
    if what == "addr":
        assert "inet 127.0.0.1/8 scope host lo" in out, out
    else:
        assert "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00" in out, out
