"""elfuse-py: run Linux AArch64 ELF programs on a macOS or Linux host."""
__version__ = "0.1.0"

# `elfuse_py.syscalls` and `elfuse_py.loader`: installed, they are subpackages here; in a
# source tree they are the top-level syscalls/ and loader/ beside this package (never
# importable as bare `syscalls`/`loader`, so a guest's own syscalls.py cannot shadow them).
def _source_tree_subpackages() -> None:
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(here)
    if not os.path.isdir(os.path.join(here, "syscalls")) \
            and os.path.isfile(os.path.join(top, "syscalls", "__init__.py")):
        __path__.append(top)


_source_tree_subpackages()

__all__ = ["run", "Result", "Syscall"]


def __getattr__(name: str):
    # Lazy: `import elfuse_py` stays cheap (the emulator's CLI imports this package too).
    if name in ("run", "Result", "Syscall"):
        from elfuse_py import api
        return getattr(api, name)
    raise AttributeError(f"module 'elfuse_py' has no attribute {name!r}")
