"""How long a new function instance takes to be ready: forked from the fork server against a fresh interpreter.

Both ways run side by side in one run, through ``local.runtime.Runtime`` exactly as the local stack uses it, with
real functions of the catalogue and the environment ``firstmile dev`` gives them (the emulator's address is never
dialled: importing a handler needs no AWS). Measured from asking the runtime for an instance to its handler imported
(what the runtime reports as the init duration of a cold start):

- **one at a time**: each function's instance started alone, in rounds with a shuffled order of functions and ways;
- **all at once**: one instance of every measured function started at the same moment, as ``firstmile dev`` starts
  the functions seeding needs (the wall time until the last is ready).

The fork server's own start (importing the layer once) is reported apart: it happens once per stack, while the
stack starts its other parts. The ratio printed is fresh interpreter over fork server (above 1: forking is faster).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "core"))

from bench.measure import run_header  # noqa: E402
from functions.catalog import CATALOG, Function  # noqa: E402
from local.environment import LocalEnvironment  # noqa: E402
from local.resources import deployment_for  # noqa: E402
from local.runtime import Runtime, StartMethod  # noqa: E402

# A spread of what the catalogue has: public and protected routes, admin routes, the authorizer, a job, a consumer.
DEFAULT_FUNCTIONS = (
    "health_live",
    "health_ready",
    "authorizer",
    "auth_token",
    "onboarding_status",
    "onboarding_step",
    "flags_evaluate",
    "admin_audit_list",
    "admin_flag_create",
    "admin_sample_users_create",
    "synthetic_probe",
    "flag_exposure_worker",
)
METHODS: tuple[StartMethod, ...] = ("fork", "process")


def _runtime(functions: list[Function], method: StartMethod) -> Runtime:
    deployment = deployment_for(CATALOG)
    environment = LocalEnvironment(deployment, "http://127.0.0.1:9", {}, (), dynamodb_endpoint="http://127.0.0.1:9")
    runtime = Runtime(functions, environment.for_function, max_instances=1, start_method=method).start()
    if runtime.fork_server is not None:
        runtime.fork_server.ready()
    return runtime


def _start(runtime: Runtime, name: str) -> float:
    init_ms = runtime.warm(name)
    if init_ms is None:
        raise RuntimeError(f"{name} did not start")
    return init_ms


def one_at_a_time(functions: list[Function], rounds: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """Init ms per way and function: each round starts every function once per way, in a shuffled order."""
    order = random.Random(seed)
    samples: dict[str, dict[str, list[float]]] = {m: {f.name: [] for f in functions} for m in METHODS}
    for index in range(rounds + 1):  # the first round warms the page cache and is not kept
        runtimes = {method: _runtime(functions, method) for method in METHODS}
        try:
            pairs = [(method, f.name) for method in METHODS for f in functions]
            order.shuffle(pairs)
            for method, name in pairs:
                init_ms = _start(runtimes[method], name)
                if index > 0:
                    samples[method][name].append(init_ms)
        finally:
            for runtime in runtimes.values():
                runtime.stop()
        print(f"  round {index}/{rounds} done", file=sys.stderr, flush=True)
    return samples


def all_at_once(functions: list[Function], rounds: int) -> dict[str, list[float]]:
    """Wall ms until one instance of every function is ready, started together, per way."""
    walls: dict[str, list[float]] = {m: [] for m in METHODS}
    for index in range(rounds):
        for method in METHODS if index % 2 == 0 else tuple(reversed(METHODS)):
            runtime = _runtime(functions, method)
            try:
                began = time.perf_counter()
                threads = [threading.Thread(target=_start, args=(runtime, f.name)) for f in functions]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                walls[method].append((time.perf_counter() - began) * 1000)
            finally:
                runtime.stop()
    return walls


def fork_server_start(rounds: int) -> list[float]:
    """How long the fork server takes to import the layer (ms), as it reports it."""
    reported: list[float] = []
    for _ in range(rounds):
        runtime = _runtime([next(f for f in CATALOG if f.name == "health_live")], "fork")
        try:
            assert runtime.fork_server is not None  # noqa: S101 - started with fork
            reported.append(float(runtime.fork_server.ready()["preload_ms"]))
        finally:
            runtime.stop()
    return reported


def _summary(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] if values else float("nan")), 0.0
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return median, q3 - q1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("functions", nargs="*", help=f"functions to start (default: {len(DEFAULT_FUNCTIONS)} of them)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of one-at-a-time starts (default 5)")
    parser.add_argument("--together-rounds", type=int, default=3, help="rounds of all-at-once starts (default 3)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args()
    names = args.functions or list(DEFAULT_FUNCTIONS)
    by_name = {f.name: f for f in CATALOG}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"not in the catalogue: {', '.join(unknown)}")
    functions = [by_name[n] for n in names]
    started = datetime.now(UTC)
    header = run_header(started)
    print(f"Instance start: fork server against fresh interpreter, {len(functions)} functions")
    for key, value in header.items():
        print(f"  {key}: {value}")

    single = one_at_a_time(functions, args.rounds, args.seed)
    together = all_at_once(functions, args.together_rounds)
    preload = fork_server_start(3)

    print(f"\nOne at a time (init ms: asking for an instance -> handler imported), {args.rounds} rounds")
    print("| function | fork median | fork IQR | fresh median | fresh IQR | ratio fresh/fork |")
    print("|---|---:|---:|---:|---:|---:|")
    all_fork = [v for values in single["fork"].values() for v in values]
    all_fresh = [v for values in single["process"].values() for v in values]
    for function in functions:
        fork_median, fork_iqr = _summary(single["fork"][function.name])
        fresh_median, fresh_iqr = _summary(single["process"][function.name])
        print(
            f"| {function.name} | {fork_median:.0f} | {fork_iqr:.0f} | {fresh_median:.0f} | {fresh_iqr:.0f} "
            f"| {fresh_median / fork_median:.1f} |"
        )
    fork_all, _ = _summary(all_fork)
    fresh_all, _ = _summary(all_fresh)
    print(f"| all | {fork_all:.0f} | | {fresh_all:.0f} | | **{fresh_all / fork_all:.1f}** |")
    fork_wall, _ = _summary(together["fork"])
    fresh_wall, _ = _summary(together["process"])
    print(f"\nAll {len(functions)} at once (ms until the last is ready), {args.together_rounds} rounds")
    print(f"  fork server: median {fork_wall:.0f}  (samples {', '.join(f'{v:.0f}' for v in together['fork'])})")
    print(
        f"  fresh interpreter: median {fresh_wall:.0f}  (samples {', '.join(f'{v:.0f}' for v in together['process'])})"
    )
    print(f"  ratio fresh/fork: {fresh_wall / fork_wall:.1f}")
    print(f"\nThe fork server's own start (importing the layer once): median {statistics.median(preload):.0f} ms")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {**header, "one_at_a_time": single, "all_at_once": together, "fork_server_preload_ms": preload}
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
