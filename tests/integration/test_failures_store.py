"""The failure store against the table engine, and a queue consumer recording its failure there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from firstmile.audit.store import AuditStore
from firstmile.composition import container
from firstmile.config import get_settings
from firstmile.failures.store import FailureStore
from firstmile.failures.task_store import TaskStore
from local.events import sqs_event
from tests.contracts.failures import FailureStoreContract, TaskStoreContract
from tests.factories import FakeLambdaContext, load_handler
from tests.integration.conftest import Deployment


class TestFailureStoreContract(FailureStoreContract):
    implementation = FailureStore

    @pytest.fixture
    def failures(self, table: Any) -> FailureStore:
        return FailureStore(table)


class TestTaskStoreContract(TaskStoreContract):
    implementation = TaskStore

    @pytest.fixture
    def tasks(self, table: Any) -> TaskStore:
        return TaskStore(table, audit=AuditStore(table))


def test_a_queue_consumer_records_each_failed_delivery_before_the_message_returns_to_its_queue(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the exposure worker, and a message it cannot count (no day), carrying a secret
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "flag_exposure_worker")
    body = {"tenant": "t-acme", "rate": 0.5, "exposures": [], "client_secret": "s3cr3t-value"}
    arn = f"arn:aws:sqs:us-east-1:000000000000:firstmile-{get_settings().stage}-flag-exposures"
    message = {"MessageId": "m-poison", "ReceiptHandle": "r-1", "Body": json.dumps(body), "Attributes": {}}
    event = sqs_event([message], arn)
    record = event["Records"][0]
    worker = load_handler("flag_exposure_worker")

    # When it is delivered twice (a batch of it alone: the whole invocation fails, and the message returns)
    for receive in ("1", "2"):
        record["attributes"]["ApproximateReceiveCount"] = receive
        with pytest.raises(BatchProcessingError):
            worker.lambda_handler(event, FakeLambdaContext())

    # Then one record holds both attempts, the error and the payload with its secret redacted
    # (by the queue's logical name, which its dead-letter task names too)
    stored = container().failure_store.get("queue:flag-exposures", record["messageId"])
    assert stored is not None
    assert (stored.task, stored.attempts, stored.tenant) == ("flag_exposure_worker", 2, "t-acme")
    assert stored.exception_type and "Traceback" in stored.traceback
    assert stored.payload["client_secret"] != "s3cr3t-value" and stored.payload["rate"] == 0.5
