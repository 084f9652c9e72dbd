"""elfuse-py: run Linux AArch64 ELF programs on a macOS or Linux host."""
__version__ = "0.1.0"

__all__ = ["run", "Result", "Syscall"]


def __getattr__(name: str):
    # Lazy: `import elfuse_py` stays cheap (the emulator's CLI imports this package too).
    if name in ("run", "Result", "Syscall"):
        from elfuse_py import api
        return getattr(api, name)
    raise AttributeError(f"module 'elfuse_py' has no attribute {name!r}")
