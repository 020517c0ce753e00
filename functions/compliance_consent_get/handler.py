"""GET /v1/compliance/consent: the caller's current consent per purpose and cookie category, whether they are out of
analytics, and their newest choices."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.privacy.consent import ConsentView

app = create_app()


@app.get(
    "/v1/compliance/consent",
    summary="Your consent",
    tags=["compliance"],
    responses=problem_responses(401, 403),
)
def get_consent() -> ConsentView:
    caller = require_caller(app.current_event.raw_event)
    return container().consents.current(caller.tenant, caller.subject)


lambda_handler = entrypoints.http(app)
