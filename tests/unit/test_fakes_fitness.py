"""Every class of the core layer that keeps state in the table or in Secrets Manager has an in-memory fake that
implements the same port and runs the same contract suite: the fake against tests/unit, the class itself against
tests/integration. A new one without one fails here.

Which classes are stores is read from the source with ``ast`` (``storage_classes``), so nothing is imported to find
them. A store is a class of ``layers/core/firstmile``, outside ``firstmile/platform/``, that

- reaches storage: its own source (bases, annotations, quoted ones included, method bodies and the imports inside
  them) names something imported from an adapter: the table gateway (``firstmile.platform.gateway``), the AWS
  clients (``firstmile.platform.aws``), Secrets Manager (``firstmile.platform.secrets``), the queues
  (``firstmile.platform.queues``), or the SDK itself (``boto3``, ``botocore``, the ``mypy_boto3_*`` types); or it
  subclasses a class of the layer that does; or it is named ``...Store``;
- and has a public method, its own, inherited from the layer, or assumed of a base from outside it (Powertools'
  persistence layer calls its subclass's private methods through its own public ones): something a caller uses,
  which a port can name.

A public module function outside ``firstmile/platform/`` that names an adapter is found the same way
(``storage_functions``): storage kept through plain functions has no port a fake could implement, so it fails until
it becomes a store class (as the probe results did).

Protocols (the ports) and exceptions are not stores, nor are the adapters under ``firstmile/platform/`` themselves:
the stores are built on them, the fakes stand in one level above them, and their own tests run on the emulator.
Reading what each class names, rather than what its module imports, keeps out the models, errors and services that
share a module with a store or with an adapter import, and finds a store however it holds its gateway or client
(taken in its constructor, made in a method, typed only in a quoted annotation). ``NOT_STORES`` lists the classes
and functions that reach storage but keep nothing there, each with its reason; an entry the rule no longer finds
fails too.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tests.contracts
from tests.fakes import FAKES, Registration
from tests.imports import import_bindings, module_name

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core" / "firstmile"

ADAPTERS = (
    "firstmile.platform.gateway",
    "firstmile.platform.aws",
    "firstmile.platform.secrets",
    "firstmile.platform.queues",
    "boto3",
    "botocore",
)
"""The modules whose names a class uses to reach the table, Secrets Manager, a queue or any AWS service (and, by
prefix, ``mypy_boto3_*``: the SDK's types)."""

PLATFORM = "firstmile.platform"

NOT_STORES = {
    "firstmile.privacy.objections.Objections": (
        "reads the objection marker the consent store keeps (its contract covers the writing) and keeps nothing; "
        "tests of flag evaluation pass a plain callable"
    ),
    "firstmile.composition.Container": (
        "the composition root: it makes the table gateway and hands it to the stores it builds; tests set fakes on it"
    ),
    "firstmile.health.store.dependency_checks": (
        "readiness checks: each asks a dependency to answer (a key no item uses, the bucket, a queue) and keeps "
        "nothing; tests of the health logic pass plain callables instead"
    ),
}
"""Classes and functions that reach storage without keeping anything there, by dotted name, with the reason."""

_PROTOCOLS = {"typing.Protocol", "typing_extensions.Protocol"}
_WITHOUT_METHODS = {"object", "typing.Generic"}
"""Bases from outside the layer that give a class no public method."""


@dataclass(frozen=True)
class ClassSource:
    """What ``ast`` shows of one class: its dotted name, its bases (dotted where the module says what they are),
    whether its own source names an adapter, and whether it defines a public method."""

    name: str
    bases: tuple[str, ...]
    names_an_adapter: bool
    public_methods: bool


def storage_classes(package_dir: Path) -> set[str]:
    """The dotted names of the stores of the package at ``package_dir`` (see the module docstring)."""
    classes = {c.name: c for path in sorted(package_dir.rglob("*.py")) for c in _classes_of(path, package_dir.parent)}

    def ancestry(name: str) -> Iterator[ClassSource]:
        seen: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop()
            if current in classes and current not in seen:
                seen.add(current)
                yield classes[current]
                pending.extend(classes[current].bases)

    def bases_of(name: str) -> set[str]:
        return {base for c in ancestry(name) for base in c.bases}

    found: set[str] = set()
    for name in classes:
        lineage = list(ancestry(name))
        bases = bases_of(name)
        if name.startswith(PLATFORM + ".") or bases & _PROTOCOLS or any(_is_exception(b) for b in bases):
            continue
        reaches = any(c.names_an_adapter for c in lineage) or name.rsplit(".", 1)[-1].endswith("Store")
        from_outside = {base for base in bases if base not in classes} - _WITHOUT_METHODS
        if reaches and (from_outside or any(c.public_methods for c in lineage)):
            found.add(name)
    return found


def storage_functions(package_dir: Path) -> set[str]:
    """The dotted names of the public module functions of the package at ``package_dir``, outside its platform,
    whose source names an adapter."""
    found: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(path, package_dir.parent)
        if module.startswith(PLATFORM + "."):
            continue
        tree = ast.parse(path.read_text(), str(path))
        adapters = {name for name, target in import_bindings(tree, module).items() if _is_adapter(target)}
        for node in tree.body:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and not node.name.startswith("_")
                and _names_in(node) & adapters
            ):
                found.add(f"{module}.{node.name}")
    return found


def _classes_of(path: Path, root: Path) -> Iterator[ClassSource]:
    module = module_name(path, root)
    tree = ast.parse(path.read_text(), str(path))
    bindings = import_bindings(tree, module)
    adapters = {name for name, target in bindings.items() if _is_adapter(target)}
    defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}

    def resolve(base: ast.expr) -> str:
        if isinstance(base, ast.Subscript):  # Generic[T], Protocol[T]
            base = base.value
        dotted = ast.unparse(base)
        head, _, rest = dotted.partition(".")
        if head in defined and not rest:
            return f"{module}.{head}"
        if head in bindings:
            return bindings[head] + (f".{rest}" if rest else "")
        return dotted

    def visit(body: list[ast.stmt], prefix: str) -> Iterator[ClassSource]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield ClassSource(
                    name=f"{module}.{prefix}{node.name}",
                    bases=tuple(resolve(b) for b in node.bases),
                    names_an_adapter=bool(_names_in(node) & adapters),
                    public_methods=any(
                        isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("_")
                        for item in node.body
                    ),
                )
                yield from visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, ast.If | ast.Try | ast.With):
                yield from visit([*node.body, *getattr(node, "orelse", [])], prefix)

    yield from visit(tree.body, "")


def _names_in(node: ast.AST) -> set[str]:
    """Every name ``node`` uses, those of quoted annotations included."""
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        annotations: list[ast.expr | None] = []
        if isinstance(child, ast.arg | ast.AnnAssign):
            annotations.append(child.annotation)
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(child.returns)
        for annotation in annotations:
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                try:
                    names |= _names_in(ast.parse(annotation.value, mode="eval"))
                except SyntaxError:  # a quoted annotation that is no expression names nothing
                    continue
    return names


def _is_adapter(target: str) -> bool:
    return target.startswith("mypy_boto3_") or any(target == a or target.startswith(a + ".") for a in ADAPTERS)


def _is_exception(base: str) -> bool:
    builtin = getattr(builtins, base, None)
    return isinstance(builtin, type) and issubclass(builtin, BaseException)


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def contract_suites() -> dict[str, type]:
    """The contract suites by class name (tests/contracts), each with at least one test."""
    suites: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(tests.contracts.__path__, "tests.contracts."):
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and name.endswith("Contract"):
                suites[name] = cls
    return suites


@functools.cache
def runners(folder: str) -> tuple[tuple[str, str, str], ...]:
    """(module path, contract suite, implementation) for each ``Test...`` class in the test modules of ``folder``
    that subclasses a contract suite and names the class it runs it against (read from the source, not imported:
    integration modules need the emulator's fixtures). Read once per run: every registered store asks."""
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
    return tuple(found)


def signature_of(method: Any) -> list[tuple[str, Any, bool]]:
    """What a caller relies on: each parameter's name, kind and whether it may be left out (``self`` aside)."""
    parameters = list(inspect.signature(method).parameters.values())[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in parameters]


def port_methods(port: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(port, inspect.isfunction) if not name.startswith("_")]


def test_every_store_of_the_core_layer_has_a_registered_fake() -> None:
    registered = {_dotted(registration.store) for registration in FAKES}

    missing = sorted(storage_classes(CORE) - registered - set(NOT_STORES))

    assert missing == [], (
        f"classes that keep state in storage without an in-memory fake in tests.fakes.FAKES: {missing}"
    )


def test_no_module_function_keeps_state_in_storage() -> None:
    kept = sorted(storage_functions(CORE) - set(NOT_STORES))

    assert kept == [], f"module functions that reach storage (make them a store with a port and a fake): {kept}"


def test_what_is_not_a_store_is_still_found_by_the_rule_and_not_registered() -> None:
    found = storage_classes(CORE) | storage_functions(CORE)
    registered = {_dotted(registration.store) for registration in FAKES}

    assert sorted(set(NOT_STORES) - found) == [], "NOT_STORES names classes or functions the rule no longer finds"
    assert sorted(set(NOT_STORES) & registered) == []


def test_every_registered_store_is_found_by_the_rule() -> None:
    # The rule finds what the project already knows to be stores: it would find a new one written the same way.
    registered = {_dotted(registration.store) for registration in FAKES}

    assert sorted(registered - storage_classes(CORE)) == []


def test_the_rule_finds_a_store_however_it_reaches_storage(tmp_path: Path) -> None:
    # Given a package with an adapter, and classes that reach it in different ways, or only share a module with it
    package = tmp_path / "firstmile"
    sources = {
        "__init__.py": "",
        "platform/__init__.py": "",
        "platform/gateway.py": "class TableGateway:\n    def get(self) -> None: ...\n",
        "reports/__init__.py": "",
        "reports/store.py": """
from __future__ import annotations
from typing import TYPE_CHECKING, Protocol
from firstmile.platform.gateway import TableGateway
if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

class ReportStore:
    def __init__(self, table: Table | TableGateway) -> None:
        self._table = table
    def get(self) -> None: ...

class Archive:
    def __init__(self, table: "TableGateway") -> None:
        self._table = table
    def keep(self) -> None: ...

class CachedArchive(Archive):
    def __init__(self) -> None: ...

class ReportPort(Protocol):
    def get(self) -> None: ...

class ReportMissingError(LookupError):
    def describe(self) -> str: ...

class Report:
    def total(self) -> int: ...

class _Wiring:
    def __init__(self, table: TableGateway) -> None: ...
""",
        "reports/persistence.py": """
from typing import Generic, TypeVar
from outside.library import BasePersistenceLayer
from firstmile.platform import aws

T = TypeVar("T")

class Records(BasePersistenceLayer):
    def _get_record(self, key: str) -> None:
        aws.dynamodb().get_item(TableName="t", Key={"pk": {"S": key}})

class _Clients(Generic[T]):
    def __init__(self) -> None:
        self._client = aws.dynamodb()
""",
        "reports/vault.py": """
class Vault:
    def read(self) -> str:
        from firstmile.platform import aws
        return aws.secretsmanager().get_secret_value(SecretId="reports")["SecretString"]
""",
        "reports/jobs.py": """
from firstmile.platform.gateway import TableGateway

def record_total(table: TableGateway, total: int) -> None: ...

def _record(table: TableGateway) -> None: ...

def total_of(numbers: list[int]) -> int:
    return sum(numbers)
""",
        "reports/service.py": """
from firstmile.reports.store import ReportPort

class Reports:
    def __init__(self, store: ReportPort) -> None: ...
    def latest(self) -> None: ...
""",
    }
    for relative, source in sources.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(source)

    # When its stores are looked for
    found = storage_classes(package)
    functions = storage_functions(package)

    # Then those that hold a gateway (typed, quoted, inherited) or call a client are stores, a library's base giving
    # them their public methods or not, and nothing else is: not the port, the error, the model sharing their module,
    # the classes without a public method, the service over the port, nor the adapter itself
    assert found == {
        "firstmile.reports.store.ReportStore",
        "firstmile.reports.store.Archive",
        "firstmile.reports.store.CachedArchive",
        "firstmile.reports.vault.Vault",
        "firstmile.reports.persistence.Records",
    }
    # ...and of the functions, only the public one that writes through a gateway
    assert functions == {"firstmile.reports.jobs.record_total"}


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
