"""The ELF loader: parsing, segment mapping, the initial stack and auxv,
the program interpreter, and shebang-script resolution."""
from elfuse_py.loader.elf import ElfError, LoadedImage, check_elf, load_elf
from elfuse_py.loader.shebang import ShebangError, elf_parse_shebang

__all__ = ["ElfError", "LoadedImage", "check_elf", "load_elf", "ShebangError", "elf_parse_shebang"]
