"""Linux socket syscalls on host sockets.

consts (constant tables by name), host (the host seam: libc calls, layouts,
macOS-only calls), sockaddr (address layouts), msg (msghdr/cmsg), framing
(SEQPACKET over STREAM), state (per-socket FdState), policies (the host
policies), handlers + sockopt (the @syscall handlers, imported by
syscalls.registry).
"""
