"""Firstmile's load profiles (issue 15): smoke, load, stress and spike over the user journeys of
``bench/load/locustfile.py``, with a report and a comparison against a committed baseline.

    python bench/load/run.py --profile smoke              # against a local stack it starts (make load: the others)
    python bench/load/run.py --profile load --target https://api.example.com --tokens-file stage.env
    python bench/load/run.py --profile smoke --write-baseline

Without ``--target`` it starts ``firstmile dev`` on free ports (no demo users walking) and stops it afterwards.
With a target, ``--tokens-file`` holds what the local stack's tokens file holds for its demo tenant: the tenant, its
API client's credentials (for an admin session: the funnel) and an operator client's (for the API clients the
users' sessions come from).

Each run writes a report to ``--report-dir`` (default ``.local/load/<profile>-<time>``): ``report.json`` and
``report.md`` (requests per second, and per journey the requests, error rate, p50, p95 and p99) and Locust's own
``report.html`` with its charts over time. It then compares with ``bench/load/baselines/<profile>.json``: a journey's
p50 above 2.5 times its baseline plus 25 ms, its p95 above 3 times plus 50 ms (``TOLERANCE``; a p95 only with 200
requests of the journey in both runs), an error rate above the baseline's plus 1 %, or requests per second under half
the baseline's is a regression, and the run exits 1 naming each. The smoke profile first runs 5 s uncounted, so the
function instances it measures are started.

What the local numbers measure: Firstmile's handlers, its local gateway, authorizer and function instances and the
emulated AWS services, all on this machine's cores; the same profile against a deployed stage exercises API Gateway,
the Lambda authorizer, Lambda's scaling and cold starts, and DynamoDB over the network instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from local.seed import renew_demo_tokens  # noqa: E402
from local.tokens_file import read_tokens_file  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
BASELINES = Path(__file__).resolve().parent / "baselines"
PROFILES = ("smoke", "load", "stress", "spike")
# The most users each profile runs (bench/load/locustfile.py).
MOST_USERS = {"smoke": 2, "load": 20, "stress": 80, "spike": 60}
# What a regression is: machines here are noisy (make test runs the end-to-end suite beside the integration suite),
# so the bounds are wide; a handler made slower by tens of milliseconds per AWS call still crosses them.
TOLERANCE = {"p50_ms": (2.5, 25.0), "p95_ms": (3.0, 50.0)}
"""Per statistic: (factor, slack ms): a journey regresses when it is above factor x baseline + slack."""
MIN_REQUESTS = {"p50_ms": 10, "p95_ms": 200}
"""A statistic is compared only when the journey made this many requests in both runs: a p95 of 30 requests is the
second slowest one, which one slow call on a busy machine moves (the smoke profile compares medians)."""
ERROR_RATE_SLACK = 0.01
THROUGHPUT_FACTOR = 0.5
READY_TIMEOUT_SECONDS = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=PROFILES, default="smoke")
    parser.add_argument("--target", help="the API's URL; default: a local stack started for the run")
    parser.add_argument("--tokens-file", type=Path, help="the tenant's credentials (with --target)")
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--baseline", type=Path, help="default: bench/load/baselines/<profile>.json")
    parser.add_argument("--write-baseline", action="store_true", help="keep this run's report as the baseline")
    parser.add_argument("--seconds", type=float, help="the smoke profile's length (default 20)")
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        help="smoke only: run this long first, uncounted, so instances are started (default 5)",
    )
    args = parser.parse_args(argv)
    report_dir = args.report_dir or REPO_ROOT / ".local" / "load" / f"{args.profile}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    report_dir.mkdir(parents=True, exist_ok=True)
    stack = None
    try:
        if args.target:
            if args.tokens_file is None:
                parser.error("--target needs --tokens-file")
            target, tokens = args.target.rstrip("/"), read_tokens_file(args.tokens_file)
        else:
            stack = LocalStack.start(report_dir)
            target, tokens = stack.url, stack.tokens
        # Fresh sessions from the file's client credentials: its tokens may be older than their 15 minutes.
        tokens = {**tokens, **renew_demo_tokens(target, tokens)}
        warmup = args.warmup_seconds if args.warmup_seconds is not None else (5.0 if args.profile == "smoke" else 0.0)
        if warmup > 0:
            run(args.profile, target, tokens, report_dir / "warmup", seconds=warmup)
        report = run(args.profile, target, tokens, report_dir, seconds=args.seconds)
    finally:
        if stack is not None:
            stack.stop()
    report["target"] = "local stack" if stack is not None else target
    baseline_path = args.baseline or BASELINES / f"{args.profile}.json"
    (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (report_dir / "report.md").write_text(markdown(report))
    print(markdown(report))
    print(f"report: {report_dir}")
    if args.write_baseline:
        baseline_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"baseline written: {baseline_path}")
        return 0
    if not baseline_path.exists():
        print(f"no baseline at {baseline_path}: nothing to compare with")
        return 0
    regressions = compare(report, json.loads(baseline_path.read_text()))
    for line in regressions:
        print(f"REGRESSION {line}")
    print(
        f"compared with {baseline_path.name}: {len(regressions)} regression(s) (tolerance: "
        + ", ".join(f"{k.removesuffix('_ms')} x{f:g} + {ms:g} ms" for k, (f, ms) in TOLERANCE.items())
        + f", error rate + {ERROR_RATE_SLACK:.0%}, throughput x{THROUGHPUT_FACTOR:g})"
    )
    return 1 if regressions else 0


def run(
    profile: str, target: str, tokens: dict[str, str], report_dir: Path, *, seconds: float | None
) -> dict[str, Any]:
    """One Locust run of ``profile`` against ``target``; its report."""
    # A client starts 60 sessions a minute and a user about 30 (one per step completed): one client per user.
    clients = make_clients(target, tokens, MOST_USERS[profile] + 2)
    env = {
        **os.environ,
        "FIRSTMILE_LOAD_PROFILE": profile,
        "FIRSTMILE_LOAD_CLIENTS": ",".join(clients),
        "FIRSTMILE_LOAD_ADMIN_TOKEN": tokens["FIRSTMILE_ADMIN_TOKEN"],
    }
    if seconds is not None:
        env["FIRSTMILE_LOAD_SECONDS"] = str(seconds)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", target,
        "--csv", str(report_dir / "stats"), "--html", str(report_dir / "report.html"),
        "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    started = time.monotonic()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=1800)  # noqa: S603
    (report_dir / "locust.log").write_text(finished.stdout + finished.stderr)
    if finished.returncode != 0:
        raise SystemExit(f"locust exited with {finished.returncode}:\n{finished.stderr[-3000:]}")
    report = read_stats(report_dir / "stats_stats.csv")
    report |= {"profile": profile, "seconds": round(time.monotonic() - started, 1), "at": datetime.now(UTC).isoformat()}
    return report


def make_clients(target: str, tokens: dict[str, str], count: int) -> list[str]:
    """``count`` API clients of the tenant (``id:secret``), made through the operator routes."""
    tenant = tokens["FIRSTMILE_TENANT_ID"]
    made = []
    for number in range(count):
        body = {"name": f"load {number} {uuid_hex()}", "allowed_roles": ["user"]}
        answer = post_json(f"{target}/v1/operator/tenants/{tenant}/clients", body, tokens["FIRSTMILE_OPERATOR_TOKEN"])
        made.append(f"{answer['client']['client_id']}:{answer['client_secret']}")
    return made


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:6]


def post_json(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the target the operator named
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def read_stats(path: Path) -> dict[str, Any]:
    """Locust's summary CSV as the report's numbers: per journey and in total."""
    journeys: dict[str, Any] = {}
    total: dict[str, Any] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            requests, failures = int(row["Request Count"]), int(row["Failure Count"])
            numbers = {
                "requests": requests,
                "error_rate": round(failures / requests, 4) if requests else 0.0,
                "requests_per_second": round(float(row["Requests/s"]), 2),
                "average_ms": round(float(row["Average Response Time"]), 1),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "p99_ms": _number(row["99%"]),
            }
            if row["Name"] == "Aggregated":
                total = numbers
            else:
                journeys[row["Name"]] = numbers
    return {"total": total, "journeys": dict(sorted(journeys.items()))}


def _number(text: str) -> float | None:
    return None if text in ("", "N/A") else float(text)


def compare(report: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """The regressions of ``report`` against ``baseline``: one line each."""
    regressions = []
    for name, base in baseline["journeys"].items():
        now = report["journeys"].get(name)
        if now is None:
            regressions.append(f"{name}: no requests (the baseline had {base['requests']})")
            continue
        for key, (factor, slack) in TOLERANCE.items():
            enough = min(base["requests"], now["requests"]) >= MIN_REQUESTS[key]
            if enough and base.get(key) is not None and now.get(key) is not None:
                limit = base[key] * factor + slack
                if now[key] > limit:
                    regressions.append(f"{name}: {key} {now[key]:g} ms > {limit:g} ms (baseline {base[key]:g} ms)")
        if now["error_rate"] > base["error_rate"] + ERROR_RATE_SLACK:
            regressions.append(f"{name}: error rate {now['error_rate']:.2%} (baseline {base['error_rate']:.2%})")
    floor = baseline["total"]["requests_per_second"] * THROUGHPUT_FACTOR
    if report["total"]["requests_per_second"] < floor:
        regressions.append(
            f"throughput {report['total']['requests_per_second']:g} requests/s < {floor:g} "
            f"(baseline {baseline['total']['requests_per_second']:g})"
        )
    return regressions


def markdown(report: dict[str, Any]) -> str:
    total = report["total"]
    lines = [
        f"# Load profile `{report['profile']}` against {report.get('target', '?')}",
        "",
        f"{total['requests']} requests in {report['seconds']} s: {total['requests_per_second']} requests/s, "
        f"error rate {total['error_rate']:.2%}, p50 {total['p50_ms']} ms, p95 {total['p95_ms']} ms, "
        f"p99 {total['p99_ms']} ms.",
        "",
        "| journey | requests | error rate | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, j in report["journeys"].items():
        lines.append(
            f"| {name} | {j['requests']} | {j['error_rate']:.2%} | {j['p50_ms']} | {j['p95_ms']} | {j['p99_ms']} |"
        )
    return "\n".join(lines) + "\n"


class LocalStack:
    """``firstmile dev`` on free ports for one run, with no demo users walking."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, tokens: dict[str, str]) -> None:
        self.process, self.url, self.tokens = process, url, tokens

    @classmethod
    def start(cls, directory: Path) -> LocalStack:
        port, aws_port = _free_port(), _free_port()
        work = Path(tempfile.mkdtemp(prefix="firstmile-load-", dir=directory))
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
        env |= {
            "FIRSTMILE_PORT": str(port),
            "FIRSTMILE_AWS_PORT": str(aws_port),
            "FIRSTMILE_TOKENS_FILE": str(work / "tokens.env"),
            "FIRSTMILE_LOG_FILE": str(work / "dev.log"),
            "FIRSTMILE_DEMO_USERS": "0",
        }
        firstmile = Path(sys.executable).parent / "firstmile"
        with (work / "dev.out").open("wb") as out:
            process = subprocess.Popen([str(firstmile), "dev"], stdout=out, stderr=out, env=env)  # noqa: S603
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"firstmile dev exited with {process.returncode}; see {work / 'dev.out'}")
            try:
                with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return cls(process, url, read_tokens_file(work / "tokens.env"))
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        raise SystemExit(f"firstmile dev was not ready after {READY_TIMEOUT_SECONDS:.0f} s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    raise SystemExit(main())
