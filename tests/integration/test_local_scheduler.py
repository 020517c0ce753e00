"""The local scheduler: AWS schedule expressions, firing on time, retries and the scheduler dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.platform.resources import SCHEDULER_DLQ
from functions.catalog import CATALOG, Schedule
from local.emulator import Emulator, client
from local.environment import LocalEnvironment
from local.resources import create_resources, deployment_for
from local.runtime import Runtime
from local.scheduler import Scheduler, parse_expression, scheduled_functions, sqs_dead_letter_sink
from tests.integration.local_fixtures import FixtureFunction, wait_for

MIDNIGHT = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday

FAILING_JOB = FixtureFunction(
    name="failing_job",
    domain="fixture",
    stack="fixture",
    description="Always fails.",
    trigger=Schedule("rate(1 hour)", retry_attempts=2),
    timeout_seconds=5,
)
RECORDING_JOB = FixtureFunction(
    name="recording_job",
    domain="fixture",
    stack="fixture",
    description="Records each event it gets.",
    trigger=Schedule("rate(1 minute)"),
    timeout_seconds=10,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", [MIDNIGHT + timedelta(minutes=1), MIDNIGHT + timedelta(minutes=2)]),
        ("rate(6 hours)", [MIDNIGHT + timedelta(hours=6), MIDNIGHT + timedelta(hours=12)]),
        ("cron(30 2 * * ? *)", [datetime(2025, 1, 1, 2, 30, tzinfo=UTC), datetime(2025, 1, 2, 2, 30, tzinfo=UTC)]),
        # AWS numbers weekdays from 1 = Sunday, so 2 is Monday.
        ("cron(0 9 ? * 2 *)", [datetime(2025, 1, 6, 9, tzinfo=UTC), datetime(2025, 1, 13, 9, tzinfo=UTC)]),
        ("cron(0 9 ? * MON-FRI *)", [datetime(2025, 1, 1, 9, tzinfo=UTC), datetime(2025, 1, 2, 9, tzinfo=UTC)]),
        ("cron(0 0 ? * 1#2 *)", [datetime(2025, 1, 12, tzinfo=UTC), datetime(2025, 2, 9, tzinfo=UTC)]),
        ("cron(0 0 1 * ? 2027)", [datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)]),
    ],
)
def test_expressions_fire_when_aws_would(expression: str, expected: list[datetime]) -> None:
    # Given an AWS schedule expression, its schedule created at midnight
    parsed = parse_expression(expression, start=MIDNIGHT)

    # When the next two fire times are computed
    first = parsed.next_after(MIDNIGHT)
    second = parsed.next_after(first)

    # Then they are AWS's
    assert [first, second] == expected


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 12 * * * *)", "cron(0 12 ? * 8 *)", "daily"],
)
def test_expressions_aws_refuses_are_refused(expression: str) -> None:
    # Given an expression EventBridge Scheduler would refuse
    # When it is parsed
    # Then it is refused with the expression named
    with pytest.raises(ValueError, match=r"rate|cron|day-of|daily"):
        parse_expression(expression)


def test_every_schedule_of_the_catalogue_parses() -> None:
    # Given the real catalogue
    # When each schedule expression is parsed
    # Then every scheduled function has a next fire time
    for function in scheduled_functions(CATALOG):
        assert isinstance(function.trigger, Schedule)
        assert parse_expression(function.trigger.expression).next_after(MIDNIGHT) > MIDNIGHT


@dataclass
class Jobs:
    runtime: Runtime
    endpoint: str
    table_name: str
    dead_letter_url: str


@pytest.fixture
def jobs() -> Iterator[Jobs]:
    emulator = Emulator(port=0).start()
    catalog = (FAILING_JOB, RECORDING_JOB)
    deployment = deployment_for(catalog)
    urls = create_resources(deployment, emulator.endpoint)
    runtime = Runtime(catalog, LocalEnvironment(deployment, emulator.endpoint, urls, ()).for_function).start()
    yield Jobs(runtime, emulator.endpoint, deployment.table_name, urls[SCHEDULER_DLQ])
    runtime.stop()
    emulator.stop()


def _scheduler(jobs: Jobs, started_at: datetime | None = None) -> Scheduler:
    sink = sqs_dead_letter_sink(client("sqs", jobs.endpoint), jobs.dead_letter_url)
    return Scheduler(
        (FAILING_JOB, RECORDING_JOB), jobs.runtime, sink, stage="local", retry_delay_seconds=0.1, started_at=started_at
    )


def test_a_failing_run_is_retried_then_sent_to_the_scheduler_dead_letter_queue(jobs: Jobs) -> None:
    # Given a job that always fails, with two retries
    scheduler = _scheduler(jobs)
    scheduled_time = datetime.now(UTC).replace(microsecond=0)

    # When one scheduled run happens
    outcome = scheduler.run("failing_job", scheduled_time)

    # Then it was tried three times and its event went to the scheduler's dead-letter queue as Lambda's on-failure
    # destination record (Lambda retries an asynchronous run and hands it to the destination, as in AWS)
    assert outcome is not None
    assert (outcome.attempts, outcome.dead_lettered) == (3, True)
    sqs = client("sqs", jobs.endpoint)
    messages = sqs.receive_message(QueueUrl=jobs.dead_letter_url, MessageAttributeNames=["All"])["Messages"]
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    event = record["requestPayload"]
    assert event["source"] == "aws.scheduler"
    assert event["time"] == scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["functionArn"].endswith(":function:failing_job:$LATEST")


def test_a_rate_schedule_fires_its_function_on_time(jobs: Jobs) -> None:
    # Given a one-minute rate schedule created 59 seconds ago, so it is due in a second
    scheduler = _scheduler(jobs, started_at=datetime.now(UTC) - timedelta(seconds=59))
    due = scheduler.next_fire_times()["recording_job"]

    # When the scheduler runs
    scheduler.start()
    try:
        dynamodb = client("dynamodb", jobs.endpoint)

        def recorded() -> list[dict[str, Any]]:
            return dynamodb.query(
                TableName=jobs.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "FIXTURE#scheduled"}},
            )["Items"]

        items = wait_for(recorded, timeout=60)
    finally:
        scheduler.stop()

    # Then the function ran with a Scheduler event for the due time
    assert items[0]["source"]["S"] == "aws.scheduler"
    assert items[0]["scheduled_time"]["S"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
