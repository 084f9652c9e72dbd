"""Linux socket syscalls on host sockets.

The @syscall handlers, imported by syscalls.registry: sockets (socket,
socketpair, listen, shutdown, and the helpers the others share), names (bind,
connect, getsockname/getpeername, accept/accept4), messages (send*/recv*,
sendmsg/recvmsg, sendmmsg/recvmmsg) and sockopt (setsockopt/getsockopt).  AF_NETLINK
route sockets are emulated: netlink (the socket, its state and names), rtnetlink
(the messages), ifioctl (the SIOCGIF* ioctls on any socket).
Below them: consts (constant tables by name), sockaddr (address layouts), msg
(msghdr/cmsg), framing (SEQPACKET over STREAM), state (per-socket FdState),
policies (the host policies).  The host seam (libc calls, layouts, macOS-only
calls) is elfuse_py.host.sockets.
"""
