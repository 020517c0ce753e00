"""GET /v1/admin/onboarding/analytics/alert-rules: the tenant's drop-off alert rules in id order, archived ones
included, each with what its last check found, and how many of all its rules are firing now."""

from firstmile import entrypoints
from firstmile.analytics.alerts import AlertRulePage
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT

app = create_app()


@app.get(
    "/v1/admin/onboarding/analytics/alert-rules",
    summary="List drop-off alert rules",
    tags=["analytics"],
    responses=problem_responses(400, 401, 403),
)
def list_alert_rules(limit: PageLimit = DEFAULT_LIMIT, cursor: PageCursor = None) -> AlertRulePage:
    caller = require_caller(app.current_event.raw_event)
    return container().alert_rules.list_rules(caller.tenant, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
