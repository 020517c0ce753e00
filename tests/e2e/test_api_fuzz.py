"""The merged OpenAPI document, fuzzed with schemathesis against the running local stack.

Every operation gets valid and invalid requests (bounded, seeded and deterministic, so a run takes about two
minutes and finds the same things twice), with the token its role needs, in a tenant of its own so the demo tenant
other suites use is untouched. Each answer must not be a 5xx, must conform to the document (status, content type,
headers, schema), and every error must be a problem document.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.harness import SUMMARY_LINES, RunningStack, TenantTokens, call, tenant_with_tokens

pytestmark = pytest.mark.e2e

# Failed token requests are limited per source address: the fuzz sends from an address of its own.
FUZZ_SOURCE_IP = "127.0.0.2"
SEED = 20261203
MAX_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class _FromAddress(HTTPAdapter):
    def __init__(self, source_ip: str) -> None:
        self._source = (source_ip, 0)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=self._source, **kwargs)


class FuzzTarget:
    """The stack, a session sending from the fuzz address, and the fuzz tenant's tokens (renewed when revoked)."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.session = requests.Session()
        self.session.mount("http://", _FromAddress(FUZZ_SOURCE_IP))
        self.tokens: TenantTokens = tenant_with_tokens(stack, "fuzz")
        self.statuses: Counter[int] = Counter()
        self.operations: set[str] = set()
        self.unauthenticated: Counter[str] = Counter()

    def headers_for(self, role: str) -> dict[str, str]:
        token = self.tokens.for_role(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def renew(self) -> None:
        """A fuzzed revocation ended the fuzz user's own sessions (token, session or all of them), which the
        authorizer notices within its revocation bound: the next operations get new tokens. Signing out everywhere
        revokes every token issued up to that second, so the new ones are minted in the next second."""
        time.sleep(1.1)
        self.tokens = tenant_with_tokens(self.stack, "fuzz")


@pytest.fixture(scope="module")
def fuzz_target(stack: RunningStack, request: pytest.FixtureRequest) -> Iterator[FuzzTarget]:
    target = FuzzTarget(stack)
    started = time.monotonic()
    yield target
    request.config.stash.setdefault(SUMMARY_LINES, []).append(
        f"schemathesis: {len(target.operations)} operations, {target.statuses.total()} requests in "
        f"{time.monotonic() - started:.0f} s; statuses {dict(sorted(target.statuses.items()))}; "
        f"401 by operation {dict(target.unauthenticated.most_common(5))}"
    )


# The committed document is the one the stack serves (make test fails when they drift, and a test below compares
# them); reading it at collection gives every operation a test of its own.
DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8"))
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                "mode": "all",
                # The tokens are the suite's own (below); generated Authorization values would only replace them.
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    ),
)


def test_the_fuzzed_document_is_the_one_the_stack_serves(stack: RunningStack) -> None:
    assert call(stack.url("/openapi.json")).json() == DOCUMENT


@schema.parametrize()
def test_every_operation_answers_within_its_contract(case: Any, fuzz_target: FuzzTarget) -> None:
    # Given a generated request, sent with the token its operation's role needs
    role = case.operation.definition.raw.get("x-firstmile-role", "public")
    headers = {**(case.headers or {}), **fuzz_target.headers_for(role)}

    # When it is sent to the running stack
    response = case.call(base_url=fuzz_target.stack.api_url, session=fuzz_target.session, headers=headers)

    fuzz_target.statuses[response.status_code] += 1
    fuzz_target.operations.add(f"{case.method} {case.operation.path}")
    if response.status_code == 401:
        fuzz_target.unauthenticated[f"{case.method} {case.operation.path} {response.json().get('code')}"] += 1

    # Then the answer is within the document, never a server error, and every error is a problem document
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        assert _header(response, "content-type") == "application/problem+json", response.text
        assert response.json()["status"] == response.status_code
    if case.operation.path == "/v1/auth/revoke" and response.status_code == 204:
        fuzz_target.renew()


def _header(response: Any, name: str) -> str | None:
    for key, value in response.headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None
