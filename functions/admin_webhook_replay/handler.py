"""POST /v1/admin/webhooks/{endpoint_id}/deliveries/{message_id}/replay: send a logged message again, with its id
and body as they were and a new signature; answers ``queued``. Audited."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.observability import logger
from firstmile.webhooks.deliveries import MESSAGE_ID_PATTERN, Replayed
from firstmile.webhooks.models import ENDPOINT_ID_PATTERN

app = create_app()


@app.post(
    "/v1/admin/webhooks/<endpoint_id>/deliveries/<message_id>/replay",
    summary="Replay a webhook delivery",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422, 503),
)
def replay_delivery(
    endpoint_id: Annotated[str, Path(pattern=ENDPOINT_ID_PATTERN)],
    message_id: Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)],
) -> Replayed:
    caller = require_caller(app.current_event.raw_event)
    return container().webhook_endpoints.replay(
        caller.tenant, f"admin:{caller.subject}", endpoint_id, message_id, logger.get_correlation_id() or ""
    )


lambda_handler = entrypoints.http(app)
