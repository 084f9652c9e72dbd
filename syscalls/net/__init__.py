"""Linux socket syscalls on host sockets (placeholder)."""
