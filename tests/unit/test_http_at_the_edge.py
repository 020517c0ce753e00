"""HTTP only at the edge: no module of ``firstmile`` outside ``firstmile/http/`` and ``firstmile/entrypoints.py``
imports the HTTP package, so domains, the platform and consumers speak in domain errors, never in problems."""

from __future__ import annotations

from pathlib import Path

from tests.imports import imported_modules, module_name

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "firstmile"
HTTP_PACKAGE = "firstmile.http"


def http_imports(source: str, module: str, filename: str = "<source>") -> list[str]:
    """Every import of ``firstmile.http`` in ``source`` (the module ``module``), at any depth: module level,
    inside functions, under ``if TYPE_CHECKING``, absolute or relative."""
    lines = {
        line
        for line, name in imported_modules(source, module, filename)
        if name == HTTP_PACKAGE or name.startswith(HTTP_PACKAGE + ".")
    }
    return [f"{filename}:{line}" for line in sorted(lines)]


def _at_the_edge(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] == "http" or relative == Path("entrypoints.py")


def _module_name(path: Path) -> str:
    return module_name(path, PACKAGE.parent)


def test_no_module_behind_the_edge_imports_the_http_package() -> None:
    # Given every module of the package that is not the HTTP edge
    modules = [p for p in PACKAGE.rglob("*.py") if not _at_the_edge(p)]
    assert len(modules) > 20, "the package was not found"
    # When their imports are read
    found = [hit for p in modules for hit in http_imports(p.read_text(), _module_name(p), str(p.relative_to(PACKAGE)))]
    # Then none of them reaches into firstmile.http
    assert found == []


def test_the_detector_finds_each_form_of_import() -> None:
    source = (
        "from firstmile.http import problems as p\n"
        "import firstmile.http.pagination\n"
        "def f():\n"
        "    from firstmile.http.headers import header\n"
        "from firstmile import http\n"
        "from ..http import problems\n"
        "from . import logic\n"
        "from firstmile.httpx import nothing\n"
        "import firstmile.errors\n"
    )
    assert http_imports(source, "firstmile.onboarding.service") == [
        "<source>:1",
        "<source>:2",
        "<source>:4",
        "<source>:5",
        "<source>:6",
    ]
