"""A seeded ELF fuzzer: mutated programs never crash, hang or trace back the emulator.

Seeds: musl static (hello), musl static-PIE (hello_pie), the glibc static and
static-PIE builds when they exist, and dynamic glibc and musl programs (with
their sysroots) when tests/test_dynamic*.py have built them.  Each mutant changes header fields, program headers (type,
flags, offset, vaddr, sizes), PT_INTERP (missing, itself, too long, not
NUL-terminated, past the end of the file, not an ELF, a directory) or
truncates the file, and is run by the real CLI code
(tests/elf_fuzz_worker.py forks one child per mutant from a process that
imported the emulator once, two at a time, each with a timeout).

Asserted for every mutant: no "Traceback" on stderr, no death of the emulator
by a host signal (a guest fault at the top level is reported as status
128+N by the emulator itself, so any host signal is the emulator's own
crash), no hang, and a status that is the guest's own or one of execve's
(126/127), or 139 (Linux's SIGSEGV after the point of no return, or the
program's own fault).  Failing statuses come with a one-line message that
names the file.  The counts and time are printed (`pytest -s`).
"""
from __future__ import annotations

import os
import random
import struct
import time
from pathlib import Path

import pytest

from elf_fuzz_worker import run_jobs
from helpers import BUILD_DIRS, ROOT

N_PER_SEED = 50          # mutants per seed program (300 in all with six seeds)
TIMEOUT = 10.0           # per mutant; the seeds themselves run in well under a second
FUZZ_SEED = 20261206

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_INTERP, PT_NOTE, PT_GNU_STACK = 1, 3, 4, 0x6474E551
CROSS_ROOT = Path("/usr/aarch64-linux-gnu")


def _seeds() -> list[tuple[str, Path, list[str]]]:
    """(name, path, extra CLI options) of each seed program available here."""
    out = []
    for libc in ("musl", "glibc"):
        for prog in ("hello", "hello_pie"):
            p = BUILD_DIRS[libc] / prog
            if p.exists():
                out.append((f"{libc}-{prog}", p, []))
    # Dynamic programs and their sysroots, as tests/test_dynamic*.py build them
    # (used when they are there: those tests run first in `make test`).
    cache = ROOT / "tests" / ".cache"
    dyn = cache / "dyn" / "hello"
    if dyn.exists() and (CROSS_ROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        out.append(("glibc-dynamic", dyn, ["--sysroot", str(CROSS_ROOT)]))
    dyn_musl, musl_root = cache / "dyn-musl" / "echo_args", cache / "debian-arm64-musl"
    if dyn_musl.exists() and (musl_root / "lib" / "ld-musl-aarch64.so.1").exists():
        out.append(("musl-dynamic", dyn_musl, ["--sysroot", str(musl_root)]))
    return out


def _phdrs(data: bytes) -> tuple[int, int, list[list[int]]]:
    """The program headers where the header says (none if they are not all in the file)."""
    if len(data) < 64:
        return 0, 0, []
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phnum = struct.unpack_from("<H", data, 56)[0]
    if phoff + 56 * phnum > len(data):
        return 0, 0, []
    return phoff, phnum, [list(PHDR.unpack_from(data, phoff + 56 * i)) for i in range(phnum)]


def _interesting(rng: random.Random, old: int, file_size: int) -> int:
    choices = [0, 1, 2, 0xFFF, 0x1000, 0x1001, (1 << 64) - 1, (1 << 63), 1 << 62, 1 << 48,
               1 << 40, (1 << 40) - 0x1000, 100 << 30, 1 << 32, file_size, file_size + 1,
               file_size - 1, old + 1, old + 8, old - 1, old + 0x1000, old - 0x1000, old * 2,
               old // 2, old ^ (1 << rng.randrange(64)), rng.getrandbits(64),
               rng.getrandbits(rng.choice((8, 16, 24, 32)))]
    return rng.choice(choices) & ((1 << 64) - 1)


def _set_interp(d: bytearray, rng: random.Random, i: int, name: bytes, self_path: bytes) -> None:
    """Turn program header i into a PT_INTERP naming `name` (appended to the file)."""
    phoff, _n, ph = _phdrs(d)
    kind = rng.randrange(10)
    if kind == 0:
        name = self_path + b"\0"
    off = len(d)
    d.extend(name)
    p = ph[i]
    p[0], p[2], p[5], p[6] = PT_INTERP, off, len(name), len(name)
    if kind == 1:
        p[2] = off + (1 << rng.choice((12, 32, 40, 63)))     # past the end of the file
    PHDR.pack_into(d, phoff + 56 * i, *p)


def _interp_names(rng: random.Random, tmp: Path) -> bytes:
    return rng.choice([
        b"/nonexistent/ld-linux-aarch64.so.1\0",
        b"/lib/ld-linux-aarch64.so.1",                  # no NUL
        b"/" + b"a" * 5000 + b"\0",                     # longer than PATH_MAX
        b"/" + b"b" * 300 + b"\0",                      # a component over NAME_MAX
        b"\0", b"\0\0", b"x\0",
        str(tmp).encode() + b"\0",                      # a directory
        str(tmp / "notelf").encode() + b"\0",           # an executable non-ELF
        str(tmp / "loop").encode() + b"\0",             # a symlink loop
        b"/lib/ld-linux-aarch64.so.1\0",
        b"/lib/ld-musl-aarch64.so.1\0",
        b"/tmp/\xff\xfe-not-utf8\0", b"/dev/zero\0", b"/proc/self/fd/0\0",
        b"/lib/ld-linux-aarch64.so.1\0/extra\0",
    ])


def mutate(data: bytes, rng: random.Random, path: Path, tmp: Path) -> bytes:
    d = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        phoff, phnum, ph = _phdrs(d)
        ok_ph = phnum > 0
        what = rng.randrange(100)
        if what < 15 and len(d) >= 64:            # an ELF header field
            off, fmt = rng.choice([(4, "B"), (5, "B"), (6, "B"), (7, "B"), (16, "<H"), (18, "<H"),
                                   (20, "<I"), (24, "<Q"), (24, "<Q"), (32, "<Q"), (52, "<H"),
                                   (54, "<H"), (56, "<H"), (56, "<H")])
            old = struct.unpack_from(fmt, d, off)[0]
            bits = struct.calcsize(fmt) * 8
            struct.pack_into(fmt, d, off, _interesting(rng, old, len(d)) & ((1 << bits) - 1))
        elif what < 65 and ok_ph:                 # a program header field, PT_LOADs most often
            loads = [i for i, p in enumerate(ph) if p[0] == PT_LOAD]
            i = rng.choice(loads) if loads and rng.random() < 0.8 else rng.randrange(phnum)
            field = rng.choice((0, 1, 2, 3, 5, 5, 6, 6, 7))
            p = ph[i]
            if field == 0:
                p[0] = rng.choice((PT_LOAD, PT_INTERP, PT_NOTE, PT_GNU_STACK, 6, 7, 0,
                                   0x70000000, rng.getrandbits(32)))
            elif field == 1:
                p[1] = rng.getrandbits(3) if rng.random() < 0.7 else rng.getrandbits(32)
            else:
                p[field] = _interesting(rng, p[field], len(d))
                if field in (5, 6) and rng.random() < 0.3:      # keep filesz <= memsz
                    p[6] = max(p[6], p[5])
            PHDR.pack_into(d, phoff + 56 * i, *p)
        elif what < 75 and ok_ph:                 # swap or duplicate program headers
            i, j = rng.randrange(phnum), rng.randrange(phnum)
            if rng.random() < 0.5:
                ph[i], ph[j] = ph[j], ph[i]
            else:
                ph[i] = list(ph[j])
            for k in (i, j):
                PHDR.pack_into(d, phoff + 56 * k, *ph[k])
        elif what < 88 and ok_ph:                 # a PT_INTERP
            spare = [i for i, p in enumerate(ph) if p[0] in (PT_GNU_STACK, PT_NOTE, PT_INTERP, 6)]
            i = rng.choice(spare) if spare else rng.randrange(phnum)
            _set_interp(d, rng, i, _interp_names(rng, tmp), str(path).encode())
        elif what < 95:                           # truncation
            cut = rng.choice((rng.randrange(max(len(d), 1)), rng.randrange(min(len(d), 4096) or 1)))
            del d[cut:]
        else:                                     # random bytes in the headers
            for _k in range(rng.randrange(1, 8)):
                if len(d):
                    d[rng.randrange(min(len(d), 64 + 56 * 12))] = rng.getrandbits(8)
    return bytes(d)


def _fixtures(tmp: Path) -> None:
    notelf = tmp / "notelf"
    notelf.write_bytes(b"this is not an ELF file, but it is long enough to be read " * 4)
    notelf.chmod(0o755)
    loop = tmp / "loop"
    if not loop.is_symlink():
        os.symlink(loop, loop)


@pytest.mark.parametrize("model,per_seed", [("linux", N_PER_SEED), ("darwin", N_PER_SEED // 4)])
def test_elf_fuzz(tmp_path, model, per_seed):
    env = dict(os.environ)
    env.pop("ELFUSE_HOST_COMPAT", None)
    if model == "darwin":
        env["ELFUSE_HOST_COMPAT"] = "darwin"     # the macOS host model (docs/macos.md)
    seeds = _seeds()
    assert seeds and seeds[0][0] == "musl-hello", "the musl seeds must be built (make test does)"
    _fixtures(tmp_path)
    jobs, meta = [], []
    for name, path, opts in seeds:
        data = path.read_bytes()
        rng = random.Random(f"{FUZZ_SEED}-{model}-{name}")
        for k in range(per_seed):
            m = tmp_path / f"{name}-{k:03d}"
            m.write_bytes(mutate(data, rng, m, tmp_path))
            m.chmod(0o755)
            jobs.append({"args": [*opts, str(m)], "stderr": str(m) + ".err"})
            meta.append(m)
    # The seeds themselves, unmutated, must run: the worker works.
    for name, path, opts in seeds:
        jobs.append({"args": [*opts, str(path)], "stderr": str(tmp_path / f"{name}.seed.err")})
    t0 = time.monotonic()
    results = run_jobs(jobs, TIMEOUT, env=env)
    seed_results = results[len(meta):]
    assert [r["status"] for r in seed_results] == [0] * len(seeds), seed_results
    jobs, results = jobs[:len(meta)], results[:len(meta)]
    elapsed = time.monotonic() - t0
    counts: dict[str, int] = {}
    bad = []
    for m, res in zip(meta, results):
        err = Path(str(m) + ".err").read_bytes()
        status = res["status"]
        if res["hang"]:
            kind = "hang"
        elif res["signal"]:
            kind = f"host signal {res['signal']}"
        elif b"Traceback" in err:
            kind = "traceback"
        else:
            kind = {0: "ran", 126: "126 cannot execute", 127: "127 not found",
                    139: "139 SIGSEGV"}.get(status, f"status {status}")
        counts[kind] = counts.get(kind, 0) + 1
        if kind in ("hang", "traceback") or kind.startswith("host signal"):
            bad.append((m.name, kind, err.decode(errors="replace")[-400:]))
        else:
            # The emulator's own refusal is one line naming the file (a guest's
            # ld.so may print and exit 127 itself: that is the guest's output).
            lines = err.decode(errors="replace").splitlines()
            ours = [ln for ln in lines if ln.startswith("elfuse-py:")]
            # A missing or foreign interpreter adds the CLI's explanation and one hint.
            hinted = len(lines) == 3 and all(ln.startswith("elfuse-py: ") for ln in lines) \
                and lines[-1].startswith("elfuse-py: hint: ")
            if ours and ((len(lines) != 1 and not hinted) or m.name not in lines[0]):
                bad.append((m.name, "message", err.decode(errors="replace")[-400:]))
            if status in (126, 127) and not ours and not lines:
                bad.append((m.name, "silent refusal", ""))
    print(f"\nELF fuzz ({model} host model): {len(jobs)} mutants of {len(seeds)} seeds "
          f"({', '.join(n for n, *_ in seeds)}) in {elapsed:.1f} s: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    assert not bad, bad[:10]
    # The fuzzer reaches both sides of the point of no return, and the runs.
    assert counts.get("126 cannot execute", 0) and counts.get("139 SIGSEGV", 0) \
        and counts.get("ran", 0), counts
