"""The host floor: every call into the host OS that differs between macOS and Linux.

One module per concern; the backend is chosen once, in `platform`, and no
other module of elfuse-py reads `sys.platform` or ELFUSE_HOST_COMPAT.
Nothing here imports from the floors above (runtime, loader, syscalls, top).
"""
