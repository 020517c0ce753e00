"""The local stack started for real (``firstmile dev``), driven over HTTP like a client, stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.catalog import CATALOG, http_functions
from tests.e2e.harness import RunningStack, call, command, free_port, run_cli

pytestmark = pytest.mark.e2e

ORIGIN = "http://localhost:3000"


def test_health_endpoints_answer_with_their_components(stack: RunningStack) -> None:
    # Given the stack started by `firstmile dev`
    # When a client asks each health endpoint
    live = call(f"{stack.api_url}/health/live")
    ready = call(f"{stack.api_url}/health/ready")
    summary = call(f"{stack.api_url}/health")
    startup = call(f"{stack.api_url}/health/startup")

    # Then each answers 200, readiness with the table, the bucket and the queues all ok
    assert (live.status, live.json()["status"]) == (200, "ok")
    assert ready.status == 200, ready.body
    components = {c["name"]: c["status"] for c in ready.json()["components"]}
    assert components["table"] == "ok"
    assert any(name.startswith("bucket:") for name in components)
    assert any(name.startswith("queue:") for name in components)
    assert set(components.values()) == {"ok"}
    assert (summary.status, summary.json()["status"], summary.json()["stage"]) == (200, "ok", "local")
    assert (startup.status, startup.json()["status"]) == (200, "ok")


def test_openapi_document_and_docs_page_are_served(stack: RunningStack) -> None:
    # Given the running stack
    # When a client fetches the API description and the docs page
    document = call(f"{stack.api_url}/openapi.json")
    docs = call(f"{stack.api_url}/docs")

    # Then the document has every route of the catalogue and the page is HTML
    assert document.status == 200
    paths = document.json()["paths"]
    assert {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops} == {r.key for _, r in http_functions(CATALOG)}
    assert docs.status == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    assert b"/health/ready" in docs.body


def test_unknown_route_is_a_404_problem_with_headers_and_correlation_id(stack: RunningStack) -> None:
    # Given a correlation id chosen by the client
    headers = {"X-Correlation-Id": "e2e-corr-42", "Origin": ORIGIN}

    # When it asks for a route that does not exist
    reply = call(f"{stack.api_url}/v1/does-not-exist", headers=headers)

    # Then it gets a problem document with the stable code, the security headers and its correlation id back
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "RES_ROUTE_NOT_FOUND"
    assert reply.headers["X-Correlation-Id"] == "e2e-corr-42"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert "max-age" in reply.headers["Strict-Transport-Security"]
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_function_responses_echo_the_correlation_id(stack: RunningStack) -> None:
    # Given a correlation id chosen by the client
    # When it calls a function through the gateway
    reply = call(f"{stack.api_url}/health/live", headers={"X-Correlation-Id": "e2e-corr-43"})

    # Then the function's answer carries it and the security headers
    assert reply.headers["X-Correlation-Id"] == "e2e-corr-43"
    assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert reply.headers["Cache-Control"] == "no-store"


def test_cors_preflight_is_answered_for_an_allowed_origin(stack: RunningStack) -> None:
    # Given a browser preflight from the default development origin
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}

    # When it is sent
    reply = call(f"{stack.api_url}/health", method="OPTIONS", headers=headers)

    # Then the gateway allows it
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in reply.headers["Access-Control-Allow-Methods"]


def _probe_items(stack: RunningStack, since: datetime) -> list[dict[str, Any]]:
    dynamodb = stack.aws("dynamodb")
    items: list[dict[str, Any]] = []
    for day in sorted({since.date(), datetime.now(UTC).date(), (since + timedelta(minutes=5)).date()}):
        items += dynamodb.query(
            TableName="firstmile-local-table",
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues={":pk": {"S": f"PROBE#{day.isoformat()}"}, ":since": {"S": since.isoformat()}},
        )["Items"]
    return items


def test_jobs_run_fires_the_probe_against_the_running_stack(stack: RunningStack) -> None:
    # Given the running stack and the probe results recorded from now on (the stack's own schedule may add some)
    since = datetime.now(UTC)
    before = len(_probe_items(stack, since))

    # When the scheduled probe is fired by hand
    result = run_cli(stack, "jobs", "run", "synthetic_probe")

    # Then it succeeded against the stack's resources and recorded its result in the table
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "ok", "failed": [], "backup_fresh": True}
    items = _probe_items(stack, since)
    assert len(items) > before
    assert {item["kind"]["S"] for item in items} == {"probe_result"}


def test_a_taken_port_is_named_with_its_variable(tmp_path: Path) -> None:
    # Given the gateway's port already held by another program
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
        env |= {"FIRSTMILE_PORT": str(taken), "FIRSTMILE_AWS_PORT": str(free_port())}

        # When `firstmile dev` starts
        result = subprocess.run(  # noqa: S603
            [*command(), "dev"], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    # Then it exits non-zero naming the port and the variable to change
    assert result.returncode != 0
    assert str(taken) in result.stderr
    assert "FIRSTMILE_PORT" in result.stderr
