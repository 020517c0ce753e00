"""The onboarding events in a batch of the table's change stream (decision 0070).

Only INSERTs of ``onboarding_event`` items are events: a progress item's change, another domain's item, a TTL
expiry's or an erasure's REMOVE are not, and are passed over. An event item that does not read as an event raises:
the aggregator answers it as a failed record, which the stream retries, bisects and then sends to its on-failure
destination, where it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from firstmile.analytics.counting import AnalyticsEvent
from firstmile.onboarding import EVENT_KIND
from firstmile.onboarding.models import EventType, TransitionEvent
from firstmile.platform.items import plain, value


def read_event(record: Mapping[str, Any]) -> tuple[TransitionEvent, AnalyticsEvent] | None:
    """The onboarding event a stream record inserted, as onboarding wrote it and as analytics counts it; ``None`` for
    any other record."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    # DynamoDB Local's stream writes an empty map or list as ``{}`` where DynamoDB writes ``{"M": {}}``: such an
    # attribute reads as absent, which is the field's default (an empty map or list) either way.
    item = {name: plain(value(typed)) for name, typed in image.items() if typed}
    if item.get("kind") != EVENT_KIND:
        return None
    event = TransitionEvent.model_validate({k: v for k, v in item.items() if k in TransitionEvent.model_fields})
    reason, code = event.details.get("reason"), event.details.get("code")
    return event, AnalyticsEvent(
        tenant=event.tenant,
        key=f"{item['pk']}|{item['sk']}",
        type=event.type,
        at=event.at,
        enrolled_at=event.enrolled_at,
        flow_id=event.flow_id,
        # Under the version the user enrolled on, whatever version a migration moved them to since.
        flow_version=event.enrolled_version or event.flow_version,
        step_id=event.step_id,
        segment=event.segment,
        reason=reason if isinstance(reason, str) else None,
        error_code=code if isinstance(code, str) and event.type is EventType.STEP_ERROR else None,
        was_skipped=event.details.get("was") == "skipped",
        sample=event.sample,
        opted_out=event.analytics_opt_out,
    )


def event_of(record: Mapping[str, Any]) -> AnalyticsEvent | None:
    """The onboarding event a stream record inserted, as analytics counts it; ``None`` for any other record."""
    read = read_event(record)
    return read[1] if read is not None else None
