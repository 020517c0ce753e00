"""GET /v1/admin/onboarding/analytics/alert-rules/{rule_id}/history: every version of a drop-off alert rule, newest
first, each with its diff."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.analytics.alerts import RULE_ID_PATTERN, AlertRuleHistoryEntry
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get(
    "/v1/admin/onboarding/analytics/alert-rules/<rule_id>/history",
    summary="A drop-off alert rule's history",
    tags=["analytics"],
    responses=problem_responses(400, 401, 403, 404),
)
def alert_rule_history(
    rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)],
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[AlertRuleHistoryEntry]:
    caller = require_caller(app.current_event.raw_event)
    return container().alert_rules.history(caller.tenant, rule_id, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
