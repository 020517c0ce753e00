"""Every minute: each dead letter (every work queue's DLQ, the invocation DLQ, every failed stream batch) becomes a
task (decision 0091). Reports the tasks waiting as a metric, which the dead-letter alarm watches."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.failures.collector import DEAD_LETTER_TASKS_METRIC
from firstmile.observability import metrics

# Letters are taken for this long; the function's timeout is 60 s.
BUDGET_SECONDS = 40.0


def run(event: dict[str, Any]) -> dict[str, Any]:
    services = container()
    summary = services.dead_letter_collector.run(BUDGET_SECONDS)
    waiting = services.dead_letter_tasks.counters(None)
    metrics.add_metric(name="DeadLetterTasksCollected", unit=MetricUnit.Count, value=summary.new + summary.returned)
    metrics.add_metric(name=DEAD_LETTER_TASKS_METRIC, unit=MetricUnit.Count, value=max(0, waiting.get("s:dead", 0)))
    metrics.add_metric(name="DeadLettersUnreadable", unit=MetricUnit.Count, value=summary.unreadable)
    return {
        "new": summary.new,
        "returned": summary.returned,
        "known": summary.known,
        "unreadable": summary.unreadable,
        "by_source": summary.by_source,
        "stopped_early": summary.stopped_early,
    }


lambda_handler = entrypoints.job(run)
