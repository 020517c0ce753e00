"""Only the platform touches the AWS SDK: no module of the core package outside ``firstmile/platform/``, and no
handler, imports ``boto3`` or ``botocore``, at module level or inside a function.

Type stubs (``mypy_boto3_*``) are allowed under ``if TYPE_CHECKING:`` only: a store names the boto3 ``Table`` it is
given in its constructor's signature, and such an import never runs (it loads nothing at cold start). Anywhere else
a stub import is refused too, because it would run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core" / "firstmile"
PLATFORM = CORE / "platform"
SDK = ("boto3", "botocore", "s3transfer", "aioboto3", "aiobotocore")
STUBS = "mypy_boto3_"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else []
    return [alias.name for alias in node.names]


def sdk_imports(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` imports the SDK (any import statement, however deep), or a type stub outside an
    ``if TYPE_CHECKING:`` block."""
    found: list[str] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            for module in _imported(node):
                root = module.split(".")[0]
                if root in SDK or (root.startswith(STUBS) and not type_only):
                    found.append(f"{filename}:{node.lineno} imports {module}")
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source, filename), False)
    return found


def _outside_the_platform() -> list[Path]:
    core = [p for p in CORE.rglob("*.py") if PLATFORM not in p.parents]
    return core + list((ROOT / "functions").rglob("*.py"))


def test_only_the_platform_imports_the_aws_sdk() -> None:
    sources = _outside_the_platform()
    assert len(sources) > 50, "the core package and the handlers were not found"
    found = [hit for path in sources for hit in sdk_imports(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_detector_finds_each_form_of_sdk_import() -> None:
    source = (
        "import botocore\n"
        "from boto3.dynamodb.conditions import Key\n"
        "import boto3.session as session\n"
        "def later():\n"
        "    from botocore.exceptions import ClientError\n"
        "class Store:\n"
        "    def method(self):\n"
        "        if True:\n"
        "            import boto3\n"
        "from mypy_boto3_dynamodb import DynamoDBClient\n"
        "if TYPE_CHECKING:\n"
        "    from mypy_boto3_dynamodb.service_resource import Table\n"
        "    from botocore.client import BaseClient\n"
        "if typing.TYPE_CHECKING:\n"
        "    import mypy_boto3_sqs\n"
        "from firstmile.platform.gateway import TableGateway\n"
        "from . import boto3\n"
    )
    assert [hit.split(" ", 1)[0] for hit in sdk_imports(source)] == [
        "<source>:1",
        "<source>:2",
        "<source>:3",
        "<source>:5",
        "<source>:9",
        "<source>:10",
        "<source>:13",
    ]
