"""Builds the core Lambda layer for arm64 without Docker: the locked runtime dependencies plus ``firstmile``.

The dependencies are exported from ``uv.lock`` (``[project].dependencies`` only, with their hashes, so pip
verifies every wheel against the lock) and installed as manylinux aarch64 wheels for the Lambda Python
version. Results are cached under ``build/layer``:

- ``deps-<hash of uv.lock and the recipe>``: the pip install, the slow part, redone only when the lock changes;
- ``layer-<hash of that and the core sources>``: the deps hard-linked plus a fresh copy of ``firstmile``.

A lock file serialises concurrent synths (parallel test workers) and every directory appears atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess  # noqa: S404 - runs the project's own pinned uv and pip with fixed arguments
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.settings import REPO_ROOT

LAMBDA_PYTHON_VERSION = "3.14"
# Lambda's Python 3.14 runs on Amazon Linux 2023 (glibc 2.34): wheels built for any older manylinux work.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
# Bump when the recipe below changes in a way the hashed inputs would not show.
RECIPE_VERSION = "1"
CORE_PACKAGE = REPO_ROOT / "layers" / "core" / "firstmile"
BUILD_DIR = REPO_ROOT / "build" / "layer"


class LayerBuildError(RuntimeError):
    """The layer could not be built; the message says which step failed and its output."""


@dataclass(frozen=True)
class LayerBuild:
    """A built layer: ``path`` holds ``python/`` as Lambda expects; ``key`` changes when its content does."""

    path: Path
    key: str


def build_core_layer(
    lock_file: Path = REPO_ROOT / "uv.lock",
    core_package: Path = CORE_PACKAGE,
    build_dir: Path = BUILD_DIR,
) -> LayerBuild:
    """The core layer for the current lock file and sources, built now or taken from the cache."""
    build_dir.mkdir(parents=True, exist_ok=True)
    deps_key = _digest([RECIPE_VERSION, LAMBDA_PYTHON_VERSION, *PLATFORMS], [lock_file])
    layer_key = _digest([deps_key], sorted(_source_files(core_package)), relative_to=core_package)
    layer_dir = build_dir / f"layer-{layer_key}"
    with _exclusive(build_dir / ".lock"):
        if not layer_dir.is_dir():
            deps_dir = build_dir / f"deps-{deps_key}"
            if not deps_dir.is_dir():
                _atomically(deps_dir, lambda target: _install_dependencies(lock_file, target))
            _atomically(layer_dir, lambda target: _assemble(deps_dir, core_package, target))
            _forget_older(build_dir, keep={layer_dir.name, deps_dir.name})
    return LayerBuild(path=layer_dir, key=layer_key)


def _install_dependencies(lock_file: Path, target: Path) -> None:
    requirements = target.parent / f"{target.name}.requirements.txt"
    _run(
        [
            str(_uv()),
            "export",
            "--project",
            str(lock_file.parent),
            "--locked",
            "--no-dev",
            "--no-emit-project",
            "--format",
            "requirements-txt",
            "--output-file",
            str(requirements),
        ],  # fmt: skip
        "export the runtime dependencies from uv.lock",
    )
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    _run(
        [
            *_pip(),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON_VERSION,
            *platforms,
            "--target",
            str(target / "python"),
            "--require-hashes",
            "-r",
            str(requirements),
        ],  # fmt: skip
        "install the layer's wheels for arm64",
    )
    requirements.unlink()
    # Console scripts are useless in a layer and would only change the asset.
    shutil.rmtree(target / "python" / "bin", ignore_errors=True)


def _assemble(deps_dir: Path, core_package: Path, target: Path) -> None:
    # Hard links: the dependencies are never modified in place, and a copy would cost ~75 MB per build.
    shutil.copytree(deps_dir, target, copy_function=_link_or_copy)
    shutil.copytree(
        core_package,
        target / "python" / core_package.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


def _source_files(package: Path) -> list[Path]:
    return [
        path
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]


def _digest(parts: list[str], files: list[Path], relative_to: Path | None = None) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    for file in files:
        name = file.relative_to(relative_to) if relative_to else Path(file.name)
        digest.update(str(name).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _atomically(final: Path, build: Callable[[Path], None]) -> None:
    """Run ``build(tmp)`` in a scratch directory next to ``final`` and rename it into place."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        work = scratch / "out"
        build(work)
        work.rename(final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _exclusive:
    """An exclusive advisory lock on ``path`` for the duration of a ``with`` block."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: int | None = None

    def __enter__(self) -> None:
        self._file = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        assert self._file is not None  # noqa: S101 - set in __enter__
        fcntl.flock(self._file, fcntl.LOCK_UN)
        os.close(self._file)


def _forget_older(build_dir: Path, keep: set[str]) -> None:
    for path in build_dir.iterdir():
        if path.is_dir() and path.name.startswith(("deps-", "layer-")) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def _link_or_copy(source: str, destination: str) -> str:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination


def _uv() -> Path:
    bundled = REPO_ROOT / ".tools" / "bin" / "uv"
    found = bundled if bundled.exists() else shutil.which("uv")
    if not found:
        raise LayerBuildError("uv not found: run `make install` first")
    return Path(found)


def _pip() -> list[str]:
    """pip from the bootstrap environment that `make install` creates, else from this interpreter."""
    bootstrap = REPO_ROOT / ".tools" / "bin" / "python"
    if bootstrap.exists():
        return [str(bootstrap), "-m", "pip"]
    return [sys.executable, "-m", "pip"]


def _run(command: list[str], step: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(f"could not {step}:\n$ {' '.join(command)}\n{result.stdout}{result.stderr}")
    return result
