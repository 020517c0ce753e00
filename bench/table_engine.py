"""The local table engine: AWS's DynamoDB Local against moto's DynamoDB, side by side in one run.

Both run as servers of their own on 127.0.0.1 (DynamoDB Local as the local stack starts it, ``local.dynamodb``;
moto as ``moto_server``), each with Firstmile's table created from ``MAIN_TABLE`` and filled with the same items.
Measured, in the same run:

- **fidelity**: which of the writes DynamoDB refuses each engine refuses (an empty map key, numbers out of range,
  nesting deeper than 32 levels, an item over 400 KB), and whether a transaction resent with its client request
  token is answered as applied;
- **transactions per second** on a table already holding ``--items`` items: a progress-like ``TransactWriteItems``
  (a conditional put and an update), sequentially, in interleaved rounds so noise falls on both alike;
- **concurrent writers**: ``--writers`` threads writing transactions at once, and how many calls failed;
- **resident memory** of each engine's processes after the fill and after the transactions.

The ratio printed is DynamoDB Local's throughput over moto's (above 1: DynamoDB Local is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "core"))

from bench.measure import run_header  # noqa: E402
from firstmile.platform.table import MAIN_TABLE  # noqa: E402
from local.dynamodb import DynamoDBLocal  # noqa: E402

TABLE = "firstmile-bench"


@dataclass
class Engine:
    name: str
    endpoint: str
    pids: list[int]
    stop: Any
    client: Any = None
    rates: list[float] = field(default_factory=list)
    refused: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> Engine:
    port = free_port()
    script = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(  # noqa: S603 - the venv's own moto server
        [str(script), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)

    def stop() -> None:
        # moto's development server does not stop on SIGTERM while a connection is kept alive.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    return Engine("moto", endpoint, [process.pid], stop)


def start_dynamodb_local() -> Engine:
    engine = DynamoDBLocal(0).start()
    assert engine.pid is not None  # noqa: S101 - just started
    return Engine("DynamoDB Local", engine.endpoint, [engine.pid], engine.stop)


def client(endpoint: str) -> Any:
    # Fake credentials: both engines accept anything.
    session = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - not a secret
        region_name="us-east-1",
    )
    config = Config(read_timeout=120, retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=32)
    return session.client("dynamodb", endpoint_url=endpoint, config=config)


def resident_mb(pids: list[int]) -> float:
    """The resident memory of the processes and their children, in MB."""
    total, seen = 0, set()
    pending = list(pids)
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pending += [int(c) for c in children]
    return total / 1024


def fill(engine: Engine, items: int) -> None:
    dynamodb = engine.client
    for first in range(0, items, 25):
        requests = [
            {"PutRequest": {"Item": progress_item(f"TENANT#bench#USER#u{n:06d}", n)}}
            for n in range(first, min(first + 25, items))
        ]
        while requests:
            answer = dynamodb.batch_write_item(RequestItems={TABLE: requests})
            requests = answer.get("UnprocessedItems", {}).get(TABLE, [])


def progress_item(pk: str, n: int) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": "PROGRESS"},
        "kind": {"S": "progress"},
        "version": {"N": str(n % 7 + 1)},
        "steps": {"M": {f"step-{s}": {"S": "completed" if s < n % 7 else "pending"} for s in range(7)}},
        "attributes": {"M": {"country": {"S": "DE"}, "plan": {"S": "pro"}}},
    }


def transaction(n: int, token: str | None = None) -> dict[str, Any]:
    user = f"TENANT#bench#USER#t{n:06d}"
    request: dict[str, Any] = {
        "TransactItems": [
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"pk": {"S": user}, "sk": {"S": f"EVENT#{n:09d}"}, "kind": {"S": "event"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": user}, "sk": {"S": "PROGRESS"}},
                    "UpdateExpression": "ADD #v :one SET #s = :state",
                    "ExpressionAttributeNames": {"#v": "version", "#s": "state"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":state": {"S": "in_progress"}},
                }
            },
        ]
    }
    if token:
        request["ClientRequestToken"] = token
    return request


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"n": value}}
    return value


VIOLATIONS = {
    "empty map key": {"M": {"": {"S": "x"}}},
    "number 1e126": {"N": "1e126"},
    "39 significant digits": {"N": "1" * 39},
    "nesting 40 levels": nested(40),
    "item of 500 KB": {"S": "x" * 500_000},
}


def check_fidelity(engine: Engine) -> None:
    for name, value in VIOLATIONS.items():
        item = {"pk": {"S": "limits"}, "sk": {"S": name}, "value": value}
        try:
            engine.client.put_item(TableName=TABLE, Item=item)
            engine.refused[name] = False
        except ClientError:
            engine.refused[name] = True
    token = uuid.uuid4().hex
    request = transaction(999_999, token)
    engine.client.transact_write_items(**request)
    try:
        engine.client.transact_write_items(**request)
        engine.notes["resent transaction"] = "answered as applied"
    except ClientError as exc:
        engine.notes["resent transaction"] = f"refused ({exc.response['Error']['Code']})"


def concurrent(engine: Engine, writers: int, per_writer: int, offset: int) -> tuple[int, float]:
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def write(worker: int) -> None:
        dynamodb = client(engine.endpoint)
        start.wait()
        for n in range(per_writer):
            try:
                dynamodb.transact_write_items(**transaction(offset + worker * per_writer + n))
            except Exception:  # any failure counts; the benchmark reports how many
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures[0], writers * per_writer / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="items in the table before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per engine")
    parser.add_argument("--per-round", type=int, default=20, help="transactions per round")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    engines = [start_dynamodb_local(), start_moto()]
    try:
        for engine in engines:
            engine.client = client(engine.endpoint)
            engine.client.create_table(**MAIN_TABLE.create_table_request(TABLE))
            began = time.perf_counter()
            fill(engine, args.items)
            engine.notes["fill seconds"] = round(time.perf_counter() - began, 2)
            print(f"  {engine.name}: filled in {engine.notes['fill seconds']} s", file=sys.stderr, flush=True)
            engine.notes["MB after fill"] = round(resident_mb(engine.pids), 1)
            check_fidelity(engine)
        counter = 0
        for round_index in range(1 + args.rounds):  # the first round warms both up and is not kept
            for engine in engines if round_index % 2 else reversed(engines):
                began = time.perf_counter()
                for _ in range(args.per_round):
                    engine.client.transact_write_items(**transaction(counter))
                    counter += 1
                if round_index:
                    engine.rates.append(args.per_round / (time.perf_counter() - began))
        for engine in engines:
            failures, rate = concurrent(engine, args.writers, args.per_round, counter)
            counter += args.writers * args.per_round
            engine.notes[f"{args.writers} writers: failed calls"] = failures
            engine.notes[f"{args.writers} writers: transactions/s"] = round(rate, 1)
            engine.notes["MB after transactions"] = round(resident_mb(engine.pids), 1)
    finally:
        for engine in engines:
            engine.stop()
    report = {
        **run_header(started),
        "items": args.items,
        "engines": {
            e.name: {
                "transactions/s (median)": round(statistics.median(e.rates), 1),
                "refused": e.refused,
                **e.notes,
            }
            for e in engines
        },
    }
    local, moto = (statistics.median(e.rates) for e in engines)
    report["ratio DynamoDB Local / moto (transactions/s)"] = round(local / moto, 2)
    print(json.dumps(report, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
