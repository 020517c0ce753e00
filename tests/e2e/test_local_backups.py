"""Backups and the restore drill over the running stack (decision 0104): an operator backs the table up, starts a
drill, and the drill's scheduled function carries it on through the emulated backup and point-in-time API (the
local table has none of its own): the backup's copy and the table as of the backup agree per item kind; a second
drill whose backup copy is altered before the comparison reports the kind that differs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.harness import RunningStack, call, run_cli, until

pytestmark = pytest.mark.e2e

DRILLS = "/v1/operator/backups/drills"


def as_operator(stack: RunningStack, method: str, path: str) -> Any:
    return call(stack.url(path), method, {"Authorization": f"Bearer {stack.tokens()['FIRSTMILE_OPERATOR_TOKEN']}"})


def start_drill(stack: RunningStack) -> dict[str, Any]:
    """A drill of the newest backup (the scheduled run may have started one first: then that one)."""
    started = as_operator(stack, "POST", DRILLS)
    if started.status == 409 and started.json()["code"] == "BIZ_DRILL_RUNNING":
        return dict(as_operator(stack, "GET", f"{DRILLS}/{started.json()['drill_id']}").json())
    assert started.status == 202, started.body
    return dict(started.json())


def step(stack: RunningStack, drill_id: str) -> dict[str, Any]:
    """One run of the drill's function, then the drill as it stands. The stack's schedule runs the same function every
    minute, so this run may meet a step already taken (a scratch table just deleted, say) and fail; in AWS the
    function runs one at a time (reserved concurrency 1). The drill's state is what the test judges."""
    run_cli(stack, "jobs", "run", "restore_drill")
    return dict(as_operator(stack, "GET", f"{DRILLS}/{drill_id}").json())


def test_a_drill_passes_and_an_altered_copy_is_reported(stack: RunningStack) -> None:
    # Given an on-demand backup, listed with the recovery window
    made = as_operator(stack, "POST", "/v1/operator/backups")
    assert made.status == 201, made.body
    listed = as_operator(stack, "GET", "/v1/operator/backups").json()
    assert made.json()["backup_arn"] in [b["backup_arn"] for b in listed["backups"]]
    assert listed["point_in_time"]["enabled"] and listed["latest_backup_age_hours"] < 1

    # When a drill runs to its end
    drill = start_drill(stack)
    passed = until(
        "the drill to finish", lambda: step(stack, drill["drill_id"]), lambda d: d["state"] in ("passed", "failed"), 120
    )

    # Then the backup's copy and the table as of the backup agree, and the scratch tables are gone
    assert passed["state"] == "passed", passed
    assert passed["restored"]["items"] == passed["source"]["items"] > 0
    assert passed["restored"]["kinds"] == passed["source"]["kinds"] and passed["mismatches"] == []
    assert passed["restore_seconds"] is not None
    tables = stack.aws("dynamodb").list_tables()["TableNames"]
    assert passed["backup_table"] not in tables and passed["source_table"] not in tables

    # When another drill's copy of the backup is altered once restored (the drill's own schedule, every minute, may
    # compare before the test alters: then the comparison rightly passes, and the test tries again)
    for attempt in range(3):
        assert as_operator(stack, "POST", "/v1/operator/backups").status == 201
        second = start_drill(stack)
        restored = until(
            "the restores", lambda d=second["drill_id"]: step(stack, d), lambda d: d["state"] != "restoring", 60
        )
        if restored["state"] != "restored":
            continue
        forged = f"TENANT#forged-{uuid.uuid4().hex[:6]}"
        stack.aws("dynamodb").put_item(
            TableName=restored["backup_table"],
            Item={"pk": {"S": forged}, "sk": {"S": "TENANT"}, "kind": {"S": "tenant"}},
        )
        failed = until(
            "the comparison", lambda d=second["drill_id"]: step(stack, d), lambda d: d["state"] != "restored", 60
        )
        if failed["state"] == "failed" or attempt == 2:
            break

    # Then the drill fails, naming the kind that differs
    assert failed["state"] == "failed" and "differ" in failed["error"], failed
    (mismatch,) = failed["mismatches"]
    assert mismatch["kind"] == "tenant" and mismatch["restored_items"] == mismatch["source_items"] + 1
    listed = as_operator(stack, "GET", f"{DRILLS}?limit=2").json()["drills"]
    assert [d["drill_id"] for d in listed] == [second["drill_id"], drill["drill_id"]]
