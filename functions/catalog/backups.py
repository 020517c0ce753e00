"""Backups (issue 15, decision 0104): the daily backup and its retention, the weekly restore drill, and the
operators' routes."""

from __future__ import annotations

from functions.catalog.model import Access, Function, HttpMethod, Route, Schedule

STACK = "backups"


def _route(name: str, method: HttpMethod, path: str, description: str, access: Access, timeout: int = 10) -> Function:
    return Function(
        name=name,
        domain="backups",
        stack=STACK,
        description=description,
        trigger=Route(method, path, "operator"),
        timeout_seconds=timeout,
        access=access,
    )


_DRILLS = "/v1/operator/backups/drills"

FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="backup_job",
        domain="backups",
        stack=STACK,
        description="Every day at 03:00 UTC, backs the table up and deletes the backups older than 30 days.",
        trigger=Schedule("cron(0 3 * * ? *)"),
        timeout_seconds=60,
        reserved_concurrency=1,
        access=Access(backups="create"),
    ),
    Function(
        name="restore_drill",
        domain="backups",
        stack=STACK,
        description="Every minute, advances the weekly restore drill: restore, compare, record, clean up.",
        trigger=Schedule("rate(1 minute)"),
        timeout_seconds=300,
        reserved_concurrency=1,
        access=Access(table="write", backups="restore"),
    ),
    _route("operator_backups_list", "GET", "/v1/operator/backups", "The table's backups and recovery window.",
           Access(backups="read")),
    _route("operator_backup_create", "POST", "/v1/operator/backups", "Backs the table up now.",
           Access(backups="create"), timeout=30),
    _route("operator_drills_list", "GET", _DRILLS, "The restore drills, newest first, with their results.",
           Access(table="read")),
    _route("operator_drill_get", "GET", f"{_DRILLS}/{{drill_id}}", "One restore drill and its comparison.",
           Access(table="read")),
    _route("operator_drill_start", "POST", _DRILLS, "Starts a restore drill of the newest backup now.",
           Access(table="write", backups="restore"), timeout=30),
)  # fmt: skip
