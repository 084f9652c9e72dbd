"""Image tarballs unpacked into a root: `docker save`, OCI image layouts, plain rootfs tars.

* `docker save`: `manifest.json` lists images, each with `Layers` in order
  (`ID/layer.tar`, or `blobs/sha256/...` from Docker 25 on); with several
  images the one whose config says `architecture: arm64` is taken.
* OCI image layout: `index.json` -> manifests (or nested indexes) ->
  `blobs/sha256/HEX`; the `linux/arm64` manifest is chosen when an index
  lists several platforms; every blob read is checked against its digest.
* Anything else is a plain root filesystem tarball (gzip/xz/bzip2 or not).

Layers are tars, possibly compressed (told by their magic bytes).  Whiteouts
are honoured as overlayfs does: `DIR/.wh.NAME` deletes NAME from the layers
below, `DIR/.wh..wh..opq` empties DIR of what the layers below put there;
both are applied before the layer's own files.  Members are written through
extract.Extractor (nothing lands outside the root, `..` is refused, device
nodes are skipped unless running as root).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from typing import IO, Callable

from elfuse_py.sysroot.deb import decompressed
from elfuse_py.sysroot.extract import Extractor, member_parts
from elfuse_py.sysroot.progress import Progress

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
ARCH = "arm64"


class ImageError(Exception):
    """Not an image this tool understands, or one without an arm64 manifest."""


class _NoArm64(ImageError):
    """A (nested) index without a linux/arm64 manifest: the caller tries the next entry."""


@dataclass
class Layer:
    name: str                          # member of the outer tarball
    digest: str | None = None          # "sha256:HEX" to check, when known


class ImageTar:
    """Random access to the outer tarball's members (decompressed to a temp file first)."""

    def __init__(self, path: str, tmpdir: str) -> None:
        with open(path, "rb") as f:
            head = f.read(6)
        self._tmp = None
        if head[:2] == b"\x1f\x8b" or head[:6] == b"\xfd7zXZ\x00" or head[:3] == b"BZh":
            # tarfile can seek a compressed stream only by re-reading it: spool once.
            self._tmp = tempfile.NamedTemporaryFile(dir=tmpdir, suffix=".tar", delete=False)
            with open(path, "rb") as f:
                shutil.copyfileobj(decompressed_file(f, head), self._tmp, 1 << 20)
            self._tmp.close()
            path = self._tmp.name
        self.tar = tarfile.open(path, mode="r:")
        self.members = {m.name[2:] if m.name.startswith("./") else m.name: m
                        for m in self.tar.getmembers()}

    def close(self) -> None:
        self.tar.close()
        if self._tmp is not None:
            os.unlink(self._tmp.name)

    def has(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> IO[bytes]:
        m = self.members.get(name)
        if m is None or not (m.isreg() or m.islnk() or m.issym()):
            raise ImageError(f"the image has no {name}")
        f = self.tar.extractfile(m)
        if f is None:
            raise ImageError(f"the image's {name} is not a file")
        return f

    def read(self, name: str, digest: str | None = None) -> bytes:
        data = self.open(name).read()
        if digest is not None:
            check_digest(data, digest, name)
        return data

    def json(self, name: str, digest: str | None = None):
        try:
            return json.loads(self.read(name, digest))
        except ValueError as e:
            raise ImageError(f"the image's {name} is not JSON: {e}") from None


def decompressed_file(f: IO[bytes], head: bytes) -> IO[bytes]:
    import bz2
    import gzip
    import lzma
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f)
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(f)
    return bz2.BZ2File(f)


def check_digest(data: bytes, digest: str, what: str) -> None:
    algo, _, want = digest.partition(":")
    if algo != "sha256":
        return
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise ImageError(f"{what}: sha256 {got} does not match its digest {want}")


def blob(digest: str) -> str:
    algo, _, hexd = digest.partition(":")
    return f"blobs/{algo}/{hexd}"


# --- choosing the layers -------------------------------------------------------------

def oci_layers(img: ImageTar) -> tuple[list[Layer], str]:
    """The layers of the arm64 image in an OCI layout, and a description."""
    index = img.json("index.json")
    manifest, desc = _pick_manifest(img, index, "index.json")
    return [Layer(blob(l["digest"]), l["digest"]) for l in manifest.get("layers", [])], desc


def _platform_of(img: ImageTar, manifest: dict) -> str:
    cfg = manifest.get("config") or {}
    if not cfg.get("digest") or not img.has(blob(cfg["digest"])):
        return "?"
    c = img.json(blob(cfg["digest"]), cfg["digest"])
    return f"{c.get('os', '?')}/{c.get('architecture', '?')}"


def _pick_manifest(img: ImageTar, index: dict, where: str,
                   seen: list[str] | None = None) -> tuple[dict, str]:
    """The linux/arm64 image manifest under an index (nested indexes followed)."""
    top = seen is None
    seen = [] if seen is None else seen
    for e in index.get("manifests", []):
        plat = e.get("platform") or {}
        arch = plat.get("architecture")
        if arch == "unknown":                        # BuildKit attestation manifests
            continue
        if arch is not None and (arch != ARCH or plat.get("os", "linux") != "linux"):
            seen.append(f"{plat.get('os')}/{arch}")
            continue
        if not img.has(blob(e["digest"])):
            if arch is None:
                continue
            raise ImageError(f"{where}: the linux/arm64 manifest {e['digest']} is not in the tarball")
        data = img.json(blob(e["digest"]), e["digest"])
        if (data.get("mediaType") or e.get("mediaType")) in INDEX_TYPES or "layers" not in data:
            try:
                return _pick_manifest(img, data, e["digest"], seen)
            except _NoArm64:
                continue
        plat_str = f"linux/{arch}" if arch else _platform_of(img, data)
        if arch is None and plat_str.split("/")[-1] not in (ARCH, "?"):
            seen.append(plat_str)
            continue
        return data, f"manifest {e['digest'][:19]} ({plat_str})"
    if not top:
        raise _NoArm64(where)
    raise ImageError(f"{where}: no linux/arm64 image (platforms: {', '.join(seen) or 'none'})")


def docker_layers(img: ImageTar, warn: Callable[[str], None]) -> tuple[list[Layer], str]:
    """The layers of the arm64 image in a `docker save` tarball."""
    manifest = img.json("manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise ImageError("manifest.json lists no images")
    chosen, arches = manifest[0], []
    for entry in manifest:
        cfg = img.json(entry["Config"]) if img.has(entry.get("Config", "")) else {}
        arches.append(cfg.get("architecture", "?"))
        if cfg.get("architecture") == ARCH:
            chosen = entry
            break
    else:
        if len(manifest) > 1 or arches[0] not in (ARCH, "?"):
            warn(f"no arm64 image in manifest.json (architectures: {', '.join(arches)}); "
                 f"unpacking the first, {', '.join(chosen.get('RepoTags') or ['untagged'])}")
    layers = []
    for name in chosen.get("Layers", []):
        digest = None
        if name.startswith("blobs/sha256/"):
            digest = "sha256:" + name.rsplit("/", 1)[1]
        layers.append(Layer(name, digest))
    return layers, ", ".join(chosen.get("RepoTags") or []) or "docker save image"


# --- unpacking -----------------------------------------------------------------------

def _is_whiteout(member: tarfile.TarInfo) -> bool:
    return os.path.basename(member.name.rstrip("/")).startswith(WHITEOUT)


def apply_whiteouts(ex: Extractor, names: list[str]) -> int:
    """Delete what the whiteout entries of one layer name; returns how many acted."""
    n = 0
    for name in names:
        parts = member_parts(name)
        base = parts[-1]
        parent = ex.resolve(parts[:-1])
        if os.path.commonpath([ex.root, parent]) != ex.root or not os.path.isdir(parent):
            continue
        if base == OPAQUE:
            for child in os.listdir(parent):
                ex.remove(os.path.join(parent, child))
            n += 1
        elif base.startswith(WHITEOUT + WHITEOUT):
            continue                                 # other aufs metadata (.wh..wh.plnk)
        else:
            target = os.path.join(parent, base[len(WHITEOUT):])
            if os.path.lexists(target):
                ex.remove(target)
                n += 1
    return n


def unpack_layer(ex: Extractor, opener: Callable[[], IO[bytes]], what: str) -> None:
    """One layer: its whiteouts first (from a first read), then its files."""
    whiteouts = []
    with tarfile.open(fileobj=_layer_stream(opener(), what), mode="r|") as tar:
        for m in tar:
            if _is_whiteout(m):
                member_parts(m.name)                 # refuse '..' before deleting anything
                whiteouts.append(m.name)
    if whiteouts:
        apply_whiteouts(ex, whiteouts)
    with tarfile.open(fileobj=_layer_stream(opener(), what), mode="r|") as tar:
        ex.extract_all(tar, skip=_is_whiteout)


def _layer_stream(f: IO[bytes], what: str) -> IO[bytes]:
    head = f.read(6)
    rest = io.BufferedReader(_Prefixed(head, f)) if head else f
    if head[:2] == b"\x1f\x8b" or head[:6] == b"\xfd7zXZ\x00" or head[:3] == b"BZh":
        return decompressed_file(rest, head)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return decompressed(head + rest.read(), what)    # zstd: clear error, or 3.14's module
    return rest


class _Prefixed(io.RawIOBase):
    """A stream of `head` then the rest of `f` (after a peek at the magic bytes)."""

    def __init__(self, head: bytes, f: IO[bytes]) -> None:
        self.head, self.f = head, f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.f.read(len(b))
        b[:len(data)] = data
        return len(data)


def unpack_image(path: str, root: str, progress: Progress, tmpdir: str,
                 casefold: bool = False) -> Extractor:
    """Unpack the image or rootfs tarball at `path` into `root`; returns the extractor used."""
    img = ImageTar(path, tmpdir)
    try:
        if img.has("index.json") and img.has("oci-layout"):
            layers, desc = oci_layers(img)
            kind = "OCI image"
        elif img.has("manifest.json"):
            layers, desc = docker_layers(img, progress.warn)
            kind = "docker save image"
        else:
            layers, desc, kind = None, "", "root filesystem tarball"
        ex = Extractor(root, keep_dir_symlinks=False, casefold=casefold)
        if layers is None:
            progress.step(f"unpacking {os.path.basename(path)} ({kind})")
            ex.extract_all(img.tar)
        else:
            if not layers:
                raise ImageError(f"{kind} {desc} has no layers")
            for i, layer in enumerate(layers, 1):
                progress.step(f"layer {i}/{len(layers)} of {kind} {desc}")
                data = img.read(layer.name, layer.digest)     # checked once, read twice
                unpack_layer(ex, lambda data=data: io.BytesIO(data), layer.name)
        ex.finish()
        return ex
    finally:
        img.close()
