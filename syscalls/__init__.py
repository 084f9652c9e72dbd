"""Linux AArch64 syscalls: the table, and the handler modules that fill it, by area.

Importing this package imports nothing else: `syscalls.registry` lists every
handler area and hands the table to the runtime at boot, where each area is
imported on the first call of one of its numbers (`syscalls.lazy`).
"""
