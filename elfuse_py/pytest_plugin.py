"""pytest plugin: guest test binaries and `#!` scripts as ordinary pytest items.

Registered through the `pytest11` entry point, so installing elfuse-py makes
it available to every pytest run; it only acts on directories marked for it:

- a directory given with `--elfuse-dir DIR` (also collected when not given as
  a path), and every directory below it;
- a directory holding a manifest, `elfuse-tests.toml` (or `elfuse-tests.json`);
- a directory given as a path on the command line (`pytest DIR`): there only
  AArch64 ELF executables, and scripts whose interpreter chain ends in one,
  are collected, so host programs and Python tests are left alone.

In a marked directory every executable AArch64 ELF and every executable `#!`
script is a test, and so is every entry of the manifest.  A test runs as
`./NAME ARGS...` with the test's directory as the working directory, through
`elfuse_py.run`; by default it passes when the exit status is 0.  Manifest
tables set expectations per test (see docs/harness.md):

    [defaults]                # applies to every test in this directory
    timeout = 30
    [hello]                   # the file ./hello
    args = ["a", "b c"]
    stdout = "Hello from an AArch64 guest! a b c\\n"
    [segv]
    status = 139              # or: signal = "SIGSEGV"
    [hello-regex]             # a second case for the same program
    program = "hello"
    stdout_regex = "^Hello"

Options: --elfuse-dir DIR, --elfuse-strace (show the syscall trace of failed
tests), --elfuse-timeout SECONDS (default 60), --elfuse-sysroot DIR.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import struct
from pathlib import Path
from typing import Any

import pytest

MANIFEST_NAMES = ("elfuse-tests.toml", "elfuse-tests.json")
DEFAULT_TIMEOUT = 60.0
EM_AARCH64 = 183

KEYS = {"program", "args", "env", "stdin", "stdin_file", "status", "signal", "stdout",
        "stdout_file", "stdout_regex", "stderr", "stderr_regex", "timeout", "skip", "xfail",
        "cwd", "sysroot", "strace"}

_dirs_key = pytest.StashKey[dict]()

# Linux (generic, as on AArch64) signal numbers: guest statuses use these, not the host's.
LINUX_SIGNALS = {f"SIG{n}": i for i, n in enumerate(
    "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT "
    "STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS".split(), start=1)}
_LINUX_SIGNAL_NAMES = {v: k for k, v in LINUX_SIGNALS.items()}


class ManifestError(Exception):
    pass


class GuestTestFailure(Exception):
    """The guest ran but did not meet its expectations."""


# ----- options and configuration ------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("elfuse", "elfuse-py guest tests")
    g.addoption("--elfuse-dir", action="append", default=[], metavar="DIR",
                help="collect guest binaries and #! scripts in DIR as tests")
    g.addoption("--elfuse-strace", action="store_true", default=False,
                help="trace the guests' syscalls and show the trace of failed tests")
    g.addoption("--elfuse-timeout", type=float, default=None, metavar="SECONDS",
                help=f"per-test timeout when the manifest gives none (default {DEFAULT_TIMEOUT:g})")
    g.addoption("--elfuse-sysroot", default=None, metavar="DIR",
                help="guest root directory for absolute paths (elfuse-py --sysroot)")


def pytest_configure(config: pytest.Config) -> None:
    marked = [Path(d).resolve() for d in config.getoption("elfuse_dir")]
    explicit: list[Path] = []
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        for a in config.args:
            p = Path(a.split("::")[0])
            if p.is_dir():
                explicit.append(p.resolve())
    config.stash[_dirs_key] = {"marked": marked, "explicit": explicit, "manifests": {}}
    if marked:
        # `pytest --elfuse-dir DIR` alone collects DIR (and not the testpaths).
        have = {Path(a.split("::")[0]).resolve() for a in config.args} \
            if config.args_source == pytest.Config.ArgsSource.ARGS else set()
        extra = [str(d) for d in marked if d not in have]
        if config.args_source == pytest.Config.ArgsSource.ARGS:
            config.args.extend(extra)
        else:
            config.args[:] = extra
    config.addinivalue_line("markers", "elfuse: a guest program run by elfuse-py")


# ----- what to collect ----------------------------------------------------------------

def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _manifest_path(d: Path) -> Path | None:
    for n in MANIFEST_NAMES:
        if (d / n).is_file():
            return d / n
    return None


def _load_toml(path: Path) -> dict:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ManifestError(f"{path}: reading TOML needs Python 3.11 or the tomli "
                                f"package; or write the manifest as elfuse-tests.json") from None
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_manifest(path: Path) -> tuple[dict, dict[str, dict]]:
    """(defaults, {test name: settings}) from a manifest file; raises ManifestError."""
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            data = _load_toml(path)
    except ManifestError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse error is the manifest's fault
        raise ManifestError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: the top level must be a table of tests")
    defaults = data.pop("defaults", {}) or {}
    tests: dict[str, dict] = {}
    for name, spec in [("defaults", defaults), *data.items()]:
        if not isinstance(spec, dict):
            raise ManifestError(f"{path}: [{name}] must be a table")
        unknown = set(spec) - KEYS
        if unknown:
            raise ManifestError(f"{path}: [{name}] unknown key(s): {', '.join(sorted(unknown))}"
                                f" (known: {', '.join(sorted(KEYS))})")
        if name != "defaults":
            tests[name] = spec
    return defaults, tests


def _manifest(config: pytest.Config, d: Path):
    cache = config.stash[_dirs_key]["manifests"]
    if d not in cache:
        mp = _manifest_path(d)
        try:
            cache[d] = (mp, *load_manifest(mp)) if mp else (None, {}, {})
        except ManifestError as e:
            cache[d] = e
    got = cache[d]
    if isinstance(got, ManifestError):
        raise got
    return got


def _is_aarch64_elf(head: bytes) -> bool:
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return False
    e_type, e_machine = struct.unpack_from("<HH", head, 16)
    return e_machine == EM_AARCH64 and e_type in (2, 3)


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(256)
    except OSError:
        return b""


def _script_reaches_aarch64(path: Path, sysroot: str | None) -> bool:
    from loader.shebang import ShebangError, resolve_program

    def to_host(g: bytes) -> str:
        p = os.fsdecode(g)
        if p.startswith("/"):
            if sysroot and os.path.lexists(os.path.join(sysroot, p.lstrip("/"))):
                return os.path.join(sysroot, p.lstrip("/"))
            return p
        return str(path.parent / p)

    try:
        host, _ = resolve_program(str(path), [os.fsencode(path.name)], to_host)
    except (ShebangError, OSError):
        return False
    return _is_aarch64_elf(_head(Path(host)))


def _dir_mode(config: pytest.Config, d: Path) -> str | None:
    st = config.stash[_dirs_key]
    if _manifest_path(d) is not None or _under(d, st["marked"]):
        return "marked"
    if _under(d, st["explicit"]):
        return "explicit"
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    config = parent.config
    if _dirs_key not in config.stash:
        return None
    d = file_path.parent.resolve()
    mode = _dir_mode(config, d)
    if mode is None:
        return None
    name = file_path.name
    if name in MANIFEST_NAMES:
        return ManifestFile.from_parent(parent, path=file_path)
    if name.startswith("."):
        return None
    try:
        manifest = _manifest(config, d)
    except ManifestError:
        manifest = None          # reported once, by the manifest's own collector
    listed = manifest is not None and name in manifest[2] and "program" not in manifest[2][name]
    if not listed:
        try:
            st = file_path.stat()
        except OSError:
            return None
        if not (st.st_mode & 0o111) or not file_path.is_file():
            return None
        head = _head(file_path)
        if _is_aarch64_elf(head):
            pass
        elif head[:2] == b"#!":
            if mode == "explicit" and not _script_reaches_aarch64(
                    file_path, config.getoption("elfuse_sysroot")):
                return None
        else:
            return None
    return GuestFile.from_parent(parent, path=file_path)


# ----- collectors and items -----------------------------------------------------------

class GuestFile(pytest.File):
    """One guest program or script; yields its single test item."""

    def collect(self):
        d = self.path.parent.resolve()
        _mp, defaults, tests = _manifest(self.config, d)
        spec = _merge(defaults, tests.get(self.path.name, {}))
        yield GuestItem.from_parent(self, name=self.path.name, spec=spec, program=self.path.name)


class ManifestFile(pytest.File):
    """The manifest: reports its own errors, and yields the cases naming a `program`."""

    def collect(self):
        d = self.path.parent.resolve()
        _mp, defaults, tests = _manifest(self.config, d)
        for name, spec in tests.items():
            if "program" in spec:
                yield GuestItem.from_parent(self, name=name, spec=_merge(defaults, spec),
                                            program=spec["program"])
            elif not (d / name).exists():
                raise ManifestError(f"{self.path}: [{name}] names no file in {d} "
                                    f"(add `program = ...` for a named case)")


def _merge(defaults: dict, spec: dict) -> dict:
    """A test's settings over the directory's defaults (env tables merge)."""
    out = {**defaults, **spec}
    if isinstance(defaults.get("env"), dict) and isinstance(spec.get("env"), dict):
        out["env"] = {**defaults["env"], **spec["env"]}
    return out


def _signal_number(v: Any) -> int:
    if isinstance(v, int):
        return v
    name = str(v).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in LINUX_SIGNALS:
        raise ManifestError(f"unknown signal {v!r}")
    return LINUX_SIGNALS[name]


class GuestItem(pytest.Item):
    def __init__(self, *, spec: dict, program: str, **kw) -> None:
        super().__init__(**kw)
        self.spec = spec
        self.program = program
        self.result = None
        self.add_marker("elfuse")
        skip, xfail = spec.get("skip"), spec.get("xfail")
        if skip:
            self.add_marker(pytest.mark.skip(reason=skip if isinstance(skip, str) else
                                             "skipped by the manifest"))
        if xfail:
            self.add_marker(pytest.mark.xfail(reason=xfail if isinstance(xfail, str) else
                                              "expected to fail (manifest)"))

    # What this test runs and expects ---------------------------------------------------
    def _dir(self) -> Path:
        return self.path.parent

    def _file(self, key: str) -> bytes:
        p = self._dir() / self.spec[key]
        try:
            return p.read_bytes()
        except OSError as e:
            raise ManifestError(f"{key} = {self.spec[key]!r}: {e.strerror}") from None

    def _expected_status(self) -> int:
        if "signal" in self.spec:
            return 128 + _signal_number(self.spec["signal"])
        return int(self.spec.get("status", 0))

    def command(self) -> list[str]:
        args = self.spec.get("args", [])
        if isinstance(args, str):
            args = shlex.split(args)
        prog = self.program if "/" in self.program else "./" + self.program
        return [prog, *map(str, args)]

    def runtest(self) -> None:
        from elfuse_py.api import run
        spec = self.spec
        env = None
        if spec.get("env"):
            env = dict(os.environ)
            env.update({str(k): str(v) for k, v in spec["env"].items()})
        stdin = None
        if "stdin" in spec:
            stdin = str(spec["stdin"]).encode()
        elif "stdin_file" in spec:
            stdin = self._file("stdin_file")
        timeout = float(spec.get("timeout") or self.config.getoption("elfuse_timeout")
                        or DEFAULT_TIMEOUT)
        strace = bool(spec.get("strace") or self.config.getoption("elfuse_strace"))
        sysroot = spec.get("sysroot") or self.config.getoption("elfuse_sysroot")
        if sysroot and "sysroot" in spec:
            sysroot = str(self._dir() / sysroot)
        cwd = self._dir() / spec["cwd"] if "cwd" in spec else self._dir()
        expected = self._expected_status()
        r = run(self.command(), env=env, sysroot=sysroot, timeout=timeout, strace=strace,
                input=stdin, cwd=cwd)
        self.result = r
        problems: list[str] = []
        if r.timed_out:
            problems.append(f"timed out after {timeout:g} s (killed)")
        elif r.status != expected:
            problems.append(f"exit status {_describe_status(r)}, expected {expected}")
        out_text = r.stdout.decode("utf-8", "replace")
        if "stdout" in spec and r.stdout != str(spec["stdout"]).encode():
            problems.append("stdout differs from the expected text:\n"
                            + _diff(str(spec["stdout"]), out_text))
        if "stdout_file" in spec:
            want = self._file("stdout_file")
            if r.stdout != want:
                problems.append(f"stdout differs from {spec['stdout_file']}:\n"
                                + _diff(want.decode("utf-8", "replace"), out_text))
        if "stdout_regex" in spec and not re.search(spec["stdout_regex"], out_text, re.M):
            problems.append(f"stdout does not match /{spec['stdout_regex']}/")
        err_text = r.stderr.decode("utf-8", "replace")
        if "stderr" in spec and r.stderr != str(spec["stderr"]).encode():
            problems.append("stderr differs from the expected text:\n"
                            + _diff(str(spec["stderr"]), err_text))
        if "stderr_regex" in spec and not re.search(spec["stderr_regex"], err_text, re.M):
            problems.append(f"stderr does not match /{spec['stderr_regex']}/")
        if problems:
            raise GuestTestFailure("\n".join(problems))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (GuestTestFailure, ManifestError)):
            return self._report(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def _report(self, problem: str) -> str:
        lines = [f"guest test {self.name}: {problem}",
                 f"  command: {shlex.join(self.command())}  (in {self._dir()})"]
        r = self.result
        if r is not None:
            # In the report itself (not only as captured sections), so the JUnit
            # failure text carries it too: junit_logging is "no" by default.
            lines.append(f"  status:  {_describe_status(r)}")
            lines += _section("guest stdout", r.stdout)
            lines += _section("guest stderr", r.stderr)
            if r.syscalls is not None:
                tail = r.syscalls[-200:]
                lines.append(f"---- syscall trace ({len(r.syscalls)} calls"
                             + (", last 200" if len(r.syscalls) > 200 else "") + ") ----")
                lines += [f"{c.name}({', '.join(c.args)}) = {c.result}" for c in tail]
            elif not self.config.getoption("elfuse_strace"):
                lines.append("(run with --elfuse-strace to see the guest's syscalls)")
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, 0, f"guest {self.name}"


def _describe_status(r) -> str:
    if r.timed_out:
        return "none (timed out)"
    if r.signal:
        return f"{r.status} (killed by {_LINUX_SIGNAL_NAMES.get(r.signal, f'signal {r.signal}')})"
    return str(r.status)


def _section(title: str, data: bytes, limit: int = 8000) -> list[str]:
    text = data.decode("utf-8", "replace")
    if not text:
        return [f"---- {title}: (empty) ----"]
    cut = ""
    if len(text) > limit:
        text, cut = text[-limit:], f" (last {limit} characters)"
    return [f"---- {title}{cut} ----", text.rstrip("\n")]


def _diff(want: str, got: str) -> str:
    import difflib
    d = difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "actual",
                             lineterm="", n=2)
    return "\n".join(list(d)[:60])
