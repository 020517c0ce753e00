"""Every minute: check each active rollout plan (guard first, then dwell) and advance, complete or halt it."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(_event: dict[str, Any]) -> dict[str, Any]:
    return {"plans": container().rollouts.run_rollouts()}


lambda_handler = entrypoints.job(run)
