"""POST /v1/admin/onboarding/migrate-version: preview (dry run) or start moving users between flow versions.

A dry run answers 200 with the plan and writes nothing; otherwise the migration is created and fans out through
the migration queue, answered 202 with where to follow its progress.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers, response_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import MigrationAccepted, MigrationPlanPreview, MigrationRequest

app = create_app()

# 404: no such flow or version; 409: the same request still in progress; 422: a step map that does not fit.
_RESPONSES = problem_responses(400, 401, 403, 404, 409) | {
    200: {
        "description": "Dry run: what the migration would do; nothing was written",
        "content": {"application/json": {"model": MigrationPlanPreview}},
        "headers": response_headers("Idempotent-Replayed"),
    },
    202: {
        "description": "Accepted: the migration runs in the background; follow it at Location",
        "content": {"application/json": {"model": MigrationAccepted}},
        "headers": response_headers("Location", "Idempotent-Replayed"),
    },
}


@app.post(
    "/v1/admin/onboarding/migrate-version",
    summary="Migrate users between flow versions",
    tags=["onboarding admin"],
    responses=_RESPONSES,
    openapi_extensions=request_headers("Idempotency-Key"),
)
def migrate_version(
    request: Annotated[MigrationRequest, Body()],
) -> Response[MigrationPlanPreview | MigrationAccepted]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        outcome = container().migrations.migrate(caller.tenant, request, actor=f"admin:{caller.subject}")
        if isinstance(outcome, MigrationAccepted):
            return Response(
                202, "application/json", outcome.model_dump(mode="json"), headers={"Location": outcome.status_url}
            )
        return Response(200, "application/json", outcome.model_dump(mode="json"))

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
