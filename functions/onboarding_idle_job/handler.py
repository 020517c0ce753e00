"""Daily: find users idle longer than their tenant's window (the idle index, never a Scan) and queue their drop."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(_event: dict[str, Any]) -> dict[str, Any]:
    return container().idle_users.find()


lambda_handler = entrypoints.job(run)
