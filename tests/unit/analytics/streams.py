"""Stream records of analytics events, as the table's stream hands onboarding's event items to the aggregator."""

from __future__ import annotations

from typing import Any

from firstmile.analytics.counting import AnalyticsEvent
from firstmile.onboarding import EVENT_KIND
from firstmile.onboarding.models import TransitionEvent
from firstmile.platform.items import attribute, storable


def stream_record(event: AnalyticsEvent, sequence: int) -> dict[str, Any]:
    """The INSERT record of the event item onboarding writes for ``event`` (its key is ``<pk>|<sk>``)."""
    pk, sk = event.key.split("|")
    details: dict[str, Any] = {"reason": event.reason} if event.reason else {}
    if event.error_code:
        details["code"] = event.error_code
    if event.was_skipped:
        details["was"] = "skipped"
    happened = TransitionEvent(
        tenant=event.tenant,
        user=pk.rsplit("#", 1)[-1],
        type=event.type,
        at=event.at,
        flow_id=event.flow_id,
        flow_version=event.flow_version,
        step_id=event.step_id,
        progress_version=sequence + 1,
        sample=event.sample,
        details=details,
        enrolled_at=event.enrolled_at,
        segment=dict(event.segment),
        analytics_opt_out=event.opted_out,
    )
    body = {k: v for k, v in happened.model_dump(mode="json").items() if v is not None}
    image = {k: attribute(storable(v)) for k, v in ({"pk": pk, "sk": sk, "kind": EVENT_KIND} | body).items()}
    return {
        "eventID": str(sequence),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"SequenceNumber": f"{sequence:021d}", "NewImage": image, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/firstmile/stream/2026-12-01T00:00:00.000",
    }
