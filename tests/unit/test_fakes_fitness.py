"""Every store of the core layer has an in-memory fake that implements the same port and runs the same contract
suite: the fake against tests/unit, the store against tests/integration. A new store without one fails here."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import firstmile
import tests.contracts
from tests.fakes import FAKES, Registration

ROOT = Path(__file__).resolve().parents[2]


def store_classes() -> set[type]:
    """Every class of the core layer named ``...Store`` (protocols aside): the code that keeps state somewhere."""
    found: set[type] = set()
    for module_info in pkgutil.walk_packages(firstmile.__path__, "firstmile."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and cls.__name__.endswith("Store") and not _is_protocol(cls):
                found.add(cls)
    return found


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def contract_suites() -> dict[str, type]:
    """The contract suites by class name (tests/contracts), each with at least one test."""
    suites: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(tests.contracts.__path__, "tests.contracts."):
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and name.endswith("Contract"):
                suites[name] = cls
    return suites


def runners(folder: str) -> list[tuple[str, str, str]]:
    """(module path, contract suite, implementation) for each ``Test...`` class in the test modules of ``folder``
    that subclasses a contract suite and names the class it runs it against (read from the source, not imported:
    integration modules need the emulator's fixtures)."""
    found = []
    suites = set(contract_suites())
    for path in sorted((ROOT / folder).rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or not node.name.startswith("Test"):
                continue
            bases = [b.id for b in node.bases if isinstance(b, ast.Name) and b.id in suites]
            implementation = next(
                (
                    statement.value.id
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "implementation" for t in statement.targets)
                    and isinstance(statement.value, ast.Name)
                ),
                None,
            )
            for base in bases:
                found.append((str(path.relative_to(ROOT)), base, implementation or ""))
    return found


def signature_of(method: Any) -> list[tuple[str, Any, bool]]:
    """What a caller relies on: each parameter's name, kind and whether it may be left out (``self`` aside)."""
    parameters = list(inspect.signature(method).parameters.values())[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in parameters]


def port_methods(port: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(port, inspect.isfunction) if not name.startswith("_")]


def test_every_store_of_the_core_layer_has_a_registered_fake() -> None:
    registered = {registration.store for registration in FAKES}

    missing = sorted(cls.__qualname__ for cls in store_classes() - registered)

    assert missing == [], f"stores without an in-memory fake in tests.fakes.FAKES: {missing}"


@pytest.mark.parametrize("registration", FAKES, ids=lambda r: r.store.__name__)
def test_the_fake_and_the_store_implement_the_port_alike(registration: Registration) -> None:
    methods = port_methods(registration.port)
    assert methods, f"{registration.port.__name__} names no method"
    for name in methods:
        expected = signature_of(getattr(registration.port, name))
        for implementation in (registration.store, registration.fake):
            assert hasattr(implementation, name), f"{implementation.__name__} lacks {name}"
            assert signature_of(getattr(implementation, name)) == expected, f"{implementation.__name__}.{name}"


@pytest.mark.parametrize("registration", FAKES, ids=lambda r: r.store.__name__)
def test_the_fake_and_the_store_run_the_same_contract_suite(registration: Registration) -> None:
    suites = contract_suites()
    on_fake = {suite for path, suite, ran in runners("tests/unit") if ran == registration.fake.__name__}
    on_store = {suite for path, suite, ran in runners("tests/integration") if ran == registration.store.__name__}

    shared = on_fake & on_store

    assert shared, (
        f"no contract suite runs against both {registration.fake.__name__} (tests/unit) "
        f"and {registration.store.__name__} (tests/integration)"
    )
    for suite in shared:
        assert any(name.startswith("test_") for name in dir(suites[suite])), f"{suite} has no tests"
