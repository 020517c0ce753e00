"""What a million onboarding step completions and a million flag evaluations cost in AWS, at list prices, from what
the real handlers do here (issue 15, docs/performance.md).

Measured, in this process, on the local emulator (``local.emulator.Emulator``: DynamoDB Local and moto), with the
real handlers of ``functions/`` configured from their catalogue entries:

- per request, the function's wall time (warm container), the DynamoDB request units it consumed (every request asks
  DynamoDB Local for ``ReturnConsumedCapacity=TOTAL``; a transactional write is billed twice its units in AWS, so
  those are doubled), the SQS messages it sent and the bytes it wrote to its log (its JSON log lines and its request
  record);
- for a step completion, what follows it: each table-stream consumer whose filter takes the change is run on the
  change's stream records (its time, units and log bytes, per record);
- the authorizer: ``authorize()`` of a warm container (``bench/auth.py``'s fixture), plus one revocation read (the
  most it reads: a user the container has not seen in 5 s).

Priced at US East (N. Virginia) list prices, stated in ``PRICES``: API Gateway HTTP API requests; Lambda requests and
arm64 GB-seconds at each function's memory; DynamoDB on-demand read and write request units; SQS requests; S3 PUT
requests; CloudWatch Logs ingestion. Not included: storage (the items and logs kept), the log subscription's
deliveries to ``sla_request_aggregator`` (one run per delivery of many records), custom metrics and alarms (a monthly
fee whatever the traffic: decision 0102), data transfer, and the free tiers.

The wall times are this machine's (x86-64, in-process, no network), not Lambda's arm64: a deployed function's
duration adds the network round trips to DynamoDB (a few milliseconds each) and is billed by the millisecond.
Run ``python bench/cost.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import run_header  # noqa: E402
from bench.onboarding import (  # noqa: E402
    ADMIN,
    TENANT,
    LambdaContext,
    api_event,
    load_handler,
    seed_default_flow,
    use_emulator,
)

PRICES = {
    "api_request": 1.00 / 1e6,  # HTTP API, first 300 million a month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "read_unit": 0.125 / 1e6,  # DynamoDB on-demand, per read request unit
    "write_unit": 0.625 / 1e6,  # per write request unit
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "s3_put": 0.005 / 1000,  # S3 Standard PUT requests
    "log_gb": 0.50,  # CloudWatch Logs ingestion (standard)
}
"""US East (N. Virginia) list prices, December 2026 (aws.amazon.com/<service>/pricing)."""
AUTHORIZER_MEMORY_MB = 256
FLAGS = 10
CAPACITY_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem",
     "TransactWriteItems", "TransactGetItems"}
)  # fmt: skip


@dataclass
class Meter:
    """What the calls made while ``on``: DynamoDB units by kind, SQS messages."""

    on: bool = False
    read_units: float = 0.0
    write_units: float = 0.0
    sqs_messages: int = 0
    s3_puts: int = 0
    operations: dict[str, int] = field(default_factory=dict)

    def before_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params["ReturnConsumedCapacity"] = "TOTAL"

    def after_call(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.on:
            return
        self.operations[model.name] = self.operations.get(model.name, 0) + 1
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            factor = 2.0 if model.name.startswith("Transact") else 1.0
            reads = float(entry.get("ReadCapacityUnits") or 0)
            writes = float(entry.get("WriteCapacityUnits") or 0)
            if not reads and not writes:  # DynamoDB Local may give the total only
                total = float(entry.get("CapacityUnits") or 0)
                reads, writes = (total, 0.0) if model.name in ("GetItem", "Query", "BatchGetItem") else (0.0, total)
            self.read_units += reads * factor
            self.write_units += writes * factor

    def sqs_after(self, model: Any, **_: Any) -> None:
        if self.on and model.name in ("SendMessage", "SendMessageBatch"):
            self.sqs_messages += 1

    def s3_after(self, model: Any, **_: Any) -> None:
        if self.on and model.name == "PutObject":
            self.s3_puts += 1

    @contextlib.contextmanager
    def measuring(self) -> Iterator[Meter]:
        self.on = True
        try:
            yield self
        finally:
            self.on = False


@dataclass
class Cost:
    """One request's (or one stream record's) measured use."""

    label: str
    memory_mb: int
    milliseconds: list[float] = field(default_factory=list)
    read_units: float = 0.0
    write_units: float = 0.0
    sqs_messages: float = 0.0
    s3_puts: float = 0.0
    log_bytes: float = 0.0
    invocations_per_unit: float = 1.0
    api_requests: float = 0.0

    def per_million(self) -> dict[str, float]:
        # Lambda bills each run's duration rounded up to the millisecond; a stream consumer's runs are shared.
        ms = statistics.median(self.milliseconds) if self.milliseconds else 0.0
        billed = math.ceil(ms) if self.invocations_per_unit >= 1 else ms
        gb_seconds = billed / 1000 * self.memory_mb / 1024
        return {
            "api": self.api_requests * PRICES["api_request"] * 1e6,
            "lambda": (
                self.invocations_per_unit * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second_arm64"]
            )
            * 1e6,
            "dynamodb": (self.read_units * PRICES["read_unit"] + self.write_units * PRICES["write_unit"]) * 1e6,
            "sqs": self.sqs_messages * PRICES["sqs_request"] * 1e6,
            "s3": self.s3_puts * PRICES["s3_put"] * 1e6,
            "logs": self.log_bytes / 1e9 * PRICES["log_gb"] * 1e6,
        }


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    from firstmile.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests measured per kind (default 200)")
    args = parser.parse_args(argv)
    from local.emulator import Emulator

    started = datetime.now(UTC)
    emulator = Emulator(port=0).start()
    try:
        results = measure(emulator.endpoint, emulator.dynamodb_endpoint, args.requests)
    finally:
        emulator.stop()
    report(results, run_header(started), args.requests)
    return 0


def measure(endpoint: str, table_endpoint: str, count: int) -> dict[str, list[Cost]]:
    from firstmile.composition import container
    from firstmile.flags.models import Flag
    from firstmile.platform import aws
    from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, ONBOARDING_MIGRATIONS_QUEUE
    from firstmile.platform.table import MAIN_TABLE
    from local.emulator import client

    table_name = f"cost-{uuid.uuid4().hex[:8]}"
    client("dynamodb", table_endpoint).create_table(**MAIN_TABLE.create_table_request(table_name))
    sqs = client("sqs", endpoint)
    queues = {
        name: sqs.create_queue(QueueName=f"{table_name}-{name}")["QueueUrl"]
        for name in (ONBOARDING_MIGRATIONS_QUEUE, FLAG_EXPOSURES_QUEUE)
    }
    archive = f"{table_name}-archive"
    client("s3", endpoint).create_bucket(Bucket=archive)
    use_emulator(
        endpoint,
        table_name,
        queues,
        AWS_ENDPOINT_URL_DYNAMODB=table_endpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=table_endpoint,
        POWERTOOLS_LOG_LEVEL="INFO",
        FIRSTMILE_ARCHIVE_BUCKET=archive,
    )
    table = aws.table(table_name)
    seed_default_flow(table)
    for n in range(FLAGS):
        flag = {"key": f"cost-{n}", "description": "cost", "enabled": True, "fallthrough": {"value": n % 2 == 0}}
        container().flag_admin.create_flag(TENANT, Flag.model_validate(flag), ADMIN)

    meter = Meter()
    for made in (aws.dynamodb(), table.meta.client):
        made.meta.events.register("before-parameter-build.dynamodb", meter.before_build)
        made.meta.events.register("after-call.dynamodb", meter.after_call)
    aws.sqs().meta.events.register("after-call.sqs", meter.sqs_after)
    aws.s3().meta.events.register("after-call.s3", meter.s3_after)

    step = _route("onboarding_step")
    status = _route("onboarding_status")
    evaluate = _route("flags_evaluate")
    users = [f"cost-user-{n}" for n in range(count + 5)]
    with captured():
        for user in users:  # enrolled first (their first status call), not counted
            status.call("GET", "/v1/onboarding/status", user)
    stream_from = _stream_position(table_endpoint, table_name)

    step_cost = Cost("onboarding_step", _memory("onboarding_step"), api_requests=1)
    for n, user in enumerate(users):
        body = {"step_id": "connect", "action": "complete"}
        _measured(step_cost, meter, lambda u=user, b=body: step.call("POST", "/v1/onboarding/step", u, body=b), n < 5)
    evaluate_cost = Cost("flags_evaluate", _memory("flags_evaluate"), api_requests=1)
    for n, user in enumerate(users):
        _measured(evaluate_cost, meter, lambda u=user: evaluate.call("POST", "/v1/flags/evaluate", u, body={}), n < 5)
    followers = _stream_consumers(table_endpoint, table_name, stream_from, meter, count)
    authorizer = _authorizer_cost(count)
    return {"a step completion": [step_cost, *followers, authorizer], "a flag evaluation": [evaluate_cost, authorizer]}


def _measured(cost: Cost, meter: Meter, call: Callable[[], Any], warm_up: bool) -> None:
    before = (meter.read_units, meter.write_units, meter.sqs_messages)
    with captured() as out, meter.measuring():
        began = time.perf_counter()
        response = call()
        took = (time.perf_counter() - began) * 1000
    status = int(response.get("statusCode", 200)) if isinstance(response, dict) else 200
    if status >= 400:
        raise SystemExit(f"{cost.label} answered {status}: {response.get('body')}")
    if warm_up:
        return
    measured = len(cost.milliseconds) + 1
    cost.milliseconds.append(took)
    cost.read_units += (meter.read_units - before[0] - cost.read_units) / measured
    cost.write_units += (meter.write_units - before[1] - cost.write_units) / measured
    cost.sqs_messages += (meter.sqs_messages - before[2] - cost.sqs_messages) / measured
    cost.log_bytes += (len(out.getvalue().encode()) - cost.log_bytes) / measured


class _Route:
    def __init__(self, name: str) -> None:
        from functions.catalog import by_name

        self.function = by_name(name)
        self.module = load_handler(name)

    def call(self, method: str, path: str, user: str, *, body: Any = None) -> Any:
        from firstmile.config import reset_settings

        route = self.function.route
        assert route is not None
        os.environ["FIRSTMILE_ROUTE_ROLE"] = route.role
        if route.rate_class:
            os.environ["FIRSTMILE_ROUTE_RATE_CLASS"] = route.rate_class
        else:
            os.environ.pop("FIRSTMILE_ROUTE_RATE_CLASS", None)
        reset_settings()
        event = api_event(method, path, user, body=body)
        event["routeKey"] = event["requestContext"]["routeKey"] = route.key
        return self.module.lambda_handler(event, LambdaContext(self.function.name, self.function.memory_mb))


def _route(name: str) -> _Route:
    return _Route(name)


def _memory(name: str) -> int:
    from functions.catalog import by_name

    return by_name(name).memory_mb


def _stream_position(endpoint: str, table: str) -> dict[str, int]:
    """The last change number of each shard now: what follows is the measured steps'."""
    return {shard: max([n for n, _ in records] or [0]) for shard, records in _stream(endpoint, table).items()}


def _stream(endpoint: str, table: str) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    from local.emulator import client

    dynamodb, streams = client("dynamodb", endpoint), client("dynamodbstreams", endpoint)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[tuple[int, dict[str, Any]]] = []
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [(int(r["dynamodb"]["SequenceNumber"]), r) for r in page.get("Records", [])]
            iterator = page.get("NextShardIterator") if page.get("Records") else None
        found[shard["ShardId"]] = records
    return found


def _stream_consumers(endpoint: str, table: str, since: dict[str, int], meter: Meter, count: int) -> list[Cost]:
    """Each stream consumer whose filter takes the steps' changes, run on them in batches as Lambda would."""
    from functions.catalog import CATALOG, TableStream

    changes = [
        _as_event_record(r)
        for shard, records in _stream(endpoint, table).items()
        for n, r in records
        if n > since.get(shard, 0)
    ]
    costs = []
    for function in CATALOG:
        if not isinstance(function.trigger, TableStream):
            continue
        taken = [c for c in changes if function.trigger.admits(c)]
        if not taken:
            continue
        module = load_handler(function.name)
        cost = Cost(f"{function.name} (stream)", function.memory_mb, invocations_per_unit=0.0)
        batches = [
            taken[i : i + function.trigger.batch_size] for i in range(0, len(taken), function.trigger.batch_size)
        ]
        total_ms = 0.0
        before = (meter.read_units, meter.write_units, meter.sqs_messages, meter.s3_puts)
        log_bytes = 0
        for batch in batches:
            with captured() as out, meter.measuring():
                began = time.perf_counter()
                module.lambda_handler({"Records": batch}, LambdaContext(function.name, function.memory_mb))
                total_ms += (time.perf_counter() - began) * 1000
            log_bytes += len(out.getvalue().encode())
        records_per_step = len(taken) / count
        cost.milliseconds = [total_ms / count]
        cost.read_units = (meter.read_units - before[0]) / count
        cost.write_units = (meter.write_units - before[1]) / count
        cost.sqs_messages = (meter.sqs_messages - before[2]) / count
        cost.s3_puts = (meter.s3_puts - before[3]) / count
        cost.log_bytes = log_bytes / count
        cost.invocations_per_unit = len(batches) / count
        cost.label += f": {records_per_step:g} record(s) a step, batches of up to {function.trigger.batch_size}"
        costs.append(cost)
    return costs


def _as_event_record(record: dict[str, Any]) -> dict[str, Any]:
    """A ``GetRecords`` record as Lambda hands it to a consumer (the same fields, JSON-ready)."""
    change = dict(record["dynamodb"])
    change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].timestamp()
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cost/stream/2026-01-01T00:00:00.000",
    }


def _authorizer_cost(count: int) -> Cost:
    """The authorizer's warm ``authorize()`` per token, and one revocation read (1 read unit, the most it reads)."""
    from bench.auth import build_fixture
    from firstmile.identity.authorizer import authorize

    fixture = build_fixture(count, users=max(1, count // 4), seed=15)
    cost = Cost("authorizer", AUTHORIZER_MEMORY_MB, read_units=1.0, log_bytes=0.0)
    for header in fixture.headers:
        began = time.perf_counter()
        authorize(header, verifier=fixture.verifier, revocations=fixture.revocations)
        cost.milliseconds.append((time.perf_counter() - began) * 1000)
    return cost


def report(results: dict[str, list[Cost]], header: dict[str, object], count: int) -> None:
    print(json.dumps(header))
    print(f"US East list prices: {json.dumps(PRICES)}; {count} requests of each kind measured\n")
    for kind, costs in results.items():
        print(f"## A million of {kind}")
        print(f"{'part':<72} {'ms':>7} {'RRU':>6} {'WRU':>6} {'SQS':>5} {'S3':>5} {'log B':>7} {'USD':>8}")
        total = 0.0
        for cost in costs:
            prices = cost.per_million()
            usd = sum(prices.values())
            total += usd
            ms = statistics.median(cost.milliseconds) if cost.milliseconds else 0.0
            print(
                f"{cost.label:<72} {ms:>7.2f} {cost.read_units:>6.2f} {cost.write_units:>6.2f} "
                f"{cost.sqs_messages:>5.2f} {cost.s3_puts:>5.2f} {cost.log_bytes:>7.0f} {usd:>8.2f}"
            )
            print(f"{'':<4}" + ", ".join(f"{k} ${v:.2f}" for k, v in prices.items() if v))
        print(f"{'total':<72} {'':>7} {'':>6} {'':>6} {'':>5} {'':>5} {'':>7} {total:>8.2f}\n")


if __name__ == "__main__":
    raise SystemExit(main())
