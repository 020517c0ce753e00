"""Feature flags: microseconds per evaluation of Firstmile's evaluator, next to the GrowthBook and Unleash SDKs.

One neutral description of 50 realistic flags (targeting on country, plan, locale, seats and app version, user id
lists, percentage rollouts per rule from 1% to 90%, default-on flags with an exclusion, multi-variant flags with
weights, disabled flags) is turned into three flag sets that mean the same thing:

- **Firstmile**: the tenant's flags as ``firstmile.flags`` models, compiled once with ``compile_flag_set``, then
  ``evaluate(compiled, key, context)`` per flag (and, as a second row, ``evaluate_all(compiled, context)``), with an
  ``EvaluationContext`` built per user inside the timed loop;
- **GrowthBook** (``growthbook``): a features dict in one ``GrowthBook`` instance, no API host, no network;
  ``set_attributes`` per user, then ``is_on`` (``get_feature_value`` for variant flags). One instance re-used with
  ``set_attributes`` is the cheapest correct per-user way this SDK offers: a new instance per user cost 10-30% more
  in trials (10% with the features parsed into ``Feature`` objects once, 25-30% from the dict);
- **Unleash** (``UnleashClient``): the toggles in the client-features format, bootstrapped into an in-memory cache,
  ``initialize_client(fetch_toggles=False)`` with metrics and registration off, so nothing leaves the process;
  ``is_enabled`` (``get_variant`` for variant flags) with a context dict built once per user. The 6.x client hands
  every evaluation to its Rust engine (``yggdrasil-engine``) through ctypes; it is measured as installed.

10,000 users with realistic attributes are generated from a seed. First every engine answers every flag for every
user (not timed): the enabled shares per flag are compared with each other and with the share the neutral
description predicts, and flags that do not depend on hashing must agree user by user. Then, in each round, every
engine evaluates all 50 flags for a fixed sample of the users, in chunks of users evaluated by the engines in a
shuffled order, so the machine's noise falls on all of them alike. Reported per engine: the median and IQR over
rounds of the microseconds per evaluation, and the ratio of Firstmile's median to the faster SDK's.

Target: ratio < 1.0 (Firstmile faster than both SDKs). Run ``python bench/flags.py`` (``--help`` for options); it
exits 0 unless ``--fail-above RATIO`` asks it to gate.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import statistics
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from growthbook import GrowthBook
from UnleashClient import UnleashClient
from UnleashClient.cache import BaseCache
from UnleashClient.constants import FEATURES_URL

from bench.measure import Column, Samples, print_timings, run_header, run_interleaved
from firstmile.flags.logic import compile_flag_set, evaluate, evaluate_all
from firstmile.flags.models import Condition as FirstmileCondition
from firstmile.flags.models import (
    EvaluationContext,
    EvaluationResult,
    Flag,
    FlagSet,
    FlagType,
    Rule,
    Serve,
    Variant,
)
from firstmile.flags.models import Operator as FirstmileOperator

TARGET_RATIO = 1.0
# A request that evaluates one flag: at most half the faster SDK's time for the same request (issue 11).
SINGLE_TARGET_RATIO = 0.5
# Requests per round of the one-flag measurement, in multiples of the sample.
SINGLE_REQUESTS_PER_USER = 10
USERS = 10_000
SAMPLE_USERS = 2_000
# The columns of both timing tables (every evaluation, one flag a request).
TIMING_COLUMNS = (
    Column("median µs", "median_us", 9),
    Column("IQR µs", "iqr_us", 7),
    Column("CPU µs", "cpu_median_us", 7),
    Column("ratio", "ratio_to_fastest_sdk", 6),
    Column("CPU ratio", "cpu_ratio", 9),
    Column("paired", "paired_ratio", 6),
)

# ---------------------------------------------------------------------------------------------------------------------
# The neutral description: what a flag means, independent of any engine.
# ---------------------------------------------------------------------------------------------------------------------

Operator = Literal["eq", "neq", "in", "not_in", "starts_with", "gt", "gte", "lt", "lte", "semver_gte", "semver_lt"]
Attribute = Literal["user_id", "country", "plan", "locale", "seats", "app_version"]
Value = bool | str


@dataclass(frozen=True)
class Condition:
    """One test on a user attribute."""

    attribute: Attribute
    operator: Operator
    value: str | int | tuple[str, ...]

    def holds_for(self, user: User) -> bool:
        """The reference semantics, used to predict the shares and to check the engines' answers."""
        actual = getattr(user, self.attribute)
        v = self.value
        match self.operator:
            case "eq":
                return bool(actual == v)
            case "neq":
                return bool(actual != v)
            case "in":
                return actual in v  # type: ignore[operator]
            case "not_in":
                return actual not in v  # type: ignore[operator]
            case "starts_with":
                return str(actual).startswith(str(v))
            case "gt":
                return bool(actual > v)
            case "gte":
                return bool(actual >= v)
            case "lt":
                return bool(actual < v)
            case "lte":
                return bool(actual <= v)
            case "semver_gte":
                return version_tuple(str(actual)) >= version_tuple(str(v))
            case "semver_lt":
                return version_tuple(str(actual)) < version_tuple(str(v))
        raise ValueError(self.operator)


@dataclass(frozen=True)
class RuleSpec:
    """Users matching every condition get ``serve`` (or, in a variant flag, a variant by weight), ``percent`` of them.

    A matching user outside the rollout moves on to the next rule, in all three engines. The catalogue keeps every
    rule below 100% either last or disjoint from the rules after it (checked on the population at start), so the
    shares ``expected`` predicts do not depend on how an engine relates the rollouts of one flag's rules.
    """

    rule_id: str
    conditions: tuple[Condition, ...]
    percent: int = 100
    serve: bool = True

    def matches(self, user: User) -> bool:
        return all(c.holds_for(user) for c in self.conditions)


@dataclass(frozen=True)
class FlagSpec:
    """One flag of the catalogue: a boolean flag, or a variant flag when ``variants`` (name, weight in %) is set."""

    key: str
    rules: tuple[RuleSpec, ...]
    default: Value = False
    enabled: bool = True
    variants: tuple[tuple[str, int], ...] = ()
    description: str = ""

    @property
    def is_variant(self) -> bool:
        return bool(self.variants)

    @property
    def off_value(self) -> Value:
        """What a disabled flag serves: false, or a variant flag's default variant."""
        return self.default if self.is_variant else False

    def kind(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.is_variant:
            return "variants"
        if self.default is True:
            return "default on"
        return "hashed" if self.is_hashed() else "targeting"

    def is_hashed(self) -> bool:
        """Whether a user's answer depends on a hash (rollout below 100%, or variants), not on attributes alone."""
        return self.enabled and (self.is_variant or any(r.percent < 100 for r in self.rules))


@dataclass(frozen=True)
class User:
    user_id: str
    country: str
    locale: str
    plan: str
    seats: int
    app_version: str


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ---------------------------------------------------------------------------------------------------------------------
# The population and the catalogue.
# ---------------------------------------------------------------------------------------------------------------------

# Country: (weight, ((locale, weight), ...)).
MARKETS: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {
    "US": (28, (("en-US", 9), ("es-US", 1))),
    "GB": (10, (("en-GB", 1),)),
    "DE": (12, (("de-DE", 1),)),
    "FR": (8, (("fr-FR", 1),)),
    "AT": (2, (("de-AT", 1),)),
    "CH": (2, (("de-CH", 6), ("fr-CH", 4))),
    "NL": (3, (("nl-NL", 7), ("en-GB", 3))),
    "ES": (4, (("es-ES", 1),)),
    "CA": (5, (("en-CA", 3), ("fr-CA", 1))),
    "AU": (4, (("en-AU", 1),)),
    "BR": (6, (("pt-BR", 1),)),
    "IN": (8, (("en-IN", 7), ("hi-IN", 3))),
    "JP": (5, (("ja-JP", 1),)),
    "SA": (2, (("ar-SA", 1),)),
    "IL": (1, (("he-IL", 1),)),
}
PLANS = (("free", 55), ("starter", 20), ("pro", 18), ("enterprise", 7))
APP_VERSIONS = (
    ("2.9.4", 3),
    ("3.0.0", 3),
    ("3.4.2", 6),
    ("3.5.0", 6),
    ("3.9.1", 10),
    ("3.10.0", 12),
    ("3.10.3", 15),
    ("3.11.0", 18),
    ("3.12.1", 17),
    ("3.12.2", 10),
)
EU = ("AT", "DE", "ES", "FR", "NL")


def pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def generate_users(count: int, seed: int) -> list[User]:
    """``count`` users with random ids (``usr_`` and 12 hex digits, as user ids are) and correlated attributes."""
    rng = random.Random(seed)
    markets = [(c, w) for c, (w, _) in MARKETS.items()]
    seat_ranges = {"free": (1, 3), "starter": (1, 10), "pro": (3, 60), "enterprise": (20, 2000)}
    users: list[User] = []
    seen: set[str] = set()
    while len(users) < count:
        user_id = f"usr_{rng.getrandbits(48):012x}"
        if user_id in seen:
            continue
        seen.add(user_id)
        country = pick(rng, markets)
        plan = pick(rng, PLANS)
        low, high = seat_ranges[plan]
        seats = round(math.exp(rng.uniform(math.log(low), math.log(high))))
        users.append(
            User(
                user_id=user_id,
                country=country,
                locale=pick(rng, MARKETS[country][1]),
                plan=plan,
                seats=seats,
                app_version=pick(rng, APP_VERSIONS),
            )
        )
    return users


def c(attribute: Attribute, operator: Operator, value: str | int | Sequence[str]) -> Condition:
    frozen = value if isinstance(value, str | int) else tuple(value)
    return Condition(attribute, operator, frozen)


def rule(rule_id: str, *conditions: Condition, percent: int = 100, serve: bool = True) -> RuleSpec:
    return RuleSpec(rule_id, tuple(conditions), percent, serve)


def flag(key: str, *rules: RuleSpec, **options: Any) -> FlagSpec:
    return FlagSpec(key, tuple(rules), **options)


def flag_catalogue(users: Sequence[User], seed: int) -> list[FlagSpec]:
    """The tenant's 50 flags: 40 boolean flags that are on, 5 disabled flags and 5 variant flags."""
    rng = random.Random(seed + 1)
    ids = [u.user_id for u in users]

    def id_list(size: int) -> tuple[str, ...]:
        # Lists name a few ids that are not in the population too (deleted users, ids from other environments).
        return tuple(rng.sample(ids, size - 3)) + tuple(f"usr_{rng.getrandbits(48):012x}" for _ in range(3))

    testers, staff, billing_pilots = id_list(25), id_list(12), id_list(40)
    paid = ("starter", "pro", "enterprise")
    return [
        # Targeting, then a rollout to a segment.
        flag(
            "onboarding-checklist-v2",
            rule("testers", c("user_id", "in", testers)),
            rule("paid", c("plan", "in", ("pro", "enterprise")), percent=25),
        ),
        flag("guided-tour-dach", rule("dach", c("country", "in", ("DE", "AT", "CH")))),
        flag("guided-tour-french", rule("french", c("locale", "starts_with", "fr-"), percent=50)),
        flag(
            "new-billing-page",
            rule("enterprise", c("plan", "eq", "enterprise")),
            rule("pro", c("plan", "eq", "pro"), percent=10),
        ),
        flag("sso-setup-step", rule("large-enterprise", c("plan", "eq", "enterprise"), c("seats", "gte", 50))),
        flag("team-invite-prompt", rule("teams", c("seats", "gte", 5), percent=33)),
        flag("mobile-deep-links", rule("recent-app", c("app_version", "semver_gte", "3.10.0"))),
        flag(
            "mobile-offline-mode",
            rule(
                "north-america-latest",
                c("app_version", "semver_gte", "3.12.0"),
                c("country", "in", ("US", "CA")),
                percent=50,
            ),
        ),
        flag("legacy-import-banner", rule("old-app", c("app_version", "semver_lt", "3.0.0"))),
        flag("rollout-instant-search", rule("everyone", percent=5)),
        flag("rollout-notification-centre", rule("everyone", percent=20)),
        flag("rollout-dark-mode", rule("everyone", percent=50)),
        flag("rollout-ai-assistant", rule("everyone", percent=1)),
        flag("rollout-bulk-export", rule("everyone", percent=75)),
        flag("eu-data-residency-notice", rule("eu", c("country", "in", EU))),
        flag("usd-pricing", rule("usd-markets", c("country", "in", ("US", "CA")))),
        flag("brl-pricing", rule("brazil", c("country", "eq", "BR"), percent=90)),
        flag("japanese-onboarding-copy", rule("japanese", c("locale", "eq", "ja-JP"))),
        flag("right-to-left-layout", rule("rtl", c("locale", "in", ("ar-SA", "he-IL")))),
        flag(
            "upgrade-nudge",
            rule("growing-free", c("plan", "eq", "free"), c("seats", "gte", 3)),
            rule("free", c("plan", "eq", "free"), percent=10),
        ),
        flag(
            "trial-extension-offer", rule("small-starter", c("plan", "eq", "starter"), c("seats", "lt", 10), percent=50)
        ),
        flag("priority-support-chat", rule("paid-top", c("plan", "in", ("pro", "enterprise")))),
        flag(
            "usage-based-billing-preview",
            rule("pilots", c("user_id", "in", billing_pilots)),
            rule("enterprise", c("plan", "eq", "enterprise"), percent=5),
        ),
        flag("internal-debug-panel", rule("staff", c("user_id", "in", staff))),
        flag("webhooks-v2", rule("paying", c("plan", "neq", "free"), percent=25)),
        flag("api-rate-limit-banner", rule("very-large", c("seats", "gt", 100))),
        flag("small-team-templates", rule("small", c("seats", "lte", 3))),
        flag(
            "csv-import-wizard",
            rule("paying-english", c("plan", "neq", "free"), c("locale", "starts_with", "en-"), percent=40),
        ),
        flag("calendar-integration", rule("anglosphere", c("country", "in", ("US", "GB", "CA", "AU")), percent=60)),
        flag("slack-integration", rule("paid-top", c("plan", "in", ("pro", "enterprise")), percent=30)),
        flag("two-factor-nudge", rule("free", c("plan", "eq", "free"), percent=10)),
        flag("referral-programme", rule("markets", c("country", "not_in", ("IN", "BR", "SA", "IL")), percent=15)),
        flag(
            "workspace-ai-summary",
            rule("enterprise-latest", c("plan", "eq", "enterprise"), c("app_version", "semver_gte", "3.11.0")),
            rule("pro-latest", c("plan", "eq", "pro"), c("app_version", "semver_gte", "3.11.0"), percent=20),
        ),
        flag(
            "quick-start-video",
            rule("english", c("locale", "in", ("en-US", "en-GB"))),
            rule("german", c("locale", "eq", "de-DE"), percent=50),
        ),
        flag("onboarding-email-drip-v3", rule("free", c("plan", "eq", "free"), percent=50)),
        flag("seat-pricing-calculator", rule("mid-size", c("seats", "gte", 20), c("seats", "lt", 200))),
        # On by default, off for a segment.
        flag("new-dashboard", rule("not-enterprise-yet", c("plan", "eq", "enterprise"), serve=False), default=True),
        flag("animated-welcome", rule("old-app", c("app_version", "semver_lt", "3.5.0"), serve=False), default=True),
        flag("cookie-banner-v2", rule("not-us", c("country", "eq", "US"), serve=False), default=True),
        flag(
            "inline-help",
            rule("staff-off", c("user_id", "in", staff), serve=False),
            rule("paying", c("plan", "in", paid), percent=100),
            default=False,
        ),
        # Disabled (killed): off for everyone whatever the rules say.
        flag("legacy-checkout", rule("pro", c("plan", "eq", "pro")), enabled=False),
        flag(
            "beta-reporting", rule("testers", c("user_id", "in", testers)), rule("everyone", percent=50), enabled=False
        ),
        flag("holiday-theme", rule("north-america", c("country", "in", ("US", "CA"))), enabled=False),
        flag("old-onboarding-flow", default=True, enabled=False),
        flag("graph-view", rule("everyone", percent=10), enabled=False),
        # Variants with weights (in %): users no rule serves get the default variant.
        flag(
            "onboarding-checklist-layout",
            rule("everyone"),
            default="control",
            variants=(("control", 34), ("compact", 33), ("guided", 33)),
        ),
        flag(
            "pricing-page-headline",
            rule("anglo", c("country", "in", ("US", "GB", "CA"))),
            default="control",
            variants=(("value", 50), ("speed", 50)),
        ),
        flag(
            "welcome-email-subject",
            rule("everyone"),
            default="control",
            variants=(("control", 80), ("short", 10), ("personal", 10)),
        ),
        flag(
            "signup-form-steps",
            rule("free", c("plan", "eq", "free")),
            default="control",
            variants=(("one", 25), ("two", 25), ("three", 25), ("four", 25)),
        ),
        flag(
            "empty-state-illustration",
            rule("english", c("locale", "starts_with", "en-"), percent=50),
            default="control",
            variants=(("plain", 70), ("illustrated", 30)),
        ),
    ]


def check_order_independence(flags: Sequence[FlagSpec], users: Sequence[User]) -> list[str]:
    """Flags where a user matches a rule below 100% and a later rule too: there, ``expected`` would not hold."""
    problems = []
    for spec in flags:
        for index, partial in enumerate(spec.rules):
            later = spec.rules[index + 1 :]
            if partial.percent == 100 or not later:
                continue
            if any(partial.matches(u) and any(r.matches(u) for r in later) for u in users):
                problems.append(f"{spec.key}: rule {partial.rule_id!r} overlaps a later rule")
    return problems


@dataclass
class Expectation:
    """What the neutral description predicts over the population: the share of each value, and its sampling spread.

    A matching user is served by a rule with probability ``percent``/100 (a fair hash), independently per user, so
    the number of users served a value is a sum of independent Bernoulli draws: its mean and variance are exact.
    """

    shares: dict[str, float]
    sigma: float  # standard deviation of the "enabled" share (non-default variants for a variant flag)
    deterministic: list[Value] | None  # the answer per user when no hash is involved


def expected(spec: FlagSpec, users: Sequence[User]) -> Expectation:
    totals: dict[str, float] = {}
    variance = 0.0
    answers: list[Value] = []
    total = sum(w for _, w in spec.variants)
    weights = [(name, w / total) for name, w in spec.variants]
    for user in users:
        distribution: dict[str, float] = {}
        remaining = 1.0
        if spec.enabled:
            for r in spec.rules:
                if remaining == 0 or not r.matches(user):
                    continue
                served = remaining * r.percent / 100
                if spec.is_variant:
                    for name, w in weights:
                        distribution[name] = distribution.get(name, 0.0) + served * w
                else:
                    key = str(r.serve)
                    distribution[key] = distribution.get(key, 0.0) + served
                remaining -= served
            fallback = str(spec.default)
        else:
            fallback = str(spec.off_value)
        distribution[fallback] = distribution.get(fallback, 0.0) + remaining
        for key, share in distribution.items():
            totals[key] = totals.get(key, 0.0) + share
        on = enabled_share_of(spec, distribution)
        variance += on * (1 - on)
        if not spec.is_hashed():
            answers.append(parse_value(spec, max(distribution, key=lambda k: distribution[k])))
    n = len(users)
    return Expectation(
        shares={k: v / n for k, v in totals.items()},
        sigma=math.sqrt(variance) / n,
        deterministic=None if spec.is_hashed() else answers,
    )


def enabled_share_of(spec: FlagSpec, shares: dict[str, float]) -> float:
    """The share counted as "enabled": true for a boolean flag, any variant but the default for a variant flag."""
    if spec.is_variant:
        return sum(v for k, v in shares.items() if k != str(spec.default))
    return shares.get("True", 0.0)


def parse_value(spec: FlagSpec, text: str) -> Value:
    return text if spec.is_variant else text == "True"


# ---------------------------------------------------------------------------------------------------------------------
# The three representations.
# ---------------------------------------------------------------------------------------------------------------------

GROWTHBOOK_OPERATORS = {
    "eq": "$eq",
    "neq": "$ne",
    "in": "$in",
    "not_in": "$nin",
    "gt": "$gt",
    "gte": "$gte",
    "lt": "$lt",
    "lte": "$lte",
    "semver_gte": "$vgte",
    "semver_lt": "$vlt",
}
GROWTHBOOK_ATTRIBUTES = {"user_id": "id"}


def growthbook_condition(conditions: Sequence[Condition]) -> dict[str, Any]:
    condition: dict[str, dict[str, Any]] = {}
    for cond in conditions:
        attribute = GROWTHBOOK_ATTRIBUTES.get(cond.attribute, cond.attribute)
        value = list(cond.value) if isinstance(cond.value, tuple) else cond.value
        if cond.operator == "starts_with":
            # GrowthBook has no prefix operator: an anchored regular expression is its equivalent.
            condition.setdefault(attribute, {})["$regex"] = "^" + re.escape(str(value))
        else:
            condition.setdefault(attribute, {})[GROWTHBOOK_OPERATORS[cond.operator]] = value
    return condition


def growthbook_features(flags: Sequence[FlagSpec]) -> dict[str, Any]:
    """The flags as a GrowthBook SDK payload's ``features``.

    Rollouts hash the user id with hash version 2, seeded with the flag's key (GrowthBook's default seed), as
    Firstmile's bucketing is salted per flag, so two flags at 10% pick different users.
    GrowthBook's payload has no per-feature on/off switch: a disabled flag is its off value with no rules.
    """
    features: dict[str, Any] = {}
    for spec in flags:
        if not spec.enabled:
            features[spec.key] = {"defaultValue": spec.off_value, "rules": []}
            continue
        rules = []
        for r in spec.rules:
            entry: dict[str, Any] = {"id": r.rule_id, "hashAttribute": "id", "hashVersion": 2}
            if r.conditions:
                entry["condition"] = growthbook_condition(r.conditions)
            if spec.is_variant:
                total = sum(w for _, w in spec.variants)
                entry |= {
                    "key": spec.key,
                    "seed": spec.key,
                    "variations": [name for name, _ in spec.variants],
                    "weights": [w / total for _, w in spec.variants],
                    "coverage": r.percent / 100,
                }
            else:
                entry["force"] = r.serve
                if r.percent < 100:
                    entry |= {"coverage": r.percent / 100, "seed": spec.key}
            rules.append(entry)
        features[spec.key] = {"defaultValue": spec.default, "rules": rules}
    return features


def growthbook_attributes(user: User) -> dict[str, Any]:
    return {
        "id": user.user_id,
        "country": user.country,
        "locale": user.locale,
        "plan": user.plan,
        "seats": user.seats,
        "app_version": user.app_version,
    }


UNLEASH_OPERATORS: dict[str, tuple[str, bool]] = {
    # operator: (Unleash operator, inverted)
    "eq": ("IN", False),
    "neq": ("IN", True),
    "in": ("IN", False),
    "not_in": ("NOT_IN", False),
    "starts_with": ("STR_STARTS_WITH", False),
    "gt": ("NUM_GT", False),
    "gte": ("NUM_GTE", False),
    "lt": ("NUM_LT", False),
    "lte": ("NUM_LTE", False),
    # Unleash has SEMVER_EQ, SEMVER_GT and SEMVER_LT only: "at least" is an inverted "less than".
    "semver_gte": ("SEMVER_LT", True),
    "semver_lt": ("SEMVER_LT", False),
}
UNLEASH_CONTEXT_FIELDS = {"user_id": "userId"}


def unleash_constraint(cond: Condition, *, negate: bool = False) -> dict[str, Any]:
    operator, inverted = UNLEASH_OPERATORS[cond.operator]
    constraint: dict[str, Any] = {
        "contextName": UNLEASH_CONTEXT_FIELDS.get(cond.attribute, cond.attribute),
        "operator": operator,
        "inverted": inverted != negate,
        "caseInsensitive": False,
    }
    if operator in ("IN", "NOT_IN", "STR_STARTS_WITH"):
        constraint["values"] = list(cond.value) if isinstance(cond.value, tuple) else [str(cond.value)]
    else:
        constraint["value"] = str(cond.value)
    return constraint


def unleash_toggles(flags: Sequence[FlagSpec]) -> dict[str, Any]:
    """The flags in Unleash's client-features format.

    An Unleash toggle is on when any of its strategies is: there is no "serve false" rule and no default value. A rule
    that turns a flag off becomes the inverted constraint of every later strategy (possible when it has one
    condition and no rollout), and a default of true becomes a last strategy for everyone those rules left.
    """
    features = []
    for spec in flags:
        strategies: list[dict[str, Any]] = []
        excluded: list[dict[str, Any]] = []
        for r in spec.rules:
            if not spec.is_variant and not r.serve:
                if len(r.conditions) != 1 or r.percent != 100:
                    raise ValueError(f"{spec.key}: Unleash cannot express rule {r.rule_id!r}")
                excluded.append(unleash_constraint(r.conditions[0], negate=True))
                continue
            only_ids = len(r.conditions) == 1 and r.conditions[0].attribute == "user_id"
            if only_ids and r.conditions[0].operator == "in" and r.percent == 100 and not excluded:
                ids = r.conditions[0].value
                assert isinstance(ids, tuple)
                strategies.append({"name": "userWithId", "parameters": {"userIds": ",".join(ids)}, "constraints": []})
                continue
            strategy: dict[str, Any] = {
                "name": "flexibleRollout",
                "parameters": {"rollout": str(r.percent), "stickiness": "userId", "groupId": spec.key},
                "constraints": excluded + [unleash_constraint(cond) for cond in r.conditions],
            }
            if spec.is_variant:
                # Unleash weighs variants out of 1000.
                total = sum(w for _, w in spec.variants)
                strategy["variants"] = [
                    {"name": name, "weight": w * 1000 // total, "stickiness": "userId", "weightType": "variable"}
                    for name, w in spec.variants
                ]
            strategies.append(strategy)
        if spec.default is True and not spec.is_variant:
            strategies.append(
                {
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "100", "stickiness": "userId", "groupId": spec.key},
                    "constraints": excluded,
                }
            )
        features.append(
            {"name": spec.key, "type": "release", "enabled": spec.enabled, "strategies": strategies, "variants": []}
        )
    return {"version": 2, "features": features}


def unleash_context(user: User, now: str) -> dict[str, Any]:
    return {
        "userId": user.user_id,
        "currentTime": now,
        "properties": {
            "country": user.country,
            "locale": user.locale,
            "plan": user.plan,
            "seats": str(user.seats),
            "app_version": user.app_version,
        },
    }


# ---------------------------------------------------------------------------------------------------------------------
# The engines under measurement.
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Engine(Samples):
    """One way of evaluating every flag for a user, with its per-evaluation times (seconds) per round."""

    name: str
    # Evaluates every flag for the users numbered [start, stop) of the timing sample.
    evaluate: Callable[[int, int], None] = field(repr=False)
    # Every flag's value for one user of the population, in catalogue order (not timed).
    answers: Callable[[int], list[Value]] = field(repr=False)
    kind: Literal["firstmile", "sdk"] = "sdk"
    version: str = ""
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None


def growthbook_engine(flags: Sequence[FlagSpec], users: Sequence[User], sample: Sequence[User]) -> Engine:
    gb = GrowthBook(features=growthbook_features(flags))
    population = [growthbook_attributes(u) for u in users]
    timed = [growthbook_attributes(u) for u in sample]
    plan = [(spec.key, spec.is_variant, spec.default) for spec in flags]

    def evaluate(start: int, stop: int) -> None:
        set_attributes, is_on, value_of = gb.set_attributes, gb.is_on, gb.get_feature_value
        for attributes in timed[start:stop]:
            set_attributes(attributes)
            for key, is_variant, default in plan:
                if is_variant:
                    value_of(key, default)
                else:
                    is_on(key)

    def answers(index: int) -> list[Value]:
        gb.set_attributes(population[index])
        return [gb.get_feature_value(key, default) if v else gb.is_on(key) for key, v, default in plan]

    return Engine(
        "GrowthBook",
        evaluate,
        answers,
        version=metadata.version("growthbook"),
        notes=["a disabled flag is its off value with no rules (the SDK payload has no per-feature switch)"],
        close=gb.destroy,
    )


class BootstrapCache(BaseCache):
    """An in-memory cache holding the bootstrapped toggles: nothing is written to disk, nothing fetched."""

    def __init__(self, toggles: dict[str, Any]) -> None:
        self._values: dict[str, Any] = {FEATURES_URL: json.dumps(toggles)}
        self.bootstrapped = True

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._values.update(data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._values

    def destroy(self) -> None:
        self._values.clear()


def unleash_engine(flags: Sequence[FlagSpec], users: Sequence[User], sample: Sequence[User]) -> Engine:
    toggles = unleash_toggles(flags)
    client = UnleashClient(
        url="http://127.0.0.1:9/api",  # never called: registration, metrics and fetching are all off
        app_name="firstmile-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=BootstrapCache(toggles),
    )
    client.initialize_client(fetch_toggles=False)
    # A request's time, taken once per user as a caller would, so the client does not read the clock per flag.
    now = datetime.now(UTC).isoformat()
    population = [unleash_context(u, now) for u in users]
    timed = [unleash_context(u, now) for u in sample]
    plan = [(spec.key, spec.is_variant, spec.default) for spec in flags]

    def evaluate(start: int, stop: int) -> None:
        is_enabled, get_variant = client.is_enabled, client.get_variant
        for context in timed[start:stop]:
            for key, is_variant, _ in plan:
                if is_variant:
                    get_variant(key, context)
                else:
                    is_enabled(key, context)

    def variant_of(key: str, default: Value, context: dict[str, Any]) -> Value:
        variant = client.get_variant(key, context)
        return str(variant["name"]) if variant.get("enabled") else default

    def answers(index: int) -> list[Value]:
        context = population[index]
        return [variant_of(key, d, context) if v else client.is_enabled(key, context) for key, v, d in plan]

    return Engine(
        "Unleash",
        evaluate,
        answers,
        version=f"{metadata.version('UnleashClient')}, yggdrasil-engine {metadata.version('yggdrasil-engine')}",
        notes=[
            "a rule serving false becomes an inverted constraint on the later strategies",
            "semver_gte is an inverted SEMVER_LT (Unleash has no SEMVER_GTE)",
            "a default of true is a last strategy for every user the rules serving false leave",
        ],
        close=client.destroy,
    )


TENANT = "t-bench"


def firstmile_flag_set(flags: Sequence[FlagSpec]) -> FlagSet:
    """The flags as one tenant's ``FlagSet``.

    A variant flag declares its default as a variant too (weight 0 when it is not in the split), because Firstmile
    serves a declared variant when a flag is off or no rule serves.
    """
    built: dict[str, Flag] = {}
    for spec in flags:
        serve = Serve(split=True) if spec.is_variant else None
        rules = [
            Rule(
                id=r.rule_id,
                conditions=[
                    FirstmileCondition(
                        attribute=cond.attribute,
                        operator=FirstmileOperator(cond.operator),
                        value=list(cond.value) if isinstance(cond.value, tuple) else cond.value,
                    )
                    for cond in r.conditions
                ],
                percentage=r.percent,
                serve=serve or Serve(value=r.serve),
            )
            for r in spec.rules
        ]
        if spec.is_variant:
            weights = dict(spec.variants)
            names = [str(spec.default), *(name for name, _ in spec.variants if name != spec.default)]
            built[spec.key] = Flag(
                key=spec.key,
                type=FlagType.VARIANTS,
                variants=[Variant(key=name, value=name, weight=weights.get(name, 0)) for name in names],
                off_variant=str(spec.default),
                enabled=spec.enabled,
                rules=rules,
                fallthrough=Serve(variant=str(spec.default)),
            )
        else:
            built[spec.key] = Flag(
                key=spec.key,
                enabled=spec.enabled,
                rules=rules,
                fallthrough=Serve(value=True) if spec.default is True else None,
            )
    return FlagSet(tenant=TENANT, version=1, flags=built)


def firstmile_context(user: User) -> dict[str, Any]:
    """The fields of the user's ``EvaluationContext``, as the token and the client attributes give them."""
    return {
        "tenant": TENANT,
        "user_id": user.user_id,
        "attributes": {
            "country": user.country,
            "locale": user.locale,
            "plan": user.plan,
            "seats": user.seats,
            "app_version": user.app_version,
        },
    }


def firstmile_engines(flags: Sequence[FlagSpec], users: Sequence[User], sample: Sequence[User]) -> list[Engine]:
    """Firstmile's evaluator on one compiled flag set: ``evaluate`` per flag, and ``evaluate_all`` per user.

    The ``EvaluationContext`` is built per user inside the timed loop, as each request builds one: from the verified
    token and the validated request, without validating again (``EvaluationContext.of_caller``).
    """
    compiled = compile_flag_set(firstmile_flag_set(flags))
    population = [firstmile_context(u) for u in users]
    timed = [firstmile_context(u) for u in sample]
    keys = [spec.key for spec in flags]
    variant_flags = {spec.key for spec in flags if spec.is_variant}
    now = datetime.now(UTC)

    def per_flag(start: int, stop: int) -> None:
        of_caller = EvaluationContext.of_caller
        for fields in timed[start:stop]:
            context = of_caller(fields["tenant"], fields["user_id"], fields["attributes"], now)
            for key in keys:
                evaluate(compiled, key, context)

    def all_flags(start: int, stop: int) -> None:
        of_caller = EvaluationContext.of_caller
        for fields in timed[start:stop]:
            evaluate_all(compiled, of_caller(fields["tenant"], fields["user_id"], fields["attributes"], now))

    def value_of(result: EvaluationResult) -> Value:
        return str(result.variant) if result.flag_key in variant_flags else result.value is True

    def answers(index: int) -> list[Value]:
        context = EvaluationContext(**population[index])
        return [value_of(evaluate(compiled, key, context)) for key in keys]

    def answers_all(index: int) -> list[Value]:
        results = evaluate_all(compiled, EvaluationContext(**population[index]))
        return [value_of(results[key]) for key in keys]

    return [
        Engine("Firstmile evaluate", per_flag, answers, kind="firstmile", version="this tree"),
        Engine("Firstmile evaluate_all", all_flags, answers_all, kind="firstmile", version="this tree"),
    ]


def single_flag_engines(flags: Sequence[FlagSpec], sample: Sequence[User]) -> list[Engine]:
    """One request evaluating one flag, per engine: the request's per-user set-up, then that one flag.

    Request ``i`` is made by user ``i mod len(sample)`` and asks for one flag spread over all 50, so every engine
    answers the same requests. Firstmile does what ``POST /v1/flags/evaluate`` with one named flag does after the
    flag set is cached: the caller's context (``of_caller``), then ``evaluate_all`` of that one key; the row with a
    validated context (``EvaluationContext(...)``, as before decision 0045) shows what validating again costs.
    GrowthBook sets the user's attributes and asks the flag; Unleash asks the flag with the user's context dict.
    """
    compiled = compile_flag_set(firstmile_flag_set(flags))
    contexts = [firstmile_context(u) for u in sample]
    gb = GrowthBook(features=growthbook_features(flags))
    gb_attributes = [growthbook_attributes(u) for u in sample]
    client = UnleashClient(
        url="http://127.0.0.1:9/api",
        app_name="firstmile-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=BootstrapCache(unleash_toggles(flags)),
    )
    client.initialize_client(fetch_toggles=False)
    now = datetime.now(UTC)
    unleash_contexts = [unleash_context(u, now.isoformat()) for u in sample]
    plan = [(spec.key, spec.is_variant, spec.default) for spec in flags]
    users = len(sample)

    def asked(i: int) -> tuple[str, bool, Value]:
        return plan[(7 * i + i // users) % len(plan)]

    def firstmile(start: int, stop: int) -> None:
        of_caller = EvaluationContext.of_caller
        for i in range(start, stop):
            fields = contexts[i % users]
            context = of_caller(fields["tenant"], fields["user_id"], fields["attributes"], now)
            evaluate_all(compiled, context, (asked(i)[0],))

    def firstmile_validated(start: int, stop: int) -> None:
        for i in range(start, stop):
            context = EvaluationContext(**contexts[i % users], now=now)
            evaluate_all(compiled, context, (asked(i)[0],))

    def growthbook(start: int, stop: int) -> None:
        for i in range(start, stop):
            gb.set_attributes(gb_attributes[i % users])
            key, is_variant, default = asked(i)
            if is_variant:
                gb.get_feature_value(key, default)
            else:
                gb.is_on(key)

    def unleash(start: int, stop: int) -> None:
        for i in range(start, stop):
            key, is_variant, _ = asked(i)
            if is_variant:
                client.get_variant(key, unleash_contexts[i % users])
            else:
                client.is_enabled(key, unleash_contexts[i % users])

    def not_compared(_index: int) -> list[Value]:
        return []

    return [
        Engine("Firstmile, 1 flag", firstmile, not_compared, kind="firstmile", version="this tree"),
        Engine("Firstmile, 1 flag, validated context", firstmile_validated, not_compared, kind="firstmile"),
        Engine(
            "GrowthBook, 1 flag", growthbook, not_compared, version=metadata.version("growthbook"), close=gb.destroy
        ),
        Engine("Unleash, 1 flag", unleash, not_compared, close=client.destroy),
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Running, comparing, reporting.
# ---------------------------------------------------------------------------------------------------------------------


def collect_answers(engine: Engine, users: int) -> list[list[Value]]:
    """Every flag's value for every user: ``[flag][user]``."""
    per_user = [engine.answers(i) for i in range(users)]
    return [list(column) for column in zip(*per_user, strict=True)]


def run_rounds(engines: list[Engine], sample: int, chunk: int, rounds: int, warmup: int, flags: int, seed: int) -> None:
    """Every engine evaluates every flag for every user of the sample once per round; warm-up rounds are not kept.

    A round goes through the sample in chunks of users, and each chunk is evaluated by every engine in a shuffled
    order, so a burst of noise from the rest of the machine falls on all of them alike.
    """
    run_interleaved(
        engines,
        lambda engine, first, last: engine.evaluate(first, last),
        size=sample,
        chunk=chunk,
        rounds=rounds,
        warmup=warmup,
        seed=seed,
        per_round=sample * flags,
    )


@dataclass
class FlagComparison:
    spec: FlagSpec
    expected: float
    sigma: float
    shares: dict[str, float]  # engine name -> enabled share
    variant_shares: dict[str, dict[str, float]]  # engine name -> variant -> share (variant flags)
    expected_variants: dict[str, float]
    mismatched_users: dict[str, int]  # engine name -> users answered differently from the reference (no hash)


def compare(
    flags: Sequence[FlagSpec], users: Sequence[User], answers: dict[str, list[list[Value]]]
) -> list[FlagComparison]:
    rows = []
    n = len(users)
    for index, spec in enumerate(flags):
        expectation = expected(spec, users)
        shares, variants, mismatched = {}, {}, {}
        for name, table in answers.items():
            column = table[index]
            counts: dict[str, float] = {}
            for value in column:
                counts[str(value)] = counts.get(str(value), 0) + 1
            distribution = {k: v / n for k, v in counts.items()}
            shares[name] = enabled_share_of(spec, distribution)
            variants[name] = distribution
            if expectation.deterministic is not None:
                mismatched[name] = sum(a != b for a, b in zip(column, expectation.deterministic, strict=True))
        rows.append(
            FlagComparison(
                spec=spec,
                expected=enabled_share_of(spec, expectation.shares),
                sigma=expectation.sigma,
                shares=shares,
                variant_shares=variants,
                expected_variants=expectation.shares,
                mismatched_users=mismatched,
            )
        )
    return rows


def equivalence_summary(rows: list[FlagComparison], names: list[str]) -> dict[str, Any]:
    """Mean and largest absolute differences of the enabled shares between engines, and against the prediction."""
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    summary: dict[str, Any] = {"pairs": {}, "against_expected": {}}
    for a, b in pairs:
        diffs = [abs(r.shares[a] - r.shares[b]) for r in rows]
        summary["pairs"][f"{a} vs {b}"] = {
            "mean_abs_pts": 100 * statistics.fmean(diffs),
            "max_abs_pts": 100 * max(diffs),
        }
    for name in names:
        z = [abs(r.shares[name] - r.expected) / r.sigma for r in rows if r.sigma > 0]
        worst = max(rows, key=lambda r: abs(r.shares[name] - r.expected) / r.sigma if r.sigma > 0 else 0.0)
        summary["against_expected"][name] = {
            "mean_abs_pts": 100 * statistics.fmean(abs(r.shares[name] - r.expected) for r in rows),
            "max_z": max(z, default=0.0),
            "worst_flag": worst.spec.key,
            "users_differing_on_unhashed_flags": sum(r.mismatched_users.get(name, 0) for r in rows),
        }
    return summary


def timing_results(
    engines: list[Engine], target: float, *, strict: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per engine, against the faster SDK; Firstmile's status is ``ok`` below ``target`` (at or below it
    when not ``strict``)."""
    sdks = [e for e in engines if e.kind == "sdk"]
    fastest = min(sdks, key=lambda e: e.median())
    rows = []
    for engine in engines:
        paired = [s / f for s, f in zip(engine.samples, fastest.samples, strict=True)]
        ratio = engine.median() / fastest.median()
        rows.append(
            {
                "engine": engine.name,
                "kind": engine.kind,
                "version": engine.version,
                "median_us": engine.median() * 1e6,
                "iqr_us": engine.iqr() * 1e6,
                "cpu_median_us": engine.cpu_median() * 1e6,
                "ratio_to_fastest_sdk": ratio,
                "cpu_ratio": engine.cpu_median() / fastest.cpu_median(),
                "paired_ratio": statistics.median(paired),
                "status": (
                    ("ok" if ratio < target or (not strict and ratio == target) else "above target")
                    if engine.kind == "firstmile"
                    else "reference"
                ),
                "samples_us": [round(s * 1e6, 4) for s in engine.samples],
            }
        )
    return rows, {"fastest_sdk": fastest.name}


def print_report(
    meta: dict[str, Any],
    comparisons: list[FlagComparison],
    summary: dict[str, Any],
    timings: list[dict[str, Any]],
    fastest: str,
    engines: list[Engine],
    full_table: bool,
) -> None:
    print("Feature flags: microseconds per evaluation, Firstmile's evaluator next to the GrowthBook and Unleash SDKs")
    print(f"  run at      {meta['run_at']}")
    print(f"  python      {meta['python']} on {meta['platform']}")
    print(f"  machine     {meta['cpu']}, {meta['cores']} cores")
    print(
        f"  libraries   growthbook {meta['growthbook']}, UnleashClient {meta['unleash']}, pydantic {meta['pydantic']}"
    )
    print(f"  flags       {meta['flags']} ({meta['flag_kinds']}), {meta['users']:,} users with attributes")
    print(
        f"  method      {meta['rounds']} rounds (+{meta['warmup_rounds']} warm-up) x {meta['sample']:,} users x "
        f"{meta['flags']} flags, interleaved in shuffled order every {meta['chunk']} users"
    )
    for engine in engines:
        for note in engine.notes:
            print(f"  note        {engine.name}: {note}")
    print()

    names = list(comparisons[0].shares) if comparisons else []
    print("Enabled share per flag over all users (%; variant flags: share not given the default variant)")
    width = max(len(r.spec.key) for r in comparisons)
    header = f"{'flag':<{width}}  {'kind':<10}  {'expected':>8}  " + "  ".join(f"{n:>10}" for n in names)
    header += "  agree?"
    print(header)
    print("-" * len(header))
    named = {"rollout-ai-assistant", "brl-pricing", "new-dashboard", "beta-reporting", "onboarding-checklist-layout"}
    for r in comparisons:
        if not full_table and r.spec.key not in named and not any(r.mismatched_users.values()):
            continue
        if r.mismatched_users:
            agree = "same users" if not any(r.mismatched_users.values()) else "DIFFERENT USERS"
        elif r.sigma == 0:
            # Every matching user gets some variant: the share is not hashed even if the variant is.
            agree = "same share" if all(abs(r.shares[n] - r.expected) < 1e-9 for n in names) else "DIFFERENT SHARE"
        else:
            agree = f"within {max(abs(r.shares[n] - r.expected) / r.sigma for n in names):.1f}σ"
        cells = "  ".join(f"{100 * r.shares[n]:>10.2f}" for n in names)
        print(f"{r.spec.key:<{width}}  {r.spec.kind():<10}  {100 * r.expected:>8.2f}  {cells}  {agree}")
    if not full_table:
        print(f"({len(comparisons)} flags; --all-flags prints every one)")
    print()

    variant_rows = [r for r in comparisons if r.spec.is_variant and r.spec.enabled]
    if variant_rows:
        print("Variant shares (%), expected / " + " / ".join(names))
        for r in variant_rows:
            parts = []
            for variant in [str(r.spec.default)] + [v for v, _ in r.spec.variants if v != r.spec.default]:
                got = " / ".join(f"{100 * r.variant_shares[n].get(variant, 0.0):.1f}" for n in names)
                parts.append(f"{variant} {100 * r.expected_variants.get(variant, 0.0):.1f} / {got}")
            print(f"  {r.spec.key}: " + "; ".join(parts))
        print()

    print("Equivalence")
    for pair, values in summary["pairs"].items():
        print(f"  {pair:<33} mean |Δ| {values['mean_abs_pts']:.2f} pts, largest {values['max_abs_pts']:.2f} pts")
    for name, values in summary["against_expected"].items():
        print(
            f"  {name:<10} vs expected: mean |Δ| {values['mean_abs_pts']:.2f} pts, largest {values['max_z']:.1f}σ "
            f"({values['worst_flag']}); users answered differently on unhashed flags: "
            f"{values['users_differing_on_unhashed_flags']}"
        )
    agrees = "yes" if summary["evaluate_all_agrees_with_evaluate"] else "NO"
    print(f"  Firstmile evaluate_all answers what evaluate answers, for every user and flag: {agrees}")
    print(
        "  (hashed rollouts pick different users in each engine by design; σ is the spread a fair hash gives over "
        "these users)"
    )
    print()

    if not timings:
        return
    print("Time per evaluation (one flag, one user; the per-user context set-up included)")
    print_timings("engine", TIMING_COLUMNS, timings)
    print()
    print(
        f"target: ratio < {meta['target_ratio']:.2f} against the faster SDK ({fastest}); "
        "paired: median of the per-round ratios"
    )


def print_single_report(meta: dict[str, Any], timings: list[dict[str, Any]], fastest: str) -> None:
    print()
    print(
        f"Time per request evaluating one flag ({meta['single_requests_per_round']:,} requests per round over the "
        f"{meta['sample']:,} users; the request's context set-up included)"
    )
    print_timings("engine", TIMING_COLUMNS, timings)
    print()
    print(f"target: ratio <= {meta['single_target_ratio']:.2f} against the faster SDK ({fastest})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=USERS, help=f"users generated (default: {USERS:,})")
    parser.add_argument(
        "--sample", type=int, default=SAMPLE_USERS, help=f"users evaluated per timed round (default: {SAMPLE_USERS:,})"
    )
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (default: 7)")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded rounds first (default: 1)")
    parser.add_argument("--chunk", type=int, default=50, help="users per interleaving step (default: 50)")
    parser.add_argument("--target", type=float, default=TARGET_RATIO, help="ratio to stay under (default: 1.0)")
    parser.add_argument("--fail-above", type=float, metavar="RATIO", help="exit 1 if Firstmile's ratio exceeds RATIO")
    parser.add_argument(
        "--single-target",
        type=float,
        default=SINGLE_TARGET_RATIO,
        help=f"ratio a one-flag request should stay under (default: {SINGLE_TARGET_RATIO})",
    )
    parser.add_argument(
        "--single-fail-above", type=float, metavar="RATIO", help="exit 1 if a one-flag request's ratio exceeds RATIO"
    )
    parser.add_argument("--all-flags", action="store_true", help="print the share of every flag, not a few")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--seed", type=int, default=0, help="seed of the users, the id lists and the shuffles")
    args = parser.parse_args(argv)
    if min(args.users, args.sample, args.rounds, args.chunk) < 1 or args.warmup < 0:
        parser.error("--users, --sample, --rounds and --chunk must be at least 1, --warmup at least 0")
    args.sample = min(args.sample, args.users)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    # The SDKs log a warning per unknown flag and per scheduler start; none is expected, and none should garble the
    # report.
    logging.getLogger("UnleashClient").setLevel(logging.ERROR)
    logging.getLogger("growthbook").setLevel(logging.ERROR)
    warnings.simplefilter("ignore", DeprecationWarning)

    users = generate_users(args.users, args.seed)
    flags = flag_catalogue(users, args.seed)
    for problem in check_order_independence(flags, users):
        print(f"warning: {problem}", file=sys.stderr)
    sample = random.Random(args.seed + 2).sample(users, args.sample)

    engines = [
        *firstmile_engines(flags, users, sample),
        growthbook_engine(flags, users, sample),
        unleash_engine(flags, users, sample),
    ]
    try:
        answers = {e.name: collect_answers(e, len(users)) for e in engines}
        # evaluate_all must answer what evaluate answers; the shares are then compared once for Firstmile.
        all_agree = answers.pop("Firstmile evaluate_all") == answers["Firstmile evaluate"]
        answers["Firstmile"] = answers.pop("Firstmile evaluate")
        answers = {name: answers[name] for name in ("Firstmile", "GrowthBook", "Unleash")}
        comparisons = compare(flags, users, answers)
        summary = equivalence_summary(comparisons, list(answers))
        summary["evaluate_all_agrees_with_evaluate"] = all_agree
        run_rounds(engines, len(sample), args.chunk, args.rounds, args.warmup, len(flags), args.seed)
    finally:
        for engine in engines:
            engine.close()
    singles = single_flag_engines(flags, sample)
    try:
        requests = SINGLE_REQUESTS_PER_USER * len(sample)
        run_interleaved(
            singles,
            lambda engine, first, last: engine.evaluate(first, last),
            size=requests,
            chunk=args.chunk,
            rounds=args.rounds,
            warmup=args.warmup,
            seed=args.seed,
            per_round=requests,
        )
    finally:
        for engine in singles:
            engine.close()
    timings, fastest = timing_results(engines, args.target)
    single_timings, single_fastest = timing_results(singles, args.single_target, strict=False)
    kinds: dict[str, int] = {}
    for spec in flags:
        kinds[spec.kind()] = kinds.get(spec.kind(), 0) + 1
    meta = {
        **run_header(started),
        "growthbook": metadata.version("growthbook"),
        "unleash": next(e.version for e in engines if e.name == "Unleash"),
        "pydantic": metadata.version("pydantic"),
        "flags": len(flags),
        "flag_kinds": ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])),
        "users": len(users),
        "sample": len(sample),
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "chunk": args.chunk,
        "seed": args.seed,
        "target_ratio": args.target,
    }
    meta["single_requests_per_round"] = requests
    meta["single_target_ratio"] = args.single_target
    print_report(meta, comparisons, summary, timings, fastest["fastest_sdk"], engines, args.all_flags)
    print_single_report(meta, single_timings, single_fastest["fastest_sdk"])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        shares = [
            {"flag": r.spec.key, "kind": r.spec.kind(), "expected": r.expected, "sigma": r.sigma, "shares": r.shares}
            for r in comparisons
        ]
        report = {
            "machine": meta,
            "equivalence": summary,
            "shares": shares,
            "timings": timings,
            "single_flag_timings": single_timings,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")
    if args.fail_above is None and args.single_fail_above is None:
        return 0
    failing = [
        t
        for t in timings
        if t["kind"] == "firstmile" and args.fail_above is not None and t["ratio_to_fastest_sdk"] > args.fail_above
    ]
    if args.single_fail_above is not None:
        failing += [
            t
            for t in single_timings[:1]  # Firstmile as it serves requests; the validated row is for comparison
            if t["ratio_to_fastest_sdk"] > args.single_fail_above
        ]
    if failing:
        print("above the ratio asked for: " + ", ".join(t["engine"] for t in failing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
