"""Onboarding: DynamoDB requests per API call, and status latency through the local gateway.

Two measurements, both on this machine's emulator (moto), in one run:

1. **Requests per call.** The real handlers (``functions/onboarding_*``) run in this process, against an emulator
   started here (``local.emulator.Emulator``) and a table built from ``MAIN_TABLE``. A botocore ``before-call``
   handler registered on the DynamoDB clients ``firstmile.platform.aws`` creates (the low-level client, which the
   idempotency layer uses, and the table resource's client, which the stores use) records every request the call
   makes, by operation and by whose it is: onboarding's own (progress, events, flows), the rate-limit counter the
   entry point keeps for write routes, the ``Idempotency-Key`` record, or the audit log. Targets: a warm status
   call is 1 read; a step is 1 transactional write plus the 1 read before it; an idempotent replay is 1 request.
2. **Status latency.** The local stack (``local.stack.LocalStack``, what ``firstmile dev`` runs, seeded with the
   demo tenant, its default flow and the demo user's token) is started in this process. ``GET /v1/onboarding/status``
   goes through its gateway over a kept-alive HTTP connection (the authorizer's and the function's instances, each
   a process of its own, run for every request, as in API Gateway), and the baseline is a bare ``GetItem`` of the
   same user's progress item through the same emulator. A public ``GET /health/live`` (gateway and one function,
   no authorizer, no table) is measured alongside as a reference. The three are sampled in a shuffled order each
   round, so the machine's noise falls on all alike. Target: status median <= 3x the GetItem median.

Run ``python bench/onboarding.py`` (``--help`` for options). It prints what it measured and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import io
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from bench.measure import Samples, run_header

TARGET_RATIO = 3.0
TENANT = "bench-co"
ADMIN = "admin:bench-admin"
FLOW_ID = "bench-flow"
OPERATIONS = ("GetItem", "Query", "TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem")
READS = frozenset({"GetItem", "Query", "BatchGetItem", "TransactGetItems"})
OWNERS = ("onboarding", "rate limit", "idempotency", "audit")
REPO = Path(__file__).resolve().parents[1]


# --- part 1: requests per call --------------------------------------------------------------------------------


def owner_of(operation: str, body: dict[str, Any]) -> str:
    """Whose request this is, from the keys it names (the stores' key formats, docs/data-model.md)."""
    keys: list[tuple[str, str]] = []

    def add(item: dict[str, Any] | None) -> None:
        if item and "pk" in item:
            keys.append((_string(item["pk"]), _string(item.get("sk", {}))))

    add(body.get("Key"))
    add(body.get("Item"))
    for entry in body.get("TransactItems", []):
        for action in entry.values():
            add(action.get("Key"))
            add(action.get("Item"))
    if operation == "Query":
        for value in (body.get("ExpressionAttributeValues") or {}).values():
            text = _string(value)
            if text.startswith("TENANT#"):
                keys.append((text, ""))
                break
    owners = {_owner(pk, sk) for pk, sk in keys} or {"onboarding"}
    # A transaction that touches onboarding items is onboarding's, whatever else it carries.
    return "onboarding" if "onboarding" in owners else sorted(owners)[0]


def _string(value: Any) -> str:
    return str(value.get("S", "")) if isinstance(value, dict) else ""


def _owner(pk: str, sk: str) -> str:
    if sk.startswith("RATE#"):
        return "rate limit"
    if pk.endswith("#IDEMPOTENCY"):
        return "idempotency"
    if pk.endswith("#AUDIT") or "#AUDIT#" in pk:
        return "audit"
    return "onboarding"


@dataclass
class RequestLog:
    """Every DynamoDB request made while recording, as (operation, owner)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    recording: bool = False

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.recording:
            return
        raw = params.get("body") or b"{}"
        body = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        self.requests.append((model.name, owner_of(model.name, body)))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, str]]]:
        self.requests = []
        self.recording = True
        try:
            yield self.requests
        finally:
            self.recording = False


@dataclass
class CallCount:
    """One API call and the requests it made."""

    call: str
    status: int
    requests: list[tuple[str, str]]
    target: str
    meets: bool | None

    def by_owner(self) -> dict[str, Counter[str]]:
        counted: dict[str, Counter[str]] = {}
        for operation, owner in self.requests:
            counted.setdefault(owner, Counter())[operation] += 1
        return counted


def load_handler(name: str) -> ModuleType:
    """``functions/<name>/handler.py`` under a module name of its own (every handler module is called handler)."""
    path = REPO / "functions" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"bench_function_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def api_event(method: str, path: str, user: str, *, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """The payload v2 event API Gateway sends after the authorizer let ``user`` of the bench tenant through."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "127.0.0.1",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "b"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
            "authorizer": {
                "lambda": {
                    "tenant": TENANT,
                    "sub": user,
                    "roles": "user",
                    "attributes": "{}",
                    "sid": "ses_bench",
                    "jti": uuid.uuid4().hex,
                    "exp": str(int(time.time()) + 600),
                }
            },
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


class InProcessApi:
    """The onboarding handlers, each configured from its catalogue entry as CDK configures the function."""

    def __init__(self) -> None:
        from functions.catalog import Function, Route
        from functions.catalog.onboarding import FUNCTIONS as ONBOARDING

        self._routes: dict[tuple[str, str], Function] = {
            (f.trigger.method, f.trigger.path): f for f in ONBOARDING if isinstance(f.trigger, Route)
        }
        self._modules: dict[str, ModuleType] = {}

    def call(
        self, method: str, path: str, user: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        from firstmile.config import reset_settings
        from functions.catalog import Route

        function = self._routes[(method, path)]
        assert isinstance(function.trigger, Route)
        os.environ["FIRSTMILE_ROUTE_ROLE"] = function.trigger.role
        if function.trigger.rate_class:
            os.environ["FIRSTMILE_ROUTE_RATE_CLASS"] = function.trigger.rate_class
        else:
            os.environ.pop("FIRSTMILE_ROUTE_RATE_CLASS", None)
        reset_settings()
        if function.name not in self._modules:
            self._modules[function.name] = load_handler(function.name)
        event = api_event(method, path, user, body=body, headers=headers)
        return self._modules[function.name].lambda_handler(event, LambdaContext(function.name))


def bench_flow() -> dict[str, Any]:
    """A flow as a customer writes one: a required task, an optional tutorial, a milestone completed by first run."""
    return {
        "flow_id": FLOW_ID,
        "name": "Bench onboarding",
        "steps": [
            {"id": "connect", "title": "Connect a source", "kind": "task", "required": True, "order": 10},
            {"id": "tour", "title": "Tour", "kind": "tutorial", "required": False, "order": 20, "hint": "Drag a block"},
            {
                "id": "first-run",
                "title": "Run it",
                "kind": "milestone",
                "required": True,
                "order": 30,
                "completion_criteria": {"milestone": "first_run"},
            },
        ],
        "sample_workflow": {"name": "Welcome digest", "steps": [{"action": "fetch"}, {"action": "notify"}]},
        "sample_agent": {"name": "Helper"},
    }


def count_requests() -> tuple[list[CallCount], dict[str, Any]]:
    """Run the scenario on a fresh emulator; the requests of every measured call, and what it ran on."""
    from local.emulator import Emulator

    emulator = Emulator(port=0).start()
    try:
        return _count_on(emulator.endpoint)
    finally:
        emulator.stop()


def errors_in(log_lines: str) -> list[str]:
    """The messages of the ERROR records among the handlers' JSON log lines."""
    found = []
    for line in log_lines.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") == "ERROR":
            found.append(
                f"{record.get('function_name', '?')}: {record.get('message')} ({record.get('exception_name')})"
            )
    return found


def use_emulator(endpoint: str, table_name: str, queue_urls: dict[str, str], **variables: str) -> None:
    """Point this process's functions at the emulator, a table and queues (and ``variables``), as the local stack
    configures a function; every cached setting, client and container part is dropped."""
    from firstmile.composition import reset
    from firstmile.config import reset_settings
    from firstmile.platform import aws
    from local.emulator import FAKE_ACCESS_KEY, FAKE_SECRET_KEY

    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Firstmile",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "FIRSTMILE_TABLE_NAME": table_name,
            "FIRSTMILE_QUEUE_URLS": json.dumps(queue_urls),
            **variables,
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    reset_settings()
    aws.reset_clients()
    reset()


def seed_default_flow(table: Any) -> None:
    """The bench tenant's flow, published and made the default, written directly (not counted)."""
    from firstmile.onboarding.flows import FlowAdmin
    from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate
    from firstmile.onboarding.store import OnboardingStore
    from firstmile.onboarding.versions import PublishedVersions

    store = OnboardingStore(table)
    admin = FlowAdmin(store, PublishedVersions(store))
    admin.create_flow(TENANT, FlowCreate.model_validate(bench_flow()), ADMIN)
    admin.publish(TENANT, FLOW_ID, None, ADMIN)
    admin.set_default(TENANT, DefaultFlowUpdate(flow_id=FLOW_ID), ADMIN)


def _count_on(endpoint: str) -> tuple[list[CallCount], dict[str, Any]]:
    from firstmile.composition import reset
    from firstmile.platform import aws
    from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE
    from firstmile.platform.table import MAIN_TABLE
    from local.emulator import client

    table_name = f"bench-{uuid.uuid4().hex[:8]}"
    client("dynamodb", endpoint).create_table(**MAIN_TABLE.create_table_request(table_name))
    queue_url = client("sqs", endpoint).create_queue(QueueName=f"{table_name}-migrations")["QueueUrl"]
    use_emulator(endpoint, table_name, {ONBOARDING_MIGRATIONS_QUEUE: queue_url})
    table = aws.table(table_name)
    seed_default_flow(table)

    log = RequestLog()
    aws.dynamodb().meta.events.register("before-call.dynamodb", log.before_call)
    table.meta.client.meta.events.register("before-call.dynamodb", log.before_call)
    api = InProcessApi()
    results: list[CallCount] = []

    def measure(
        label: str,
        method: str,
        path: str,
        user: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        target: str = "",
        meets: Callable[[CallCount], bool] | None = None,
    ) -> CallCount:
        with log.record() as requests:
            response = api.call(method, path, user, body=body, headers=headers)
        counted = CallCount(label, int(response["statusCode"]), list(requests), target, None)
        counted.meets = meets(counted) if meets is not None else None
        results.append(counted)
        return counted

    # A container that has served another user already (its clients connected, the flow version cached).
    api.call("GET", "/v1/onboarding/status", "warm-up-user")
    api.call("POST", "/v1/onboarding/step", "warm-up-user", body={"step_id": "connect", "action": "start"})
    user = "u-bench-1"
    measure(
        "status, first call (enrols)",
        "GET",
        "/v1/onboarding/status",
        user,
        target="reads + 1 transactional write",
        meets=lambda c: _ops(c, "onboarding", write=True) == {"TransactWriteItems": 1},
    )
    measure(
        "status, warm",
        "GET",
        "/v1/onboarding/status",
        user,
        target="1 read",
        meets=lambda c: c.requests == [("GetItem", "onboarding")],
    )
    step_target = "1 read + 1 transactional write"

    def one_step(c: CallCount) -> bool:
        return sorted(o for o, w in c.requests if w == "onboarding") == ["GetItem", "TransactWriteItems"]

    measure(
        "step: start",
        "POST",
        "/v1/onboarding/step",
        user,
        body={"step_id": "connect", "action": "start"},
        target=step_target,
        meets=one_step,
    )
    key = {"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
    complete_connect = {"step_id": "connect", "action": "complete"}
    measure(
        "step: complete, Idempotency-Key",
        "POST",
        "/v1/onboarding/step",
        user,
        body=complete_connect,
        headers=key,
        target=step_target + " (+ idempotency record)",
        meets=one_step,
    )
    measure(
        "  same request again (replay)",
        "POST",
        "/v1/onboarding/step",
        user,
        body=complete_connect,
        headers=key,
        target="1 request, nothing of onboarding",
        meets=lambda c: not _ops(c, "onboarding") and sum(_ops(c, "idempotency").values()) == 1,
    )
    measure(
        "step: skip",
        "POST",
        "/v1/onboarding/step",
        user,
        body={"step_id": "tour", "action": "skip"},
        target=step_target,
        meets=one_step,
    )
    measure(
        "mark-first-run",
        "POST",
        "/v1/onboarding/mark-first-run",
        user,
        target=step_target,
        meets=one_step,
    )
    measure(
        "complete",
        "POST",
        "/v1/onboarding/complete",
        user,
        target=step_target,
        meets=one_step,
    )
    measure("sample-workflow", "GET", "/v1/onboarding/sample-workflow", user, target="1 read", meets=_one_read)
    # A new container: nothing cached, so the flow version and the tenant's policy versions are read once more.
    reset()
    measure(
        "status, cold container",
        "GET",
        "/v1/onboarding/status",
        user,
        target="1 read + the flow version and the policy versions once",
        meets=lambda c: _ops(c, "onboarding") == {"GetItem": 2, "Query": 1},
    )
    setup = {"endpoint": endpoint, "table": table_name}
    return results, setup


def _ops(count: CallCount, owner: str, *, write: bool = False) -> dict[str, int]:
    ops = count.by_owner().get(owner, Counter())
    return {op: n for op, n in ops.items() if not write or op not in READS}


def _one_read(count: CallCount) -> bool:
    return count.requests == [("GetItem", "onboarding")]


def print_counts(results: list[CallCount]) -> None:
    print("DynamoDB requests per API call (botocore before-call events on firstmile.platform.aws's clients)")
    print()
    short = {"TransactWriteItems": "TransactWrite"}
    columns = [short.get(op, op) for op in OPERATIONS]
    width = max(len("call"), *(len(r.call) for r in results))
    header = f"{'call':<{width}}  {'status':>6}  {'owner':<11}  " + "  ".join(f"{c:>13}" for c in columns)
    header += f"  {'total':>5}"
    print(header)
    print("-" * len(header))
    for result in results:
        counted = result.by_owner()
        owners = [o for o in OWNERS if o in counted] or ["onboarding"]
        for n, owner in enumerate(owners):
            ops = counted.get(owner, Counter())
            cells = "  ".join(f"{ops.get(op, 0) or '-':>13}" for op in OPERATIONS)
            first = n == 0
            print(
                f"{result.call if first else '':<{width}}  {result.status if first else '':>6}  {owner:<11}  {cells}"
                f"  {sum(ops.values()):>5}"
            )
    print()
    print("Against the targets (onboarding's own requests; the rate-limit counter and the idempotency record are the")
    print("platform's, paid by every write route):")
    for result in results:
        if result.meets is None:
            continue
        verdict = "meets" if result.meets else "MISSES"
        own = ", ".join(f"{op} {n}" for op, n in sorted(result.by_owner().get("onboarding", Counter()).items()))
        platform = ", ".join(
            f"{op} {n} ({owner})"
            for owner, ops in result.by_owner().items()
            if owner != "onboarding"
            for op, n in sorted(ops.items())
        )
        print(f"  {result.call.strip():<34} {verdict:<6}  target {result.target}; onboarding: {own or 'none'}", end="")
        print(f"; platform: {platform}" if platform else "")


# --- part 2: status latency through the local gateway ---------------------------------------------------------


@dataclass
class Timing(Samples):
    name: str
    run: Callable[[], None]
    kind: str = "measured"

    def p90(self) -> float:
        return statistics.quantiles(self.samples, n=10, method="inclusive")[-1]


class KeptAlive:
    """One HTTP/1.1 connection to the gateway, reopened if the server closed it."""

    def __init__(self, api_url: str) -> None:
        parts = urlsplit(api_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection = http.client.HTTPConnection(self._host, self._port, timeout=60)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self._connection.request("GET", path, headers=headers)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._connection.close()


def measure_latency(samples: int, warmup: int, seed: int) -> tuple[list[Timing], dict[str, Any]]:
    """Start the local stack (seeded), then sample status, /health/live and a bare GetItem in shuffled rounds."""
    from firstmile.onboarding.store import progress_key  # the store alone knows key formats; the bench borrows it
    from local.config import LocalConfig
    from local.emulator import client
    from local.seed import DEMO_TENANT_ID, DEMO_USER
    from local.stack import LocalStack

    logging.getLogger("local").setLevel(logging.WARNING)
    stack = LocalStack(LocalConfig(port=0, aws_port=0)).start()
    try:
        if stack.demo is None:
            raise SystemExit(f"the local stack could not seed its demo data: {stack.seed_error}")
        token = stack.demo.user.access_token
        http_client = KeptAlive(stack.api_url)
        dynamodb = client("dynamodb", stack.aws_endpoint)
        table_name = stack.deployment.table_name
        key = {name: {"S": value} for name, value in progress_key(DEMO_TENANT_ID, DEMO_USER).items()}
        bearer = {"Authorization": f"Bearer {token}"}

        def status() -> None:
            code, body = http_client.get("/v1/onboarding/status", bearer)
            if code != 200:
                raise SystemExit(f"GET /v1/onboarding/status answered {code}: {body[:300]!r}")

        def live() -> None:
            code, body = http_client.get("/health/live", {})
            if code != 200:
                raise SystemExit(f"GET /health/live answered {code}: {body[:300]!r}")

        def get_item() -> None:
            if "Item" not in dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True):
                raise SystemExit("the demo user's progress item is missing")

        # The first status call enrols the demo user, so the GetItem has an item to read.
        status()
        timings = [
            Timing(name="GetItem (emulator)", run=get_item, kind="baseline"),
            Timing(name="GET /health/live (gateway)", run=live, kind="reference"),
            Timing(name="GET /v1/onboarding/status (gateway)", run=status),
        ]
        order = random.Random(seed)
        progress = sys.stderr.isatty()
        for index in range(warmup + samples):
            if progress:
                print(f"\r  sample {index + 1}/{warmup + samples} ...", end="", file=sys.stderr, flush=True)
            batch = list(timings)
            order.shuffle(batch)
            for timing in batch:
                start, start_cpu = time.perf_counter(), time.process_time()
                timing.run()
                if index >= warmup:
                    timing.samples.append(time.perf_counter() - start)
                    timing.cpu_samples.append(time.process_time() - start_cpu)
        if progress:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
        http_client.close()
        return timings, {"api_url": stack.api_url, "aws_endpoint": stack.aws_endpoint}
    finally:
        stack.stop()


def print_latency(timings: list[Timing], target: float) -> None:
    baseline = next(t for t in timings if t.kind == "baseline")
    print("Status latency through the local gateway, relative to a bare GetItem through the same emulator")
    print()
    width = max(len("measurement"), *(len(t.name) for t in timings))
    header = f"{'measurement':<{width}}  {'median ms':>9}  {'p90 ms':>7}  {'IQR ms':>7}  {'ratio':>6}  {'p90 ratio':>9}"
    print(header)
    print("-" * len(header))
    for t in timings:
        print(
            f"{t.name:<{width}}  {t.median() * 1e3:>9.2f}  {t.p90() * 1e3:>7.2f}  {t.iqr() * 1e3:>7.2f}  "
            f"{t.median() / baseline.median():>6.2f}  {t.p90() / baseline.p90():>9.2f}"
        )
    status = next(t for t in timings if t.kind == "measured")
    ratio = status.median() / baseline.median()
    verdict = "meets" if ratio <= target else "ABOVE"
    print()
    print(f"status / GetItem (medians): {ratio:.2f}, target <= {target:.2f}: {verdict}")


# --- main -----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200, help="latency samples per measurement (default: 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unrecorded latency rounds first (default: 20)")
    parser.add_argument("--target", type=float, default=TARGET_RATIO, help="status/GetItem ratio target (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffled order (default: 0)")
    parser.add_argument("--counts-only", action="store_true", help="count requests only; no local stack")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--verbose", action="store_true", help="also print the in-process handlers' log lines")
    args = parser.parse_args(argv)
    if args.samples < 2 or args.warmup < 0:
        parser.error("--samples must be at least 2 and --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    header = run_header(started)
    print("Onboarding: DynamoDB requests per call and status latency")
    print(f"  run at      {header['run_at']}")
    print(f"  python      {header['python']} on {header['platform']}")
    print(f"  machine     {header['cpu']}, {header['cores']} cores")
    print(f"  libraries   boto3 {metadata.version('boto3')}, moto {metadata.version('moto')}")
    print()
    # The handlers' logs and metrics (JSON lines on stdout, as in Lambda) are kept out of the report; the logger binds
    # its stream when first imported, which happens inside.
    handler_output = io.StringIO()
    with contextlib.redirect_stdout(handler_output):
        counts, _ = count_requests()
    print_counts(counts)
    failures = errors_in(handler_output.getvalue())
    if failures:
        print()
        print(f"The handlers logged {len(failures)} error(s) (--verbose shows their log):")
        for failure in failures:
            print(f"  {failure}")
    if args.verbose:
        print(handler_output.getvalue())
    report: dict[str, Any] = {
        "machine": header,
        "requests": [
            {"call": c.call.strip(), "status": c.status, "requests": c.requests, "target": c.target, "meets": c.meets}
            for c in counts
        ],
    }
    if not args.counts_only:
        print()
        print(f"  method      {args.samples} samples each (+{args.warmup} warm-up), shuffled order every round")
        print()
        timings, _ = measure_latency(args.samples, args.warmup, args.seed)
        print_latency(timings, args.target)
        report["latency"] = [
            {
                "measurement": t.name,
                "kind": t.kind,
                "median_ms": t.median() * 1e3,
                "p90_ms": t.p90() * 1e3,
                "samples_ms": [round(s * 1e3, 3) for s in t.samples],
            }
            for t in timings
        ]
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
