"""The aggregator function over the table engine's own stream: onboarding writes its events, the stream's records
are handed to the real handler as Lambda hands a batch, and the funnel report reads what they counted."""

from __future__ import annotations

import gzip
import json
from datetime import date
from typing import Any

import pytest

from firstmile.analytics.archive import user_bucket
from firstmile.analytics.reports import ReportQuery
from firstmile.composition import container, reset
from firstmile.config import reset_settings
from firstmile.onboarding.models import StepAction, StepCommand, TransitionEvent
from functions.catalog import TableStream, by_name
from local.emulator import client
from local.events import stream_event
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment
from tests.integration.test_onboarding_user_routes import WELCOME, publish_default_flow

TENANT = "t-funnel"


def stream_records(deployment: Deployment) -> tuple[list[dict[str, Any]], str]:
    """Every record of the test table's stream so far, in order, with the stream's ARN."""
    dynamodb = client("dynamodb", deployment.table_endpoint)
    streams = client("dynamodbstreams", deployment.table_endpoint)
    arn = dynamodb.describe_table(TableName=deployment.table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += answer["Records"]
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return records, arn


def test_the_aggregator_counts_the_events_onboarding_wrote_once_however_often_delivered(
    deployment: Deployment,
) -> None:
    # Given a flow and three users: one finishes, one completes a step and skips the tour, one only enrols
    publish_default_flow(TENANT)
    progress = container().progress
    steps = [s.id for s in WELCOME.steps]
    for user in ("u-1", "u-2", "u-3"):
        progress.status(TENANT, user, attributes={"country": "DE"})
    progress.step(TENANT, "u-2", StepCommand(step_id=steps[0], action=StepAction.COMPLETE), None)
    progress.step(TENANT, "u-2", StepCommand(step_id="product-tour", action=StepAction.SKIP), None)

    # When the stream's records, filtered as the mapping filters them, are handed to the aggregator twice
    records, arn = stream_records(deployment)
    trigger = by_name("funnel_aggregator").trigger
    assert isinstance(trigger, TableStream)
    admitted = [r for r in records if trigger.admits(r)]
    assert 0 < len(admitted) < len(records)  # progress items, flows and the audit log are filtered out
    handler = load_handler("funnel_aggregator")
    for _ in range(2):
        answer = handler.lambda_handler(stream_event(admitted, arn), FakeLambdaContext())
        assert answer == {"batchItemFailures": []}

    # Then the funnel of the day counts each user once
    today = container().analytics_reports.today()
    report = container().analytics_reports.funnel(TENANT, ReportQuery("welcome", today, today))
    assert report.total_sessions == 3
    stages = {s.step_id: s for s in report.stages}
    assert (stages[steps[0]].count, stages["product-tour"].skipped) == (1, 1)
    # And the segment taken at enrolment is counted too
    german = container().analytics_reports.funnel(TENANT, ReportQuery("welcome", today, today, segment="country=DE"))
    assert german.total_sessions == 3
    assert date.fromisoformat(str(report.period.start)) == today


def test_the_archive_holds_every_event_onboarding_wrote_and_a_redelivery_writes_the_same_objects(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three users' events, and the archiver writing to the test's bucket
    monkeypatch.setenv("FIRSTMILE_ARCHIVE_BUCKET", deployment.bucket)
    reset_settings()
    reset()
    publish_default_flow(TENANT)
    progress = container().progress
    for user in ("u-1", "u-2", "u-3"):
        progress.status(TENANT, user)
        progress.step(TENANT, user, StepCommand(step_id="welcome", action=StepAction.COMPLETE), None)
    progress.step(TENANT, "u-2", StepCommand(step_id="product-tour", action=StepAction.SKIP, reason="later"), None)

    # When the stream's records, as the archiver's mapping filters them, are handed to it twice
    records, arn = stream_records(deployment)
    trigger = by_name("analytics_archiver").trigger
    assert isinstance(trigger, TableStream)
    admitted = [r for r in records if trigger.admits(r)]
    handler = load_handler("analytics_archiver")
    s3 = deployment.client("s3")
    keys = []
    for _ in range(2):
        assert handler.lambda_handler(stream_event(admitted, arn), FakeLambdaContext()) == {"batchItemFailures": []}
        keys.append(
            sorted(o["Key"] for o in s3.list_objects_v2(Bucket=deployment.bucket, Prefix="events/")["Contents"])
        )

    # Then the second delivery wrote the same objects again, one per tenant, day and user bucket
    assert keys[0] == keys[1]
    day = container().analytics_reports.today().isoformat()
    assert all(k.startswith(f"events/tenant={TENANT}/date={day}/bucket=") and k.endswith(".json.gz") for k in keys[0])
    assert len(keys[0]) == len({user_bucket(u) for u in ("u-1", "u-2", "u-3")})
    # And the objects read back are exactly the events onboarding wrote
    lines = [
        json.loads(line)
        for key in keys[0]
        for line in gzip.decompress(s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read()).splitlines()
    ]
    archived = sorted(
        (TransitionEvent.model_validate(line) for line in lines), key=lambda e: (e.user, e.progress_version)
    )
    written = [e for user in ("u-1", "u-2", "u-3") for e in container().onboarding_store.list_events(TENANT, user)]
    assert archived == sorted(written, key=lambda e: (e.user, e.progress_version))
    assert len({line["event_id"] for line in lines}) == len(lines) == len(written)
