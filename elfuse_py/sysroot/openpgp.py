"""OpenPGP signatures of Debian's Release files, checked with the standard library.

Enough of RFC 4880 for apt's job: read a keyring (binary or ASCII-armoured
public keys, subkeys included), read the v4 signatures of an InRelease file
(clear-signed, signature type 0x01 over the canonical text) or of
Release.gpg (detached, type 0x00 over the bytes), and check an RSA
PKCS#1 v1.5 signature (SHA-256/384/512/224, SHA-1) against a key of the ring
with `pow`.  Debian's archive signs with RSA keys (the "automatic" archive
keys) next to an Ed25519 release key; one good RSA signature from the ring
is enough, as for apt.  Ed25519/ECDSA signatures are skipped (not checked).
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

HASHES = {2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}
# DER DigestInfo prefixes of PKCS#1 v1.5 (RFC 8017, 9.2 note 1)
DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
RSA_ALGOS = (1, 3)          # RSA (Encrypt or Sign), RSA Sign-Only


class SignatureError(Exception):
    """No good signature from a key of the ring, or an unreadable signature/keyring."""


def _packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet; old and new formats, definite lengths."""
    out = []
    i = 0
    while i < len(data):
        h = data[i]
        if not h & 0x80:
            raise SignatureError(f"not an OpenPGP packet at byte {i}")
        if h & 0x40:                                   # new format
            tag = h & 0x3F
            i += 1
            first = data[i]
            if first < 192:
                n, i = first, i + 1
            elif first < 224:
                n, i = ((first - 192) << 8) + data[i + 1] + 192, i + 2
            elif first == 255:
                n, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
            else:
                raise SignatureError("partial-length OpenPGP packets are not supported")
        else:                                          # old format
            tag, ltype = (h >> 2) & 0x0F, h & 3
            i += 1
            if ltype == 3:
                n = len(data) - i
            else:
                size = (1, 2, 4)[ltype]
                n, i = int.from_bytes(data[i:i + size], "big"), i + size
        out.append((tag, data[i:i + n]))
        i += n
    return out


def _mpi(body: bytes, i: int) -> tuple[int, int]:
    bits = int.from_bytes(body[i:i + 2], "big")
    n = (bits + 7) // 8
    return int.from_bytes(body[i + 2:i + 2 + n], "big"), i + 2 + n


def dearmor(text: str) -> bytes:
    """The binary of an ASCII-armoured block (the first one in text)."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("-----BEGIN PGP"))
    except StopIteration:
        raise SignatureError("no ASCII-armoured OpenPGP block") from None
    i = start + 1
    while i < len(lines) and lines[i].strip():         # armour headers
        i += 1
    b64 = []
    for line in lines[i + 1:]:
        if line.startswith("-----END PGP") or line.startswith("="):
            break
        b64.append(line.strip())
    return base64.b64decode("".join(b64))


@dataclass
class RsaKey:
    fingerprint: bytes
    n: int
    e: int

    @property
    def key_id(self) -> bytes:
        return self.fingerprint[-8:]


def read_keyring(data: bytes) -> list[RsaKey]:
    """The RSA primary keys and subkeys of a keyring (binary, or armoured text)."""
    if data.lstrip().startswith(b"-----BEGIN PGP"):
        data = dearmor(data.decode("ascii", "replace"))
    keys = []
    for tag, body in _packets(data):
        if tag not in (6, 14) or not body or body[0] != 4:
            continue
        if body[5] not in RSA_ALGOS:
            continue
        n, i = _mpi(body, 6)
        e, _ = _mpi(body, i)
        fpr = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).digest()
        keys.append(RsaKey(fpr, n, e))
    return keys


@dataclass
class Signature:
    sig_type: int
    pub_algo: int
    hash_name: str | None
    hashed: bytes           # what goes into the hash after the document
    left16: bytes
    issuer_fpr: bytes | None
    issuer_id: bytes | None
    value: int | None       # RSA signature value


def _subpackets(data: bytes):
    i = 0
    while i < len(data):
        first = data[i]
        if first < 192:
            n, i = first, i + 1
        elif first < 255:
            n, i = ((first - 192) << 8) + data[i + 1] + 192, i + 2
        else:
            n, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
        if n:
            yield data[i] & 0x7F, data[i + 1:i + n]
        i += n


def read_signatures(data: bytes) -> list[Signature]:
    sigs = []
    for tag, body in _packets(data):
        if tag != 2 or not body or body[0] != 4:
            continue
        sig_type, pub_algo, hash_algo = body[1], body[2], body[3]
        hlen = int.from_bytes(body[4:6], "big")
        hashed_sub = body[6:6 + hlen]
        j = 6 + hlen
        ulen = int.from_bytes(body[j:j + 2], "big")
        unhashed_sub = body[j + 2:j + 2 + ulen]
        j += 2 + ulen
        left16 = body[j:j + 2]
        value = _mpi(body, j + 2)[0] if pub_algo in RSA_ALGOS else None
        head = body[:6 + hlen]
        trailer = head + b"\x04\xff" + len(head).to_bytes(4, "big")
        fpr = key_id = None
        for kind, val in list(_subpackets(hashed_sub)) + list(_subpackets(unhashed_sub)):
            if kind == 33 and val[:1] == b"\x04":
                fpr = val[1:]
            elif kind == 16:
                key_id = val
        sigs.append(Signature(sig_type, pub_algo, HASHES.get(hash_algo), trailer, left16,
                              fpr, key_id, value))
    return sigs


def _rsa_ok(key: RsaKey, sig: Signature, digest: bytes) -> bool:
    k = (key.n.bit_length() + 7) // 8
    if sig.value is None or sig.value >= key.n:
        return False
    em = pow(sig.value, key.e, key.n).to_bytes(k, "big")
    t = DIGEST_INFO[sig.hash_name] + digest
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


def clearsigned_parts(text: str) -> tuple[bytes, bytes]:
    """(the canonical signed text, the signature packets) of a clear-signed message."""
    lines = text.splitlines()
    if not lines or lines[0] != "-----BEGIN PGP SIGNED MESSAGE-----":
        raise SignatureError("InRelease is not a clear-signed message")
    i = 1
    while i < len(lines) and lines[i].strip():
        i += 1
    body = []
    for j in range(i + 1, len(lines)):
        if lines[j] == "-----BEGIN PGP SIGNATURE-----":
            sig = dearmor("\n".join(lines[j:]))
            break
        line = lines[j]
        body.append(line[2:] if line.startswith("- ") else line)
    else:
        raise SignatureError("InRelease has no signature block")
    # RFC 4880 7.1: CRLF line ends, trailing spaces and tabs dropped, no final line end
    return "\r\n".join(l.rstrip(" \t") for l in body).encode("utf-8"), sig


def verify(document: bytes, signature: bytes, keys: list[RsaKey]) -> RsaKey:
    """The key of the first good signature over document (already canonical), or SignatureError."""
    by_fpr = {k.fingerprint: k for k in keys}
    by_id = {k.key_id: k for k in keys}
    sigs = read_signatures(signature)
    if not sigs:
        raise SignatureError("no OpenPGP v4 signature found")
    tried = []
    for sig in sigs:
        key = by_fpr.get(sig.issuer_fpr) if sig.issuer_fpr else None
        key = key or (by_id.get(sig.issuer_id) if sig.issuer_id else None)
        who = (sig.issuer_fpr or sig.issuer_id or b"").hex().upper() or "an unknown key"
        if key is None:
            tried.append(f"{who}: not in the keyring")
            continue
        if sig.pub_algo not in RSA_ALGOS or sig.hash_name is None:
            tried.append(f"{who}: algorithm {sig.pub_algo}/{sig.hash_name} not supported")
            continue
        digest = hashlib.new(sig.hash_name, document + sig.hashed).digest()
        if digest[:2] != sig.left16 or not _rsa_ok(key, sig, digest):
            raise SignatureError(f"BAD signature by {who}")
        return key
    raise SignatureError("no signature from a key of the keyring (" + "; ".join(tried) + ")")


def verify_clearsigned(text: str, keys: list[RsaKey]) -> RsaKey:
    document, sig = clearsigned_parts(text)
    return verify(document, sig, keys)
