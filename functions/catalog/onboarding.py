"""Onboarding: a user's own progress, the admins' flows and versions, and migrations between versions
(docs/decisions/0050-0055)."""

from __future__ import annotations

from functools import partial

from firstmile.limits.models import RouteClass
from firstmile.platform.resources import ONBOARDING_DROPS_QUEUE, ONBOARDING_MIGRATIONS_QUEUE
from functions.catalog.model import Access, Function, HttpMethod, Queue, Schedule, TableAccess, http_function

# Two stacks, to keep each well under CloudFormation's resource limit: what users call, and what admins call.
STACK = "onboarding"
ADMIN_STACK = "onboarding_admin"


def _user(name: str, method: HttpMethod, path: str, description: str, *, table: TableAccess = "write") -> Function:
    # Every write of a user's progress counts against one budget; reads are not counted.
    rate = RouteClass.PROGRESS_WRITE if method == "POST" else None
    return http_function(
        name, method, path, description, domain="onboarding", stack=STACK, role="user", table=table, rate_class=rate
    )


_admin = partial(http_function, domain="onboarding", stack=ADMIN_STACK, role="admin", table="write")
_admin_read = partial(_admin, table="read")

FUNCTIONS: tuple[Function, ...] = (
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
    _admin_read("admin_flow_list", "GET", "/v1/admin/onboarding/flows", "Lists the tenant's flows."),
    _admin("admin_flow_create", "POST", "/v1/admin/onboarding/flows", "Creates a draft flow."),
    _admin_read("admin_flow_get", "GET", "/v1/admin/onboarding/flows/{flow_id}", "Reads a flow's draft."),
    _admin("admin_flow_update", "PUT", "/v1/admin/onboarding/flows/{flow_id}", "Edits a flow's draft (If-Match)."),
    _admin(
        "admin_flow_publish",
        "POST",
        "/v1/admin/onboarding/flows/{flow_id}/publish",
        "Publishes the draft as the next immutable, numbered version.",
    ),
    _admin_read(
        "admin_flow_versions",
        "GET",
        "/v1/admin/onboarding/flows/{flow_id}/versions",
        "Lists a flow's published versions, newest first.",
    ),
    _admin_read(
        "admin_flow_version_get",
        "GET",
        "/v1/admin/onboarding/flows/{flow_id}/versions/{version}",
        "Reads one published version of a flow.",
    ),
    _admin_read(
        "admin_default_flow_get", "GET", "/v1/admin/onboarding/default-flow", "The flow new users are enrolled on."
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
        sends_to=(ONBOARDING_MIGRATIONS_QUEUE,),
    ),
    _admin_read(
        "admin_migration_get", "GET", "/v1/admin/onboarding/migrations/{migration_id}", "A migration's progress."
    ),
    Function(
        name="onboarding_migration_worker",
        domain="onboarding",
        stack=ADMIN_STACK,
        description="Lists the users of a migration page by page and migrates them in batches, once each.",
        trigger=Queue(ONBOARDING_MIGRATIONS_QUEUE, batch_size=5),
        timeout_seconds=60,
        reserved_concurrency=5,
        access=Access(table="write", sends_to=(ONBOARDING_MIGRATIONS_QUEUE,)),
    ),
    _admin_read(
        "admin_onboarding_settings_get",
        "GET",
        "/v1/admin/onboarding/settings",
        "The tenant's onboarding settings: how many idle days count a user as dropped.",
    ),
    _admin(
        "admin_onboarding_settings_put",
        "PUT",
        "/v1/admin/onboarding/settings",
        "Replaces the tenant's onboarding settings (audited).",
    ),
    Function(
        name="onboarding_idle_job",
        domain="onboarding",
        stack=ADMIN_STACK,
        description="Daily: finds users idle longer than their tenant's window in the idle index, queues their drop.",
        trigger=Schedule("cron(30 2 * * ? *)"),
        timeout_seconds=300,
        reserved_concurrency=1,
        access=Access(table="read", sends_to=(ONBOARDING_DROPS_QUEUE,)),
    ),
    Function(
        name="onboarding_drop_worker",
        domain="onboarding",
        stack=ADMIN_STACK,
        description="Marks the queued idle users dropped at the step they stopped at, unless they came back.",
        trigger=Queue(ONBOARDING_DROPS_QUEUE, batch_size=5),
        timeout_seconds=60,
        reserved_concurrency=2,
        access=Access(table="write"),
    ),
)
