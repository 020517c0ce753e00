"""Daily: the deployment's open privacy requests against their 30-day deadline (metrics and an alarm), and approved
requests that waited over an hour queued again (a message lost between the table and the queue).

Invoked by hand with ``{"reapply_erasures": true}`` after the table was restored from a backup: every erased user
whose items the restore brought back is erased again (docs/runbooks/restore-and-erasures.md).
"""

from typing import Any

from firstmile import entrypoints
from firstmile.composition import container


def run(event: dict[str, Any]) -> dict[str, Any]:
    deadlines = container().privacy_deadlines
    if event.get("reapply_erasures") is True:
        return deadlines.reapply_erasures()
    return deadlines.check()


lambda_handler = entrypoints.job(run)
