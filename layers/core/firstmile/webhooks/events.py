"""Which stored changes are webhook events (decision 0093): read from the table's stream, as the dispatcher gets them.

- an onboarding event item (``kind = onboarding_event``) of type ``onboarding_completed`` or ``step_completed``:
  ``onboarding.completed``, ``onboarding.step_completed``;
- an audit entry of the chain (``kind = audit_entry``) whose action is a flag's change, a kill, a halted rollout or a
  completed privacy request: ``flag.changed``, ``flag.killed``, ``rollout.halted``, ``dsr.completed``;
- an alert a drop-off rule raised (``kind = analytics_alert``): ``analytics.alert``.

The body is the Standard Webhooks shape: ``{"type", "timestamp", "data"}``. The message id is made from the stored
item's key and the endpoint, so the same change is the same message however often the stream hands it over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firstmile.platform.items import plain, value
from firstmile.webhooks.models import EventType

AUDIT_ACTIONS: dict[str, EventType] = {
    "flag.created": EventType.FLAG_CHANGED,
    "flag.updated": EventType.FLAG_CHANGED,
    "flag.archived": EventType.FLAG_CHANGED,
    "flag.rolled_back": EventType.FLAG_CHANGED,
    "flag.kill_switch.killed": EventType.FLAG_KILLED,
    "flag.rollout.halted": EventType.ROLLOUT_HALTED,
    "privacy.export.completed": EventType.DSR_COMPLETED,
    "privacy.erasure.completed": EventType.DSR_COMPLETED,
}
ONBOARDING_TYPES: dict[str, EventType] = {
    "onboarding_completed": EventType.ONBOARDING_COMPLETED,
    "step_completed": EventType.ONBOARDING_STEP_COMPLETED,
}
KINDS = ("onboarding_event", "audit_entry", "analytics_alert")
"""The item kinds whose inserts the dispatcher's stream mapping passes on."""


@dataclass(frozen=True)
class WebhookEvent:
    tenant: str
    type: EventType
    at: str
    data: dict[str, Any]
    source_key: str

    def body(self) -> str:
        return json.dumps({"type": self.type.value, "timestamp": self.at, "data": self.data}, separators=(",", ":"))

    def message_id(self, endpoint_id: str) -> str:
        """``msg_<yyyymmddhhmmss of the change>_<20 hex>``: sorts by time, the same for the same change and endpoint."""
        digest = hashlib.sha256(f"{self.source_key}\n{endpoint_id}".encode()).hexdigest()[:20]
        stamp = "".join(c for c in self.at[:19] if c.isdigit())
        return f"msg_{stamp}_{digest}"


def event_of(record: Mapping[str, Any]) -> WebhookEvent | None:
    """The webhook event a stream record inserted, or ``None``."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    item = {name: plain(value(typed)) for name, typed in image.items() if typed}
    kind, key = item.get("kind"), f"{item.get('pk')}|{item.get('sk')}"
    if kind == "onboarding_event" and item.get("type") in ONBOARDING_TYPES and not item.get("sample"):
        data = {k: item[k] for k in ("user", "flow_id", "flow_version", "step_id", "milestone") if item.get(k)}
        return WebhookEvent(str(item["tenant"]), ONBOARDING_TYPES[str(item["type"])], str(item["at"]), data, key)
    if kind == "audit_entry" and str(item.get("pk", "")).endswith("#AUDIT") and item.get("action") in AUDIT_ACTIONS:
        data = {k: item.get(k) for k in ("action", "actor", "target", "details", "sequence")}
        return WebhookEvent(str(item["tenant"]), AUDIT_ACTIONS[str(item["action"])], str(item["at"]), data, key)
    if kind == "analytics_alert" and isinstance(item.get("alert"), dict):
        tenant = str(item["pk"]).removeprefix("TENANT#").rsplit("#ALERTS", 1)[0]
        alert = item["alert"]
        return WebhookEvent(tenant, EventType.ANALYTICS_ALERT, str(alert.get("at", "")), alert, key)
    return None
