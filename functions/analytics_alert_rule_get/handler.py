"""GET /v1/admin/onboarding/analytics/alert-rules/{rule_id}: a drop-off alert rule with what its last check found; its
ETag is its version."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.analytics.alerts import RULE_ID_PATTERN, AlertRuleView
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response

app = create_app()


@app.get(
    "/v1/admin/onboarding/analytics/alert-rules/<rule_id>",
    summary="Read a drop-off alert rule",
    tags=["analytics"],
    responses=problem_responses(
        401, 403, 404, ok_description="The rule and its status; ETag carries its version", ok_headers=("ETag",)
    ),
)
def get_alert_rule(rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)]) -> Response[AlertRuleView]:
    caller = require_caller(app.current_event.raw_event)
    rule = container().alert_rules.get_rule(caller.tenant, rule_id)
    return versioned_response(rule, rule.version)


lambda_handler = entrypoints.http(app)
