"""The stack under injected faults (decision 0092), on a stack of its own started with ``FIRSTMILE_FAULTS_FILE``:
throttles, 5xx answers and timeouts are injected into the functions' AWS calls at botocore's level, at a set rate,
during a bounded burst of API traffic and queue work, then the table goes down altogether for a few seconds.

What must hold: no answer is a 500 (a dependency that stays down is a 503 problem with ``Retry-After``); no message
is lost (every one sent is counted, or waits as a dead-letter task with its failure record); readiness names the
table while it is down, its breaker opens, and it closes again once the table is back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firstmile.platform.resilience import FAULTS_FILE_ENV
from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE
from functions.catalog import CATALOG
from local.config import VISIBILITY_ENV
from local.resources import deployment_for
from tests.e2e.harness import Reply, RunningStack, TenantTokens, call, start, stop, tenant_with_tokens, until

pytestmark = pytest.mark.e2e

MESSAGES = 40
# Messages no retry can help (a sample rate of 0): they must end as dead-letter tasks with their failure records.
POISON = 3
BURST_ROUNDS = 30
FAULTY = {"rate": 0.3, "services": ["dynamodb", "sqs"], "kinds": ["throttle", "unavailable", "timeout"]}
TABLE_DOWN = {"rate": 1.0, "services": ["dynamodb"], "kinds": ["unavailable", "timeout"]}
# Five receives 5 s apart, then the collector's next run (every minute).
DRAINED_TIMEOUT_SECONDS = 180.0


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "faults.json"
    path.write_text(json.dumps({"rate": 0}))
    return path


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory, faults: Path) -> Iterator[RunningStack]:
    # Failed messages come back after 5 s rather than 6x their consumer's timeout, so the poison ones reach their
    # dead-letter queue (five receives) within the test.
    env = {FAULTS_FILE_ENV: str(faults), VISIBILITY_ENV: "5"}
    running = start(tmp_path_factory.mktemp("faulty-stack"), extra_env=env)
    yield running
    stop(running)


def inject(faults: Path, plan: dict[str, Any]) -> None:
    faults.write_text(json.dumps(plan))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_500(replies: list[Reply]) -> None:
    for reply in replies:
        assert reply.status < 500 or reply.status == 503, (reply.status, reply.body[:300])
        if reply.status == 503:
            assert reply.headers["Content-Type"] == "application/problem+json", reply.body[:300]
            assert int(reply.headers["Retry-After"]) >= 1, reply.body[:300]


def test_under_faults_nothing_answers_500_nothing_is_lost_and_the_breaker_opens_and_recovers(
    faulty_stack: RunningStack, faults: Path
) -> None:
    stack = faulty_stack
    tenant: TenantTokens = tenant_with_tokens(stack, f"e2e-faults-{uuid.uuid4().hex[:6]}")
    # One flag the burst evaluates (its sampled exposures go through the queue too), one the test's own queue
    # messages name, so their count is exact
    key, counted_key = f"e2e-faults-{uuid.uuid4().hex[:8]}", f"e2e-faults-q-{uuid.uuid4().hex[:8]}"
    for flag_key in (key, counted_key):
        flag = {"key": flag_key, "description": "faults", "enabled": True, "fallthrough": {"value": True}}
        assert call(stack.url("/v1/admin/feature-flags"), "POST", bearer(tenant.admin), flag).status == 201
    sqs = stack.aws("sqs")
    name = next(q.name for q in deployment_for(CATALOG).queues if q.logical_name == FLAG_EXPOSURES_QUEUE)
    queue = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    day = datetime.now(UTC).date().isoformat()

    # When faults hit 30 % of the functions' table and queue calls during a burst of API traffic and queue work
    inject(faults, FAULTY)
    for n in range(MESSAGES):
        event = {"id": f"fault-{n}", "tenant": tenant.tenant_id, "day": day, "rate": 1.0}
        sqs.send_message(
            QueueUrl=queue, MessageBody=json.dumps({**event, "exposures": [{"flag": counted_key, "variant": "true"}]})
        )
    for n in range(POISON):
        event = {"id": f"poison-{n}", "tenant": tenant.tenant_id, "day": day, "rate": 0}
        sqs.send_message(
            QueueUrl=queue, MessageBody=json.dumps({**event, "exposures": [{"flag": counted_key, "variant": "x"}]})
        )
    replies: list[Reply] = []
    for _ in range(BURST_ROUNDS):
        replies.append(call(stack.url("/v1/flags/evaluate"), "POST", bearer(tenant.user), {"flags": [key]}))
        replies.append(call(stack.url("/v1/onboarding/status"), "GET", bearer(tenant.user)))
        replies.append(call(stack.url(f"/v1/admin/feature-flags/{key}"), "GET", bearer(tenant.admin)))

    # ...and then the table is down altogether
    inject(faults, TABLE_DOWN)
    down = [call(stack.url("/health/ready"), "GET") for _ in range(8)]
    replies += down
    replies += [call(stack.url("/v1/onboarding/status"), "GET", bearer(tenant.user)) for _ in range(8)]
    inject(faults, {"rate": 0})

    # Then no answer was a 500; readiness said the table was down, and its breaker opened
    assert_no_500(replies)
    statuses = [r.status for r in replies]
    assert statuses.count(200) >= BURST_ROUNDS, statuses  # most of the burst was served through the retries
    assert all(r.status == 503 for r in down[-3:]), [r.status for r in down]
    last = down[-1].json()
    assert "table" in last["detail"]
    assert any(b["dependency"] == "dynamodb" and b["state"] in ("open", "half_open") for b in last["breakers"])

    # ...and it recovers: once the table is back and the breaker's open time has passed, readiness is 200 again
    ready = until(
        "readiness back", lambda: call(stack.url("/health/ready"), "GET"), lambda r: r.status == 200, 60, pause=2.0
    )
    dynamodb = next(b for b in ready.json()["breakers"] if b["dependency"] == "dynamodb")
    assert dynamodb["state"] == "closed" and dynamodb["opened"] >= 1

    # ...and every message is accounted for: counted exactly once, or (the poison ones) waiting as dead-letter tasks,
    # each with the failure record its consumer wrote
    def accounted() -> tuple[int, int]:
        # A container whose breaker is still open answers 503 for a few seconds after the table is back: not yet.
        report = call(stack.url(f"/v1/admin/feature-flags/{counted_key}/exposures"), "GET", bearer(tenant.admin))
        tasks = call(stack.url("/v1/admin/dlq/tasks?task_name=flag_exposure_worker"), "GET", bearer(tenant.admin))
        if report.status != 200 or tasks.status != 200:
            return -1, -1
        return sum(c["sampled"] for c in report.json()["counts"]), tasks.json()["total"]

    counted, dead = until(
        "every message counted or dead-lettered",
        accounted,
        lambda c: c == (MESSAGES, POISON),
        DRAINED_TIMEOUT_SECONDS,
        pause=2.0,
    )
    table = stack.aws("dynamodb")
    records = table.query(
        TableName=deployment_for(CATALOG).table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"FAILURE#queue:{FLAG_EXPOSURES_QUEUE}"}},
    )["Items"]
    retried = [
        r
        for r in records
        if tenant.tenant_id in json.dumps(r) and ('"fault-' in json.dumps(r) or '"poison-' in json.dumps(r))
    ]
    sent = MESSAGES + POISON
    summary = f"faults: {sent} sent = {counted} counted + {dead} dead-lettered; {len(retried)} failed at least once"
    print(summary)  # noqa: T201 - the figure the closing note quotes
    assert counted + dead == sent
    assert len(retried) >= POISON  # the poison messages, and any the faults made fail once
    listed = call(stack.url("/v1/admin/dlq/tasks"), "GET", bearer(tenant.admin)).json()["items"]
    for task in listed:
        detail = call(stack.url(f"/v1/admin/dlq/tasks/{task['task_id']}"), "GET", bearer(tenant.admin)).json()
        assert (detail["failure_recorded"], detail["exception_type"]) == (True, "ValueError")
        assert detail["attempts"] >= 5  # the queue's maxReceiveCount
