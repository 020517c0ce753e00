"""The audit log's shapes: what happened (an event), how it is kept (a chained entry), and what verify reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from firstmile.model import Model

ACTION_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@|+\-]{0,199}$"


class AuditEvent(Model):
    """Something worth a permanent record: an admin or operator action, a revocation, a privacy action."""

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(min_length=1, max_length=64, description="Whose chain the entry joins")
    actor: str = Field(pattern=ACTOR_PATTERN, description="Who did it, e.g. operator:fmc_..., admin:u-1, system")
    action: str = Field(pattern=ACTION_PATTERN, description="What was done, e.g. tenant.created")
    target: str = Field(max_length=256, description="What it was done to, e.g. client:fmc_... or session:ses_...")
    correlation_id: str = Field(default="", max_length=128)
    details: dict[str, str] = Field(default_factory=dict, max_length=20)


class AuditEntry(Model):
    """An event as kept: numbered within its tenant's chain and linked to the entry before it by hash."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    sequence: int = Field(ge=1)
    at: datetime
    actor: str
    action: str
    target: str
    correlation_id: str
    details: dict[str, str]
    previous_hash: str = Field(description="The hash of the entry before (64 zeros for the first)")
    hash: str = Field(description="SHA-256 of this entry's canonical JSON, previous_hash included")
    salts: dict[str, str] = Field(
        default_factory=dict,
        description="The random salt of each field that may name a person (actor, target, details): the hash covers "
        "a salted digest of each such field, so the field can be erased and the chain still verify (decision 0083)",
    )
    sealed: dict[str, str] = Field(
        default_factory=dict,
        description="The salted digests of fields erased with the person they named; such a field reads `erased` "
        "(details: empty) and has no salt left",
    )


class ChainHead(Model):
    """The last entry of a tenant's chain: what the next entry links to."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    hash: str
    at: datetime


class UnreadableEntry(Model):
    """A stored entry that no longer parses (an attribute removed or retyped)."""

    model_config = ConfigDict(frozen=True)

    sequence: int | None


BreakReason = Literal["hash_mismatch", "link_mismatch", "sequence_gap", "unreadable", "head_mismatch"]


class BrokenLink(Model):
    """Where the chain first fails to hold, and how."""

    sequence: int | None = Field(description="The entry at fault (for a gap: the first missing one)")
    reason: BreakReason


class ChainVerification(Model):
    """``GET /v1/admin/audit/verify``: whether the tenant's chain is intact, else its first broken link."""

    ok: bool
    checked: int = Field(description="Entries that verified before the first break (all of them when ok)")
    head_sequence: int | None
    first_broken: BrokenLink | None = None


class AuditFilter(Model):
    """``GET /v1/admin/audit`` filters; each one is served by a key, never a scan."""

    action: str | None = Field(default=None, pattern=ACTION_PATTERN)
    actor: str | None = Field(default=None, pattern=ACTOR_PATTERN)
    since: datetime | None = None
    until: datetime | None = None
