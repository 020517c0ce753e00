"""Reading a module's imports with ``ast``, for the fitness tests that guard the package's shape."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(source: str, module: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Every module ``source`` (the module ``module``) may import, with its line, at any depth: module level,
    inside functions, under ``if TYPE_CHECKING``, absolute or relative. ``from a import b`` yields ``a`` and
    ``a.b`` (``b`` may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return sorted(found)


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module at ``path`` under the import root ``root``."""
    relative = path.relative_to(root).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])
