"""Data subject requests over HTTP against the running stack (decision 0083): a user's export holds everything
their API calls stored; an erasure is proven by a code from the outbox (wrong, expired and exhausted codes refused),
then the request worker removes the user everywhere and the audit chain still verifies.

Code checks count against a limit of five per quarter hour; the refused attempts are sent at simulated times
(``X-Firstmile-Simulated-Time``) in quarter hours of their own, as a user trying over an afternoon would.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from firstmile.platform.resources import ARCHIVE_BUCKET
from functions.catalog import CATALOG
from local.resources import deployment_for
from tests.e2e.harness import RunningStack, TenantTokens, call, run_cli, tenant_with_tokens, until
from tests.e2e.test_local_analytics import SIMULATED_TIME, STEPS, TenantClient, analytics_flow
from tests.e2e.test_local_onboarding import STEP, Client, assert_problem

pytestmark = pytest.mark.e2e

TOKEN = "/v1/auth/token"
# The request worker's cold start and an erasure's steps on a loaded two-core machine, plus the stream's window.
DONE_TIMEOUT_SECONDS = 120.0


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    return tenant_with_tokens(stack, f"e2e-privacy-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def admin(stack: RunningStack, tenant: TenantTokens) -> TenantClient:
    return TenantClient(stack, f"{tenant.tenant_id}-admin", tenant.admin, tenant.tenant_id)


def session(stack: RunningStack, tenant: TenantTokens, user: str) -> dict[str, Any]:
    """A new session of ``user``: its access and refresh tokens."""
    import base64

    basic = base64.b64encode(f"{tenant.client_id}:{tenant.client_secret}".encode()).decode()
    reply = call(
        stack.url(TOKEN),
        "POST",
        {"Authorization": f"Basic {basic}"},
        {"grant_type": "client_credentials", "user_id": user, "roles": ["user"]},
    )
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


def until_done(what: str, probe: Any, ready: Any) -> Any:
    return until(what, probe, ready, DONE_TIMEOUT_SECONDS)


def outbox_code(stack: RunningStack, user: str) -> str:
    """The newest code sent to ``user``, as a developer reads it: ``firstmile outbox --user ... --code``."""
    result = run_cli(stack, "outbox", "--user", user, "--code", "--tokens-file", str(stack.tokens_path))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def partition_items(stack: RunningStack, tenant: str, user: str, *, suffix: str = "") -> list[dict[str, Any]]:
    table = stack_table(stack)
    key = Key("pk").eq(f"TENANT#{tenant}#USER#{user}{suffix}")
    answer = table.query(KeyConditionExpression=key, ConsistentRead=True)
    return list(answer["Items"])


def stack_table(stack: RunningStack) -> Any:
    import boto3

    resource = boto3.resource(
        "dynamodb",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return resource.Table(deployment_for(CATALOG).table_name)


def archived_users(stack: RunningStack, tenant: str) -> list[str]:
    s3 = stack.aws("s3")
    bucket = deployment_for(CATALOG).bucket(ARCHIVE_BUCKET)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"events/tenant={tenant}/").get("Contents", [])
    return [
        json.loads(line)["user"]
        for entry in listed
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()).splitlines()
    ]


def test_an_export_then_a_verified_erasure_remove_the_user_everywhere(
    stack: RunningStack, tenant: TenantTokens, admin: TenantClient
) -> None:
    # Given a user who enrolled, completed a step, set their consent, and a second user of the same tenant
    flow_id = analytics_flow(admin)
    name, bystander = f"e2e-erased-{uuid.uuid4().hex[:8]}", f"e2e-kept-{uuid.uuid4().hex[:8]}"
    tokens = session(stack, tenant, name)
    user = Client(stack, name, str(tokens["access_token"]))
    other = Client(stack, bystander, str(session(stack, tenant, bystander)["access_token"]))
    for who in (user, other):
        assert who.request("GET", "/v1/onboarding/status").status == 200
        assert who.request("POST", STEP, {"step_id": STEPS[0]["id"], "action": "complete"}).status == 200
    consent = {"purposes": {"marketing": True}, "policy_version": "2026-12", "source": "settings"}
    assert user.request("POST", "/v1/compliance/consent", consent).status == 200

    # When they ask for an export and it completes
    asked = user.request("POST", "/v1/compliance/export/request", idempotency_key=f"export-{name}")
    assert (asked.status, asked.json()["state"]) == (202, "approved"), asked.body
    export_id = asked.json()["request_id"]
    done = until_done(
        "the export",
        lambda: user.request("GET", f"/v1/compliance/export/{export_id}").json(),
        lambda a: a["state"] == "complete",
    )

    # Then the package downloaded from its link holds every item their calls created, and nothing of the other user
    download = call(done["download_url"])
    assert download.status == 200
    package = download.json()
    assert (package["schema"], package["schema_version"], package["user"]) == ("firstmile.export", 1, name)
    items = package["items"]
    assert [e["type"] for e in items["onboarding_event"]] == ["enrolled", "step_completed"]
    assert items["onboarding_progress"][0]["flow_id"] == flow_id
    assert [r["policy_version"] for r in items["consent_record"]] == ["2026-12"]
    assert len(items["session_family"]) == 1
    assert other.user not in json.dumps(package)

    # When they ask for their erasure: a wrong code, then the right one ten minutes late, are refused
    first = user.request("POST", "/v1/compliance/deletion/request", idempotency_key=f"erase-1-{name}")
    assert (first.status, first.json()["state"]) == (202, "identity_unverified"), first.body
    first_id, code = first.json()["request_id"], outbox_code(stack, name)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    now = datetime.now(UTC)

    def verify(request_id: str, guess: str, at: datetime | None = None) -> Any:
        extra = {SIMULATED_TIME: at.isoformat()} if at else {}
        return user.request(
            "POST", "/v1/compliance/deletion/verify", {"request_id": request_id, "code": guess}, headers=extra
        )

    refused = verify(first_id, wrong)
    assert_problem(refused, 403, "PERM_VERIFICATION_CODE_INVALID")
    assert refused.json()["attempts_left"] == 4
    assert_problem(verify(first_id, code, now + timedelta(minutes=11)), 410, "RES_VERIFICATION_CODE_EXPIRED")
    # ...four more wrong codes close the request, and the sixth attempt is refused even with the right code
    for n, left in enumerate((3, 2, 1), start=1):
        reply = verify(first_id, wrong, now - timedelta(minutes=16 * n))
        assert_problem(reply, 403, "PERM_VERIFICATION_CODE_INVALID")
        assert reply.json()["attempts_left"] == left
    assert_problem(verify(first_id, wrong, now - timedelta(minutes=64)), 409, "BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED")
    assert_problem(verify(first_id, code, now - timedelta(minutes=80)), 409, "BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED")

    # When a new request is verified with its code and executed
    second = user.request("POST", "/v1/compliance/deletion/request", idempotency_key=f"erase-2-{name}")
    assert second.status == 202, second.body
    second_id = second.json()["request_id"]
    verified = verify(second_id, outbox_code(stack, name), now - timedelta(minutes=96))
    assert (verified.status, verified.json()["state"]) == (200, "pending"), verified.body
    executed = user.request("POST", "/v1/compliance/deletion/execute", {"request_id": second_id})
    assert (executed.status, executed.json()["state"]) == (200, "approved"), executed.body

    # Then the worker completes it, with a receipt of counts that names nobody
    erased = until_done(
        "the erasure",
        lambda: admin.request("GET", f"/v1/admin/dsr/requests/{second_id}").json(),
        lambda a: a["state"] == "complete",
    )
    assert erased["receipt"]["onboarding_event"] == 2 and erased["receipt"]["export_packages"] == 1
    assert name not in json.dumps(erased["receipt"])
    # ...the user's partition is empty; beside it, only the marks that refuse their tokens, expiring within 16 min
    assert partition_items(stack, tenant.tenant_id, name) == []
    marks = partition_items(stack, tenant.tenant_id, name, suffix="#REVOKED")
    assert marks and {i["kind"] for i in marks} == {"revocation"}
    assert all(float(i["expires_at"]) <= time.time() + 16 * 60 for i in marks)
    assert partition_items(stack, tenant.tenant_id, other.user)
    # ...their access token and refresh token are refused
    assert_problem(user.request("GET", "/v1/onboarding/status"), 401, "AUTH_TOKEN_REVOKED")
    refreshed = call(
        stack.url(TOKEN), "POST", body={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status == 401, refreshed.body
    # ...the export's link answers an error, and their archived events are gone (the other user's stay)
    assert call(done["download_url"]).status == 404
    archived = until_done("the archive", lambda: archived_users(stack, tenant.tenant_id), lambda a: other.user in a)
    assert name not in archived
    # ...and the tenant's audit chain, rewritten where it named them, still verifies
    verification = admin.request("GET", "/v1/admin/audit/verify")
    assert (verification.status, verification.json()["ok"]) == (200, True), verification.body
    entries = admin.request("GET", "/v1/admin/audit?limit=100").json()["items"]
    assert name not in json.dumps(entries)
    assert {"privacy.erasure.completed", "privacy.export.completed"} <= {e["action"] for e in entries}

    # And the tenant's list shows both erasures closed, none overdue
    listed = admin.request("GET", "/v1/admin/dsr/requests").json()
    states = {r["request_id"]: r["state"] for r in listed["items"]}
    assert (states[first_id], states[second_id], states[export_id]) == ("denied", "complete", "complete")
    assert listed["counts"]["overdue"] == 0


def test_a_restriction_stops_changes_an_objection_stops_bucketing_and_a_rectification_corrects(
    stack: RunningStack, tenant: TenantTokens, admin: TenantClient
) -> None:
    # Given the tenant's flow, an A/B split, and two enrolled users
    analytics_flow(admin)
    key = f"ab-{uuid.uuid4().hex[:6]}"
    flag = {
        "key": key,
        "type": "variants",
        "variants": [{"key": "a", "value": "a", "weight": 1}, {"key": "b", "value": "b", "weight": 1}],
        "off_variant": "a",
        "enabled": True,
        "fallthrough": {"split": True},
    }
    created = admin.request("POST", "/v1/admin/feature-flags", flag)
    assert created.status == 201, created.body
    restricting, objecting = (
        Client(stack, name, str(session(stack, tenant, name)["access_token"]))
        for name in (f"e2e-restricts-{uuid.uuid4().hex[:6]}", f"e2e-objects-{uuid.uuid4().hex[:6]}")
    )
    for user in (restricting, objecting):
        assert user.request("GET", "/v1/onboarding/status", headers={}).status == 200

    # When one restricts processing, their steps are refused while their rights requests are taken
    restrict = {"rights": {"restrict_processing": True}, "policy_version": "2026-12"}
    assert restricting.request("POST", "/v1/compliance/consent", restrict).json()["restricted"] is True
    step = {"step_id": STEPS[0]["id"], "action": "complete"}
    assert_problem(restricting.request("POST", STEP, step), 409, "BIZ_PROCESSING_RESTRICTED")
    corrected = restricting.request("PATCH", "/v1/me", {"attributes": {"country": "FR"}})
    assert (corrected.status, corrected.json()["attributes"]["country"]) == (200, "FR"), corrected.body
    lift = {"rights": {"restrict_processing": False}, "policy_version": "2026-12"}
    assert restricting.request("POST", "/v1/compliance/consent", lift).json()["restricted"] is False
    assert restricting.request("POST", STEP, step).status == 200

    # When the other, who is split like anyone, objects, the flag serves them its default (within 30 s)
    evaluate = {"flags": [key]}
    assert objecting.request("POST", "/v1/flags/evaluate", evaluate).json()["flags"][key]["reason"] == "SPLIT"
    objection = {"rights": {"object": True}, "policy_version": "2026-12"}
    answer = objecting.request("POST", "/v1/compliance/consent", objection).json()
    assert (answer["objected"], answer["analytics_opt_out"]) == (True, True)
    served = until_done(
        "the objection",
        lambda: objecting.request("POST", "/v1/flags/evaluate", evaluate).json()["flags"][key],
        lambda r: r["reason"] == "DEFAULT",
    )
    assert (served["variant"], served["reason"]) == ("a", "DEFAULT")
