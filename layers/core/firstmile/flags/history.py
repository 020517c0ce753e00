"""The history of a flag: every version as it was stored, who changed it, when, and what changed.

A version's diff lists the flag's top-level fields whose value changed, each with its value before and after (as
JSON). The ``version`` field itself is left out: it changes every time. A flag's first version lists every field
that has a value, with ``before = null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from firstmile.flags.models import Flag, FlagKey
from firstmile.flags.shapes import KillSwitchEvent
from firstmile.model import FieldChange, Model, field_changes
from firstmile.platform.cursors import Page

# How many kill-switch changes a history answer lists.
MAX_KILL_SWITCH_CHANGES = 25

# Fields every version differs in, which a diff would only repeat.
_NOT_DIFFED = frozenset({"version"})


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
    return field_changes(before, after, skip=_NOT_DIFFED)
