"""DELETE /v1/admin/onboarding/analytics/alert-rules/{rule_id}: archive a drop-off alert rule (If-Match). It stays,
with its versions and alerts, and is never checked again; PUT it with ``archived: false`` to bring it back."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.analytics.alerts import RULE_ID_PATTERN, AlertRule
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import expected_version, versioned_response

app = create_app()


@app.delete(
    "/v1/admin/onboarding/analytics/alert-rules/<rule_id>",
    summary="Archive a drop-off alert rule",
    tags=["analytics"],
    responses=problem_responses(
        400, 401, 403, 404, 409, 428, ok_description="The archived version", ok_headers=("ETag",)
    ),
    openapi_extensions=request_headers("If-Match"),
)
def archive_alert_rule(rule_id: Annotated[str, Path(pattern=RULE_ID_PATTERN)]) -> Response[AlertRule]:
    caller = require_caller(app.current_event.raw_event)
    stored = container().alert_rules.archive_rule(
        caller.tenant, rule_id, expected_version(app), actor=f"admin:{caller.subject}"
    )
    return versioned_response(stored, stored.version)


lambda_handler = entrypoints.http(app)
