"""pytest plugin: guest test binaries and `#!` scripts as ordinary pytest items.

Registered through the `pytest11` entry point, so installing elfuse-py makes
it available to every pytest run; it collects nothing unless asked to, so
another project's plain `pytest DIR` is unchanged.  It is asked by

- `--elfuse-dir DIR` (repeatable; DIR is collected even when not given as a
  path), which is what `elfuse-py-check DIR` passes;
- the `elfuse_dirs` ini option (paths relative to the ini file), collected
  along with the testpaths when pytest is run without paths;

and acts on those directories and the ones below them.  There every
executable AArch64 ELF file is a test, and so is every executable `#!`
script whose interpreter chain ends in an AArch64 ELF (looked up in the
sysroot when one is given), so a host `#!/bin/sh` helper is not; and so is
every entry of the directory's manifest, `elfuse-tests.toml` (or
`elfuse-tests.json`), whatever the file is.  A manifest that cannot be read
is one failed item naming the problem, and the rest of the run goes on.
Named cases (`program = ...`) are items of their own: `DIR/NAME::NAME`, so
their JUnit classname is `DIR.NAME`, like a file's.  A test runs as
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


    parser.addini("elfuse_dirs", type="paths", default=[],
                  help="directories of guest binaries and #! scripts to collect as tests")


def pytest_configure(config: pytest.Config) -> None:
    given = [Path(d).resolve() for d in config.getoption("elfuse_dir")]
    from_ini = [Path(d).resolve() for d in config.getini("elfuse_dirs")]
    config.stash[_dirs_key] = {"marked": given + from_ini, "manifests": {}}
    from_args = config.args_source == pytest.Config.ArgsSource.ARGS
    have = {Path(a.split("::")[0]).resolve() for a in config.args} if from_args else set()
    if given:
        # `pytest --elfuse-dir DIR` alone collects DIR (and not the testpaths).
        extra = [str(d) for d in given if d not in have]
        if from_args:
            config.args.extend(extra)
        else:
            config.args[:] = extra
    elif from_ini and not from_args:
        # A bare `pytest` collects the ini's guest directories with its testpaths.
        config.args.extend(str(d) for d in from_ini
                           if not any(_under(d, [Path(a).resolve()]) for a in config.args))
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
    """Whether the #! script's interpreter chain ends in an AArch64 ELF (a guest script)."""
    from elfuse_py.loader.shebang import ShebangError, resolve_program

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


def _sysroot_for(config: pytest.Config, d: Path, defaults: dict) -> str | None:
    """The guest root a directory's tests run with (the manifest's defaults, else the option)."""
    if defaults.get("sysroot"):
        return str(d / str(defaults["sysroot"]))
    return config.getoption("elfuse_sysroot")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    config = parent.config
    if _dirs_key not in config.stash:
        return None
    d = file_path.parent.resolve()
    if not _under(d, config.stash[_dirs_key]["marked"]):
        return None                  # not asked for: someone else's directory
    name = file_path.name
    if name in MANIFEST_NAMES:
        if _manifest_path(d) != file_path:
            return None              # elfuse-tests.json next to a .toml: the .toml counts
        return ManifestFile.from_parent(parent, path=file_path)
    if name.startswith("."):
        return None
    try:
        manifest = _manifest(config, d)
    except ManifestError:
        return None                  # the manifest's own item reports it; nothing runs here
    listed = name in manifest[2] and "program" not in manifest[2][name]
    if not listed:
        try:
            st = file_path.stat()
        except OSError:
            return None
        if not (st.st_mode & 0o111) or not file_path.is_file():
            return None
        head = _head(file_path)
        if head[:2] == b"#!":
            if not _script_reaches_aarch64(file_path, _sysroot_for(config, d, manifest[1])):
                return None          # a host script (#!/bin/sh helper), not a guest test
        elif not _is_aarch64_elf(head):
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
    """The manifest: its errors as failed items, and the named cases (`program = ...`)."""

    def collect(self):
        d = self.path.parent.resolve()
        try:
            _mp, defaults, tests = _manifest(self.config, d)
        except ManifestError as e:
            yield ManifestProblem.from_parent(self, name=self.path.name, problem=str(e))
            return
        base = self.nodeid.rpartition("/")[0]
        for name, spec in tests.items():
            # A named case's node id is DIR/NAME::NAME, as a file's would be, so
            # JUnit gives it its own classname (DIR.NAME), not the manifest's.
            nodeid = f"{base}/{name}::{name}" if base else f"{name}::{name}"
            if "program" in spec:
                yield GuestItem.from_parent(self, name=name, spec=_merge(defaults, spec),
                                            program=spec["program"], nodeid=nodeid)
            elif not (d / name).exists():
                yield ManifestProblem.from_parent(
                    self, name=name, nodeid=nodeid,
                    problem=f"{self.path}: [{name}] names no file in {d} "
                            f"(add `program = ...` for a named case)")


class ManifestProblem(pytest.Item):
    """A manifest that cannot be used: one failed item saying why."""

    def __init__(self, *, problem: str, **kw) -> None:
        super().__init__(**kw)
        self.problem = problem

    def runtest(self) -> None:
        raise ManifestError(self.problem)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ManifestError):
            return f"manifest error: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"manifest {self.name}"


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
