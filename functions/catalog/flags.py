"""Feature flags: evaluation, exposures and rollouts, the admins' flags and segments, and the kill switch
(docs/decisions/0060-0066)."""

from __future__ import annotations

from functools import partial

from firstmile.platform.resources import FLAG_EXPOSURES_QUEUE
from functions.catalog.model import Access, Function, Queue, Route, Schedule, http_function

# Three stacks, to keep each well under CloudFormation's resource limit: evaluation and the flag jobs, the admins'
# flags and segments, and the controls that act on flags already set up (kill switch, settings, rollouts).
STACK = "flags"
ADMIN_STACK = "flags_admin"
CONTROL_STACK = "flags_control"

_FLAG = "/v1/admin/feature-flags/{key}"

_admin = partial(http_function, domain="flags", stack=ADMIN_STACK, role="admin", table="write")
_admin_read = partial(_admin, table="read")
_control = partial(http_function, domain="flags", stack=CONTROL_STACK, role="admin", table="write")
_control_read = partial(_control, table="read")

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="flags_evaluate",
        domain="flags",
        stack=STACK,
        description="Evaluates all (or the named) flags for the caller: token context plus allowed client attributes.",
        trigger=Route("POST", "/v1/flags/evaluate", "user"),
        access=Access(table="read", sends_to=(FLAG_EXPOSURES_QUEUE,)),
    ),
    Function(
        name="flag_exposure_worker",
        domain="flags",
        stack=STACK,
        description="Counts sampled exposure events per flag, day and variant.",
        trigger=Queue(FLAG_EXPOSURES_QUEUE, batch_size=10, max_batching_window_seconds=5),
        timeout_seconds=30,
        reserved_concurrency=2,
        access=Access(table="write"),
    ),
    Function(
        name="flag_rollout_job",
        domain="flags",
        stack=STACK,
        description="Every minute: reads each active rollout's guard, then advances, completes or halts the plan.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=60,
        reserved_concurrency=1,
        access=Access(table="write"),
    ),
    _admin_read("admin_flag_list", "GET", "/v1/admin/feature-flags", "Lists the tenant's flags."),
    _admin("admin_flag_create", "POST", "/v1/admin/feature-flags", "Creates a flag (version 1)."),
    _admin_read("admin_flag_get", "GET", _FLAG, "Reads a flag; its ETag is its version."),
    _admin("admin_flag_update", "PUT", _FLAG, "Replaces a flag as a new version (If-Match)."),
    _admin("admin_flag_archive", "DELETE", _FLAG, "Archives a flag (If-Match): it serves its off value."),
    _admin_read("admin_flag_history", "GET", f"{_FLAG}/history", "A flag's versions with diffs."),
    _admin("admin_flag_rollback", "POST", f"{_FLAG}/rollback", "Restores an earlier version as a new one."),
    _admin_read("admin_segment_list", "GET", "/v1/admin/segments", "Lists the tenant's segments."),
    _admin_read("admin_segment_get", "GET", "/v1/admin/segments/{key}", "Reads a segment."),
    _admin("admin_segment_put", "PUT", "/v1/admin/segments/{key}", "Creates or replaces a segment."),
    _control_read("admin_kill_switch_get", "GET", "/v1/admin/kill-switch", "What is killed now."),
    _control(
        "admin_kill_switch_set",
        "POST",
        "/v1/admin/kill-switch",
        "Kills or revives a flag, a tag or every flag; in force everywhere within 5 s.",
    ),
    _control_read("admin_flag_settings_get", "GET", "/v1/admin/flag-settings", "Flag settings."),
    _control(
        "admin_flag_settings_put",
        "PUT",
        "/v1/admin/flag-settings",
        "Sets the client attributes allowed in evaluation and the exposure sample rate.",
    ),
    _control_read("admin_rollout_get", "GET", f"{_FLAG}/rollout", "A flag's rollout plan and guard."),
    _control("admin_rollout_start", "PUT", f"{_FLAG}/rollout", "Starts a guarded progressive rollout."),
    _control("admin_rollout_cancel", "DELETE", f"{_FLAG}/rollout", "Stops a rollout where it stands."),
    _control_read("admin_flag_exposures", "GET", f"{_FLAG}/exposures", "Sampled exposures per day and variant."),
)
