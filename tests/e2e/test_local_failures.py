"""Failed work over HTTP against the running stack (decision 0091): a dead letter becomes a task within a minute
(the collector's schedule), an admin sees only their tenant's tasks and an operator sees every one, and a retried
task's work is processed exactly once, after which the task is gone. A scheduled run's dead letter is retried by
invoking its function again, through the emulator's Lambda Invoke, as a deployed retry invokes Lambda.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, SCHEDULER_DLQ, dead_letter_queue_name
from functions.catalog import CATALOG
from local.resources import deployment_for
from tests.e2e.harness import Reply, RunningStack, TenantTokens, call, tenant_with_tokens, until

pytestmark = pytest.mark.e2e

TASKS = "/v1/admin/dlq/tasks"
# The collector runs every minute from the stack's start; a task appears within a run and its cold start.
COLLECTED_TIMEOUT_SECONDS = 150.0


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    return tenant_with_tokens(stack, f"e2e-failures-{uuid.uuid4().hex[:6]}")


def get(stack: RunningStack, token: str, path: str) -> Reply:
    return call(stack.url(path), "GET", {"Authorization": f"Bearer {token}"})


def post(stack: RunningStack, token: str, path: str, body: Any = None) -> Reply:
    return call(stack.url(path), "POST", {"Authorization": f"Bearer {token}"}, body if body is not None else {})


def collected(what: str, probe: Callable[[], Any], ready: Callable[[Any], bool]) -> Any:
    return until(what, probe, ready, COLLECTED_TIMEOUT_SECONDS, pause=2.0)


def queue_url(stack: RunningStack, logical: str) -> str:
    name = next(q.name for q in deployment_for(CATALOG).queues if q.logical_name == logical)
    return str(stack.aws("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def tasks_of(stack: RunningStack, token: str, **query: str) -> dict[str, Any]:
    path = TASKS + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    reply = get(stack, token, path)
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


def test_a_dead_letter_retried_through_the_api_is_processed_exactly_once(
    stack: RunningStack, tenant: TenantTokens
) -> None:
    # Given a flag of the tenant, and an exposure event of it that reached the exposure queue's dead-letter queue
    key = f"e2e-dlq-{uuid.uuid4().hex[:8]}"
    flag = {"key": key, "description": "dlq", "enabled": True, "fallthrough": {"value": True}}
    created = post(stack, tenant.admin, "/v1/admin/feature-flags", flag)
    assert created.status == 201, created.body
    day = datetime.now(UTC).date().isoformat()
    event = {"tenant": tenant.tenant_id, "day": day, "rate": 1.0, "exposures": [{"flag": key, "variant": "true"}]}
    stack.aws("sqs").send_message(
        QueueUrl=queue_url(stack, dead_letter_queue_name(FLAG_EXPOSURES_QUEUE)), MessageBody=json.dumps(event)
    )

    # When the collector has run, the tenant's admin lists the tasks
    listed = collected(
        "the dead letter as a task",
        lambda: tasks_of(stack, tenant.admin, task_name="flag_exposure_worker"),
        lambda answer: answer["total"] >= 1,
    )

    # Then it is one task of the exposure worker's, which recorded nothing (the letter was put there by hand)
    [task] = listed["items"]
    assert (task["task"], task["kind"], task["source"], task["state"], task["tenant"]) == (
        "flag_exposure_worker",
        "queue",
        f"queue:{FLAG_EXPOSURES_QUEUE}",
        "dead",
        tenant.tenant_id,
    )
    detail = get(stack, tenant.admin, f"{TASKS}/{task['task_id']}").json()
    assert detail["exception_type"] == "Unrecorded" and detail["failure_recorded"] is False
    assert detail["payload"]["exposures"] == event["exposures"]
    # ...which another tenant's admin cannot see, and the operator counts
    other = tenant_with_tokens(stack, f"e2e-failures-other-{uuid.uuid4().hex[:6]}")
    assert tasks_of(stack, other.admin)["total"] == 0
    assert get(stack, other.admin, f"{TASKS}/{task['task_id']}").status == 404
    stats = get(stack, tenant.operator, "/v1/admin/dlq/stats").json()
    assert stats["tasks_by_type"].get("flag_exposure_worker", 0) >= 1

    # When the admin retries it
    retried = post(stack, tenant.admin, f"{TASKS}/{task['task_id']}/retry")
    assert retried.status == 200, retried.body
    assert retried.json() == {"status": "queued", "task_id": task["task_id"]}

    # Then the worker counts it once, and its success removes the task
    collected(
        "the retried task resolved", lambda: get(stack, tenant.admin, f"{TASKS}/{task['task_id']}").status, (404).__eq__
    )
    report = get(stack, tenant.admin, f"/v1/admin/feature-flags/{key}/exposures").json()
    counted = [c for c in report["counts"] if c["day"] == day and c["variant"] == "true"]
    assert [c["sampled"] for c in counted] == [1], report
    # ...and a second retry finds nothing to retry
    assert post(stack, tenant.admin, f"{TASKS}/{task['task_id']}/retry").status == 404
    audit = get(stack, tenant.admin, "/v1/admin/audit?action=dlq.task_retried").json()
    assert [entry["target"] for entry in audit["items"]] == [f"task:{task['task_id']}"]


def test_a_failed_scheduled_run_is_retried_by_invoking_its_function_again(
    stack: RunningStack, tenant: TenantTokens
) -> None:
    # Given Lambda's on-failure record of a retention job run that failed three times (put there by hand)
    run_id = str(uuid.uuid4())
    scheduled = {
        "version": "0",
        "id": run_id,
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"attempt-number": 1},
    }
    record = {
        "version": "1.0",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:privacy_retention_job:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": scheduled,
        "responsePayload": {"errorType": "TimeoutError", "errorMessage": "the table did not answer"},
    }
    stack.aws("sqs").send_message(QueueUrl=queue_url(stack, SCHEDULER_DLQ), MessageBody=json.dumps(record))

    # When the collector has run, the operator finds it (a platform task: no tenant's admin sees it)
    def scheduled_task() -> dict[str, Any] | None:
        found = tasks_of(stack, tenant.operator, task_name="privacy_retention_job", exception_type="TimeoutError")
        return next((t for t in found["items"] if t["kind"] == "schedule"), None)

    task = collected("the failed run as a task", scheduled_task, lambda found: found is not None)
    assert (task["source"], task["attempts"], task["tenant"]) == ("schedule:privacy_retention_job", 3, None)
    assert get(stack, tenant.admin, f"{TASKS}/{task['task_id']}").status == 404

    # Then a retry invokes the job again, which succeeds and removes the task
    retried = post(stack, tenant.operator, f"{TASKS}/{task['task_id']}/retry")
    assert retried.status == 200, retried.body
    collected(
        "the retried run resolved",
        lambda: get(stack, tenant.operator, f"{TASKS}/{task['task_id']}").status,
        (404).__eq__,
    )
