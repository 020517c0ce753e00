"""GET /v1/admin/audit: the caller's tenant's audit entries, newest first, filtered by keys."""

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from firstmile import entrypoints
from firstmile.audit.models import ACTION_PATTERN, ACTOR_PATTERN, AuditEntry, AuditFilter
from firstmile.composition import container
from firstmile.http.auth import require_caller
from firstmile.http.pagination import PageCursor, PageLimit
from firstmile.http.problems import problem_responses
from firstmile.http.resolver import create_app
from firstmile.platform.cursors import DEFAULT_LIMIT, Page

app = create_app()


@app.get("/v1/admin/audit", summary="Audit log", tags=["audit"], responses=problem_responses(400, 401, 403))
def audit_log(
    action: Annotated[str | None, Query(pattern=ACTION_PATTERN)] = None,
    actor: Annotated[str | None, Query(pattern=ACTOR_PATTERN)] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: PageCursor = None,
) -> Page[AuditEntry]:
    caller = require_caller(app.current_event.raw_event)
    filters = AuditFilter(action=action, actor=actor, since=since, until=until)
    return container().audit_store.list_entries(caller.tenant, filters, limit=limit, cursor=cursor)


lambda_handler = entrypoints.http(app)
