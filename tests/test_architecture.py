"""The house of imports: no circle of files, no import from a lower floor to a higher one.

Floors, from the ground up (docs/architecture.md draws them):

  0 host     elfuse_py/host/      what differs between macOS and Linux
  1 runtime  elfuse_py/runtime/   CPU, memory, process, fds, threads, signals, /proc
  2 loader   loader/              ELF, stack/auxv, #! (imports no floor of ours)
  2 syscalls syscalls/            the table and its handlers (may use the loader)
  3 top      elfuse_py/*.py       CLI, API, harness, pytest plugin, boot (the composition root)

Every import counts, including those inside functions, and `from pkg import
mod` counts as an import of pkg/mod.py.  The implicit import of a parent
package's __init__ does not: those files hold no code that imports.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# directory -> the package it is installed as (syscalls/ and loader/ live inside elfuse_py)
PACKAGES = {"elfuse_py": "elfuse_py", "syscalls": "elfuse_py.syscalls", "loader": "elfuse_py.loader"}
FLOORS = {"host": 0, "runtime": 1, "loader": 2, "syscalls": 2, "top": 3}
# Who may import whom besides the floor rule: the loader is handed the memory
# it writes into and imports nothing of ours; loader and syscalls are siblings
# and only syscalls may use the loader.
ALLOWED_BETWEEN_FLOORS = {"loader": {"loader"}}
FORBIDDEN_SIDEWAYS = {("loader", "syscalls")}
MAX_SYSCALLS_FILE_LINES = 700


def floor_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("host", "runtime", "syscalls", "loader"):
        return parts[1]
    return "top"


def module_files() -> dict[str, Path]:
    out = {}
    for directory, package in PACKAGES.items():
        for path in (ROOT / directory).rglob("*.py"):
            rel = path.relative_to(ROOT / directory).with_suffix("")
            if "_ffi" in rel.parts:          # generated cffi modules
                continue
            name = ".".join((package, *rel.parts))
            out[name.removesuffix(".__init__")] = path
    return out


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found = set()

    def nearest(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit = nearest(alias.name)
                if hit:
                    found.add(hit)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                if not is_pkg:
                    parts = parts[:-1]
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                hit = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else nearest(base)
                if hit:
                    found.add(hit)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def bad_arrows(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for src, targets in graph.items():
        fs = floor_of(src)
        for dst in targets:
            fd = floor_of(dst)
            if fs in ALLOWED_BETWEEN_FLOORS and fd not in ALLOWED_BETWEEN_FLOORS[fs]:
                out.append(f"{src} ({fs}) -> {dst} ({fd}): the loader is handed what it uses")
            elif FLOORS[fd] > FLOORS[fs] or (fs, fd) in FORBIDDEN_SIDEWAYS:
                out.append(f"{src} ({fs}) -> {dst} ({fd}): upward")
    return sorted(out)


def test_floors_cover_every_module():
    assert {floor_of(m) for m in import_graph()} <= set(FLOORS)


def test_no_circle_of_files():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_import_runs_upward():
    found = bad_arrows(import_graph())
    assert not found, "imports against the floors:\n" + "\n".join(found)


def test_the_checks_catch_what_they_look_for():
    # A circle and an upward arrow planted in a made-up graph are found.
    graph = {"elfuse_py.runtime.a": {"elfuse_py.syscalls.b"},
             "elfuse_py.syscalls.b": {"elfuse_py.runtime.a"},
             "elfuse_py.loader.c": {"elfuse_py.runtime.a"}}
    assert cycles(graph) == [["elfuse_py.runtime.a", "elfuse_py.syscalls.b"]]
    assert sorted(a.split(" ")[0] for a in bad_arrows(graph)) == ["elfuse_py.loader.c",
                                                                  "elfuse_py.runtime.a"]


def test_only_the_host_floor_decides_by_platform():
    offenders = []
    for module, path in module_files().items():
        if floor_of(module) == "host":
            continue
        text = path.read_text()
        for needle in ("sys.platform", "ELFUSE_HOST_COMPAT", "platform.system(", "os.uname().sysname"):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert not offenders, "platform decided outside elfuse_py/host:\n" + "\n".join(offenders)


def test_no_long_syscalls_files():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "syscalls").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_SYSCALLS_FILE_LINES}
    assert not long, f"syscalls/ files over {MAX_SYSCALLS_FILE_LINES} lines: {long}"


def test_nothing_imports_the_bare_top_level_names():
    """syscalls/ and loader/ are installed as elfuse_py.syscalls and elfuse_py.loader: a
    bare `import syscalls` would load a second copy in a source tree (and nothing at all,
    or a guest directory's own syscalls.py, once installed)."""
    # At a line's start or inside a code string (a python -c program).
    bare = re.compile(r"(?:^|[\s;\"'(])(?:from|import)\s+(?:syscalls|loader)\b", re.M)
    offenders = []
    for top in ("elfuse_py", "syscalls", "loader", "tests", "docs", "bench", "guest-bins/scripts"):
        for path in (ROOT / top).rglob("*.py"):
            if ".cache" in path.parts:                # Debian roots the tests unpack
                continue
            for m in bare.finditer(path.read_text()):
                line = m.string[m.string.rfind("\n", 0, m.start()) + 1:m.end()]
                if "from ." not in line and "`" not in line:   # relative imports, docstrings
                    offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not offenders, f"bare syscalls/loader imports: {offenders}"

