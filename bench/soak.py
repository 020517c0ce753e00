"""`make dev` under steady mixed traffic: the resident memory of every process it runs, over time.

Starts the real ``make dev`` (make, uv, ``firstmile dev`` and everything it starts: the table engine, the fork server
and every function instance) on free ports with a tokens file and a log file of its own, waits for its readiness
signal, then sends steady mixed traffic for ``--minutes`` (default 5): onboarding status reads and step writes by a
rotating set of users, flag evaluations with a country, admin reads (audit, flows, flags), token mints, liveness.
Every ``--sample-seconds`` it reads the resident memory (RSS; PSS where Linux gives it) of every process of the tree,
grouped as the stack, the table engine, the fork server and the function instances.

Reported:

- memory per group over time, and its growth after the warm-up (``--warmup-minutes``, by default the first fifth of
  the run, at least a minute when the run is that long): per group, and per process alive through the whole window;
- the traffic sent: requests per second, statuses, latency per kind of request;
- the first call of functions no request had called (a cold instance), and a second call of each;
- Ctrl-C: from the signal (sent to the whole process group, as a terminal does) until ``make`` exits, and whether any
  process of the tree was left.

A benchmark, not a test: it always exits 0 unless ``--fail-growth-above`` is given.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import run_header  # noqa: E402
from local.emulator import client  # noqa: E402
from local.tokens_file import read_tokens_file  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 300.0
# Routes no request of the traffic calls, and seeding does not warm: each is the first call of its function.
COLD_CALLS = (
    ("health_startup", "GET", "/health/startup", None),
    ("jwks", "GET", "/.well-known/jwks.json", None),
    ("admin_segment_list", "GET", "/v1/admin/segments", "admin"),
    ("admin_kill_switch_get", "GET", "/v1/admin/kill-switch", "admin"),
    ("admin_flag_settings_get", "GET", "/v1/admin/flag-settings", "admin"),
    ("admin_default_flow_get", "GET", "/v1/admin/onboarding/default-flow", "admin"),
    ("onboarding_sample_workflow", "GET", "/v1/onboarding/sample-workflow", "user"),
)
STEPS = ("create-workspace", "connect-data", "tour-editor", "invite-teammate")
COUNTRIES = ("DE", "US", "FR", "JP", "BR", "NL", "IN")
TABLE = "firstmile-local-table"
# The traffic's mix: kinds of request and their weights. `--reads-only` keeps those that add nothing to the table
# (a flag evaluation does: the exposures it samples are recorded with a marker item each).
MIX = {
    "status": 5.0,
    "step": 3.0,
    "evaluate": 4.0,
    "audit": 1.0,
    "flows": 1.0,
    "flags": 1.0,
    "token": 0.5,
    "live": 1.0,
    "first_run": 0.5,
}
READS = frozenset({"status", "audit", "flows", "flags", "live"})
KINDS = list(MIX)
USERS = 12
TOKEN_RENEW_SECONDS = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the process tree ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    group: str
    name: str
    rss_kb: int
    pss_kb: int | None


def _tree(root: int) -> list[Process]:
    """Every process below ``root`` (itself included), from ``ps`` (PSS from /proc where there is one)."""
    listing = subprocess.run(  # noqa: S603
        ["ps", "-A", "-o", "pid=,ppid=,rss=,comm=,args="],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows: dict[int, tuple[int, int, str, str]] = {}
    for line in listing.splitlines():
        parts = line.split(None, 4)
        if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
            args = parts[4] if len(parts) > 4 else ""
            rows[int(parts[0])] = (int(parts[1]), int(parts[2]) if parts[2].isdigit() else 0, parts[3], args)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, *_rest) in rows.items():
        children[ppid].append(pid)
    found: list[Process] = []
    pending = [root] if root in rows else []
    servers: set[int] = set()
    while pending:
        pid = pending.pop()
        ppid, rss, comm, args = rows[pid]
        group, name = _classify(comm, args, ppid in servers)
        if group == "fork server":
            servers.add(pid)
        found.append(Process(pid, ppid, group, name, rss, _pss(pid)))
        pending += children.get(pid, [])
    return found


def _classify(comm: str, args: str, parent_is_fork_server: bool) -> tuple[str, str]:
    if comm.startswith("fm:") or parent_is_fork_server:
        return "function instances", comm.removeprefix("fm:")
    if comm == "fm-forkserver" or "local.forkserver" in args:
        return "fork server", "fork server"
    if comm == "fm-dynamodb" or "local.dynamodb" in args:
        return "table engine", "DynamoDB Local"
    if "local.worker" in args:
        return "function instances", args.rsplit("/", 2)[-2] if "/" in args else "instance"
    if "firstmile" in args and " dev" in args:
        return "stack", "firstmile dev"
    return "make and uv", comm


def _pss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class Sample:
    seconds: float
    processes: list[Process]
    # Items in the table when the sample was taken.
    items: int | None = None

    def by_group(self) -> dict[str, tuple[int, float, float | None]]:
        """Per group: how many processes, their RSS in MB, their PSS in MB (None when unknown)."""
        groups: dict[str, list[Process]] = defaultdict(list)
        for process in self.processes:
            groups[process.group].append(process)
        summary: dict[str, tuple[int, float, float | None]] = {}
        for group, members in groups.items():
            pss = [p.pss_kb for p in members]
            known = None if any(v is None for v in pss) else sum(v or 0 for v in pss) / 1024
            summary[group] = (len(members), sum(p.rss_kb for p in members) / 1024, known)
        return summary


# --- the traffic --------------------------------------------------------------------------------------------------


@dataclass
class Traffic:
    api: str
    client: tuple[str, str]
    admin_token: str
    rate: float
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    users: list[tuple[str, str, list[str]]] = field(default_factory=list)
    results: list[tuple[str, int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    renewed_at: float = field(default_factory=time.monotonic)
    minted: int = 0
    weights: tuple[float, ...] = tuple(MIX.values())

    def call(self, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, bytes, float]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        request = urllib.request.Request(self.api + path, data=data, method=method, headers=headers)  # noqa: S310
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - 127.0.0.1 only
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        except OSError:
            status, answer = 0, b""
        return status, answer, (time.perf_counter() - began) * 1000

    def mint(self, user: str, roles: list[str], attributes: dict[str, str] | None = None) -> tuple[int, str]:
        basic = base64.b64encode(f"{self.client[0]}:{self.client[1]}".encode()).decode()
        body = {"grant_type": "client_credentials", "user_id": user, "roles": roles, "attributes": attributes or {}}
        data = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310
            self.api + "/v1/auth/token",
            data=data,
            method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, str(json.loads(response.read())["access_token"])
        except urllib.error.HTTPError as error:
            return error.code, ""
        except OSError:
            return 0, ""

    def new_user(self) -> tuple[int, float]:
        """One more user walking the flow (the oldest leaves when there are enough); the mint's status and ms."""
        with self.lock:
            self.minted += 1
            user = f"soak-{self.minted}"
        began = time.perf_counter()
        status, token = self.mint(user, ["user"], {"plan": self.rng.choice(["trial", "pro"])})
        if status == 200:
            with self.lock:
                self.users.append((user, token, list(STEPS)))
                if len(self.users) > USERS:
                    self.users.pop(0)
        return status, (time.perf_counter() - began) * 1000

    def one_request(self) -> tuple[str, int, float]:
        with self.lock:
            user, token, steps = self.rng.choice(self.users)
            kind = self.rng.choices(KINDS, weights=self.weights)[0]
            step = steps.pop(0) if kind == "step" and steps else None
        if kind == "status":
            status, _, ms = self.call("GET", "/v1/onboarding/status", token)
        elif kind == "step":
            if step is None:
                # This user has walked the steps: an admin restarts their onboarding, and they walk it again.
                status, _, ms = self.call("POST", f"/v1/admin/onboarding/users/{user}/restart", self.admin_token)
                if status == 200:
                    with self.lock:
                        steps.extend(STEPS)
                return "restart", status, ms
            action = "skip" if step == "tour-editor" else "complete"
            status, _, ms = self.call("POST", "/v1/onboarding/step", token, {"step_id": step, "action": action})
        elif kind == "evaluate":
            body = {"attributes": {"country": self.rng.choice(COUNTRIES)}}
            status, _, ms = self.call("POST", "/v1/flags/evaluate", token, body)
        elif kind == "audit":
            status, _, ms = self.call("GET", "/v1/admin/audit", self.admin_token)
        elif kind == "flows":
            status, _, ms = self.call("GET", "/v1/admin/onboarding/flows", self.admin_token)
        elif kind == "flags":
            status, _, ms = self.call("GET", "/v1/admin/feature-flags", self.admin_token)
        elif kind == "token":
            began = time.perf_counter()
            status, _ = self.mint(f"soak-visitor-{self.rng.randrange(1000)}", ["user"])
            ms = (time.perf_counter() - began) * 1000
        elif kind == "live":
            status, _, ms = self.call("GET", "/health/live", None)
        else:
            status, _, ms = self.call("POST", "/v1/onboarding/mark-first-run", token)
        return kind, status, ms

    def run(self, until: float, threads: int) -> None:
        """Send requests at ``rate`` per second from ``threads`` threads until ``until`` (monotonic)."""
        started = time.monotonic()
        counter = iter(range(1 << 62))
        counter_lock = threading.Lock()

        def worker() -> None:
            while True:
                with counter_lock:
                    slot = started + next(counter) / self.rate
                if slot >= until:
                    return
                time.sleep(max(0.0, slot - time.monotonic()))
                if time.monotonic() - self.renewed_at > TOKEN_RENEW_SECONDS:
                    self.renew()
                kind, status, ms = self.one_request()
                with self.lock:
                    self.results.append((kind, status, ms))

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    def renew(self) -> None:
        """New tokens before the 15-minute lifetime runs out (long runs)."""
        with self.lock:
            if time.monotonic() - self.renewed_at <= TOKEN_RENEW_SECONDS:
                return
            self.renewed_at = time.monotonic()
            users = list(self.users)
        status, admin = self.mint("soak-admin", ["user", "admin"])
        if status == 200:
            self.admin_token = admin
        renewed = []
        for user, _, steps in users:
            status, token = self.mint(user, ["user"])
            if status == 200:
                renewed.append((user, token, steps))
        with self.lock:
            self.users = renewed or self.users


# --- the run ------------------------------------------------------------------------------------------------------


def _wait_ready(api: str, process: subprocess.Popen[bytes]) -> float:
    began = time.monotonic()
    while time.monotonic() - began < READY_TIMEOUT_SECONDS:
        if process.poll() is not None:
            raise SystemExit(f"make dev exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(api + "/health/ready", timeout=30) as response:  # noqa: S310
                if response.status == 200:
                    return time.monotonic() - began
        except (urllib.error.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"make dev was not ready after {READY_TIMEOUT_SECONDS:.0f} s")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:  # noqa: C901 - one report, printed in order
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="how long to send traffic (default 5)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="memory sampling interval (default 10)")
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: a fifth of the run (>= 1 min)")
    parser.add_argument("--instance-start", choices=("fork", "process"), default="fork")
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="only requests that add nothing to the table (status, admin reads, liveness)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample and result to this file")
    parser.add_argument("--fail-growth-above", type=float, default=None, metavar="PCT", help="exit 1 above this")
    args = parser.parse_args()
    warmup = args.warmup_minutes if args.warmup_minutes is not None else max(args.minutes / 5, min(1.0, args.minutes))
    warmup = min(warmup, args.minutes * 0.8)
    header = run_header(datetime.now(UTC))
    mix = "reads only" if args.reads_only else "mixed"
    print(f"Soak: make dev under {args.rate:g} {mix} requests/s for {args.minutes:g} min (warm-up {warmup:g} min)")
    for key, value in header.items():
        print(f"  {key}: {value}")

    workdir = Path(tempfile.mkdtemp(prefix="firstmile-soak-"))
    port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env |= {
        "FIRSTMILE_PORT": str(port),
        "FIRSTMILE_AWS_PORT": str(aws_port),
        "FIRSTMILE_TOKENS_FILE": str(workdir / "tokens.env"),
        "FIRSTMILE_LOG_FILE": str(workdir / "dev.log"),
        "FIRSTMILE_INSTANCE_START": args.instance_start,
    }
    api = f"http://127.0.0.1:{port}"
    with (workdir / "console.out").open("wb") as out, (workdir / "console.err").open("wb") as err:
        make = subprocess.Popen(  # noqa: S603
            ["make", "--no-print-directory", "dev"],  # noqa: S607
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, which Ctrl-C is sent to, as a terminal does
        )
    samples: list[Sample] = []
    stop_sampling = threading.Event()
    try:
        ready_after = _wait_ready(api, make)
        print(f"  ready after {ready_after:.1f} s; console and logs in {workdir}")
        tokens = read_tokens_file(workdir / "tokens.env")
        traffic = Traffic(
            api,
            (tokens["FIRSTMILE_CLIENT_ID"], tokens["FIRSTMILE_CLIENT_SECRET"]),
            tokens["FIRSTMILE_ADMIN_TOKEN"],
            args.rate,
        )
        if args.reads_only:
            traffic.weights = tuple(weight if kind in READS else 0.0 for kind, weight in MIX.items())
        for _ in range(USERS):
            traffic.new_user()
        traffic_began = time.monotonic()

        endpoint = f"http://127.0.0.1:{aws_port}"

        def sample() -> None:
            while True:
                samples.append(Sample(time.monotonic() - traffic_began, _tree(make.pid), _items(endpoint)))
                if stop_sampling.wait(args.sample_seconds):
                    samples.append(Sample(time.monotonic() - traffic_began, _tree(make.pid), _items(endpoint)))
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        traffic.run(traffic_began + args.minutes * 60, args.threads)
        stop_sampling.set()
        sampler.join()
        sent_for = time.monotonic() - traffic_began

        cold: list[tuple[str, int, float, int, float]] = []
        tokens_by_role = {"admin": traffic.admin_token, "user": traffic.users[-1][1], None: None}
        for name, method, path, role in COLD_CALLS:
            first = traffic.call(method, path, tokens_by_role[role])
            second = traffic.call(method, path, tokens_by_role[role])
            cold.append((name, first[0], first[2], second[0], second[2]))

        # Ctrl-C while the traffic goes on, as a terminal sends it to the whole process group. What these requests
        # get (refused connections, 503 while stopping) is not part of the traffic reported.
        tree = _tree(make.pid)
        with traffic.lock:
            traffic.results = list(traffic.results)
            reported = traffic.results
            traffic.results = []
        background = threading.Thread(target=traffic.run, args=(time.monotonic() + 10, 2), daemon=True)
        background.start()
        time.sleep(1.0)
        interrupted = time.monotonic()
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            make.kill()
            make.wait()
        stopped_after = time.monotonic() - interrupted
        time.sleep(0.5)
        left = [p for p in tree if _alive(p.pid)]
        traffic.results = reported
    finally:
        stop_sampling.set()
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()

    _report(args, warmup, samples, traffic, sent_for, cold, stopped_after, left, workdir)
    growth = _growth(samples, warmup * 60)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            **header,
            "minutes": args.minutes,
            "rate": args.rate,
            "instance_start": args.instance_start,
            "ready_after_s": ready_after,
            "samples": [{"seconds": s.seconds, "processes": [p.__dict__ for p in s.processes]} for s in samples],
            "requests": traffic.results,
            "cold_calls": cold,
            "stop_seconds": stopped_after,
            "left_after_stop": [p.__dict__ for p in left],
            "growth": growth,
        }
        args.json.write_text(json.dumps(document, indent=1))
    if args.fail_growth_above is not None:
        worst = max((g["percent"] for g in growth.values()), default=0.0)
        return 1 if worst > args.fail_growth_above else 0
    return 0


def _items(endpoint: str) -> int | None:
    """How many items the stack's table holds: DynamoDB Local keeps ``ItemCount`` current (the service does not)."""
    try:
        return int(client("dynamodb", endpoint).describe_table(TableName=TABLE)["Table"]["ItemCount"])
    except Exception:  # the count is context for the engine's memory; the soak goes on without it
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1][:1] == "Z")


def _growth(samples: list[Sample], warmup_seconds: float) -> dict[str, dict[str, float]]:
    """Per group, RSS (MB) at the end of the warm-up and at the end, and the change; then per process alive in both."""
    if not samples:
        return {}
    start = min(samples, key=lambda s: abs(s.seconds - warmup_seconds))
    end = samples[-1]
    before, after = start.by_group(), end.by_group()
    growth: dict[str, dict[str, float]] = {}
    for group in sorted(set(before) | set(after)):
        count_before, rss_before, _ = before.get(group, (0, 0.0, None))
        count_after, rss_after, _ = after.get(group, (0, 0.0, None))
        percent = 100 * (rss_after - rss_before) / rss_before if rss_before else 0.0
        growth[group] = {
            "from_mb": rss_before,
            "to_mb": rss_after,
            "mb": rss_after - rss_before,
            "percent": percent,
            "from_processes": count_before,
            "to_processes": count_after,
        }
    return growth


def _report(
    args: argparse.Namespace,
    warmup: float,
    samples: list[Sample],
    traffic: Traffic,
    sent_for: float,
    cold: list[tuple[str, int, float, int, float]],
    stopped_after: float,
    left: list[Process],
    workdir: Path,
) -> None:
    groups = ("stack", "table engine", "fork server", "function instances", "make and uv")
    print("\nResident memory (RSS, MB; PSS in brackets where known), by group")
    print("| minute | " + " | ".join(groups) + " | total | table items |")
    print("|---:|" + "---:|" * (len(groups) + 2))
    step = max(1, len(samples) // 20)
    shown = samples[::step] + ([samples[-1]] if samples and samples[-1] is not samples[::step][-1] else [])
    for sample in shown:
        by = sample.by_group()
        cells = []
        for group in groups:
            count, rss, pss = by.get(group, (0, 0.0, None))
            extra = f" [{pss:.0f}]" if pss is not None else ""
            cells.append(f"{rss:.0f}{extra} ({count})" if group == "function instances" else f"{rss:.0f}{extra}")
        total = sum(v[1] for v in by.values())
        items = "" if sample.items is None else str(sample.items)
        print(f"| {sample.seconds / 60:.1f} | " + " | ".join(cells) + f" | {total:.0f} | {items} |")

    print(f"\nGrowth after the warm-up ({warmup:g} min) to the end, RSS")
    if samples:
        start = min(samples, key=lambda s: abs(s.seconds - warmup * 60))
        if start.items is not None and samples[-1].items is not None:
            print(f"  (the table held {start.items} items at the warm-up's end and {samples[-1].items} at the end)")
    for group, change in _growth(samples, warmup * 60).items():
        print(
            f"  {group:<20} {change['from_mb']:8.1f} MB -> {change['to_mb']:8.1f} MB  "
            f"{change['mb']:+7.1f} MB ({change['percent']:+.1f}%), processes {change['from_processes']:.0f} -> "
            f"{change['to_processes']:.0f}"
        )
    if samples:
        start = min(samples, key=lambda s: abs(s.seconds - warmup * 60))
        end = samples[-1]
        before = {p.pid: p for p in start.processes}
        through = [(p, before[p.pid]) for p in end.processes if p.pid in before]
        if through:
            print(f"  per process alive through the window ({len(through)} of them), largest changes:")
            through.sort(key=lambda pair: pair[0].rss_kb - pair[1].rss_kb, reverse=True)
            for now, then in through[:6]:
                print(
                    f"    {now.group}: {now.name:<28} {then.rss_kb / 1024:7.1f} MB -> {now.rss_kb / 1024:7.1f} MB "
                    f"({(now.rss_kb - then.rss_kb) / 1024:+.1f} MB)"
                )
        instances = sorted((p for p in end.processes if p.group == "function instances"), key=lambda p: -p.rss_kb)
        if instances:
            rss = [p.rss_kb / 1024 for p in instances]
            pss = [p.pss_kb / 1024 for p in instances if p.pss_kb is not None]
            extra = f", PSS median {statistics.median(pss):.0f} MB" if pss else ""
            print(
                f"  function instances at the end: {len(instances)}, RSS median {statistics.median(rss):.0f} MB, "
                f"largest {rss[0]:.0f} MB ({instances[0].name}){extra}"
            )

    results = traffic.results
    print(f"\nTraffic: {len(results)} requests in {sent_for:.0f} s ({len(results) / max(sent_for, 1):.1f}/s)")
    statuses = Counter(status for _, status, _ in results)
    print("  statuses: " + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())))
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, ms in results:
        by_kind[kind].append(ms)
    for kind, values in sorted(by_kind.items()):
        print(
            f"  {kind:<10} {len(values):6d} requests, median {statistics.median(values):6.1f} ms, "
            f"p95 {_percentile(values, 0.95):7.1f} ms"
        )

    print("\nFirst call of functions no request had called (a cold instance), then a second call")
    print("| function | first call | ms | second call | ms |")
    print("|---|---:|---:|---:|---:|")
    for name, first_status, first_ms, second_status, second_ms in cold:
        print(f"| {name} | {first_status} | {first_ms:.0f} | {second_status} | {second_ms:.0f} |")
    firsts = [ms for _, _, ms, _, _ in cold]
    if firsts:
        print(f"  median first call {statistics.median(firsts):.0f} ms, slowest {max(firsts):.0f} ms")

    print(
        f"\nCtrl-C under traffic: make exited {stopped_after:.2f} s after the signal; "
        f"processes left: {len(left)}" + (f" ({', '.join(f'{p.name} {p.pid}' for p in left)})" if left else "")
    )
    console = (workdir / "console.out").read_text(errors="replace") + (workdir / "console.err").read_text(
        errors="replace"
    )
    log_lines = (workdir / "dev.log").read_text(errors="replace").count("\n") if (workdir / "dev.log").exists() else 0
    print(
        f"Console: {console.count(chr(10))} lines, {console.count('Traceback')} tracebacks; "
        f"log file: {log_lines} lines (kept in {workdir})"
    )


if __name__ == "__main__":
    sys.exit(main())
