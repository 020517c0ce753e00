"""``firstmile``: run the local stack, invoke one function, fire a job, and keep the OpenAPI document current.

firstmile dev                          the whole system on 127.0.0.1 (``make dev``), with a demo tenant and tokens
firstmile invoke FUNCTION EVENT_FILE   one invocation of one function with a sample event
firstmile jobs list                    the schedules and when they fire next
firstmile jobs run NAME                fire one scheduled function now, against the running stack
firstmile token [--user ID] [--roles R,R]  a fresh access token from the running stack (demo client credentials)
firstmile tokens                       renew the demo user, admin and operator tokens in .local/tokens.env
firstmile bootstrap-operator [--force] the first operator credentials, locally or on a deployment
firstmile openapi --write PATH         write the merged OpenAPI document
firstmile openapi --check PATH         fail when PATH differs from the generated document
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from firstmile.privacy.notifier import read_outbox
from functions.catalog import CATALOG, Function, Schedule
from local import openapi, seed
from local.config import AWS_PORT_ENV, PORT_ENV, ConfigError, LocalConfig
from local.console import VERBOSE_ENV, DevLogging, log_file, verbose_from
from local.demo_users import DEMO_DAYS, DEMO_USERS, walk_demo_users
from local.emulator import Emulator, emulator_answers
from local.environment import LocalEnvironment
from local.events import schedule_event
from local.ports import PortInUseError
from local.resources import MissingResourceError, create_resources, deployment_for, queue_urls
from local.runtime import Invocation, Runtime
from local.scheduler import parse_expression, scheduled_functions
from local.stack import LocalStack
from local.tokens_file import OUTBOX, TOKENS_FILE_ENV, read_tokens_file, tokens_file, write_tokens_file


def main(argv: list[str] | None = None) -> int:
    """Run one ``firstmile`` command; the process exit status."""
    args = _parser().parse_args(argv)
    if args.command != "dev":  # `firstmile dev` routes its logs itself (local.console)
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return int(args.run(args))
    except (ConfigError, PortInUseError, MissingResourceError) as exc:
        print(f"firstmile {args.command}: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firstmile", description="Firstmile's local stack and tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev",
        help="start the whole system on this machine",
        description="Start the local stack. The console shows one line per request and the stack's events; every "
        "function's logs, the emulator's and the table engine's go to .local/dev.log (FIRSTMILE_LOG_FILE).",
    )
    dev.add_argument(
        "--verbose",
        action="store_true",
        default=None,
        help=f"show every log line on the console too, tracebacks included (or {VERBOSE_ENV}=1)",
    )
    dev.set_defaults(run=_dev)

    invoke = commands.add_parser("invoke", help="run one function once with an event file")
    invoke.add_argument("function", help="a function name from the catalogue (functions/catalog/)")
    invoke.add_argument("event", type=Path, help="an event file, e.g. events/health_live.json")
    invoke.set_defaults(run=_invoke)

    jobs = commands.add_parser("jobs", help="scheduled functions")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    job_commands.add_parser("list", help="the schedules and their next fire times").set_defaults(run=_jobs_list)
    run = job_commands.add_parser("run", help="fire one scheduled function now against the running stack")
    run.add_argument("name", help="a scheduled function, e.g. synthetic_probe")
    run.set_defaults(run=_jobs_run)

    token = commands.add_parser(
        "token",
        help="a fresh access token from the running stack",
        description="Mint a session over the running stack's POST /v1/auth/token with the demo API client's "
        "credentials (or the operator's) read from the tokens file `firstmile dev` wrote; prints the access token.",
    )
    token.add_argument(
        "--user", default=None, help=f"the user id (default {seed.DEMO_USER}, {seed.OPERATOR_USER} with --operator)"
    )
    token.add_argument("--roles", default=None, help="comma-separated roles, e.g. user,admin (default user)")
    token.add_argument(
        "--attr", action="append", default=[], metavar="NAME=VALUE", help="an attribute of the user (repeatable)"
    )
    token.add_argument("--operator", action="store_true", help="use the operator client (role operator)")
    token.add_argument("--json", action="store_true", help="print the whole answer, refresh token included")
    token.add_argument(
        "--tokens-file", type=Path, default=None, help=f"default ${TOKENS_FILE_ENV} or .local/tokens.env"
    )
    token.set_defaults(run=_token)

    tokens = commands.add_parser(
        "tokens",
        help="renew the demo user, admin and operator tokens in .local/tokens.env",
        description="Mint new sessions for the demo user, the demo admin and the local operator over the running "
        "stack's POST /v1/auth/token, with the client credentials of the tokens file, and write them to that file: "
        "`source .local/tokens.env` then gives fresh tokens (they live 15 minutes).",
    )
    tokens.add_argument(
        "--tokens-file", type=Path, default=None, help=f"default ${TOKENS_FILE_ENV} or .local/tokens.env"
    )
    tokens.set_defaults(run=_tokens)

    walkers = commands.add_parser(
        "demo-users",
        help="walk demo users through the demo flow over the running stack's API, over the last days",
        description="Demo users (not sample users: analytics counts them) enrol and act through the onboarding "
        "routes at simulated times over the last days, with a realistic spread of completions, skips with reasons, "
        "errors and drop-offs. `make dev` walks 300 of them once it is ready (FIRSTMILE_DEMO_USERS, 0 for none).",
    )
    walkers.add_argument("--users", type=int, default=DEMO_USERS, help=f"how many (default {DEMO_USERS})")
    walkers.add_argument("--days", type=int, default=DEMO_DAYS, help=f"over how many days (default {DEMO_DAYS})")
    walkers.add_argument("--seed", type=int, default=12, help="another seed walks other users (default 12)")
    walkers.add_argument("--tenant", default=seed.DEMO_TENANT_ID, help="a tenant whose default flow they walk")
    walkers.add_argument(
        "--tokens-file", type=Path, default=None, help=f"default ${TOKENS_FILE_ENV} or .local/tokens.env"
    )
    walkers.set_defaults(run=_demo_users)

    bootstrap = commands.add_parser(
        "bootstrap-operator",
        help="create the first operator credentials",
        description="Create the first operator API client and print its secret once. With FIRSTMILE_TABLE_NAME "
        "set it works on that table wherever the AWS environment points (a deployment, or AWS_ENDPOINT_URL); "
        "otherwise on the running local stack's emulator.",
    )
    bootstrap.add_argument("--name", default="operator", help="a name for the client (default operator)")
    bootstrap.add_argument("--force", action="store_true", help="create one even though operator clients exist")
    bootstrap.set_defaults(run=_bootstrap_operator)

    outbox = commands.add_parser(
        "outbox",
        help="the messages the running stack sent (erasure codes), oldest first",
        description="Locally no email leaves the machine: erasure codes go to an outbox file beside the tokens "
        "file, which `make dev` also prints as they arrive.",
    )
    outbox.add_argument("--user", default=None, help="only the messages to this user")
    outbox.add_argument("--code", action="store_true", help="print only the newest message's code")
    outbox.add_argument(
        "--tokens-file", type=Path, default=None, help=f"default ${TOKENS_FILE_ENV} or .local/tokens.env"
    )
    outbox.set_defaults(run=_outbox)

    spec = commands.add_parser("openapi", help="the merged OpenAPI document")
    mode = spec.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", type=Path, metavar="PATH", help="write the document to PATH")
    mode.add_argument("--check", type=Path, metavar="PATH", help="fail when PATH is not the current document")
    spec.set_defaults(run=_openapi)
    return parser


# A second Ctrl-C this long after the first leaves at once; sooner, it is taken for the first one forwarded by uv.
SECOND_SIGNAL_AFTER_SECONDS = 1.0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Once: the start is abandoned and what had started is stopped, which further signals must not interrupt (`uv run`
    # forwards the terminal's Ctrl-C to the stack a second time, about 0.2 s after the terminal's own).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _dev(args: argparse.Namespace) -> int:
    config = LocalConfig.from_env()
    tokens_path = tokens_file()
    logs = DevLogging.start(log_file(), verbose=bool(args.verbose) or verbose_from())
    print(
        f"Starting the Firstmile local stack on {config.api_url} ... GET {config.api_url}/health/ready answers "
        f"503 SYS_STARTING until the demo is seeded and {_shown_path(tokens_path)} is written, then 200. "
        f"Full logs: {_shown_path(logs.path)}",
        flush=True,
    )
    # Ctrl-C (or SIGTERM) while starting: the start is abandoned and what had started is stopped.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = LocalStack(config, tokens_path=tokens_path, output=logs.output)
    try:
        stack.start()
    except KeyboardInterrupt:
        print("Stopped before the stack was ready.", flush=True)
        _leave(logs, 130)
    stopping = threading.Event()
    first_signal: list[float] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if not first_signal:
            first_signal.append(time.monotonic())
            stopping.set()
        elif time.monotonic() - first_signal[0] >= SECOND_SIGNAL_AFTER_SECONDS:
            # A second Ctrl-C: leave now. Every process the stack started ends on its own when this one is gone
            # (the fork server and the table engine watch their pipe to it, instances their requests).
            os._exit(130)
        # Sooner than that it is the same Ctrl-C again: `uv run` forwards the terminal's to the stack once more.

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    _print_banner(stack, tokens_path if stack.tokens_path and stack.tokens_path.exists() else None, logs)
    threading.Thread(target=_print_outbox, args=(stack.outbox_path, stopping), name="outbox", daemon=True).start()
    # A short wait in a loop keeps the main thread responsive to signals.
    while not stopping.wait(0.5):
        pass
    print("Stopping the local stack...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    _leave(logs, 0)


def _leave(logs: DevLogging, code: int) -> NoReturn:
    """Exit now. Everything the stack started has ended; the interpreter's own teardown (moto's backends,
    thousands of modules) took seconds more on a loaded machine."""
    logs.stop()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _print_banner(stack: LocalStack, tokens_path: Path | None, logs: DevLogging) -> None:
    api = stack.api_url
    deployment = stack.deployment
    counts = {
        kind: sum(1 for f in stack.catalog if type(f.trigger).__name__ == kind)
        for kind in ("Route", "Schedule", "Queue", "TableStream", "Authorizer")
    }
    lines = [
        f"Firstmile local stack is up (stage {deployment.stage}).",
        f"  API            {api}",
        f"  API docs       {api}/docs",
        f"  OpenAPI        {api}/openapi.json",
        f"  JWKS           {api}/.well-known/jwks.json",
        f"  AWS emulator   {stack.aws_endpoint}  (the table on DynamoDB Local, the rest on moto; any access key "
        "works, e.g. AWS_ACCESS_KEY_ID=local)",
        f"  Table          {deployment.table_name}",
        f"  Buckets        {', '.join(b.name for b in deployment.buckets)}",
        f"  Queues         {', '.join(q.name for q in deployment.queues)}",
    ]
    if deployment.signing_keys_secret is not None:
        lines.append(f"  Signing keys   secret {deployment.signing_keys_secret}")
    shown_logs = _shown_path(logs.path)
    lines.append(
        f"  Logs           {shown_logs}: every function's JSON logs, the emulator's and the table engine's"
        + (" (also shown here)" if logs.verbose else "; here: one line per request (`firstmile dev --verbose`: all)")
    )
    lines.append(
        f"  Functions      {len(stack.catalog)} (routes: {counts['Route']}, schedules: {counts['Schedule']}, "
        f"queue consumers: {counts['Queue']}, stream consumers: {counts['TableStream']}, "
        f"authorizer: {counts['Authorizer']})"
    )
    if stack.demo is not None:
        lines += _demo_lines(stack.demo, tokens_path)
    elif stack.seed_error is not None:
        lines.append(f"No demo data: {stack.seed_error}")
    lines += ["Try:", f"  curl -i {api}/health/ready"]
    if stack.demo is not None:
        lines += [
            f"  curl -s {api}/.well-known/jwks.json",
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_ADMIN_TOKEN" {api}/v1/admin/audit',
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_ADMIN_TOKEN" {api}/v1/admin/audit/verify',
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_OPERATOR_TOKEN" '
            f"{api}/v1/operator/tenants/{stack.demo.tenant_id}/clients",
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_USER_TOKEN" {api}/v1/onboarding/status',
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_USER_TOKEN" -H "Content-Type: application/json" '
            f"-X POST {api}/v1/onboarding/step "
            """-d '{"step_id":"create-workspace","action":"complete"}'""",
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_ADMIN_TOKEN" {api}/v1/admin/onboarding/flows',
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_USER_TOKEN" -H "Content-Type: application/json" '
            f"-X POST {api}/v1/flags/evaluate "
            """-d '{"attributes":{"country":"DE"}}'""",
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_ADMIN_TOKEN" -H "Content-Type: application/json" '
            f"-X POST {api}/v1/admin/kill-switch "
            """-d '{"flag":"new-editor","reason":"demo"}'""",
            f'  curl -i -H "Authorization: Bearer $FIRSTMILE_USER_TOKEN" -H "Content-Type: application/json" '
            f"-X POST {api}/v1/auth/revoke "
            """-d '{"target":"token"}'   # revokes this very token""",
        ]
    scheduled = scheduled_functions(stack.catalog)
    if scheduled:
        lines.append(f"  firstmile jobs run {scheduled[0].name}     # fire a scheduled function now")
    took = f" in {stack.started_in:.1f} s" if stack.started_in is not None else ""
    if stack.ready:
        lines.append(f"Ready{took}: GET {api}/health/ready answers 200 from now on. Stop with Ctrl-C.")
    else:
        lines.append(f"Not usable: GET {api}/health/ready answers 503 SYS_SEED_FAILED. Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


def _demo_lines(demo: seed.DemoCredentials, tokens_path: Path | None) -> list[str]:
    api = demo.api_url
    attributes = ", ".join(f"{k}={v}" for k, v in seed.DEMO_ATTRIBUTES.items())
    shown = _shown_path(tokens_path) if tokens_path is not None else None
    grant = json.dumps(
        {"grant_type": "client_credentials", "user_id": seed.DEMO_USER, "roles": ["user"]}, separators=(",", ":")
    )
    lines = [
        f"Demo tenant {demo.tenant_name!r} ({demo.tenant_id}); signing key {demo.signing_key_id}.",
        "  Secrets are shown once; copy them now" + (f" (they are also in {shown})." if shown else "."),
        f"  API client       {demo.client_id}",
        f"  client secret    {demo.client_secret}",
        f"  Operator client  {demo.operator_client_id}",
        f"  operator secret  {demo.operator_client_secret}",
        f"  User token ({seed.DEMO_USER}, roles user, {attributes}):",
        f"    {demo.user.access_token}",
        f"  User refresh token ({seed.DEMO_USER}):",
        f"    {demo.user.refresh_token}",
        f"  Admin token ({seed.DEMO_ADMIN}, roles user+admin):",
        f"    {demo.admin.access_token}",
        f"  Operator token ({seed.OPERATOR_USER}, role operator):",
        f"    {demo.operator.access_token}",
    ]
    if shown:
        lines.append(f"  As shell variables: source {shown}")
    lines += [
        f"Access tokens live {demo.user.expires_in // 60} minutes. Renew all three (then source the file again):",
        "  .venv/bin/firstmile tokens",
        "A fresh token for any user, or with curl:",
        "  .venv/bin/firstmile token --user demo-user --roles user,admin",
        f'  curl -s -u "$FIRSTMILE_CLIENT_ID:$FIRSTMILE_CLIENT_SECRET" -H "Content-Type: application/json" '
        f"-d '{grant}' {api}/v1/auth/token",
    ]
    return lines


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, as a developer would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _function(name: str) -> Function:
    for function in CATALOG:
        if function.name == name:
            return function
    names = ", ".join(sorted(f.name for f in CATALOG))
    raise SystemExit(f"firstmile: no function called {name!r}; the catalogue has: {names}")


def _invoke(args: argparse.Namespace) -> int:
    config = LocalConfig.for_commands()
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
        f"No emulator answers on {config.aws_endpoint} (port from {config.origin}); using a temporary one for this "
        "run.",
        file=sys.stderr,
    )
    emulator = Emulator(port=0).start()
    try:
        yield emulator.endpoint
    finally:
        emulator.stop()


def _run_once(function: Function, event: Any, environment: LocalEnvironment) -> int:
    """One invocation in a fresh instance: the function's answer on stdout, a summary on stderr."""
    # One instance of one function: a fresh interpreter costs what a fork server would, with one process less.
    runtime = Runtime([function], environment.for_function, max_instances=1, start_method="process")
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
    config = LocalConfig.for_commands()
    function = _function(args.name)
    if not isinstance(function.trigger, Schedule):
        names = ", ".join(f.name for f in scheduled_functions(CATALOG))
        print(f"firstmile jobs run: {function.name} is not scheduled; scheduled functions: {names}", file=sys.stderr)
        return 1
    if not emulator_answers(config.aws_endpoint):
        print(
            f"firstmile jobs run: no local stack answers on {config.aws_endpoint} (port from {config.origin}). "
            f"Start it with `make dev` (or point {AWS_PORT_ENV} at the port it runs on).",
            file=sys.stderr,
        )
        return 1
    deployment = deployment_for(CATALOG, config.stage)
    urls = queue_urls(deployment, config.aws_endpoint)
    environment = LocalEnvironment(deployment, config.aws_endpoint, urls, config.cors_allow_origins)
    event = schedule_event(function, stage=config.stage, scheduled_time=datetime.now(UTC))
    return _run_once(function, event, environment)


def _saved_stack(command: str, path: Path) -> dict[str, str] | None:
    """The running stack's tokens file, or ``None`` after saying how to get one."""
    try:
        return read_tokens_file(path)
    except OSError:
        print(
            f"firstmile {command}: no tokens file at {_shown_path(path)}. Start the stack with `make dev` (it writes "
            f"one once it is ready), or name another with --tokens-file or {TOKENS_FILE_ENV}.",
            file=sys.stderr,
        )
        return None


def _token(args: argparse.Namespace) -> int:
    path = args.tokens_file or tokens_file()
    saved = _saved_stack("token", path)
    if saved is None:
        return 1
    prefix = "FIRSTMILE_OPERATOR_CLIENT" if args.operator else "FIRSTMILE_CLIENT"
    client_id, client_secret = saved.get(f"{prefix}_ID"), saved.get(f"{prefix}_SECRET")
    if not client_id or not client_secret:
        print(f"firstmile token: {path} has no {prefix}_ID and {prefix}_SECRET.", file=sys.stderr)
        return 1
    user = args.user or (seed.OPERATOR_USER if args.operator else seed.DEMO_USER)
    roles = [r.strip() for r in (args.roles or ("operator" if args.operator else "user")).split(",") if r.strip()]
    attributes: dict[str, str] = {}
    for pair in args.attr:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            print(f"firstmile token: --attr wants NAME=VALUE, not {pair!r}", file=sys.stderr)
            return 1
        attributes[name] = value
    config = LocalConfig.for_commands(tokens_path=path)
    try:
        answer = seed.mint_token(config.api_url, client_id, client_secret, user, roles, attributes)
    except seed.SeedError as exc:
        print(f"firstmile token: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"firstmile token: {_no_gateway(config, exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**answer.__dict__, "user_id": user, "roles": roles}, indent=2))
    else:
        print(answer.access_token)
    return 0


def _tokens(args: argparse.Namespace) -> int:
    path = args.tokens_file or tokens_file()
    saved = _saved_stack("tokens", path)
    if saved is None:
        return 1
    config = LocalConfig.for_commands(tokens_path=path)
    try:
        renewed = seed.renew_demo_tokens(config.api_url, saved)
    except seed.SeedError as exc:
        print(f"firstmile tokens: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"firstmile tokens: {_no_gateway(config, exc)}", file=sys.stderr)
        return 1
    write_tokens_file(
        path, {**saved, **renewed}, notes=(f"Tokens renewed by `firstmile tokens` for {config.api_url}.",)
    )
    print(
        f"Renewed the user, admin and operator tokens in {_shown_path(path)} (they live 15 minutes). "
        f"Load them with: source {_shown_path(path)}",
        file=sys.stderr,
    )
    return 0


def _demo_users(args: argparse.Namespace) -> int:
    path = args.tokens_file or tokens_file()
    saved = _saved_stack("demo-users", path)
    if saved is None:
        return 1
    config = LocalConfig.for_commands(tokens_path=path)
    try:
        operator = seed.mint_token(
            config.api_url,
            saved["FIRSTMILE_OPERATOR_CLIENT_ID"],
            saved["FIRSTMILE_OPERATOR_CLIENT_SECRET"],
            seed.OPERATOR_USER,
            seed.OPERATOR_ROLES,
        )
        summary = walk_demo_users(
            config.api_url, operator.access_token, tenant=args.tenant, users=args.users, days=args.days, seed=args.seed
        )
    except (seed.SeedError, KeyError) as exc:
        print(f"firstmile demo-users: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"firstmile demo-users: {_no_gateway(config, exc)}", file=sys.stderr)
        return 1
    print(summary.line())
    for failure in summary.failures[:10]:
        print(f"  {failure}", file=sys.stderr)
    return 1 if summary.failures else 0


def _no_gateway(config: LocalConfig, exc: OSError) -> str:
    return (
        f"no local stack answers on {config.api_url} (port from {config.origin}; {exc}). Is `make dev` running? "
        f"Otherwise set {PORT_ENV} to the port it runs on."
    )


def _bootstrap_operator(args: argparse.Namespace) -> int:
    from firstmile.identity.tenancy import OperatorAlreadyBootstrappedError

    table = os.environ.get("FIRSTMILE_TABLE_NAME", "").strip()
    if table:
        # A deployment (or whatever AWS_ENDPOINT_URL names): the services a function builds, from this environment.
        from firstmile.composition import container

        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "AWS (the environment's credentials and region)"
        where, tenancy = f"table {table} on {endpoint}", container().tenancy_service
    else:
        config = LocalConfig.for_commands()
        if not emulator_answers(config.aws_endpoint):
            print(
                f"firstmile bootstrap-operator: no local stack answers on {config.aws_endpoint} (port from "
                f"{config.origin}). Start it with `make dev` (or point {AWS_PORT_ENV} at the port it runs on), or "
                "set FIRSTMILE_TABLE_NAME (and AWS credentials) to bootstrap a deployment.",
                file=sys.stderr,
            )
            return 1
        deployment = deployment_for(CATALOG, config.stage)
        where = f"table {deployment.table_name} on the local emulator {config.aws_endpoint}"
        tenancy = seed.local_tenancy(deployment, config.aws_endpoint)
    try:
        issued = seed.bootstrap_operator(tenancy, name=args.name, actor="system:cli", force=args.force)
    except OperatorAlreadyBootstrappedError as exc:
        print(f"firstmile bootstrap-operator: {exc} ({where}). Use --force to add one anyway.", file=sys.stderr)
        return 1
    client_id, secret = issued.client.client_id, issued.client_secret
    grant = json.dumps({"grant_type": "client_credentials", "user_id": "YOUR-NAME", "roles": ["operator"]})
    print(
        "\n".join(
            [
                f"Operator client created in {where}.",
                f"  client_id      {client_id}",
                f"  client_secret  {secret}",
                "The secret is shown only now: store it in your secret manager. Mint an operator token with:",
                f"  curl -s -u {shlex.quote(client_id + ':' + secret)} -H 'Content-Type: application/json' "
                f"-d {shlex.quote(grant)} https://YOUR-API/v1/auth/token",
            ]
        ),
        flush=True,
    )
    return 0


def _outbox(args: argparse.Namespace) -> int:
    path = args.tokens_file or tokens_file()
    saved = _saved_stack("outbox", path)
    if saved is None:
        return 1
    messages = [m for m in read_outbox(saved.get(OUTBOX, "")) if args.user is None or m.get("user") == args.user]
    if args.code:
        if not messages:
            print("firstmile outbox: no message yet.", file=sys.stderr)
            return 1
        print(messages[-1]["code"])
        return 0
    for message in messages:
        print(_outbox_line(message))
    return 0


def _outbox_line(message: dict[str, str]) -> str:
    return f"outbox: to {message.get('to')} (request {message.get('request_id')}): {message.get('text')}"


def _print_outbox(path: Path, stopping: threading.Event) -> None:
    """Print each message the stack sends (erasure codes), as it arrives, until ``stopping``."""
    seen = 0
    while not stopping.wait(0.5):
        messages = read_outbox(str(path))
        for message in messages[seen:]:
            print(_outbox_line(message), flush=True)
        seen = max(seen, len(messages))


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
