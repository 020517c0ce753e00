"""The records the SLA views and alarms count (decision 0101): one per HTTP answer with its route template,
audience, status, problem code and marks; one per queue message taken, with how long it waited; never carrying
anything over from one request to the next."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from firstmile import entrypoints
from firstmile.flags.cache import FLAG_SET_EXPIRED_MARK
from firstmile.http import problems as p
from firstmile.http.resolver import create_app
from firstmile.observability import mark_request
from firstmile.sla.objectives import OBJECTIVES, marks
from firstmile.sla.requests import MARKER, mark_metric, sample_of
from local.events import sqs_event
from tests.factories import FakeLambdaContext

ROUTE_KEY = "GET /v1/things/{thing}"


def http_event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path}, "requestId": "r-1", "stage": "$default"},
        "isBase64Encoded": False,
    }


def records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if MARKER in line]


def test_each_answer_writes_one_record_with_its_route_template_status_code_and_marks(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRSTMILE_ROUTE_ROLE", "public")
    app = create_app()

    @app.get("/v1/things/<thing>")
    def thing(thing: str) -> dict[str, str]:
        if thing == "stale":
            mark_request(FLAG_SET_EXPIRED_MARK)
        if thing == "missing":
            raise p.Problem(p.CODES["RES_NOT_FOUND"], "No such thing.")
        return {"thing": thing}

    handler = entrypoints.http(app)
    capsys.readouterr()

    handler(http_event("/v1/things/stale"), FakeLambdaContext())
    handler(http_event("/v1/things/missing"), FakeLambdaContext())
    handler(http_event("/v1/things/ok"), FakeLambdaContext())

    stale, missing, ok = records(capsys.readouterr().out)
    # The path's values never appear: the route template does
    assert {r["route"] for r in (stale, missing, ok)} == {ROUTE_KEY}
    assert (stale["status"], stale["marks"], stale[mark_metric(FLAG_SET_EXPIRED_MARK)]) == (
        200,
        [FLAG_SET_EXPIRED_MARK],
        1,
    )
    assert (missing["status"], missing["code"], missing["ClientErrors"], missing["ServerErrors"]) == (
        404,
        "RES_NOT_FOUND",
        1,
        0,
    )
    assert "marks" not in missing and missing[mark_metric(FLAG_SET_EXPIRED_MARK)] == 0
    assert (ok["status"], ok["audience"], ok["Requests"]) == (200, "public", 1)
    # Each record is an embedded-metric document CloudWatch reads, and one the aggregator reads back
    declared = {m["Name"] for m in ok["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Requests", "ServerErrors", "ClientErrors", "Latency", "SlowerThan300ms", "FlagSetExpired"} <= declared
    assert ok["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "audience"]]
    sample = sample_of(json.dumps(stale))
    assert sample is not None and sample.marks == frozenset({FLAG_SET_EXPIRED_MARK}) and sample.latency_ms >= 0


def test_each_queue_message_taken_writes_how_long_it_waited(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRSTMILE_STAGE", "local")
    sent = str(int(time.time() * 1000) - 90_000)
    arn = "arn:aws:sqs:us-east-1:1:firstmile-local-onboarding-migrations"
    messages = [
        {
            "MessageId": m,
            "ReceiptHandle": m,
            "Body": json.dumps({"fail": m == "bad"}),
            "Attributes": {"SentTimestamp": sent},
        }
        for m in ("good", "bad")
    ]

    def work(record: Any) -> None:
        if json.loads(record.body)["fail"]:
            raise ValueError("no")

    capsys.readouterr()
    answer = entrypoints.sqs_batch(work)(sqs_event(messages, arn), FakeLambdaContext())
    assert [f["itemIdentifier"] for f in answer["batchItemFailures"]] == ["bad"]

    good, bad = sorted(records(capsys.readouterr().out), key=lambda r: r["status"])
    assert (good["route"], good["audience"], good["status"]) == (
        "QUEUE onboarding-migrations",
        "queue:onboarding-migrations",
        200,
    )
    assert bad["status"] == 500
    assert 90_000 <= good["Latency"] < 120_000


def test_the_kill_switch_objective_counts_the_mark_the_flag_cache_sets() -> None:
    (objective,) = [o for o in OBJECTIVES if o.key == "kill-switch-propagation"]
    assert objective.marked == FLAG_SET_EXPIRED_MARK
    assert FLAG_SET_EXPIRED_MARK in marks()
