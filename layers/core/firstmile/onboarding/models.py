"""The shapes of onboarding: flow definitions and their published versions, a user's progress, its status view,
transition events, step maps for version migration, and the migrations themselves.

Times are timezone-aware UTC ``datetime`` values; the clock is injected (``Clock``) so tests control it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator

from firstmile.clock import Clock as Clock
from firstmile.identifiers import FLAG_KEY_PATTERN as FLAG_KEY_PATTERN
from firstmile.identifiers import FLOW_ID_PATTERN as FLOW_ID_PATTERN
from firstmile.model import Model

STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MIGRATION_ID_PATTERN = r"^mig_[A-Za-z0-9_-]{22}$"
MAX_STEPS = 200
# Steps one milestone may complete at once (each is an event in the same transaction).
MAX_STEPS_PER_MILESTONE = 50
# A sample configuration is stored inside the flow version item (DynamoDB items stop at 400 KB).
MAX_SAMPLE_CONFIG_BYTES = 32 * 1024

FlowId = Annotated[str, Field(pattern=FLOW_ID_PATTERN, description="The flow's id, chosen by the tenant")]
StepId = Annotated[str, Field(pattern=STEP_ID_PATTERN, description="A step's id, unique within its flow")]


class StepKind(StrEnum):
    TASK = "task"
    TUTORIAL = "tutorial"
    MILESTONE = "milestone"


class StepState(StrEnum):
    NOT_STARTED = "not_started"
    STARTED = "started"
    COMPLETED = "completed"
    SKIPPED = "skipped"


class StepAction(StrEnum):
    START = "start"
    COMPLETE = "complete"
    SKIP = "skip"
    # A failed attempt at the step, with an error code: recorded for analytics, the step's state unchanged.
    ERROR = "error"


# Why a user skipped, or what failed: a short code a product team chooses (``no_team_yet``, ``oauth_denied``), never
# free text, so analytics can count it under its own name.
REASON_CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
ReasonCode = Annotated[str, Field(pattern=REASON_CODE_PATTERN, description="A short code: a-z, 0-9, _ and -")]


class OnboardingState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    SKIPPED = "skipped"


class Milestone(StrEnum):
    SAMPLE_WORKFLOW = "sample_workflow"
    SAMPLE_AGENT = "sample_agent"
    FIRST_RUN = "first_run"


# --- flow definitions -------------------------------------------------------------------------------------


class CompletionCriteria(Model):
    """When a step counts as done without the user saying so.

    ``milestone``: the step completes itself when the user reaches that milestone (mark-first-run, ...).
    ``event``: a product event name the customer's backend reports; kept for the customer's own logic and shown
    in the status, Firstmile does not listen for it yet.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    milestone: Milestone | None = None
    event: Annotated[str | None, Field(default=None, pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")] = None
    description: Annotated[str | None, Field(default=None, max_length=500)] = None


class StepDefinition(Model):
    """One step of a flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: StepId
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""
    kind: StepKind = StepKind.TASK
    required: bool = True
    order: Annotated[int, Field(ge=0, le=10_000, description="Position in the flow; lower comes first")]
    gating_flag: Annotated[
        str | None, Field(default=None, pattern=FLAG_KEY_PATTERN, description="Shown only when this flag is on")
    ] = None
    completion_criteria: CompletionCriteria | None = None
    hint: Annotated[str | None, Field(default=None, max_length=500, description="A tutorial hint for this step")] = None


def _json_size(value: Any) -> int:
    import json

    return len(json.dumps(value, separators=(",", ":")).encode())


class FlowDefinition(Model):
    """What an admin writes: the content of a draft, and of every version published from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""
    steps: Annotated[list[StepDefinition], Field(min_length=1, max_length=MAX_STEPS)]
    allow_out_of_order: bool = Field(
        default=True, description="When false, a step completes only after every earlier required step is done"
    )
    sample_workflow: dict[str, JsonValue] = Field(
        default_factory=dict, description="The sample workflow configuration the product creates sample data from"
    )
    sample_agent: dict[str, JsonValue] = Field(
        default_factory=dict, description="The sample agent configuration the product creates sample data from"
    )

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: list[StepDefinition]) -> list[StepDefinition]:
        ids = [s.id for s in steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique within a flow")
        orders = [s.order for s in steps]
        if len(set(orders)) != len(orders):
            raise ValueError("step orders must be unique within a flow")
        return sorted(steps, key=lambda s: s.order)

    @model_validator(mode="after")
    def _bounded_milestone_steps(self) -> FlowDefinition:
        # Reaching a milestone completes its steps in one transaction with one event each (at most 100 items).
        for milestone in Milestone:
            count = sum(1 for s in self.steps if s.completion_criteria and s.completion_criteria.milestone == milestone)
            if count > MAX_STEPS_PER_MILESTONE:
                raise ValueError(f"at most {MAX_STEPS_PER_MILESTONE} steps may be completed by milestone {milestone}")
        return self

    @model_validator(mode="after")
    def _bounded_samples(self) -> FlowDefinition:
        for name in ("sample_workflow", "sample_agent"):
            if _json_size(getattr(self, name)) > MAX_SAMPLE_CONFIG_BYTES:
                raise ValueError(f"{name} is larger than {MAX_SAMPLE_CONFIG_BYTES} bytes of JSON")
        return self

    def step(self, step_id: str) -> StepDefinition | None:
        return next((s for s in self.steps if s.id == step_id), None)


class FlowCreate(FlowDefinition):
    """Create a draft flow."""

    flow_id: FlowId


class FlowDraft(Model):
    """A flow as an admin edits it: the draft content plus what has been published from it."""

    flow_id: FlowId
    definition: FlowDefinition
    version: int = Field(description="Edit version of the draft (the ETag), not a published version")
    latest_published_version: int | None = None
    is_default: bool = False
    created_at: datetime
    updated_at: datetime
    updated_by: str


class FlowVersion(Model):
    """An immutable, numbered snapshot of a flow; users are enrolled on one."""

    model_config = ConfigDict(frozen=True)

    flow_id: FlowId
    version: Annotated[int, Field(ge=1)]
    definition: FlowDefinition
    published_at: datetime
    published_by: str


class FlowVersionSummary(Model):
    flow_id: FlowId
    version: int
    name: str
    steps: int
    published_at: datetime
    published_by: str


class DefaultFlow(Model):
    """The flow new users are enrolled on: its latest published version at the moment they start."""

    flow_id: FlowId
    updated_at: datetime | None = None
    updated_by: str | None = None


class DefaultFlowUpdate(Model):
    model_config = ConfigDict(extra="forbid")

    flow_id: FlowId


# --- a user's progress ------------------------------------------------------------------------------------


class StepProgress(Model):
    """Where one user stands on one step."""

    state: StepState = StepState.NOT_STARTED
    started_at: datetime | None = None
    completed_at: datetime | None = None
    skipped_at: datetime | None = None


# The caller's attributes an enrolment keeps, for analytics' segments (decision 0070): coarse values, never an
# identifier. A value outside ``SEGMENT_VALUE`` is not kept.
SEGMENT_ATTRIBUTES = ("country", "locale", "plan", "returning")
SEGMENT_VALUE = re.compile(r"^[A-Za-z0-9_.:+-]{1,64}$")


class Progress(Model):
    """One user's onboarding on one flow version: the stored truth from which the status is computed.

    ``version`` is the optimistic-concurrency counter (the ETag); ``steps`` holds only steps that left
    ``not_started``. ``sample`` marks a generated demo user (excluded from analytics, removed by TTL).
    """

    tenant: str
    user: str
    flow_id: FlowId
    flow_version: int
    version: int = 0
    state: OnboardingState = OnboardingState.IN_PROGRESS
    steps: dict[str, StepProgress] = Field(default_factory=dict)
    milestones: dict[Milestone, datetime] = Field(default_factory=dict)
    enrolled_at: datetime
    # The flow version the user enrolled on (or restarted on): a migration moves ``flow_version`` and keeps this, so
    # analytics counts all of a user's events under the version they entered (decision 0070). None on progress
    # written before it was recorded.
    enrolled_version: int | None = None
    updated_at: datetime
    completed_at: datetime | None = None
    skipped_at: datetime | None = None
    sample: bool = False
    # Migrations applied to this progress, newest last (idempotency of migration per user).
    migrations: list[str] = Field(default_factory=list)
    expires_at: int | None = Field(default=None, description="Epoch seconds; set for sample users only")
    # The segment values kept at enrolment (``SEGMENT_ATTRIBUTES``), and whether the user opted out of analytics
    # (set by privacy): both copied into every event, which analytics counts from alone.
    segment: dict[str, str] = Field(default_factory=dict)
    analytics_opt_out: bool = False
    # The policy versions the user accepted last, by type (set by privacy's consent; decision 0082): the status says
    # ``needs_reconsent`` while a tenant's current version differs.
    accepted_policies: dict[str, str] = Field(default_factory=dict)
    # The user restricted processing (Article 18, decision 0084): every change but their own rights requests
    # answers 409 until they lift it.
    restricted: bool = False
    # Set by the daily idle job while the user is dropped (decision 0072): when, and at which step (None: every
    # step was done but the onboarding was not completed).
    dropped_at: datetime | None = None
    dropped_step: str | None = None


class Enrolment(Model):
    """A user's place on a flow version as the users-per-version index holds it: what listing the users of a
    version (migrations) and comparing their conversion (a rollout guard) read, none of which a step changes."""

    user: str
    flow_id: FlowId
    flow_version: int
    enrolled_at: datetime
    completed_at: datetime | None = None
    sample: bool = False


@dataclass(frozen=True)
class UsersOnVersion:
    """The users a listing of a flow version names: the tenant's users on version ``version`` of ``flow_id``, those
    enrolled at or after ``enrolled_since`` only when it is given."""

    tenant: str
    flow_id: str
    version: int
    enrolled_since: datetime | None = None


class EventType(StrEnum):
    ENROLLED = "enrolled"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_SKIPPED = "step_skipped"
    ONBOARDING_COMPLETED = "onboarding_completed"
    ONBOARDING_SKIPPED = "onboarding_skipped"
    MILESTONE_REACHED = "milestone_reached"
    RESTARTED = "restarted"
    MIGRATED = "migrated"
    STEP_ERROR = "step_error"
    # Idle longer than the tenant's window: the daily job marks the user dropped at the step they stopped at; their
    # next change of progress writes ``returned`` first, which takes the drop back (decision 0072).
    DROPPED = "dropped"
    RETURNED = "returned"


class TransitionEvent(Model):
    """One recorded change of a user's progress, written in the same transaction as the change.

    Stored under the user's partition with a retention expiry; analytics reads them from the table stream.
    """

    model_config = ConfigDict(frozen=True)

    tenant: str
    user: str
    type: EventType
    at: datetime
    flow_id: str
    flow_version: int
    step_id: str | None = None
    milestone: Milestone | None = None
    # The progress version this event produced: orders events of one user and makes the event key unique.
    progress_version: int
    sample: bool = False
    details: dict[str, JsonValue] = Field(default_factory=dict)
    # What analytics needs to count the event by itself, in any order (decision 0070): the user's enrolment time and
    # the version they enrolled on (None on events written before they were recorded), segment values and analytics
    # opt-out.
    enrolled_at: datetime | None = None
    enrolled_version: int | None = None
    segment: dict[str, str] = Field(default_factory=dict)
    analytics_opt_out: bool = False


class Transition(Model):
    """What one accepted command does: the new progress and the events it records (no events = no change)."""

    progress: Progress
    events: list[TransitionEvent]

    @property
    def changed(self) -> bool:
        return bool(self.events)


# --- API bodies and views --------------------------------------------------------------------------------


class StepCommand(Model):
    """POST /v1/onboarding/step. ``reason`` may come with ``skip``; ``error`` needs ``error_code`` (and takes
    nothing else)."""

    model_config = ConfigDict(extra="forbid")

    step_id: StepId
    action: StepAction
    reason: ReasonCode | None = Field(default=None, description="Why the step is skipped (with skip only)")
    error_code: ReasonCode | None = Field(default=None, description="What failed (with error, required)")

    @model_validator(mode="after")
    def _fits_the_action(self) -> StepCommand:
        if self.reason is not None and self.action is not StepAction.SKIP:
            raise ValueError("reason goes with the skip action only")
        if (self.error_code is not None) != (self.action is StepAction.ERROR):
            raise ValueError("error_code goes with the error action, which needs it")
        return self


class OnboardingSettings(Model):
    """A tenant's onboarding settings: how long a user may stay idle before the daily job counts them dropped."""

    model_config = ConfigDict(extra="forbid")

    idle_days: Annotated[int, Field(ge=1, le=90, description="Days without a change of progress; default 7")] = 7


class SkipRequest(Model):
    """POST /v1/onboarding/skip: optionally, why the user skips the onboarding."""

    model_config = ConfigDict(extra="forbid")

    reason: ReasonCode | None = None


class StepStatus(Model):
    id: str
    title: str
    description: str
    kind: StepKind
    required: bool
    order: int
    state: StepState
    started_at: datetime | None = None
    completed_at: datetime | None = None
    skipped_at: datetime | None = None
    completion_criteria: CompletionCriteria | None = None
    hint: str | None = None


class HiddenStep(Model):
    id: str
    gating_flag: str
    reason: Literal["flag_off", "flag_evaluation_unavailable"]


class MilestoneStatus(Model):
    reached: bool
    at: datetime | None = None


class TutorialHint(Model):
    step_id: str
    hint: str


class OnboardingStatus(Model):
    """GET /v1/onboarding/status: everything a client needs to draw the user's onboarding."""

    flow_id: str
    flow_name: str
    flow_version: int
    state: OnboardingState
    current_step: str | None = Field(description="The first visible step, in order, that is neither done nor skipped")
    steps: list[StepStatus] = Field(description="The visible steps, in order")
    hidden_steps: list[HiddenStep] = Field(default_factory=list, description="Steps hidden by their gating flag")
    percent_complete: int = Field(ge=0, le=100, description="Visible steps completed or skipped, in percent")
    completed: bool
    skipped: bool
    completed_at: datetime | None = None
    skipped_at: datetime | None = None
    enrolled_at: datetime
    milestones: dict[Milestone, MilestoneStatus]
    tutorial_hints: list[TutorialHint]
    needs_reconsent: bool = Field(
        default=False,
        description="A current privacy-policy or terms version of the tenant is not the one the user accepted last "
        "(GET /v1/compliance/policies says which; POST /v1/compliance/consent accepts it)",
    )
    sample: bool = False
    progress_version: int = Field(description="The progress version; the ETag header carries it too")


class SampleConfiguration(Model):
    """GET /v1/onboarding/sample-workflow."""

    flow_id: str
    flow_version: int
    sample_workflow: dict[str, JsonValue]
    sample_agent: dict[str, JsonValue]


# --- version migration ------------------------------------------------------------------------------------


class RenameStep(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["rename"] = "rename"
    from_step: StepId
    to_step: StepId


class MergeSteps(Model):
    """Several old steps become one new step.

    ``require = "any"`` (default): the new step takes the most advanced state among the old ones, so no completed
    step is lost; ``"all"``: it is completed only when every old step was completed or skipped.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["merge"] = "merge"
    from_steps: Annotated[list[StepId], Field(min_length=2, max_length=MAX_STEPS)]
    to_step: StepId
    require: Literal["any", "all"] = "any"


class SplitStep(Model):
    """One old step becomes several new steps, each taking its state."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["split"] = "split"
    from_step: StepId
    to_steps: Annotated[list[StepId], Field(min_length=2, max_length=MAX_STEPS)]


class DropStep(Model):
    """An old step is discarded with whatever state users had on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["drop"] = "drop"
    from_step: StepId


class AddStep(Model):
    """A new step starts ``not_started`` (or, with ``state = completed``, counts as done for migrated users)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    op: Literal["add"] = "add"
    to_step: StepId
    state: Literal["not_started", "completed"] = "not_started"


StepMapOperation = Annotated[RenameStep | MergeSteps | SplitStep | DropStep | AddStep, Field(discriminator="op")]


class MigrationRequest(Model):
    """POST /v1/admin/onboarding/migrate-version.

    Steps with the same id in both versions and not named by any operation carry over unchanged.
    """

    model_config = ConfigDict(extra="forbid")

    flow_id: FlowId
    from_version: Annotated[int, Field(ge=1)]
    to_version: Annotated[int, Field(ge=1)]
    step_map: Annotated[list[StepMapOperation], Field(max_length=4 * MAX_STEPS)] = Field(default_factory=list)
    dry_run: bool = True

    @model_validator(mode="after")
    def _different_versions(self) -> MigrationRequest:
        if self.from_version == self.to_version:
            raise ValueError("from_version and to_version must differ")
        return self


class UserOutcome(StrEnum):
    """What a migration does to one user."""

    MIGRATED = "migrated"
    # Completed-or-skipped work on a step the map drops.
    LOSES_PROGRESS = "loses_progress"
    # The user had finished onboarding; they stay finished on the new version.
    FINISHED = "finished"
    # Already on the target version by this migration (a re-run).
    ALREADY_MIGRATED = "already_migrated"
    # Not on the source version (any more).
    NOT_ON_SOURCE = "not_on_source"


class UserMigrationPreview(Model):
    user: str
    outcome: UserOutcome
    before: dict[str, StepState]
    after: dict[str, StepState]
    dropped_completed_steps: list[str] = Field(default_factory=list)


class MigrationPlanPreview(Model):
    """The dry run's answer: how many users each outcome and each operation affects, and a sample."""

    flow_id: str
    from_version: int
    to_version: int
    users_examined: int
    truncated: bool = Field(description="More users are on the source version than a dry run examines")
    outcomes: dict[UserOutcome, int]
    operations: list[dict[str, Any]] = Field(description="Each step-map operation and the users it changes")
    sample: list[UserMigrationPreview]


class MigrationStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"


class Migration(Model):
    """A migration being executed: GET /v1/admin/onboarding/migrations/{migration_id}."""

    migration_id: Annotated[str, Field(pattern=MIGRATION_ID_PATTERN)]
    flow_id: str
    from_version: int
    to_version: int
    step_map: list[StepMapOperation]
    status: MigrationStatus
    created_at: datetime
    created_by: str
    completed_at: datetime | None = None
    listing_done: bool = Field(default=False, description="Every user on the source version has been enqueued")
    users_enqueued: int = 0
    users_migrated: int = 0
    users_skipped: int = 0
    batches_done: int = 0
    batches_enqueued: int = 0


class MigrationAccepted(Model):
    migration_id: str
    status: MigrationStatus
    status_url: str


class RestartRequest(Model):
    """POST /v1/admin/onboarding/users/{user_id}/restart."""

    model_config = ConfigDict(extra="forbid")

    flow_id: FlowId | None = Field(default=None, description="Restart on this flow; default: the tenant's default")


class SampleUsersRequest(Model):
    """POST /v1/admin/onboarding/sample-users."""

    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=1, le=50)] = 10
    flow_id: FlowId | None = None
    seed: Annotated[int | None, Field(default=None, ge=0, description="Same seed, same walks")] = None


class SampleUsersCreated(Model):
    users: list[str]
    flow_id: str
    flow_version: int
    outcomes: dict[str, int] = Field(description="How many sample users ended completed, skipped or in progress")
    expires_at: datetime


class Rectification(Model):
    """``PATCH /v1/me``: the attributes Firstmile keeps about the caller, corrected (Article 16). A value replaces the
    kept one; ``null`` removes it. Only the segment attributes are kept (``SEGMENT_ATTRIBUTES``)."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[Literal["country", "locale", "plan", "returning"], str | None] = Field(min_length=1)

    @model_validator(mode="after")
    def _plain_values(self) -> Rectification:
        for name, value in self.attributes.items():
            if value is None:
                continue
            if not SEGMENT_VALUE.fullmatch(value):
                raise ValueError(f"{name}: a short plain value (letters, digits, _ . : + -), at most 64 characters")
            if name == "returning" and value not in ("true", "false"):
                raise ValueError("returning: true or false")
        return self


class MeView(Model):
    """What Firstmile keeps about the caller's onboarding profile, after a rectification."""

    user_id: str
    attributes: dict[str, str] = Field(description="The segment values kept (analytics counts later events by them)")
    flow_id: str
    flow_version: int
    analytics_opt_out: bool
    restricted: bool
    progress_version: int
