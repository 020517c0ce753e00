"""GET /v1/admin/audit/verify: walk the tenant's hash chain and report the first broken link."""

from firstmile import entrypoints
from firstmile.audit.models import ChainVerification
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app

app = create_app()


@app.get(
    "/v1/admin/audit/verify", summary="Verify the audit chain", tags=["audit"], responses=problem_responses(401, 403)
)
def verify() -> ChainVerification:
    caller = require_caller(app.current_event.raw_event)
    return container().audit_store.verify(caller.tenant)


lambda_handler = entrypoints.http(app)
