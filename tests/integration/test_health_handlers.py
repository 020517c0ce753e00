"""The health functions against the emulator, with each dependency made unreachable in turn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from firstmile.composition import reset
from firstmile.config import Settings
from firstmile.identity import keys, tokens
from firstmile.identity.store import IdentityStore
from tests.factories import body_of, http_event, load_handler
from tests.integration.conftest import Deployment


@pytest.fixture(autouse=True)
def _fresh_identity_caches() -> Iterator[None]:
    reset()
    yield
    reset()


def call(name: str, path: str, context, **kwargs):  # type: ignore[no-untyped-def]
    return load_handler(name).lambda_handler(http_event("GET", path, **kwargs), context)


def test_ready_lists_every_component_with_latency(deployment: Deployment, lambda_context) -> None:
    response = call("health_ready", "/health/ready", lambda_context)

    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["status"] == "ok"
    names = {c["name"]: c for c in body["components"]}
    assert set(names) == {
        "table",
        f"bucket:{deployment.bucket}",
        "queue:scheduler-dlq",
        "queue:onboarding-migrations",
        "queue:onboarding-drops",
        "queue:flag-exposures",
        "queue:privacy-requests",
        "queue:webhook-deliveries",
    }
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in names.values())


@pytest.mark.parametrize("component", ["table", "bucket", "queue"])
def test_ready_answers_503_naming_the_unreachable_component(  # type: ignore[no-untyped-def]
    deployment: Deployment, lambda_context, component
) -> None:
    # Given one dependency removed from under the deployment
    if component == "table":
        deployment.client("dynamodb").delete_table(TableName=deployment.table_name)
        expected = "table"
    elif component == "bucket":
        deployment.client("s3").delete_bucket(Bucket=deployment.bucket)
        expected = f"bucket:{deployment.bucket}"
    else:
        deployment.client("sqs").delete_queue(QueueUrl=deployment.queue_url)
        expected = "queue:scheduler-dlq"

    # When readiness is asked
    response = call("health_ready", "/health/ready", lambda_context, request_id="req-ready")

    # Then it is a 503 problem that names exactly that component
    assert response["statusCode"] == 503
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(response)
    assert problem["code"] == "SYS_UNAVAILABLE"
    assert problem["detail"] == f"Not ready: {expected}"
    assert problem["instance"] == "req-ready"
    failed = [c["name"] for c in problem["components"] if c["status"] == "failed"]
    assert failed == [expected]


def test_ready_fails_fast_when_the_emulator_is_gone(deployment: Deployment, lambda_context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given every AWS endpoint pointing at a port where nothing listens
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.setenv("FIRSTMILE_DEPENDENCY_TIMEOUT_SECONDS", "3")

    response = call("health_ready", "/health/ready", lambda_context)

    assert response["statusCode"] == 503
    assert {c["status"] for c in body_of(response)["components"]} == {"failed"}


def test_live_and_startup_need_no_dependency(lambda_context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    assert call("health_live", "/health/live", lambda_context)["statusCode"] == 200
    startup = call("health_startup", "/health/startup", lambda_context)
    assert startup["statusCode"] == 200
    assert body_of(startup)["checks"] == [{"name": "configuration", "status": "ok", "reason": None}]


def test_startup_reports_invalid_configuration(lambda_context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FIRSTMILE_QUEUE_URLS", "not json")

    response = call("health_startup", "/health/startup", lambda_context)

    assert response["statusCode"] == 503
    assert body_of(response)["checks"][0]["reason"] == "invalid: queue_urls"


def bearer(deployment: Deployment, role: str) -> dict[str, str]:
    """An Authorization header with a real access token, its key published in the deployment's table."""
    now = time.time()
    key = keys.generate_signing_key(now, "current")
    IdentityStore(deployment.table).publish_jwks(keys.jwks_document(keys.KeySet(keys=(key,))), 0)
    claims = tokens.access_claims(
        issuer=Settings.from_environment().issuer,
        audience=Settings.from_environment().audience,
        tenant="_platform" if role == "operator" else "t-acme",
        subject="someone",
        roles=[role],  # type: ignore[list-item]
        attributes={},
        session_id="s-0123456789abcdef",
        now=now,
        ttl_seconds=300,
    )
    return {"Authorization": f"Bearer {tokens.sign_access_token(claims, key)}"}


def test_summary_shows_detail_only_to_operators(deployment: Deployment, lambda_context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a degraded deployment and callers with and without an operator's token
    monkeypatch.setenv("FIRSTMILE_VERSION", "1.2.3")
    monkeypatch.setenv("FIRSTMILE_COMMIT", "abc123")
    deployment.client("s3").delete_bucket(Bucket=deployment.bucket)
    operator_header = bearer(deployment, "operator")

    # When each asks for the summary (a public route: the function verifies an offered token itself)
    anonymous = body_of(call("health_summary", "/health", lambda_context))
    forged = body_of(call("health_summary", "/health", lambda_context, headers={"Authorization": "Bearer x.y.z"}))
    operator = body_of(call("health_summary", "/health", lambda_context, headers=operator_header))

    # Then only the operator sees reasons and latencies
    assert all(c.get("reason") is None for c in forged["components"])

    assert anonymous["status"] == "degraded"
    assert (anonymous["version"], anonymous["commit"]) == ("1.2.3", "abc123")
    assert all(c.get("reason") is None and c.get("latency_ms") is None for c in anonymous["components"])
    failed = [c for c in operator["components"] if c["status"] == "failed"]
    assert [c["reason"] for c in failed] == ["NoSuchBucket"] or [c["reason"] for c in failed] == ["404"]


def test_the_probe_records_its_result_under_the_day(deployment: Deployment, lambda_context) -> None:
    # When the scheduled probe runs
    summary = load_handler("synthetic_probe").lambda_handler({"source": "aws.scheduler"}, lambda_context)

    # Then it reports and keeps one result for today, expiring later
    assert summary == {"status": "ok", "failed": [], "backup_fresh": True}
    day = datetime.now(UTC).date().isoformat()
    items = deployment.table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"PROBE#{day}"}
    )["Items"]
    assert len(items) == 1
    assert items[0]["status"] == "ok"
    assert int(items[0]["expires_at"]) > datetime.now(UTC).timestamp()
