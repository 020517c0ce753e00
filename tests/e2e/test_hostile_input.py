"""Hostile input over HTTP, against the running local stack: every route with a body or a cursor, every case.

The case x route matrix is generated from the OpenAPI document the stack serves (routes with a request body, routes
with a ``cursor`` parameter), never hand-listed. Each answer must be a 4xx problem document naming the right code,
and the tenant the suite works in must keep working afterwards: its flows, flags, segments and audit still list.
Failed client authentications are limited per client id, with the Basic challenge on each 401.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.harness import Reply, RunningStack, TenantTokens, send, tenant_with_tokens

pytestmark = pytest.mark.e2e

TENANT = "hostile"
# Failed authentications are counted per source address: this suite uses its own.
SOURCE_IP = "127.0.0.3"
FLOW_ID = "hostile-flow"
FLAG_KEY = "hostile-flag"
RULE_ID = "hostile-rule"
JSON = "application/json"


@dataclass(frozen=True)
class Case:
    """One hostile request body: raw bytes, the media type it claims, and the answer it must get."""

    name: str
    body: Callable[[], bytes]
    status: int
    codes: tuple[str, ...]
    content_type: str = JSON


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _with(value: str) -> bytes:
    return f'{{"name": "x", "value": {value}}}'.encode()


BODY_CASES = (
    Case("not-utf8", lambda: b'{"name": "\xff\xfe\xfa"}', 400, ("VAL_BAD_REQUEST",)),
    Case("not-json", lambda: b'{"name": ', 400, ("VAL_BAD_REQUEST",)),
    Case("repeated-member", lambda: b'{"name": "a", "name": "b"}', 400, ("VAL_BAD_REQUEST",)),
    Case("lone-surrogate", lambda: b'{"name": "\\ud800"}', 400, ("VAL_BAD_REQUEST",)),
    Case("nested-20000", lambda: b"[" * 20_000 + b"]" * 20_000, 400, ("VAL_BODY_TOO_DEEP",)),
    Case("nested-past-32", lambda: _deep(40), 400, ("VAL_BODY_TOO_DEEP",)),
    Case("integer-5000-digits", lambda: _with("9" * 5000), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("nan", lambda: _with("NaN"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("infinity", lambda: _with("-Infinity"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("underflow-1e-300", lambda: _with("1e-300"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("overflow-1e126", lambda: _with("1e126"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("unreadable-1e100", lambda: _with("1e100"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("39-digits", lambda: _with("1.00000000000000000000000000000000000001"), 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("empty-member-name", lambda: b'{"name": "x", "sample": {"": "x"}}', 422, ("VAL_UNSTORABLE_VALUE",)),
    Case("over-1-mb", lambda: _with(json.dumps("x" * (1024 * 1024))), 413, ("VAL_TOO_LARGE",)),
    Case("text-plain", lambda: b'{"name": "x"}', 415, ("VAL_MEDIA_TYPE_UNSUPPORTED",), "text/plain"),
    Case("xml", lambda: b"<name>x</name>", 415, ("VAL_MEDIA_TYPE_UNSUPPORTED",), "application/xml"),
    Case(
        "latin-1-json",
        lambda: b'{"name": "x"}',
        415,
        ("VAL_MEDIA_TYPE_UNSUPPORTED",),
        "application/json; charset=latin-1",
    ),
    Case(
        "multipart",
        lambda: b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n',
        415,
        ("VAL_MEDIA_TYPE_UNSUPPORTED",),
        "multipart/form-data; boundary=b",
    ),
)

# Hand-made or altered cursors; the genuine cursor of another list is filled in at run time.
CURSOR_CASES: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("garbage", lambda genuine: "not a cursor"),
    (
        "hand-made",
        lambda genuine: base64.urlsafe_b64encode(
            json.dumps({"p": f"TENANT#{TENANT}", "k": {"pk": f"TENANT#{TENANT}", "sk": ""}}).encode()
        ).decode(),
    ),
    ("altered", lambda genuine: genuine[:5] + ("A" if genuine[5] != "A" else "B") + genuine[6:]),
    ("unsigned", lambda genuine: genuine.rpartition(".")[0]),
    ("too-long", lambda genuine: "A" * 3000),
)


def _operations(stack: RunningStack) -> list[tuple[str, str, dict[str, Any]]]:
    document = send(stack.url("/openapi.json")).json()
    return [(method.upper(), path, op) for path, ops in sorted(document["paths"].items()) for method, op in ops.items()]


def _path_value(name: str, parameter: dict[str, Any], tenant: str) -> str:
    if name == "tenant_id":
        return tenant
    if name == "flow_id":
        return FLOW_ID
    if name == "key":
        return FLAG_KEY
    if name == "rule_id":
        return RULE_ID
    schema = parameter.get("schema", {})
    if schema.get("type") == "integer":
        return "1"
    pattern = schema.get("pattern")
    candidates = (
        "hostile-1",
        "fmc_" + "A" * 22,
        "mig_" + "A" * 22,
        "dsr_" + "0" * 24,
        "20261201T090000000-" + "0" * 16,
        "whe_" + "A" * 22,
        "msg_20261201090000_" + "0" * 20,
        "drl_20261201T090000000_000000",
    )
    for candidate in (*candidates, "1"):
        if pattern is None or re.fullmatch(pattern.strip("^$"), candidate):
            return candidate
    raise AssertionError(f"no value for the path parameter {name} ({pattern})")


def _url(stack: RunningStack, path: str, operation: dict[str, Any], tenant: str) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", _path_value(parameter["name"], parameter, tenant))
    return stack.url(path)


def _auth(tokens: TenantTokens, operation: dict[str, Any]) -> dict[str, str]:
    token = tokens.for_role(operation.get("x-firstmile-role", "public"))
    return {"Authorization": f"Bearer {token}"} if token else {}


def _assert_problem(reply: Reply, status: int, codes: tuple[str, ...], what: str) -> None:
    assert reply.status == status, f"{what}: {reply.status} {reply.body[:300]!r}"
    assert reply.headers["Content-Type"] == "application/problem+json", what
    document = reply.json()
    assert document["code"] in codes, f"{what}: {document}"
    assert reply.headers["X-Content-Type-Options"] == "nosniff", what
    assert "Traceback" not in reply.body.decode(errors="replace"), what
    # Nothing Python: no reprs of lists or bytes, no exception names
    assert not re.search(r"\[\s*'|b'|Error\(|Exception", document["detail"]), what


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    """The suite's tenant, with a published flow, two flags, a segment and a drop-off alert rule, so every path and
    list has something."""
    tokens = tenant_with_tokens(stack, TENANT)
    admin = {"Authorization": f"Bearer {tokens.admin}", "Content-Type": JSON}

    def post(method: str, path: str, body: dict[str, Any] | None) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        return send(stack.url(path), method, headers=admin, body=data, source_ip=SOURCE_IP)

    flow = {
        "flow_id": FLOW_ID,
        "name": "Hostile",
        "steps": [{"id": "one", "title": "One", "order": 1}, {"id": "two", "title": "Two", "order": 2}],
    }
    assert post("POST", "/v1/admin/onboarding/flows", flow).status in (201, 409)
    assert post("POST", f"/v1/admin/onboarding/flows/{FLOW_ID}/publish", None).status in (200, 201)
    assert post("POST", f"/v1/admin/onboarding/flows/{FLOW_ID}/publish", None).status in (200, 201, 409)
    for key in (FLAG_KEY, f"{FLAG_KEY}-2"):
        assert post("POST", "/v1/admin/feature-flags", {"key": key, "enabled": True}).status in (201, 409)
    assert post("PUT", "/v1/admin/segments/hostile-segment", {"key": "hostile-segment", "users": ["u-1"]}).status in (
        200,
        201,
    )
    rule = {"rule_id": RULE_ID, "flow_id": FLOW_ID, "kind": "conversion_below", "threshold": 50}
    assert post("POST", "/v1/admin/onboarding/analytics/alert-rules", rule).status in (201, 409)
    return tokens


def _body_matrix(stack: RunningStack) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for m, p, op in _operations(stack) if "requestBody" in op]


def test_every_route_with_a_body_refuses_every_hostile_body(stack: RunningStack, tenant: TenantTokens) -> None:
    # Given every route the document says reads a body, and every hostile body
    routes = _body_matrix(stack)
    assert len(routes) >= 20

    # When each body is sent to each route, with the token the route needs
    for method, path, operation in routes:
        url = _url(stack, path, operation, tenant.tenant_id)
        for case in BODY_CASES:
            headers = {**_auth(tenant, operation), "Content-Type": case.content_type}
            reply = send(url, method, headers=headers, body=case.body(), source_ip=SOURCE_IP)

            # Then each is refused with its problem, before anything is stored
            _assert_problem(reply, case.status, case.codes, f"{case.name} -> {method} {path}")


def test_the_token_endpoint_reads_forms_and_refuses_broken_ones(stack: RunningStack, tenant: TenantTokens) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url = stack.url("/v1/auth/token")

    minted = send(
        url,
        "POST",
        headers=form,
        body=(
            f"grant_type=client_credentials&client_id={tenant.client_id}&client_secret={tenant.client_secret}"
            "&user_id=form-user&scope=user"
        ).encode(),
        source_ip=SOURCE_IP,
    )
    repeated = send(url, "POST", headers=form, body=b"grant_type=a&grant_type=b", source_ip=SOURCE_IP)
    not_utf8 = send(url, "POST", headers=form, body=b"grant_type=%ff%fe", source_ip=SOURCE_IP)
    unknown_grant = send(url, "POST", headers=form, body=b"grant_type=password&user_id=u", source_ip=SOURCE_IP)

    assert minted.status == 200, minted.body
    _assert_problem(repeated, 400, ("VAL_BAD_REQUEST",), "repeated form field")
    _assert_problem(not_utf8, 400, ("VAL_BAD_REQUEST",), "form not UTF-8")
    _assert_problem(unknown_grant, 422, ("VAL_REQUEST_INVALID",), "unknown grant")


@pytest.mark.parametrize(
    ("case", "path", "body", "status", "code"),
    [
        (
            "flow-sample-with-an-empty-key",
            "/v1/admin/onboarding/flows",
            {
                "flow_id": "h-empty",
                "name": "x",
                "steps": [{"id": "a", "title": "A", "order": 1}],
                "sample_workflow": {"": "x"},
            },
            422,
            "VAL_UNSTORABLE_VALUE",
        ),
        (
            "flag-variant-with-an-empty-key",
            "/v1/admin/feature-flags",
            {
                "key": "h-variant",
                "type": "variants",
                "variants": [{"key": "a", "value": {"": 1}}, {"key": "b", "value": 2}],
            },
            422,
            "VAL_UNSTORABLE_VALUE",
        ),
        (
            "flag-percentage-1e-300",
            "/v1/admin/feature-flags",
            {"key": "h-tiny", "enabled": True, "rules": [{"id": "r", "percentage": 1e-300, "serve": {"value": True}}]},
            422,
            "VAL_UNSTORABLE_VALUE",
        ),
        (
            "required-given-as-0",
            "/v1/admin/onboarding/flows",
            {"flow_id": "h-coerce", "name": "x", "steps": [{"id": "a", "title": "A", "order": 1, "required": 0}]},
            422,
            "VAL_REQUEST_INVALID",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and not v.startswith("/") and not v.isupper() else "",
)
def test_realistic_bodies_dynamodb_would_refuse_are_refused_before_the_table(
    stack: RunningStack, tenant: TenantTokens, case: str, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {tenant.admin}", "Content-Type": JSON}
    reply = send(stack.url(path), "POST", headers=headers, body=json.dumps(body).encode(), source_ip=SOURCE_IP)
    _assert_problem(reply, status, (code,), case)


def test_a_segment_larger_than_an_item_is_too_large_not_unavailable(stack: RunningStack, tenant: TenantTokens) -> None:
    # Given a segment whose users fit the model (and the 1 MB body limit) but not DynamoDB's 400 KB item
    users = [f"user-{i:05d}-" + "x" * 200 for i in range(2500)]
    body = json.dumps({"key": "h-huge", "users": users}).encode()
    assert 400 * 1024 < len(body) < 1024 * 1024

    # When it is put
    headers = {"Authorization": f"Bearer {tenant.admin}", "Content-Type": JSON}
    reply = send(stack.url("/v1/admin/segments/h-huge"), "PUT", headers=headers, body=body, source_ip=SOURCE_IP)

    # Then it is 413 naming the limit, not 503 "table unavailable"
    _assert_problem(reply, 413, ("VAL_TOO_LARGE",), "huge segment")
    assert "400 KB" in reply.json()["detail"]


def test_every_list_refuses_cursors_it_did_not_sign(stack: RunningStack, tenant: TenantTokens) -> None:
    # Given a genuine cursor of the tenant's flag list (two flags, one per page)
    admin = {"Authorization": f"Bearer {tenant.admin}"}
    first = send(stack.url("/v1/admin/feature-flags?limit=1"), headers=admin, source_ip=SOURCE_IP)
    genuine = first.json()["next_cursor"]
    assert genuine
    following = send(stack.url(f"/v1/admin/feature-flags?limit=1&cursor={genuine}"), headers=admin, source_ip=SOURCE_IP)
    assert following.status == 200

    # When every list is given each hand-made or altered cursor
    lists = [
        (m, p, op) for m, p, op in _operations(stack) if any(q["name"] == "cursor" for q in op.get("parameters", []))
    ]
    assert len(lists) >= 7
    for method, path, operation in lists:
        url = _url(stack, path, operation, tenant.tenant_id)
        for name, make in CURSOR_CASES:
            cursor = quote(make(genuine), safe="")
            reply = send(f"{url}?cursor={cursor}", method, headers=_auth(tenant, operation), source_ip=SOURCE_IP)

            # Then each is refused as an invalid cursor (one over the documented length by validation)
            if name == "too-long":
                _assert_problem(reply, 422, ("VAL_REQUEST_INVALID",), f"{name} cursor -> {path}")
            else:
                _assert_problem(reply, 400, ("VAL_CURSOR_INVALID",), f"{name} cursor -> {path}")
        if path != "/v1/admin/feature-flags":
            # a genuine cursor, signed by this deployment, but of another list
            reply = send(f"{url}?cursor={genuine}", method, headers=_auth(tenant, operation), source_ip=SOURCE_IP)
            _assert_problem(reply, 400, ("VAL_CURSOR_INVALID",), f"the flag list's cursor -> {path}")


def test_wrong_client_secrets_are_limited_and_challenged(stack: RunningStack, tenant: TenantTokens) -> None:
    # Given 70 token requests in a row with the tenant's client id and a wrong secret, from one address
    wrong = base64.b64encode(f"{tenant.client_id}:fms_{'w' * 43}".encode()).decode()
    headers = {"Authorization": f"Basic {wrong}", "Content-Type": JSON}
    body = json.dumps({"grant_type": "client_credentials", "user_id": "u-1"}).encode()
    started = time.monotonic()
    replies = [
        send(stack.url("/v1/auth/token"), "POST", headers=headers, body=body, source_ip="127.0.0.4") for _ in range(70)
    ]
    elapsed = time.monotonic() - started

    # Then the first 10 are 401 with the Basic challenge, the rest 429 with the rate-limit headers
    statuses = [r.status for r in replies]
    assert statuses[:10] == [401] * 10, statuses
    assert set(statuses[10:]) == {429}, statuses
    assert all(r.headers["WWW-Authenticate"].startswith("Basic realm=") for r in replies[:10])
    limited = replies[-1]
    assert limited.json()["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["RateLimit-Limit"] == "10" and limited.headers["RateLimit-Remaining"] == "0"
    assert elapsed < 60
    # and each failure is in the tenant's audit chain
    audit = send(
        stack.url("/v1/admin/audit?action=auth.client_authentication_failed&limit=100"),
        headers={"Authorization": f"Bearer {tenant.admin}"},
        source_ip=SOURCE_IP,
    )
    assert audit.status == 200
    assert len(audit.json()["items"]) >= 10


def test_the_tenant_keeps_working_after_all_of_it(stack: RunningStack, tenant: TenantTokens) -> None:
    # Given everything above was sent to the tenant (this module's tests run in order)
    admin = {"Authorization": f"Bearer {tenant.admin}"}

    # Then its flows, flags, segments and audit still list, and the audit chain is intact
    for path in ("/v1/admin/onboarding/flows", "/v1/admin/feature-flags", "/v1/admin/segments", "/v1/admin/audit"):
        reply = send(stack.url(path), headers=admin, source_ip=SOURCE_IP)
        assert reply.status == 200, (path, reply.body[:300])
    flows = send(stack.url("/v1/admin/onboarding/flows"), headers=admin, source_ip=SOURCE_IP).json()["items"]
    assert {f["flow_id"] for f in flows} == {FLOW_ID}
    verify = send(stack.url("/v1/admin/audit/verify"), headers=admin, source_ip=SOURCE_IP)
    assert verify.status == 200 and verify.json()["ok"] is True
