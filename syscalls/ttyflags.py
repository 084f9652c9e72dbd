"""Linux AArch64 struct termios and its translation to and from the host's.

The kernel's TCGETS/TCSETS* use the 36-byte struct termios of asm-generic
termbits.h (c_iflag, c_oflag, c_cflag, c_lflag as u32, c_line, c_cc[19]).  The
host side is Python's termios module (tcgetattr's 7-item list), with every
flag, multi-bit field, speed and control-character index taken by name.
The tty ioctl request numbers are syscalls/ioctl.py's, which loads this
module on the first request that needs it.
"""
from __future__ import annotations

import struct
import termios as _t

TERMIOS = struct.Struct("<IIIIB19s")
assert TERMIOS.size == 36
NCCS = 19

# tcflush queue selectors and tcflow actions: Linux value -> host name
TCFLSH_ARGS = {0: "TCIFLUSH", 1: "TCOFLUSH", 2: "TCIOFLUSH"}
TCXONC_ARGS = {0: "TCOOFF", 1: "TCOON", 2: "TCIOFF", 3: "TCION"}


def _bits(pairs: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """(linux bit, host bit) for the names the host has."""
    return [(lin, getattr(_t, name)) for lin, name in pairs if getattr(_t, name, None)]


IFLAG = _bits([(0o1, "IGNBRK"), (0o2, "BRKINT"), (0o4, "IGNPAR"), (0o10, "PARMRK"),
               (0o20, "INPCK"), (0o40, "ISTRIP"), (0o100, "INLCR"), (0o200, "IGNCR"),
               (0o400, "ICRNL"), (0o1000, "IUCLC"), (0o2000, "IXON"), (0o4000, "IXANY"),
               (0o10000, "IXOFF"), (0o20000, "IMAXBEL"), (0o40000, "IUTF8")])
OFLAG = _bits([(0o1, "OPOST"), (0o2, "OLCUC"), (0o4, "ONLCR"), (0o10, "OCRNL"),
               (0o20, "ONOCR"), (0o40, "ONLRET"), (0o100, "OFILL"), (0o200, "OFDEL")])
CFLAG = _bits([(0o100, "CSTOPB"), (0o200, "CREAD"), (0o400, "PARENB"), (0o1000, "PARODD"),
               (0o2000, "HUPCL"), (0o4000, "CLOCAL"), (0o10000000000, "CMSPAR"),
               (0o20000000000, "CRTSCTS")])
LFLAG = _bits([(0o1, "ISIG"), (0o2, "ICANON"), (0o4, "XCASE"), (0o10, "ECHO"),
               (0o20, "ECHOE"), (0o40, "ECHOK"), (0o100, "ECHONL"), (0o200, "NOFLSH"),
               (0o400, "TOSTOP"), (0o1000, "ECHOCTL"), (0o2000, "ECHOPRT"),
               (0o4000, "ECHOKE"), (0o10000, "FLUSHO"), (0o40000, "PENDIN"),
               (0o100000, "IEXTEN"), (0o200000, "EXTPROC")])


def _field(mask: tuple[int, str], values: list[tuple[int, str]]):
    """A multi-bit field: (linux mask, host mask, {linux value: host value})."""
    host_mask = getattr(_t, mask[1], 0)
    table = {lin: getattr(_t, name) for lin, name in values if hasattr(_t, name)}
    return mask[0], host_mask, table


OFIELDS = [f for f in (
    _field((0o400, "NLDLY"), [(0, "NL0"), (0o400, "NL1")]),
    _field((0o3000, "CRDLY"), [(0, "CR0"), (0o1000, "CR1"), (0o2000, "CR2"), (0o3000, "CR3")]),
    _field((0o14000, "TABDLY"), [(0, "TAB0"), (0o4000, "TAB1"), (0o10000, "TAB2"),
                                 (0o14000, "TAB3")]),
    _field((0o20000, "BSDLY"), [(0, "BS0"), (0o20000, "BS1")]),
    _field((0o40000, "VTDLY"), [(0, "VT0"), (0o40000, "VT1")]),
    _field((0o100000, "FFDLY"), [(0, "FF0"), (0o100000, "FF1")]),
) if f[1]]
CFIELDS = [_field((0o60, "CSIZE"), [(0, "CS5"), (0o20, "CS6"), (0o40, "CS7"), (0o60, "CS8")])]

# Speeds: Linux CBAUD value -> host speed constant.
_LINUX_SPEEDS = [(0, "B0"), (1, "B50"), (2, "B75"), (3, "B110"), (4, "B134"), (5, "B150"),
                 (6, "B200"), (7, "B300"), (8, "B600"), (9, "B1200"), (10, "B1800"),
                 (11, "B2400"), (12, "B4800"), (13, "B9600"), (14, "B19200"), (15, "B38400"),
                 (0o10001, "B57600"), (0o10002, "B115200"), (0o10003, "B230400"),
                 (0o10004, "B460800"), (0o10005, "B500000"), (0o10006, "B576000"),
                 (0o10007, "B921600"), (0o10010, "B1000000"), (0o10011, "B1152000"),
                 (0o10012, "B1500000"), (0o10013, "B2000000"), (0o10014, "B2500000"),
                 (0o10015, "B3000000"), (0o10016, "B3500000"), (0o10017, "B4000000")]
SPEED_TO_HOST = {lin: getattr(_t, name) for lin, name in _LINUX_SPEEDS if hasattr(_t, name)}
SPEED_TO_LINUX = {v: k for k, v in SPEED_TO_HOST.items()}
CBAUD, CIBAUD, IBSHIFT = 0o10017, 0o2003600000, 16
_HOST_SPEED_BITS = getattr(_t, "CBAUD", 0) | getattr(_t, "CIBAUD", 0)

# c_cc: Linux index -> host index
_CC = [(0, "VINTR"), (1, "VQUIT"), (2, "VERASE"), (3, "VKILL"), (4, "VEOF"), (5, "VTIME"),
       (6, "VMIN"), (7, "VSWTC"), (8, "VSTART"), (9, "VSTOP"), (10, "VSUSP"), (11, "VEOL"),
       (12, "VREPRINT"), (13, "VDISCARD"), (14, "VWERASE"), (15, "VLNEXT"), (16, "VEOL2")]
CC_INDEX = {lin: getattr(_t, name) for lin, name in _CC if hasattr(_t, name)}


def _to_linux(value: int, bits, fields) -> int:
    out = 0
    for lin, host in bits:
        if value & host:
            out |= lin
    for lmask, hmask, table in fields:
        hv = value & hmask
        for lv, hval in table.items():
            if hval == hv:
                out |= lv
                break
    return out


def _to_host(value: int, host_old: int, bits, fields) -> int:
    # Keep host-only bits as they were; replace every bit Linux can name.
    out = host_old
    for lin, host in bits:
        out = (out | host) if value & lin else (out & ~host)
    for lmask, hmask, table in fields:
        hv = table.get(value & lmask)
        if hv is not None:
            out = (out & ~hmask) | hv
    return out


def _cc_byte(v) -> int:
    return v if isinstance(v, int) else (v[0] if v else 0)


def termios_to_linux(attrs: list) -> bytes:
    """Linux struct termios bytes for a host tcgetattr() list."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    c = _to_linux(cflag & ~_HOST_SPEED_BITS, CFLAG, CFIELDS)
    c |= SPEED_TO_LINUX.get(ospeed, 0)
    if ispeed != ospeed:
        c |= SPEED_TO_LINUX.get(ispeed, 0) << IBSHIFT
    ccs = bytearray(NCCS)
    for lin, host in CC_INDEX.items():
        if host < len(cc):
            ccs[lin] = _cc_byte(cc[host])
    return TERMIOS.pack(_to_linux(iflag, IFLAG, []), _to_linux(oflag, OFLAG, OFIELDS), c,
                        _to_linux(lflag, LFLAG, []), 0, bytes(ccs))


def termios_to_host(raw: bytes, current: list) -> list:
    """A host tcsetattr() list from Linux struct termios bytes, based on the current one."""
    iflag, oflag, cflag, lflag, _line, ccs = TERMIOS.unpack(raw)
    h_i, h_o, h_c, h_l, h_is, h_os, h_cc = current
    ospeed = SPEED_TO_HOST.get(cflag & CBAUD, h_os)
    ibits = (cflag & CIBAUD) >> IBSHIFT
    ispeed = SPEED_TO_HOST.get(ibits, h_is) if ibits else ospeed
    new_c = _to_host(cflag, h_c & ~_HOST_SPEED_BITS, CFLAG, CFIELDS)
    if _HOST_SPEED_BITS:
        # Linux-style hosts keep the speed inside c_cflag as well.
        new_c |= ospeed & getattr(_t, "CBAUD", 0)
    cc = [(_cc_byte(x)) for x in h_cc]
    for lin, host in CC_INDEX.items():
        if host < len(cc):
            cc[host] = ccs[lin]
    cc = [bytes([x]) for x in cc]
    return [_to_host(iflag, h_i, IFLAG, []), _to_host(oflag, h_o, OFLAG, OFIELDS), new_c,
            _to_host(lflag, h_l, LFLAG, []), ispeed, ospeed, cc]
