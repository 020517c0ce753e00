"""POST /v1/admin/onboarding/analytics/alert-rules: create a drop-off alert rule as version 1; answers its ETag and
where it lives."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.analytics.alerts import AlertRule
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response

app = create_app()


@app.post(
    "/v1/admin/onboarding/analytics/alert-rules",
    summary="Create a drop-off alert rule",
    description="The body's version is ignored: a new rule is version 1. The flow must have a published version "
    "and the step, if given, must be one of its newest version's (422 VAL_ALERT_RULE_STEP_UNKNOWN). The hourly "
    "check judges enabled rules.",
    tags=["analytics"],
    responses=problem_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        ok=201,
        ok_description="Created: the rule and its ETag",
        ok_headers=("ETag", "Location", "Idempotent-Replayed"),
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def create_alert_rule(rule: Annotated[AlertRule, Body()]) -> Response[AlertRule]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        stored = container().alert_rules.create_rule(caller.tenant, rule, actor=f"admin:{caller.subject}")
        response = versioned_response(stored, stored.version, 201)
        response.headers["Location"] = f"/v1/admin/onboarding/analytics/alert-rules/{stored.rule_id}"
        return response

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
