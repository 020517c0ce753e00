"""Every kind of item written anywhere in the core layer is declared in the privacy registry, and the registry
declares nothing that is never written; every bucket's objects are declared with the bucket's lifecycle.

What counts as writing an item is read from the source with ``ast``, so nothing is imported and no store has to
run. A table item is a dict literal with a ``"pk"`` key or a ``**`` spread (the stores build keys with helpers and
spread them) and a ``"kind"``; an update sets its kind through the placeholder ``":kind"``. A kind given as a name is
looked up among the layer's module-level string constants. A dict with ``"pk"`` and attributes but no ``"kind"`` is
an item that would escape the registry, so it fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from firstmile.platform.resources import BUCKETS
from firstmile.privacy.registry import REGISTRY, Category, Erasure, LegalBasis, Subjects

CORE = Path(__file__).resolve().parents[3] / "layers" / "core" / "firstmile"
# A dict with only these keys is a key (for a read or a delete), not an item.
KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk"})


@dataclass(frozen=True)
class Write:
    kind: str
    where: str


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(CORE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _constants(modules: list[tuple[Path, ast.Module]]) -> dict[str, str]:
    """Module-level ``NAME = "text"`` of every module (names are unique enough across the layer for kinds)."""
    found: dict[str, str] = {}
    for _, tree in modules:
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def _text(node: ast.expr, constants: dict[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return f"<not a constant: {ast.unparse(node)}>"


def scan() -> tuple[list[Write], list[str]]:
    """The kinds written (with where), and the items written without a kind."""
    modules = list(_modules())
    constants = _constants(modules)
    writes: list[Write] = []
    unkinded: list[str] = []
    for path, tree in modules:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            names = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            spread = any(k is None for k in node.keys)
            where = f"{path.relative_to(CORE.parent)}:{node.lineno}"
            for key, value in zip(node.keys, node.values, strict=True):
                if not isinstance(key, ast.Constant):
                    continue
                if key.value == ":kind" or (key.value == "kind" and ("pk" in names or spread)):
                    writes.append(Write(_text(value, constants), where))
            if "pk" in names and "kind" not in names and not names <= KEY_ATTRIBUTES:
                unkinded.append(where)
    return writes, unkinded


def test_every_kind_written_is_declared_and_every_declaration_is_written() -> None:
    # Given the kinds the core layer writes, read from its source
    writes, unkinded = scan()
    written = {w.kind for w in writes}

    # Then each is declared in the registry, and the registry declares no kind nothing writes
    declared = {item.kind for item in REGISTRY if item.store == "table"}
    undeclared = sorted(f"{w.kind} ({w.where})" for w in writes if w.kind not in declared)
    assert undeclared == [], "item kinds written without a privacy declaration in firstmile.privacy.registry"
    assert sorted(declared - written) == [], "declared kinds that nothing writes"
    # ...and every item written names its kind
    assert unkinded == [], "items written without a kind"
    assert len(written) >= 35


def test_every_bucket_is_declared_with_its_lifecycle() -> None:
    # Every bucket of the deployment keeps objects the record must show, kept as long as its lifecycle says
    declared = {item.store: item for item in REGISTRY if item.store.startswith("s3:")}
    assert set(declared) == {f"s3:{bucket.logical_name}" for bucket in BUCKETS}
    for bucket in BUCKETS:
        assert declared[f"s3:{bucket.logical_name}"].retention_days == bucket.expire_after_days, bucket.logical_name
    assert all(item.store in ("table", "sqs") or item.store in declared for item in REGISTRY)


def test_the_scan_finds_what_the_stores_write() -> None:
    # A control: kinds written through a spread key helper, a constant and an update placeholder are all found
    writes, _ = scan()
    where = {w.kind: w.where for w in writes}
    assert where["alert_rule"].startswith("firstmile/analytics/alert_store.py")  # {**_rule_key(...), "kind": ...}
    assert where["onboarding_event"].startswith("firstmile/onboarding/store.py")  # "kind": EVENT_KIND
    assert where["funnel_counter"].startswith("firstmile/analytics/store.py")  # ":kind": "funnel_counter"
    assert "page" not in where  # a queue message's kind, not an item


def test_declarations_are_consistent() -> None:
    kinds = [item.kind for item in REGISTRY]
    assert len(kinds) == len(set(kinds))
    for item in REGISTRY:
        # Nothing personal without a legal basis; no legal basis claimed for what names nobody
        assert (Subjects.NOBODY in item.subjects) == (item.legal_basis is LegalBasis.NOT_PERSONAL), item.kind
        if not item.personal:
            assert item.erasure is Erasure.NOT_PERSONAL, item.kind
        # A user's own data says how it is erased
        if Subjects.END_USERS in item.subjects:
            assert item.erasure is not Erasure.NOT_PERSONAL, item.kind
        assert item.categories and item.purpose and item.retention, item.kind
        if item.erasure is Erasure.EXPIRES:
            assert item.retention_days is not None, item.kind
    assert any(Category.TARGETING in item.categories for item in REGISTRY)
