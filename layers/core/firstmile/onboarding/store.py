"""Onboarding in the main table: flows, their versions, the default flow, users' progress and events, migrations.

Key formats (docs/data-model.md, rows 20-31):
- a tenant's flows live in one partition ``pk = TENANT#<t>#FLOWS``:
  draft ``sk = FLOW#<flow_id>`` (``kind = flow_draft``, versioned), published version
  ``sk = VERSION#<flow_id>#<version:06d>`` (``kind = flow_version``, immutable), default ``sk = DEFAULT``
  (``kind = default_flow``), migration ``sk = MIGRATION#<migration_id>`` (``kind = onboarding_migration``);
- a migration's batch markers: ``pk = TENANT#<t>#MIGRATION#<migration_id>``, ``sk = PAGE#<token>`` /
  ``BATCH#<batch_id>`` (``kind = migration_marker``, ``expires_at`` 30 days) so each page and batch counts once;
- a user's progress: ``pk = TENANT#<t>#USER#<u>``, ``sk = ONBOARDING#PROGRESS`` (``kind = onboarding_progress``,
  versioned), indexed ``gsi2pk = TENANT#<t>#FLOW#<flow_id>#V#<version>``,
  ``gsi2sk = ENROLLED#<enrolled_at, UTC, fixed width>#USER#<u>`` so a migration finds the users of a version without
  a Scan, and a rollout guard finds those who enrolled after a moment with one key condition. ``gsi2`` projects only
  the ``Enrolment`` attributes, none of which a step changes, and each step is one short string
  (``_step_record``), so a step's write costs about the same for a flow of 5 steps or 50 (decision 0049);
- a user's transition events: ``pk = TENANT#<t>#USER#<u>``,
  ``sk = ONBOARDING#EVENT#<at ISO-8601>#<progress_version:010d>#<n:02d>`` (``kind = onboarding_event``,
  ``expires_at`` = at + retention), written in the same transaction as the progress they describe.

Every model is stored flat (a progress's steps excepted, see ``_step_record``): its JSON form
(``model_dump(mode="json")``, floats as ``Decimal``, ``None`` fields left out) next to the key attributes, and read
back with ``model_validate`` on the model's own fields. So the conditions can name ``version``, ``status`` or the
migration counters directly.

Every admin change (a draft created or edited, a version published, the default set, a user restarted, a migration
started, withdrawn or completed) appends its audit entry in the same transaction (``AuditStore.transact``): no change
is stored without its entry.

Every request goes through the table gateway (``firstmile.platform.gateway``), which hands back plain Python values
(the item a cancellation reason carries included) and sends a transaction cancelled by ``TransactionConflict``
(another transaction on the same item at that moment; it wrote nothing) again a few times after a jittered pause.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.errors import DependencyUnavailableError, NotFoundError, VersionConflictError
from firstmile.identifiers import user_partition
from firstmile.onboarding import EVENT_KIND
from firstmile.onboarding.models import (
    DefaultFlow,
    Enrolment,
    FlowDraft,
    FlowVersion,
    FlowVersionSummary,
    Migration,
    OnboardingSettings,
    OnboardingState,
    Progress,
    StepProgress,
    StepState,
    Transition,
    TransitionEvent,
    UsersOnVersion,
)
from firstmile.platform.cursors import Page
from firstmile.platform.gateway import CONDITION_FAILED, TableGateway, partition
from firstmile.platform.items import plain, stored_fields
from firstmile.platform.versioned import StoredConflictError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

M = TypeVar("M", bound=BaseModel)

_PROGRESS_SK = "ONBOARDING#PROGRESS"
_EVENT_PREFIX = "ONBOARDING#EVENT#"
_SETTINGS_SK = "ONBOARDING#SETTINGS"
# Partitions of the idle index per day (decision 0072).
IDLE_SHARDS = 8
_DEFAULT_SK = "DEFAULT"
_MARKER_TTL_SECONDS = 30 * 24 * 3600
# One transaction holds at most 100 items: the progress and 99 events.
MAX_EVENTS_PER_TRANSITION = 99
_USERS_INDEX = "gsi2"
# Where progress items stored before decision 0049 are listed until they are written again.
_LEGACY_INDEX = "gsi1"
_STATE_LETTERS = {
    StepState.NOT_STARTED: "n",
    StepState.STARTED: "s",
    StepState.COMPLETED: "c",
    StepState.SKIPPED: "k",
}
_LETTER_STATES = {letter: state for state, letter in _STATE_LETTERS.items()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class ProgressConflictError(StoredConflictError[Progress]):
    """A progress write lost a race; carries the stored progress (``None`` when it has gone)."""

    @property
    def progress(self) -> Progress | None:
        return self.stored


class DraftConflictError(StoredConflictError[FlowDraft]):
    """A draft write lost a race; carries the stored draft."""

    @property
    def draft(self) -> FlowDraft | None:
        return self.stored


class FlowExistsError(Exception):
    """The tenant already has a flow with this id."""

    def __init__(self, flow_id: str) -> None:
        super().__init__(f"flow {flow_id} already exists")
        self.flow_id = flow_id


# --- keys --------------------------------------------------------------------------------------------------


def _flows_partition(tenant: str) -> str:
    return f"TENANT#{tenant}#FLOWS"


def _draft_key(tenant: str, flow_id: str) -> dict[str, str]:
    return {"pk": _flows_partition(tenant), "sk": f"FLOW#{flow_id}"}


def _versions_prefix(flow_id: str) -> str:
    return f"VERSION#{flow_id}#"


def _version_key(tenant: str, flow_id: str, version: int) -> dict[str, str]:
    return {"pk": _flows_partition(tenant), "sk": f"{_versions_prefix(flow_id)}{version:06d}"}


def _default_key(tenant: str) -> dict[str, str]:
    return {"pk": _flows_partition(tenant), "sk": _DEFAULT_SK}


def _migration_key(tenant: str, migration_id: str) -> dict[str, str]:
    return {"pk": _flows_partition(tenant), "sk": f"MIGRATION#{migration_id}"}


def _marker_key(tenant: str, migration_id: str, marker: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant}#MIGRATION#{migration_id}", "sk": marker}


def check_events(transition: Transition) -> None:
    """``ValueError`` when ``transition`` records more events than fit in one transaction with its progress, or
    events of another user than the one whose progress it writes."""
    progress = transition.progress
    if len(transition.events) > MAX_EVENTS_PER_TRANSITION:
        raise ValueError(f"a transition records at most {MAX_EVENTS_PER_TRANSITION} events")
    if any(e.tenant != progress.tenant or e.user != progress.user for e in transition.events):
        raise ValueError("a transition's events belong to the user whose progress it writes")


def progress_key(tenant: str, user: str) -> dict[str, str]:
    """The key of a user's progress item (privacy's consent writes its analytics opt-out there)."""
    return {"pk": user_partition(tenant, user), "sk": _PROGRESS_SK}


def _users_on_version(tenant: str, flow_id: str, version: int) -> str:
    return f"TENANT#{tenant}#FLOW#{flow_id}#V#{version}"


def _enrolment_key(enrolled_at: datetime, user: str) -> str:
    """A progress item's sort key in the users-per-version index: enrolment time first (fixed-width UTC), so the
    index reads in enrolment order and ``since`` is one key condition."""
    return f"ENROLLED#{_fixed_utc(enrolled_at)}#USER#{user}"


def _fixed_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event_sk(event: TransitionEvent, n: int) -> str:
    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{_EVENT_PREFIX}{at}#{event.progress_version:010d}#{n:02d}"


# --- items -------------------------------------------------------------------------------------------------


def _step_record(step: StepProgress) -> str:
    """One step's progress as a short string: the state's letter, then its start, completion and skip times as
    epoch microseconds in base 36 (empty when unset, trailing empties left out): ``c:hga113s4xs:hga152o6dd``.
    About 25 bytes where the step as a map of ISO-8601 times took about 110, so a 50-step progress fits in 3 KB."""
    times = [_base36_micros(t) for t in (step.started_at, step.completed_at, step.skipped_at)]
    return ":".join([_STATE_LETTERS[step.state], *times]).rstrip(":")


def _step_progress(stored: Any) -> StepProgress:
    """A step read back: a ``_step_record`` string, or the map every progress stored before decision 0049 holds."""
    if isinstance(stored, dict):
        return StepProgress.model_validate(plain(stored))
    letter, *times = str(stored).split(":")
    moments = [_from_base36_micros(t) if t else None for t in [*times, "", "", ""][:3]]
    return StepProgress(
        state=_LETTER_STATES[letter], started_at=moments[0], completed_at=moments[1], skipped_at=moments[2]
    )


def _base36_micros(moment: datetime | None) -> str:
    if moment is None:
        return ""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    sign, micros = ("-", -micros) if micros < 0 else ("", micros)
    digits = ""
    while True:
        micros, digit = divmod(micros, 36)
        digits = _DIGITS36[digit] + digits
        if micros == 0:
            return sign + digits


def _from_base36_micros(text: str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(text, 36))


def _progress_item(progress: Progress) -> dict[str, Any]:
    """The progress item: the progress flat, each step a ``_step_record``, indexed among its version's users and,
    while the user is in onboarding (not a sample user, not dropped), among the users idle since its day."""
    key = progress_key(progress.tenant, progress.user)
    idle = (
        {"gsi3pk": idle_partition(progress.updated_at.date(), idle_shard(key["pk"])), "gsi3sk": key["pk"]}
        if progress.state == OnboardingState.IN_PROGRESS and not progress.sample and progress.dropped_at is None
        else {}
    )
    return {
        **key,
        "gsi2pk": _users_on_version(progress.tenant, progress.flow_id, progress.flow_version),
        "gsi2sk": _enrolment_key(progress.enrolled_at, progress.user),
        **idle,
        "kind": "onboarding_progress",
        **stored_fields(progress),
        "steps": {step_id: _step_record(step) for step_id, step in progress.steps.items()},
    }


def idle_partition(day: date, shard: int) -> str:
    """The idle index's partition of the users whose last change was on ``day``, in ``shard``."""
    return f"IDLE#{day.isoformat()}#{shard}"


def idle_shard(partition_key: str) -> int:
    """Spreads one day's users over ``IDLE_SHARDS`` index partitions, so a busy day writes no hot partition."""
    return int(hashlib.sha256(partition_key.encode()).hexdigest()[:8], 16) % IDLE_SHARDS


def _progress(item: dict[str, Any]) -> Progress:
    """The progress stored in ``item`` (either step layout)."""
    steps = {str(step_id): _step_progress(stored) for step_id, stored in (item.get("steps") or {}).items()}
    return _model(Progress, {**item, "steps": {}}).model_copy(update={"steps": steps})


def _model(cls: type[M], item: dict[str, Any]) -> M:
    """The model stored in ``item`` (key attributes and anything else that is not a field are ignored)."""
    return cls.model_validate({k: plain(v) for k, v in item.items() if k in cls.model_fields})


def _epoch(moment: datetime) -> int:
    """A TTL value: whole epoch seconds, rounded up so nothing expires early."""
    return math.ceil(moment.timestamp())


def _now() -> float:
    return time.time()


class OnboardingStore:
    """All onboarding reads and writes. Errors from AWS become ``DependencyUnavailableError``. Audited changes
    append their entry to ``audit`` (the chains in the same table) in their own transaction."""

    def __init__(
        self, table: Table | TableGateway, *, event_retention_days: int = 400, audit: AuditStore | None = None
    ) -> None:
        self._table = TableGateway.of(table)
        self._event_retention_days = event_retention_days
        self._audit = audit or AuditStore(self._table)

    # --- flows ---------------------------------------------------------------------------------------------

    def create_draft(self, tenant: str, draft: FlowDraft, *, event: AuditEvent) -> FlowDraft:
        """Store a new draft as edit version 1 and append ``event``, in one transaction; ``FlowExistsError`` when the
        tenant already has that flow id."""
        stored = draft.model_copy(update={"version": 1})
        item = {**_draft_key(tenant, draft.flow_id), "kind": "flow_draft", **stored_fields(stored)}
        if self._audit.transact([self._table.put_new_action(item)], event) is not None:
            raise FlowExistsError(draft.flow_id)
        return stored

    def get_draft(self, tenant: str, flow_id: str) -> FlowDraft | None:
        """One GetItem (consistent)."""
        item = self._get(_draft_key(tenant, flow_id))
        return _model(FlowDraft, item) if item else None

    def replace_draft(self, tenant: str, draft: FlowDraft, expected_version: int, *, event: AuditEvent) -> FlowDraft:
        """Write ``draft`` as version ``expected_version + 1`` and append ``event``, in one transaction;
        ``DraftConflictError`` with the stored draft when the stored version differs (or the draft has gone: then it
        carries ``None``). The put returns the stored draft when its condition fails, so a conflict needs no read."""
        stored = draft.model_copy(update={"version": expected_version + 1})
        item = {**_draft_key(tenant, draft.flow_id), "kind": "flow_draft", **stored_fields(stored)}
        put = self._table.put_action(
            item,
            condition="#v = :expected",
            names={"#v": "version"},
            values={":expected": expected_version},
            return_stored=True,
        )
        reasons = self._audit.transact([put], event)
        if reasons is None:
            return stored
        current = reasons[0].get("Item")
        raise DraftConflictError(_model(FlowDraft, current) if current else None)

    def list_drafts(self, tenant: str, *, limit: int, cursor: str | None) -> Page[FlowDraft]:
        """Query ``begins_with(sk, FLOW#)``, in flow-id order, cursor-paged (``decode_cursor`` with
        ``key_partition``; a cursor of another tenant's or another list is refused with VAL_CURSOR_INVALID)."""
        flows = _flows_partition(tenant)
        items, next_cursor = self._table.query_page(
            partition(flows).begins_with("FLOW#"), limit=limit, cursor=cursor, scope=f"{flows}|FLOW#"
        )
        return Page[FlowDraft](items=[_model(FlowDraft, item) for item in items], next_cursor=next_cursor)

    def publish(self, tenant: str, draft: FlowDraft, version: FlowVersion, *, event: AuditEvent) -> FlowDraft:
        """One TransactWriteItems: put the version if absent, update the draft's ``latest_published_version``
        (bumping its edit version) on condition that its edit version is still ``draft.version``, and append
        ``event``. Returns the
        updated draft; ``DraftConflictError`` with the stored draft when either condition fails (the draft was
        edited or published concurrently)."""
        version_item = {
            **_version_key(tenant, version.flow_id, version.version),
            "kind": "flow_version",
            # Kept beside the definition so a list of versions reads a summary without the whole definition.
            "step_count": len(version.definition.steps),
            **stored_fields(version),
        }
        reasons = self._audit.transact(
            [
                self._table.put_new_action(version_item),
                self._table.update_action(
                    _draft_key(tenant, draft.flow_id),
                    "SET latest_published_version = :published, #v = :next",
                    condition="#v = :expected",
                    names={"#v": "version"},
                    values={":published": version.version, ":next": draft.version + 1, ":expected": draft.version},
                    return_stored=True,
                ),
            ],
            event,
        )
        if reasons is None:
            return draft.model_copy(update={"latest_published_version": version.version, "version": draft.version + 1})
        returned = reasons[1].get("Item") if reasons[1].get("Code") == CONDITION_FAILED else None
        raise DraftConflictError(_model(FlowDraft, returned) if returned else self.get_draft(tenant, draft.flow_id))

    def get_version(self, tenant: str, flow_id: str, version: int) -> FlowVersion | None:
        """One GetItem (eventually consistent is fine: versions never change)."""
        item = self._get(_version_key(tenant, flow_id, version), consistent=False)
        return _model(FlowVersion, item) if item else None

    def list_versions(self, tenant: str, flow_id: str, *, limit: int, cursor: str | None) -> Page[FlowVersionSummary]:
        """Query ``begins_with(sk, VERSION#<flow_id>#)``, newest first, cursor-paged; reads only the summary's
        attributes (not the definitions)."""
        flows = _flows_partition(tenant)
        prefix = _versions_prefix(flow_id)
        items, next_cursor = self._table.query_page(
            partition(flows).begins_with(prefix),
            limit=limit,
            cursor=cursor,
            scope=f"{flows}|{prefix}",
            newest_first=True,
            projection="#f, #v, #d.#n, #c, #at, #by",
            names={
                "#f": "flow_id",
                "#v": "version",
                "#d": "definition",
                "#n": "name",
                "#c": "step_count",
                "#at": "published_at",
                "#by": "published_by",
            },
        )
        summaries = [
            FlowVersionSummary(
                flow_id=str(item["flow_id"]),
                version=int(item["version"]),
                name=str(item["definition"]["name"]),
                steps=int(item["step_count"]),
                published_at=item["published_at"],
                published_by=str(item["published_by"]),
            )
            for item in items
        ]
        return Page[FlowVersionSummary](items=summaries, next_cursor=next_cursor)

    def get_default(self, tenant: str) -> DefaultFlow | None:
        """The tenant's default flow, if one is set. One GetItem (consistent: a user enrolled right after an admin
        set it gets the new one)."""
        item = self._get(_default_key(tenant))
        return _model(DefaultFlow, item) if item else None

    def set_default(self, tenant: str, default: DefaultFlow, *, event: AuditEvent) -> DefaultFlow:
        """Make ``default`` the tenant's default flow (the last writer wins) and append ``event``, in one
        transaction. The drafts' ``is_default`` flags are not touched here."""
        item = {**_default_key(tenant), "kind": "default_flow", **stored_fields(default)}
        self._audit.transact([self._table.put_action(item)], event)
        return default

    # --- settings and idle users ------------------------------------------------------------------------------

    def get_settings(self, tenant: str) -> OnboardingSettings:
        """The tenant's onboarding settings (the defaults until an admin sets them). One GetItem."""
        item = self._get({"pk": _flows_partition(tenant), "sk": _SETTINGS_SK})
        return _model(OnboardingSettings, item) if item else OnboardingSettings()

    def set_settings(self, tenant: str, settings: OnboardingSettings, *, event: AuditEvent) -> OnboardingSettings:
        """Replace the tenant's onboarding settings and append ``event``, in one transaction."""
        item = {
            "pk": _flows_partition(tenant),
            "sk": _SETTINGS_SK,
            "kind": "onboarding_settings",
            **stored_fields(settings),
        }
        self._audit.transact([self._table.put_action(item)], event)
        return settings

    def list_idle(self, day: date, shard: int) -> list[tuple[str, str]]:
        """The (tenant, user) of every user in onboarding whose last change was on ``day``, in ``shard``: a Query of
        the idle index, every page."""
        users = []
        for item in self._table.query_all(partition(idle_partition(day, shard), index="gsi3")):
            _, tenant, _, user = str(item["gsi3sk"]).split("#", 3)
            users.append((tenant, user))
        return users

    # --- progress ------------------------------------------------------------------------------------------

    def get_progress(self, tenant: str, user: str) -> Progress | None:
        """One GetItem (consistent)."""
        item = self._get(progress_key(tenant, user))
        return _progress(item) if item else None

    def set_segment(self, tenant: str, user: str, segment: dict[str, str], expected_version: int) -> bool:
        """One UpdateItem on condition of the version read: ``SET segment ADD version 1``."""
        written = self._table.update_if(
            progress_key(tenant, user),
            "SET #s = :s ADD #v :one",
            condition="#v = :read",
            names={"#s": "segment", "#v": "version"},
            values={":s": dict(segment), ":one": 1, ":read": expected_version},
        )
        return written is not None

    def write_transition(
        self, transition: Transition, *, event: AuditEvent | None = None, checks: Sequence[dict[str, Any]] = ()
    ) -> None:
        """One TransactWriteItems: put the progress on condition that the stored version is
        ``transition.progress.version - 1`` (absent when that is 0), put each event if absent, and append ``event``
        to the audit log when an admin made the change (then at most ``MAX_CHANGE_ITEMS - 1`` events). Raises
        ``ProgressConflictError`` with the stored progress when the condition fails (taken from the cancellation
        reasons when DynamoDB returns the item, otherwise read once). Does nothing when ``transition.events`` is
        empty. ``checks`` are ConditionChecks of other items the transition depends on (an enrolment: that the
        user's consent is still as read); one that fails is answered as a conflict too.

        Each event expires ``event_retention_days`` after it happened, or with the progress when that expires
        earlier (a sample user's). A transaction that keeps meeting a concurrent one on the same progress is
        answered as a conflict too. ``ValueError`` when the events are not the progress's user's or are more than
        ``MAX_EVENTS_PER_TRANSITION``.
        """
        if not transition.events:
            return
        check_events(transition)
        progress = transition.progress
        expected = progress.version - 1
        condition: dict[str, Any] = (
            {"condition": "attribute_not_exists(pk)"}
            if expected == 0
            else {"condition": "#v = :expected", "names": {"#v": "version"}, "values": {":expected": expected}}
        )
        items: list[dict[str, Any]] = [
            self._table.put_action(_progress_item(progress), return_stored=True, **condition)
        ]
        user = user_partition(progress.tenant, progress.user)
        for n, happened in enumerate(transition.events):
            item = {
                "pk": user,
                "sk": _event_sk(happened, n),
                "kind": EVENT_KIND,
                **stored_fields(happened),
                "expires_at": self._event_expiry(happened, progress),
            }
            items.append(self._table.put_new_action(item))
        items += checks
        reasons = self._table.transact(items) if event is None else self._audit.transact(items, event)
        if reasons is None:
            return
        returned = reasons[0].get("Item") if reasons[0].get("Code") == CONDITION_FAILED else None
        stored = _progress(returned) if returned else self.get_progress(progress.tenant, progress.user)
        raise ProgressConflictError(stored)

    def list_events(self, tenant: str, user: str) -> list[TransitionEvent]:
        """The user's onboarding events, oldest first (Query ``begins_with(sk, ONBOARDING#EVENT#)``, every page),
        without those past their ``expires_at`` that the TTL sweeper has not removed yet."""
        events = self._table.query_all(
            partition(user_partition(tenant, user)).begins_with(_EVENT_PREFIX),
            filter="expires_at > :now",
            values={":now": int(_now())},
        )
        return [_model(TransitionEvent, item) for item in events]

    def list_enrolments(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Enrolment], dict[str, Any] | None]:
        """One Query of the users-per-version index (gsi2), in enrolment order (only those enrolled at or after
        ``users.enrolled_since``, when given): a page of enrolments and the key to continue from (``None`` after the
        last page). The key holds strings only, so it travels in a queue message as JSON; ``ValueError`` for a key of
        another version's list. The index is eventually consistent: a user who moved a moment ago may still be
        listed, so callers check what they act on."""
        items, last_key = self._users_page(users, limit, start_key)
        return [_model(Enrolment, item) for item in items], last_key

    def list_progress_on_version(
        self, users: UsersOnVersion, *, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Progress], dict[str, Any] | None]:
        """``list_enrolments``' page with each user's whole progress: the index holds only enrolments, so the
        progress items are read with BatchGetItem (eventually consistent, as the index is). A user whose progress
        has gone since the index listed them is left out."""
        items, last_key = self._users_page(users, limit, start_key)
        progress = self._table.get_many([{"pk": item["pk"], "sk": item["sk"]} for item in items])
        return [_progress(item) for item in progress], last_key

    def _users_page(
        self, users: UsersOnVersion, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the users-per-version index, then of ``gsi1`` for progress items not written since they moved
        to ``gsi2`` (decision 0049): when ``gsi2`` ends, the key to continue from names ``gsi1`` and the list."""
        listing = _users_on_version(users.tenant, users.flow_id, users.version)
        key = start_key or {}
        legacy = key.get("index") == _LEGACY_INDEX or f"{_LEGACY_INDEX}pk" in key
        index = _LEGACY_INDEX if legacy else _USERS_INDEX
        if key and listing not in (key.get(f"{index}pk"), key.get("list")):
            raise ValueError("the start key belongs to another list")
        condition = partition(listing, index=index)
        if users.enrolled_since is not None:
            condition = condition.at_least(f"ENROLLED#{_fixed_utc(users.enrolled_since)}")
        exclusive = key if f"{index}pk" in key else None
        page = self._table.query(condition, limit=max(1, limit), start_key=exclusive)
        if page.last_key is None and not legacy:
            return page.items, {"index": _LEGACY_INDEX, "list": listing}
        return page.items, page.last_key

    # --- migrations ----------------------------------------------------------------------------------------

    def create_migration(self, tenant: str, migration: Migration, *, event: AuditEvent) -> Migration:
        """Store a new migration and append ``event``, in one transaction; ``VersionConflictError`` when the id is
        taken."""
        item = {
            **_migration_key(tenant, migration.migration_id),
            "kind": "onboarding_migration",
            **stored_fields(migration),
        }
        if self._audit.transact([self._table.put_new_action(item)], event) is not None:
            raise VersionConflictError(None, None)
        return migration

    def delete_migration(self, tenant: str, migration_id: str, *, event: AuditEvent) -> None:
        """Remove a migration that never started (its first message could not be sent) and append ``event``, in one
        transaction."""
        self._audit.transact([self._table.delete_action(_migration_key(tenant, migration_id))], event)

    def get_migration(self, tenant: str, migration_id: str) -> Migration | None:
        """One GetItem (consistent)."""
        item = self._get(_migration_key(tenant, migration_id))
        return _model(Migration, item) if item else None

    def record_page(
        self, tenant: str, migration_id: str, page_token: str, *, users: int, batches: int, last: bool
    ) -> Migration | None:
        """Count one listed page once: TransactWriteItems [put ``PAGE#<token>`` marker if absent, update the
        migration ``ADD users_enqueued, batches_enqueued`` and ``SET listing_done = true`` when ``last``]. Returns
        the updated migration (read once more, consistently), or ``None`` when this page was already counted.
        Retries a few times on ``TransactionConflict``, then ``DependencyUnavailableError``; ``NotFoundError``
        when there is no such migration."""
        update = "ADD users_enqueued :users, batches_enqueued :batches" + (" SET listing_done = :true" if last else "")
        values: dict[str, Any] = {":users": users, ":batches": batches}
        if last:
            values[":true"] = True
        return self._count_once(tenant, migration_id, f"PAGE#{page_token}", update, values)

    def page_counted(self, tenant: str, migration_id: str, page_token: str) -> bool:
        """Whether ``record_page`` already counted this page (one consistent GetItem of its marker), so a redelivered
        page message can stop before listing and fanning out again."""
        return self._get(_marker_key(tenant, migration_id, f"PAGE#{page_token}")) is not None

    def record_batch(
        self, tenant: str, migration_id: str, batch_id: str, *, migrated: int, skipped: int
    ) -> Migration | None:
        """Count one processed batch once (same pattern as ``record_page``: ``BATCH#<id>`` marker and
        ``ADD users_migrated, users_skipped, batches_done``). ``None`` when already counted."""
        return self._count_once(
            tenant,
            migration_id,
            f"BATCH#{batch_id}",
            "ADD users_migrated :migrated, users_skipped :skipped, batches_done :one",
            {":migrated": migrated, ":skipped": skipped, ":one": 1},
        )

    def complete_migration(self, tenant: str, migration_id: str, at: str, *, event: AuditEvent) -> bool:
        """Set ``status = completed`` and ``completed_at`` (ISO-8601) on condition that it is running,
        ``listing_done`` and ``batches_done = batches_enqueued``, and append ``event``, in one transaction (sent
        again when it meets a concurrent counting transaction); ``True`` when this call completed it."""
        complete = self._table.update_action(
            _migration_key(tenant, migration_id),
            "SET #status = :completed, completed_at = :at",
            condition="#status = :running AND listing_done = :true AND batches_done = batches_enqueued",
            names={"#status": "status"},
            values={":completed": "completed", ":running": "running", ":at": at, ":true": True},
        )
        return self._audit.transact([complete], event) is None

    # --- plumbing ------------------------------------------------------------------------------------------

    def _event_expiry(self, event: TransitionEvent, progress: Progress) -> int:
        expiry = _epoch(event.at + timedelta(days=self._event_retention_days))
        return min(expiry, progress.expires_at) if progress.expires_at is not None else expiry

    def _count_once(
        self, tenant: str, migration_id: str, marker: str, update: str, values: dict[str, Any]
    ) -> Migration | None:
        marker_item = {
            **_marker_key(tenant, migration_id, marker),
            "kind": "migration_marker",
            "expires_at": math.ceil(_now()) + _MARKER_TTL_SECONDS,
        }
        reasons = self._table.transact(
            [
                self._table.put_new_action(marker_item),
                self._table.update_action(
                    _migration_key(tenant, migration_id), update, condition="attribute_exists(pk)", values=values
                ),
            ]
        )
        if reasons is not None:
            if reasons[0].get("Code") == CONDITION_FAILED:
                return None
            if reasons[1].get("Code") == CONDITION_FAILED:
                raise NotFoundError(f"migration {migration_id}")
            raise DependencyUnavailableError("table", f"the counters of migration {migration_id} stayed contended")
        migration = self.get_migration(tenant, migration_id)
        if migration is None:
            raise NotFoundError(f"migration {migration_id}")
        return migration

    def _get(self, key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        return self._table.get(key, consistent=consistent)
