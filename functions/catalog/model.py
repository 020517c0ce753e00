"""The vocabulary of the catalogue: a ``Function``, its one trigger and what it may touch.

A function has exactly one trigger:
- ``Route``: an HTTP API route with the role it requires (``firstmile.roles.Role``) and, optionally, the rate
  class it is counted in (``firstmile.limits.models.RouteClass``);
- ``Schedule``: an EventBridge Scheduler expression, ``rate(...)`` or ``cron(...)``;
- ``Queue``: an SQS queue it consumes (the queue and its dead-letter queue are created with it);
- ``TableStream``: the table's change stream;
- ``LogSubscription``: the log lines of every route function that match a filter pattern;
- ``Authorizer``: the HTTP API's Lambda authorizer.
``Access`` states everything else the function may touch; CDK grants exactly that and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from firstmile.limits.models import RouteClass
from firstmile.roles import Role

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
TableAccess = Literal["none", "read", "write"]

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent
"""``functions/``: one folder per function, ``functions/<name>/handler.py``."""

API_STACK = "api"
"""The stack of the HTTP API, which also holds the authorizer function (see ``infra/stacks/api.py``)."""


@dataclass(frozen=True)
class Route:
    method: HttpMethod
    path: str
    role: Role
    # The rate limit the route counts against, per tenant and user (firstmile.limits); enforced by the entry point.
    rate_class: RouteClass | None = None
    # A second role the route admits: the dead-letter routes serve admins (their tenant's tasks) and operators
    # (every task), and the handler scopes what each sees.
    also: Role | None = None

    @property
    def roles(self) -> tuple[Role, ...]:
        """Every role the route admits."""
        return (self.role,) if self.also is None else (self.role, self.also)

    @property
    def key(self) -> str:
        """The API Gateway route key, e.g. ``GET /health/live``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Schedule:
    expression: str
    # How often EventBridge Scheduler retries a failed invocation before it goes to the scheduler DLQ.
    retry_attempts: int = 2
    max_event_age_seconds: int = 3600


@dataclass(frozen=True)
class Queue:
    name: str
    batch_size: int = 10
    max_receive_count: int = 5
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class TableStream:
    batch_size: int = 100
    retry_attempts: int = 5
    max_batching_window_seconds: int = 1
    # Only INSERTs of items of these kinds (the item's ``kind``) reach the function; empty: every change. CDK makes
    # it the mapping's filter, so other changes cost no invocation; the local poller applies the same filter.
    inserts_of: tuple[str, ...] = ()

    def admits(self, record: dict[str, Any]) -> bool:
        """Whether a stream record (as ``GetRecords`` or the event gives it) passes the filter."""
        if not self.inserts_of:
            return True
        if record.get("eventName") != "INSERT":
            return False
        kind = ((record.get("dynamodb") or {}).get("NewImage") or {}).get("kind") or {}
        return kind.get("S") in self.inserts_of


@dataclass(frozen=True)
class Authorizer:
    """The HTTP API's Lambda authorizer: runs before every non-public route and verifies the access token.

    It has no identity source and no result cache, so it runs for every such request (a missing header included)
    and a revocation takes effect within the stated bound (docs/decisions/0013, 0006).
    """

    result_ttl_seconds: int = 0


@dataclass(frozen=True)
class LogSubscription:
    """A CloudWatch Logs subscription on the log group of every HTTP route function: the lines matching
    ``filter_pattern`` reach the function in batches, invoked asynchronously (issue 15: the request records). With
    ``access_log_pattern``, the API's access log lines matching it reach the function too (decision 0105: the
    answers API Gateway made itself)."""

    filter_pattern: str
    access_log_pattern: str | None = None


Trigger = Route | Schedule | Queue | TableStream | Authorizer | LogSubscription


@dataclass(frozen=True)
class Access:
    """What a function may touch besides its own trigger."""

    table: TableAccess = "none"
    exports_bucket: Literal["none", "read", "write"] = "none"
    # The analytics archive: writing objects under events/ only, or erasing users from them (list, read, rewrite and
    # delete objects under events/).
    archive_bucket: Literal["none", "write", "erase"] = "none"
    # Sending erasure codes by email (SES, from the deployment's sender identity).
    sends_email: bool = False
    # Queues it sends to, by logical name.
    sends_to: tuple[str, ...] = ()
    # Queues it may inspect (attributes only), by logical name.
    inspects_queues: tuple[str, ...] = ()
    # The signing keys' secret: read to sign tokens, write to rotate them.
    signing_keys: Literal["none", "read", "write"] = "none"
    # Queues it receives messages from and deletes them (the dead-letter collector drains every DLQ), by name.
    receives_from: tuple[str, ...] = ()
    # The stream consumers' failed batches: "collect" lists and reads them under aws/lambda/ and moves them to
    # collected/; "read" reads the collected ones (a retry); decision 0091.
    stream_failures: Literal["none", "collect", "read"] = "none"
    # Functions of the catalogue it may invoke asynchronously (a dead-letter task's retry), by name.
    invokes: tuple[str, ...] = ()
    # The table's backups (decision 0104): "read" lists them and the point-in-time window; "create" also makes and
    # deletes them; "restore" restores the newest into a drill's scratch tables, reads and deletes those.
    backups: Literal["none", "read", "create", "restore"] = "none"


@dataclass(frozen=True)
class Function:
    """One Lambda function: its code is ``functions/<name>/handler.py``.

    ``domain`` is the part of the product it belongs to (``onboarding``, ``flags``, ...): the OpenAPI document tags
    its route with it. ``stack`` is the CloudFormation stack CDK deploys it in (``Firstmile<Stack>``); a domain may
    be spread over several stacks to keep each well under CloudFormation's resource limit.
    """

    name: str
    domain: str
    stack: str
    description: str
    trigger: Trigger
    memory_mb: int = 256
    timeout_seconds: int = 10
    reserved_concurrency: int | None = None
    access: Access = field(default_factory=Access)

    @property
    def handler_path(self) -> Path:
        return FUNCTIONS_DIR / self.name / "handler.py"

    @property
    def route(self) -> Route | None:
        return self.trigger if isinstance(self.trigger, Route) else None


def http_function(
    name: str,
    method: HttpMethod,
    path: str,
    description: str,
    *,
    domain: str,
    stack: str,
    role: Role,
    table: TableAccess,
    rate_class: RouteClass | None = None,
    timeout_seconds: int = 10,
    sends_to: tuple[str, ...] = (),
) -> Function:
    """A function serving one route that touches the table (and maybe queues), with the default memory: the shape
    of most of the API, written in one line per route by the domain modules."""
    return Function(
        name=name,
        domain=domain,
        stack=stack,
        description=description,
        trigger=Route(method, path, role, rate_class=rate_class),
        timeout_seconds=timeout_seconds,
        access=Access(table=table, sends_to=sends_to),
    )
