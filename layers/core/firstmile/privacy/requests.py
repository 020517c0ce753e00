"""Data subject requests (issue 13, items 3-5; decision 0083): what a request is, the states it moves through, and
the one-time codes that prove an erasure is wanted by the user it concerns.

The lifecycle follows Fides: ``identity_unverified`` (an erasure waiting for its code) -> ``pending`` (verified,
waiting to be executed or approved) -> ``approved`` (queued) -> ``in_processing`` (the worker has started) ->
``complete``; or ``denied`` (too many wrong codes, or an admin's refusal), ``canceled``, ``error``. An export asked
by the signed-in user is verified by their token and starts ``approved``. Every request has the 30-day deadline of
Article 12(3) GDPR.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from firstmile.identity.models import UserId
from firstmile.model import Model

DEADLINE = timedelta(days=30)
"""Article 12(3): a request is answered within a month of its receipt."""
CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
EXPORT_LINK_SECONDS = 300
"""How long a presigned download link of an export works."""
REQUEST_ID_PATTERN = r"^dsr_[0-9a-f]{24}$"


class RequestType(StrEnum):
    EXPORT = "export"
    ERASURE = "erasure"


class RequestState(StrEnum):
    IDENTITY_UNVERIFIED = "identity_unverified"
    PENDING = "pending"
    APPROVED = "approved"
    IN_PROCESSING = "in_processing"
    COMPLETE = "complete"
    DENIED = "denied"
    CANCELED = "canceled"
    ERROR = "error"


OPEN_STATES = frozenset(
    {
        RequestState.IDENTITY_UNVERIFIED,
        RequestState.PENDING,
        RequestState.APPROVED,
        RequestState.IN_PROCESSING,
    }
)
"""The states a request is still being handled in: the deadline counts for these."""


class ErasureStep(StrEnum):
    """The erasure worker's steps, in the order it takes them; each is done once and recorded on the request, so a
    redelivered message resumes after the last one done."""

    TOMBSTONE = "tombstone"  # late events of the user are dropped from now on
    SESSIONS = "sessions"  # every session and access token revoked
    SURVEY = "survey"  # what is about to go, counted per category: the receipt
    FLAGS = "flags"  # the user's id taken out of flags, segments and flag versions
    EXPORTS = "exports"  # their export packages deleted
    ARCHIVE = "archive"  # their events taken out of the analytics archive
    AUDIT = "audit"  # the audit entries naming them erased (decision 0083)
    PARTITION = "partition"  # every item under the user deleted
    RECEIPT = "receipt"  # the receipt written, the request complete


def new_request_id(now: datetime) -> str:
    """``dsr_`` and 24 hex digits: the creation time in milliseconds, then randomness, so ids sort by creation."""
    return f"dsr_{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}"


def new_code() -> str:
    """A six-digit one-time code."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(request_id: str, code: str) -> str:
    """What is stored of a code: SHA-256 over the request id and the code (the id salts it)."""
    return hashlib.sha256(f"{request_id}:{code}".encode()).hexdigest()


def code_matches(request_id: str, code: str, digest: str) -> bool:
    return hmac.compare_digest(code_digest(request_id, code), digest)


class PrivacyRequest(Model):
    """A request as stored."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    tenant: str
    user: str
    type: RequestType
    state: RequestState
    source: str = Field(description="`user` (asked through the API) or `admin:<id>` (received elsewhere)")
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    approvals: list[str] = Field(default_factory=list)
    code_digest: str | None = None
    code_expires_at: datetime | None = None
    attempts: int = 0
    steps_done: list[str] = Field(default_factory=list)
    # When an erasure revoked the user's sessions: its partition step waits until every verifier has seen that.
    revoked_at: datetime | None = None
    receipt: dict[str, int] | None = None
    export_key: str | None = None
    reason: str | None = None
    version: int = 1

    def advanced(self, now: datetime, **update: Any) -> PrivacyRequest:
        """The request's next version: ``update`` applied at ``now``."""
        return self.model_copy(update={**update, "updated_at": now, "version": self.version + 1})


class PrivacyRequestView(Model):
    """A request as its user or an admin sees it (the code's digest never leaves the table)."""

    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    type: RequestType
    state: RequestState
    user: str
    source: str
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime
    overdue: bool = Field(description="Still open past its 30-day deadline")
    approvals: list[str] = Field(default_factory=list)
    code_expires_at: datetime | None = None
    attempts_left: int | None = Field(default=None, description="Wrong codes still allowed (erasure only)")
    receipt: dict[str, int] | None = Field(
        default=None, description="What an erasure removed: counts per category, nothing about the user"
    )
    download_url: str | None = Field(
        default=None, description=f"A completed export's package, downloadable for {EXPORT_LINK_SECONDS} s"
    )
    reason: str | None = None


def view_of(request: PrivacyRequest, now: datetime, *, download_url: str | None = None) -> PrivacyRequestView:
    erasure = request.type is RequestType.ERASURE
    return PrivacyRequestView(
        request_id=request.request_id,
        type=request.type,
        state=request.state,
        user=request.user,
        source=request.source,
        created_at=request.created_at,
        updated_at=request.updated_at,
        deadline_at=request.deadline_at,
        overdue=request.state in OPEN_STATES and now > request.deadline_at,
        approvals=request.approvals,
        code_expires_at=request.code_expires_at if request.state is RequestState.IDENTITY_UNVERIFIED else None,
        attempts_left=max(0, MAX_CODE_ATTEMPTS - request.attempts) if erasure else None,
        receipt=request.receipt,
        download_url=download_url,
        reason=request.reason,
    )


class CodeCheck(Model):
    """``POST /v1/compliance/deletion/verify``."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID_PATTERN)
    code: str = Field(pattern=r"^[0-9]{6}$", description="The six digits sent to the user")


class RequestRef(Model):
    """``POST /v1/compliance/deletion/execute`` and the admins' approval."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID_PATTERN)


class AdminRequest(Model):
    """``POST /v1/admin/dsr/export`` and ``/delete``: a request the tenant received elsewhere (email, support)."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    note: str = Field(default="", max_length=500, description="Where the request came from; kept in the audit log")


class Denial(Model):
    """``POST /v1/admin/dsr/requests/{request_id}/deny``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why, as the user will be told (Article 12(4))")


class PrivacyRequestPage(Model):
    items: list[PrivacyRequestView]
    next_cursor: str | None = None
    counts: dict[str, int] = Field(
        default_factory=dict, description="How many of the listed requests are in each state, and `overdue`"
    )


def deadline_for(created_at: datetime) -> datetime:
    return created_at + DEADLINE


def code_expiry(now: datetime) -> datetime:
    return now + CODE_LIFETIME


class PrivacySettings(Model):
    """A tenant's choices about data subject requests (``/v1/admin/compliance/settings``)."""

    model_config = ConfigDict(extra="forbid")

    execute_erasure_on_verification: bool = Field(
        default=False,
        description="Erase as soon as the user enters the right code, without a separate execute call",
    )
    second_admin_approval: bool = Field(
        default=False,
        description="A request an admin records for a user waits for another admin's approval before it runs",
    )
