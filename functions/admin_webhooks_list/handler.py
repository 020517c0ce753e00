"""GET /v1/admin/webhooks: the tenant's webhook endpoints, oldest first (at most 20; no secrets)."""

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.webhooks.models import EndpointList

app = create_app()


@app.get(
    "/v1/admin/webhooks", summary="List webhook endpoints", tags=["webhooks"], responses=problem_responses(401, 403)
)
def list_endpoints() -> EndpointList:
    return container().webhook_endpoints.list(require_caller(app.current_event.raw_event).tenant)


lambda_handler = entrypoints.http(app)
