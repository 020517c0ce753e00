"""Every minute: check each active rollout plan (guard first, then dwell) and advance, complete or halt it."""

from typing import Any

from firstmile import entrypoints
from firstmile.flags.runtime import flag_service


def run(_event: dict[str, Any]) -> dict[str, Any]:
    return {"plans": flag_service().run_rollouts()}


lambda_handler = entrypoints.job(run)
