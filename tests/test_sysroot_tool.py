"""elfuse-py-sysroot (elfuse_py/sysroot/): a guest root from Debian packages or an image, in Python alone.

Unit tests use small synthetic inputs built here: ar archives, Packages and
Release files, .deb files, a file:// mirror, docker-save and OCI image
tarballs.  The end-to-end test builds `bash python3.11-minimal coreutils`
from the real Debian mirror (skipped when it cannot be reached; downloads are
cached in tests/.cache/sysroot-tool-cache) with apt, dpkg, dpkg-deb and ar
replaced by traps on PATH, then runs bash and python3.11 from it under
`elfuse-py -L`.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from elfuse_py.sysroot import cli, layout
from elfuse_py.sysroot.deb import DebError, ar_members, unpack_deb
from elfuse_py.sysroot.extract import Extractor, UnsafeArchive
from elfuse_py.sysroot.image import ImageError, unpack_image
from elfuse_py.sysroot.index import (Index, parse_packages, parse_release, split_relations,
                                     version_compare)
from elfuse_py.sysroot.mirror import MirrorError, apt_sources, choose_mirror
from elfuse_py.sysroot.progress import Progress
from elfuse_py.sysroot.resolve import ResolveError, resolve
from helpers import ROOT, run_elfuse

TOOL = [sys.executable, "-m", "elfuse_py.sysroot.cli"]
TOOL_ENV = {"PYTHONPATH": str(ROOT)}


# --- builders ------------------------------------------------------------------------

def make_ar(members: list[tuple[str, bytes]], bsd: bool = False) -> bytes:
    """An ar archive; names over 15 characters go to a GNU `//` table (or BSD `#1/LEN`)."""
    def header(name: str, size: int) -> bytes:
        return f"{name:<16}{0:<12}{0:<6}{0:<6}{0o100644:<8o}{size:<10}`\n".encode()

    out = bytearray(b"!<arch>\n")
    table = bytearray()
    entries = []
    for name, data in members:
        if bsd:
            entries.append((f"#1/{len(name.encode())}", name.encode() + data))
        elif len(name) > 15:
            entries.append((f"/{len(table)}", data))
            table += name.encode() + b"/\n"
        else:
            entries.append((name + "/", data))
    if table:
        entries.insert(0, ("//", bytes(table)))
    for hdr_name, payload in entries:
        out += header(hdr_name, len(payload)) + payload
        if len(payload) % 2:
            out += b"\n"
    return bytes(out)


def tar_entry(name: str, kind: str = "file", data: bytes = b"", link: str = "",
              mode: int | None = None) -> tuple:
    return (name, kind, data, link, mode)


def make_tar(entries: list[tuple], comp: str = "") -> bytes:
    """entries of tar_entry(); comp is '', 'gz' or 'xz'."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, data, link, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755 if mode is None else mode
                t.addfile(ti)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, link
                t.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, link
                t.addfile(ti)
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor, ti.mode = tarfile.CHRTYPE, 1, 3, 0o666
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644 if mode is None else mode
                t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return {"": raw, "gz": gzip.compress(raw), "xz": lzma.compress(raw)}[comp]


def make_deb(name: str, files: list[tuple], postinst: str = "", data_comp: str = "xz",
             data_raw: bytes | None = None) -> bytes:
    control = f"Package: {name}\nVersion: 1.0\nArchitecture: arm64\n".encode()
    ctl = [tar_entry("./", "dir"), tar_entry("./control", data=control)]
    if postinst:
        ctl.append(tar_entry("./postinst", data=postinst.encode(), mode=0o755))
    data_name = {"xz": "data.tar.xz", "gz": "data.tar.gz", "": "data.tar", "zst": "data.tar.zst"}[data_comp]
    data = data_raw if data_raw is not None else make_tar([tar_entry("./", "dir")] + files, data_comp)
    return make_ar([("debian-binary", b"2.0\n"), ("control.tar.xz", make_tar(ctl, "xz")),
                    (data_name, data)])


def stanza(name: str, depends: str = "", pre: str = "", provides: str = "", version: str = "1.0",
           essential: bool = False, priority: str = "optional", filename: str = "",
           sha: str = "", size: int = 0) -> str:
    lines = [f"Package: {name}", f"Version: {version}", "Architecture: arm64",
             f"Priority: {priority}"]
    for k, v in (("Essential", "yes" if essential else ""), ("Pre-Depends", pre),
                 ("Depends", depends), ("Provides", provides), ("Filename", filename),
                 ("Size", str(size) if size else ""), ("SHA256", sha)):
        if v:
            lines.append(f"{k}: {v}")
    lines.append("Description: test package\n with a continuation line\n .\n Package: not-a-field")
    return "\n".join(lines) + "\n"


def index_of(*stanzas: str) -> Index:
    return Index(parse_packages("\n".join(stanzas)))


# --- a test OpenPGP key, and signing as the Debian archive does ----------------------

def _probable_prime(bits: int, rng) -> int:
    small = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p ** 0.5) + 1, 2))]
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if any(n % p == 0 for p in small):
            continue
        d, r = n - 1, 0
        while d % 2 == 0:
            d, r = d // 2, r + 1
        for _ in range(20):
            x = pow(rng.randrange(2, n - 2), d, n)
            if x in (1, n - 1):
                continue
            for _ in range(r - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


def _mpi(x: int) -> bytes:
    return x.bit_length().to_bytes(2, "big") + x.to_bytes((x.bit_length() + 7) // 8, "big")


def _packet(tag: int, body: bytes) -> bytes:
    assert len(body) < 8384
    n = len(body)
    length = bytes([n]) if n < 192 else bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    return bytes([0xC0 | tag]) + length + body


class SigningKey:
    """An RSA key (1024 bits: quick to make) as a keyring packet, and clear-signing with it."""

    def __init__(self, seed: int) -> None:
        import random
        rng = random.Random(seed)
        e = 65537
        while True:
            p, q = _probable_prime(512, rng), _probable_prime(512, rng)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                break
        self.n, self.e, self.d = p * q, e, pow(e, -1, phi)
        self.body = b"\x04" + (1700000000).to_bytes(4, "big") + b"\x01" + _mpi(self.n) + _mpi(e)
        self.fpr = hashlib.sha1(b"\x99" + len(self.body).to_bytes(2, "big") + self.body).digest()

    def keyring(self) -> bytes:
        return _packet(6, self.body) + _packet(13, b"test key <t@example>")

    def sign(self, document: bytes, sig_type: int) -> bytes:
        hashed_sub = bytes([5, 2]) + (1700000001).to_bytes(4, "big") + bytes([22, 33, 4]) + self.fpr
        head = bytes([4, sig_type, 1, 8]) + len(hashed_sub).to_bytes(2, "big") + hashed_sub
        digest = hashlib.sha256(document + head + b"\x04\xff" + len(head).to_bytes(4, "big")).digest()
        t = bytes.fromhex("3031300d060960864801650304020105000420") + digest
        k = (self.n.bit_length() + 7) // 8
        m = int.from_bytes(b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t, "big")
        unhashed = bytes([9, 16]) + self.fpr[-8:]
        body = head + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + _mpi(pow(m, self.d, self.n))
        return _packet(2, body)

    def clearsign(self, text: str) -> str:
        import base64
        lines = text.rstrip("\n").split("\n")
        canonical = "\r\n".join(l.rstrip(" \t") for l in lines).encode()
        sig = base64.b64encode(self.sign(canonical, 0x01)).decode()
        escaped = "\n".join("- " + l if l.startswith("-") else l for l in lines)
        return ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + escaped +
                "\n-----BEGIN PGP SIGNATURE-----\n\n" +
                "\n".join(sig[i:i + 64] for i in range(0, len(sig), 64)) +
                "\n-----END PGP SIGNATURE-----\n")

    def detached(self, data: bytes) -> bytes:
        return self.sign(data, 0x00)


_KEYS: dict[int, SigningKey] = {}


def signing_key(seed: int = 1) -> SigningKey:
    if seed not in _KEYS:
        _KEYS[seed] = SigningKey(seed)
    return _KEYS[seed]


class FakeMirror:
    """A file:// Debian mirror with a Release file, a Packages.gz and .deb files."""

    def __init__(self, base: Path, suite: str = "bookworm") -> None:
        self.base, self.suite = base, suite
        self.debs: dict[str, tuple[bytes, dict]] = {}
        self.signing = "inline"             # InRelease; "detached": Release + Release.gpg

    @property
    def url(self) -> str:
        return self.base.as_uri()

    def add(self, name: str, deb: bytes, **fields) -> None:
        self.debs[name] = (deb, fields)

    def write(self, corrupt: str | None = None) -> None:
        stanzas = []
        for name, (deb, fields) in self.debs.items():
            fn = f"pool/main/{name[0]}/{name}/{name}_1.0_arm64.deb"
            (self.base / fn).parent.mkdir(parents=True, exist_ok=True)
            (self.base / fn).write_bytes(deb if name != corrupt else deb[:-1] + b"X")
            stanzas.append(stanza(name, filename=fn, sha=hashlib.sha256(deb).hexdigest(),
                                  size=len(deb), **fields))
        packages = gzip.compress("\n".join(stanzas).encode())
        dist = self.base / "dists" / self.suite
        (dist / "main" / "binary-arm64").mkdir(parents=True, exist_ok=True)
        (dist / "main" / "binary-arm64" / "Packages.gz").write_bytes(packages)
        release = (f"Codename: {self.suite}\nSHA256:\n"
                   f" {hashlib.sha256(packages).hexdigest()} {len(packages)} main/binary-arm64/Packages.gz\n"
                   f" {'0' * 64} 1 main/binary-amd64/Packages.gz\n")
        key = signing_key()
        if self.signing == "inline":
            (dist / "InRelease").write_text(key.clearsign(release))
        else:
            (dist / "Release").write_text(release)
            (dist / "Release.gpg").write_bytes(key.detached(release.encode()))
        (self.base / "keyring.gpg").write_bytes(key.keyring())

    @property
    def env(self) -> dict:
        """The environment that makes the tool trust this mirror's key."""
        return {"ELFUSE_DEBIAN_KEYRING": str(self.base / "keyring.gpg")}


def run_tool(args: list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("ELFUSE_DEBIAN_MIRROR", None)
    e.pop("ELFUSE_DEBIAN_KEYRING", None)
    e.update(TOOL_ENV)
    e.update(env or {})
    return subprocess.run(TOOL + args, env=e, capture_output=True, text=True, timeout=600, **kw)


# --- ar and .deb ---------------------------------------------------------------------

@pytest.mark.parametrize("bsd", [False, True])
def test_ar_members_gnu_and_bsd_names_and_odd_sizes(bsd):
    data = make_ar([("debian-binary", b"2.0\n"), ("odd", b"abc"), ("a-rather-long-member-name", b"xy")],
                   bsd=bsd)
    f = io.BytesIO(data)
    ms = ar_members(f)
    assert [m.name for m in ms] == ["debian-binary", "odd", "a-rather-long-member-name"]
    got = []
    for m in ms:
        f.seek(m.offset)
        got.append(f.read(m.size))
    assert got == [b"2.0\n", b"abc", b"xy"]


def test_ar_rejects_what_is_not_ar():
    with pytest.raises(DebError):
        ar_members(io.BytesIO(b"PK\x03\x04 not an ar archive"))
    bad = bytearray(make_ar([("x", b"1234")]))
    bad[8 + 58:8 + 60] = b"??"                      # the header's terminator
    with pytest.raises(DebError):
        ar_members(io.BytesIO(bytes(bad)))


@pytest.mark.parametrize("comp", ["xz", "gz", ""])
def test_unpack_deb_data_tar_compressions(tmp_path, comp):
    deb = tmp_path / "p.deb"
    deb.write_bytes(make_deb("p", [tar_entry("./usr/", "dir"), tar_entry("./usr/f", data=b"hi\n")],
                             postinst="#!/bin/sh\necho hi\n", data_comp=comp))
    ex = Extractor(str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    info = unpack_deb(str(deb), ex)
    assert (tmp_path / "root/usr/f").read_bytes() == b"hi\n"
    assert "Package: p" in info.control and "echo hi" in info.postinst


def test_zstd_data_refused_naming_the_package(tmp_path):
    try:
        import compression.zstd  # noqa: F401
        pytest.skip("this Python has a zstd decompressor")
    except ImportError:
        pass
    deb = tmp_path / "z.deb"
    deb.write_bytes(make_deb("z", [], data_comp="zst", data_raw=b"\x28\xb5\x2f\xfd" + b"\0" * 20))
    (tmp_path / "root").mkdir()
    with pytest.raises(DebError, match=r"zpkg 9\.9's data\.tar\.zst is zstd-compressed"):
        unpack_deb(str(deb), Extractor(str(tmp_path / "root")), what="zpkg 9.9")


# --- index, versions, resolution -----------------------------------------------------

def test_parse_packages_keeps_the_fields_a_root_needs():
    pkgs = parse_packages(stanza("a", depends="b (>= 1), c:any | d", pre="e", provides="v (= 2)",
                                 essential=True, filename="pool/a.deb", sha="ab" * 32, size=10)
                          + "\n" + stanza("b"))
    assert [p.name for p in pkgs] == ["a", "b"]       # "Package:" inside Description is no stanza
    a = pkgs[0]
    assert (a.depends, a.pre_depends, a.provides) == ("b (>= 1), c:any | d", "e", "v (= 2)")
    assert a.essential and a.size == 10 and a.filename == "pool/a.deb" and a.sha256 == "ab" * 32
    assert not pkgs[1].essential


def test_split_relations_drops_versions_arches_and_qualifiers():
    assert split_relations("a (>= 1) | b:any, c [arm64], python3:native (>= 3.11~) <!nocheck>") == \
        [["a", "b"], ["c"], ["python3"]]


@pytest.mark.parametrize("a,b,sign", [
    ("1.0", "1.0", 0), ("1.0~rc1", "1.0", -1), ("1:0.1", "2.0", 1), ("1.0", "1.0-1", -1),
    ("2.36-9+deb12u14", "2.36-9+deb12u2", 1), ("1.0a", "1.0", 1), ("1.0", "1.0+b1", -1),
    ("10", "9", 1), ("1.0~~", "1.0~", -1),
])
def test_version_compare_is_dpkgs(a, b, sign):
    got = version_compare(a, b)
    assert (got > 0) - (got < 0) == sign


def test_index_takes_the_highest_version():
    idx = index_of(stanza("a", version="1.0"), stanza("a", version="1:0.5"), stanza("a", version="2.0"))
    assert idx.by_name["a"].version == "1:0.5"


def test_resolve_depends_pre_depends_and_cycles():
    idx = index_of(stanza("top", depends="mid (>= 9.9)", pre="early"), stanza("mid", depends="top"),
                   stanza("early", depends="mid:any"), stanza("unused"))
    names = [p.name for p in resolve(idx, ["top"]).packages]
    assert sorted(names) == ["early", "mid", "top"]       # version constraint ignored
    assert names[0] == "top"


def test_resolve_alternatives_first_available_or_already_chosen():
    idx = index_of(stanza("a", depends="missing | b | c"), stanza("b"), stanza("c"),
                   stanza("d", depends="c | b"))
    assert [p.name for p in resolve(idx, ["a"]).packages] == ["a", "b"]
    # b is already chosen when d's "c | b" is met: b satisfies it, c is not added
    assert [p.name for p in resolve(idx, ["a", "d"]).packages] == ["a", "d", "b"]


def test_resolve_virtual_packages_through_provides():
    idx = index_of(stanza("base", pre="awk"), stanza("gawk", provides="awk"),
                   stanza("mawk", provides="awk", priority="required"),
                   stanza("user", depends="awk"))
    assert [p.name for p in resolve(idx, ["base"]).packages] == ["base", "mawk"]    # by priority
    assert [p.name for p in resolve(idx, ["gawk", "user"]).packages] == ["gawk", "user"]
    assert [p.name for p in resolve(idx, ["awk"]).packages] == ["mawk"]


def test_resolve_essential_and_missing():
    idx = index_of(stanza("e1", essential=True, depends="lib"), stanza("lib"), stanza("x"))
    assert [p.name for p in resolve(idx, ["x"], essential=True).packages] == ["e1", "x", "lib"]
    with pytest.raises(ResolveError, match="'nope'"):
        resolve(idx, ["nope"])
    bad = index_of(stanza("y", depends="ghost | phantom"))
    with pytest.raises(ResolveError, match="y depends on ghost | phantom"):
        resolve(bad, ["y"])


def test_release_parse_takes_off_the_clearsign_armour():
    text = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nCodename: bookworm\n"
            "- Dashed: yes\nSHA256:\n " + "ab" * 32 + "  123 main/binary-arm64/Packages.xz\n"
            "-----BEGIN PGP SIGNATURE-----\nxxx\n-----END PGP SIGNATURE-----\n")
    rel = parse_release(text)
    assert rel.fields["Codename"] == "bookworm" and rel.fields["Dashed"] == "yes"
    assert rel.sha256 == {"main/binary-arm64/Packages.xz": ("ab" * 32, 123)}


# --- the Release file's signature ----------------------------------------------------

def test_openpgp_clearsigned_good_tampered_and_unknown_key():
    from elfuse_py.sysroot import openpgp
    text = "Origin: Test\n-dashed: line\ntrailing: blanks  \t\nSHA256:\n x 1 y\n"
    signed = signing_key().clearsign(text)
    assert "\n- -dashed" in signed                        # dash-escaped as gpg does
    ring = openpgp.read_keyring(signing_key().keyring())
    assert openpgp.verify_clearsigned(signed, ring).fingerprint == signing_key().fpr
    assert parse_release(signed).fields["-dashed"] == "line"
    with pytest.raises(openpgp.SignatureError, match="BAD signature"):
        openpgp.verify_clearsigned(signed.replace("Origin: Test", "Origin: Evil"), ring)
    with pytest.raises(openpgp.SignatureError, match="not in the keyring"):
        openpgp.verify_clearsigned(signed, openpgp.read_keyring(signing_key(2).keyring()))
    with pytest.raises(openpgp.SignatureError):
        openpgp.verify_clearsigned(text, ring)               # not signed at all


def test_openpgp_real_debian_release_with_the_hosts_keyring():
    from elfuse_py.sysroot import openpgp
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    cached = sorted((ROOT / "tests/.cache/sysroot-tool-cache/index").glob("*/dists/bookworm/Release"))
    if not keyring.exists() or not cached or not cached[0].read_text().startswith("-----BEGIN PGP"):
        pytest.skip("needs Debian's keyring and the end-to-end test's cached InRelease")
    text = cached[0].read_text()
    ring = openpgp.read_keyring(keyring.read_bytes())
    assert openpgp.verify_clearsigned(text, ring)
    with pytest.raises(openpgp.SignatureError, match="BAD"):
        openpgp.verify_clearsigned(text.replace("Codename: bookworm", "Codename: bookwurm"), ring)


def test_tool_refuses_a_release_signed_by_another_key(tmp_path):
    m = fake_mirror(tmp_path)
    other = tmp_path / "other.gpg"
    other.write_bytes(signing_key(2).keyring())
    r = run_tool([str(tmp_path / "root"), "--mirror", m.url, "shell", "--keyring", str(other)])
    assert r.returncode == 1 and "refused" in r.stderr and "not in the keyring" in r.stderr
    assert not (tmp_path / "root/usr/bin/bash").exists()


def test_tool_checks_a_detached_release_gpg(tmp_path):
    m = fake_mirror(tmp_path)
    m.signing = "detached"
    (m.base / "dists/bookworm/InRelease").unlink()
    m.write()
    r = run_tool([str(tmp_path / "root"), "--mirror", m.url, "shell", "-v"], env=m.env)
    assert r.returncode == 0, r.stderr
    assert "Release signed by " + signing_key().fpr.hex().upper() in r.stderr
    (m.base / "dists/bookworm/Release.gpg").unlink()
    r = run_tool([str(tmp_path / "root2"), "--mirror", m.url, "shell"], env=m.env)
    assert r.returncode == 1 and "Release.gpg" in r.stderr


def test_tool_without_a_keyring_warns_and_no_verify_is_silent(tmp_path, monkeypatch, capsys):
    from elfuse_py.sysroot import mirror
    m = fake_mirror(tmp_path)
    monkeypatch.setattr(mirror, "DEFAULT_KEYRINGS", ())
    monkeypatch.delenv("ELFUSE_DEBIAN_KEYRING", raising=False)
    assert cli.main([str(tmp_path / "r1"), "--mirror", m.url, "shell"]) == 0
    assert "signature is not checked" in capsys.readouterr().err
    assert cli.main([str(tmp_path / "r2"), "--mirror", m.url, "shell", "--no-verify"]) == 0
    assert capsys.readouterr().err == ""


# --- which mirror --------------------------------------------------------------------

def test_mirror_from_fake_etc_apt(tmp_path):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://other.example/ubuntu jammy main\n")
    (apt / "sources.list.d" / "a-disabled.sources").write_text(
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nEnabled: no\n")
    (apt / "sources.list.d" / "b-debian.sources").write_text(
        "Types: deb deb-src\n# a comment\nURIs: http://deb.example/debian/ http://second.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n")
    (apt / "sources.list.d" / "c.list.disabled").write_text("deb http://nope.example/ bookworm main\n")
    assert [u for u, _ in apt_sources(apt)] == [
        "http://other.example/ubuntu", "http://deb.example/debian/", "http://second.example/debian",
        "http://security.example/debian-security"]
    assert choose_mirror(None, "bookworm", apt, {}) == "http://deb.example/debian"
    assert choose_mirror(None, "bookworm-security", apt, {}) == "http://security.example/debian-security"
    assert choose_mirror(None, "bookworm", apt, {"ELFUSE_DEBIAN_MIRROR": "http://env/d/"}) == "http://env/d"
    assert choose_mirror("http://cli/d", "bookworm", apt, {"ELFUSE_DEBIAN_MIRROR": "http://env/d"}) \
        == "http://cli/d"
    with pytest.raises(MirrorError, match="--mirror"):
        choose_mirror(None, "trixie", apt, {})
    with pytest.raises(MirrorError, match="ELFUSE_DEBIAN_MIRROR"):
        choose_mirror(None, "bookworm", tmp_path / "no-apt", {})


# --- the tool against a file:// mirror -----------------------------------------------

MAWK_POSTINST = """#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
        update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \\
            --slave /usr/bin/nawk nawk /usr/bin/mawk \\
            --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz
        update-alternatives --install /usr/bin/$x dyn /usr/bin/mawk 1
fi
"""


def fake_mirror(tmp_path: Path) -> FakeMirror:
    m = FakeMirror(tmp_path / "mirror")
    m.add("libc6", make_deb("libc6", [
        tar_entry("./lib/", "dir"), tar_entry("./lib/aarch64-linux-gnu/", "dir"),
        tar_entry("./lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
                  data=b"\x7fELF /lib/aarch64-linux-gnu/ /usr/lib/aarch64-linux-gnu/", mode=0o755),
        tar_entry("./lib/ld-linux-aarch64.so.1", "sym", link="aarch64-linux-gnu/ld-linux-aarch64.so.1"),
        tar_entry("./usr/", "dir"), tar_entry("./usr/lib/", "dir"),
        tar_entry("./usr/lib/aarch64-linux-gnu/", "dir"),
        tar_entry("./usr/lib/aarch64-linux-gnu/libc.so.6", data=b"libc", mode=0o755)]))
    m.add("shell", make_deb("shell", [
        tar_entry("./bin/", "dir"), tar_entry("./bin/bash", data=b"#bash", mode=0o755),
        tar_entry("./bin/rbash", "sym", link="bash"),
        tar_entry("./bin/sh-hard", "hard", link="./bin/bash"),
        tar_entry("./sbin/", "dir"), tar_entry("./sbin/tool", data=b"tool", mode=0o755)]),
        pre="libc6 (>= 2.36)", depends="awk")
    m.add("mawk", make_deb("mawk", [
        tar_entry("./usr/", "dir"), tar_entry("./usr/bin/", "dir"),
        tar_entry("./usr/bin/mawk", data=b"mawk", mode=0o755)], postinst=MAWK_POSTINST),
        provides="awk", depends="libc6")
    m.add("other", make_deb("other", []))
    m.write()
    return m


def test_tool_builds_a_root_from_a_file_mirror(tmp_path):
    m = fake_mirror(tmp_path)
    root = tmp_path / "root"
    r = run_tool([str(root), "--mirror", m.url, "shell"], env=m.env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""                  # quiet when not on a terminal
    # merged /usr: what packages put in /bin and /sbin is under /usr
    for d in ("bin", "sbin", "lib"):
        assert os.readlink(root / d) == f"usr/{d}"
    assert (root / "usr/bin/bash").read_bytes() == b"#bash"
    assert os.readlink(root / "usr/bin/rbash") == "bash"
    assert os.path.samefile(root / "usr/bin/sh-hard", root / "usr/bin/bash")
    assert (root / "usr/sbin/tool").stat().st_mode & 0o777 == 0o755
    # the interpreter, at the path PT_INTERP names
    assert (root / "lib/ld-linux-aarch64.so.1").resolve() == \
        (root / "usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1").resolve()
    assert layout.loader_searches_multiarch(str(root)) is True
    # alternatives from mawk's postinst (the $x one is left alone; the man page is not shipped)
    assert os.readlink(root / "usr/bin/awk") == "/etc/alternatives/awk"
    assert os.readlink(root / "etc/alternatives/awk") == "/usr/bin/mawk"
    assert os.readlink(root / "usr/bin/nawk") == "/etc/alternatives/nawk"
    assert not os.path.lexists(root / "usr/share/man/man1/awk.1.gz")
    assert not os.path.lexists(root / "etc/alternatives/dyn")
    # accounts, as without base-passwd
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:root:/root:/bin/bash\n")
    assert (root / "etc/group").read_text().startswith("root:x:0:\n")
    assert not (root / "usr/bin/other").exists()                # not depended on
    state = json.loads((root / ".elfuse-sysroot/state.json").read_text())
    assert sorted(state["packages"]) == ["libc6", "mawk", "shell"]

    # a second run, with the mirror's pool gone, works from the cache
    for deb in (m.base / "pool").rglob("*.deb"):
        deb.unlink()
    r = run_tool([str(tmp_path / "root2"), "--mirror", m.url, "shell"], env=m.env)
    assert r.returncode == 1 and "no such file" in r.stderr     # a new cache must download
    r = run_tool([str(tmp_path / "root2"), "--mirror", m.url, "shell",
                  "--cache", str(root / ".elfuse-sysroot/cache")], env=m.env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "root2/usr/bin/bash").read_bytes() == b"#bash"
    r = run_tool([str(root), "--mirror", m.url, "shell", "-v"], env=m.env)
    assert r.returncode == 0, r.stderr
    assert "unpacking" not in r.stderr                          # already unpacked, same version


def test_tool_as_an_ordinary_user(tmp_path):
    # Mac users are not root: no chown, no device nodes, and every file still lands.
    import shutil
    import tempfile
    py = "/usr/bin/python3"
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.access(py, os.X_OK):
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run the tool as nobody")
    base = Path(tempfile.mkdtemp(prefix="sysroot-nobody-"))
    try:
        base.chmod(0o777)
        m = fake_mirror(base)
        for p in [m.base, *m.base.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        root = base / "root"
        e = {k: v for k, v in os.environ.items() if k not in ("ELFUSE_DEBIAN_MIRROR",)}
        e.update(TOOL_ENV, HOME=str(base), **m.env)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            py, "-m", "elfuse_py.sysroot.cli", str(root), "--mirror", m.url,
                            "shell"], env=e, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert (root / "usr/bin/bash").stat().st_uid == 65534
        assert os.readlink(root / "usr/bin/awk") == "/etc/alternatives/awk"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_entry_point():
    assert 'elfuse-py-sysroot = "elfuse_py.sysroot.cli:main"' in (ROOT / "pyproject.toml").read_text()
    script = Path(sys.executable).parent / "elfuse-py-sysroot"
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    r = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--mirror" in r.stdout and "--image" in r.stdout


def test_progress_on_a_terminal_and_quiet_elsewhere():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    t, p = Tty(), io.StringIO()
    for stream in (t, p):
        pr = Progress(stream=stream)
        pr.status("downloading bash 1.0 MB/1.4 MB")
        pr.step("unpacking bash")
        pr.done()
    assert "\rdownloading bash" in t.getvalue() and "unpacking bash" in t.getvalue()
    assert p.getvalue() == ""
    v = io.StringIO()
    pr = Progress(verbose=True, stream=v)
    pr.status("transient")
    pr.step("unpacking bash")
    pr.warn("careful")
    assert v.getvalue() == "unpacking bash\nelfuse-py-sysroot: warning: careful\n"


def test_tool_refuses_a_deb_whose_sha256_is_not_the_index(tmp_path):
    m = fake_mirror(tmp_path)
    m.write(corrupt="mawk")
    root = tmp_path / "root"
    r = run_tool([str(root), "--mirror", m.url, "shell"], env=m.env)
    assert r.returncode == 1
    assert "mawk 1.0" in r.stderr and "refused" in r.stderr
    assert not list((root / ".elfuse-sysroot/cache/debs").glob("mawk*"))
    assert not (root / "usr/bin/mawk").exists()


def test_tool_refuses_an_index_whose_sha256_is_not_the_release(tmp_path):
    m = fake_mirror(tmp_path)
    p = m.base / "dists/bookworm/main/binary-arm64/Packages.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()) + b"\n"))
    r = run_tool([str(tmp_path / "root"), "--mirror", m.url, "shell"], env=m.env)
    assert r.returncode == 1 and "Packages.gz: SHA256" in r.stderr


def test_tool_without_a_mirror_says_how_to_give_one(tmp_path):
    r = run_tool([str(tmp_path / "root"), "--suite", "no-such-suite", "bash"])
    assert r.returncode == 1
    assert "--mirror" in r.stderr and "ELFUSE_DEBIAN_MIRROR" in r.stderr


def test_tool_unreachable_mirror_exits_3(tmp_path):
    r = run_tool([str(tmp_path / "root"), "--mirror", "http://127.0.0.1:9/debian", "bash"])
    assert r.returncode == 3 and "cannot reach" in r.stderr


def test_sysroot_code_runs_no_host_tools_and_needs_only_the_stdlib():
    # Python alone: no subprocess, os.system or exec of dpkg/ar/tar anywhere in the tool,
    # and nothing imported but the standard library and the tool's own modules.
    import ast
    for path in (ROOT / "elfuse_py" / "sysroot").glob("*.py"):
        text = path.read_text()
        for needle in ("subprocess", "os.system", "os.popen", "os.exec", "os.spawn"):
            assert needle not in text, f"{path.name} uses {needle}"
        for node in ast.walk(ast.parse(text)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert name.startswith("elfuse_py.sysroot") or top == "__future__" or \
                    top in sys.stdlib_module_names or top == "compression", (path.name, name)   # 3.14: zstd


def test_tool_over_http_then_offline_from_the_cache(tmp_path):
    import functools
    import http.server
    import threading
    m = fake_mirror(tmp_path)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(m.base)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    cache = tmp_path / "cache"
    try:
        r = run_tool([str(tmp_path / "root"), "shell", "--cache", str(cache)],
                     env={"ELFUSE_DEBIAN_MIRROR": url, **m.env})
        assert r.returncode == 0, r.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "root/usr/bin/bash").read_bytes() == b"#bash"
    # the mirror is gone: the cached Release, index and packages still build a root
    r = run_tool([str(tmp_path / "root2"), "shell", "--cache", str(cache)],
                 env={"ELFUSE_DEBIAN_MIRROR": url, **m.env})
    assert r.returncode == 0, r.stderr
    assert "using the Release file cached" in r.stderr
    assert (tmp_path / "root2/usr/bin/bash").read_bytes() == b"#bash"


def test_case_collisions_are_named(tmp_path, capsys):
    # What a case-insensitive volume would merge is found from the names alone.
    root = tmp_path / "r"
    root.mkdir()
    ex = Extractor(str(root), casefold=True)
    entries = [tar_entry("usr/", "dir"), tar_entry("usr/Makefile", data=b"1"),
               tar_entry("usr/makefile", data=b"2"), tar_entry("USR/x", data=b"3"),
               tar_entry("usr/other", data=b"4")]
    with tarfile.open(fileobj=io.BytesIO(make_tar(entries)), mode="r|") as t:
        ex.extract_all(t)
    assert ex.case_collisions == [("/usr/Makefile", "/usr/makefile"), ("/usr", "/USR")]
    cli.report_collisions(ex, Progress())
    assert "2 names collided by case: /usr/makefile replaced /usr/Makefile" in capsys.readouterr().err


def test_case_insensitive_volume_warning(tmp_path, monkeypatch, capsys):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "a").touch()
    assert layout.case_sensitive(str(tmp_path)) == (not (probe / "A").exists())
    assert os.listdir(tmp_path) == ["probe"]                   # the tool's probe is gone
    monkeypatch.setattr(layout, "case_sensitive", lambda d: False)
    cli.warn_case(str(tmp_path), Progress())
    err = capsys.readouterr().err
    assert "case-insensitive" in err and "diskutil apfs addVolume" in err


# --- safe extraction -----------------------------------------------------------------

def _extract(root: Path, entries: list[tuple], privileged: bool | None = None) -> Extractor:
    root.mkdir(exist_ok=True)
    ex = Extractor(str(root))
    if privileged is not None:
        ex.privileged = privileged
    with tarfile.open(fileobj=io.BytesIO(make_tar(entries)), mode="r|") as t:
        ex.extract_all(t)
    ex.finish()
    return ex


def test_extract_refuses_dotdot_and_keeps_symlink_tricks_inside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(UnsafeArchive):
        _extract(tmp_path / "r1", [tar_entry("../outside/evil", data=b"x")])
    with pytest.raises(UnsafeArchive):
        _extract(tmp_path / "r1", [tar_entry("a/../../outside/evil", data=b"x")])
    root = tmp_path / "r2"
    _extract(root, [tar_entry("/abs", data=b"a"),
                    tar_entry("esc", "sym", link=str(outside)),
                    tar_entry("esc/evil", data=b"x"),
                    tar_entry("up", "sym", link="../../../../outside"),
                    tar_entry("up/evil2", data=b"y")])
    assert list(outside.iterdir()) == []
    assert (root / "abs").read_bytes() == b"a"
    assert (root / str(outside).lstrip("/") / "evil").read_bytes() == b"x"
    assert (root / "outside" / "evil2").read_bytes() == b"y"
    with pytest.raises(UnsafeArchive):
        _extract(tmp_path / "r3", [tar_entry("hl", "hard", link="../../etc/passwd")])


def test_extract_skips_device_nodes_unless_root(tmp_path):
    ex = _extract(tmp_path / "r", [tar_entry("dev/", "dir"), tar_entry("dev/null", "chr"),
                                   tar_entry("f", data=b"1")], privileged=False)
    assert ex.skipped_devices == ["/dev/null"]
    assert not os.path.lexists(tmp_path / "r/dev/null") and (tmp_path / "r/f").exists()


# --- images --------------------------------------------------------------------------

LAYER1 = [tar_entry("etc/", "dir"), tar_entry("etc/a", data=b"a"), tar_entry("etc/b", data=b"b"),
          tar_entry("opq/", "dir"), tar_entry("opq/x", data=b"x"), tar_entry("opq/sub/", "dir"),
          tar_entry("opq/sub/y", data=b"y"), tar_entry("usr/", "dir"), tar_entry("usr/bin/", "dir"),
          tar_entry("usr/bin/sh", data=b"sh", mode=0o755), tar_entry("bin", "sym", link="usr/bin")]
LAYER2 = [tar_entry("etc/", "dir"), tar_entry("etc/.wh.a"), tar_entry("opq/", "dir"),
          tar_entry("opq/z", data=b"z"), tar_entry("opq/.wh..wh..opq"),
          tar_entry("usr/bin/new", data=b"new")]


def check_layers(root: Path) -> None:
    assert not (root / "etc/a").exists() and (root / "etc/b").read_bytes() == b"b"   # whiteout
    assert sorted(os.listdir(root / "opq")) == ["z"]                                 # opaque
    assert (root / "usr/bin/new").read_bytes() == b"new"
    assert os.readlink(root / "bin") == "usr/bin" and (root / "bin/sh").read_bytes() == b"sh"
    assert not any(n.startswith(".wh.") for _, _, fs in os.walk(root) for n in fs)


def _tar_of(files: dict[str, bytes]) -> bytes:
    return make_tar([tar_entry(n, data=d) for n, d in files.items()])


def test_image_docker_save(tmp_path):
    l1, l2 = make_tar(LAYER1), make_tar(LAYER2, "gz")
    cfg = json.dumps({"architecture": "arm64", "os": "linux"}).encode()
    img = tmp_path / "img.tar"
    img.write_bytes(_tar_of({
        "manifest.json": json.dumps([{"Config": "cfg.json", "RepoTags": ["t:1"],
                                      "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode(),
        "cfg.json": cfg, "l1/layer.tar": l1, "l2/layer.tar": l2}))
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    check_layers(tmp_path / "root")


def test_image_docker_save_of_several_images_takes_the_arm64_one(tmp_path):
    amd = make_tar([tar_entry("AMD64-WAS-UNPACKED", data=b"!")])
    img = tmp_path / "img.tar"
    img.write_bytes(_tar_of({
        "manifest.json": json.dumps([
            {"Config": "amd.json", "RepoTags": ["x:amd"], "Layers": ["a/layer.tar"]},
            {"Config": "arm.json", "RepoTags": ["x:arm"], "Layers": ["l1/layer.tar", "l2/layer.tar"]},
        ]).encode(),
        "amd.json": b'{"architecture": "amd64"}', "arm.json": b'{"architecture": "arm64"}',
        "a/layer.tar": amd, "l1/layer.tar": make_tar(LAYER1), "l2/layer.tar": make_tar(LAYER2)}))
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    check_layers(tmp_path / "root")
    assert not (tmp_path / "root/AMD64-WAS-UNPACKED").exists()


def _blob(blobs: dict, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs["blobs/sha256/" + digest[7:]] = data
    return {"digest": digest, "size": len(data)}


def oci_image(layers_by_arch: dict[str, list[bytes]]) -> bytes:
    blobs: dict[str, bytes] = {}
    entries = []
    for arch, layers in layers_by_arch.items():
        cfg = _blob(blobs, json.dumps({"architecture": arch, "os": "linux"}).encode())
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [dict(_blob(blobs, l),
                                                   mediaType="application/vnd.oci.image.layer.v1.tar")
                                              for l in layers]}
        d = _blob(blobs, json.dumps(manifest).encode())
        entries.append(dict(d, mediaType="application/vnd.oci.image.manifest.v1+json",
                            platform={"architecture": arch, "os": "linux"}))
    inner = _blob(blobs, json.dumps({"schemaVersion": 2, "mediaType":
                                     "application/vnd.oci.image.index.v1+json",
                                     "manifests": entries}).encode())
    index = {"schemaVersion": 2, "manifests": [dict(inner, mediaType=
                                                    "application/vnd.oci.image.index.v1+json")]}
    return _tar_of({"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
                    "index.json": json.dumps(index).encode(), **blobs})


def test_image_oci_layout_picks_arm64(tmp_path):
    amd = make_tar([tar_entry("AMD64-WAS-UNPACKED", data=b"!")])
    img = tmp_path / "oci.tar.gz"
    img.write_bytes(gzip.compress(oci_image({"amd64": [amd], "arm64": [make_tar(LAYER1, "gz"),
                                                                       make_tar(LAYER2)]})))
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 0, r.stderr
    check_layers(tmp_path / "root")
    assert not (tmp_path / "root/AMD64-WAS-UNPACKED").exists()


def test_image_oci_without_arm64_is_refused(tmp_path):
    img = tmp_path / "oci.tar"
    img.write_bytes(oci_image({"amd64": [make_tar(LAYER1)]}))
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 1 and "no linux/arm64 image" in r.stderr and "linux/amd64" in r.stderr


def test_image_layer_with_a_path_escape_is_refused(tmp_path):
    bad = make_tar([tar_entry("etc/", "dir"), tar_entry("../../escaped", data=b"!")])
    img = tmp_path / "img.tar"
    img.write_bytes(oci_image({"arm64": [make_tar(LAYER1), bad]}))
    r = run_tool([str(tmp_path / "sub/root"), "--image", str(img)])
    assert r.returncode == 1 and "climbs out" in r.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "sub/escaped").exists()


def test_image_corrupt_blob_is_refused(tmp_path):
    data = bytearray(oci_image({"arm64": [make_tar(LAYER1)]}))
    i = data.find(b"usr/bin/sh")
    j = data.find(b"sh", i + 512)                 # the file's content, in the layer blob
    data[j:j + 2] = b"SH"
    img = tmp_path / "img.tar"
    img.write_bytes(bytes(data))
    (tmp_path / "root").mkdir()
    with pytest.raises(ImageError, match="does not match its digest"):
        unpack_image(str(img), str(tmp_path / "root"), Progress(), str(tmp_path))


@pytest.mark.parametrize("comp", ["", "xz", "gz"])
def test_image_truncated_tarball_is_an_error_not_a_traceback(tmp_path, comp):
    img = tmp_path / "rootfs.tar"
    data = make_tar(LAYER1 + [tar_entry("big", data=os.urandom(20000))], comp)
    img.write_bytes(data[:len(data) // 2])
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("elfuse-py-sysroot: ")


def test_image_plain_rootfs_tarball(tmp_path):
    img = tmp_path / "rootfs.tar.xz"
    img.write_bytes(make_tar(LAYER1, "xz"))
    r = run_tool([str(tmp_path / "root"), "--image", str(img)])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "root/etc/a").read_bytes() == b"a"
    assert (tmp_path / "root/bin/sh").read_bytes() == b"sh"


# --- end to end: the real Debian mirror ----------------------------------------------

TRAPPED = ("apt", "apt-get", "apt-cache", "dpkg", "dpkg-deb", "ar", "tar", "xz", "zstd")


def test_debian_root_with_bash_and_python_runs_under_elfuse(tmp_path):
    try:
        mirror = choose_mirror(None, "bookworm")
    except MirrorError:
        pytest.skip("no Debian mirror configured (set ELFUSE_DEBIAN_MIRROR)")
    traps = tmp_path / "trap-bin"
    traps.mkdir()
    called = tmp_path / "called"
    for name in TRAPPED:
        t = traps / name
        t.write_text(f"#!/bin/sh\necho {name} >> {called}\nexit 1\n")
        t.chmod(0o755)
    cache = ROOT / "tests" / ".cache" / "sysroot-tool-cache"
    root = tmp_path / "root"
    r = run_tool([str(root), "--mirror", mirror, "--suite", "bookworm", "--cache", str(cache),
                  "bash", "python3.11-minimal", "coreutils"], env={"PATH": str(traps)})
    if r.returncode == cli.EXIT_UNREACHABLE:
        pytest.skip(f"Debian mirror unreachable: {r.stderr.strip()[-200:]}")
    assert r.returncode == 0, r.stderr
    assert not called.exists(), f"host tools were run: {called.read_text()}"
    assert os.readlink(root / "bin") == "usr/bin"
    assert (root / "usr/bin/bash").is_file() and (root / "lib/ld-linux-aarch64.so.1").exists()
    assert layout.loader_searches_multiarch(str(root)) is True

    for model in ({}, {"ELFUSE_HOST_COMPAT": "darwin"}):       # natively and as on a Mac
        out = run_elfuse(["-L", str(root), str(root / "bin/bash"), "-c",
                          "echo hello; printf 'b\\na\\n' | sort | tr a-z A-Z | head -n 1"],
                         extra_env=model, timeout=120)
        assert out.returncode == 0, (model, out.stderr)
        assert out.stdout == b"hello\nA\n", model
        out = run_elfuse(["-L", str(root), str(root / "usr/bin/python3.11"), "-c", "print(1+1)"],
                         extra_env=model, timeout=180)
        assert out.returncode == 0, (model, out.stderr)
        assert out.stdout == b"2\n", model
