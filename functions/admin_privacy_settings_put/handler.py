"""PUT /v1/admin/compliance/settings: whether a verified erasure runs without a separate execute call, and whether
a request an admin records needs a second admin's approval. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.requests import PrivacySettings

app = create_app()


@app.put(
    "/v1/admin/compliance/settings",
    summary="Set the privacy settings",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 422),
)
def put_settings(settings: Annotated[PrivacySettings, Body()]) -> PrivacySettings:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.set_settings(caller.tenant, caller.subject, settings)


lambda_handler = entrypoints.http(app)
