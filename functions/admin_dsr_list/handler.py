"""GET /v1/admin/dsr/requests: the tenant's privacy requests newest first, all or in one ``state``, or (``overdue``)
the open ones past their 30-day deadline; with counts of the open requests per state and overdue."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT
from firstmile.privacy.requests import PrivacyRequestPage, RequestState

app = create_app()


@app.get(
    "/v1/admin/dsr/requests",
    summary="List privacy requests",
    tags=["compliance"],
    responses=problem_responses(400, 401, 403, 422),
)
def list_requests(
    state: Annotated[RequestState | None, Query()] = None,
    overdue: Annotated[bool, Query()] = False,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> PrivacyRequestPage:
    caller = require_caller(app.current_event.raw_event)
    return container().data_rights.list(caller.tenant, state=state, overdue=overdue, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
