"""The one retry policy and the circuit breakers, inside botocore (decision 0092): what is retried and how often, a
breaker opening, refusing, probing and closing, and faults injected only against a loopback endpoint. Every request
here is answered by a ``before-send`` handler: nothing reaches a network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from firstmile.errors import DependencyUnavailableError
from firstmile.platform import resilience
from firstmile.platform.gateway import TableGateway
from firstmile.platform.resilience import (
    FAULTS_FILE_ENV,
    BreakerSettings,
    CircuitOpenError,
    RetryPolicy,
    breaker,
    breaker_states,
    install,
    retryable,
)

NO_WAIT = RetryPolicy(max_attempts=3, base_seconds=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Answers:
    """A ``before-send`` handler answering from a script: each entry a status and an error code (``None``: 200),
    or an exception to raise; the last entry repeats."""

    def __init__(self, *script: tuple[int, str | None] | BaseException) -> None:
        self.script = list(script)
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.sent += 1
        step = self.script[min(self.sent, len(self.script)) - 1]
        if isinstance(step, BaseException):
            raise step
        status, code = step
        body = b"{}" if code is None else json.dumps({"__type": code, "message": "scripted"}).encode()
        headers = HTTPHeaders.from_dict({"Content-Type": "application/x-amz-json-1.0"})
        return AWSResponse(request.url, status, headers, _Body(body))


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


@pytest.fixture
def clock() -> Iterator[Clock]:
    resilience.reset_breakers()
    fake = Clock()
    breaker("dynamodb").clock = fake
    yield fake
    resilience.reset_breakers()


def dynamodb(answers: Answers | None = None, *, endpoint: str = "http://127.0.0.1:9") -> Any:
    session = botocore.session.get_session()
    client = session.create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the emulator's placeholder
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    install(client, "dynamodb", NO_WAIT)
    if answers is not None:
        client.meta.events.register("before-send", answers)
    return client


def get(client: Any) -> Any:
    return client.get_item(TableName="t", Key={"pk": {"S": "a"}})


def test_the_policy_waits_with_full_jitter_under_a_growing_cap_and_tries_three_times() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=0.05, cap_seconds=0.08)
    assert (policy.delay(1, lambda: 1.0), policy.delay(2, lambda: 1.0), policy.delay(3, lambda: 1.0)) == (
        0.05,
        0.08,
        0.08,
    )
    assert policy.delay(2, lambda: 0.0) == 0.0
    assert [policy.retries(n) for n in (1, 2, 3)] == [True, True, False]


def test_throttles_5xx_and_timeouts_are_retried_and_the_requests_own_faults_are_not() -> None:
    assert retryable(400, "ProvisionedThroughputExceededException", None)
    assert retryable(503, None, None) and retryable(500, "InternalServerError", None)
    assert retryable(None, None, ReadTimeoutError(endpoint_url="http://x"))
    assert not retryable(400, "ValidationException", None)
    assert not retryable(400, "ConditionalCheckFailedException", None)
    assert not retryable(403, "AccessDeniedException", None)
    assert not retryable(None, None, ValueError("a defect"))


def test_a_throttled_call_is_tried_three_times_and_a_refused_one_once(clock: Clock) -> None:
    throttled = Answers((400, "ProvisionedThroughputExceededException"))
    with pytest.raises(ClientError):
        get(dynamodb(throttled))
    assert throttled.sent == 3

    recovering = Answers((500, "InternalServerError"), (200, None))
    assert "Item" not in get(dynamodb(recovering))
    assert recovering.sent == 2

    refused = Answers((400, "ValidationException"))
    with pytest.raises(ClientError):
        get(dynamodb(refused))
    assert refused.sent == 1


def test_the_breaker_opens_after_five_failed_calls_refuses_without_sending_then_probes_and_closes(
    clock: Clock,
) -> None:
    down = Answers(ReadTimeoutError(endpoint_url="http://127.0.0.1:9"))
    client = dynamodb(down)
    for _ in range(BreakerSettings().failures_to_open):
        with pytest.raises(ReadTimeoutError):
            get(client)
    assert down.sent == 15  # five calls, three tries each

    # Open: refused at once, nothing sent, saying how long to wait
    with pytest.raises(CircuitOpenError) as refused:
        get(client)
    assert down.sent == 15 and refused.value.retry_after == 10
    [stats] = breaker_states()
    assert (stats.state, stats.opened, stats.short_circuited) == ("open", 1, 1)

    # After the open time one probe goes through: its success closes the breaker
    clock.now += 10
    client.meta.events.unregister("before-send", down)
    up = Answers((200, None))
    client.meta.events.register("before-send", up)
    get(client)
    assert up.sent == 1 and breaker_states()[0].state == "closed"


def test_a_failed_probe_opens_the_breaker_again(clock: Clock) -> None:
    client = dynamodb(Answers((503, None)))
    for _ in range(5):
        with pytest.raises(ClientError):
            get(client)
    clock.now += 10
    with pytest.raises(ClientError):
        get(client)  # the probe, failing
    with pytest.raises(CircuitOpenError):
        get(client)
    assert breaker_states()[0].opened == 2


def test_the_table_gateway_answers_an_open_breaker_as_unavailable_with_the_wait(clock: Clock) -> None:
    client = dynamodb(Answers((503, None)))
    gateway = TableGateway.over_client(client, "t")
    for _ in range(5):
        with pytest.raises(DependencyUnavailableError):
            gateway.get({"pk": "a", "sk": "b"})
    clock.now += 4
    with pytest.raises(DependencyUnavailableError) as refused:
        gateway.get({"pk": "a", "sk": "b"})
    assert refused.value.retry_after_seconds == 6


def test_faults_are_injected_only_against_a_loopback_endpoint(
    clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rate": 1.0, "kinds": ["throttle"]}))
    monkeypatch.setenv(FAULTS_FILE_ENV, str(faults))
    answered = Answers((200, None))

    with pytest.raises(ClientError) as injected:
        get(dynamodb(answered))
    assert injected.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"

    faults.write_text(json.dumps({"rate": 0}))  # read again when it changes: the scripted answer comes through
    resilience.reset_breakers()
    assert "Item" not in get(dynamodb(answered))

    remote = resilience.FaultInjector.from_environment("https://dynamodb.eu-west-1.amazonaws.com", "dynamodb")
    assert remote is None


def test_an_injected_delay_slows_every_request_of_the_named_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"delay_ms": 40, "services": ["dynamodb"]}))
    slept: list[float] = []
    monkeypatch.setattr(resilience.time, "sleep", slept.append)
    injector = resilience.FaultInjector(str(faults), "dynamodb")

    assert injector.before_send(object()) is None  # sent, only later
    assert resilience.FaultInjector(str(faults), "sqs").before_send(object()) is None
    assert slept == [0.04]
