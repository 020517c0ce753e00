"""PUT /v1/admin/onboarding/analytics/alert-rules/{rule_id}: replace a drop-off alert rule as its next version; ``If-
Match`` (or the body's version) names the version the change was made on."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from firstmile import entrypoints
from firstmile.analytics.alerts import RULE_ID_PATTERN, AlertRule
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.put(
    "/v1/admin/onboarding/analytics/alert-rules/<rule_id>",
    summary="Change a drop-off alert rule",
    description="A new version with its diff in the history and an audit entry. 409 with the current rule when "
    "another change came first; 428 without If-Match or a body version. A rule turned off or archived is no "
    "longer checked and its state goes back to unknown.",
    tags=["analytics"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 422, 428, ok_description="The new version and its ETag", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def update_alert_rule(
    rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)], rule: Annotated[AlertRule, Body()]
) -> Response[AlertRule]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().alert_rules.update_rule(
        caller.tenant, rule_id, rule, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
