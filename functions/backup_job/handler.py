"""Every day: back the table up, and delete the backups older than 30 days (decision 0104)."""

from typing import Any

from firstmile import entrypoints
from firstmile.clock import utc_now
from firstmile.composition import container


def back_up(event: dict[str, Any]) -> dict[str, Any]:
    return container().backups.daily(utc_now())


lambda_handler = entrypoints.job(back_up)
