"""What the onboarding handlers share: the ``If-Match`` they were sent and responses that carry an ``ETag``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel

from firstmile.http.headers import header
from firstmile.http.versioning import etag_for, parse_if_match


def expected_version(app: APIGatewayHttpResolver) -> int | None:
    """The progress (or draft) version the client expects, from ``If-Match``; ``None`` when absent or ``*``."""
    return parse_if_match(header(app.current_event.headers, "If-Match"))


def versioned_response(model: BaseModel, version: int, status_code: int = 200) -> Response[Any]:
    """``model`` as JSON with the strong ``ETag`` of ``version``."""
    return Response(status_code, "application/json", model.model_dump(mode="json"), headers={"ETag": etag_for(version)})
