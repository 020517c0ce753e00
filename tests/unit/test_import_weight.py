"""What importing a handler loads: a cold start pays for every module, so a function must not load at import what
only other functions, or only some requests, need (decision 0045).

Each handler is imported in a fresh interpreter as Lambda imports it (its folder, then the core layer, then the
packages), with the Lambda runtime's variables so that tracing is on as in a deployment; the test reads which
modules that import left in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.catalog import FUNCTIONS_DIR, by_name

# The token verifier and its cryptography: the identity functions' business only.
VERIFIER = ("jwt", "cryptography")
# Powertools idempotency and its DynamoDB persistence layer: only a request with an Idempotency-Key needs them.
IDEMPOTENCY = ("aws_lambda_powertools.utilities.idempotency",)
# Nothing in the layer uses sqlite3; patching it for X-Ray only cost the import.
UNUSED = ("sqlite3",)

# One handler of each domain outside identity, and the user routes that change progress (which may take an
# Idempotency-Key but are not sent one by every client).
OUTSIDE_IDENTITY = [
    "health_live",
    "admin_audit_list",
    "onboarding_status",
    "onboarding_step",
    "admin_flow_get",
    "flags_evaluate",
    "admin_flag_get",
    "flag_rollout_job",
]

_PROBE = """
import importlib.util, json, sys
path, *entries = sys.argv[1:]
sys.path[:0] = entries
spec = importlib.util.spec_from_file_location("handler", path)
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by_importing(function: str) -> set[str]:
    """The modules in ``sys.modules`` after a fresh interpreter imported ``function``'s handler."""
    folder = FUNCTIONS_DIR / function
    packages = list(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    environment = {
        "PATH": os.defpath,
        "LAMBDA_TASK_ROOT": str(folder),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": "eu-west-1",
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _PROBE,
            str(folder / "handler.py"),
            str(folder),
            str(FUNCTIONS_DIR.parent / "layers" / "core"),
            *packages,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def loaded_at_import() -> dict[str, set[str]]:
    """What importing each handler under test loads (the interpreters run side by side)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(OUTSIDE_IDENTITY, pool.map(modules_loaded_by_importing, OUTSIDE_IDENTITY), strict=True))


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("function", OUTSIDE_IDENTITY)
def test_a_handler_outside_identity_loads_neither_the_verifier_nor_idempotency_at_import(
    function: str, loaded_at_import: dict[str, set[str]]
) -> None:
    # Given a function outside identity
    assert by_name(function).domain != "identity"

    # When its handler is imported as Lambda imports it
    modules = loaded_at_import[function]

    # Then neither the token verifier, nor Powertools idempotency, nor an unused library came with it
    assert _loaded(modules, VERIFIER + IDEMPOTENCY + UNUSED) == []


def test_a_function_that_never_calls_aws_loads_no_aws_sdk_at_import(loaded_at_import: dict[str, set[str]]) -> None:
    # When the liveness handler (no AWS call on any path) is imported
    modules = loaded_at_import["health_live"]

    # Then neither boto3 nor botocore's client is loaded (the tracer patches botocore when a session is made)
    assert _loaded(modules, ("boto3", "botocore.client")) == []
