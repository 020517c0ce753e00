"""Daily: delete what is past its retention and no TTL removes (closed privacy requests three years on), from the
time-bucketed retention index, never a Scan; counts per kind as a metric and in the answer (decision 0085).

It looks back 14 days; after a longer stop, invoke it once with ``{"since": "yyyy-mm-dd"}`` (the first day missed).
"""

from datetime import date
from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(event: dict[str, Any]) -> dict[str, int]:
    since = event.get("since")
    return container().retention.run(date.fromisoformat(since) if isinstance(since, str) else None)


lambda_handler = entrypoints.job(run)
