"""Host -> Linux errno translation (by name, so right on macOS too)."""
from __future__ import annotations

import errno

import pytest

from elfuse_py.runtime import lerrno

# Linux asm-generic values, from include/uapi/asm-generic/errno*.h.
KNOWN = {"EPERM": 1, "ENOENT": 2, "EINTR": 4, "EBADF": 9, "EAGAIN": 11, "EACCES": 13,
         "EFAULT": 14, "EEXIST": 17, "ENOTDIR": 20, "EISDIR": 21, "EINVAL": 22, "ENOTTY": 25,
         "ESPIPE": 29, "EPIPE": 32, "ERANGE": 34, "EDEADLK": 35, "ENAMETOOLONG": 36,
         "ENOSYS": 38, "ENOTEMPTY": 39, "ELOOP": 40, "EOVERFLOW": 75, "ENOTSOCK": 88,
         "EOPNOTSUPP": 95, "EAFNOSUPPORT": 97, "EADDRINUSE": 98, "ECONNRESET": 104,
         "ENOTCONN": 107, "ETIMEDOUT": 110, "ECONNREFUSED": 111, "EINPROGRESS": 115,
         "ESTALE": 116, "EDQUOT": 122, "ECANCELED": 125, "EOWNERDEAD": 130}


@pytest.mark.parametrize("name,value", sorted(KNOWN.items()))
def test_linux_values(name, value):
    assert lerrno.LINUX_ERRNO[name] == value
    assert lerrno.LINUX_ERRNO_NAMES[value] == name


@pytest.mark.parametrize("name,value", sorted(KNOWN.items()))
def test_host_errno_translates_by_name(name, value):
    host = getattr(errno, name, None)
    if host is None:
        pytest.skip(f"host has no {name}")
    assert lerrno.to_linux(host) == value


def test_module_constants_match_table():
    for name, value in lerrno.LINUX_ERRNO.items():
        if hasattr(lerrno, name):
            assert getattr(lerrno, name) == value, name


def test_aliases():
    assert lerrno.to_linux(errno.EWOULDBLOCK) == KNOWN["EAGAIN"]
    if hasattr(errno, "ENOTSUP"):
        assert lerrno.to_linux(errno.ENOTSUP) == KNOWN["EOPNOTSUPP"]


def test_every_host_errno_has_a_translation():
    # Each errno the host's Python knows maps to some Linux value by name or alias.
    missing = [name for num, name in errno.errorcode.items() if num not in lerrno.HOST_TO_LINUX]
    assert missing == []


def test_unknown_and_none_are_eio():
    assert lerrno.to_linux(None) == 5
    assert lerrno.to_linux(99999) == 5


def test_linux_table_is_a_bijection():
    assert len(set(lerrno.LINUX_ERRNO.values())) == len(lerrno.LINUX_ERRNO)
    assert len(lerrno.LINUX_ERRNO) >= 130
