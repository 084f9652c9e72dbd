"""elfuse-py: run Linux AArch64 ELF programs on a macOS or Linux host."""
__version__ = "0.1.0"
