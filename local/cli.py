"""``firstmile``: run the local stack, invoke one function, fire a job, and keep the OpenAPI document current.

firstmile dev                          the whole system on 127.0.0.1 (``make dev``)
firstmile invoke FUNCTION EVENT_FILE   one invocation of one function with a sample event
firstmile jobs list                    the schedules and when they fire next
firstmile jobs run NAME                fire one scheduled function now, against the running stack
firstmile openapi --write PATH         write the merged OpenAPI document
firstmile openapi --check PATH         fail when PATH differs from the generated document
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from functions.catalog import CATALOG, Function, Schedule
from local import openapi
from local.config import AWS_PORT_ENV, ConfigError, LocalConfig
from local.emulator import Emulator, emulator_answers
from local.environment import LocalEnvironment
from local.events import schedule_event
from local.ports import PortInUseError
from local.resources import MissingResourceError, create_resources, deployment_for, queue_urls
from local.runtime import Invocation, Runtime
from local.scheduler import parse_expression, scheduled_functions
from local.stack import LocalStack


def main(argv: list[str] | None = None) -> int:
    """Run one ``firstmile`` command; the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "dev" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args))
    except (ConfigError, PortInUseError, MissingResourceError) as exc:
        print(f"firstmile {args.command}: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firstmile", description="Firstmile's local stack and tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start the whole system on this machine")
    dev.set_defaults(run=_dev)

    invoke = commands.add_parser("invoke", help="run one function once with an event file")
    invoke.add_argument("function", help="a function name from functions/catalog.py")
    invoke.add_argument("event", type=Path, help="an event file, e.g. events/health_live.json")
    invoke.set_defaults(run=_invoke)

    jobs = commands.add_parser("jobs", help="scheduled functions")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    job_commands.add_parser("list", help="the schedules and their next fire times").set_defaults(run=_jobs_list)
    run = job_commands.add_parser("run", help="fire one scheduled function now against the running stack")
    run.add_argument("name", help="a scheduled function, e.g. synthetic_probe")
    run.set_defaults(run=_jobs_run)

    spec = commands.add_parser("openapi", help="the merged OpenAPI document")
    mode = spec.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="PATH", help="write the document to PATH")
    mode.add_argument("--check", type=Path, metavar="PATH", help="fail when PATH is not the current document")
    spec.set_defaults(run=_openapi)
    return parser


def _dev(_: argparse.Namespace) -> int:
    config = LocalConfig.from_env()
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(config).start()
    _print_banner(stack)
    # A short wait in a loop keeps the main thread responsive to signals.
    while not stopping.wait(0.5):
        pass
    print("Stopping the local stack...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    return 0


def _print_banner(stack: LocalStack) -> None:
    api = stack.api_url
    deployment = stack.deployment
    counts = {
        kind: sum(1 for f in stack.catalog if type(f.trigger).__name__ == kind)
        for kind in ("Route", "Schedule", "Queue", "TableStream")
    }
    lines = [
        f"Firstmile local stack is up (stage {deployment.stage}).",
        f"  API            {api}",
        f"  API docs       {api}/docs",
        f"  OpenAPI        {api}/openapi.json",
        f"  AWS emulator   {stack.aws_endpoint}  (moto; any access key works, e.g. AWS_ACCESS_KEY_ID=local)",
        f"  Table          {deployment.table_name}",
        f"  Buckets        {', '.join(b.name for b in deployment.buckets)}",
        f"  Queues         {', '.join(q.name for q in deployment.queues)}",
        f"  Functions      {len(stack.catalog)} (routes: {counts['Route']}, schedules: {counts['Schedule']}, "
        f"queue consumers: {counts['Queue']}, stream consumers: {counts['TableStream']})",
    ]
    if stack.seeded is not None:
        lines += [f"  Token ({label})  {token}" for label, token in stack.seeded.tokens.items()]
    lines += ["Try:", f"  curl -i {api}/health/ready"]
    scheduled = scheduled_functions(stack.catalog)
    if scheduled:
        lines.append(f"  firstmile jobs run {scheduled[0].name}     # fire a scheduled function now")
    lines.append("Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


def _function(name: str) -> Function:
    for function in CATALOG:
        if function.name == name:
            return function
    names = ", ".join(sorted(f.name for f in CATALOG))
    raise SystemExit(f"firstmile: no function called {name!r}; the catalogue has: {names}")


def _invoke(args: argparse.Namespace) -> int:
    config = LocalConfig.from_env()
    function = _function(args.function)
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"firstmile invoke: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 1
    deployment = deployment_for(CATALOG, config.stage)
    with _emulator(config) as endpoint:
        urls = create_resources(deployment, endpoint)
        environment = LocalEnvironment(deployment, endpoint, urls, config.cors_allow_origins)
        return _run_once(function, event, environment)


@contextlib.contextmanager
def _emulator(config: LocalConfig) -> Iterator[str]:
    """The running stack's emulator, or a temporary one for this command only."""
    if emulator_answers(config.aws_endpoint):
        yield config.aws_endpoint
        return
    print(
        f"No emulator answers on {config.aws_endpoint} ({AWS_PORT_ENV}); using a temporary one for this run.",
        file=sys.stderr,
    )
    emulator = Emulator(port=0).start()
    try:
        yield emulator.endpoint
    finally:
        emulator.stop()


def _run_once(function: Function, event: Any, environment: LocalEnvironment) -> int:
    """One invocation in a fresh instance: the function's answer on stdout, a summary on stderr."""
    runtime = Runtime([function], environment.for_function, max_instances=1)
    try:
        invocation = runtime.invoke(function.name, event)
    finally:
        runtime.stop()
    print(_summary(invocation), file=sys.stderr)
    if invocation.error is not None:
        print(json.dumps({"errorType": invocation.error.error_type, "errorMessage": invocation.error.message}))
        return 1
    print(json.dumps(invocation.payload, indent=2))
    return 0


def _summary(invocation: Invocation) -> str:
    cold = f", cold start {invocation.init_ms:.0f} ms" if invocation.init_ms is not None else ""
    if invocation.error is not None:
        outcome = f"failed ({invocation.error.kind}: {invocation.error.error_type})"
    elif isinstance(invocation.payload, dict) and "statusCode" in invocation.payload:
        outcome = f"answered HTTP {invocation.payload['statusCode']}"
    else:
        outcome = "succeeded"
    return f"{invocation.function} {outcome} in {invocation.duration_ms:.0f} ms{cold} (request {invocation.request_id})"


def _jobs_list(_: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    scheduled = scheduled_functions(CATALOG)
    if not scheduled:
        print("No scheduled functions in the catalogue.")
        return 0
    print("Schedules (UTC; rate schedules count from when the stack starts, here: now):")
    for function in scheduled:
        assert isinstance(function.trigger, Schedule)  # noqa: S101 - scheduled_functions kept only these
        expression = parse_expression(function.trigger.expression, now)
        first = expression.next_after(now)
        second = expression.next_after(first)
        print(
            f"  {function.name:<28} {function.trigger.expression:<24} next {first:%Y-%m-%d %H:%M:%S}, "
            f"then {second:%Y-%m-%d %H:%M:%S}  (retries {function.trigger.retry_attempts})"
        )
    return 0


def _jobs_run(args: argparse.Namespace) -> int:
    config = LocalConfig.from_env()
    function = _function(args.name)
    if not isinstance(function.trigger, Schedule):
        names = ", ".join(f.name for f in scheduled_functions(CATALOG))
        print(f"firstmile jobs run: {function.name} is not scheduled; scheduled functions: {names}", file=sys.stderr)
        return 1
    if not emulator_answers(config.aws_endpoint):
        print(
            f"firstmile jobs run: no local stack answers on {config.aws_endpoint}. Start it with `make dev` "
            f"(or point {AWS_PORT_ENV} at the port it runs on).",
            file=sys.stderr,
        )
        return 1
    deployment = deployment_for(CATALOG, config.stage)
    urls = queue_urls(deployment, config.aws_endpoint)
    environment = LocalEnvironment(deployment, config.aws_endpoint, urls, config.cors_allow_origins)
    event = schedule_event(function, stage=config.stage, scheduled_time=datetime.now(UTC))
    return _run_once(function, event, environment)


def _openapi(args: argparse.Namespace) -> int:
    if args.write is not None:
        openapi.write(args.write)
        print(f"Wrote {args.write}")
        return 0
    problem = openapi.check(args.check)
    if problem is not None:
        print(f"firstmile openapi: {problem}", file=sys.stderr)
        return 1
    print(f"{args.check} is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
