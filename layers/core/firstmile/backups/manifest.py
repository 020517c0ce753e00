"""Item counts and checksums per item kind, the same whatever order a table is read in."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from firstmile.backups.models import KindManifest, KindMismatch, Manifest

_MODULUS = 1 << 64
NO_KIND = "(none)"


def digest(item: dict[str, Any]) -> int:
    """An item's digest: SHA-256 of its canonical wire form (DynamoDB's typed JSON, keys sorted, set members
    sorted, since a set's order is not kept), its first 8 bytes as a number."""
    text = json.dumps(_canonical(item), sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (sorted(v) if k in ("SS", "NS", "BS") and isinstance(v, list) else _canonical(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def kind_of(item: dict[str, Any]) -> str:
    kind = item.get("kind")
    return str(kind.get("S")) if isinstance(kind, dict) and "S" in kind else NO_KIND


def add(manifest: Manifest, items: list[dict[str, Any]]) -> Manifest:
    """The manifest with ``items`` (as the low-level client reads them) counted in."""
    kinds = {k: KindManifest(items=v.items, checksum=v.checksum) for k, v in manifest.kinds.items()}
    for item in items:
        kind = kind_of(item)
        kept = kinds.get(kind, KindManifest())
        total = (int(kept.checksum, 16) + digest(item)) % _MODULUS
        kinds[kind] = KindManifest(items=kept.items + 1, checksum=format(total, "x"))
    return Manifest(items=manifest.items + len(items), kinds=dict(sorted(kinds.items())), complete=manifest.complete)


def compare(restored: Manifest, source: Manifest) -> list[KindMismatch]:
    """Every kind whose count or checksum differs between the backup's copy and the source as of the backup."""
    mismatches = []
    for kind in sorted(set(restored.kinds) | set(source.kinds)):
        mine, theirs = restored.kinds.get(kind, KindManifest()), source.kinds.get(kind, KindManifest())
        if mine != theirs:
            mismatches.append(
                KindMismatch(
                    kind=kind,
                    restored_items=mine.items,
                    source_items=theirs.items,
                    checksums_equal=mine.checksum == theirs.checksum,
                )
            )
    return mismatches
