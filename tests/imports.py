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


def import_bindings(tree: ast.AST, module: str) -> dict[str, str]:
    """The names the imports of ``tree`` (the module ``module``) bind, at any depth, each with the dotted name of
    what it refers to: ``from a.b import c as d`` binds ``d`` to ``a.b.c``, ``import a.b`` binds ``a`` to ``a``,
    ``import a.b as e`` binds ``e`` to ``a.b``."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bound[root] = root
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module)
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    return bound


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
