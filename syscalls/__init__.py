"""Linux AArch64 syscalls: the table, and the handler modules that fill it, by area.

Importing this package imports nothing else: `syscalls.registry` imports every
handler area and hands the finished table to the runtime at boot.
"""
