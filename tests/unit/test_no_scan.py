"""No DynamoDB Scan in runtime code: every access pattern is a GetItem or a Query on a key."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIRS = ("functions", "layers")
SCAN_NAMES = {"scan", "Scan"}


def scan_calls(source: str, filename: str = "<source>") -> list[str]:
    """Places in ``source`` that call Scan: ``x.scan(...)``, ``paginator("scan")``, ``"Scan"`` as an action."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SCAN_NAMES:
                found.append(f"{filename}:{node.lineno} calls .{func.attr}()")
            paginates = isinstance(func, ast.Attribute) and func.attr == "get_paginator"
            if paginates and any(isinstance(a, ast.Constant) and a.value in SCAN_NAMES for a in node.args):
                found.append(f"{filename}:{node.lineno} paginates a scan")
        if isinstance(node, ast.Constant) and node.value in ("Scan", "dynamodb:Scan"):
            found.append(f"{filename}:{node.lineno} names the Scan action")
    return found


ALLOWED = {
    "layers/core/firstmile/backups/control.py": "a restore drill reads its two scratch copies whole (decision 0104)",
}
"""The only places that may scan, each with its reason; IAM allows their Scan on those tables alone."""


def test_runtime_code_never_scans() -> None:
    sources = [p for d in RUNTIME_DIRS for p in (ROOT / d).rglob("*.py")]
    assert sources, "no runtime sources found"
    found = [
        hit
        for path in sources
        if str(path.relative_to(ROOT)) not in ALLOWED
        for hit in scan_calls(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == []
    allowed = [hit for name in ALLOWED for hit in scan_calls((ROOT / name).read_text(), name)]
    assert len(allowed) == len(ALLOWED), "an allowed place no longer scans: take it off the list"


def test_the_detector_finds_each_form_of_scan() -> None:
    source = (
        "table.scan(Limit=1)\n"
        "client.get_paginator('scan')\n"
        "client.Scan()\n"
        "policy = {'Action': 'dynamodb:Scan'}\n"
        "table.query(KeyConditionExpression='x')\n"
    )
    assert [hit.split(" ", 1)[0] for hit in scan_calls(source)] == [
        "<source>:1",
        "<source>:2",
        "<source>:3",
        "<source>:4",
    ]
