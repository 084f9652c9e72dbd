"""`.deb` files read with Python alone: the ar archive, its control and data tars.

A `.deb` is an ar archive (`!<arch>\\n`, then 60-byte member headers) holding
`debian-binary` ("2.0\\n"), `control.tar[.gz|.xz|.zst]` and
`data.tar[.gz|.xz|.bz2|.zst]`.  The compression is told by the member's magic
bytes.  Python 3.11 has no zstd decompressor: a zstd member is unpacked with
`compression.zstd` where the interpreter has it (3.14+), and otherwise refused
with a message naming the package (Debian 12's archive uses xz throughout).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from dataclasses import dataclass
from typing import IO, BinaryIO

from elfuse_py.sysroot.extract import Extractor

AR_MAGIC = b"!<arch>\n"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class DebError(Exception):
    """Not a .deb, or one this tool cannot read."""


@dataclass
class ArMember:
    name: str
    offset: int      # of the data, from the start of the archive
    size: int


def ar_members(f: BinaryIO) -> list[ArMember]:
    """The members of an ar archive.

    Names: plain, GNU `name/`, GNU long names (`/OFFSET` into the `//` member),
    and BSD `#1/LEN` (the name follows the header).  GNU's symbol table `/` and
    the `//` name table are not listed.
    """
    f.seek(0)
    if f.read(8) != AR_MAGIC:
        raise DebError("not an ar archive")
    out = []
    names = b""
    pos = 8
    while True:
        f.seek(pos)
        hdr = f.read(60)
        if not hdr:
            break
        if len(hdr) < 60 or hdr[58:60] != b"`\n":
            raise DebError(f"bad ar member header at offset {pos}")
        name = hdr[0:16].decode("ascii", "replace").rstrip()
        try:
            size = int(hdr[48:58].decode("ascii").strip())
        except ValueError:
            raise DebError(f"bad ar member size at offset {pos}") from None
        data = pos + 60
        nxt = data + size + ((data + size) & 1)      # members are 2-aligned
        if name.startswith("#1/"):                   # BSD: the name follows the header
            n = int(name[3:])
            name = f.read(n).decode("utf-8", "replace").rstrip("\0")
            data += n
            size -= n
        elif name == "//":                           # GNU long-name table
            names = f.read(size)
            pos = nxt
            continue
        elif name == "/":                            # GNU symbol table
            pos = nxt
            continue
        elif name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            end = names.find(b"/\n", start)
            name = names[start:end if end >= 0 else len(names)].decode("utf-8", "replace")
        elif name.endswith("/"):                     # GNU terminator
            name = name[:-1]
        out.append(ArMember(name, data, size))
        pos = nxt
    return out


def ar_read(f: BinaryIO, m: ArMember) -> bytes:
    f.seek(m.offset)
    data = f.read(m.size)
    if len(data) != m.size:
        raise DebError(f"ar member {m.name} is truncated")
    return data


def decompressed(data: bytes, what: str) -> IO[bytes]:
    """A stream of `data` decompressed as its magic bytes say."""
    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    if data[:6] == b"\xfd7zXZ\x00" or data[:1] == b"\x5d":
        return lzma.LZMAFile(raw)
    if data[:3] == b"BZh":
        return bz2.BZ2File(raw)
    if data[:4] == ZSTD_MAGIC:
        try:
            from compression import zstd          # Python 3.14+
        except ImportError:
            raise DebError(f"{what} is zstd-compressed and this Python ({_pyver()}) has no zstd "
                           "decompressor (Python 3.14 has one); unpack that package another "
                           "way or use a Python with compression.zstd") from None
        return zstd.ZstdFile(raw)
    return raw


def _pyver() -> str:
    import sys
    return "%d.%d" % sys.version_info[:2]


@dataclass
class DebInfo:
    control: str           # the control file's text
    postinst: str          # the postinst script's text ("" if none)
    files: int             # members written


def _member(members: list[ArMember], prefix: str, what: str) -> ArMember:
    for m in members:
        if m.name == prefix or m.name.startswith(prefix + "."):
            return m
    raise DebError(f"{what}: no {prefix} member")


def read_control(f: BinaryIO, members: list[ArMember], what: str) -> tuple[str, str]:
    """(control, postinst) texts from control.tar.*."""
    m = _member(members, "control.tar", what)
    texts = {}
    with tarfile.open(fileobj=decompressed(ar_read(f, m), f"{what}'s {m.name}"), mode="r|") as tar:
        for ti in tar:
            name = ti.name.lstrip("./")
            if name in ("control", "postinst") and ti.isreg():
                texts[name] = tar.extractfile(ti).read().decode("utf-8", "replace")
    return texts.get("control", ""), texts.get("postinst", "")


def unpack_deb(path: str, extractor: Extractor, what: str | None = None) -> DebInfo:
    """Unpack the data of the .deb at `path` through `extractor`."""
    what = what or path
    with open(path, "rb") as f:
        members = ar_members(f)
        if not members or members[0].name != "debian-binary":
            raise DebError(f"{what}: not a Debian package (no debian-binary first)")
        version = ar_read(f, members[0]).decode("ascii", "replace").strip()
        if not version.startswith("2."):
            raise DebError(f"{what}: unknown .deb format version {version!r}")
        control, postinst = read_control(f, members, what)
        m = _member(members, "data.tar", what)
        before = extractor.files
        with tarfile.open(fileobj=decompressed(ar_read(f, m), f"{what}'s {m.name}"), mode="r|") as tar:
            extractor.extract_all(tar)
    return DebInfo(control, postinst, extractor.files - before)
