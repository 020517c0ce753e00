"""Data subject requests as users and admins make them (decision 0083), over the in-memory request store: one-time
codes that expire and run out, execution, a second admin's approval, the tenant's list and the deadline job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstmile import errors as e
from firstmile.errors import DomainError
from firstmile.privacy.deadlines import PrivacyDeadlines
from firstmile.privacy.requests import (
    AdminRequest,
    CodeCheck,
    PrivacySettings,
    RequestState,
    RequestType,
)
from firstmile.privacy.rights import DataRights
from tests.fakes.audit import FakeAuditLog
from tests.fakes.privacy import FakeObjects, FakeRequestStore

TENANT, USER = "t-acme", "u-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Codes:
    """A notifier that keeps what it sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None, str]] = []
        self.failing = False

    def check_address(self, address: str | None) -> None:
        if address == "":
            raise DomainError(e.VAL_CONTACT_ADDRESS_MISSING, "no address")

    def send_code(
        self, tenant: str, user: str, address: str | None, request_id: str, code: str, expires_at: datetime
    ) -> None:
        if self.failing:
            raise e.DependencyUnavailableError("email", "refused")
        self.sent.append((user, request_id, address, code))

    def last(self) -> str:
        return self.sent[-1][3]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeRequestStore:
    return FakeRequestStore(audit=FakeAuditLog())


@pytest.fixture
def queued() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def codes() -> Codes:
    return Codes()


@pytest.fixture
def rights(store: FakeRequestStore, codes: Codes, queued: list[tuple[str, str]], clock: Clock) -> DataRights:
    return DataRights(
        store, notifier=codes, enqueue=lambda t, r: queued.append((t, r)), exports=FakeObjects(), clock=clock
    )


def refused(code: str, call: object) -> DomainError:
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


def test_a_code_is_sent_stored_as_a_digest_and_checked_with_attempts_and_expiry(
    rights: DataRights, store: FakeRequestStore, codes: Codes, queued: list[tuple[str, str]], clock: Clock
) -> None:
    # Given an erasure request, its code sent to the address the session carries
    asked = rights.request_erasure(TENANT, USER, "u1@example.com")
    assert asked.state is RequestState.IDENTITY_UNVERIFIED and asked.attempts_left == 5
    assert codes.sent[-1][:3] == (USER, asked.request_id, "u1@example.com")
    stored = store.get(TENANT, asked.request_id)
    assert stored is not None and stored.code_digest and codes.last() not in stored.model_dump_json()
    code = codes.last()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    # A wrong code counts an attempt and says how many are left
    problem = refused(e.PERM_VERIFICATION_CODE_INVALID, lambda: rights.verify(TENANT, USER, check(asked, wrong)))
    assert problem.extensions == {"attempts_left": 4}
    # Another user cannot use the request at all
    refused(e.RES_PRIVACY_REQUEST_NOT_FOUND, lambda: rights.verify(TENANT, "u-2", check(asked, code)))
    # Past ten minutes even the right code is refused, without counting
    clock.now += timedelta(minutes=10)
    refused(e.RES_VERIFICATION_CODE_EXPIRED, lambda: rights.verify(TENANT, USER, check(asked, code)))
    assert rights.status(TENANT, USER, asked.request_id).attempts_left == 4

    # A new request: four more wrong codes close it, and a sixth attempt is refused even with the right code
    again = rights.request_erasure(TENANT, USER, None)
    code = codes.last()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        problem = refused(e.PERM_VERIFICATION_CODE_INVALID, lambda: rights.verify(TENANT, USER, check(again, wrong)))
        assert problem.extensions == {"attempts_left": left}
    refused(e.BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED, lambda: rights.verify(TENANT, USER, check(again, wrong)))
    refused(e.BIZ_VERIFICATION_ATTEMPTS_EXHAUSTED, lambda: rights.verify(TENANT, USER, check(again, code)))
    closed = rights.status(TENANT, USER, again.request_id)
    assert (closed.state, closed.attempts_left, closed.reason) == (RequestState.DENIED, 0, "too many wrong codes")

    # A third request with the right code is verified, waits for execution, then runs once however often asked
    third = rights.request_erasure(TENANT, USER, None)
    verified = rights.verify(TENANT, USER, check(third, codes.last()))
    assert verified.state is RequestState.PENDING and queued == []
    refused(e.BIZ_PRIVACY_REQUEST_STATE, lambda: rights.verify(TENANT, USER, check(third, codes.last())))
    assert rights.execute(TENANT, USER, third.request_id).state is RequestState.APPROVED
    assert rights.execute(TENANT, USER, third.request_id).state is RequestState.APPROVED
    assert queued == [(TENANT, third.request_id)]
    refused(e.BIZ_PRIVACY_REQUEST_STATE, lambda: rights.execute(TENANT, USER, again.request_id))

    # Every step is in the audit log, under the request
    actions = store.audit.actions(TENANT)
    assert actions.count("privacy.erasure.requested") == 3 and actions.count("privacy.erasure.code_refused") == 5
    assert {"privacy.erasure.denied", "privacy.erasure.verified", "privacy.erasure.approved"} <= set(actions)


def check(view: object, code: str) -> CodeCheck:
    return CodeCheck(request_id=view.request_id, code=code)  # type: ignore[attr-defined]


def test_a_tenant_may_erase_on_verification(
    rights: DataRights, store: FakeRequestStore, codes: Codes, queued: list[tuple[str, str]]
) -> None:
    rights.set_settings(TENANT, "a-1", PrivacySettings(execute_erasure_on_verification=True))
    asked = rights.request_erasure(TENANT, USER, None)

    assert rights.verify(TENANT, USER, check(asked, codes.last())).state is RequestState.APPROVED
    assert queued == [(TENANT, asked.request_id)]
    assert "privacy.settings.changed" in store.audit.actions(TENANT)


def test_a_request_an_admin_records_waits_for_another_admin_when_the_tenant_asks(
    rights: DataRights, queued: list[tuple[str, str]]
) -> None:
    # Without the setting, an admin's request is queued at once
    first = rights.record(TENANT, "a-1", RequestType.EXPORT, AdminRequest(user_id=USER, note="ticket 1"))
    assert first.state is RequestState.APPROVED and queued == [(TENANT, first.request_id)]

    # With it, the request waits; its recorder cannot approve it, another admin can
    rights.set_settings(TENANT, "a-1", PrivacySettings(second_admin_approval=True))
    second = rights.record(TENANT, "a-1", RequestType.ERASURE, AdminRequest(user_id=USER, note="letter"))
    assert second.state is RequestState.PENDING and second.approvals == ["a-1"]
    refused(e.PERM_FORBIDDEN, lambda: rights.approve(TENANT, "a-1", second.request_id))
    approved = rights.approve(TENANT, "a-2", second.request_id)
    assert (approved.state, approved.approvals) == (RequestState.APPROVED, ["a-1", "a-2"])
    assert queued[-1] == (TENANT, second.request_id)
    # A queued request not started yet can still be denied, once
    assert rights.deny(TENANT, "a-2", first.request_id, "duplicate").state is RequestState.DENIED
    refused(e.BIZ_PRIVACY_REQUEST_STATE, lambda: rights.deny(TENANT, "a-2", first.request_id, "again"))


def test_the_list_counts_open_requests_and_finds_the_overdue_and_the_deadline_job_requeues_stuck_ones(
    rights: DataRights, store: FakeRequestStore, clock: Clock, queued: list[tuple[str, str]]
) -> None:
    # Given an export asked 31 days ago (its message lost), and an erasure waiting for its code today
    old = rights.request_export(TENANT, USER)
    clock.now += timedelta(days=31)
    fresh = rights.request_erasure(TENANT, "u-2", None)
    queued.clear()

    # The tenant's list counts both as open, one overdue, and lists the overdue one alone on request
    page = rights.list(TENANT, state=None, overdue=False, limit=10, cursor=None)
    assert [r.request_id for r in page.items] == [fresh.request_id, old.request_id]
    assert page.counts["approved"] == 1 and page.counts["identity_unverified"] == 1 and page.counts["overdue"] == 1
    overdue = rights.list(TENANT, state=None, overdue=True, limit=10, cursor=None)
    assert [(r.request_id, r.overdue) for r in overdue.items] == [(old.request_id, True)]
    by_state = rights.list(TENANT, state=RequestState.IDENTITY_UNVERIFIED, overdue=False, limit=10, cursor=None)
    assert [r.request_id for r in by_state.items] == [fresh.request_id]

    # The daily job counts them and queues the approved one again (it waited more than an hour)
    job = PrivacyDeadlines(
        store, enqueue=lambda t, r: queued.append((t, r)), cancel_unverified=rights.cancel_unverified, clock=clock
    )
    assert job.check() == {"open": 2, "due_soon": 0, "overdue": 1, "requeued": 1, "canceled": 0}
    assert queued == [(TENANT, old.request_id)]

    # A denied request leaves the open ones
    rights.deny(TENANT, "a-1", fresh.request_id, "not our user")
    assert rights.list(TENANT, state=None, overdue=False, limit=10, cursor=None).counts["identity_unverified"] == 0


def test_an_erasure_whose_code_cannot_be_sent_or_is_never_entered_is_closed(
    rights: DataRights, store: FakeRequestStore, codes: Codes, clock: Clock
) -> None:
    # No address: refused before anything is stored
    refused(e.VAL_CONTACT_ADDRESS_MISSING, lambda: rights.request_erasure(TENANT, USER, ""))
    assert rights.list(TENANT, state=None, overdue=False, limit=10, cursor=None).items == []

    # The sender fails: the request is stored, then closed
    codes.failing = True
    with pytest.raises(e.DependencyUnavailableError):
        rights.request_erasure(TENANT, USER, None)
    (failed,) = rights.list(TENANT, state=None, overdue=False, limit=10, cursor=None).items
    assert (failed.state, failed.reason) == (RequestState.CANCELED, "code not delivered")

    # A code never entered: the daily job closes the request a day after the code expired, not before
    codes.failing = False
    unused = rights.request_erasure(TENANT, USER, None)
    job = PrivacyDeadlines(store, enqueue=lambda t, r: None, cancel_unverified=rights.cancel_unverified, clock=clock)
    clock.now += timedelta(hours=2)
    assert job.check()["canceled"] == 0
    clock.now += timedelta(days=1)
    assert job.check() == {"open": 0, "due_soon": 0, "overdue": 0, "requeued": 0, "canceled": 1}
    closed = rights.status(TENANT, USER, unused.request_id)
    assert (closed.state, closed.reason) == (RequestState.CANCELED, "code never entered")
