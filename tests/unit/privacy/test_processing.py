"""The request worker's erasure over in-memory parts (decision 0083): its steps in order, each recorded once, and the
partition deleted only once no verifier can still accept the user's tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firstmile.privacy.processing import RequestProcessor
from firstmile.privacy.requests import ErasureStep, PrivacyRequest, RequestState, RequestType, deadline_for
from firstmile.privacy.user_data import ArchivedEvents
from tests.fakes.audit import FakeAuditLog
from tests.fakes.privacy import FakeObjects, FakeRequestStore, FakeUserPartition

TENANT, USER = "t-acme", "u-1"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class World:
    """The parts the processor acts on, recording what it did and when."""

    def __init__(self) -> None:
        self.now = T0
        self.done: list[str] = []
        self.slept: list[float] = []
        self.audit = FakeAuditLog()
        self.requests = FakeRequestStore(audit=self.audit)
        self.partition = FakeUserPartition()
        self.partition.add(TENANT, USER, "ONBOARDING#PROGRESS", {"kind": "onboarding_progress"})

    # Sessions, session items and flags, as the processor's protocols name them.
    def revoke_user_sessions(
        self, tenant: str, user: str, *, actor: str, correlation_id: str = "", reason: str = "revoked"
    ) -> list[str]:
        self.done.append("sessions revoked")
        self.now += timedelta(seconds=1)  # the steps take time
        return []

    def delete_user_sessions(self, tenant: str, user: str) -> int:
        self.done.append(f"sessions deleted at +{(self.now - T0).total_seconds():.0f}s")
        return 0

    def naming(self, tenant: str, user: str) -> list[str]:
        return []

    def forget_user(self, tenant: str, user: str) -> list[str]:
        self.done.append("flags")
        return []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)

    def processor(self) -> RequestProcessor:
        return RequestProcessor(
            self.requests,
            partition=self.partition,
            audit=self.audit,
            sessions=self,
            session_items=self,
            flags=self,
            archive=ArchivedEvents(FakeObjects()),
            exports=FakeObjects(),
            clock=lambda: self.now,
            revocation_bound=timedelta(seconds=6),
            sleep=self.sleep,
        )


def approved_erasure(world: World) -> PrivacyRequest:
    request = PrivacyRequest(
        request_id="dsr_" + "0" * 24,
        tenant=TENANT,
        user=USER,
        type=RequestType.ERASURE,
        state=RequestState.APPROVED,
        source="user",
        created_at=T0,
        updated_at=T0,
        deadline_at=deadline_for(T0),
    )
    assert world.requests.save(request, event=_event())
    return request


def _event() -> object:
    from firstmile.audit.models import AuditEvent

    return AuditEvent(tenant=TENANT, actor="user:u-1", action="privacy.erasure.approved", target="dsr:x")


def test_the_steps_run_in_order_and_the_partition_waits_out_the_revocation_bound() -> None:
    world = World()
    request = approved_erasure(world)

    done = world.processor().process(TENANT, request.request_id)

    assert done is not None and done.state is RequestState.COMPLETE
    assert done.steps_done == [step.value for step in ErasureStep]
    # Revoked by +1 s: the survey, and so every step after it, waited the whole 6 s bound
    assert world.slept == [6.0]
    assert world.done == ["sessions revoked", "flags", "sessions deleted at +7s"]
    assert world.partition.items(TENANT, USER) == []
    assert done.receipt == {
        "archived_events": 0,
        "audit_entries": 1,  # the request, asked by the user
        "export_packages": 0,
        "flag_targeting": 0,
        "onboarding_progress": 1,
    }
    # A redelivery of the finished request does nothing
    assert world.processor().process(TENANT, request.request_id) == done
    assert world.done == ["sessions revoked", "flags", "sessions deleted at +7s"]


def test_a_redelivery_long_after_the_revocation_does_not_wait() -> None:
    world = World()
    request = approved_erasure(world)
    steps: list[str] = []

    def crash_after_audit(step: str) -> None:
        steps.append(step)
        if step == ErasureStep.AUDIT.value:
            raise RuntimeError("the worker died")

    crashing = world.processor()
    crashing._after_step = crash_after_audit  # noqa: SLF001 - the test's crash
    with pytest.raises(RuntimeError):
        crashing.process(TENANT, request.request_id)
    assert world.slept == [6.0]  # the crashed delivery had waited before its survey
    world.now += timedelta(minutes=5)

    done = world.processor().process(TENANT, request.request_id)

    assert done is not None and done.state is RequestState.COMPLETE
    assert world.slept == [6.0]
    assert steps[-1] == "audit" and world.done.count("sessions revoked") == 1
