"""The request worker's work (decision 0083): an export gathered into one package, or an erasure taken step by
step. Each message names a request; a redelivered message finds the request where the last delivery left it and
goes on from there, so a crash at any point ends in the same final state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from firstmile.audit.events import action_event
from firstmile.audit.ports import AuditLog
from firstmile.clock import Clock, utc_now
from firstmile.errors import VersionConflictError
from firstmile.observability import logger
from firstmile.privacy.ports import RequestStorePort, UserPartitionPort
from firstmile.privacy.requests import OPEN_STATES, ErasureStep, PrivacyRequest, RequestState, RequestType
from firstmile.privacy.user_data import ArchivedEvents, Objects, export_prefix

EXPORT_SCHEMA = "firstmile.export"
EXPORT_SCHEMA_VERSION = 1
SYSTEM_ACTOR = "system:privacy"
# Attributes of stored items that hold digests of secrets (a session's token hashes): never exported.
_SECRET_ATTRIBUTES = ("hash",)


class Sessions(Protocol):
    def revoke_user_sessions(
        self, tenant: str, user: str, *, actor: str, correlation_id: str = "", reason: str = "revoked"
    ) -> list[str]: ...


class SessionItems(Protocol):
    def delete_user_sessions(self, tenant: str, user: str) -> int: ...


class FlagTargets(Protocol):
    def naming(self, tenant: str, user: str) -> list[str]: ...

    def forget_user(self, tenant: str, user: str) -> list[str]: ...


class RequestProcessor:
    """Carries out approved requests."""

    def __init__(
        self,
        requests: RequestStorePort,
        *,
        partition: UserPartitionPort,
        audit: AuditLog,
        sessions: Sessions,
        session_items: SessionItems,
        flags: FlagTargets,
        archive: ArchivedEvents,
        exports: Objects,
        clock: Clock = utc_now,
        revocation_bound: timedelta = timedelta(seconds=6),
        sleep: Callable[[float], None] = time.sleep,
        after_step: Callable[[str], None] | None = None,
    ) -> None:
        self._requests = requests
        self._partition = partition
        self._audit = audit
        self._sessions = sessions
        self._session_items = session_items
        self._flags = flags
        self._archive = archive
        self._exports = exports
        self._clock = clock
        # How long after a revocation a verifier may still accept the user's access tokens (its revocation cache).
        self._revocation_bound = revocation_bound
        self._sleep = sleep
        # Called after each step's work, before the step is recorded as done: where tests inject a crash.
        self._after_step = after_step or (lambda step: None)

    def process(self, tenant: str, request_id: str) -> PrivacyRequest | None:
        """Carry out the request, from where an earlier delivery left it; the request as it ends."""
        request = self._requests.get(tenant, request_id)
        if request is None or request.state not in OPEN_STATES:
            return request  # finished: a redelivery changes nothing
        if request.state not in {RequestState.APPROVED, RequestState.IN_PROCESSING}:
            logger.warning("a privacy request not approved reached the worker", extra={"request_id": request_id})
            return request
        if request.state is RequestState.APPROVED:
            request = self._record(
                request, {"state": RequestState.IN_PROCESSING}, f"privacy.{request.type.value}.started"
            )
        if request.type is RequestType.EXPORT:
            return self._export(request)
        return self._erase(request)

    # --- export ---------------------------------------------------------------------------------------------------

    def package(self, tenant: str, user: str, request_id: str) -> dict[str, Any]:
        """Everything stored about the user, in the export schema (docs/privacy/export-schema.md)."""
        items: dict[str, list[dict[str, Any]]] = {}
        for item in self._partition.items(tenant, user):
            kind = str(item.pop("kind", "unknown"))
            items.setdefault(kind, []).append({k: v for k, v in item.items() if not k.endswith(_SECRET_ATTRIBUTES)})
        return {
            "schema": EXPORT_SCHEMA,
            "schema_version": EXPORT_SCHEMA_VERSION,
            "request_id": request_id,
            "tenant": tenant,
            "user": user,
            "generated_at": self._clock().isoformat(),
            "items": dict(sorted(items.items())),
            "audit_entries": [
                entry.model_dump(mode="json", exclude={"salts", "sealed"})
                for entry in self._audit.entries_naming(tenant, user)
            ],
            "flag_targeting": self._flags.naming(tenant, user),
            "archived_events": sorted(
                self._archive.read(tenant, user), key=lambda e: (str(e.get("at")), str(e.get("event_id")))
            ),
        }

    def _export(self, request: PrivacyRequest) -> PrivacyRequest:
        if self._requests.tombstoned([(request.tenant, request.user)]):
            # Erased meanwhile: no package of what is gone (or going).
            return self._record(
                request, {"state": RequestState.CANCELED, "reason": "the user was erased"}, "privacy.export.canceled"
            )
        body = self.package(request.tenant, request.user, request.request_id)
        key = f"{export_prefix(request.tenant, request.user)}{request.request_id}.json"
        self._exports.put(key, json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode())
        self._after_step("package")
        counts = {"items": sum(len(v) for v in body["items"].values())} | {
            name: len(body[name]) for name in ("audit_entries", "flag_targeting", "archived_events")
        }
        return self._record(
            request,
            {"state": RequestState.COMPLETE, "export_key": key, "receipt": counts},
            "privacy.export.completed",
        )

    # --- erasure --------------------------------------------------------------------------------------------------

    def _erase(self, request: PrivacyRequest) -> PrivacyRequest:
        tenant, user = request.tenant, request.user
        for step in ErasureStep:
            if step.value in request.steps_done:
                continue
            update: dict[str, Any] = {"steps_done": [*request.steps_done, step.value]}
            if step is ErasureStep.TOMBSTONE:
                self._requests.put_tombstone(tenant, user, request.request_id, self._clock())
            elif step is ErasureStep.SESSIONS:
                self._sessions.revoke_user_sessions(tenant, user, actor=SYSTEM_ACTOR, reason="erasure")
                update["revoked_at"] = self._clock()
            elif step is ErasureStep.SURVEY:
                # A token accepted just before the revocation reached every verifier could still write about the
                # user: every later step waits until no verifier accepts their tokens any more.
                self._wait_for_revocation(request)
                update["receipt"] = self._survey(tenant, user)
            elif step is ErasureStep.FLAGS:
                self._flags.forget_user(tenant, user)
            elif step is ErasureStep.EXPORTS:
                for key in list(self._exports.keys(export_prefix(tenant, user))):
                    self._exports.delete(key)
            elif step is ErasureStep.ARCHIVE:
                self._archive.erase(tenant, user)
            elif step is ErasureStep.AUDIT:
                self._audit.forget_person(tenant, user)
            elif step is ErasureStep.PARTITION:
                self._session_items.delete_user_sessions(tenant, user)
                self._partition.delete(tenant, user)
            else:
                update["state"] = RequestState.COMPLETE
            self._after_step(step.value)
            action = "privacy.erasure.completed" if step is ErasureStep.RECEIPT else "privacy.erasure.step_done"
            request = self._record(request, update, action, step=step.value)
        return request

    def _wait_for_revocation(self, request: PrivacyRequest) -> None:
        if request.revoked_at is None:
            return
        left = (request.revoked_at + self._revocation_bound - self._clock()).total_seconds()
        if left > 0:
            self._sleep(left)

    def _survey(self, tenant: str, user: str) -> dict[str, int]:
        """What the erasure is about to remove, per category: counts only, no personal data."""
        counts = dict(self._partition.kinds(tenant, user))
        counts["audit_entries"] = len(self._audit.entries_naming(tenant, user))
        counts["flag_targeting"] = len(self._flags.naming(tenant, user))
        counts["export_packages"] = sum(1 for _ in self._exports.keys(export_prefix(tenant, user)))
        counts["archived_events"] = len(self._archive.read(tenant, user))
        return dict(sorted(counts.items()))

    # --- shared ---------------------------------------------------------------------------------------------------

    def _record(self, request: PrivacyRequest, update: dict[str, Any], action: str, **details: str) -> PrivacyRequest:
        changed = request.advanced(self._clock(), **update)
        event = action_event(request.tenant, SYSTEM_ACTOR, action, f"dsr:{request.request_id}", **details)
        if not self._requests.save(changed, event=event):
            # Another delivery of the same message moved the request on: the redelivery resumes from there.
            raise VersionConflictError(None, None)
        return changed
