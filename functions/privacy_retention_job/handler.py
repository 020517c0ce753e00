"""Daily: delete what is past its retention and no TTL removes (closed privacy requests three years on), from the
time-bucketed retention index, never a Scan; counts per kind as a metric and in the answer (decision 0085)."""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(_event: dict[str, Any]) -> dict[str, int]:
    return container().retention.run()


lambda_handler = entrypoints.job(run)
