"""THE list of every Lambda function of Firstmile.

CDK (``infra/``), the local stack (``local/``) and the OpenAPI document are all generated from this list, and
``tests/unit/test_catalog.py`` fails when a ``functions/<name>/`` folder and an entry disagree.

A function has exactly one trigger:
- ``Route``: an HTTP API route with the role it requires (``public``, ``user``, ``admin``, ``operator``);
- ``Schedule``: an EventBridge Scheduler expression, ``rate(...)`` or ``cron(...)``;
- ``Queue``: an SQS queue it consumes (the queue and its dead-letter queue are created with it);
- ``TableStream``: the table's change stream.
``Access`` states everything else the function may touch; CDK grants exactly that and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE, ONBOARDING_MIGRATIONS_QUEUE

Role = Literal["public", "user", "admin", "operator"]
ROLES: tuple[Role, ...] = ("public", "user", "admin", "operator")
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
TableAccess = Literal["none", "read", "write"]

FUNCTIONS_DIR = Path(__file__).resolve().parent


RateClass = Literal["user_write", "progress_write", "privacy_request", "verification_check"]


@dataclass(frozen=True)
class Route:
    method: HttpMethod
    path: str
    role: Role
    # The rate limit the route counts against, per tenant and user (firstmile.limits); enforced by the entry point.
    rate_class: RateClass | None = None

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


@dataclass(frozen=True)
class Authorizer:
    """The HTTP API's Lambda authorizer: runs before every non-public route and verifies the access token.

    It has no identity source and no result cache, so it runs for every such request (a missing header included)
    and a revocation takes effect within the stated bound (docs/decisions/0013, 0006).
    """

    result_ttl_seconds: int = 0


Trigger = Route | Schedule | Queue | TableStream | Authorizer


@dataclass(frozen=True)
class Access:
    """What a function may touch besides its own trigger."""

    table: TableAccess = "none"
    exports_bucket: Literal["none", "read", "write"] = "none"
    # Queues it sends to, by logical name.
    sends_to: tuple[str, ...] = ()
    # Queues it may inspect (attributes only), by logical name.
    inspects_queues: tuple[str, ...] = ()
    # The signing keys' secret: read to sign tokens, write to rotate them.
    signing_keys: Literal["none", "read", "write"] = "none"


@dataclass(frozen=True)
class Function:
    name: str
    domain: str
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


_ALL_QUEUES = ("scheduler-dlq", ONBOARDING_MIGRATIONS_QUEUE, FLAG_EXPOSURES_QUEUE)

CATALOG: tuple[Function, ...] = (
    Function(
        name="health_live",
        domain="health",
        description="Liveness: the process is up and answering.",
        trigger=Route("GET", "/health/live", "public"),
        memory_mb=128,
        timeout_seconds=3,
    ),
    Function(
        name="health_ready",
        domain="health",
        description="Readiness: the table, queues and exports bucket answer, each with status and latency.",
        trigger=Route("GET", "/health/ready", "public"),
        timeout_seconds=6,
        access=Access(table="read", exports_bucket="read", inspects_queues=_ALL_QUEUES),
    ),
    Function(
        name="health_startup",
        domain="health",
        description="Startup: configuration is loaded and valid.",
        trigger=Route("GET", "/health/startup", "public"),
        memory_mb=128,
        timeout_seconds=3,
    ),
    Function(
        name="health_summary",
        domain="health",
        description="Version, commit and component states; full detail only to operators.",
        trigger=Route("GET", "/health", "public"),
        timeout_seconds=6,
        access=Access(table="read", exports_bucket="read", inspects_queues=_ALL_QUEUES),
    ),
    Function(
        name="synthetic_probe",
        domain="health",
        description="Every minute, checks readiness from inside the deployment and records the result.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=10,
        reserved_concurrency=1,
        access=Access(table="write", exports_bucket="read", inspects_queues=_ALL_QUEUES),
    ),
    Function(
        name="authorizer",
        domain="identity",
        description="Verifies the bearer access token and passes tenant, user, roles and attributes on.",
        trigger=Authorizer(),
        memory_mb=256,
        timeout_seconds=5,
        access=Access(table="read"),
    ),
    Function(
        name="auth_token",
        domain="identity",
        description="Mints a session for a user (client credentials) or rotates one (refresh token).",
        trigger=Route("POST", "/v1/auth/token", "public"),
        timeout_seconds=6,
        access=Access(table="write", signing_keys="read"),
    ),
    Function(
        name="auth_revoke",
        domain="identity",
        description="Revokes the caller's token, session or every session; admins revoke users of their tenant.",
        trigger=Route("POST", "/v1/auth/revoke", "user", rate_class="user_write"),
        timeout_seconds=6,
        access=Access(table="write"),
    ),
    Function(
        name="auth_logout",
        domain="identity",
        description="Ends the session a refresh token (or the session cookie) belongs to, and clears the cookie.",
        trigger=Route("POST", "/v1/auth/logout", "public"),
        timeout_seconds=6,
        access=Access(table="write"),
    ),
    Function(
        name="jwks",
        domain="identity",
        description="The public signing keys (current, next and previous) as a JSON Web Key Set.",
        trigger=Route("GET", "/.well-known/jwks.json", "public"),
        memory_mb=128,
        timeout_seconds=3,
        access=Access(table="read"),
    ),
    Function(
        name="signing_key_rotation",
        domain="identity",
        description="Hourly: publishes a new signing key ahead of use, promotes it, retires old keys after use.",
        trigger=Schedule("rate(1 hour)"),
        timeout_seconds=30,
        reserved_concurrency=1,
        access=Access(table="write", signing_keys="write"),
    ),
    Function(
        name="operator_tenant_create",
        domain="identity",
        description="Creates a tenant.",
        trigger=Route("POST", "/v1/operator/tenants", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_create",
        domain="identity",
        description="Creates an API client of a tenant; its secret is shown once.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_list",
        domain="identity",
        description="Lists a tenant's API clients (never their secrets).",
        trigger=Route("GET", "/v1/operator/tenants/{tenant_id}/clients", "operator"),
        access=Access(table="read"),
    ),
    Function(
        name="operator_client_rotate",
        domain="identity",
        description="Issues a new secret for an API client; the old one works for a grace period.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients/{client_id}/rotate-secret", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="operator_client_disable",
        domain="identity",
        description="Disables an API client: it can mint no more sessions.",
        trigger=Route("POST", "/v1/operator/tenants/{tenant_id}/clients/{client_id}/disable", "operator"),
        access=Access(table="write"),
    ),
    Function(
        name="admin_audit_list",
        domain="audit",
        description="The tenant's audit log, newest first, filtered by actor, action and time.",
        trigger=Route("GET", "/v1/admin/audit", "admin"),
        access=Access(table="read"),
    ),
    Function(
        name="admin_audit_verify",
        domain="audit",
        description="Walks the tenant's audit hash chain and reports the first broken link.",
        trigger=Route("GET", "/v1/admin/audit/verify", "admin"),
        timeout_seconds=30,
        access=Access(table="read"),
    ),
)


# --- onboarding (docs/decisions/0050-0055) ---------------------------------------------------------------------
MIGRATION_QUEUE = ONBOARDING_MIGRATIONS_QUEUE


def _user(name: str, method: HttpMethod, path: str, description: str, *, table: TableAccess = "write") -> Function:
    rate: RateClass | None = "progress_write" if method == "POST" else None
    return Function(
        name=name,
        domain="onboarding",
        description=description,
        trigger=Route(method, path, "user", rate_class=rate),
        access=Access(table=table),
    )


def _admin(
    name: str,
    method: HttpMethod,
    path: str,
    description: str,
    *,
    table: TableAccess = "write",
    timeout_seconds: int = 10,
    sends_to: tuple[str, ...] = (),
    domain: str = "onboarding_admin",
) -> Function:
    return Function(
        name=name,
        domain=domain,
        description=description,
        trigger=Route(method, path, "admin"),
        timeout_seconds=timeout_seconds,
        access=Access(table=table, sends_to=sends_to),
    )


ONBOARDING: tuple[Function, ...] = (
    _user("onboarding_status", "GET", "/v1/onboarding/status", "The user's onboarding; the first call enrols them."),
    _user("onboarding_step", "POST", "/v1/onboarding/step", "Starts, completes or skips one step."),
    _user(
        "onboarding_complete",
        "POST",
        "/v1/onboarding/complete",
        "Completes the onboarding once required steps are done.",
    ),
    _user("onboarding_skip", "POST", "/v1/onboarding/skip", "Skips the whole onboarding."),
    _user(
        "onboarding_mark_sample_workflow",
        "POST",
        "/v1/onboarding/mark-sample-workflow",
        "Records that the user created the sample workflow.",
    ),
    _user(
        "onboarding_mark_sample_agent",
        "POST",
        "/v1/onboarding/mark-sample-agent",
        "Records that the user created the sample agent.",
    ),
    _user("onboarding_mark_first_run", "POST", "/v1/onboarding/mark-first-run", "Records the user's first run."),
    _user(
        "onboarding_sample_workflow",
        "GET",
        "/v1/onboarding/sample-workflow",
        "The sample workflow and agent configuration of the user's flow version.",
        table="read",
    ),
    _admin("admin_flow_list", "GET", "/v1/admin/onboarding/flows", "Lists the tenant's flows.", table="read"),
    _admin("admin_flow_create", "POST", "/v1/admin/onboarding/flows", "Creates a draft flow."),
    _admin("admin_flow_get", "GET", "/v1/admin/onboarding/flows/{flow_id}", "Reads a flow's draft.", table="read"),
    _admin("admin_flow_update", "PUT", "/v1/admin/onboarding/flows/{flow_id}", "Edits a flow's draft (If-Match)."),
    _admin(
        "admin_flow_publish",
        "POST",
        "/v1/admin/onboarding/flows/{flow_id}/publish",
        "Publishes the draft as the next immutable, numbered version.",
    ),
    _admin(
        "admin_flow_versions",
        "GET",
        "/v1/admin/onboarding/flows/{flow_id}/versions",
        "Lists a flow's published versions, newest first.",
        table="read",
    ),
    _admin(
        "admin_flow_version_get",
        "GET",
        "/v1/admin/onboarding/flows/{flow_id}/versions/{version}",
        "Reads one published version of a flow.",
        table="read",
    ),
    _admin(
        "admin_default_flow_get",
        "GET",
        "/v1/admin/onboarding/default-flow",
        "The flow new users are enrolled on.",
        table="read",
    ),
    _admin(
        "admin_default_flow_set", "PUT", "/v1/admin/onboarding/default-flow", "Sets the flow new users are enrolled on."
    ),
    _admin(
        "admin_onboarding_restart",
        "POST",
        "/v1/admin/onboarding/users/{user_id}/restart",
        "Starts a user's onboarding over.",
    ),
    _admin(
        "admin_sample_users_create",
        "POST",
        "/v1/admin/onboarding/sample-users",
        "Generates demo users that walk the real state machine (tagged sample, removed by TTL).",
        timeout_seconds=30,
    ),
    _admin(
        "admin_migration_start",
        "POST",
        "/v1/admin/onboarding/migrate-version",
        "Previews (dry run) or starts moving users from one flow version to another along a step map.",
        timeout_seconds=30,
        sends_to=(MIGRATION_QUEUE,),
    ),
    _admin(
        "admin_migration_get",
        "GET",
        "/v1/admin/onboarding/migrations/{migration_id}",
        "A migration's progress.",
        table="read",
    ),
    Function(
        name="onboarding_migration_worker",
        domain="onboarding_admin",
        description="Lists the users of a migration page by page and migrates them in batches, once each.",
        trigger=Queue(MIGRATION_QUEUE, batch_size=5),
        timeout_seconds=60,
        reserved_concurrency=5,
        access=Access(table="write", sends_to=(MIGRATION_QUEUE,)),
    ),
)

CATALOG = CATALOG + ONBOARDING

_FLAG = "/v1/admin/feature-flags/{key}"


def _flags_admin(name: str, method: HttpMethod, path: str, description: str, *, read: bool = False) -> Function:
    return _admin(name, method, path, description, table="read" if read else "write", domain="flags_admin")


def _flags_control(name: str, method: HttpMethod, path: str, description: str, *, read: bool = False) -> Function:
    return _admin(name, method, path, description, table="read" if read else "write", domain="flags_control")


FLAGS: tuple[Function, ...] = (
    Function(
        name="flags_evaluate",
        domain="flags",
        description="Evaluates all (or the named) flags for the caller: token context plus allowed client attributes.",
        trigger=Route("POST", "/v1/flags/evaluate", "user"),
        access=Access(table="read", sends_to=(FLAG_EXPOSURES_QUEUE,)),
    ),
    Function(
        name="flag_exposure_worker",
        domain="flags",
        description="Counts sampled exposure events per flag, day and variant.",
        trigger=Queue(FLAG_EXPOSURES_QUEUE, batch_size=10, max_batching_window_seconds=5),
        timeout_seconds=30,
        reserved_concurrency=2,
        access=Access(table="write"),
    ),
    Function(
        name="flag_rollout_job",
        domain="flags",
        description="Every minute: reads each active rollout's guard, then advances, completes or halts the plan.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=60,
        reserved_concurrency=1,
        access=Access(table="write"),
    ),
    _flags_admin("admin_flag_list", "GET", "/v1/admin/feature-flags", "Lists the tenant's flags.", read=True),
    _flags_admin("admin_flag_create", "POST", "/v1/admin/feature-flags", "Creates a flag (version 1)."),
    _flags_admin("admin_flag_get", "GET", _FLAG, "Reads a flag; its ETag is its version.", read=True),
    _flags_admin("admin_flag_update", "PUT", _FLAG, "Replaces a flag as a new version (If-Match)."),
    _flags_admin("admin_flag_archive", "DELETE", _FLAG, "Archives a flag (If-Match): it serves its off value."),
    _flags_admin("admin_flag_history", "GET", f"{_FLAG}/history", "A flag's versions with diffs.", read=True),
    _flags_admin("admin_flag_rollback", "POST", f"{_FLAG}/rollback", "Restores an earlier version as a new one."),
    _flags_admin("admin_segment_list", "GET", "/v1/admin/segments", "Lists the tenant's segments.", read=True),
    _flags_admin("admin_segment_get", "GET", "/v1/admin/segments/{key}", "Reads a segment.", read=True),
    _flags_admin("admin_segment_put", "PUT", "/v1/admin/segments/{key}", "Creates or replaces a segment."),
    _flags_control("admin_kill_switch_get", "GET", "/v1/admin/kill-switch", "What is killed now.", read=True),
    _flags_control(
        "admin_kill_switch_set",
        "POST",
        "/v1/admin/kill-switch",
        "Kills or revives a flag, a tag or every flag; in force everywhere within 5 s.",
    ),
    _flags_control("admin_flag_settings_get", "GET", "/v1/admin/flag-settings", "Flag settings.", read=True),
    _flags_control(
        "admin_flag_settings_put",
        "PUT",
        "/v1/admin/flag-settings",
        "Sets the client attributes allowed in evaluation and the exposure sample rate.",
    ),
    _flags_control("admin_rollout_get", "GET", f"{_FLAG}/rollout", "A flag's rollout plan and guard.", read=True),
    _flags_control("admin_rollout_start", "PUT", f"{_FLAG}/rollout", "Starts a guarded progressive rollout."),
    _flags_control("admin_rollout_cancel", "DELETE", f"{_FLAG}/rollout", "Stops a rollout where it stands."),
    _flags_control(
        "admin_flag_exposures", "GET", f"{_FLAG}/exposures", "Sampled exposures per day and variant.", read=True
    ),
)

CATALOG = CATALOG + FLAGS


def by_name(name: str) -> Function:
    """The catalogue entry called ``name``."""
    for function in CATALOG:
        if function.name == name:
            return function
    raise KeyError(f"no function named {name!r} in the catalogue")


def http_functions(catalog: tuple[Function, ...] = CATALOG) -> list[tuple[Function, Route]]:
    """Every function served by an HTTP route, with its route."""
    return [(f, f.trigger) for f in catalog if isinstance(f.trigger, Route)]


def queues(catalog: tuple[Function, ...] = CATALOG) -> list[Queue]:
    """Every queue a function consumes."""
    return [f.trigger for f in catalog if isinstance(f.trigger, Queue)]
