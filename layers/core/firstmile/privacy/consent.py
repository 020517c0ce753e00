"""A user's consent: per purpose (analytics, marketing, product updates) and per cookie category (necessary,
functional, analytics, marketing), each choice with the policy version it was made under, its source and time, and
the history of every choice (decision 0081). Pure: the store keeps it, the service applies it.

Without a recorded choice a purpose counts as not refused: onboarding analytics are aggregates kept under the
tenant's legitimate interests, and a user who withdraws (or objects, or sends Global Privacy Control) is out of them
from that moment. Marketing and product updates are the tenant's to honour; Firstmile records and reports them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from firstmile.model import Model

POLICY_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
# How many of a user's choices their consent answer lists, newest first.
HISTORY_LIMIT = 50


class Purpose(StrEnum):
    ANALYTICS = "analytics"
    MARKETING = "marketing"
    PRODUCT_UPDATES = "product_updates"


class CookieCategory(StrEnum):
    NECESSARY = "necessary"
    FUNCTIONAL = "functional"
    ANALYTICS = "analytics"
    MARKETING = "marketing"


class Right(StrEnum):
    """Rights a user exercises with a marker, kept and recorded like consent (issue 13, item 6; decision 0084)."""

    # Article 18: the user's data is kept but not processed further; every write refuses (409) but their own rights
    # requests.
    RESTRICT_PROCESSING = "restrict_processing"
    # Article 21: out of analytics and out of rollout experiments (flags serve their defaults, never a bucket).
    OBJECT = "object"


ConsentSource = Literal["banner", "settings", "signup", "api", "gpc"]
PolicyVersion = Annotated[
    str, Field(pattern=POLICY_VERSION_PATTERN, description="The privacy-policy version the choice was made under")
]


class ConsentChange(Model):
    """What a user decides in one go: some purposes and cookie categories granted (true) or withdrawn (false)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purposes: dict[Purpose, bool] = Field(default_factory=dict)
    cookies: dict[CookieCategory, bool] = Field(default_factory=dict)
    rights: dict[Right, bool] = Field(
        default_factory=dict,
        description="`restrict_processing` (true restricts, false lifts the restriction) and `object` (true objects, "
        "false withdraws the objection)",
    )
    policy_version: PolicyVersion
    terms_version: PolicyVersion | None = Field(default=None, description="The terms version the user accepts")
    source: ConsentSource = "api"

    @model_validator(mode="after")
    def _something_and_nothing_impossible(self) -> ConsentChange:
        if not self.purposes and not self.cookies and not self.rights:
            raise ValueError("give at least one purpose, cookie category or right")
        if self.cookies.get(CookieCategory.NECESSARY) is False:
            raise ValueError("necessary cookies cannot be refused: the service does not work without them")
        return self


def honouring_gpc(change: ConsentChange) -> ConsentChange:
    """``change`` as a request carrying Global Privacy Control (``Sec-GPC: 1``) makes it: analytics and marketing
    withdrawn, as purposes and as cookie categories, whatever the body asked for them, with the source ``gpc``. The
    body's other choices stand."""
    refused = {Purpose.ANALYTICS: False, Purpose.MARKETING: False}
    cookies = {CookieCategory.ANALYTICS: False, CookieCategory.MARKETING: False}
    return change.model_copy(
        update={
            "purposes": {**change.purposes, **refused},
            "cookies": {**change.cookies, **cookies},
            "source": "gpc",
        }
    )


class Choice(Model):
    """The current choice of one purpose or cookie category."""

    model_config = ConfigDict(frozen=True)

    granted: bool
    at: datetime
    policy_version: str
    source: ConsentSource


class ConsentState(Model):
    """A user's current choices; ``version`` counts their changes (0: none recorded)."""

    model_config = ConfigDict(frozen=True)

    purposes: dict[Purpose, Choice] = Field(default_factory=dict)
    cookies: dict[CookieCategory, Choice] = Field(default_factory=dict)
    # Restriction and objection: ``granted`` true while the user exercises the right.
    rights: dict[Right, Choice] = Field(default_factory=dict)
    # The policy versions the user accepted last, by type (privacy_policy, terms).
    accepted: dict[str, str] = Field(default_factory=dict)
    version: int = 0
    updated_at: datetime | None = None

    @property
    def analytics_opt_out(self) -> bool:
        """Whether the user is out of analytics: they withdrew (or refused) the analytics purpose, or object."""
        choice = self.purposes.get(Purpose.ANALYTICS)
        return (choice is not None and not choice.granted) or self.objected

    @property
    def restricted(self) -> bool:
        """Whether the user restricted the processing of their data."""
        return _exercised(self.rights.get(Right.RESTRICT_PROCESSING))

    @property
    def objected(self) -> bool:
        """Whether the user objects to analytics and experiments."""
        return _exercised(self.rights.get(Right.OBJECT))


def _exercised(choice: Choice | None) -> bool:
    return choice is not None and choice.granted


class ConsentRecord(Model):
    """One choice as it was made: immutable, the evidence that consent was given or withdrawn (Article 7(1))."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    scope: Literal["purpose", "cookie", "right"]
    name: str
    granted: bool
    policy_version: str
    source: ConsentSource


class ConsentView(Model):
    """The consent answer: the current choices, whether the user is out of analytics, and the newest choices."""

    purposes: dict[Purpose, Choice]
    cookies: dict[CookieCategory, Choice]
    rights: dict[Right, Choice] = Field(default_factory=dict)
    analytics_opt_out: bool
    restricted: bool = Field(default=False, description="Processing restricted: every write but rights requests 409")
    objected: bool = Field(default=False, description="Out of analytics, and flags serve their defaults")
    accepted: dict[str, str] = Field(description="The policy versions accepted last, by type")
    version: int
    updated_at: datetime | None
    history: list[ConsentRecord] = Field(description=f"The newest {HISTORY_LIMIT} choices, newest first")


def apply(state: ConsentState, change: ConsentChange, now: datetime) -> tuple[ConsentState, list[ConsentRecord]]:
    """The state after ``change`` and a record of each choice it makes (every choice is recorded, a repeated one
    too: it may be made under a newer policy version). Making choices under a privacy-policy version accepts it,
    and ``terms_version`` accepts those terms."""

    def choice(granted: bool) -> Choice:
        return Choice(granted=granted, at=now, policy_version=change.policy_version, source=change.source)

    def record(scope: Literal["purpose", "cookie", "right"], name: str, granted: bool) -> ConsentRecord:
        return ConsentRecord(
            at=now,
            scope=scope,
            name=name,
            granted=granted,
            policy_version=change.policy_version,
            source=change.source,
        )

    purposes = {**state.purposes, **{p: choice(g) for p, g in change.purposes.items()}}
    cookies = {**state.cookies, **{c: choice(g) for c, g in change.cookies.items()}}
    records = [record("purpose", p.value, g) for p, g in change.purposes.items()]
    records += [record("cookie", c.value, g) for c, g in change.cookies.items()]
    rights = {**state.rights, **{r: choice(g) for r, g in change.rights.items()}}
    records += [record("right", r.value, g) for r, g in change.rights.items()]
    accepted = {**state.accepted, "privacy_policy": change.policy_version}
    if change.terms_version is not None:
        accepted["terms"] = change.terms_version
    updated = ConsentState(
        purposes=purposes,
        cookies=cookies,
        rights=rights,
        accepted=accepted,
        version=state.version + 1,
        updated_at=now,
    )
    return updated, records


def view(state: ConsentState, history: list[ConsentRecord]) -> ConsentView:
    return ConsentView(
        purposes=state.purposes,
        cookies=state.cookies,
        rights=state.rights,
        analytics_opt_out=state.analytics_opt_out,
        restricted=state.restricted,
        objected=state.objected,
        accepted=state.accepted,
        version=state.version,
        updated_at=state.updated_at,
        history=history,
    )
