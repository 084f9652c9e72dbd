"""Unit tests of the file-syscall translation tables (syscalls.fsflags, abi,
ttyflags) and a differential tty test (fs_tty on a pseudo-terminal).

The guest programs t_fs_*.c are run by the generic suite (test_guest_suite.py).
"""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import termios

import pytest

from helpers import QEMU, ROOT, available_libcs, guest_bin

from elfuse_py.syscalls import abi, fsflags as F, ttyflags as T


# ----- open flags -----------------------------------------------------------------------

LINUX_OPEN_FLAGS = {  # arch/arm64/include/uapi/asm/fcntl.h + asm-generic/fcntl.h
    "O_CREAT": 0o100, "O_EXCL": 0o200, "O_NOCTTY": 0o400, "O_TRUNC": 0o1000,
    "O_APPEND": 0o2000, "O_NONBLOCK": 0o4000, "O_DSYNC": 0o10000, "O_DIRECTORY": 0o40000,
    "O_NOFOLLOW": 0o100000, "O_DIRECT": 0o200000, "O_LARGEFILE": 0o400000,
    "O_NOATIME": 0o1000000, "O_CLOEXEC": 0o2000000, "O_SYNC": 0o4010000,
    "O_PATH": 0o10000000, "O_TMPFILE": 0o20040000,
}


def test_linux_open_flag_values():
    for name, value in LINUX_OPEN_FLAGS.items():
        assert getattr(F, name) == value, name


@pytest.mark.parametrize("name", ["O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND",
                                  "O_NONBLOCK", "O_DSYNC", "O_DIRECTORY", "O_NOFOLLOW",
                                  "O_CLOEXEC", "O_SYNC"])
def test_open_flag_to_host_by_name(name):
    host = getattr(os, name)
    assert F.open_flags_to_host(getattr(F, name)) == host
    assert F.open_flags_to_linux(host) == getattr(F, name)


def test_access_modes():
    assert F.open_flags_to_host(F.O_RDONLY) == os.O_RDONLY
    assert F.open_flags_to_host(F.O_WRONLY) == os.O_WRONLY
    assert F.open_flags_to_host(F.O_RDWR | F.O_CREAT) == os.O_RDWR | os.O_CREAT
    assert F.open_flags_to_linux(os.O_WRONLY | os.O_APPEND) == F.O_WRONLY | F.O_APPEND


def test_o_dsync_alone_is_not_o_sync():
    host = F.open_flags_to_host(F.O_DSYNC)
    assert host == os.O_DSYNC
    assert F.open_flags_to_linux(host) == F.O_DSYNC


def test_linux_directory_bit_is_not_passed_raw():
    # On x86-64 hosts Linux's arm64 O_DIRECTORY (0o40000) is O_DIRECT: must be translated.
    h = F.open_flags_to_host(F.O_DIRECTORY)
    assert h == os.O_DIRECTORY
    if sys.platform.startswith("linux") and os.O_DIRECTORY != 0o40000:
        assert not h & 0o40000


def test_unknown_host_bits_are_dropped():
    assert F.open_flags_to_linux(os.O_RDONLY | (1 << 30)) == F.O_RDONLY


# ----- file types, stat ------------------------------------------------------------------

@pytest.mark.parametrize("host,linux", [
    (stat.S_IFREG, 0o100000), (stat.S_IFDIR, 0o040000), (stat.S_IFLNK, 0o120000),
    (stat.S_IFIFO, 0o010000), (stat.S_IFCHR, 0o020000), (stat.S_IFBLK, 0o060000),
    (stat.S_IFSOCK, 0o140000)])
def test_file_types(host, linux):
    assert F.mode_to_linux(host | 0o4755) == linux | 0o4755
    assert F.mode_to_host(linux | 0o644) == host | 0o644
    assert F.LINUX_FTYPE_TO_DT[linux] == linux >> 12


def test_stat_layout(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 1234)
    os.utime(p, ns=(1_000_000_000_123, 2_000_000_000_456))
    st = os.stat(p)
    raw = abi.pack_stat(st)
    assert len(raw) == 128
    (dev, ino, mode, nlink, uid, gid, rdev, _p1, size, blksize, _p2, blocks,
     a_s, a_n, m_s, m_n, c_s, c_n, _u4, _u5) = abi.STAT.unpack(raw)
    assert ino == st.st_ino and size == 1234 and nlink == 1
    assert mode == 0o100000 | (st.st_mode & 0o7777)
    assert (uid, gid) == (st.st_uid, st.st_gid)
    assert (a_s, a_n, m_s, m_n) == (1000, 123, 2000, 456)
    assert blksize == st.st_blksize and blocks == st.st_blocks
    assert abi.decode_dev(dev) == (os.major(st.st_dev), os.minor(st.st_dev))
    # byte offsets of the asm-generic layout
    assert int.from_bytes(raw[48:56], "little") == 1234          # st_size
    assert int.from_bytes(raw[88:96], "little") == 2000          # st_mtime


def test_statx_layout(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    os.utime(p, ns=(5_000_000_007, 6_000_000_008))
    st = os.stat(p)
    raw = abi.pack_statx(st, abi.STATX_BASIC_STATS)
    assert len(raw) == 256
    u32 = lambda o: int.from_bytes(raw[o:o + 4], "little")  # noqa: E731
    u64 = lambda o: int.from_bytes(raw[o:o + 8], "little")  # noqa: E731
    assert u32(0) & abi.STATX_BASIC_STATS == abi.STATX_BASIC_STATS       # stx_mask
    assert int.from_bytes(raw[28:30], "little") == 0o100000 | (st.st_mode & 0o7777)
    assert u64(32) == st.st_ino and u64(40) == 3                          # ino, size
    assert u64(64) == 5 and u32(72) == 7                                  # stx_atime
    assert u64(112) == 6 and u32(120) == 8                                # stx_mtime
    assert (u32(136), u32(140)) == (os.major(st.st_dev), os.minor(st.st_dev))


@pytest.mark.parametrize("major,minor", [(0, 0), (8, 1), (259, 3), (4095, 255), (4096, 1 << 19)])
def test_dev_encoding_roundtrip(major, minor):
    assert abi.decode_dev(abi.encode_dev(major, minor)) == (major, minor)


def test_dev_encoding_matches_glibc_makedev():
    assert abi.encode_dev(8, 1) == 0x801
    assert abi.encode_dev(259, 0x12345) == (259 << 8) | 0x45 | (0x123 << 20)


@pytest.mark.parametrize("name", [b"a", b"1234", b"abcdefghijk", b"x" * 255])
def test_dirent64_records(name):
    rec = abi.pack_dirent64(77, 3, F.DT_REG, name)
    assert len(rec) % 8 == 0 and len(rec) == abi.dirent64_size(name)
    ino, off, reclen, dtype = abi.DIRENT64_HEAD.unpack_from(rec)
    assert (ino, off, reclen, dtype) == (77, 3, len(rec), F.DT_REG)
    assert rec[19:19 + len(name)] == name and rec[19 + len(name)] == 0


def test_struct_sizes():
    assert abi.STATFS.size == 120 and abi.FLOCK.size == 32 and abi.TIMESPEC.size == 16
    assert T.TERMIOS.size == 36


# ----- fcntl and friends ------------------------------------------------------------------

def test_lock_types_by_name():
    import fcntl
    assert F.LOCK_TYPES == {0: fcntl.F_RDLCK, 1: fcntl.F_WRLCK, 2: fcntl.F_UNLCK}
    assert F.LOCK_CMDS[F.F_SETLK] == fcntl.F_SETLK and F.LOCK_CMDS[F.F_GETLK] == fcntl.F_GETLK


def test_bits_tables():
    table = {1: 0x10, 2: 0x20}
    assert F.bits_to_host(3, table) == 0x30
    assert F.bits_to_linux(0x30, table) == 3
    with pytest.raises(KeyError):
        F.bits_to_host(4, table)


def test_seek_whence():
    assert F.SEEK_WHENCE[0] == os.SEEK_SET and F.SEEK_WHENCE[2] == os.SEEK_END
    assert 5 not in F.SEEK_WHENCE


def test_errno_of_enotty_is_linux():
    from elfuse_py.runtime import lerrno
    assert lerrno.to_linux(errno.ENOTTY) == 25


# ----- termios -----------------------------------------------------------------------------

def _host_attrs():
    cc = [b"\0"] * termios.NCCS
    cc[termios.VINTR] = b"\x03"
    cc[termios.VEOF] = b"\x04"
    cc[termios.VMIN] = b"\x01"
    return [termios.ICRNL | termios.IXON, termios.OPOST | termios.ONLCR,
            termios.CS8 | termios.CREAD | termios.B38400 * bool(getattr(termios, "CBAUD", 0)),
            termios.ISIG | termios.ICANON | termios.ECHO | termios.IEXTEN,
            termios.B38400, termios.B38400, cc]


def test_termios_to_linux_values():
    raw = T.termios_to_linux(_host_attrs())
    iflag, oflag, cflag, lflag, line, cc = T.TERMIOS.unpack(raw)
    assert iflag == 0o400 | 0o2000                    # ICRNL | IXON
    assert oflag == 0o1 | 0o4                         # OPOST | ONLCR
    assert cflag == 0o60 | 0o200 | 0o17               # CS8 | CREAD | B38400
    assert lflag == 0o1 | 0o2 | 0o10 | 0o100000       # ISIG | ICANON | ECHO | IEXTEN
    assert cc[0] == 3 and cc[4] == 4 and cc[6] == 1   # VINTR, VEOF, VMIN (Linux indices)


def test_termios_roundtrip():
    attrs = _host_attrs()
    back = T.termios_to_host(T.termios_to_linux(attrs), attrs)
    assert back[:6] == attrs[:6]
    for i in (termios.VINTR, termios.VEOF, termios.VMIN):
        assert back[6][i] == attrs[6][i]


def test_termios_speed_and_cs7():
    attrs = _host_attrs()
    raw = bytearray(T.termios_to_linux(attrs))
    iflag, oflag, cflag, lflag, line, cc = T.TERMIOS.unpack(bytes(raw))
    cflag = (cflag & ~(0o60 | 0o10017)) | 0o40 | 13   # CS7, B9600
    new = T.termios_to_host(T.TERMIOS.pack(iflag, oflag, cflag, lflag, line, cc), attrs)
    assert new[4] == new[5] == termios.B9600
    assert new[2] & termios.CSIZE == termios.CS7


# ----- tty ioctls on a real pseudo-terminal, against qemu ---------------------------------

def _run_on_pty(cmd: list[str]) -> subprocess.CompletedProcess:
    master, slave = os.openpty()
    try:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.run(cmd, stdin=slave, capture_output=True, timeout=60, env=env)
    finally:
        os.close(slave)
        os.close(master)


@pytest.mark.parametrize("libc", available_libcs())
def test_tty_ioctls(libc):
    exe = guest_bin("fs_tty", libc)
    r = _run_on_pty([sys.executable, "-m", "elfuse_py", exe])
    out = r.stdout.decode()
    assert r.returncode == 0 and "not ok" not in out, out + r.stderr.decode()
    assert "ok - raw mode stuck" in out and "ok - TIOCGWINSZ reads it back" in out
    if QEMU:
        q = _run_on_pty([QEMU, exe])
        assert q.stdout.decode() == out and q.returncode == r.returncode


# ----- a macOS-like host (flag tables built from a fake os module) --------------------------

def test_open_flags_on_a_host_without_linux_only_flags():
    from types import SimpleNamespace
    import fcntl
    mac = SimpleNamespace(O_CREAT=0x200, O_EXCL=0x800, O_NOCTTY=0x20000, O_TRUNC=0x400,
                          O_APPEND=0x8, O_NONBLOCK=0x4, O_DSYNC=0x400000, O_SYNC=0x80,
                          O_ASYNC=0x40, O_DIRECTORY=0x100000, O_NOFOLLOW=0x100,
                          O_CLOEXEC=0x1000000)
    table, missing = F.build_open_flag_table(mac, fcntl)
    # O_LARGEFILE (musl sets it on every open), O_NOATIME, O_DIRECT are dropped silently;
    # O_TMPFILE and O_PATH are reported so openat can refuse or substitute.
    assert set(missing.values()) == {"O_TMPFILE", "O_PATH"}
    host = dict(table)
    assert host[F.O_DIRECTORY] == 0x100000 and host[F.O_CLOEXEC] == 0x1000000
    assert host[F.O_SYNC] == 0x80 and host[F.O_DSYNC] == 0x400000


def test_setfl_only_touches_changeable_flags():
    cur = os.O_RDWR | os.O_APPEND
    new = F.setfl_to_host(cur, F.O_NONBLOCK | F.O_CREAT | F.O_WRONLY)
    assert new == os.O_RDWR | os.O_NONBLOCK
