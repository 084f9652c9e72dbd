"""A Debian mirror: which one, its checked package index, and checked downloads.

There is no built-in mirror.  `choose_mirror` takes `--mirror`, else
`$ELFUSE_DEBIAN_MIRROR`, else on a Debian host the first `deb` source apt is
configured with for the requested suite (/etc/apt/sources.list, then
sources.list.d/*.list and *.sources in name order, as apt reads them).

`Repo.load_index` fetches `dists/SUITE/InRelease` (or `Release`), then each
component's `binary-ARCH/Packages.xz` (or `.gz`, or plain), checked against
the SHA256 the Release file lists.  The Release file's OpenPGP signature is
checked against a keyring (`load_keys`: --keyring, $ELFUSE_DEBIAN_KEYRING, or
Debian's archive keyring where the host has one; openpgp.py); with no keyring
it is not checked, and the tool says so.
`Repo.download` fetches a package into the cache and checks its size and
SHA256 against the index; a cached file that still matches is not fetched
again.  Everything lives under the cache directory:
  CACHE/index/HOST_PATH/dists/SUITE/...   Release, Packages files, parsed JSON
  CACHE/debs/NAME_VERSION_ARCH.deb        packages
When the mirror is unreachable, the last fetched Release is used (with a
warning) so an offline rebuild from the cache still works.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import re
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path

from elfuse_py.sysroot import openpgp
from elfuse_py.sysroot.index import (Index, Package, Release, deb822_stanzas,
                                     package_from_record, parse_packages, parse_release)
from elfuse_py.sysroot.progress import Progress, human

USER_AGENT = "elfuse-py-sysroot"
CLEARSIGN = "-----BEGIN PGP SIGNED MESSAGE-----"
DEFAULT_KEYRINGS = ("/usr/share/keyrings/debian-archive-keyring.gpg",)
TIMEOUT = 60


class MirrorError(Exception):
    """A mirror problem: no mirror configured, a missing file, a checksum mismatch."""


class Unreachable(MirrorError):
    """The network or the mirror did not answer."""


class ChecksumMismatch(MirrorError):
    """A file's SHA256 or size differs from what the index promises."""


# --- which mirror --------------------------------------------------------------------

def apt_sources(etc_apt: Path) -> list[tuple[str, list[str]]]:
    """(URI, suites) of each enabled `deb` source, in the order apt reads them."""
    out: list[tuple[str, list[str]]] = []
    files = [etc_apt / "sources.list"]
    d = etc_apt / "sources.list.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.suffix == ".sources":
            try:
                stanzas = deb822_stanzas(text)
            except Exception:
                continue
            for s in stanzas:
                if "deb" not in s.get("Types", "").split() or s.get("Enabled", "yes").lower() == "no":
                    continue
                for uri in s.get("URIs", "").split():
                    out.append((uri, s.get("Suites", "").split()))
        else:
            for line in text.splitlines():
                line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(line) >= 3 and line[0] == "deb":
                    out.append((line[1], [line[2]]))
    return out


def choose_mirror(cli_mirror: str | None, suite: str, etc_apt: Path = Path("/etc/apt"),
                  environ: dict | None = None) -> str:
    """The mirror URL to use (see the module docstring), or MirrorError saying how to give one."""
    env = os.environ if environ is None else environ
    for url in (cli_mirror, env.get("ELFUSE_DEBIAN_MIRROR")):
        if url:
            return url.rstrip("/")
    for uri, suites in apt_sources(etc_apt):
        if suite in suites:
            return uri.rstrip("/")
    raise MirrorError(
        f"no Debian mirror given: pass --mirror URL (for example a Debian mirror's "
        f".../debian, which has dists/{suite}/), or set ELFUSE_DEBIAN_MIRROR; "
        f"no apt source for suite {suite!r} was found in {etc_apt}")


def load_keys(files: list[str], environ: dict | None = None) -> tuple[list[openpgp.RsaKey] | None, str]:
    """The keys to check Release files with, and where they came from (None: no keyring).

    `files` (--keyring) wins; else $ELFUSE_DEBIAN_KEYRING (os.pathsep-separated);
    else Debian's archive keyring where the host has it.
    """
    env = os.environ if environ is None else environ
    if not files and env.get("ELFUSE_DEBIAN_KEYRING"):
        files = env["ELFUSE_DEBIAN_KEYRING"].split(os.pathsep)
    if not files:
        files = [f for f in DEFAULT_KEYRINGS if os.path.isfile(f)]
    if not files:
        return None, ""
    keys: list[openpgp.RsaKey] = []
    for f in files:
        try:
            keys += openpgp.read_keyring(Path(f).read_bytes())
        except (OSError, openpgp.SignatureError, IndexError) as e:
            raise MirrorError(f"cannot read the keyring {f}: {e}") from None
    if not keys:
        raise MirrorError(f"no RSA keys in the keyring {', '.join(files)}")
    return keys, ", ".join(files)


# --- fetching ------------------------------------------------------------------------

def _safe_dir_name(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", re.sub(r"^[a-z]+://", "", url)).strip("_")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Repo:
    """One mirror + suite + architecture, with its cache directory."""

    def __init__(self, mirror: str, suite: str, arch: str, cache: Path,
                 progress: Progress | None = None,
                 keys: list[openpgp.RsaKey] | None = None) -> None:
        self.mirror = mirror.rstrip("/")
        self.keys = keys                    # None: the Release signature is not checked
        self.suite = suite
        self.arch = arch
        self.cache = Path(cache)
        self.progress = progress or Progress()
        self.index_dir = self.cache / "index" / _safe_dir_name(self.mirror) / "dists" / suite
        self.deb_dir = self.cache / "debs"

    def _fetch(self, url: str, dest: Path, label: str, size: int = 0) -> None:
        """Download url to dest (via dest.part), with a progress line on a terminal."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        # unique per writer: several runs (or roots) may share one cache
        part = dest.with_name(f"{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r, open(part, "wb") as out:
                total = size or int(r.headers.get("Content-Length") or 0)
                done = 0
                while block := r.read(1 << 16):
                    out.write(block)
                    done += len(block)
                    if total:
                        self.progress.status(f"{label} {human(done)}/{human(total)}")
        except urllib.error.HTTPError as e:
            part.unlink(missing_ok=True)
            raise MirrorError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            part.unlink(missing_ok=True)
            reason = getattr(e, "reason", e)
            if isinstance(reason, FileNotFoundError):
                raise MirrorError(f"{url}: no such file") from None
            if isinstance(reason, ssl.SSLCertVerificationError):
                # not "unreachable": a certificate that does not check is refused
                raise MirrorError(f"{url}: TLS certificate check failed ({reason.verify_message}); "
                                  "with python.org's Python on macOS run its "
                                  "'Install Certificates.command'") from None
            raise Unreachable(f"{url}: {reason}") from None
        os.replace(part, dest)

    def _release(self) -> Release:
        base = f"{self.mirror}/dists/{self.suite}"
        saved, saved_sig = self.index_dir / "Release", self.index_dir / "Release.gpg"
        errors = []
        for name in ("InRelease", "Release"):
            tmp = self.index_dir / (name + ".new")
            try:
                self._fetch(f"{base}/{name}", tmp, f"fetching {name}")
                text = tmp.read_text(errors="replace")
                if name == "Release" and self.keys is not None:
                    self._fetch(f"{base}/Release.gpg", saved_sig, "fetching Release.gpg")
            except Unreachable as e:
                errors.append(e)
                break                       # the mirror is down: no point trying Release
            except MirrorError as e:
                errors.append(e)
                continue
            self._check_signature(text, saved_sig if name == "Release" else None)
            os.replace(tmp, saved)
            if name == "InRelease":
                saved_sig.unlink(missing_ok=True)
            return parse_release(text)
        if saved.exists() and any(isinstance(e, Unreachable) for e in errors):
            self.progress.warn(f"{errors[0]}; using the Release file cached in {saved}")
            text = saved.read_text(errors="replace")
            self._check_signature(text, None if text.startswith(CLEARSIGN) else saved_sig)
            return parse_release(text)
        if errors and all(isinstance(e, Unreachable) for e in errors):
            raise errors[0]
        raise MirrorError(f"no Release file for suite {self.suite!r} under {self.mirror}/dists/: "
                          + "; ".join(map(str, errors)))

    def _check_signature(self, text: str, detached: Path | None) -> None:
        """Refuse a Release file without a good signature from the keyring (if one is given)."""
        if self.keys is None:
            return
        try:
            if detached is None:
                key = openpgp.verify_clearsigned(text, self.keys)
            else:
                sig = detached.read_bytes()
                if sig.lstrip().startswith(b"-----BEGIN PGP"):
                    sig = openpgp.dearmor(sig.decode("ascii", "replace"))
                key = openpgp.verify(text.encode("utf-8", "surrogateescape"), sig, self.keys)
        except (openpgp.SignatureError, ValueError, IndexError) as e:    # malformed: refused too
            raise MirrorError(f"the Release file of {self.mirror} {self.suite} is refused: "
                              f"{e or type(e).__name__}") from None
        self.progress.step(f"Release signed by {key.fingerprint.hex().upper()}")

    def load_index(self, components: list[str]) -> Index:
        """The packages of every component, each Packages file checked against the Release."""
        release = self._release()
        packages: list[Package] = []
        for comp in components:
            packages += self._component(release, comp)
        return Index(packages)

    def _component(self, release: Release, comp: str) -> list[Package]:
        stem = f"{comp}/binary-{self.arch}/Packages"
        for suffix, opener in ((".xz", lzma.decompress), (".gz", gzip.decompress),
                               (".bz2", bz2.decompress), ("", bytes)):
            if stem + suffix in release.sha256:
                break
        else:
            raise MirrorError(f"the Release file of {self.suite} lists no {stem}(.xz|.gz): "
                              f"is {comp!r} a component with {self.arch} packages?")
        want, size = release.sha256[stem + suffix]
        local = self.index_dir / (stem + suffix)
        parsed = local.with_name(local.name + ".json")
        if parsed.exists():
            try:
                data = json.loads(parsed.read_text())
                if data.get("sha256") == want:
                    return [package_from_record(r) for r in data["packages"]]
            except (ValueError, KeyError, TypeError):
                pass
        if not (local.exists() and local.stat().st_size == size and sha256_file(local) == want):
            self.progress.step(f"fetching {stem}{suffix} ({human(size)})")
            self._fetch(f"{self.mirror}/dists/{self.suite}/{stem}{suffix}", local,
                        f"{stem}{suffix}", size)
            got = sha256_file(local)
            if got != want:
                local.unlink()
                raise ChecksumMismatch(f"{stem}{suffix}: SHA256 {got} but the Release file says {want}")
        self.progress.step(f"reading {stem}{suffix}")
        pkgs = parse_packages(opener(local.read_bytes()).decode("utf-8", "replace"))
        tmp = parsed.with_name(parsed.name + ".tmp")
        tmp.write_text(json.dumps({"sha256": want,
                                   "packages": [vars(p) for p in pkgs]}, separators=(",", ":")))
        os.replace(tmp, parsed)
        return pkgs

    def deb_path(self, pkg: Package) -> Path:
        return self.deb_dir / os.path.basename(pkg.filename)

    def download(self, pkg: Package) -> Path:
        """The checked .deb of pkg in the cache (fetched unless a matching copy is there)."""
        dest = self.deb_path(pkg)
        if not pkg.filename or not pkg.sha256:
            raise MirrorError(f"{pkg.name}: the index gives no Filename/SHA256")
        if dest.exists() and dest.stat().st_size == pkg.size and sha256_file(dest) == pkg.sha256:
            return dest
        self._fetch(f"{self.mirror}/{pkg.filename}", dest, pkg.name, pkg.size)
        check_deb(dest, pkg)
        return dest


def check_deb(path: Path, pkg: Package) -> None:
    """Refuse (and delete) a download whose size or SHA256 is not the index's."""
    got = sha256_file(path)
    if got != pkg.sha256 or (pkg.size and path.stat().st_size != pkg.size):
        path.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{pkg.name} {pkg.version}: {path.name} has SHA256 {got}, "
                               f"the index says {pkg.sha256}: refused")

