"""Privacy-policy and terms versions a tenant's admins publish, and whether a user must accept a newer one (decision
0082). Pure: the store keeps them.

A published version is current from its publication and immutable; publishing another makes that one current. A
user accepts the privacy policy by making consent choices under its version (``ConsentChange.policy_version``) and
the terms with ``terms_version``; ``needs_reconsent`` is true while a current version of either differs from what the
user accepted last (or they accepted none).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field

from firstmile.model import Model
from firstmile.privacy.consent import POLICY_VERSION_PATTERN


class PolicyType(StrEnum):
    PRIVACY_POLICY = "privacy_policy"
    TERMS = "terms"


class PolicyPublish(Model):
    """What an admin publishes: a version of the privacy policy or of the terms, and where users read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: PolicyType
    version: Annotated[str, Field(pattern=POLICY_VERSION_PATTERN, description="Unique per type, e.g. 2026-12")]
    url: Annotated[str, Field(pattern=r"^https://\S{1,2000}$", description="Where users read this version")]
    summary: Annotated[str, Field(max_length=500, description="What changed, for the re-consent prompt")] = ""


class PolicyVersion(PolicyPublish):
    """A published version."""

    published_at: datetime
    published_by: str


class Policies(Model):
    """The current version of each type (absent: none published yet) and every version, newest first."""

    current: dict[PolicyType, PolicyVersion]
    history: list[PolicyVersion]


def needs_reconsent(current: Mapping[str, str], accepted: Mapping[str, str]) -> bool:
    """Whether a current version (type -> version) is not the one the user accepted last."""
    return any(accepted.get(kind) != version for kind, version in current.items())
