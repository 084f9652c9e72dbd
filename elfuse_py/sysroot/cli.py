"""The `elfuse-py-sysroot` command: build a guest root from Debian packages or an image.

    elfuse-py-sysroot DIR [--mirror URL] [--suite bookworm] [--components main] PKG...
    elfuse-py-sysroot DIR --image FILE.tar

Exit status: 0 done, 1 failed (a message says why), 2 usage, 3 the mirror
could not be reached and nothing was cached.  docs/sysroot.md is the manual.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import sys
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from elfuse_py.sysroot import layout
from elfuse_py.sysroot.deb import DebError, unpack_deb
from elfuse_py.sysroot.extract import Extractor, UnsafeArchive
from elfuse_py.sysroot.image import ImageError, unpack_image
from elfuse_py.sysroot.index import IndexFileError, Package
from elfuse_py.sysroot.layout import Alternative
from elfuse_py.sysroot.mirror import MirrorError, Repo, Unreachable, choose_mirror, load_keys
from elfuse_py.sysroot.progress import Progress, human
from elfuse_py.sysroot.resolve import ResolveError, resolve

STATE_DIR = ".elfuse-sysroot"
DOWNLOAD_THREADS = 4
EXIT_UNREACHABLE = 3


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elfuse-py-sysroot",
        description="Build a guest root for `elfuse-py -L DIR` from Debian's arm64 packages "
                    "or from an image tarball, with Python alone (no apt, dpkg or ar).",
        epilog="Mirror: --mirror, else $ELFUSE_DEBIAN_MIRROR, else the first apt source of the "
               "suite on a Debian host; there is no built-in default. The Release file's "
               "OpenPGP signature is checked against the keyring (RSA signatures), the "
               "Packages index and every .deb against its SHA256 sums. See docs/sysroot.md.")
    p.add_argument("dir", metavar="DIR", help="the root to create or add to")
    p.add_argument("packages", metavar="PKG", nargs="*", help="Debian packages to install")
    p.add_argument("--mirror", metavar="URL", help="Debian mirror (the directory holding dists/)")
    p.add_argument("--suite", default="bookworm", help="suite or codename (default: bookworm)")
    p.add_argument("--components", default="main",
                   help="comma-separated components to index (default: main)")
    p.add_argument("--arch", default="arm64", help=argparse.SUPPRESS)
    p.add_argument("--essential", action="store_true",
                   help="also install every Essential: yes package (debootstrap's base)")
    p.add_argument("--no-merged-usr", dest="merged_usr", action="store_false",
                   help="keep /bin, /sbin, /lib as packages ship them (default: merged /usr)")
    p.add_argument("--keyring", metavar="FILE", action="append", default=[],
                   help="OpenPGP keyring to check the Release file with (repeatable; default: "
                        "$ELFUSE_DEBIAN_KEYRING, else /usr/share/keyrings/debian-archive-keyring.gpg "
                        "if present)")
    p.add_argument("--no-verify", action="store_true",
                   help="do not check the Release file's signature")
    p.add_argument("--cache", metavar="DIR", help=f"download cache (default: DIR/{STATE_DIR}/cache)")
    p.add_argument("--image", metavar="FILE",
                   help="unpack a docker save / OCI layout / rootfs tarball instead")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per step")
    return p


def warn_case(root: str, progress: Progress) -> bool:
    """Warn if root's volume ignores case; returns whether it does."""
    if layout.case_sensitive(root):
        return False
    progress.warn(f"{root} is on a case-insensitive volume: files whose names differ only "
                  f"in case will overwrite each other.\n{layout.CASE_FIX}")
    return True


def report_collisions(ex: Extractor, progress: Progress) -> None:
    """Name the files a case-insensitive volume merged (a few, and how many)."""
    if ex.case_collisions:
        shown = "; ".join(f"{b} replaced {a}" for a, b in ex.case_collisions[:5])
        more = len(ex.case_collisions) - 5
        progress.warn(f"{len(ex.case_collisions)} names collided by case: {shown}"
                      + (f"; and {more} more" if more > 0 else ""))


def _state(root: str) -> dict:
    try:
        return json.loads((Path(root) / STATE_DIR / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_state(root: str, state: dict) -> None:
    path = Path(root) / STATE_DIR / "state.json"
    tmp = path.with_name("state.json.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


def build_from_mirror(args: argparse.Namespace, progress: Progress) -> int:
    root = args.dir
    cache = Path(args.cache) if args.cache else Path(root) / STATE_DIR / "cache"
    mirror = choose_mirror(args.mirror, args.suite)
    progress.step(f"mirror {mirror}, suite {args.suite}")
    keys, where = (None, "") if args.no_verify else load_keys(args.keyring)
    if keys is None and not args.no_verify:
        progress.warn("the Release file's signature is not checked: no keyring (pass "
                      "--keyring FILE, e.g. Debian's debian-archive-keyring.gpg, or --no-verify)")
    elif keys is not None:
        progress.step(f"keyring {where}")
    repo = Repo(mirror, args.suite, args.arch, cache, progress, keys)
    index = repo.load_index([c for c in args.components.replace(",", " ").split() if c])
    pkgs = resolve(index, args.packages, essential=args.essential).packages
    progress.step(f"{len(pkgs)} packages ({human(sum(p.size for p in pkgs))}): "
                  + " ".join(p.name for p in pkgs))
    paths = _download(repo, pkgs, progress)

    state = _state(root)
    state.update(mirror=mirror, suite=args.suite)
    if args.merged_usr:
        for note in layout.merge_usr(root):
            progress.warn(note)
    _unpack(root, list(zip(pkgs, paths)), state, progress, args.casefold)
    _maintainer_steps(root, state, progress)
    progress.done()
    if progress.tty or progress.verbose:
        shell = "/usr/bin/bash" if "bash" in state["packages"] else "/usr/bin/sh"
        progress.say(f"{root}: {len(pkgs)} packages; try: elfuse-py -L {root} {root}{shell}")
    return 0


def _download(repo: Repo, pkgs: list[Package], progress: Progress) -> list[Path]:
    """Every package's checked .deb in the cache, fetched a few at a time."""
    done = [0]

    def fetch(pkg: Package) -> Path:
        path = repo.download(pkg)
        done[0] += 1
        progress.status(f"[{done[0]}/{len(pkgs)}] downloaded {pkg.name}")
        return path

    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        return list(pool.map(fetch, pkgs))


def _unpack(root: str, todo: list[tuple[Package, Path]], state: dict, progress: Progress,
            casefold: bool = False) -> None:
    """Unpack the packages not yet unpacked at this version; record each (and its
    postinst's alternatives) in the state as soon as it is in."""
    installed: dict[str, str] = state.setdefault("packages", {})
    alts = state.setdefault("alternatives", [])
    ex = Extractor(root, casefold=casefold)
    for i, (pkg, path) in enumerate(todo, 1):
        if installed.get(pkg.name) == pkg.version:
            continue
        progress.step(f"[{i}/{len(todo)}] unpacking {pkg.name} {pkg.version}")
        info = unpack_deb(str(path), ex, what=f"{pkg.name} {pkg.version}")
        alts[:] = [a for a in alts if a["package"] != pkg.name]
        alts += [vars(a) for a in layout.alternatives(info.postinst, pkg.name)]
        installed[pkg.name] = pkg.version
        _save_state(root, state)
    ex.finish()
    if ex.skipped_devices:
        progress.warn(f"{len(ex.skipped_devices)} device nodes skipped (not running as root)")
    report_collisions(ex, progress)


def _maintainer_steps(root: str, state: dict, progress: Progress) -> None:
    """What postinst scripts would have done that a root needs (layout.py)."""
    alts = [Alternative(**a) for a in state["alternatives"] if a["package"] in state["packages"]]
    for line in layout.apply_alternatives(root, alts):
        progress.step(f"alternative {line}")
    for line in layout.ensure_accounts(root):
        progress.step(f"wrote {line}")
    if not layout.ensure_interpreter(root):
        progress.warn("no /lib/ld-linux-aarch64.so.1 in the root (is libc6 installed?): "
                      "dynamic programs will not start")
    elif layout.loader_searches_multiarch(root) is False:
        progress.warn(f"the root's ld.so does not search /usr/lib/{layout.MULTIARCH} by default "
                      "and no ld.so.cache is made: libraries may not be found")
    _save_state(root, state)


def build_from_image(args: argparse.Namespace, progress: Progress) -> int:
    tmp = Path(args.dir) / STATE_DIR
    ex = unpack_image(args.image, args.dir, progress, str(tmp), args.casefold)
    report_collisions(ex, progress)
    if ex.skipped_devices:
        progress.warn(f"{len(ex.skipped_devices)} device nodes skipped (not running as root)")
    has_interp = os.path.isfile(ex.resolve(["lib", layout.INTERP]))
    progress.done()
    if progress.tty or progress.verbose:
        progress.say(f"{args.dir}: {ex.files} files from {os.path.basename(args.image)}"
                     + ("" if has_interp else f" (no /lib/{layout.INTERP}: a static or musl root?)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    progress = Progress(verbose=args.verbose)
    if args.image and args.packages:
        parser().error("give either --image FILE or packages, not both")
    if not args.image and not args.packages and not args.essential:
        parser().error("name the packages to install (or --image FILE)")
    try:
        if os.path.lexists(args.dir) and not os.path.isdir(args.dir):
            raise MirrorError(f"{args.dir} exists and is not a directory")
        (Path(args.dir) / STATE_DIR).mkdir(parents=True, exist_ok=True)
        args.dir = os.path.abspath(args.dir)
        args.casefold = warn_case(args.dir, progress)
        if args.image:
            return build_from_image(args, progress)
        return build_from_mirror(args, progress)
    except Unreachable as e:
        progress.done()
        print(f"elfuse-py-sysroot: cannot reach the mirror: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (MirrorError, ResolveError, DebError, ImageError, UnsafeArchive, IndexFileError,
            OSError) as e:
        progress.done()
        print(f"elfuse-py-sysroot: {e}", file=sys.stderr)
        return 1
    except (tarfile.TarError, lzma.LZMAError, zlib.error, EOFError) as e:
        progress.done()
        print(f"elfuse-py-sysroot: a corrupt or truncated archive: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.done()
        return 130


if __name__ == "__main__":
    sys.exit(main())
