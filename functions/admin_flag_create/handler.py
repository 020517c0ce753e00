"""POST /v1/admin/feature-flags: create a flag as version 1; answers its ETag and where it lives."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.flags.models import Flag
from firstmile.http.auth import require_caller
from firstmile.http.documentation import request_headers
from firstmile.http.idempotency import idempotent
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.http.versioning import versioned_response

app = create_app()


@app.post(
    "/v1/admin/feature-flags",
    summary="Create a feature flag",
    description="The body's version is ignored: a new flag is version 1. Its rules and prerequisites are checked "
    "against the tenant's other flags and segments (422 on a cycle or a missing reference).",
    tags=["flags admin"],
    responses=problem_responses(
        400,
        401,
        403,
        409,
        422,
        ok=201,
        ok_description="Created: the flag and its ETag",
        ok_headers=("ETag", "Location", "Idempotent-Replayed"),
    ),
    openapi_extensions=request_headers("Idempotency-Key"),
)
def create_flag(flag: Annotated[Flag, Body()]) -> Response[Flag]:
    caller = require_caller(app.current_event.raw_event)

    def produce() -> Response[Any]:
        stored = container().flag_admin.create_flag(caller.tenant, flag, actor=f"admin:{caller.subject}")
        response = versioned_response(stored, stored.version, 201)
        response.headers["Location"] = f"/v1/admin/feature-flags/{stored.key}"
        return response

    return idempotent(app, produce)


lambda_handler = entrypoints.http(app)
