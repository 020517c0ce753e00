"""GET /v1/admin/onboarding/analytics/alerts: the tenant's drop-off alerts (a rule starting or stopping to fire),
newest first, and the rules firing now."""

from firstmile import entrypoints
from firstmile.analytics.alerts import AlertsPage
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT

app = create_app()


@app.get(
    "/v1/admin/onboarding/analytics/alerts",
    summary="List drop-off alerts",
    description="Each alert is a rule that started (firing) or stopped (resolved) firing at an hourly check, with "
    "the figures and windows that decided it. Kept 400 days.",
    tags=["analytics"],
    responses=problem_responses(400, 401, 403),
)
def list_alerts(limit: PageLimit = DEFAULT_LIMIT, cursor: PageCursor = None) -> AlertsPage:
    caller = require_caller(app.current_event.raw_event)
    return container().alert_rules.alerts(caller.tenant, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
