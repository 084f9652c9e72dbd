"""Which packages a root needs: `Depends` and `Pre-Depends`, followed transitively.

The rules (docs/sysroot.md lists them for users):

* `Pre-Depends` counts as `Depends`; `Recommends`/`Suggests` are not followed.
* Version constraints are ignored: the index holds one version of a package
  (the highest is taken where it lists several), and that one is used.
* Alternatives `a | b`: an alternative already chosen wins, else the first one
  the index can satisfy.
* A virtual name (one only `Provides:` supplies) is satisfied by a provider
  already chosen, else by the provider of highest `Priority`, then by name.
* `:any` and other architecture qualifiers are dropped (all packages come
  from one architecture's index, `Architecture: all` ones included).
* Cycles are fine: a package is visited once.
* With `essential=True` every `Essential: yes` package is added first, as
  debootstrap's set of packages that others may use without declaring it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from elfuse_py.sysroot.index import PRIORITY_ORDER, Index, Package, split_relations


class ResolveError(Exception):
    """A requested package or a needed dependency is not in the index."""


@dataclass
class Resolution:
    packages: list[Package] = field(default_factory=list)     # in the order they were chosen
    why: dict[str, str] = field(default_factory=dict)         # name -> who pulled it in


def _provider(index: Index, name: str, chosen: dict[str, Package]) -> str | None:
    """The real package that satisfies `name`, preferring one already chosen."""
    if name in index:
        return name
    providers = index.providers.get(name, [])
    for p in providers:
        if p in chosen:
            return p
    if not providers:
        return None
    return min(providers, key=lambda p: (PRIORITY_ORDER.get(index.by_name[p].priority, 9), p))


def resolve(index: Index, wanted: list[str], essential: bool = False) -> Resolution:
    """The closure of `wanted` under Depends/Pre-Depends (see the module docstring)."""
    res = Resolution()
    chosen: dict[str, Package] = {}
    queue: deque[tuple[str, str]] = deque()

    def choose(name: str, why: str) -> None:
        if name not in chosen:
            chosen[name] = index.by_name[name]
            res.packages.append(chosen[name])
            res.why[name] = why
            queue.append((name, why))

    roots = (index.essential() if essential else []) + list(wanted)
    for req in roots:
        real = _provider(index, req.split(":")[0], chosen)
        if real is None:
            raise ResolveError(f"package {req!r} is not in the index")
        choose(real, "requested" if req in wanted else "essential")

    while queue:
        name, _ = queue.popleft()
        pkg = chosen[name]
        for group in split_relations(pkg.pre_depends) + split_relations(pkg.depends):
            pick = next((p for alt in group if (p := _provider(index, alt, chosen)) in chosen), None)
            if pick is None:
                pick = next((p for alt in group if (p := _provider(index, alt, chosen))), None)
            if pick is None:
                raise ResolveError(f"{name} depends on {' | '.join(group)}, "
                                   "which the index does not have")
            choose(pick, name)
    return res
