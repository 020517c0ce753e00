"""No import cycle between domains: the top-level packages of ``firstmile`` (audit, flags, health, http, identity,
limits, onboarding, platform ...) and the two modules above them, the composition root and the Lambda entry point,
depend on each other in one direction only. An import anywhere counts: module level, inside a function, under
``if TYPE_CHECKING``.

The shared kernel (``clock``, ``config``, ``errors``, ``identifiers``, ``observability``, ``roles``: top-level modules
that every domain may use) is not a node: its few imports of a domain are its own business, not a domain's
dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.imports import imported_modules, module_name

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "firstmile"
ABOVE_THE_DOMAINS = ("composition", "entrypoints")

Edges = dict[str, dict[str, str]]
"""domain -> the domains it imports -> one place that imports it (``path:line``)."""


def domain_imports(package: Path) -> Edges:
    """Which domains each domain of ``package`` imports, with one import site each."""
    domains = {p.parent.name for p in package.glob("*/__init__.py")} | set(ABOVE_THE_DOMAINS)
    edges: Edges = {domain: {} for domain in domains}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        owner = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        if owner not in domains:
            continue
        module = module_name(path, package.parent)
        for line, name in imported_modules(path.read_text(), module, str(relative)):
            parts = name.split(".")
            if parts[0] == package.name and len(parts) > 1 and parts[1] in domains and parts[1] != owner:
                edges[owner].setdefault(parts[1], f"{relative}:{line}")
    return edges


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of nodes that reach each other (strongly connected components of more than one node), each
    sorted, in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_two_domains_import_each_other() -> None:
    # Given which domains each domain of the package imports
    edges = domain_imports(PACKAGE)
    assert {"flags", "onboarding", "identity", "platform", "composition"} <= set(edges), "the package was not found"
    # When the import graph is searched for cycles
    found = cycles(edges)
    # Then there is none (each cycle is shown with the import sites that close it)
    sites = [[f"{a} -> {b} ({edges[a][b]})" for a in group for b in group if b in edges[a]] for group in found]
    assert sites == []


def test_the_detector_finds_a_cycle_through_any_number_of_domains() -> None:
    # Given a graph with a three-domain loop, a two-domain loop, and a chain that loops nowhere
    edges = {
        "flags": ["onboarding"],
        "onboarding": ["identity"],
        "identity": ["flags", "platform"],
        "http": ["audit"],
        "audit": ["http"],
        "platform": [],
        "composition": ["flags", "platform"],
    }
    # When searched, then both loops are found, and only they
    assert cycles(edges) == [["audit", "http"], ["flags", "identity", "onboarding"]]


def test_the_graph_counts_imports_inside_functions(tmp_path: Path) -> None:
    # Given a package whose flags import onboarding at module level and onboarding flags inside a function
    package = tmp_path / "firstmile"
    for domain in ("flags", "onboarding"):
        (package / domain).mkdir(parents=True)
        (package / domain / "__init__.py").write_text("")
    (package / "flags" / "service.py").write_text("from firstmile.onboarding.models import Progress\n")
    (package / "onboarding" / "runtime.py").write_text("def gate():\n    from ..flags import service\n")
    # When its imports are read
    edges = domain_imports(package)
    # Then both directions are edges, and they close a cycle
    assert edges["flags"] == {"onboarding": "flags/service.py:1"}
    assert edges["onboarding"] == {"flags": "onboarding/runtime.py:2"}
    assert cycles(edges) == [["flags", "onboarding"]]
