"""The core layer: arm64 wheels for the Lambda Python, the core package, and a cache that avoids rebuilds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from infra import layer
from infra.layer import LAMBDA_PYTHON_VERSION, build_core_layer
from infra.settings import REPO_ROOT


@pytest.fixture(scope="module")
def built() -> layer.LayerBuild:
    return build_core_layer()


def test_the_layer_holds_the_core_package_and_arm64_wheels_for_the_lambda_python(built: layer.LayerBuild) -> None:
    site = built.path / "python"
    assert (site / "firstmile" / "config.py").is_file()
    assert not list(site.rglob("__pycache__"))
    extensions = [p.name for p in site.rglob("*.so")]
    tag = f"cpython-{LAMBDA_PYTHON_VERSION.replace('.', '')}-aarch64-linux-gnu"
    assert any(tag in name for name in extensions), "pydantic-core is not built for arm64 / the Lambda Python"
    assert not [n for n in extensions if "x86_64" in n]


def test_the_layer_has_every_runtime_dependency_of_the_project(built: layer.LayerBuild) -> None:
    # Given the project's runtime dependencies, by name
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["dependencies"]
    wanted = {re.split(r"[\[=<>~! ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in declared}

    # Then each one is installed in the layer
    installed = {p.name.split("-")[0].lower().replace("_", "-") for p in (built.path / "python").glob("*.dist-info")}
    assert wanted and wanted <= installed


def test_a_second_build_reuses_the_cache(built: layer.LayerBuild, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a build already made for this lock file and these sources
    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached layer was rebuilt")

    monkeypatch.setattr(layer, "_run", no_subprocess)

    # When it is asked for again, then the same directory comes back without running pip
    assert build_core_layer() == built


def test_a_changed_core_source_gets_a_new_key_but_keeps_the_installed_dependencies(
    built: layer.LayerBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a copy of the core package with one changed file, built into a scratch cache that already holds
    # the dependencies (linked from the real cache)
    core = tmp_path / "firstmile"
    (core).mkdir()
    (core / "__init__.py").write_text('"""changed"""\n')
    cache = tmp_path / "cache"
    cache.mkdir()
    deps = next(p for p in built.path.parent.iterdir() if p.name.startswith("deps-"))
    (cache / deps.name).symlink_to(deps)
    monkeypatch.setattr(layer, "_run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("pip ran")))

    # When the layer is built, then it has its own key and the changed source, without reinstalling
    changed = build_core_layer(core_package=core, build_dir=cache)
    assert changed.key != built.key
    assert (changed.path / "python" / "firstmile" / "__init__.py").read_text() == '"""changed"""\n'
