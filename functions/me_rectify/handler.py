"""PATCH /v1/me: correct the attributes Firstmile keeps about the caller (Article 16): the segment values kept at
enrolment (country, locale, plan, returning). A rights request: taken even while processing is restricted."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.onboarding.models import MeView, Rectification

app = create_app()


@app.patch(
    "/v1/me",
    summary="Correct what is kept about me",
    description="A value replaces the kept one, `null` removes it. Events written from now on carry the corrected "
    "values; what analytics counted already stays as it was.",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 404, 422, 429),
)
def rectify(change: Annotated[Rectification, Body()]) -> MeView:
    caller = require_caller(app.current_event.raw_event)
    return container().progress.rectify(caller.tenant, caller.subject, change)


lambda_handler = entrypoints.http(app)
