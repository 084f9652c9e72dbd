"""A gdb stub for the guest: `elfuse-py -g PORT prog` (or ELFUSE_GDB=PORT), as qemu-user's -g.

The guest stops before its first instruction and waits for one GDB remote
serial protocol connection on 127.0.0.1:PORT (TCP; PORT 0 picks a free one,
and the line on stderr says which).  `packets.py` frames the protocol,
`target.py` describes the machine (target.xml, the register file),
`gdbsig.py` translates signal numbers, `watch.py` keeps the watchpoints,
`hostio.py` serves the guest's files (vFile), `stub.py` answers gdb and runs
the guest as it asks.  The composition root (elfuse_py/boot.py) installs it as
`proc.debugger`; without -g none of it is imported (the CLI checks the
address through this light module before the host floor is set up).
"""
from __future__ import annotations

import socket


class GdbAddressError(ValueError):
    """-g was given something that is not [HOST:]PORT."""


def parse_address(text: str) -> tuple[str, int]:
    """`PORT` or `HOST:PORT` -> (host, port); the host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    try:
        n = int(port, 10)
    except ValueError:
        n = -1
    if not 0 <= n <= 65535:
        raise GdbAddressError(f"-g needs a TCP port number (or HOST:PORT), got {text!r}")
    return host or "127.0.0.1", n


def install(proc, address: str):
    """Listen on `address`, wait for gdb to connect, make the stub the process's debugger."""
    from elfuse_py.gdbstub.packets import Connection
    from elfuse_py.gdbstub.stub import Stub
    from elfuse_py.runtime import log

    host, port = parse_address(address)
    listener = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        actual = listener.getsockname()[1]
        log.emit(f"elfuse-py: waiting for gdb on {host}:{actual} (target remote {host}:{actual})\n")
        sock, _peer = listener.accept()
    finally:
        listener.close()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # The guest's fd numbers are the host's: keep ours out of its way (and closed at exec).
    fd = proc.fds.reserve(sock.detach())
    conn = Connection(socket.socket(fileno=fd))
    stub = Stub(conn, proc)
    proc.debugger = stub
    # Breakpoints and watchpoints stop the engine from inside a hook, which
    # needs unicorn's exit checks after each instruction's accesses
    # (runtime/ucexits.py); they are compiled in while gdb is attached.
    proc.cpu.exit_checks(True)
    return stub
