"""Funnel analytics: what a funnel read costs at 1,000 and at 100,000 enrolled users, how many events one aggregator
invocation counts per second, and what counting one transition event costs (decision 0070).

Everything runs on AWS's DynamoDB Local (``local.dynamodb``), one table per part, built from ``MAIN_TABLE``.

- **Funnel read.** A 7-step flow (the demo flow's shape) whose users enrolled over the 30 days before the read, each
  walking it with a realistic spread (completions, optional skips with reasons, failed attempts, stops). Every
  user's events go through ``counting.updates`` (what the aggregator adds for each event); the sums are written as
  the counter items the aggregator's ``ADD``s leave, so the table holds exactly what counting those events one by
  one would have left, without a million transactions before the measurement. Then the funnel request's work,
  ``AnalyticsReports.funnel`` over ``FunnelCounterStore`` for the 30 days (the flow version read as the route reads
  it, from the onboarding store), is timed at both sizes in interleaved rounds. Every DynamoDB request it sends is
  counted, with the capacity DynamoDB Local reports (``ReturnConsumedCapacity = TOTAL``) and the items read.
  Target: the same requests and items at both sizes, and a latency ratio (100,000 / 1,000) of at most 1.2.
- **Aggregation throughput.** Stream batches of 100 inserted onboarding events (as the mapping's filter delivers
  them) are handed to the real handler, ``functions/funnel_aggregator/handler.py``, which counts each event in one
  ``TransactWriteItems``. Reported: events counted per second of one invocation (median over batches), and for a
  redelivered batch (every marker found: nothing added).
- **Write cost per event.** The requests one counted event sends, and its write units by DynamoDB's rules (a
  transactional write: 2 units per started KB of each item's larger size, before or after) from the items as
  stored, next to what DynamoDB Local reports.

Run ``python bench/analytics.py`` (``--help`` for options). It prints what it measured and exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "layers" / "core")]
# The aggregator logs a line per batch; the bench prints its own report.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from bench.measure import Column, Samples, print_timings, run_header, run_interleaved  # noqa: E402
from bench.step_writes import item_size, kb, table_engine  # noqa: E402
from firstmile.analytics.counting import AnalyticsEvent, updates  # noqa: E402
from firstmile.onboarding.models import EventType  # noqa: E402
from firstmile.platform.items import storable  # noqa: E402
from firstmile.platform.table import MAIN_TABLE  # noqa: E402

TENANT = "bench-co"
FLOW_ID = "getting-started"
SIZES = (1_000, 100_000)
DAYS = 30
TARGET_RATIO = 1.2
BATCH = 100
STEPS = (
    ("create-workspace", True),
    ("connect-data", True),
    ("tour-editor", False),
    ("sample-workflow", True),
    ("sample-agent", False),
    ("invite-teammate", False),
    ("first-run", True),
)
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class RequestLog:
    """Every DynamoDB request a client sends, by operation, with the capacity and items the answers report."""

    requests: dict[str, int] = field(default_factory=dict)
    capacity: float = 0.0
    items: int = 0
    # Items written by TransactWriteItems requests (their actions).
    written: int = 0

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._answered)

    def reset(self) -> None:
        self.requests, self.capacity, self.items, self.written = {}, 0.0, 0, 0

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "GetItem", "TransactWriteItems", "PutItem", "UpdateItem"):
            params["ReturnConsumedCapacity"] = "TOTAL"
        if model.name == "TransactWriteItems":
            self.written += len(params.get("TransactItems", []))

    def _answered(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests[model.name] = self.requests.get(model.name, 0) + 1
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.capacity += float(entry.get("CapacityUnits", 0))
        self.items += int(parsed.get("Count", 0))


def new_table(client: Any) -> str:
    name = f"bench-analytics-{uuid.uuid4().hex[:8]}"
    client.create_table(**MAIN_TABLE.create_table_request(name))
    client.get_waiter("table_exists").wait(TableName=name)
    return name


def client_of(endpoint: str) -> Any:
    import boto3

    local = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # DynamoDB Local takes any
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **local)


# --- users and their events ------------------------------------------------------------------------------------


def walk(rng: random.Random, n: int, enrolled_at: datetime) -> list[AnalyticsEvent]:
    """One user's events on the 7-step flow: realistic odds of stopping, skipping and failing at each step."""
    segment = {
        "country": rng.choice(("US", "DE", "FR", "IN")),
        "plan": rng.choice(("free", "pro")),
        "returning": "false",
    }
    events = []
    at = enrolled_at

    def event(kind: EventType, step: str | None = None, **extra: Any) -> None:
        events.append(
            AnalyticsEvent(
                TENANT,
                f"TENANT#{TENANT}#USER#u{n}|ONBOARDING#EVENT#{len(events):03d}",
                kind,
                at,
                enrolled_at,
                FLOW_ID,
                1,
                step,
                segment,
                **extra,
            )
        )

    event(EventType.ENROLLED)
    for step, required in STEPS:
        at += timedelta(minutes=rng.expovariate(1 / 20))
        if rng.random() < 0.1:
            event(EventType.STEP_ERROR, step, error_code=rng.choice(("timeout", "oauth_denied")))
        if required and rng.random() < 0.12:
            return events
        if not required and rng.random() < 0.45:
            event(EventType.STEP_SKIPPED, step, reason=rng.choice(("no_time", "later", "not_relevant")))
            continue
        event(EventType.STEP_STARTED, step)
        event(EventType.STEP_COMPLETED, step)
    event(EventType.ONBOARDING_COMPLETED)
    return events


def users_events(count: int, seed: int) -> Iterator[list[AnalyticsEvent]]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload
    start = NOW - timedelta(days=DAYS - 1)
    for n in range(count):
        day = start.replace(hour=0) + timedelta(days=n % DAYS, minutes=rng.uniform(0, 24 * 60))
        yield walk(rng, n, min(day, NOW - timedelta(hours=1)))


def counter_items(count: int, seed: int) -> tuple[dict[tuple[str, str], dict[str, float]], int]:
    """The counter items ``count`` users' events leave (summed ``updates``), and how many events that was."""
    items: dict[tuple[str, str], dict[str, float]] = {}
    events = 0
    for user in users_events(count, seed):
        for event in user:
            events += 1
            for update in updates(event):
                into = items.setdefault((update.key.pk, update.key.sk), {})
                for name, amount in update.amounts.items():
                    into[name] = round(into.get(name, 0) + amount, 3)
    return items, events


def write_counters(client: Any, table: str, items: dict[tuple[str, str], dict[str, float]]) -> None:
    batch: list[dict[str, Any]] = []
    for (pk, sk), counts in items.items():
        item = {"pk": pk, "sk": sk, "kind": "funnel_counter", **counts}
        typed = {k: _typed(v) for k, v in item.items()}
        batch.append({"PutRequest": {"Item": typed}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def _typed(value: Any) -> dict[str, Any]:
    from firstmile.platform.items import attribute

    return attribute(storable(value))


# --- the funnel read -------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class FunnelRead(Samples):
    name: str
    users: int
    events: int
    reports: Any
    log: RequestLog
    answer: Any = None
    requests: dict[str, int] = field(default_factory=dict)
    capacity: float = 0.0
    items: int = 0


def prepare_reads(endpoint: str, seed: int, sizes: tuple[int, ...] = SIZES) -> list[FunnelRead]:
    from firstmile.analytics.reports import AnalyticsReports
    from firstmile.analytics.store import FunnelCounterStore
    from firstmile.onboarding.models import FlowVersion
    from firstmile.platform.gateway import TableGateway

    reads = []
    for size in sizes:
        client = client_of(endpoint)
        table = new_table(client)
        items, events = counter_items(size, seed)
        write_counters(client, table, items)
        log = RequestLog()
        log.attach(client)
        version = FlowVersion.model_validate(
            {
                "flow_id": FLOW_ID,
                "version": 1,
                "published_at": NOW.isoformat(),
                "published_by": "bench",
                "definition": {
                    "name": "Getting started",
                    "steps": [
                        {"id": step, "title": step, "order": n, "required": required}
                        for n, (step, required) in enumerate(STEPS)
                    ],
                },
            }
        )
        reports = AnalyticsReports(FunnelCounterStore(TableGateway.over_client(client, table)), _Published(version))
        reads.append(FunnelRead(name=f"{size:,} users", users=size, events=events, reports=reports, log=log))
    return reads


class _Published:
    """The flow's published versions as the route reads them (a container's cache holds them after the first read)."""

    def __init__(self, version: Any) -> None:
        self._version = version

    def get(self, tenant: str, flow_id: str, version: int) -> Any:
        return self._version

    def latest(self, tenant: str, flow_id: str) -> Any:
        return self._version


def funnel_query() -> Any:
    from firstmile.analytics.reports import ReportQuery

    return ReportQuery(FLOW_ID, (NOW - timedelta(days=DAYS - 1)).date(), NOW.date())


def measure_reads(reads: list[FunnelRead], rounds: int, per_round: int) -> None:
    query = funnel_query()
    for read in reads:
        read.log.reset()
        read.answer = read.reports.funnel(TENANT, query)
        read.requests, read.capacity, read.items = dict(read.log.requests), read.log.capacity, read.log.items

    def run(read: FunnelRead, first: int, last: int) -> None:
        for _ in range(first, last):
            read.reports.funnel(TENANT, query)

    run_interleaved(reads, run, size=per_round, chunk=5, rounds=rounds, warmup=1, seed=7, per_round=per_round)


# --- aggregation -----------------------------------------------------------------------------------------------


@dataclass
class Aggregation:
    batches: int
    events_per_second: list[float]
    repeated_per_second: list[float]
    requests_per_event: dict[str, float]
    reported_units_per_event: float
    # By the largest item's size: an upper bound when some items are smaller.
    rule_units_per_event: float
    items_per_event: float


def measure_aggregation(endpoint: str, batches: int, seed: int) -> Aggregation:
    from tests.factories import FakeLambdaContext, load_handler
    from tests.unit.analytics.streams import stream_record

    client = client_of(endpoint)
    table = new_table(client)
    os.environ |= {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "FIRSTMILE_TABLE_NAME": table,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
    }
    from firstmile.composition import container

    handler = load_handler("funnel_aggregator")
    gateway_client = container().table._client  # noqa: SLF001 - the bench counts the handler's own requests
    log = RequestLog()
    log.attach(gateway_client)
    events = [e for user in users_events(batches * BATCH // 6 + 50, seed) for e in user][: batches * BATCH]
    records = [stream_record(e, n) for n, e in enumerate(events)]
    speeds, repeats = [], []
    for first in range(0, len(records), BATCH):
        batch = {"Records": records[first : first + BATCH]}
        started = time.perf_counter()
        answer = handler.lambda_handler(batch, FakeLambdaContext())
        speeds.append(len(batch["Records"]) / (time.perf_counter() - started))
        assert answer == {"batchItemFailures": []}, answer
    counted_requests, counted_units, written = dict(log.requests), log.capacity, log.written
    log.reset()
    for first in range(0, len(records), BATCH):
        batch = {"Records": records[first : first + BATCH]}
        started = time.perf_counter()
        handler.lambda_handler(batch, FakeLambdaContext())
        repeats.append(len(batch["Records"]) / (time.perf_counter() - started))
    rule_units, items = rule_cost(client, table, written, len(events))
    return Aggregation(
        batches=batches,
        events_per_second=speeds,
        repeated_per_second=repeats,
        requests_per_event={k: v / len(events) for k, v in counted_requests.items()},
        reported_units_per_event=counted_units / len(events),
        rule_units_per_event=rule_units,
        items_per_event=items,
    )


def rule_cost(client: Any, table: str, written: int, events: int) -> tuple[float, float]:
    """Items written and write units per counted event by DynamoDB's rules: a transactional write costs 2 units per
    started KB of each item it writes. Every marker and counter item is read back (this bench's own table) to check
    its size: with all of them under 1 KB, each written item costs 2 units."""
    pages = client.get_paginator("scan").paginate(TableName=table)
    largest = max(item_size(item) for page in pages for item in page["Items"])
    per_item = 2 * kb(largest)
    return per_item * written / events, written / events


# --- report ----------------------------------------------------------------------------------------------------


def print_report(reads: list[FunnelRead], aggregation: Aggregation, started: datetime) -> dict[str, Any]:
    small, large = reads[0], reads[1]
    ratio = large.median() / small.median()
    print("\nFunnel read (30 days, 7-step flow): AnalyticsReports.funnel over FunnelCounterStore, DynamoDB Local\n")
    rows = []
    for read in reads:
        rows.append(
            {
                "size": read.name,
                "median_ms": read.median() * 1000,
                "iqr_ms": read.iqr() * 1000,
                "cpu_ms": read.cpu_median() * 1000,
                "status": "",
            }
        )
    print_timings(
        "size",
        (Column("median ms", "median_ms", 9), Column("IQR ms", "iqr_ms", 7), Column("CPU ms", "cpu_ms", 7)),
        rows,
    )
    for read in reads:
        print(
            f"  {read.name}: {read.events:,} events counted into the table; one read sends {read.requests} "
            f"and reads {read.items} items, {read.capacity:g} read units reported; total_sessions "
            f"{read.answer.total_sessions:,}, overall conversion {read.answer.overall_conversion_rate}"
        )
    same = all(r.requests == small.requests and r.items == small.items for r in reads)
    print(
        f"  latency ratio ({large.name} / {small.name}): {ratio:.2f} (target <= {TARGET_RATIO}); same requests and "
        f"items at every size: {'yes' if same else 'NO'}"
    )
    for before, after in itertools.pairwise(reads[1:]):
        print(f"  latency ratio ({after.name} / {before.name}): {after.median() / before.median():.2f}")
    speed = statistics.median(aggregation.events_per_second)
    repeated = statistics.median(aggregation.repeated_per_second)
    print(f"\nAggregation: {aggregation.batches} batches of {BATCH} events through functions/funnel_aggregator")
    print(f"  counted: median {speed:.0f} events/s per invocation (min {min(aggregation.events_per_second):.0f})")
    print(f"  redelivered (every marker found, nothing added): median {repeated:.0f} events/s")
    print(
        f"  per counted event: requests {aggregation.requests_per_event}, "
        f"items written {aggregation.items_per_event:.2f}, "
        f"write units by the rules {aggregation.rule_units_per_event:.2f}, "
        f"reported by DynamoDB Local {aggregation.reported_units_per_event:.2f}"
    )
    return {
        **run_header(started),
        "funnel_read": [
            {
                "users": r.users,
                "events": r.events,
                "median_ms": r.median() * 1000,
                "requests": r.requests,
                "items": r.items,
                "read_units": r.capacity,
            }
            for r in reads
        ],
        "latency_ratio": ratio,
        "aggregation_events_per_second": speed,
        "redelivered_events_per_second": repeated,
        "requests_per_event": aggregation.requests_per_event,
        "write_units_per_event_by_rules": aggregation.rule_units_per_event,
        "write_units_per_event_reported": aggregation.reported_units_per_event,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds of the funnel read (default 7)")
    parser.add_argument("--reads", type=int, default=20, help="funnel reads per round (default 20)")
    parser.add_argument("--batches", type=int, default=20, help="stream batches of 100 events (default 20)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in SIZES),
        help="enrolled users of each funnel, smallest first; the ratio target compares the first two "
        "(default 1000,100000; 1000,100000,1000000 shows where the growth stops, in about ten minutes)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    with table_engine() as endpoint:
        sizes = tuple(int(size) for size in args.sizes.split(","))
        if len(sizes) < 2 or list(sizes) != sorted(sizes):
            parser.error("--sizes takes at least two sizes, smallest first")
        reads = prepare_reads(endpoint, args.seed, sizes)
        measure_reads(reads, args.rounds, args.reads)
        aggregation = measure_aggregation(endpoint, args.batches, args.seed)
    results = print_report(reads, aggregation, started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
