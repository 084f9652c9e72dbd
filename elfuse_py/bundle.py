"""The start-up bundle: the compiled code of the modules every run imports, in one file.

An ordinary import of one of our modules walks importlib's path finder (the
directory's stat, the source's stat, the pyc's open, fstat, read and close,
and importlib's own Python code around them): ~25 us, times the ~70 modules
of a plain run (the boot path and the handler areas nearly every program
calls first: its start-up's set_tid_address and ioctl, a write, exit_group).
The CLI instead reads one file, `__pycache__/startup.<cache tag>.bundle`
beside this package, and puts its finder first on `sys.meta_path` (`install`).
For each module the file holds its source's path, size and mtime and its
code, marshalled as in a pyc; a module is served from it only while its
source still has that size and mtime (one stat), else it is imported the
ordinary way.  The modules keep their `__file__`, `__path__` and code
filenames: tracebacks, `__file__`-relative paths and `-X importtime` see
no difference.

The file is written by `python -m elfuse_py.bundle` (the Makefile's install
step and `make bench` run it), and by a CLI run that found it missing or
stale (`refresh`, at its exit, once the guest has ended; never where Python
may not write bytecode: PYTHONDONTWRITEBYTECODE, -B).  A run under
`python -O` does not use a bundle written without it, nor the reverse.
"""
from __future__ import annotations

import marshal
import mmap
import os
import sys

_FORMAT = 1
# The modules imported only once a guest runs that nearly every program needs
# (the handler areas of its C library's start-up, a write and the exit).
AREAS_AT_START = ("elfuse_py.syscalls.proc", "elfuse_py.syscalls.ioctl",
                  "elfuse_py.syscalls.fileio")
# Imported before `install` (the console script's own imports, and what maps the
# file): never from the bundle.
_BEFORE = ("elfuse_py", "elfuse_py.cli", "elfuse_py.bundle", "elfuse_py.host", "elfuse_py.host.cdefs",
           "elfuse_py.host._ffi", "elfuse_py.host._ffi.unicorn")


def path() -> str:
    """Where this package's bundle lives, for the running interpreter."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "__pycache__", f"startup.{sys.implementation.cache_tag}.bundle")


def _magic() -> bytes:
    # The bytecode's version: importlib's own (no import: it is loaded at start).
    return sys.modules["_frozen_importlib_external"].MAGIC_NUMBER


class _Finder:
    """The meta-path finder and loader of the bundled modules (`install` puts it first)."""

    def __init__(self, data: memoryview, index: dict, base: int) -> None:
        self.data = data
        self.index = index              # name -> (origin, is_package, mtime_ns, size, offset, length)
        self.base = base
        self.stale = False              # a module it had to leave to the ordinary import

    def find_spec(self, name: str, path=None, target=None):
        entry = self.index.get(name)
        if entry is None:
            return None
        origin, is_package, mtime_ns, size = entry[:4]
        try:
            st = os.stat(origin)
        except OSError:
            st = None
        if st is None or st.st_mtime_ns != mtime_ns or st.st_size != size:
            self.stale = True
            del self.index[name]
            return None
        spec = _ModuleSpec(name, self, origin=origin, is_package=is_package)
        spec.has_location = True        # __file__ (and __cached__) as the ordinary import sets them
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(origin)]
        return spec

    def create_module(self, spec):
        return None                     # the default module object

    def exec_module(self, module) -> None:
        offset, length = self.index[module.__name__][4:6]
        start = self.base + offset
        exec(marshal.loads(self.data[start:start + length]), module.__dict__)  # noqa: S102 - our own code

    def code_of(self, name: str) -> bytes:
        """The marshalled code of bundled module `name`."""
        offset, length = self.index[name][4:6]
        return bytes(self.data[self.base + offset:self.base + offset + length])


_ModuleSpec = type(sys.modules["sys"].__spec__)      # importlib.machinery.ModuleSpec, without the import
_finder: _Finder | None = None
_missing = False                        # install() found no usable file
_installer = 0                          # the pid that called install()


def install() -> None:
    """Serve the bundled modules from now on (once; nothing if the file is missing or not ours)."""
    global _finder, _missing, _installer
    if _finder is not None or _missing:
        return
    _installer = os.getpid()
    try:
        fd = os.open(path(), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            data = _map(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        head_len = int.from_bytes(data[:4], "little")
        fmt, magic, optimize, index = marshal.loads(data[4:4 + head_len])
    except (OSError, ValueError, EOFError, TypeError, AttributeError):
        _missing = True
        return
    if fmt != _FORMAT or magic != _magic() or optimize != sys.flags.optimize:
        _missing = True
        return
    _finder = _Finder(data, index, 4 + head_len)
    sys.meta_path.insert(0, _finder)


def _map(fd: int, size: int) -> memoryview:
    """The file, mapped read-only for the life of the process.

    Mapped, not read: reading 0.7 MB costs 0.3-2 ms, a mapping ~0.05 ms with
    its page faults, and nothing is copied (a rewrite replaces the file, never
    changes it in place).  Through libc's mmap, not the mmap module's: an
    mmap.mmap keeps a dup of the file's fd open as long as it lives, a low fd
    the guest would find open in its own fd table.
    """
    from elfuse_py.host.cdefs import load_ffi      # (precompiled; every run loads it anyway)
    ffi = load_ffi("unicorn")
    addr = ffi.dlopen(None).mmap(ffi.NULL, size, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    if int(ffi.cast("intptr_t", addr)) == -1:
        raise OSError(ffi.errno, os.strerror(ffi.errno))
    return memoryview(ffi.buffer(addr, size))


def start_modules() -> list[str]:
    """The modules a plain run imports from the bundle: importing them now, in this process."""
    from elfuse_py.host import platform
    platform.start()
    for name in ("elfuse_py.boot",) + AREAS_AT_START:
        __import__(name)
    return sorted(name for name, mod in list(sys.modules.items())
                  if name.startswith("elfuse_py.") and name not in _BEFORE
                  and (getattr(getattr(mod, "__spec__", None), "origin", None) or "").endswith(".py"))


def write(names: list[str]) -> str:
    """Write the bundle of modules `names` (imported in this process); returns its path."""
    index = {}
    blobs = []
    offset = 0
    for name in names:
        spec = sys.modules[name].__spec__
        entry = _finder.index.get(name) if _finder is not None and spec.loader is _finder else None
        if entry is not None:           # served from the old bundle, its source unchanged then
            origin, is_package, mtime_ns, size = entry[:4]
            blob = _finder.code_of(name)
        else:
            origin = spec.origin
            st = os.stat(origin)
            mtime_ns, size = st.st_mtime_ns, st.st_size
            is_package = spec.submodule_search_locations is not None
            blob = marshal.dumps(_code(spec, origin))
        index[name] = (origin, is_package, mtime_ns, size, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    head = marshal.dumps((_FORMAT, _magic(), sys.flags.optimize, index))
    target = path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(len(head).to_bytes(4, "little"))
            f.write(head)
            for blob in blobs:
                f.write(blob)
        os.replace(tmp, target)         # readers see the old file or the new one, whole
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _code(spec, origin: str):
    """A module's code as an ordinary import gets it (its pyc when current, else compiled)."""
    get_code = getattr(spec.loader, "get_code", None)
    code = get_code(spec.name) if get_code is not None else None
    if code is None:
        with open(origin, "rb") as f:
            code = compile(f.read(), origin, "exec", dont_inherit=True)
    return code


def refresh() -> None:
    """At the end of a CLI run: rewrite a bundle that was missing or stale (errors ignored).

    Only in the process that called `install` (not a guest's fork child), and
    only where Python may write bytecode.
    """
    if sys.dont_write_bytecode or _installer != os.getpid():
        return
    if not (_missing or (_finder is not None and _finder.stale)):
        return
    try:
        write(start_modules())
    except Exception:  # noqa: BLE001 - a cache: the next run imports the ordinary way
        pass


if __name__ == "__main__":
    print(write(start_modules()))
    # The other start-up cache: libunicorn with its own symbols bound (host/prebind.py).
    from elfuse_py.host import prebind
    from elfuse_py.runtime import uc
    try:
        print(prebind.write(uc.find_libunicorn()))
    except ValueError as e:             # a library it does not rewrite (a dylib): used as installed
        print(f"libunicorn used as installed: {e}")
