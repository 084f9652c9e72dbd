"""Unit tests of the net module's translation tables, layouts and policies."""
from __future__ import annotations

import socket
import struct

import pytest

from elfuse_py.host import caps as hostcaps
from elfuse_py.syscalls.net import consts as C, msg as M, sockaddr as SA
from elfuse_py.host import sockets as host
from elfuse_py.syscalls.net.state import SockState
import pickle


def test_msg_flags_by_name():
    assert C.msg_to_host(C.MSG_PEEK | C.MSG_DONTWAIT) == socket.MSG_PEEK | socket.MSG_DONTWAIT
    # emulated flags never reach the host
    assert C.msg_to_host(C.MSG_NOSIGNAL | C.MSG_CMSG_CLOEXEC) == 0
    assert C.msg_from_host(socket.MSG_TRUNC | socket.MSG_CTRUNC) == C.MSG_TRUNC | C.MSG_CTRUNC


def test_family_and_type_tables():
    assert C.HOST_FAMILY[C.AF_INET6] == socket.AF_INET6
    assert C.GUEST_FAMILY[socket.AF_UNIX] == C.AF_UNIX
    assert C.HOST_TYPE[C.SOCK_SEQPACKET] == socket.SOCK_SEQPACKET
    assert C.SO_NAMES["SO_PEERCRED"] == 17 and C.SO[38] == "SO_PROTOCOL"


def test_unix_names_and_linux_addrlen():
    raw = struct.pack("<H", 1) + b"/tmp/x"           # addrlen without the NUL
    assert SA.unix_name(raw) == (False, b"/tmp/x")
    assert SA.unix_name(struct.pack("<H", 1) + b"\0ab\0c") == (True, b"ab\0c")
    assert len(SA.guest_unix(False, b"/tmp/x")) == 2 + 6 + 1
    assert SA.guest_unix(False, b"") == struct.pack("<H", 1)
    assert SA.guest_unix(True, b"abcde") == struct.pack("<H", 1) + b"\0abcde"


def test_host_sockaddr_round_trip():
    guest = struct.pack("<H", C.AF_INET) + struct.pack(">H", 80) + bytes([127, 0, 0, 1]) + b"\0" * 8
    hraw = SA.guest_to_host(guest)
    assert host.split_host_sockaddr(hraw)[0] == socket.AF_INET
    assert SA.host_to_guest(hraw) == guest


def test_cmsg_rules():
    assert M.cmsg_len(4) == 20 and M.cmsg_space(4) == 24 and M.cmsg_space(12) == 32
    ctl = M.CMSGHDR.pack(100, 1, 1)                    # cmsg_len past controllen
    with pytest.raises(M.LinuxError) as e:
        M.parse_send_control(ctl + b"\0" * 8, True)
    assert e.value.err == 22
    with pytest.raises(M.LinuxError):
        M.parse_send_control(M.CMSGHDR.pack(8, 1, 1) + b"\0" * 8, True)
    # non-SOL_SOCKET cmsgs are skipped, trailing bytes shorter than a header ignored
    assert M.parse_send_control(M.CMSGHDR.pack(16, 99, 1) + b"\0" * 4, True) == ([], None)


def test_build_guest_control_truncates_fds(tmp_path):
    import os
    fds = [os.open(str(tmp_path), os.O_RDONLY) for _ in range(3)]
    data, flags = M.build_guest_control(M.cmsg_len(4), None, fds, False)
    assert flags & C.MSG_CTRUNC
    clen, level, typ = M.CMSGHDR.unpack_from(data)
    assert (clen, level, typ) == (20, 1, 1) and len(data) == 20
    kept = struct.unpack_from("<i", data, 16)[0]
    os.close(kept)
    for fd in fds[1:]:                                   # the rest were closed
        with pytest.raises(OSError):
            os.fstat(fd)


def test_creds_cmsg_with_short_buffer():
    data, flags = M.build_guest_control(8, (1, 2, 3), [], False)
    assert data == b"" and flags & C.MSG_CTRUNC
    data, flags = M.build_guest_control(64, (1, 2, 3), [], False)
    assert flags == 0 and len(data) == M.cmsg_space(12)


def test_darwin_caps_forced():
    caps = hostcaps.probe("darwin")
    assert not caps.seqpacket and not caps.abstract and not caps.passcred
    assert caps.sun_path_max == 104 and not caps.sock_flags


def test_sockstate_is_picklable():
    st = SockState(C.AF_UNIX, C.SOCK_SEQPACKET, 0, framed=True)
    st.name = b"\1\0\0abc"
    back = pickle.loads(pickle.dumps(st))
    assert back.type == C.SOCK_SEQPACKET and back.framed and back.intercepts_io and back.name == st.name
