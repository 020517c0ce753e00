"""In-memory consent, linked to the in-memory onboarding store whose progress it marks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from firstmile.audit.logic import format_time
from firstmile.audit.models import AuditEvent
from firstmile.onboarding.ports import EnrolmentConsent
from firstmile.privacy.consent import ConsentRecord, ConsentState
from firstmile.privacy.policies import PolicyVersion
from firstmile.privacy.requests import OPEN_STATES, PrivacyRequest, PrivacySettings, RequestState
from tests.fakes.audit import AuditedFake, FakeAuditLog
from tests.fakes.faults import Faults
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.paging import page_of
from tests.fakes.storage import stored as stored_model


class FakeConsentStore:
    """``ConsentStorePort`` in memory: each user's state and records; the analytics marker goes to ``onboarding``'s
    progress under the same call, and an enrolment's check is a callable that ``FakeOnboardingStore`` runs."""

    def __init__(self, onboarding: FakeOnboardingStore | None = None) -> None:
        self.faults = Faults()
        self.onboarding = onboarding or FakeOnboardingStore()
        self._states: dict[tuple[str, str], ConsentState] = {}
        self._records: dict[tuple[str, str], list[ConsentRecord]] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str, user: str) -> ConsentState:
        self.faults.enter("get")
        with self._lock:
            return self._states.get((tenant, user), ConsentState())

    def history(self, tenant: str, user: str, *, limit: int) -> list[ConsentRecord]:
        self.faults.enter("history")
        with self._lock:
            records = list(self._records.get((tenant, user), []))
        return sorted(records, key=lambda r: r.at, reverse=True)[:limit]

    def write(
        self,
        tenant: str,
        user: str,
        state: ConsentState,
        records: list[ConsentRecord],
        *,
        analytics_opt_out: bool | None = None,
        restricted: bool | None = None,
    ) -> bool:
        self.faults.enter("write")
        with self._lock:
            stored = self._states.get((tenant, user), ConsentState())
            if stored.version != state.version - 1 or self.faults.conflicts("write"):
                return False
            self._states[(tenant, user)] = state
            self._records.setdefault((tenant, user), []).extend(records)
            self.onboarding.set_consent_marks(tenant, user, state.accepted, analytics_opt_out, restricted)
            return True

    def enrolment(self, tenant: str, user: str) -> EnrolmentConsent:
        self.faults.enter("enrolment")
        state = self.get(tenant, user)

        def holds() -> bool:
            return self._states.get((tenant, user), ConsentState()).version == state.version

        return EnrolmentConsent(state.analytics_opt_out, dict(state.accepted), {"holds": holds}, state.restricted)


class FakePolicyStore(AuditedFake):
    """``PolicyStorePort`` in memory; a publication appends to ``audit`` under its lock, with the version."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._versions: dict[str, dict[tuple[str, str], PolicyVersion]] = {}

    def publish(self, tenant: str, policy: PolicyVersion, *, event: AuditEvent) -> bool:
        self.faults.enter("publish")
        with self._lock:
            versions = self._versions.setdefault(tenant, {})
            key = (policy.type.value, policy.version)
            if key in versions or self.faults.conflicts("publish"):
                return False
            versions[key] = policy
            self.audit.record(event)
            return True

    def versions(self, tenant: str) -> list[PolicyVersion]:
        self.faults.enter("versions")
        with self._lock:
            found = list(self._versions.get(tenant, {}).values())
        return sorted(found, key=lambda p: p.published_at, reverse=True)

    def current_versions(self, tenant: str) -> dict[str, str]:
        self.faults.enter("current_versions")
        current: dict[str, str] = {}
        for policy in self.versions(tenant):
            current.setdefault(policy.type.value, policy.version)
        return current


class FakeRequestStore(AuditedFake):
    """``RequestStorePort`` in memory: requests by tenant and id, settings, tombstones; a change appends its entry
    to ``audit`` under its lock, as the store's transaction does."""

    def __init__(self, *, audit: FakeAuditLog | None = None) -> None:
        super().__init__(audit=audit)
        self._requests: dict[tuple[str, str], PrivacyRequest] = {}
        self._settings: dict[str, PrivacySettings] = {}
        self._tombstones: dict[tuple[str, str], tuple[str, str]] = {}

    def save(self, request: PrivacyRequest, *, event: AuditEvent) -> bool:
        self.faults.enter("save")
        with self._lock:
            key = (request.tenant, request.request_id)
            stored = self._requests.get(key)
            if (stored.version if stored else 0) != request.version - 1 or self.faults.conflicts("save"):
                return False
            self._requests[key] = stored_model(request)
            self.audit.record(event)
            return True

    def get(self, tenant: str, request_id: str) -> PrivacyRequest | None:
        self.faults.enter("get")
        with self._lock:
            return self._requests.get((tenant, request_id))

    def page(
        self, tenant: str, *, state: RequestState | None, limit: int, cursor: str | None
    ) -> tuple[list[PrivacyRequest], str | None]:
        self.faults.enter("page")
        with self._lock:
            chosen = sorted(
                (r for (t, _), r in self._requests.items() if t == tenant and (state is None or r.state is state)),
                key=lambda r: r.request_id,
                reverse=True,
            )
        scope = f"dsr|{tenant}|{state.value if state else ''}"
        return page_of(chosen, lambda r: r.request_id, scope=scope, limit=limit, cursor=cursor, descending=True)

    def open_entries(self, tenant: str) -> list[dict[str, str]]:
        self.faults.enter("open_entries")
        return [
            {"request_id": e["request_id"], "state": e["state"], "deadline": e["deadline"]}
            for e in self._open()
            if e["tenant"] == tenant
        ]

    def many(self, tenant: str, request_ids: Iterable[str]) -> list[PrivacyRequest]:
        self.faults.enter("many")
        with self._lock:
            return [self._requests[(tenant, r)] for r in request_ids if (tenant, r) in self._requests]

    def open_before(self, moment: datetime) -> list[dict[str, str]]:
        self.faults.enter("open_before")
        stamp = format_time(moment)
        return [e for e in self._open() if e["deadline"] <= stamp]

    def settings(self, tenant: str) -> PrivacySettings:
        self.faults.enter("settings")
        with self._lock:
            return self._settings.get(tenant, PrivacySettings())

    def set_settings(self, tenant: str, settings: PrivacySettings, *, event: AuditEvent) -> None:
        self.faults.enter("set_settings")
        with self._lock:
            self._settings[tenant] = settings
            self.audit.record(event)

    def put_tombstone(self, tenant: str, user: str, request_id: str, at: datetime) -> None:
        self.faults.enter("put_tombstone")
        with self._lock:
            self._tombstones[(tenant, user)] = (request_id, format_time(at))

    def tombstoned(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        self.faults.enter("tombstoned")
        with self._lock:
            return {pair for pair in pairs if pair in self._tombstones}

    def tombstones(self, tenant: str) -> list[str]:
        self.faults.enter("tombstones")
        with self._lock:
            return sorted(u for (t, u) in self._tombstones if t == tenant)

    def all_tombstones(self) -> list[tuple[str, str, str]]:
        self.faults.enter("all_tombstones")
        with self._lock:
            return sorted((t, u, at) for (t, u), (_, at) in self._tombstones.items())

    def _open(self) -> list[dict[str, str]]:
        with self._lock:
            entries = [
                {
                    "tenant": r.tenant,
                    "request_id": r.request_id,
                    "type": r.type.value,
                    "state": r.state.value,
                    "deadline": format_time(r.deadline_at),
                }
                for r in self._requests.values()
                if r.state in OPEN_STATES
            ]
        return sorted(entries, key=lambda e: (e["deadline"], e["tenant"], e["request_id"]))


class FakeUserPartition:
    """``UserPartitionPort`` in memory: each user's items by sort key, as plain values with their ``kind``."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.items_by_user: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, tenant: str, user: str, sk: str, item: dict[str, Any]) -> None:
        """Put an item under the user (what the other stores write there)."""
        with self._lock:
            self.items_by_user.setdefault((tenant, user), {})[sk] = item

    def items(self, tenant: str, user: str) -> list[dict[str, Any]]:
        self.faults.enter("items")
        with self._lock:
            found = self.items_by_user.get((tenant, user), {})
            return [dict(found[sk]) for sk in sorted(found)]

    def kinds(self, tenant: str, user: str) -> dict[str, int]:
        self.faults.enter("kinds")
        with self._lock:
            found = self.items_by_user.get((tenant, user), {})
            return dict(Counter(str(i.get("kind")) for i in found.values()))

    def delete(self, tenant: str, user: str) -> int:
        self.faults.enter("delete")
        with self._lock:
            found = self.items_by_user.get((tenant, user), {})
            gone = len(found)
            found.clear()
            return gone


class FakeObjects:
    """A bucket in memory (``firstmile.privacy.user_data.Objects``); links are ``memory://<key>``."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in list(self.objects) if k.startswith(prefix)))

    def folders(self, prefix: str) -> list[str]:
        rest = {
            k[len(prefix) :].split("/", 1)[0] for k in self.objects if k.startswith(prefix) and "/" in k[len(prefix) :]
        }
        return [f"{prefix}{name}/" for name in sorted(rest)]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def link(self, key: str, seconds: int) -> str:
        return f"memory://{key}?expires={seconds}"


class FakeRetentionStore:
    """``RetentionStorePort`` in memory: entries by day; ``items`` stands for the table the entries point into."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._entries: dict[str, dict[tuple[str, str], str]] = {}

    def add(self, key: dict[str, str], kind: str, due: date) -> None:
        """What a store's transaction writes: the entry (the item is put in ``items`` by the test)."""
        self._entries.setdefault(due.isoformat(), {})[(key["pk"], key["sk"])] = kind

    def due(self, day: date) -> list[tuple[dict[str, str], str]]:
        self.faults.enter("due")
        entries = self._entries.get(day.isoformat(), {})
        return [({"pk": pk, "sk": sk}, kind) for (pk, sk), kind in sorted(entries.items())]

    def delete(self, day: date, entries: list[tuple[dict[str, str], str]]) -> None:
        self.faults.enter("delete")
        for key, _ in entries:
            self.items.pop((key["pk"], key["sk"]), None)
            self._entries.get(day.isoformat(), {}).pop((key["pk"], key["sk"]), None)
