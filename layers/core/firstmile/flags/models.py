"""The shapes of feature flags: a tenant's flags and segments, its kill-switch state, the context a flag is
evaluated for, and the result of an evaluation.

A flag is boolean (its two variants are ``on`` = ``true`` and ``off`` = ``false``) or has named variants with JSON
values and weights. An enabled flag walks its ordered rules: the first rule whose conditions all hold and whose
percentage rollout includes the user serves a value, a variant, or a split of variants by weight; when no rule
serves, the fallthrough does. A disabled, archived or killed flag serves its off variant.

The parsers of condition values (semantic versions, instants, bounded regular expressions) live here, because the
models refuse what they cannot parse and the evaluator parses attribute values the same way.
"""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from firstmile.identifiers import FLAG_KEY_PATTERN as FLAG_KEY_PATTERN
from firstmile.model import Model

SEGMENT_KEY_PATTERN = FLAG_KEY_PATTERN
VARIANT_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
# No ':' and no '/': they separate the salt from the stickiness key and the variant suffix in the hashed text.
SALT_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
ATTRIBUTE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$"

# Percentages resolve to 1/1000 of a percent: a rollout bucket is one of 100,000.
ROLLOUT_BUCKETS = 100_000
BUCKETS_PER_PERCENT = ROLLOUT_BUCKETS // 100

MAX_RULES = 100
MAX_CONDITIONS = 20
MAX_CONDITION_VALUES = 1_000
MAX_CONDITION_STRING = 256
MAX_VARIANTS = 20
MAX_VARIANT_WEIGHT = 1_000_000
MAX_VARIANT_VALUE_BYTES = 8 * 1024
MAX_PREREQUISITES = 10
# The longest chain of prerequisites (A requires B requires C ... counts the flags after A).
MAX_PREREQUISITE_DEPTH = 10
MAX_TAGS = 20
MAX_SEGMENT_USERS = 5_000
MAX_USER_ID = 256
# A flag is stored as one DynamoDB item (400 KB at most, with its keys and history pointers).
MAX_FLAG_BYTES = 300 * 1024
MAX_CLIENT_ATTRIBUTES = 20
DEFAULT_EXPOSURE_SAMPLE_RATE = 0.1
# Regular expressions: the pattern's length, and the longest attribute value they are run on (longer: no match).
MAX_REGEX_LENGTH = 256
MAX_REGEX_SUBJECT = 512
MAX_SEMVER_LENGTH = 64
MAX_INSTANT_LENGTH = 64

# Attribute names the evaluator fills from the context itself, never from client-supplied attributes.
USER_ID_ATTRIBUTE = "user_id"
TENANT_ATTRIBUTE = "tenant"
NOW_ATTRIBUTE = "now"
SEGMENT_ATTRIBUTE = "segment"
RESERVED_ATTRIBUTES = frozenset({USER_ID_ATTRIBUTE, TENANT_ATTRIBUTE, NOW_ATTRIBUTE, SEGMENT_ATTRIBUTE})

FlagKey = Annotated[str, Field(pattern=FLAG_KEY_PATTERN, description="The flag's key, unique in the tenant")]
SegmentKey = Annotated[str, Field(pattern=SEGMENT_KEY_PATTERN, description="The segment's key, unique in the tenant")]
VariantKey = Annotated[str, Field(pattern=VARIANT_KEY_PATTERN)]
RuleId = Annotated[str, Field(pattern=RULE_ID_PATTERN, description="Unique within its flag; results name it")]
Tag = Annotated[str, Field(pattern=TAG_PATTERN)]
AttributeName = Annotated[str, Field(pattern=ATTRIBUTE_PATTERN)]
ConditionString = Annotated[str, Field(max_length=MAX_CONDITION_STRING)]
ConditionNumber = Annotated[float, Field(allow_inf_nan=False)]
# bool before the numbers, so that JSON true stays a bool and is never compared as 1.
Scalar = bool | int | ConditionNumber | ConditionString

ON = "on"
OFF = "off"
BOOLEAN_VARIANTS: dict[str, bool] = {ON: True, OFF: False}


class FlagType(StrEnum):
    BOOLEAN = "boolean"
    VARIANTS = "variants"


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    REGEX = "regex"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    SEMVER_LT = "semver_lt"
    SEMVER_LTE = "semver_lte"
    SEMVER_GT = "semver_gt"
    SEMVER_GTE = "semver_gte"
    SEMVER_EQ = "semver_eq"
    DATE_BEFORE = "date_before"
    DATE_AFTER = "date_after"


LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
NEGATED_OPERATORS = frozenset({Operator.NEQ, Operator.NOT_IN})
STRING_OPERATORS = frozenset({Operator.CONTAINS, Operator.STARTS_WITH, Operator.REGEX})
NUMERIC_OPERATORS = frozenset({Operator.LT, Operator.LTE, Operator.GT, Operator.GTE})
SEMVER_OPERATORS = frozenset(
    {Operator.SEMVER_LT, Operator.SEMVER_LTE, Operator.SEMVER_GT, Operator.SEMVER_GTE, Operator.SEMVER_EQ}
)
DATE_OPERATORS = frozenset({Operator.DATE_BEFORE, Operator.DATE_AFTER})


# --- parsing condition values ------------------------------------------------------------------------------

_SEMVER = re.compile(
    r"v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)

SemverKey = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


@functools.lru_cache(maxsize=4096)
def semver_key(text: str) -> SemverKey | None:
    """A sort key for a semantic version, or ``None`` when ``text`` is not one.

    Lenient the way app versions arrive: an optional ``v``, a missing minor or patch counts as 0, leading zeros
    are read as numbers, build metadata (``+...``) is ignored. Order follows SemVer 2.0 precedence: a release sorts
    after its pre-releases; pre-release identifiers compare numerically when numeric, and numeric ones sort before
    alphanumeric ones; a longer list of equal leading identifiers sorts later.
    """
    if len(text) > MAX_SEMVER_LENGTH:
        return None
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        # (1,) sorts after every (0, ...): a release comes after its pre-releases.
        pre_key: tuple[tuple[int, int | str], ...] = ((1, 0),)
    else:
        pre_key = ((0, 0), *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return int(major), int(minor or 0), int(patch or 0), pre_key


@functools.lru_cache(maxsize=4096)
def _instant_of_text(text: str) -> float | None:
    if len(text) > MAX_INSTANT_LENGTH:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def instant(value: object) -> float | None:
    """An instant as epoch seconds, or ``None``: an ISO 8601 date or date-time string (without an offset: UTC), or a
    number of epoch seconds. Booleans and anything else are not instants."""
    if isinstance(value, str):
        return _instant_of_text(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def check_regex(pattern: str) -> re.Pattern[str]:
    """Compile a condition's regular expression, refusing the shapes that backtrack without bound.

    Refused: patterns longer than ``MAX_REGEX_LENGTH``; a repeated group that itself contains a quantifier or an
    alternation (``(a+)+``, ``(a|a)*``, ``((ab)*c)+``); backreferences. Raises ``ValueError`` saying why.
    """
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ValueError(f"a regular expression is at most {MAX_REGEX_LENGTH} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from exc
    _refuse_unbounded_backtracking(pattern)
    return compiled


_QUANTIFIER_BRACES = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")


def _refuse_unbounded_backtracking(pattern: str) -> None:
    # One frame per open group: [contains a quantifier, contains an alternation]. Frame 0 is the whole pattern.
    frames: list[list[bool]] = [[False, False]]
    # What the next quantifier applies to: None (nothing/an atom), or the flags of the group just closed.
    last_group: list[bool] | None = None
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            following = pattern[i + 1 : i + 2]
            if following.isdigit() and following != "0":
                raise ValueError("backreferences are not allowed in a condition's regular expression")
            last_group = None
            i += 2
            continue
        if char == "[":
            i = _end_of_class(pattern, i)
            last_group = None
            continue
        if char == "(":
            if pattern.startswith(("(?P=", "(?("), i):
                raise ValueError("backreferences are not allowed in a condition's regular expression")
            frames.append([False, False])
            last_group = None
            i += 1
            continue
        if char == ")":
            closed = frames.pop() if len(frames) > 1 else [False, False]
            frames[-1][0] |= closed[0]
            frames[-1][1] |= closed[1]
            last_group = closed
            i += 1
            continue
        if char == "|":
            frames[-1][1] = True
            last_group = None
            i += 1
            continue
        repeats: bool | None = None
        length = 1
        if char in "*+":
            repeats = True
        elif char == "?":
            repeats = False
        elif char == "{":
            braces = _QUANTIFIER_BRACES.match(pattern, i)
            if braces is not None and (braces.group(1) or braces.group(3)):
                low, comma, high = braces.groups()
                repeats = bool(comma) and not high or (int(high or low or "0") > 1)
                length = braces.end() - i
        if repeats is None:
            last_group = None
            i += 1
            continue
        if repeats and last_group is not None and (last_group[0] or last_group[1]):
            raise ValueError(
                "a repeated group may not contain another quantifier or an alternation (it can backtrack without bound)"
            )
        if repeats:
            frames[-1][0] = True
        last_group = None
        i += length
        # A lazy or possessive modifier belongs to this quantifier.
        if i < n and pattern[i] in "?+":
            i += 1


def _end_of_class(pattern: str, start: int) -> int:
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


# --- conditions and segments -------------------------------------------------------------------------------


class Condition(Model):
    """One test on one attribute of the evaluation context.

    ``attribute`` names a context attribute: ``user_id``, ``tenant`` and ``now`` come from the context itself,
    anything else (``country``, ``locale``, ``plan``, ``app_version`` ...) from its attributes; ``segment`` tests
    segment membership (operators ``in`` / ``not_in``, the value is a list of segment keys). ``in`` and ``not_in``
    take a list as ``value``; every other operator takes one value.

    Matching: strings compare exactly (case-sensitive); numbers compare as numbers; a boolean equals only a
    boolean. An attribute holding a list matches when any of its elements does (``neq`` and ``not_in`` when none
    does). A missing attribute never matches, not even ``neq`` / ``not_in``. A value the operator cannot read (a
    non-numeric string for ``lt``, an unparsable version or date) does not match.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    attribute: AttributeName
    operator: Operator
    value: Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=MAX_CONDITION_VALUES)]

    @model_validator(mode="after")
    def _fits_operator(self) -> Condition:
        operator, value = self.operator, self.value
        if self.attribute == SEGMENT_ATTRIBUTE:
            if operator not in LIST_OPERATORS or not isinstance(value, list):
                raise ValueError("a segment condition uses operator in or not_in with a list of segment keys")
            for key in value:
                if not isinstance(key, str) or re.fullmatch(SEGMENT_KEY_PATTERN, key) is None:
                    raise ValueError(f"{key!r} is not a segment key")
            return self
        if operator in LIST_OPERATORS:
            if not isinstance(value, list):
                raise ValueError(f"operator {operator} takes a list of values")
            return self
        if isinstance(value, list):
            raise ValueError(f"operator {operator} takes one value, not a list")
        if operator in STRING_OPERATORS and (not isinstance(value, str) or not value):
            raise ValueError(f"operator {operator} takes a non-empty string")
        if operator is Operator.REGEX:
            check_regex(str(value))
        if operator in NUMERIC_OPERATORS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"operator {operator} takes a number")
        if operator in SEMVER_OPERATORS and (not isinstance(value, str) or semver_key(value) is None):
            raise ValueError(f"operator {operator} takes a semantic version such as 2.4.0 or 3.0.0-beta.2")
        if operator in DATE_OPERATORS and (not isinstance(value, str) or instant(value) is None):
            raise ValueError(f"operator {operator} takes an ISO 8601 date or date-time such as 2025-06-01T00:00:00Z")
        return self


class Segment(Model):
    """A named, reusable audience: the listed users, plus everyone the conditions (all of them) hold for.

    A segment without users and without conditions contains nobody. Segment conditions may not test segments.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: SegmentKey
    description: Annotated[str, Field(max_length=1000)] = ""
    users: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_USER_ID)]], Field(max_length=MAX_SEGMENT_USERS)
    ] = Field(default_factory=list)
    conditions: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = Field(default_factory=list)

    @field_validator("conditions")
    @classmethod
    def _no_nested_segments(cls, conditions: list[Condition]) -> list[Condition]:
        if any(c.attribute == SEGMENT_ATTRIBUTE for c in conditions):
            raise ValueError("a segment's conditions may not test segments")
        return conditions


# --- flags -------------------------------------------------------------------------------------------------


class Variant(Model):
    """One variant of a variants flag: its JSON value and its weight in the flag's split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: VariantKey
    value: JsonValue
    weight: Annotated[int, Field(ge=0, le=MAX_VARIANT_WEIGHT, description="Relative weight in the flag's split")] = 0
    description: Annotated[str, Field(max_length=500)] = ""

    @field_validator("value")
    @classmethod
    def _bounded_value(cls, value: JsonValue) -> JsonValue:
        if _json_size(value) > MAX_VARIANT_VALUE_BYTES:
            raise ValueError(f"a variant's value is at most {MAX_VARIANT_VALUE_BYTES} bytes of JSON")
        return value


class Serve(Model):
    """What a rule (or the fallthrough) serves; exactly one of:

    - ``value``: boolean flags only, ``true`` (variant ``on``) or ``false`` (variant ``off``);
    - ``variant``: one variant, for everyone the rule serves;
    - ``split: true``: the flag's variants by their weights;
    - ``weights``: variants by these weights instead (variant key -> relative weight; boolean flags use on/off).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: bool | None = None
    variant: VariantKey | None = None
    split: bool = False
    weights: dict[VariantKey, Annotated[int, Field(ge=0, le=MAX_VARIANT_WEIGHT)]] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Serve:
        chosen = (self.value is not None) + (self.variant is not None) + self.split + (self.weights is not None)
        if chosen != 1:
            raise ValueError("serve exactly one of value, variant, split or weights")
        if self.weights is not None and sum(self.weights.values()) <= 0:
            raise ValueError("a split's weights must add up to more than 0")
        return self

    @property
    def is_split(self) -> bool:
        return self.split or self.weights is not None


def checked_percentage(percentage: float) -> float:
    """``percentage`` if it has at most three decimals (the rollout resolution, 0.001%); ``ValueError`` otherwise."""
    scaled = percentage * BUCKETS_PER_PERCENT
    if abs(scaled - round(scaled)) > 1e-6:
        raise ValueError("a percentage has at most three decimals (steps of 0.001%)")
    return percentage


def percentage_threshold(percentage: float) -> int:
    """The rollout buckets a percentage covers: a user is in when their bucket is below this."""
    return round(percentage * BUCKETS_PER_PERCENT)


class Rule(Model):
    """A targeting rule: when every condition holds and the user falls in the rollout, serve ``serve``.

    ``percentage`` (0-100, in steps of 0.001) is the share of the matching users the rule serves, by their
    rollout bucket; users outside it move on to the next rule.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: RuleId
    description: Annotated[str, Field(max_length=500)] = ""
    conditions: Annotated[list[Condition], Field(max_length=MAX_CONDITIONS)] = Field(default_factory=list)
    percentage: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 100.0
    serve: Serve

    @field_validator("percentage")
    @classmethod
    def _resolution(cls, percentage: float) -> float:
        return checked_percentage(percentage)

    @property
    def threshold(self) -> int:
        """The rollout buckets the rule serves: a user is in when their bucket is below this."""
        return percentage_threshold(self.percentage)


class Prerequisite(Model):
    """Another flag that must serve ``variant`` (``on`` for a boolean flag) for this flag to be evaluated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flag: FlagKey
    variant: VariantKey = ON


class Flag(Model):
    """A feature flag of one tenant, as stored (one version of it).

    ``off_variant`` is what a disabled, archived or killed flag serves, and what a failed prerequisite or an error
    serves: ``off`` for boolean flags, a declared variant otherwise. ``fallthrough`` is what an enabled flag serves
    when no rule does (none: the off variant). ``salt`` seeds the flag's bucketing; it defaults to the key and is
    stored, so copying a flag under another key keeps its users where they were.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: FlagKey
    description: Annotated[str, Field(max_length=1000)] = ""
    type: FlagType = FlagType.BOOLEAN
    variants: Annotated[list[Variant], Field(max_length=MAX_VARIANTS)] = Field(default_factory=list)
    off_variant: VariantKey | None = None
    enabled: bool = False
    rules: Annotated[list[Rule], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    fallthrough: Serve | None = None
    prerequisites: Annotated[list[Prerequisite], Field(max_length=MAX_PREREQUISITES)] = Field(default_factory=list)
    # Defaults to the key (the validated fields so far are passed in); the key's characters all fit the pattern.
    salt: str = Field(default_factory=lambda data: data.get("key", ""), pattern=SALT_PATTERN)
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = Field(default_factory=list)
    owner: Annotated[str | None, Field(default=None, max_length=200)] = None
    version: Annotated[int, Field(ge=1, description="Increases with every change of the flag")] = 1
    archived: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Flag:
        if self.type is FlagType.BOOLEAN:
            if self.variants:
                raise ValueError("a boolean flag has the implicit variants on and off; declare no variants")
            if self.off_variant not in (None, OFF):
                raise ValueError("a boolean flag's off variant is off")
        else:
            keys = [v.key for v in self.variants]
            if len(keys) < 2:
                raise ValueError("a variants flag declares at least two variants")
            if len(set(keys)) != len(keys):
                raise ValueError("variant keys must be unique within a flag")
            if self.off_variant is None or self.off_variant not in keys:
                raise ValueError("a variants flag names one of its variants as off_variant")
        rule_ids = [r.id for r in self.rules]
        if len(set(rule_ids)) != len(rule_ids):
            raise ValueError("rule ids must be unique within a flag")
        for where, serve in [*((f"rule {r.id}", r.serve) for r in self.rules), ("fallthrough", self.fallthrough)]:
            if serve is not None:
                self._check_serve(where, serve)
        prerequisites = [p.flag for p in self.prerequisites]
        if len(set(prerequisites)) != len(prerequisites):
            raise ValueError("a flag is named at most once among the prerequisites")
        if len(set(self.tags)) != len(self.tags):
            raise ValueError("tags must be unique")
        if _json_size(self.model_dump(mode="json")) > MAX_FLAG_BYTES:
            raise ValueError(f"a flag is at most {MAX_FLAG_BYTES} bytes of JSON")
        return self

    def _check_serve(self, where: str, serve: Serve) -> None:
        keys = self.variant_keys
        if serve.value is not None and self.type is not FlagType.BOOLEAN:
            raise ValueError(f"{where}: serve value is for boolean flags; serve a variant")
        if serve.variant is not None and serve.variant not in keys:
            raise ValueError(f"{where}: unknown variant {serve.variant!r}")
        if serve.split:
            if self.type is FlagType.BOOLEAN:
                raise ValueError(f"{where}: a boolean flag splits with weights for on and off")
            if sum(v.weight for v in self.variants) <= 0:
                raise ValueError(f"{where}: serves the flag's split, but its variants' weights add up to 0")
        if serve.weights is not None:
            unknown = sorted(set(serve.weights) - set(keys))
            if unknown:
                raise ValueError(f"{where}: unknown variants in weights: {', '.join(unknown)}")

    @property
    def variant_keys(self) -> list[str]:
        """The flag's variant keys: on/off for a boolean flag."""
        if self.type is FlagType.BOOLEAN:
            return list(BOOLEAN_VARIANTS)
        return [v.key for v in self.variants]

    @property
    def off_key(self) -> str:
        """The variant a disabled, killed or failing flag serves."""
        return self.off_variant or OFF

    def variant_value(self, variant: str) -> JsonValue:
        """The value of one of the flag's variants (``KeyError`` when it has no such variant)."""
        if self.type is FlagType.BOOLEAN:
            return BOOLEAN_VARIANTS[variant]
        for declared in self.variants:
            if declared.key == variant:
                return declared.value
        raise KeyError(variant)

    def split_weights(self, serve: Serve) -> list[tuple[str, int]]:
        """The (variant, weight) pairs a split serve divides users by, in the flag's variant order."""
        if serve.weights is not None:
            return [(key, serve.weights.get(key, 0)) for key in self.variant_keys]
        return [(v.key, v.weight) for v in self.variants]


# --- a tenant's flag set and its kill switch ---------------------------------------------------------------


class KillSwitch(Model):
    """What is killed in a tenant: single flags, every flag carrying one of the tags, or everything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    all: bool = False
    flags: frozenset[FlagKey] = frozenset()
    tags: frozenset[Tag] = frozenset()

    def kills(self, flag: Flag) -> bool:
        """Whether this state kills ``flag``."""
        return self.all or flag.key in self.flags or not self.tags.isdisjoint(flag.tags)


class FlagSet(Model):
    """Everything evaluation needs for one tenant: its flags by key, its segments, and its kill-switch state.

    ``version`` changes with every change of a flag or segment. A flag set is immutable: the evaluator compiles it
    once (``firstmile.flags.logic.compile_flag_set``); a change is a new flag set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=128)]
    version: Annotated[int, Field(ge=0)] = 0
    flags: dict[FlagKey, Flag] = Field(default_factory=dict)
    segments: dict[SegmentKey, Segment] = Field(default_factory=dict)
    kill_switch: KillSwitch = Field(default_factory=KillSwitch)

    @model_validator(mode="after")
    def _keys_match(self) -> FlagSet:
        for key, flag in self.flags.items():
            if flag.key != key:
                raise ValueError(f"flag {flag.key!r} is filed under {key!r}")
        for key, segment in self.segments.items():
            if segment.key != key:
                raise ValueError(f"segment {segment.key!r} is filed under {key!r}")
        return self


# --- the tenant's flag settings ----------------------------------------------------------------------------


class FlagSettings(Model):
    """How a tenant's clients may evaluate flags.

    ``client_attributes`` are the attributes a client may supply to ``POST /v1/flags/evaluate``; any other is refused,
    and the token's own attributes (vouched for by the customer's backend) always win over a client's. Exposure events
    are sampled at ``exposure_sample_rate`` (0 turns them off).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_attributes: Annotated[list[AttributeName], Field(max_length=MAX_CLIENT_ATTRIBUTES)] = Field(
        default_factory=list
    )
    exposure_sample_rate: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_EXPOSURE_SAMPLE_RATE
    version: Annotated[int, Field(ge=0, description="Increases with every change; 0 before the first")] = 0

    @model_validator(mode="after")
    def _allowed_names(self) -> FlagSettings:
        reserved = sorted(set(self.client_attributes) & RESERVED_ATTRIBUTES)
        if reserved:
            raise ValueError(f"these attributes come from the token and cannot be client-supplied: {reserved}")
        if len(set(self.client_attributes)) != len(self.client_attributes):
            raise ValueError("client_attributes must be unique")
        return self


# --- evaluation --------------------------------------------------------------------------------------------


class EvaluationContext(Model):
    """Who a flag is evaluated for.

    ``tenant`` and ``user_id`` come from the verified token; ``attributes`` from the token's claims and the client
    attributes the tenant allows. ``stickiness_key`` is what bucketing hashes (default: the user id), so a rollout
    can follow something else, such as an account id. ``now`` is the evaluation time, for conditions on the
    attribute ``now`` (scheduled releases); without it such conditions do not match.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=128)]
    user_id: Annotated[str, Field(min_length=1, max_length=MAX_USER_ID)]
    attributes: dict[str, JsonValue] = Field(default_factory=dict)
    stickiness_key: Annotated[str | None, Field(default=None, min_length=1, max_length=MAX_USER_ID)] = None
    now: datetime | None = None
    # The user objects to experiments (Article 21, decision 0084): partial rollouts and splits never bucket them;
    # they get what the flag serves without them (its default).
    unbucketed: bool = False

    @classmethod
    def of_caller(
        cls, tenant: str, user_id: str, attributes: dict[str, Any], now: datetime | None, *, unbucketed: bool = False
    ) -> EvaluationContext:
        """The context of a request's caller, built without validating again what was validated already.

        ``tenant``, ``user_id`` and the token's attributes come from a token the authorizer verified, and client
        attributes from a request body the resolver validated; checking them once more cost more than the evaluation
        itself (decision 0045). ``attributes`` is kept as given: the caller must not change it afterwards. The result
        equals ``EvaluationContext(tenant=..., user_id=..., attributes=..., now=...)`` for the same valid values;
        anything else from outside must go through the validating constructor.
        """
        # What pydantic's model_construct sets, without its per-field loop (which is slower than validating), through
        # the slots' own descriptors (the fastest way to set them).
        context = _new_object(cls)
        _set_dict(
            context,
            {
                "tenant": tenant,
                "user_id": user_id,
                "attributes": attributes,
                "stickiness_key": None,
                "now": now,
                "unbucketed": unbucketed,
            },
        )
        _set_fields_set(context, set(_SET_UNBUCKETED if unbucketed else _SET))
        _set_extra(context, None)
        _set_private(context, None)
        return context


_SET = frozenset({"tenant", "user_id", "attributes", "now"})
_SET_UNBUCKETED = _SET | {"unbucketed"}
_new_object = object.__new__
_set_dict = vars(BaseModel)["__dict__"].__set__
_set_fields_set = vars(BaseModel)["__pydantic_fields_set__"].__set__
_set_extra = vars(BaseModel)["__pydantic_extra__"].__set__
_set_private = vars(BaseModel)["__pydantic_private__"].__set__


class EvaluationReason(StrEnum):
    """Why a flag served what it served."""

    # Enabled, without rules: everyone gets the fallthrough.
    STATIC = "STATIC"
    # No rule served (or a prerequisite failed): the fallthrough, or the off variant.
    DEFAULT = "DEFAULT"
    # A rule's conditions held and it serves all of its users one variant.
    TARGETING_MATCH = "TARGETING_MATCH"
    # The variant came from the user's bucket: a rule's percentage below 100, or a split by weights.
    SPLIT = "SPLIT"
    # The flag is disabled, archived or killed: its off variant.
    DISABLED = "DISABLED"
    # The flag could not be evaluated: its off variant (no value for an unknown flag).
    ERROR = "ERROR"


class EvaluationError(StrEnum):
    """What went wrong when the reason is ``ERROR``."""

    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    # A context attribute a condition tests holds an object, or a list of non-scalars.
    ATTRIBUTE_TYPE_MISMATCH = "ATTRIBUTE_TYPE_MISMATCH"
    # The stored flag refers to a missing flag, variant or segment, or its prerequisites form a cycle.
    INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
    # A prerequisite could not be evaluated.
    PREREQUISITE_ERROR = "PREREQUISITE_ERROR"
    # The flag set could not be refreshed within its staleness budget.
    FLAG_SET_STALE = "FLAG_SET_STALE"
    GENERAL = "GENERAL"


class EvaluationResult(Model):
    """The outcome of evaluating one flag for one context. Results are shared between evaluations: read only."""

    model_config = ConfigDict(frozen=True)

    flag_key: str
    value: JsonValue = Field(description="The served variant's value; null for an unknown flag")
    variant: str | None = Field(description="The served variant's key (on/off for boolean flags)")
    reason: EvaluationReason
    rule_id: str | None = Field(default=None, description="The rule that served, if one did")
    flag_version: int | None = Field(default=None, description="The version of the flag that was evaluated")
    error: EvaluationError | None = Field(default=None, description="What went wrong, when the reason is ERROR")
