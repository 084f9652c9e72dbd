"""The runtime floor: the emulated machine and the kernel state of one guest process.

The CPU core (cffi to libunicorn), guest memory, the process with its fd
table, threads, signals and the guest's /proc.  It imports only the host
floor; the syscall table and the loader are handed to it at boot by the
composition root (`elfuse_py.boot`), never imported.
"""
