"""Cold-start import cost of every function, as a ratio to a bare Powertools HTTP handler.

For each function of the catalogue, a fresh interpreter imports ``functions/<name>/handler.py`` the way the
Lambda runtime would (the function's folder, then the core layer, then the third-party packages on
``sys.path``; Lambda's own environment variables and no ``FIRSTMILE_*`` ones) and reports how long the import
took. The baseline is a minimal handler, generated into a temporary folder, that builds a Powertools
``APIGatewayHttpResolver`` with one route. Baseline and functions are measured round-robin in the same run, so
the machine's noise hits both alike, and each function is reported as ``median(function) / median(baseline)``.
A second generated handler, the same resolver with request validation on (as every Firstmile HTTP function
has), is measured alongside as a reference: it shows how much of a function's ratio pydantic alone explains.

Run it with ``make bench`` (or ``python bench/cold_start.py --help``). It always exits 0 unless
``--fail-above RATIO`` asks it to gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.measure import Samples, run_header

REPO = Path(__file__).resolve().parents[1]
CORE_LAYER_DIR = REPO / "layers" / "core"
TARGET_RATIO = 1.3
PROJECT = "firstmile"
SUBPROCESS_TIMEOUT_SECONDS = 120

BASELINE_HANDLER = '''\
"""A bare Powertools HTTP API handler: the reference cold start every function is compared with."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()


@app.get("/ping")
def ping():
    return {"ok": True}


def lambda_handler(event, context):
    return app.resolve(event, context)
'''

VALIDATING_HANDLER = '''\
"""The baseline with request validation on: Powertools then loads pydantic and its OpenAPI models."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

app = APIGatewayHttpResolver(enable_validation=True)


class Pong(BaseModel):
    ok: bool


@app.get("/ping")
def ping() -> Pong:
    return Pong(ok=True)


def lambda_handler(event, context):
    return app.resolve(event, context)
'''

# Runs in the fresh interpreter. Nothing but sys, time and importlib.util is imported before the clock starts,
# so whatever the handler needs (json, logging, pydantic, ...) is counted. The last stdout line is the wall-clock
# seconds of the import and the CPU seconds the process spent on it (CPU time is barely affected by other
# processes competing for the machine, so it is reported too, as a check on noisy runs).
_IMPORT_PROBE = textwrap.dedent(
    """\
    import sys, time, importlib.util
    handler_path, *path_entries = sys.argv[1:]
    sys.path[:0] = path_entries
    start, start_cpu = time.perf_counter(), time.process_time()
    spec = importlib.util.spec_from_file_location("handler", handler_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if not callable(getattr(module, "lambda_handler", None)):
        raise SystemExit("the module has no callable lambda_handler")
    print(repr(elapsed), repr(elapsed_cpu))
    """
)


Kind = Literal["baseline", "reference", "function"]


@dataclass
class Module(Samples):
    """One handler module under measurement and what was measured of it."""

    name: str
    handler_path: Path
    kind: Kind = "function"
    error: str | None = None


def venv_site_packages() -> list[str]:
    """Where the running interpreter's third-party packages live (development tools included)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


def runtime_distributions(project: str = PROJECT) -> list[metadata.Distribution]:
    """The installed distributions the layer ships: the project's runtime dependencies, transitively.

    Development groups (CDK, moto, pytest, ...) are not dependencies of the project, so they are left out.
    """
    found: dict[str, metadata.Distribution] = {}
    pending: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    while pending:
        name, extras = pending.pop()
        key = canonicalize_name(name)
        if key in found:
            continue
        distribution = metadata.distribution(name)
        found[key] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            )
            if wanted:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return [d for k, d in sorted(found.items()) if k != canonicalize_name(project)]


def build_layer_site_packages(target: Path) -> list[str]:
    """A folder holding only the layer's dependencies, linked from the virtualenv, like the layer's ``python/``.

    Packages that are installed only for development (``requests`` for instance) would otherwise be found and
    imported by code that probes for optional libraries, such as the X-Ray SDK's ``patch_all``.
    """
    target.mkdir(parents=True)
    try:
        distributions = runtime_distributions()
    except metadata.PackageNotFoundError as missing:
        print(f"note: {missing} is not installed; handlers see the whole virtualenv instead", file=sys.stderr)
        return venv_site_packages()
    for distribution in distributions:
        for top in sorted({f.parts[0] for f in distribution.files or [] if f.parts}):
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            link = target / top
            if not link.exists():
                link.symlink_to(Path(str(distribution.locate_file(top))).resolve())
    return [str(target)]


def lambda_environment(function_name: str, task_root: Path) -> dict[str, str]:
    """The variables the Lambda runtime itself sets; nothing from this shell and no ``FIRSTMILE_*``."""
    return {
        "PATH": os.defpath,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": f"firstmile-bench-{function_name}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "_HANDLER": "handler.lambda_handler",
    }


def measure_once(module: Module, packages: tuple[str, ...]) -> tuple[float, float]:
    """Import ``module`` in a fresh interpreter; the wall-clock and CPU seconds the import took."""
    task_root = module.handler_path.parent
    # -I: no PYTHON* variables, no user site, no current directory; -S: no site-packages processing (.pth
    # files), so sys.path is exactly the standard library plus the entries given below, as on Lambda.
    command = [
        sys.executable,
        "-I",
        "-S",
        "-c",
        _IMPORT_PROBE,
        str(module.handler_path),
        str(task_root),
        str(CORE_LAYER_DIR),
        *packages,
    ]
    try:
        result = subprocess.run(
            command,
            cwd=task_root,
            env=lambda_environment(module.name, task_root),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"the import did not finish within {SUBPROCESS_TIMEOUT_SECONDS} s") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {result.returncode}")
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError("the import printed no timing")
    wall, cpu = lines[-1].split()
    return float(wall), float(cpu)


def run_rounds(modules: list[Module], packages: tuple[str, ...], rounds: int, warmup: int, seed: int) -> None:
    """Measure every module once per round, in a shuffled order, baseline included.

    Warm-up rounds fill the page cache and write the bytecode caches; they are not recorded. A module that
    fails to import once is marked as an error and not tried again.
    """
    order = random.Random(seed)
    progress = sys.stderr.isatty()
    for index in range(warmup + rounds):
        recording = index >= warmup
        label = f"round {index - warmup + 1}/{rounds}" if recording else f"warm-up {index + 1}/{warmup}"
        if progress:
            print(f"\r  {label} ...", end="", file=sys.stderr, flush=True)
        batch = [m for m in modules if m.error is None]
        order.shuffle(batch)
        for module in batch:
            try:
                seconds, cpu_seconds = measure_once(module, packages)
            except (OSError, RuntimeError, ValueError) as exc:
                module.error = str(exc) or type(exc).__name__
                continue
            if recording:
                module.samples.append(seconds)
                module.cpu_samples.append(cpu_seconds)
    if progress:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_description(args: argparse.Namespace, started: datetime) -> dict[str, Any]:
    return {
        **run_header(started),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "powertools": package_version("aws-lambda-powertools"),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "seed": args.seed,
        "packages": "virtualenv" if args.full_venv else "layer dependencies",
        "target_ratio": args.target,
    }


def results(modules: list[Module], baseline: Module, target: float) -> list[dict[str, Any]]:
    """One row per module: median and IQR in milliseconds, ratio to the baseline, verdict."""
    base = baseline.median() if baseline.samples and baseline.error is None else None
    rows: list[dict[str, Any]] = []
    for module in modules:
        row: dict[str, Any] = {
            "module": module.name,
            "kind": module.kind,
            "samples_ms": [round(s * 1000, 3) for s in module.samples],
            "cpu_samples_ms": [round(s * 1000, 3) for s in module.cpu_samples],
        }
        if module.error is not None or not module.samples:
            row |= {"ratio": None, "status": "error", "error": module.error or "no samples"}
            rows.append(row)
            continue
        ratio = None if base is None else module.median() / base
        cpu_ratio = None if base is None else module.cpu_median() / baseline.cpu_median()
        row |= {
            "median_ms": module.median() * 1000,
            "iqr_ms": module.iqr() * 1000,
            "ratio": ratio,
            "cpu_median_ms": module.cpu_median() * 1000,
            "cpu_ratio": cpu_ratio,
        }
        if module.kind != "function":
            row["status"] = module.kind
        elif ratio is None:
            row["status"] = "no baseline"
        else:
            row["status"] = "ok" if ratio <= target else "above target"
        rows.append(row)
    return rows


def print_report(meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print("Cold-start import time of each function's handler, relative to a bare Powertools HTTP handler")
    print(f"  run at      {meta['run_at']}")
    print(f"  python      {meta['python']} on {meta['platform']}")
    print(f"  machine     {meta['cpu']}, {meta['cores']} cores ({meta['usable_cores']} usable)")
    print(f"  powertools  {meta['powertools']}")
    print(f"  method      {meta['rounds']} rounds (+{meta['warmup_rounds']} warm-up), round-robin, fresh process")
    print(f"  sees        {meta['packages']}, Lambda runtime variables, no FIRSTMILE_* variables")
    print()
    name_width = max(len("module"), *(len(r["module"]) for r in rows))
    header = f"{'module':<{name_width}}  {'median ms':>9}  {'IQR ms':>7}  {'ratio':>6}  {'CPU ratio':>9}  status"
    print(header)
    print("-" * len(header))
    for row in rows:
        name = f"{row['module']:<{name_width}}"
        if row["status"] == "error":
            print(f"{name}  {'-':>9}  {'-':>7}  {'-':>6}  {'-':>9}  ERROR: {row['error']}")
            continue
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        cpu_ratio = "-" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.2f}"
        status = "ABOVE TARGET" if row["status"] == "above target" else row["status"]
        print(f"{name}  {row['median_ms']:>9.1f}  {row['iqr_ms']:>7.1f}  {ratio:>6}  {cpu_ratio:>9}  {status}")
    print()
    functions = [r for r in rows if r["kind"] == "function"]
    meeting = [r["module"] for r in functions if r["status"] == "ok"]
    above = [r["module"] for r in functions if r["status"] == "above target"]
    failed = [r["module"] for r in functions if r["status"] in ("error", "no baseline")]
    print(f"target: ratio <= {meta['target_ratio']:.2f}; {len(meeting)}/{len(functions)} functions meet it")
    if above:
        print("above target: " + ", ".join(above))
    if failed:
        print("not measured: " + ", ".join(failed))
    reference = next((r for r in rows if r["kind"] == "reference" and r["ratio"] is not None), None)
    if reference is not None:
        print(f"validation alone (pydantic) costs {reference['ratio']:.2f}x the baseline: see {reference['module']}")


def generated_module(folder: Path, name: str, source: str, kind: Kind) -> Module:
    """A handler module written into its own folder, as a function's ``handler.py`` is."""
    path = folder / name / "handler.py"
    path.parent.mkdir()
    path.write_text(source)
    return Module(name, path, kind)


def catalogue_modules(names: list[str]) -> list[Module]:
    """The handler module of every catalogued function (or only of ``names``)."""
    sys.path.insert(0, str(REPO))
    from functions.catalog import CATALOG

    known = {f.name: f for f in CATALOG}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"not in the catalogue: {', '.join(unknown)}")
    chosen = [known[n] for n in names] if names else list(CATALOG)
    modules = [Module(f.name, f.handler_path) for f in chosen]
    for module in modules:
        if not module.handler_path.is_file():
            module.error = f"{module.handler_path.relative_to(REPO)} does not exist"
    return modules


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("functions", nargs="*", help="only these functions (default: the whole catalogue)")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds (default: 15)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first (default: 1)")
    parser.add_argument("--target", type=float, default=TARGET_RATIO, help="ratio a function should stay under")
    parser.add_argument("--fail-above", type=float, metavar="RATIO", help="exit 1 if a ratio exceeds RATIO")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-round shuffle (default: 0)")
    parser.add_argument(
        "--full-venv",
        action="store_true",
        help="let handlers see the whole virtualenv (development packages too), not only the layer's packages",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    functions = catalogue_modules(args.functions)
    with tempfile.TemporaryDirectory(prefix="firstmile-bench-") as folder:
        baseline = generated_module(Path(folder), "baseline", BASELINE_HANDLER, "baseline")
        reference = generated_module(Path(folder), "baseline+validation", VALIDATING_HANDLER, "reference")
        modules = [baseline, reference, *functions]
        packages = venv_site_packages() if args.full_venv else build_layer_site_packages(Path(folder) / "layer")
        run_rounds(modules, tuple(packages), args.rounds, args.warmup, args.seed)
    meta = machine_description(args, started)
    rows = results(modules, baseline, args.target)
    print_report(meta, rows)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": meta, "results": rows}, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.fail_above is None:
        return 0
    gated = [r for r in rows if r["kind"] == "function"]
    failing = [r for r in gated if r["ratio"] is None or r["ratio"] > args.fail_above]
    if failing:
        print(f"failing --fail-above {args.fail_above}: " + ", ".join(r["module"] for r in failing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
