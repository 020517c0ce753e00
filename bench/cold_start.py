"""Cold start of every function (import plus first request), as a ratio to a bare validating handler making the same
AWS calls.

A cold start here is what a new Lambda execution environment spends in the function's own code: importing
``functions/<name>/handler.py`` and answering its first request. Each is measured in a fresh interpreter with the
function's ``sys.path`` (its folder, the core layer, the layer's third-party packages) and environment (the
variables CDK sets, pointed at the local emulator, plus those the Lambda runtime sets), against a seeded local stack
(``local.stack.LocalStack``: the table on DynamoDB Local, queues and secrets on moto, the demo tenant).

The first request is the function's sample event (``events/<name>.json``). A route's event carries a fresh token of
its role and the authorizer context the local gateway would put there (the stack's authorizer is run on it); the
authorizer's own event is a request to ``GET /v1/onboarding/status`` with the demo user's token; jobs and consumers
get their sample events as they are.

Each function is compared with its own **reference**: a handler generated into a temporary folder that does the
least a Firstmile function may do (a Powertools ``APIGatewayHttpResolver(enable_validation=True)`` with the same
route and a pydantic response model; for a job, a consumer or the authorizer, its event validated by a pydantic
model) and then makes, with plain boto3 clients, the same AWS calls with the same parameters as the function's
first request. The calls are recorded once, from the function itself, before the measured rounds.

Every measurement starts from the same table: the items as they were after the round's tokens were minted are put
back before each one, so a function that writes (and its reference, which writes the same) meets the same state in
every round. Functions and references are measured round-robin in a shuffled order in the same run; a function's
**ratio** is median(function) / median(its reference) of import plus first request. Target: at most 1.3.

Run it with ``make bench`` (or ``python bench/cold_start.py --help``); it exits 0 unless ``--fail-above RATIO``
asks it to gate.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import py_compile
import random
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.measure import Samples, run_header

REPO = Path(__file__).resolve().parents[1]
CORE_LAYER_DIR = REPO / "layers" / "core"
EVENTS_DIR = REPO / "events"
TARGET_RATIO = 1.3
PROJECT = "firstmile"
SUBPROCESS_TIMEOUT_SECONDS = 120
# Tokens live 15 minutes; a round that takes longer mints new ones (and writes its first requests again) after this.
TOKEN_REFRESH_SECONDS = 300
# The request the authorizer's first invocation authorizes.
AUTHORIZED_ROUTE = "onboarding_status"
# Lambda sets a trace header per invocation; with it, X-Ray records the invocation as on a traced function.
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Runs in the fresh interpreter. Nothing but sys, time and importlib.util is imported before the clock starts, so
# whatever the handler needs is counted. The event is read between the import and the first request (not timed).
# With ``record`` set, every AWS call of the first request is recorded as the client sends it (after boto3's
# resource layer has turned it into the low-level form), for the reference to make the same calls.
_PROBE = textwrap.dedent(
    """\
    import sys, time, importlib.util
    handler_path, event_path, out_path, record, name, memory, *path_entries = sys.argv[1:]
    sys.path[:0] = path_entries
    start, start_cpu = time.perf_counter(), time.process_time()
    spec = importlib.util.spec_from_file_location("handler", handler_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    spec.loader.exec_module(module)
    imported, imported_cpu = time.perf_counter(), time.process_time()
    modules_after_import = len(sys.modules)
    import base64, json, os, uuid
    with open(event_path) as f:
        event = json.load(f)
    calls = []
    if record == "1":
        import botocore.client

        def plain(value):
            if isinstance(value, bytes):
                return {"__bytes__": base64.b64encode(value).decode()}
            if hasattr(value, "read") and hasattr(value, "seek"):
                # A body botocore turned into a file-like object (S3's PutObject): its bytes, left where they were.
                position = value.tell()
                data = value.read()
                value.seek(position)
                return {"__bytes__": base64.b64encode(data).decode()}
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        convert = botocore.client.BaseClient._convert_to_request_dict

        def recording(self, api_params, operation_model, *args, **kwargs):
            calls.append([self.meta.service_model.service_name, operation_model.name, plain(api_params)])
            return convert(self, api_params, operation_model, *args, **kwargs)

        botocore.client.BaseClient._convert_to_request_dict = recording

    class Context:
        function_name = name
        function_version = "$LATEST"
        memory_limit_in_mb = int(memory)
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        aws_request_id = str(uuid.uuid4())
        log_group_name = "/aws/lambda/" + name
        log_stream_name = "bench"
        identity = None
        client_context = None

        def get_remaining_time_in_millis(self):
            return 10000

    context = Context()
    requested, requested_cpu = time.perf_counter(), time.process_time()
    answer = module.lambda_handler(event, context)
    answered, answered_cpu = time.perf_counter(), time.process_time()
    if isinstance(answer, dict) and "statusCode" in answer:
        outcome = str(answer["statusCode"])
    elif isinstance(answer, dict) and "batchItemFailures" in answer:
        outcome = f"{len(answer['batchItemFailures'])} failed"
    elif isinstance(answer, dict) and "isAuthorized" in answer:
        outcome = "allowed" if answer["isAuthorized"] else "denied"
    else:
        outcome = "done"
    with open(out_path, "w") as f:
        json.dump(
            {
                "import": imported - start,
                "import_cpu": imported_cpu - start_cpu,
                "first": answered - requested,
                "first_cpu": answered_cpu - requested_cpu,
                "modules_import": modules_after_import,
                "modules_first": len(sys.modules),
                "outcome": outcome,
                "calls": calls,
            },
            f,
        )
    """
)

# The reference's parts. Its calls are read from calls.json beside it, at import, as a function reads its settings.
_REFERENCE_HEAD = '''\
"""A bare validating handler for {name}: the least a Firstmile function may do, then the same AWS calls."""

import base64
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {{"__bytes__"}}:
            return base64.b64decode(value["__bytes__"])
        return {{k: _decoded(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


CALLS = _decoded(json.loads((Path(__file__).parent / "calls.json").read_text()))
_clients: dict[str, Any] = {{}}


def make_the_calls() -> int:
    """Each recorded call, through a plain client of its service; an error answer is an answer too."""
    if not CALLS:
        return 0
    # A handler without AWS calls would not load boto3, so this one loads it only when it has calls to make.
    import boto3
    from botocore import xform_name
    from botocore.exceptions import ClientError

    for service, operation, params in CALLS:
        client = _clients.get(service) or _clients.setdefault(service, boto3.client(service))
        if "ClientRequestToken" in params:
            # A new token per call, as the function's own client gives it: under the recorded one the engine would
            # answer every round's transaction from its idempotency cache, without writing.
            params = {{k: v for k, v in params.items() if k != "ClientRequestToken"}}
        try:
            getattr(client, xform_name(operation))(**params)
        except ClientError:
            pass
    return len(CALLS)
'''

_REFERENCE_ROUTE = """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver(enable_validation=True)


class Answer(BaseModel):
    calls: int


@app.route("{path}", method="{method}")
def answer({parameters}) -> Answer:
    return Answer(calls=make_the_calls())


def lambda_handler(event, context):
    return app.resolve(event, context)
"""

_REFERENCE_EVENT = '''
from aws_lambda_powertools import Logger
{imports}
logger = Logger()


class Event(BaseModel):
    """What the handler needs of its event; the rest is kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

{fields}


@logger.inject_lambda_context
def lambda_handler(event, context):
{body}
'''

# Per kind of trigger: what the reference imports besides the Logger, the fields its event model checks, and its body.
_EVENT_SHAPES = {
    "Schedule": (
        "",
        '    id: str\n    time: str\n    detail_type: str = Field(alias="detail-type")',
        "    Event.model_validate(event)\n    make_the_calls()",
    ),
    "Queue": (
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response\n\n"
        "processor = BatchProcessor(event_type=EventType.SQS)\n\n\n"
        "def record_handler(record):\n    Event.model_validate(record.raw_event)\n",
        "    messageId: str\n    body: str",
        "    make_the_calls()\n"
        "    return process_partial_response(event=event, record_handler=record_handler, processor=processor, "
        "context=context)",
    ),
    "TableStream": (
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response\n\n"
        "processor = BatchProcessor(event_type=EventType.DynamoDBStreams)\n\n\n"
        "def record_handler(record):\n    Event.model_validate(record.raw_event)\n",
        "    eventID: str\n    eventName: str\n    dynamodb: dict[str, Any]",
        "    make_the_calls()\n"
        "    return process_partial_response(event=event, record_handler=record_handler, processor=processor, "
        "context=context)",
    ),
    # An authorizer validates its token: PyJWT verifies it against the published keys (read at import, as a bare
    # authorizer would have them configured).
    "Authorizer": (
        'import jwt\n\nJWKS = jwt.PyJWKSet.from_dict(json.loads((Path(__file__).parent / "jwks.json").read_text()))\n',
        "    headers: dict[str, str]\n    routeArn: str",
        "    Event.model_validate(event)\n"
        '    token = event["headers"]["authorization"].split(" ", 1)[1]\n'
        '    key = JWKS[jwt.get_unverified_header(token)["kid"]]\n'
        '    claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], options={"verify_aud": False})\n'
        "    make_the_calls()\n"
        '    return {"isAuthorized": True, "context": {"sub": claims["sub"]}}',
    ),
}


Kind = Literal["function", "reference"]


@dataclass
class Probe(Samples):
    """One handler under measurement: a function, or a function's reference."""

    name: str
    function: str
    handler_path: Path
    kind: Kind = "function"
    error: str | None = None
    import_samples: list[float] = field(default_factory=list)
    first_samples: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    modules_import: int = 0
    modules_first: int = 0
    calls: list[Any] = field(default_factory=list)


# --- the layer's packages and the Lambda environment ---------------------------------------------------------------


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
    """The variables the Lambda runtime itself sets (the function's own come from the local environment)."""
    return {
        "PATH": os.defpath,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "handler.lambda_handler",
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
    }


# --- the seeded stack, its table, and the first requests --------------------------------------------------------


class TableState:
    """The table's items at one moment, and putting them back (so every measurement meets the same table).

    A whole-table Scan is fine here: this is the benchmark's own bookkeeping, not a request path.
    """

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        keys = dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
        self._key_names = [k["AttributeName"] for k in keys]
        self._items: dict[str, dict[str, Any]] = {}

    def _scan(self) -> dict[str, dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        pages = self._dynamodb.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True)
        for page in pages:
            for item in page["Items"]:
                items[json.dumps([item[k] for k in self._key_names], sort_keys=True)] = item
        return items

    def keep(self) -> None:
        """Remember the table as it is now."""
        self._items = self._scan()

    def put_back(self) -> None:
        """Delete what was added since ``keep``, and write back what was changed or deleted."""
        current = self._scan()
        requests = [
            {"DeleteRequest": {"Key": {k: item[k] for k in self._key_names}}}
            for key, item in current.items()
            if key not in self._items
        ]
        requests += [{"PutRequest": {"Item": item}} for key, item in self._items.items() if current.get(key) != item]
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            while pending:
                pending = self._dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


@dataclass
class Stack:
    """The seeded local stack the functions run against, and what the first requests need of it."""

    stack: Any
    environment: Any
    authorizer: str
    table: TableState
    tokens: dict[str, str] = field(default_factory=dict)
    basic: str = ""


def start_stack() -> Stack:
    """The local stack, seeded with the demo tenant; its scheduler and pollers stopped (nothing runs by itself)."""
    from local.config import LocalConfig
    from local.emulator import client
    from local.environment import LocalEnvironment
    from local.gateway import authorizer_of
    from local.stack import LocalStack

    logging.getLogger("local").setLevel(logging.WARNING)
    stack = LocalStack(LocalConfig(port=0, aws_port=0), output=os.open(os.devnull, os.O_WRONLY)).start()
    if stack.demo is None:
        stack.stop()
        raise SystemExit(f"the local stack could not seed its demo data: {stack.seed_error}")
    if stack.scheduler is not None:
        stack.scheduler.stop(timeout=5)
    for poller in stack.pollers:
        poller.stop(timeout=5)
    stack.scheduler, stack.pollers = None, []
    environment = LocalEnvironment(
        stack.deployment,
        stack.aws_endpoint,
        stack.queue_urls,
        stack.config.cors_allow_origins,
        dynamodb_endpoint=stack.emulator.dynamodb_endpoint,
    )
    authorizer = authorizer_of(stack.catalog)
    if authorizer is None:
        raise SystemExit("the catalogue has no authorizer")
    table = TableState(client("dynamodb", stack.emulator.dynamodb_endpoint), stack.deployment.table_name)
    return Stack(stack, environment, authorizer, table)


def mint_tokens(stack: Stack) -> None:
    """Fresh access tokens for the demo user, admin and the local operator (they live 15 minutes)."""
    from local.seed import (
        ADMIN_ROLES,
        DEMO_ADMIN,
        DEMO_ATTRIBUTES,
        DEMO_USER,
        OPERATOR_ROLES,
        OPERATOR_USER,
        USER_ROLES,
        mint_token,
    )

    demo, api = stack.stack.demo, stack.stack.api_url
    stack.tokens = {
        "user": mint_token(
            api, demo.client_id, demo.client_secret, DEMO_USER, USER_ROLES, DEMO_ATTRIBUTES
        ).access_token,
        "admin": mint_token(
            api, demo.client_id, demo.client_secret, DEMO_ADMIN, ADMIN_ROLES, DEMO_ATTRIBUTES
        ).access_token,
        "operator": mint_token(
            api, demo.operator_client_id, demo.operator_client_secret, OPERATOR_USER, OPERATOR_ROLES
        ).access_token,
    }
    stack.basic = base64.b64encode(f"{demo.client_id}:{demo.client_secret}".encode()).decode()


def route_event(stack: Stack, function: Any) -> dict[str, Any]:
    """The function's sample request with a real token of its role and the context the authorizer gives it."""
    from local.events import authorizer_event

    event = json.loads((EVENTS_DIR / f"{function.name}.json").read_text())
    role = function.trigger.role
    headers = dict(event.get("headers", {}))
    event["requestContext"].pop("authorizer", None)
    if role == "public":
        if headers.get("authorization", "").startswith("Basic "):
            headers["authorization"] = f"Basic {stack.basic}"
        event["headers"] = headers
        return event
    headers["authorization"] = f"Bearer {stack.tokens[role]}"
    event["headers"] = headers
    invocation = stack.stack.runtime.invoke(stack.authorizer, authorizer_event(event, []))
    answer = invocation.payload if invocation.error is None else None
    if not isinstance(answer, dict) or not answer.get("isAuthorized"):
        raise SystemExit(f"the authorizer refused the request of {function.name}: {invocation.error or answer}")
    event["requestContext"]["authorizer"] = {"lambda": answer.get("context") or {}}
    return event


def first_events(stack: Stack, functions: list[Any], folder: Path) -> None:
    """Write every function's first request for this round into ``folder``."""
    from functions.catalog import Route, by_name
    from local.events import authorizer_event

    folder.mkdir(parents=True, exist_ok=True)
    for function in functions:
        if isinstance(function.trigger, Route):
            event = route_event(stack, function)
        elif function.name == stack.authorizer:
            request = route_event(stack, by_name(AUTHORIZED_ROUTE))
            request["requestContext"].pop("authorizer", None)
            event = authorizer_event(request, [])
        else:
            event = json.loads((EVENTS_DIR / f"{function.name}.json").read_text())
        (folder / f"{function.name}.json").write_text(json.dumps(event))


# --- references ------------------------------------------------------------------------------------------------


def reference_source(function: Any) -> str:
    """The reference handler of ``function`` (its calls are in calls.json beside it)."""
    from functions.catalog import Route

    head = _REFERENCE_HEAD.format(name=function.name)
    trigger = function.trigger
    if isinstance(trigger, Route):
        parameters = [part[1:-1] for part in trigger.path.split("/") if part.startswith("{") and part.endswith("}")]
        path = "/".join(f"<{part[1:-1]}>" if part.startswith("{") else part for part in trigger.path.split("/"))
        return head + _REFERENCE_ROUTE.format(
            path=path, method=trigger.method, parameters=", ".join(f"{p}: str" for p in parameters)
        )
    imports, fields, body = _EVENT_SHAPES[type(trigger).__name__]
    return head + _REFERENCE_EVENT.format(imports=imports, fields=fields, body=body)


def write_reference(function: Any, calls: list[Any], folder: Path, jwks: dict[str, Any]) -> Path:
    path = folder / function.name / "handler.py"
    path.parent.mkdir(parents=True)
    path.write_text(reference_source(function))
    (path.parent / "calls.json").write_text(json.dumps(calls))
    (path.parent / "jwks.json").write_text(json.dumps(jwks))
    # Its bytecode written now, as the function's was by its recording run: no measured run compiles it.
    py_compile.compile(str(path), doraise=True)
    return path


def published_keys(stack: Stack) -> dict[str, Any]:
    """The JWKS document the stack publishes (``GET /.well-known/jwks.json``)."""
    from local.seed import call_api

    status, document = call_api(stack.stack.api_url, "GET", "/.well-known/jwks.json", None)
    if status != 200:
        raise SystemExit(f"GET /.well-known/jwks.json answered {status}: {document}")
    return document  # type: ignore[no-any-return]


# --- measuring -------------------------------------------------------------------------------------------------


def measure_once(
    probe: Probe,
    event_path: Path,
    environment: Mapping[str, str],
    packages: tuple[str, ...],
    out_path: Path,
    *,
    record: bool = False,
) -> dict[str, Any]:
    """Import ``probe``'s handler and answer one request in a fresh interpreter; what the probe reported."""
    task_root = probe.handler_path.parent
    # -I: no PYTHON* variables, no user site, no current directory; -S: no site-packages processing (.pth
    # files), so sys.path is exactly the standard library plus the entries given, as on Lambda.
    command = [
        sys.executable,
        "-I",
        "-S",
        "-c",
        _PROBE,
        str(probe.handler_path),
        str(event_path),
        str(out_path),
        "1" if record else "0",
        probe.function,
        environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        str(task_root),
        str(CORE_LAYER_DIR),
        *packages,
    ]
    out_path.unlink(missing_ok=True)
    try:
        result = subprocess.run(
            command,
            cwd=task_root,
            env=dict(environment),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"did not finish within {SUBPROCESS_TIMEOUT_SECONDS} s") from exc
    if result.returncode != 0 or not out_path.exists():
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {result.returncode}")
    return json.loads(out_path.read_text())  # type: ignore[no-any-return]


def probe_environment(stack: Stack, function: Any, task_root: Path) -> dict[str, str]:
    """The function's environment as CDK sets it (pointed at the emulator) and what Lambda adds; tracing on."""
    env = lambda_environment(function.name, task_root) | stack.environment.for_function(function)
    # The local stack turns tracing off for its console's sake; a deployed function traces.
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(function.memory_mb)
    return env


def keep_sample(probe: Probe, report: dict[str, Any]) -> None:
    probe.import_samples.append(report["import"])
    probe.first_samples.append(report["first"])
    probe.samples.append(report["import"] + report["first"])
    probe.cpu_samples.append(report["import_cpu"] + report["first_cpu"])
    probe.outcomes[report["outcome"]] = probe.outcomes.get(report["outcome"], 0) + 1
    probe.modules_import, probe.modules_first = report["modules_import"], report["modules_first"]


def run(args: argparse.Namespace, functions: list[Any], folder: Path, stack: Stack) -> list[Probe]:
    """Record each function's calls, write the references, then the shuffled rounds."""
    packages = tuple(venv_site_packages() if args.full_venv else build_layer_site_packages(folder / "layer"))
    progress = sys.stderr.isatty()
    environments = {f.name: probe_environment(stack, f, f.handler_path.parent) for f in functions}
    probes = [Probe(f.name, f.name, f.handler_path) for f in functions]
    # Recording: each function once (this also writes the bytecode caches, as a warm-up would).
    mint_tokens(stack)
    stack.table.keep()
    first_events(stack, functions, folder / "events-0")
    references: list[Probe] = []
    jwks = published_keys(stack)
    for function, probe in zip(functions, probes, strict=True):
        if progress:
            print(f"\r  recording {function.name:<40}", end="", file=sys.stderr, flush=True)
        stack.table.put_back()
        try:
            report = measure_once(
                probe,
                folder / "events-0" / f"{function.name}.json",
                environments[function.name],
                packages,
                folder / "out.json",
                record=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            probe.error = str(exc) or type(exc).__name__
            continue
        probe.calls = report["calls"]
        path = write_reference(function, report["calls"], folder / "references", jwks)
        references.append(Probe(f"{function.name} (reference)", function.name, path, kind="reference"))
    everything = probes + references
    order = random.Random(args.seed)
    for index in range(args.warmup + args.rounds):
        recording = index >= args.warmup
        stack.table.put_back()  # the last measurement of the round before may have written
        mint_tokens(stack)
        stack.table.keep()
        events = folder / f"events-{index + 1}"
        first_events(stack, functions, events)
        batch = [p for p in everything if p.error is None]
        order.shuffle(batch)
        minted = time.monotonic()
        for number, probe in enumerate(batch):
            if time.monotonic() - minted > TOKEN_REFRESH_SECONDS:
                # A slow round outlives the tokens (15 minutes): new ones, and the table as they leave it.
                stack.table.put_back()
                mint_tokens(stack)
                stack.table.keep()
                first_events(stack, functions, events)
                minted = time.monotonic()
            if progress:
                label = f"round {index - args.warmup + 1}/{args.rounds}" if recording else "warm-up"
                print(f"\r  {label}: {number + 1}/{len(batch)} ...", end=" " * 20, file=sys.stderr, flush=True)
            stack.table.put_back()
            try:
                report = measure_once(
                    probe, events / f"{probe.function}.json", environments[probe.function], packages, folder / "o.json"
                )
            except (OSError, RuntimeError, ValueError) as exc:
                probe.error = str(exc) or type(exc).__name__
                continue
            if recording:
                keep_sample(probe, report)
    if progress:
        print("\r" + " " * 70 + "\r", end="", file=sys.stderr, flush=True)
    return everything


# --- reporting -------------------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def results(probes: list[Probe], target: float) -> list[dict[str, Any]]:
    """One row per function: its cold start and its reference's, the ratio, and the verdict."""
    references = {p.function: p for p in probes if p.kind == "reference"}
    rows: list[dict[str, Any]] = []
    for probe in (p for p in probes if p.kind == "function"):
        reference = references.get(probe.function)
        row: dict[str, Any] = {"function": probe.function, "aws_calls": [c[:2] for c in probe.calls]}
        failed = probe.error or (reference.error if reference is not None else "no reference")
        if failed or reference is None or not probe.samples or not reference.samples:
            row |= {"status": "error", "error": failed or "no samples", "ratio": None}
            rows.append(row)
            continue
        ratio = probe.median() / reference.median()
        row |= {
            "median_ms": probe.median() * 1000,
            "iqr_ms": probe.iqr() * 1000,
            "import_ms": _median(probe.import_samples) * 1000,
            "first_request_ms": _median(probe.first_samples) * 1000,
            "reference_median_ms": reference.median() * 1000,
            "reference_import_ms": _median(reference.import_samples) * 1000,
            "reference_first_request_ms": _median(reference.first_samples) * 1000,
            "ratio": ratio,
            "cpu_ratio": probe.cpu_median() / reference.cpu_median(),
            "modules": probe.modules_first,
            "reference_modules": reference.modules_first,
            "outcomes": probe.outcomes,
            "reference_outcomes": reference.outcomes,
            "status": "ok" if ratio <= target else "above target",
            "samples_ms": [round(s * 1000, 3) for s in probe.samples],
            "reference_samples_ms": [round(s * 1000, 3) for s in reference.samples],
        }
        rows.append(row)
    return rows


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
        "boto3": package_version("boto3"),
        "pydantic": package_version("pydantic"),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "seed": args.seed,
        "packages": "virtualenv" if args.full_venv else "layer dependencies",
        "target_ratio": args.target,
    }


def print_report(meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print("Cold start of each function (import + first request), relative to a bare validating handler making the")
    print("same AWS calls")
    print(f"  run at      {meta['run_at']}")
    print(f"  python      {meta['python']} on {meta['platform']}")
    print(f"  machine     {meta['cpu']}, {meta['cores']} cores ({meta['usable_cores']} usable)")
    print(f"  libraries   powertools {meta['powertools']}, boto3 {meta['boto3']}, pydantic {meta['pydantic']}")
    print(f"  method      {meta['rounds']} rounds (+{meta['warmup_rounds']} warm-up), round-robin, fresh process each")
    print(f"  sees        {meta['packages']}, the function's environment, the seeded local stack, tracing on")
    print()
    width = max(len("function"), *(len(r["function"]) for r in rows))
    header = (
        f"{'function':<{width}}  {'cold ms':>7}  {'IQR':>5}  {'import':>6}  {'1st req':>7}  {'ref ms':>6}  "
        f"{'ref imp':>7}  {'ref req':>7}  {'ratio':>5}  {'CPU':>5}  {'calls':>5}  {'modules':>9}  answer  status"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        if r["status"] == "error":
            print(f"{r['function']:<{width}}  ERROR: {r['error']}")
            continue
        answer = ",".join(sorted(r["outcomes"]))
        status = "ABOVE TARGET" if r["status"] == "above target" else r["status"]
        print(
            f"{r['function']:<{width}}  {r['median_ms']:>7.0f}  {r['iqr_ms']:>5.0f}  {r['import_ms']:>6.0f}  "
            f"{r['first_request_ms']:>7.0f}  {r['reference_median_ms']:>6.0f}  {r['reference_import_ms']:>7.0f}  "
            f"{r['reference_first_request_ms']:>7.0f}  {r['ratio']:>5.2f}  {r['cpu_ratio']:>5.2f}  "
            f"{len(r['aws_calls']):>5}  {r['modules']:>4}/{r['reference_modules']:<4}  {answer:<6}  {status}"
        )
    print()
    measured = [r for r in rows if r["status"] != "error"]
    meeting = [r for r in measured if r["status"] == "ok"]
    print(f"target: ratio <= {meta['target_ratio']:.2f}; {len(meeting)}/{len(rows)} functions meet it")
    above = [r["function"] for r in measured if r["status"] == "above target"]
    if above:
        print("above target: " + ", ".join(above))
    failed = [r["function"] for r in rows if r["status"] == "error"]
    if failed:
        print("not measured: " + ", ".join(failed))
    if measured:
        ratios = sorted(r["ratio"] for r in measured)
        print(f"ratios: median {_median(ratios):.2f}, lowest {ratios[0]:.2f}, highest {ratios[-1]:.2f}")


def chosen_functions(names: list[str]) -> list[Any]:
    """Every catalogued function (or only ``names``)."""
    sys.path.insert(0, str(REPO))
    from functions.catalog import CATALOG

    known = {f.name: f for f in CATALOG}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"not in the catalogue: {', '.join(unknown)}")
    return [known[n] for n in names] if names else list(CATALOG)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("functions", nargs="*", help="only these functions (default: the whole catalogue)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds after the recording (default: 1)")
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
    functions = chosen_functions(args.functions)
    missing = [f.name for f in functions if not (EVENTS_DIR / f"{f.name}.json").is_file()]
    if missing:
        raise SystemExit(f"no sample event in events/ for: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="firstmile-bench-") as folder:
        stack = start_stack()
        try:
            probes = run(args, functions, Path(folder), stack)
        finally:
            stack.stack.stop()
    meta = machine_description(args, started)
    rows = results(probes, args.target)
    print_report(meta, rows)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": meta, "results": rows}, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.fail_above is None:
        return 0
    failing = [r for r in rows if r["ratio"] is None or r["ratio"] > args.fail_above]
    if failing:
        print(f"failing --fail-above {args.fail_above}: " + ", ".join(r["function"] for r in failing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
