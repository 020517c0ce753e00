"""The history of a flag: every version as it was stored, who changed it, when, and what changed.

A version's diff lists the flag's top-level fields whose value changed, each with its value before and after (as
JSON). The ``version`` field itself is left out: it changes every time. A flag's first version lists every field
that has a value, with ``before = null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, JsonValue

from firstmile.flags.models import Flag, FlagKey
from firstmile.flags.shapes import KillSwitchEvent
from firstmile.model import Model
from firstmile.platform.cursors import Page

# How many kill-switch changes a history answer lists.
MAX_KILL_SWITCH_CHANGES = 25

# Fields every version differs in, which a diff would only repeat.
_NOT_DIFFED = frozenset({"version"})


class FieldChange(Model):
    """One top-level field of a flag that a version changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(description="The flag's field, such as rules, enabled or tags")
    before: JsonValue = Field(default=None, description="Its value in the previous version (null: none)")
    after: JsonValue = Field(default=None, description="Its value in this version (null: none)")


class FlagHistoryEntry(Model):
    """One version of a flag: the whole flag as it was, who made it, when, and its changes from the one before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: FlagKey
    version: Annotated[int, Field(ge=1)]
    flag: Flag
    changed_by: Annotated[str, Field(min_length=1, max_length=200)]
    changed_at: datetime
    diff: list[FieldChange] = Field(default_factory=list)


class FlagHistoryPage(Page[FlagHistoryEntry]):
    """One page of a flag's versions, and the kill-switch changes that concerned the flag (newest first), so a
    timeline can show both without a second call."""

    kill_switch_changes: list[KillSwitchEvent] = Field(
        default_factory=list, description=f"The newest {MAX_KILL_SWITCH_CHANGES} kills and revivals of the flag"
    )


def flag_diff(before: Flag | None, after: Flag) -> list[FieldChange]:
    """The top-level fields that differ between ``before`` and ``after`` (``before = None``: a new flag), in the
    order the model declares them; ``version`` is never listed."""
    old: dict[str, Any] = before.model_dump(mode="json") if before is not None else {}
    new: dict[str, Any] = after.model_dump(mode="json")
    changes: list[FieldChange] = []
    for name in Flag.model_fields:
        if name in _NOT_DIFFED:
            continue
        was, now = old.get(name), new.get(name)
        if was != now:
            changes.append(FieldChange(field=name, before=was, after=now))
    return changes
