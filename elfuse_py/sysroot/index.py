"""Debian's index files: `Release`/`InRelease` and `Packages`, and version order.

* `parse_release` reads the (In)Release file's fields and its `SHA256:` list
  (path -> (hash, size)); the OpenPGP armour of InRelease is taken off (the
  signature is checked before, by mirror.py with openpgp.py).
* `parse_packages` reads a Packages index into `Package` records, keeping only
  the fields a root needs.
* `Index` finds a package by name (the highest version when an index lists
  several) and the real packages that `Provides:` a virtual one.
* `version_compare` is dpkg's ordering of version strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


class IndexFileError(Exception):
    """A malformed or incomplete index file."""


def deb822_stanzas(text: str) -> list[dict[str, str]]:
    """The paragraphs of a deb822 file (Release, Packages, *.sources): field -> value.

    Continuation lines (starting with a space or tab) are joined with newlines;
    `#` comment lines are dropped.
    """
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur, key = {}, None
        elif line.startswith("#"):
            continue
        elif line[0] in " \t":
            if key is not None:
                cur[key] += "\n" + line.strip()
        else:
            k, sep, v = line.partition(":")
            if not sep:
                raise IndexFileError(f"not a deb822 field: {line[:60]!r}")
            key = k.strip()
            cur[key] = v.strip()
    if cur:
        out.append(cur)
    return out


def strip_clearsign(text: str) -> str:
    """The signed text of an OpenPGP clear-signed message (InRelease), or text unchanged."""
    if not text.startswith("-----BEGIN PGP SIGNED MESSAGE-----"):
        return text
    lines = text.splitlines()
    i = 1
    while i < len(lines) and lines[i].strip():      # armour headers ("Hash: SHA256")
        i += 1
    body = []
    for line in lines[i + 1:]:
        if line.startswith("-----BEGIN PGP SIGNATURE-----"):
            break
        body.append(line[2:] if line.startswith("- ") else line)   # dash-escaping
    return "\n".join(body) + "\n"


@dataclass
class Release:
    fields: dict[str, str]
    sha256: dict[str, tuple[str, int]]      # path relative to dists/SUITE/ -> (hash, size)


def parse_release(text: str) -> Release:
    stanzas = deb822_stanzas(strip_clearsign(text))
    if not stanzas:
        raise IndexFileError("empty Release file")
    fields = stanzas[0]
    sums: dict[str, tuple[str, int]] = {}
    for line in fields.get("SHA256", "").splitlines():
        parts = line.split()
        if len(parts) == 3:
            sums[parts[2]] = (parts[0].lower(), int(parts[1]))
    if not sums:
        raise IndexFileError("the Release file lists no SHA256 sums")
    return Release(fields, sums)


@dataclass
class Package:
    """One stanza of a Packages index, reduced to what building a root needs."""
    name: str
    version: str
    arch: str = ""
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    filename: str = ""
    sha256: str = ""
    size: int = 0
    essential: bool = False
    priority: str = ""


_FIELDS = {"Package": "name", "Version": "version", "Architecture": "arch",
           "Depends": "depends", "Pre-Depends": "pre_depends", "Provides": "provides",
           "Filename": "filename", "SHA256": "sha256", "Size": "size",
           "Essential": "essential", "Priority": "priority"}
_FIELD_RE = re.compile(r"^(" + "|".join(re.escape(k) for k in _FIELDS) + r"):[ \t]*(.*)$", re.M)


def parse_packages(text: str) -> list[Package]:
    """The packages of a Packages index (fields outside `_FIELDS` are skipped).

    Only single-line fields are read, which all of `_FIELDS` are, and a stanza
    starts at its `Package:` field (always the first in a Packages file); one
    regex over the whole text is several times quicker than a full deb822
    parse of Debian's 60000-stanza index.
    """
    recs: list[dict[str, object]] = []
    rec: dict[str, object] = {}
    for m in _FIELD_RE.finditer(text):
        key = _FIELDS[m.group(1)]
        if key == "name":
            rec = {}
            recs.append(rec)
        rec[key] = m.group(2).strip()
    return [package_from_record(r) for r in recs]


def package_from_record(rec: dict) -> Package:
    """A Package from parsed fields (or from the JSON cache of an index)."""
    if "version" not in rec:
        raise IndexFileError(f"package {rec.get('name')} has no Version")
    rec = dict(rec)
    rec["size"] = int(rec.get("size", 0) or 0)
    rec["essential"] = rec.get("essential") in ("yes", True)
    return Package(**rec)


PRIORITY_ORDER = {"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}


class Index:
    """Packages by name (highest version wins) and virtual names by their providers."""

    def __init__(self, packages: list[Package]) -> None:
        self.by_name: dict[str, Package] = {}
        for p in packages:
            old = self.by_name.get(p.name)
            if old is None or version_compare(p.version, old.version) > 0:
                self.by_name[p.name] = p
        self.providers: dict[str, list[str]] = {}
        for p in self.by_name.values():
            for alt in split_relations(p.provides):
                for name in alt:
                    self.providers.setdefault(name, []).append(p.name)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def essential(self) -> list[str]:
        return sorted(n for n, p in self.by_name.items() if p.essential)


_REL_JUNK = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


def split_relations(field: str) -> list[list[str]]:
    """'a (>= 1) | b:any, c [arm64]' -> [['a', 'b'], ['c']].

    Version constraints, architecture lists and build profiles are dropped
    (the tool takes the one version the index has; docs/sysroot.md says so),
    and `:any`/`:native`/`:arm64` qualifiers are taken off the names.
    """
    out = []
    for group in field.split(","):
        alts = []
        for alt in _REL_JUNK.sub(" ", group).split("|"):
            name = alt.strip().split(":")[0].strip()
            if name:
                alts.append(name)
        if alts:
            out.append(alts)
    return out


# --- dpkg's version order (deb-version(7)) -------------------------------------------

def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _compare_part(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not diff:
                diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if diff:
            return diff
    return 0


def _split_version(v: str) -> tuple[int, str, str]:
    epoch, sep, rest = v.partition(":")
    if not sep:
        epoch, rest = "0", v
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    return int(epoch or 0), upstream, revision


def version_compare(a: str, b: str) -> int:
    """<0, 0, >0 as dpkg --compare-versions orders a and b."""
    ea, ua, ra = _split_version(a)
    eb, ub, rb = _split_version(b)
    if ea != eb:
        return ea - eb
    return _compare_part(ua, ub) or _compare_part(ra, rb)
