"""The GDB remote serial protocol's framing: packets, checksums, acks, escapes.

A packet is `$data#cc` (cc: the modulo-256 sum of data, two hex digits).
Until gdb and the stub agree on QStartNoAckMode each side answers every
packet with `+` (or `-`: send it again).  Binary data (the X packet, qXfer
replies) escapes `#`, `$`, `}` and `*` as `}` followed by the byte XOR 0x20.
A lone 0x03 byte outside any packet is gdb's interrupt request (Ctrl-C).

This module only moves bytes; what a packet means is stub.py's business.
"""
from __future__ import annotations

import select
import socket

INTERRUPT = 0x03
_ESCAPED = frozenset(b"#$}*")


class Disconnected(Exception):
    """gdb closed the connection (or it broke)."""


def checksum(data: bytes) -> bytes:
    return b"%02x" % (sum(data) & 0xFF)


def escape(data: bytes) -> bytes:
    """Binary data as a packet may carry it."""
    if not any(b in _ESCAPED for b in data):
        return data
    out = bytearray()
    for b in data:
        if b in _ESCAPED:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """The bytes an escaped binary field stands for (X packets)."""
    if b"}" not in data:
        return data
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            b = next(it, 0x20) ^ 0x20
        out.append(b)
    return bytes(out)


class Connection:
    """One gdb connection: reads packets and interrupt bytes, sends packets."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.ack = True            # until QStartNoAckMode
        self.last_sent = b""
        self.interrupted = False   # a 0x03 arrived
        # poll, not select: the socket sits in the reserved fds at the top of the range
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)

    def fileno(self) -> int:
        return self.sock.fileno()

    # ----- receiving ----------------------------------------------------------------

    def _fill(self, block: bool) -> bool:
        """Read what the socket has; False if nothing was there (non-blocking)."""
        if not block and not self._poller.poll(0):
            return False
        try:
            data = self.sock.recv(65536)
        except InterruptedError:
            return False
        except OSError as e:
            raise Disconnected(str(e)) from None
        if not data:
            raise Disconnected("connection closed")
        self.buf += data
        return True

    def poll_interrupt(self) -> bool:
        """While the guest runs: True once gdb asked to stop it (Ctrl-C)."""
        while self._fill(block=False):
            pass
        self._skip_noise()
        return self.interrupted

    def _skip_noise(self) -> None:
        """Consume what precedes the next packet: acks, a request to resend, 0x03."""
        buf = self.buf
        n = 0
        while n < len(buf) and buf[n] != 0x24:        # '$'
            b = buf[n]
            if b == INTERRUPT:
                self.interrupted = True
            elif b == 0x2D and self.last_sent:          # '-': gdb wants it again
                self._send_raw(self.last_sent)
            n += 1
        del buf[:n]

    def read_packet(self) -> bytes:
        """The next packet's data (acknowledged); blocks until one arrives."""
        while True:
            self._skip_noise()
            buf = self.buf
            end = buf.find(b"#")
            if buf and end >= 0 and len(buf) >= end + 3:
                data = bytes(buf[1:end])
                cs = bytes(buf[end + 1:end + 3])
                del buf[:end + 3]
                if self.ack:
                    if cs.lower() != checksum(data):
                        self._send_raw(b"-")
                        continue
                    self._send_raw(b"+")
                return data
            self._fill(block=True)

    # ----- sending ----------------------------------------------------------------------

    def _send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Disconnected(str(e)) from None

    def send(self, data: bytes) -> None:
        """Send one packet (its data already escaped where it is binary)."""
        pkt = b"$" + data + b"#" + checksum(data)
        self.last_sent = pkt if self.ack else b""
        self._send_raw(pkt)

    def close(self, drain: float = 1.0) -> None:
        """Close politely: let gdb read what was sent before the socket goes."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(drain)
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
