"""The ELF loader: parsing, segment mapping, the initial stack and auxv,
the program interpreter, and shebang-script resolution."""
from .elf import ElfError, LoadedImage, check_elf, load_elf
from .shebang import ShebangError, elf_parse_shebang

__all__ = ["ElfError", "LoadedImage", "check_elf", "load_elf", "ShebangError", "elf_parse_shebang"]
