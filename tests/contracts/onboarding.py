"""The contract of ``OnboardingStorePort``: round trips, paging, conditional writes, events, migration counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar

import pytest

from firstmile.audit.models import AuditEvent
from firstmile.audit.ports import AuditLog
from firstmile.errors import NotFoundError, VersionConflictError
from firstmile.onboarding.models import (
    CompletionCriteria,
    DefaultFlow,
    EventType,
    FlowDefinition,
    FlowDraft,
    FlowVersion,
    Migration,
    MigrationStatus,
    Milestone,
    OnboardingSettings,
    OnboardingState,
    Progress,
    RenameStep,
    StepDefinition,
    StepKind,
    StepProgress,
    StepState,
    Transition,
    TransitionEvent,
    UsersOnVersion,
)
from firstmile.onboarding.ports import OnboardingStorePort
from firstmile.onboarding.store import (
    IDLE_SHARDS,
    MAX_EVENTS_PER_TRANSITION,
    DraftConflictError,
    FlowExistsError,
    ProgressConflictError,
)
from tests.contracts.paging import assert_cursor_refused, every_page
from tests.factories import NOW

T0 = datetime.fromtimestamp(NOW, UTC)
TENANT = "t-acme"
MIGRATION_ID = "mig_" + "A" * 22
WELCOME_1 = UsersOnVersion(TENANT, "welcome", 1)
WELCOME_2 = UsersOnVersion(TENANT, "welcome", 2)
T = TypeVar("T")


# --- test data --------------------------------------------------------------------------------------------


def definition(name: str = "Getting started", steps: int = 3) -> FlowDefinition:
    return FlowDefinition(
        name=name,
        steps=[
            StepDefinition(
                id=f"step-{n}",
                title=f"Step {n}",
                order=n * 10,
                required=n != 1,
                kind=StepKind.MILESTONE if n == 2 else StepKind.TASK,
                completion_criteria=CompletionCriteria(milestone=Milestone.FIRST_RUN) if n == 2 else None,
                hint="Click here" if n == 0 else None,
            )
            for n in range(steps)
        ],
        sample_workflow={"name": "demo", "threshold": 0.75, "nodes": [{"id": 1, "weights": [1.5, 2]}]},
        sample_agent={"model": "small", "temperature": 0.2},
    )


def draft(flow_id: str = "welcome", *, name: str = "Getting started") -> FlowDraft:
    return FlowDraft(
        flow_id=flow_id,
        definition=definition(name),
        version=0,
        created_at=T0,
        updated_at=T0,
        updated_by="admin:u-1",
    )


def flow_version(flow_id: str = "welcome", version: int = 1, *, steps: int = 3) -> FlowVersion:
    return FlowVersion(
        flow_id=flow_id,
        version=version,
        definition=definition(f"{flow_id} v{version}", steps),
        published_at=T0 + timedelta(minutes=version),
        published_by="admin:u-1",
    )


def progress(
    user: str = "u-alice",
    *,
    version: int = 1,
    flow_version: int = 1,
    tenant: str = TENANT,
    expires_at: int | None = None,
) -> Progress:
    return Progress(
        tenant=tenant,
        user=user,
        flow_id="welcome",
        flow_version=flow_version,
        version=version,
        steps={"step-0": StepProgress(state=StepState.COMPLETED, started_at=T0, completed_at=T0 + timedelta(seconds=5))}
        if version > 1
        else {},
        milestones={Milestone.SAMPLE_WORKFLOW: T0} if version > 1 else {},
        enrolled_at=T0,
        updated_at=T0 + timedelta(seconds=version),
        sample=expires_at is not None,
        expires_at=expires_at,
    )


def event(of: Progress, kind: EventType, *, at: datetime | None = None, step_id: str | None = None) -> TransitionEvent:
    return TransitionEvent(
        tenant=of.tenant,
        user=of.user,
        type=kind,
        at=at or of.updated_at,
        flow_id=of.flow_id,
        flow_version=of.flow_version,
        step_id=step_id,
        progress_version=of.version,
        sample=of.sample,
        details={"by": "user", "score": 0.5},
    )


def enrolment(user: str = "u-alice", **kwargs: Any) -> Transition:
    first = progress(user, **kwargs)
    return Transition(progress=first, events=[event(first, EventType.ENROLLED)])


def migration(**changes: Any) -> Migration:
    return Migration(
        migration_id=MIGRATION_ID,
        flow_id="welcome",
        from_version=1,
        to_version=2,
        step_map=[RenameStep(from_step="step-0", to_step="intro")],
        status=MigrationStatus.RUNNING,
        created_at=T0,
        created_by="admin:u-1",
        **changes,
    )


def audited(tenant: str, target: str = "onboarding-store-test") -> AuditEvent:
    """The audit entry an admin change made in these tests is written with."""
    return AuditEvent(tenant=tenant, actor="admin:u-1", action="onboarding.changed", target=target)


def every_listed(
    listing: Callable[..., tuple[list[T], dict[str, Any] | None]],
    users: UsersOnVersion = WELCOME_1,
    *,
    limit: int = 2,
) -> list[T]:
    """All that ``listing`` (``list_progress_on_version`` or ``list_enrolments``) lists of ``users``, ``limit`` a page,
    each key to continue from holding strings only (it travels in queue messages as JSON)."""
    found: list[T] = []
    start_key: dict[str, Any] | None = None
    for _ in range(20):
        page, start_key = listing(users, limit=limit, start_key=start_key)
        found += page
        assert all(isinstance(v, str) for v in (start_key or {}).values())
        if start_key is None:
            return found
    raise AssertionError("the listing did not end")


class OnboardingStoreContract:
    """Subclasses provide ``store`` (keeping events 30 days) and the ``audit_log`` its audited changes append to."""

    implementation: ClassVar[type]

    def test_a_draft_round_trips_as_edit_version_1_and_its_id_is_taken_once(self, store: OnboardingStorePort) -> None:
        # Given a new draft
        created = store.create_draft(TENANT, draft(), event=audited(TENANT))

        # Then it is stored as edit version 1 and reads back equal, sample floats and all
        assert created.version == 1
        assert store.get_draft(TENANT, "welcome") == created
        assert store.get_draft(TENANT, "welcome").definition.sample_workflow["threshold"] == 0.75  # type: ignore[union-attr]
        assert store.get_draft("t-other", "welcome") is None
        # ...and a second flow with that id is refused
        with pytest.raises(FlowExistsError):
            store.create_draft(TENANT, draft(name="Another"), event=audited(TENANT))
        assert store.get_draft(TENANT, "welcome") == created

    def test_a_draft_is_replaced_only_from_the_version_stored(self, store: OnboardingStorePort) -> None:
        # Given a draft at edit version 1
        store.create_draft(TENANT, draft(), event=audited(TENANT))

        # When it is replaced from version 1, then again from the stale version 1
        edited = store.replace_draft(TENANT, draft(name="Edited"), expected_version=1, event=audited(TENANT))
        with pytest.raises(DraftConflictError) as stale:
            store.replace_draft(TENANT, draft(name="Lost"), expected_version=1, event=audited(TENANT))

        # Then the first wins as version 2 and the second carries the stored draft
        assert edited.version == 2
        assert stale.value.draft == edited
        assert stale.value.current_version == 2
        assert store.get_draft(TENANT, "welcome") == edited
        # ...and a draft that does not exist conflicts with nothing stored
        with pytest.raises(DraftConflictError) as missing:
            store.replace_draft(TENANT, draft("nope"), expected_version=1, event=audited(TENANT))
        assert missing.value.draft is None

    def test_drafts_are_listed_in_flow_id_order_page_by_page(self, store: OnboardingStorePort) -> None:
        # Given five flows of one tenant and one of another, next to versions and a default in the same partition
        for flow_id in ("epsilon", "alpha", "delta", "beta", "gamma"):
            store.create_draft(TENANT, draft(flow_id), event=audited(TENANT))
        store.create_draft("t-other", draft("zeta"), event=audited("t-other"))
        store.publish(TENANT, store.get_draft(TENANT, "alpha"), flow_version("alpha"), event=audited(TENANT))  # type: ignore[arg-type]
        store.set_default(TENANT, DefaultFlow(flow_id="alpha"), event=audited(TENANT))

        # When they are listed two at a time
        pages = every_page(partial(store.list_drafts, TENANT, limit=2))

        # Then every draft comes once, in id order, and nothing else
        assert [d.flow_id for page in pages for d in page.items] == ["alpha", "beta", "delta", "epsilon", "gamma"]
        assert len(pages) == 3
        # ...and a cursor is refused by another tenant's list and by another kind of list
        assert_cursor_refused(partial(store.list_drafts, "t-other", limit=2), pages[0].next_cursor)
        assert_cursor_refused(partial(store.list_versions, TENANT, "alpha", limit=2), pages[0].next_cursor)

    def test_publishing_stores_the_version_and_advances_the_draft_in_one_step(self, store: OnboardingStorePort) -> None:
        # Given a draft at edit version 1
        first = store.create_draft(TENANT, draft(), event=audited(TENANT))

        # When version 1 is published from it
        published = store.publish(TENANT, first, flow_version(), event=audited(TENANT))

        # Then the version reads back and the draft names it, at a new edit version
        assert published.latest_published_version == 1
        assert published.version == 2
        assert store.get_draft(TENANT, "welcome") == published
        assert store.get_version(TENANT, "welcome", 1) == flow_version()
        assert store.get_version(TENANT, "welcome", 2) is None

    def test_a_publish_from_a_stale_draft_changes_nothing(self, store: OnboardingStorePort) -> None:
        # Given a draft that was edited after an admin read it
        read = store.create_draft(TENANT, draft(), event=audited(TENANT))
        edited = store.replace_draft(TENANT, draft(name="Edited"), expected_version=1, event=audited(TENANT))

        # When the admin publishes what they read
        with pytest.raises(DraftConflictError) as conflict:
            store.publish(TENANT, read, flow_version(), event=audited(TENANT))

        # Then the conflict carries the stored draft and no version was written
        assert conflict.value.draft == edited
        assert store.get_version(TENANT, "welcome", 1) is None
        # ...and a second "version 1" after a successful publish is refused too
        published = store.publish(TENANT, edited, flow_version(), event=audited(TENANT))
        with pytest.raises(DraftConflictError) as twice:
            store.publish(TENANT, published, flow_version(steps=5), event=audited(TENANT))
        assert twice.value.draft == published
        assert store.get_version(TENANT, "welcome", 1) == flow_version()

    def test_versions_are_listed_newest_first_as_summaries(self, store: OnboardingStorePort) -> None:
        # Given five published versions of one flow and one of a flow whose id extends it
        current = store.create_draft(TENANT, draft(), event=audited(TENANT))
        for n in range(1, 6):
            current = store.publish(TENANT, current, flow_version(version=n, steps=n), event=audited(TENANT))
        other = store.create_draft(TENANT, draft("welcome-2"), event=audited(TENANT))
        store.publish(TENANT, other, flow_version("welcome-2"), event=audited(TENANT))

        # When they are listed two at a time
        pages = every_page(partial(store.list_versions, TENANT, "welcome", limit=2))

        # Then the newest comes first, each once, summarised
        summaries = [s for page in pages for s in page.items]
        assert [s.version for s in summaries] == [5, 4, 3, 2, 1]
        assert summaries[0].name == "welcome v5"
        assert summaries[0].steps == 5
        assert summaries[0].published_at == T0 + timedelta(minutes=5)
        assert summaries[0].published_by == "admin:u-1"
        # ...and a cursor of one flow's versions is refused for another flow's and another tenant's
        assert_cursor_refused(partial(store.list_versions, TENANT, "welcome-2", limit=2), pages[0].next_cursor)
        assert_cursor_refused(partial(store.list_versions, "t-other", "welcome", limit=2), pages[0].next_cursor)

    def test_the_default_flow_round_trips_and_the_last_write_wins(self, store: OnboardingStorePort) -> None:
        assert store.get_default(TENANT) is None

        store.set_default(TENANT, DefaultFlow(flow_id="welcome"), event=audited(TENANT))
        latest = store.set_default(
            TENANT, DefaultFlow(flow_id="advanced", updated_at=T0, updated_by="admin:u-2"), event=audited(TENANT)
        )

        assert store.get_default(TENANT) == latest
        assert store.get_default("t-other") is None

    def test_later_transitions_append_events_listed_oldest_first(self, store: OnboardingStorePort) -> None:
        # Given an enrolled user
        store.write_transition(enrolment())

        # When two more transitions are written, the second recording two events at one moment
        second = progress(version=2)
        store.write_transition(
            Transition(progress=second, events=[event(second, EventType.STEP_STARTED, step_id="step-0")])
        )
        third = progress(version=3).model_copy(update={"state": OnboardingState.COMPLETED, "completed_at": T0})
        at = T0 + timedelta(minutes=5)
        store.write_transition(
            Transition(
                progress=third,
                events=[
                    event(third, EventType.STEP_COMPLETED, at=at, step_id="step-2"),
                    event(third, EventType.ONBOARDING_COMPLETED, at=at),
                ],
            )
        )

        # Then the progress is the latest and the events come in the order they happened
        assert store.get_progress(TENANT, "u-alice") == third
        assert [e.type for e in store.list_events(TENANT, "u-alice")] == [
            EventType.ENROLLED,
            EventType.STEP_STARTED,
            EventType.STEP_COMPLETED,
            EventType.ONBOARDING_COMPLETED,
        ]
        assert [e.progress_version for e in store.list_events(TENANT, "u-alice")] == [1, 2, 3, 3]

    def test_users_in_onboarding_are_listed_by_the_day_of_their_last_change(self, store: OnboardingStorePort) -> None:
        # Given users whose last change was on T0's day: in onboarding, finished, a sample user, and a dropped one;
        # and one in onboarding whose last change was the day after
        day, later = T0.date(), T0 + timedelta(days=1)
        store.write_transition(enrolment("u-open"))
        finished = progress("u-done").model_copy(update={"state": OnboardingState.COMPLETED, "completed_at": T0})
        store.write_transition(Transition(progress=finished, events=[event(finished, EventType.ENROLLED)]))
        sample = progress("u-sample").model_copy(update={"sample": True})
        store.write_transition(Transition(progress=sample, events=[event(sample, EventType.ENROLLED)]))
        gone = progress("u-gone").model_copy(update={"dropped_at": T0, "dropped_step": "step-1"})
        store.write_transition(Transition(progress=gone, events=[event(gone, EventType.ENROLLED)]))
        moved = progress("u-later").model_copy(update={"updated_at": later})
        store.write_transition(Transition(progress=moved, events=[event(moved, EventType.ENROLLED)]))

        # When each shard of T0's day and of the next is read
        on_day = {pair for shard in range(IDLE_SHARDS) for pair in store.list_idle(day, shard)}
        next_day = {pair for shard in range(IDLE_SHARDS) for pair in store.list_idle(later.date(), shard)}

        # Then only the user still in onboarding is listed under T0's day, and the other under the next day
        assert on_day == {(TENANT, "u-open")}
        assert next_day == {(TENANT, "u-later")}
        assert store.list_idle(day - timedelta(days=1), 0) == []

    def test_onboarding_settings_default_until_set_and_are_per_tenant(self, store: OnboardingStorePort) -> None:
        assert store.get_settings(TENANT) == OnboardingSettings(idle_days=7)
        changed = AuditEvent(tenant=TENANT, actor="admin:u-1", action="onboarding.settings.changed", target="x")
        store.set_settings(TENANT, OnboardingSettings(idle_days=14), event=changed)
        assert store.get_settings(TENANT).idle_days == 14
        assert store.get_settings("t-other").idle_days == 7

    def test_an_enrolment_of_an_enrolled_user_conflicts_with_the_stored_progress(
        self, store: OnboardingStorePort
    ) -> None:
        # Given an enrolled user whose progress moved on to version 2
        store.write_transition(enrolment())
        second = progress(version=2)
        store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_COMPLETED)]))

        # When another request enrols them again
        with pytest.raises(ProgressConflictError) as conflict:
            store.write_transition(enrolment())

        # Then it carries the stored progress and wrote no event
        assert conflict.value.progress == second
        assert conflict.value.current_version == 2
        assert len(store.list_events(TENANT, "u-alice")) == 2

    def test_a_rectified_segment_is_kept_from_the_version_read_only(self, store: OnboardingStorePort) -> None:
        store.write_transition(enrolment())
        assert store.set_segment(TENANT, "u-alice", {"country": "FR", "returning": "false"}, 1)
        assert not store.set_segment(TENANT, "u-alice", {"country": "DE"}, 1)
        assert not store.set_segment(TENANT, "u-nobody", {"country": "DE"}, 1)
        stored = store.get_progress(TENANT, "u-alice")
        assert stored is not None and (stored.segment, stored.version) == ({"country": "FR", "returning": "false"}, 2)

    def test_a_write_on_a_progress_that_has_gone_conflicts_with_nothing(self, store: OnboardingStorePort) -> None:
        second = progress(version=2)

        with pytest.raises(ProgressConflictError) as conflict:
            store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_STARTED)]))

        assert conflict.value.progress is None
        assert store.list_events(TENANT, "u-alice") == []

    def test_users_on_a_version_are_listed_page_by_page_from_the_index(self, store: OnboardingStorePort) -> None:
        # Given five users on version 1, one moved on to version 2, and one on version 1 of another tenant
        users = [f"u-{n}" for n in range(6)]
        for user in users:
            store.write_transition(enrolment(user))
        moved = progress("u-5", version=2, flow_version=2)
        store.write_transition(Transition(progress=moved, events=[event(moved, EventType.MIGRATED)]))
        store.write_transition(enrolment("u-0", tenant="t-other"))

        # When the users on version 1 are listed two at a time
        found = every_listed(store.list_progress_on_version)

        # Then each of the five comes once, with its progress, and nobody else
        assert sorted(pr.user for pr in found) == users[:5]
        assert all(pr.tenant == TENANT and pr.flow_version == 1 for pr in found)
        assert [pr.user for pr in store.list_progress_on_version(WELCOME_2, limit=10, start_key=None)[0]] == ["u-5"]
        # ...and a start key of another list is refused
        _, key = store.list_progress_on_version(WELCOME_1, limit=1, start_key=None)
        with pytest.raises(ValueError, match="another list"):
            store.list_progress_on_version(WELCOME_2, limit=1, start_key=key)

    def test_every_step_state_and_time_reads_back_exactly(self, store: OnboardingStorePort) -> None:
        # Given a progress with a step in each state, times to the microsecond, some of them unset
        store.write_transition(enrolment())
        at = T0 + timedelta(days=3, microseconds=123_457)
        steps = {
            "connect-data-source": StepProgress(state=StepState.STARTED, started_at=at),
            "invite-teammates": StepProgress(
                state=StepState.COMPLETED, started_at=at, completed_at=at + timedelta(hours=2, microseconds=1)
            ),
            "step-2": StepProgress(state=StepState.COMPLETED, completed_at=at),
            "review-dashboard": StepProgress(state=StepState.SKIPPED, skipped_at=at + timedelta(minutes=1)),
            "step-4": StepProgress(state=StepState.STARTED, started_at=at, skipped_at=at + timedelta(seconds=9)),
            "step-5": StepProgress(),
        }
        written = progress(version=2).model_copy(update={"steps": steps})

        # When it is written and read back
        store.write_transition(Transition(progress=written, events=[event(written, EventType.STEP_SKIPPED)]))
        read = store.get_progress(TENANT, "u-alice")

        # Then every step, state and time is the same, and so is its JSON form (what the API answers from)
        assert read == written
        assert read is not None and read.model_dump(mode="json") == written.model_dump(mode="json")

    def test_enrolments_list_the_users_of_a_version_with_what_a_guard_reads(self, store: OnboardingStorePort) -> None:
        # Given three users on version 1: one completed, one a sample user
        store.write_transition(enrolment("u-0"))
        store.write_transition(enrolment("u-1", expires_at=2_000_000_000))
        store.write_transition(enrolment("u-2"))
        done = progress("u-2", version=2).model_copy(
            update={"state": OnboardingState.COMPLETED, "completed_at": T0 + timedelta(minutes=7)}
        )
        store.write_transition(Transition(progress=done, events=[event(done, EventType.ONBOARDING_COMPLETED)]))

        # When their enrolments are listed two at a time
        found = every_listed(store.list_enrolments)

        # Then each comes once, as the progress list has them, with enrolment, completion and sample marker
        listed = store.list_progress_on_version(WELCOME_1, limit=10, start_key=None)[0]
        assert [en.user for en in found] == [pr.user for pr in listed]
        assert {en.user: (en.completed_at, en.sample) for en in found} == {
            "u-0": (None, False),
            "u-1": (None, True),
            "u-2": (T0 + timedelta(minutes=7), False),
        }
        assert all((en.flow_id, en.flow_version, en.enrolled_at) == ("welcome", 1, T0) for en in found)
        # ...and a start key of another list is refused
        _, key = store.list_enrolments(WELCOME_1, limit=1, start_key=None)
        with pytest.raises(ValueError, match="another list"):
            store.list_enrolments(WELCOME_2, limit=1, start_key=key)

    def test_a_migration_round_trips(self, store: OnboardingStorePort) -> None:
        created = store.create_migration(TENANT, migration(), event=audited(TENANT))

        assert store.get_migration(TENANT, MIGRATION_ID) == created
        assert store.get_migration("t-other", MIGRATION_ID) is None

    def test_a_page_counts_once_however_often_it_is_delivered(self, store: OnboardingStorePort) -> None:
        # Given a running migration
        store.create_migration(TENANT, migration(), event=audited(TENANT))
        assert not store.page_counted(TENANT, MIGRATION_ID, "page-1")

        # When the first page is counted twice and the last page once
        first = store.record_page(TENANT, MIGRATION_ID, "page-1", users=100, batches=4, last=False)
        again = store.record_page(TENANT, MIGRATION_ID, "page-1", users=100, batches=4, last=False)
        last = store.record_page(TENANT, MIGRATION_ID, "page-2", users=30, batches=2, last=True)

        # Then the repeat changed nothing
        assert first is not None and (first.users_enqueued, first.batches_enqueued, first.listing_done) == (
            100,
            4,
            False,
        )
        assert again is None
        assert last is not None and (last.users_enqueued, last.batches_enqueued, last.listing_done) == (130, 6, True)
        assert store.get_migration(TENANT, MIGRATION_ID) == last
        assert store.page_counted(TENANT, MIGRATION_ID, "page-1")

    def test_counting_for_a_migration_that_does_not_exist_is_refused(self, store: OnboardingStorePort) -> None:
        with pytest.raises(NotFoundError):
            store.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=1, skipped=0)
        with pytest.raises(NotFoundError):
            store.record_page(TENANT, MIGRATION_ID, "page-1", users=1, batches=1, last=True)

    def test_a_migration_completes_once_when_listing_and_every_batch_are_done(self, store: OnboardingStorePort) -> None:
        # Given a migration whose listing enqueued two batches
        store.create_migration(TENANT, migration(), event=audited(TENANT))
        at = "2027-01-15T09:00:00Z"
        store.record_page(TENANT, MIGRATION_ID, "page-1", users=30, batches=2, last=False)
        store.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=25, skipped=0)
        store.record_batch(TENANT, MIGRATION_ID, "b-2", migrated=5, skipped=0)

        # Then it cannot complete while the listing goes on
        assert not store.complete_migration(TENANT, MIGRATION_ID, at, event=audited(TENANT))
        # ...nor while a batch of the last page is outstanding
        store.record_page(TENANT, MIGRATION_ID, "page-2", users=1, batches=1, last=True)
        assert not store.complete_migration(TENANT, MIGRATION_ID, at, event=audited(TENANT))
        # ...and completes once when it is counted
        store.record_batch(TENANT, MIGRATION_ID, "b-3", migrated=0, skipped=1)
        assert store.complete_migration(TENANT, MIGRATION_ID, at, event=audited(TENANT))
        assert not store.complete_migration(TENANT, MIGRATION_ID, at, event=audited(TENANT))
        done = store.get_migration(TENANT, MIGRATION_ID)
        assert done is not None and done.status == MigrationStatus.COMPLETED
        assert done.completed_at == datetime(2027, 1, 15, 9, tzinfo=UTC)
        assert (done.users_migrated, done.users_skipped, done.batches_done) == (30, 1, 3)
        assert not store.complete_migration(TENANT, "mig_" + "B" * 22, at, event=audited(TENANT))

    def test_audited_changes_leave_their_entry_and_refused_ones_none(
        self, store: OnboardingStorePort, audit_log: AuditLog
    ) -> None:
        # Given a draft created with its entry
        created = store.create_draft(TENANT, draft(), event=audited(TENANT, "created"))

        # When a duplicate, a stale edit and a stale publish are refused, and a publish succeeds
        with pytest.raises(FlowExistsError):
            store.create_draft(TENANT, draft(), event=audited(TENANT, "duplicate"))
        with pytest.raises(DraftConflictError):
            store.replace_draft(TENANT, draft(), expected_version=7, event=audited(TENANT, "stale"))
        store.publish(TENANT, created, flow_version(), event=audited(TENANT, "published"))
        with pytest.raises(DraftConflictError):
            store.publish(TENANT, created, flow_version(version=2), event=audited(TENANT, "stale-publish"))

        # Then only the changes that were stored have entries
        assert [e.target for e in reversed(audit_log.list_entries(TENANT).items)] == ["created", "published"]

    def test_a_transition_without_events_writes_nothing(self, store: OnboardingStorePort) -> None:
        store.write_transition(Transition(progress=progress(), events=[]))

        assert store.get_progress(TENANT, "u-alice") is None

    def test_events_of_another_user_or_too_many_are_refused(self, store: OnboardingStorePort) -> None:
        alice = progress()

        with pytest.raises(ValueError, match="belong"):
            store.write_transition(Transition(progress=alice, events=[event(progress("u-bob"), EventType.ENROLLED)]))
        with pytest.raises(ValueError):
            store.write_transition(
                Transition(progress=alice, events=[event(alice, EventType.ENROLLED)] * (MAX_EVENTS_PER_TRANSITION + 1))
            )

        assert store.get_progress(TENANT, "u-alice") is None

    def test_expired_events_are_not_listed(self, store: OnboardingStorePort) -> None:
        # Given a user enrolled long ago, whose enrolment event is past its retention
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        first = progress().model_copy(update={"enrolled_at": long_ago, "updated_at": long_ago})
        store.write_transition(Transition(progress=first, events=[event(first, EventType.ENROLLED)]))
        second = progress(version=2)
        store.write_transition(Transition(progress=second, events=[event(second, EventType.STEP_COMPLETED)]))

        # Then only the live event is listed
        assert [e.type for e in store.list_events(TENANT, "u-alice")] == [EventType.STEP_COMPLETED]

    def test_a_sample_users_events_expire_with_it(self, store: OnboardingStorePort) -> None:
        # Given a sample user whose data expired a minute ago (long before the event retention)
        expired = int(datetime.now(UTC).timestamp()) - 60
        store.write_transition(enrolment("sample-1", expires_at=expired))

        # Then the progress is still read (until the sweeper removes it), but its events are no longer listed
        assert store.get_progress(TENANT, "sample-1") == progress("sample-1", expires_at=expired)
        assert store.list_events(TENANT, "sample-1") == []

    def test_users_enrolled_since_a_moment_are_listed_in_enrolment_order(self, store: OnboardingStorePort) -> None:
        # Given six users who enrolled an hour apart
        for n in range(6):
            at = T0 + timedelta(hours=n)
            first = progress(f"u-{n}").model_copy(update={"enrolled_at": at, "updated_at": at})
            store.write_transition(Transition(progress=first, events=[event(first, EventType.ENROLLED)]))

        # When those enrolled from the third hour on are listed (each key to continue from holding strings only)
        since = replace(WELCOME_1, enrolled_since=T0 + timedelta(hours=3))
        found = every_listed(store.list_progress_on_version, since)

        # Then they come in the order they enrolled, and nobody earlier
        assert [pr.user for pr in found] == ["u-3", "u-4", "u-5"]

    def test_a_batch_counts_once_however_often_it_is_delivered(self, store: OnboardingStorePort) -> None:
        store.create_migration(TENANT, migration(), event=audited(TENANT))

        first = store.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=20, skipped=5)
        again = store.record_batch(TENANT, MIGRATION_ID, "b-1", migrated=20, skipped=5)
        second = store.record_batch(TENANT, MIGRATION_ID, "b-2", migrated=3, skipped=0)

        assert first is not None and (first.users_migrated, first.users_skipped, first.batches_done) == (20, 5, 1)
        assert again is None
        assert second is not None and (second.users_migrated, second.users_skipped, second.batches_done) == (23, 5, 2)

    def test_a_migration_id_is_taken_once_and_a_withdrawn_one_is_gone(
        self, store: OnboardingStorePort, audit_log: AuditLog
    ) -> None:
        store.create_migration(TENANT, migration(), event=audited(TENANT, "started"))
        with pytest.raises(VersionConflictError):
            store.create_migration(TENANT, migration(), event=audited(TENANT, "again"))

        store.delete_migration(TENANT, MIGRATION_ID, event=audited(TENANT, "withdrawn"))

        assert store.get_migration(TENANT, MIGRATION_ID) is None
        assert [e.target for e in reversed(audit_log.list_entries(TENANT).items)] == ["started", "withdrawn"]
