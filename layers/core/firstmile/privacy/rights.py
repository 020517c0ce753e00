"""The data subject requests as users and admins make them (decision 0083): an export, an erasure proven by a
one-time code, an admin acting on a request received elsewhere (with a second admin's approval when the tenant asks
for it), and the tenant's list of requests with their deadlines. The work itself is the request worker's
(``firstmile.privacy.processing``): a request here is stored, audited and queued.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from firstmile import errors as e
from firstmile.audit.events import action_event
from firstmile.audit.logic import format_time
from firstmile.clock import Clock, utc_now
from firstmile.errors import DomainError, VersionConflictError
from firstmile.platform.versioned import ConflictRetry
from firstmile.privacy.notifier import Notifier
from firstmile.privacy.ports import RequestStorePort
from firstmile.privacy.requests import (
    EXPORT_LINK_SECONDS,
    MAX_CODE_ATTEMPTS,
    OPEN_STATES,
    AdminRequest,
    CodeCheck,
    PrivacyRequest,
    PrivacyRequestPage,
    PrivacyRequestView,
    PrivacySettings,
    RequestState,
    RequestType,
    code_digest,
    code_expiry,
    code_matches,
    deadline_for,
    new_code,
    new_request_id,
    view_of,
)
from firstmile.privacy.user_data import Objects

RESTORE_SOURCE = "system:restore"
"""Who erases again the users whose data a restore from backup brought back."""
ABANDONED_AFTER = timedelta(days=1)
"""An erasure whose code expired this long ago unused is closed by the daily job (it is not the tenant's to answer)."""


Enqueue = Callable[[str, str], None]
"""Hands a request (tenant, request id) to the request worker's queue."""


class DataRights:
    """The use cases of data subject requests."""

    def __init__(
        self,
        store: RequestStorePort,
        *,
        notifier: Notifier,
        enqueue: Enqueue,
        exports: Objects,
        clock: Clock = utc_now,
        retry: ConflictRetry | None = None,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._enqueue = enqueue
        self._exports = exports
        self._clock = clock
        self._retry = retry or ConflictRetry()

    # --- the user's own requests --------------------------------------------------------------------------------

    def request_export(self, tenant: str, user: str) -> PrivacyRequestView:
        """An export of everything stored about the caller; their token proves who they are, so it is approved at
        once and queued."""
        request = self._new(tenant, user, RequestType.EXPORT, RequestState.APPROVED, source="user")
        self._save(request, f"user:{user}", "privacy.export.requested")
        self._enqueue(tenant, request.request_id)
        return view_of(request, self._clock())

    def request_erasure(self, tenant: str, user: str, address: str | None) -> PrivacyRequestView:
        """An erasure waiting for its code: six digits sent to the user, kept as a digest, valid ten minutes."""
        self._notifier.check_address(address)
        request = self._new(tenant, user, RequestType.ERASURE, RequestState.IDENTITY_UNVERIFIED, source="user")
        code = new_code()
        expires = code_expiry(request.created_at)
        request = request.model_copy(
            update={"code_digest": code_digest(request.request_id, code), "code_expires_at": expires}
        )
        self._save(request, f"user:{user}", "privacy.erasure.requested")
        try:
            self._notifier.send_code(tenant, user, address, request.request_id, code, expires)
        except Exception:
            # Not delivered: the request is closed, so it is never counted as open or overdue.
            failed = self._next(request, state=RequestState.CANCELED, reason="code not delivered", code_digest=None)
            self._save(failed, "system:privacy", "privacy.erasure.canceled")
            raise
        return view_of(request, self._clock())

    def cancel_unverified(self, tenant: str, request_id: str) -> bool:
        """Close an erasure whose code expired unused a day ago or more (the daily job): whether it was closed."""
        request = self._store.get(tenant, request_id)
        now = self._clock()
        if (
            request is None
            or request.state is not RequestState.IDENTITY_UNVERIFIED
            or request.code_expires_at is None
            or now - request.code_expires_at < ABANDONED_AFTER
        ):
            return False
        abandoned = self._next(request, state=RequestState.CANCELED, reason="code never entered", code_digest=None)
        self._save(abandoned, "system:privacy", "privacy.erasure.canceled")
        return True

    def verify(self, tenant: str, user: str, check: CodeCheck) -> PrivacyRequestView:
        """Check a code: a right one verifies the request (and queues it when the tenant erases on
        verification); a wrong one counts an attempt, and the fifth wrong one denies the request. An expired code is
        refused without counting."""
        wrong: list[PrivacyRequest] = []

        def attempt() -> PrivacyRequest:
            wrong.clear()
            request = self._own(tenant, user, check.request_id)
            now = self._clock()
            if request.type is not RequestType.ERASURE or request.state is not RequestState.IDENTITY_UNVERIFIED:
                if request.state is RequestState.DENIED and request.attempts >= MAX_CODE_ATTEMPTS:
                    raise _exhausted()
                raise _state(request, "verified")
            if request.code_expires_at is None or now >= request.code_expires_at:
                raise DomainError(
                    e.RES_VERIFICATION_CODE_EXPIRED, "The code has expired (after 10 minutes); ask for a new one."
                )
            if not code_matches(request.request_id, check.code, request.code_digest or ""):
                attempts = request.attempts + 1
                update: dict[str, Any] = {"attempts": attempts}
                if attempts >= MAX_CODE_ATTEMPTS:
                    update |= {"state": RequestState.DENIED, "reason": "too many wrong codes", "code_digest": None}
                changed = self._next(request, **update)
                action = "privacy.erasure.denied" if attempts >= MAX_CODE_ATTEMPTS else "privacy.erasure.code_refused"
                self._save(changed, f"user:{user}", action)
                wrong.append(changed)
                return changed
            verified = self._next(request, state=RequestState.PENDING, code_digest=None, code_expires_at=None)
            self._save(verified, f"user:{user}", "privacy.erasure.verified")
            return verified

        request = self._retry(attempt)
        if wrong:
            left = MAX_CODE_ATTEMPTS - request.attempts
            if left <= 0:
                raise _exhausted()
            raise DomainError(
                e.PERM_VERIFICATION_CODE_INVALID,
                f"That is not the code sent for this request; {left} attempts left.",
                extensions={"attempts_left": left},
            )
        if self._store.settings(tenant).execute_erasure_on_verification:
            request = self._approve(request, f"user:{user}")
        return view_of(request, self._clock())

    def execute(self, tenant: str, user: str, request_id: str) -> PrivacyRequestView:
        """Run a verified erasure: it is queued, and the worker removes everything."""

        def attempt() -> PrivacyRequest:
            request = self._own(tenant, user, request_id)
            if request.source != "user":
                # An admin recorded it: it runs when admins approve it, never on the user's say.
                raise _state(request, "executed by the user")
            if request.type is not RequestType.ERASURE or request.state is not RequestState.PENDING:
                if request.state in {RequestState.APPROVED, RequestState.IN_PROCESSING, RequestState.COMPLETE}:
                    return request  # executed already: asking again changes nothing
                raise _state(request, "executed")
            return self._approve(request, f"user:{user}")

        return view_of(self._retry(attempt), self._clock())

    def status(self, tenant: str, user: str, request_id: str) -> PrivacyRequestView:
        """The caller's request; a completed export with a download link valid a few minutes."""
        request = self._own(tenant, user, request_id)
        link = None
        if request.type is RequestType.EXPORT and request.state is RequestState.COMPLETE and request.export_key:
            link = self._exports.link(request.export_key, EXPORT_LINK_SECONDS)
        return view_of(request, self._clock(), download_url=link)

    # --- admins -------------------------------------------------------------------------------------------------

    def record(self, tenant: str, admin: str, kind: RequestType, body: AdminRequest) -> PrivacyRequestView:
        """A request the tenant received elsewhere, for ``body.user_id``: queued at once, or waiting for a second
        admin when the tenant asks for one."""
        second = self._store.settings(tenant).second_admin_approval
        state = RequestState.PENDING if second else RequestState.APPROVED
        request = self._new(tenant, body.user_id, kind, state, source=f"admin:{admin}")
        request = request.model_copy(update={"approvals": [admin]})
        self._save(request, f"admin:{admin}", f"privacy.{kind.value}.recorded", note=body.note, user=body.user_id)
        if state is RequestState.APPROVED:
            self._enqueue(tenant, request.request_id)
        return view_of(request, self._clock())

    def erase_again(self, tenant: str, user: str) -> PrivacyRequestView:
        """A new erasure of a user erased before whose data is back (a restore from backup): approved and queued,
        audited as the system's."""
        request = self._new(tenant, user, RequestType.ERASURE, RequestState.APPROVED, source=RESTORE_SOURCE)
        self._save(request, RESTORE_SOURCE, "privacy.erasure.reapplied", user=user)
        self._enqueue(tenant, request.request_id)
        return view_of(request, self._clock())

    def approve(self, tenant: str, admin: str, request_id: str) -> PrivacyRequestView:
        """An admin approves a pending request; a request an admin recorded needs another admin."""

        def attempt() -> PrivacyRequest:
            request = self._found(tenant, request_id)
            if request.state is not RequestState.PENDING:
                raise _state(request, "approved")
            if request.source == f"admin:{admin}" or admin in request.approvals:
                raise DomainError(e.PERM_FORBIDDEN, "Another admin must approve a request you recorded.")
            return self._approve(
                request.model_copy(update={"approvals": [*request.approvals, admin]}), f"admin:{admin}"
            )

        return view_of(self._retry(attempt), self._clock())

    def deny(self, tenant: str, admin: str, request_id: str, reason: str) -> PrivacyRequestView:
        """An admin refuses an open request that has not started (Article 12(4): the reason is kept)."""

        def attempt() -> PrivacyRequest:
            request = self._found(tenant, request_id)
            if request.state not in {RequestState.IDENTITY_UNVERIFIED, RequestState.PENDING, RequestState.APPROVED}:
                raise _state(request, "denied")
            denied = self._next(request, state=RequestState.DENIED, reason=reason or "denied", code_digest=None)
            self._save(denied, f"admin:{admin}", "privacy.request.denied", reason=reason)
            return denied

        return view_of(self._retry(attempt), self._clock())

    def get(self, tenant: str, request_id: str) -> PrivacyRequestView:
        return view_of(self._found(tenant, request_id), self._clock())

    def list(
        self, tenant: str, *, state: RequestState | None, overdue: bool, limit: int, cursor: str | None
    ) -> PrivacyRequestPage:
        """The tenant's requests newest first (all, or in one state), or the open ones past their deadline; with
        counts of the open requests per state and overdue, for a console to draw without another call."""
        now = self._clock()
        open_entries = self._store.open_entries(tenant)
        stamp = format_time(now)
        late = [entry for entry in open_entries if entry["deadline"] < stamp]
        counts = {s.value: 0 for s in OPEN_STATES}
        for entry in open_entries:
            counts[entry["state"]] = counts.get(entry["state"], 0) + 1
        counts["overdue"] = len(late)
        if overdue:
            requests = self._store.many(tenant, [entry["request_id"] for entry in late][:limit])
            if state is not None:
                requests = [r for r in requests if r.state is state]
            next_cursor = None
        else:
            requests, next_cursor = self._store.page(tenant, state=state, limit=limit, cursor=cursor)
        return PrivacyRequestPage(
            items=[view_of(r, now) for r in requests], next_cursor=next_cursor, counts=dict(sorted(counts.items()))
        )

    def settings(self, tenant: str) -> PrivacySettings:
        return self._store.settings(tenant)

    def set_settings(self, tenant: str, admin: str, settings: PrivacySettings) -> PrivacySettings:
        event = action_event(
            tenant,
            f"admin:{admin}",
            "privacy.settings.changed",
            "privacy_settings",
            **{k: str(v).lower() for k, v in settings.model_dump().items()},
        )
        self._store.set_settings(tenant, settings, event=event)
        return settings

    # --- shared -------------------------------------------------------------------------------------------------

    def _new(self, tenant: str, user: str, kind: RequestType, state: RequestState, *, source: str) -> PrivacyRequest:
        now = self._clock()
        return PrivacyRequest(
            request_id=new_request_id(now),
            tenant=tenant,
            user=user,
            type=kind,
            state=state,
            source=source,
            created_at=now,
            updated_at=now,
            deadline_at=deadline_for(now),
        )

    def _next(self, request: PrivacyRequest, **update: Any) -> PrivacyRequest:
        return request.advanced(self._clock(), **update)

    def _save(self, request: PrivacyRequest, actor: str, action: str, **details: str) -> None:
        event = action_event(request.tenant, actor, action, f"dsr:{request.request_id}", **details)
        if not self._store.save(request, event=event):
            raise VersionConflictError(None, None)

    def _approve(self, request: PrivacyRequest, actor: str) -> PrivacyRequest:
        approved = self._next(request, state=RequestState.APPROVED)
        self._save(approved, actor, f"privacy.{request.type.value}.approved")
        self._enqueue(request.tenant, request.request_id)
        return approved

    def _found(self, tenant: str, request_id: str) -> PrivacyRequest:
        request = self._store.get(tenant, request_id)
        if request is None:
            raise DomainError(e.RES_PRIVACY_REQUEST_NOT_FOUND, f"No privacy request {request_id} in this tenant.")
        return request

    def _own(self, tenant: str, user: str, request_id: str) -> PrivacyRequest:
        """The caller's own request; another user's reads as missing."""
        request = self._found(tenant, request_id)
        if request.user != user:
            raise DomainError(e.RES_PRIVACY_REQUEST_NOT_FOUND, f"You have no privacy request {request_id}.")
        return request


def _state(request: PrivacyRequest, wanted: str) -> DomainError:
    return DomainError(
        e.BIZ_PRIVACY_REQUEST_STATE,
        f"The request is {request.state.value}; it cannot be {wanted} now.",
        extensions={"state": request.state.value},
    )


def _exhausted() -> DomainError:
    return DomainError(
        e.BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED,
        f"{MAX_CODE_ATTEMPTS} wrong codes were entered for this request; it is closed. Ask for a new one.",
    )
