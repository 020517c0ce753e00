"""Feature-flag evaluation: compile a tenant's flag set once, then evaluate its flags for many contexts, fast.

No I/O and no clock here: the evaluation time, when conditions need it, comes in the context. ``compile_flag_set``
turns a ``FlagSet`` into closures (conditions with their regular expressions compiled, versions and dates parsed,
value lists turned into sets) and precomputes every result a flag can give, so an evaluation builds no model and
validates nothing. Evaluation never raises: what cannot be evaluated serves the flag's off variant with reason
``ERROR``. ``validate_flag_set`` is the admin-side check that refuses sets the evaluator would have to answer with
errors (prerequisite cycles, references to missing flags, variants or segments), raising ``DomainError``.

Bucketing (decision 0061): a user's rollout bucket is the first 8 bytes of SHA-256 over the UTF-8 text
``"<salt>:<stickiness key>"``, read as a big-endian unsigned integer, modulo 100,000; their variant bucket is the
same over ``"<salt>/variant:<stickiness key>"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import operator
import struct
import weakref
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from typing import Any

from firstmile import errors as e
from firstmile.flags.models import (
    MAX_PREREQUISITE_DEPTH,
    MAX_REGEX_SUBJECT,
    NOW_ATTRIBUTE,
    OFF,
    ON,
    ROLLOUT_BUCKETS,
    SEGMENT_ATTRIBUTE,
    TENANT_ATTRIBUTE,
    USER_ID_ATTRIBUTE,
    Condition,
    EvaluationContext,
    EvaluationError,
    EvaluationReason,
    EvaluationResult,
    Flag,
    FlagSet,
    KillSwitch,
    Operator,
    Rule,
    Scalar,
    Segment,
    Serve,
    check_regex,
    instant,
    semver_key,
)

FlagGate = Callable[[str], bool | None]
"""Whether a flag is on for one user: ``True``/``False``, or ``None`` when that cannot be said (onboarding's gate)."""

VARIANT_SALT_SUFFIX = "/variant"

_DISABLED = EvaluationReason.DISABLED
_ERROR = EvaluationReason.ERROR
_sha256 = hashlib.sha256
# The first 8 bytes of a digest as a big-endian unsigned integer.
_first_8_bytes = struct.Struct(">Q").unpack_from


# --- bucketing ---------------------------------------------------------------------------------------------


def bucket(salt: str, stickiness_key: str) -> int:
    """The rollout bucket of ``stickiness_key`` for a flag salted ``salt``, in ``[0, ROLLOUT_BUCKETS)``.

    A rule with percentage ``p`` serves the users whose bucket is below ``round(p * 1000)``.
    """
    return _bucket_of(_hashed_text(salt, stickiness_key))


def variant_bucket(salt: str, stickiness_key: str) -> int:
    """The bucket that picks a user's variant in a split, drawn independently of the rollout bucket."""
    return _bucket_of(_hashed_text(salt + VARIANT_SALT_SUFFIX, stickiness_key))


def _hashed_text(salt: str, stickiness_key: str) -> bytes:
    return (salt + ":").encode() + _key_bytes(stickiness_key)


def _key_bytes(stickiness_key: str) -> bytes:
    # surrogatepass: validation refuses lone surrogates, but a context built without it must not make evaluation raise.
    return stickiness_key.encode("utf-8", "surrogatepass")


def _bucket_of(text: bytes) -> int:
    value: int = _first_8_bytes(_sha256(text).digest())[0]
    return value % ROLLOUT_BUCKETS


def _bucket_after(prefix: hashlib._Hash, stickiness: bytes) -> int:
    # ``prefix`` has hashed "<salt>:" already; copying it saves hashing the salt again for every user.
    hasher = prefix.copy()
    hasher.update(stickiness)
    value: int = _first_8_bytes(hasher.digest())[0]
    return value % ROLLOUT_BUCKETS


# --- the compiled form -------------------------------------------------------------------------------------


class _AttributeTypeMismatch(Exception):  # noqa: N818 - a signal inside evaluation, never leaves this module
    """A condition met an attribute holding an object or a nested list."""


class _InvalidConfiguration(Exception):  # noqa: N818 - a signal inside compilation, never leaves this module
    """A flag cannot be compiled (a missing segment, prerequisite or variant)."""


_Check = Callable[["_Run"], bool]
_Test = Callable[[Any], bool]


class _Run:
    """The state of one evaluation call: the context's attributes prepared once, and what was already evaluated."""

    __slots__ = (
        "attributes",
        "compiled",
        "context",
        "flags",
        "killed",
        "memberships",
        "results",
        "stickiness",
        "unbucketed",
    )

    def __init__(self, compiled: CompiledFlagSet, context: EvaluationContext) -> None:
        self.compiled = compiled
        self.context = context
        attributes: dict[str, Any] = dict(context.attributes)
        # The context's own fields win over client-supplied attributes of the same name.
        attributes[USER_ID_ATTRIBUTE] = context.user_id
        attributes[TENANT_ATTRIBUTE] = context.tenant
        if context.now is None:
            attributes.pop(NOW_ATTRIBUTE, None)
        else:
            now = context.now if context.now.tzinfo is not None else context.now.replace(tzinfo=UTC)
            attributes[NOW_ATTRIBUTE] = now.timestamp()
        self.attributes = attributes
        self.stickiness = _key_bytes(context.stickiness_key or context.user_id)
        self.unbucketed = context.unbucketed
        self.flags = compiled.flags
        self.killed = compiled.killed
        self.results: dict[str, EvaluationResult] = {}
        self.memberships: dict[str, bool] = {}


class _CompiledSegment:
    __slots__ = ("checks", "key", "users")

    def __init__(self, key: str, users: frozenset[str], checks: tuple[_Check, ...]) -> None:
        self.key = key
        self.users = users
        self.checks = checks


class _CompiledServe:
    """A fixed result, or a split: ``results[i]`` serves variant buckets in ``[bounds[i - 1], bounds[i])``."""

    __slots__ = ("bounds", "result", "results")

    def __init__(
        self,
        result: EvaluationResult | None,
        bounds: tuple[int, ...] = (),
        results: tuple[EvaluationResult, ...] = (),
    ) -> None:
        self.result = result
        self.bounds = bounds
        self.results = results


class _CompiledRule:
    __slots__ = ("checks", "serve", "threshold")

    def __init__(self, checks: tuple[_Check, ...], threshold: int, serve: _CompiledServe) -> None:
        self.checks = checks
        self.threshold = threshold
        self.serve = serve


class _CompiledFlag:
    __slots__ = (
        "attribute_error",
        "disabled",
        "fallthrough",
        "fixed",
        "general_error",
        "key",
        "prerequisite_error",
        "prerequisite_failed",
        "prerequisites",
        "rollout_prefix",
        "rules",
        "unbucketed",
        "variant_prefix",
    )

    def __init__(self, flag: Flag) -> None:
        self.key = flag.key
        self.rollout_prefix = _sha256((flag.salt + ":").encode())
        self.variant_prefix = _sha256((flag.salt + VARIANT_SALT_SUFFIX + ":").encode())
        self.disabled = off_result(flag, _DISABLED)
        self.attribute_error = off_result(flag, _ERROR, EvaluationError.ATTRIBUTE_TYPE_MISMATCH)
        self.general_error = off_result(flag, _ERROR, EvaluationError.GENERAL)
        self.prerequisite_error = off_result(flag, _ERROR, EvaluationError.PREREQUISITE_ERROR)
        # A failed prerequisite is not an error: the flag does not apply to this user yet.
        self.prerequisite_failed = off_result(flag, EvaluationReason.DEFAULT)
        # What a user who objects to experiments gets where a split would draw their variant: the flag's default.
        self.unbucketed = self.prerequisite_failed
        # Set when every context gets the same result (disabled, invalid, or enabled without targeting).
        self.fixed: EvaluationResult | None = None
        self.prerequisites: tuple[tuple[str, str], ...] = ()
        self.rules: tuple[_CompiledRule, ...] = ()
        self.fallthrough = _CompiledServe(self.disabled)


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledFlagSet:
    """A tenant's flag set ready for evaluation: build it once per flag-set version with ``compile_flag_set``.

    ``killed`` holds the keys of the flags the kill switch kills; ``with_kill_switch`` swaps the kill-switch state
    without compiling the flags again. ``keys`` are the flags ``evaluate_all`` answers by default (not archived).
    """

    tenant: str
    version: int
    kill_switch: KillSwitch
    killed: frozenset[str]
    keys: tuple[str, ...]
    flags: Mapping[str, _CompiledFlag] = dataclasses.field(repr=False)
    tags: Mapping[str, frozenset[str]] = dataclasses.field(repr=False)

    def with_kill_switch(self, kill_switch: KillSwitch) -> CompiledFlagSet:
        """The same flags under another kill-switch state."""
        return dataclasses.replace(self, kill_switch=kill_switch, killed=_killed(kill_switch, self.tags))


def compile_flag_set(flag_set: FlagSet) -> CompiledFlagSet:
    """Compile ``flag_set`` for evaluation, once per flag-set version. A flag that cannot be compiled (it refers to a
    missing flag, variant or segment, or sits on a prerequisite cycle) does not stop the others: it evaluates to its
    off variant with reason ``ERROR`` and error ``INVALID_CONFIGURATION``."""
    segments = {key: _compile_segment(segment) for key, segment in flag_set.segments.items()}
    invalid = _invalid_flags(flag_set)
    compiled: dict[str, _CompiledFlag] = {}
    for key, flag in flag_set.flags.items():
        compiled[key] = _compile_flag(flag, segments, invalid=key in invalid)
    tags = {key: frozenset(flag.tags) for key, flag in flag_set.flags.items()}
    return CompiledFlagSet(
        tenant=flag_set.tenant,
        version=flag_set.version,
        kill_switch=flag_set.kill_switch,
        killed=_killed(flag_set.kill_switch, tags),
        keys=tuple(key for key, flag in flag_set.flags.items() if not flag.archived),
        flags=compiled,
        tags=tags,
    )


def _killed(kill_switch: KillSwitch, tags: Mapping[str, frozenset[str]]) -> frozenset[str]:
    if kill_switch.all:
        return frozenset(tags)
    return frozenset(
        key for key, flag_tags in tags.items() if key in kill_switch.flags or not flag_tags.isdisjoint(kill_switch.tags)
    )


def _compile_flag(flag: Flag, segments: Mapping[str, _CompiledSegment | None], *, invalid: bool) -> _CompiledFlag:
    compiled = _CompiledFlag(flag)
    if flag.archived or not flag.enabled:
        compiled.fixed = compiled.disabled
        return compiled
    try:
        if invalid:
            raise _InvalidConfiguration(flag.key)
        compiled.prerequisites = tuple((required.flag, required.variant) for required in flag.prerequisites)
        compiled.rules = tuple(_compile_rule(flag, rule, segments) for rule in flag.rules)
        fallthrough_reason = EvaluationReason.DEFAULT if flag.rules else EvaluationReason.STATIC
        compiled.fallthrough = _compile_serve(flag, flag.fallthrough, fallthrough_reason, rule_id=None)
    except Exception:
        compiled.fixed = off_result(flag, _ERROR, EvaluationError.INVALID_CONFIGURATION)
        return compiled
    if not compiled.rules and not compiled.prerequisites and compiled.fallthrough.result is not None:
        compiled.fixed = compiled.fallthrough.result
    return compiled


def _compile_rule(flag: Flag, rule: Rule, segments: Mapping[str, _CompiledSegment | None]) -> _CompiledRule:
    threshold = rule.threshold
    reason = EvaluationReason.TARGETING_MATCH if threshold >= ROLLOUT_BUCKETS else EvaluationReason.SPLIT
    return _CompiledRule(
        checks=tuple(_compile_condition(c, segments) for c in rule.conditions),
        threshold=threshold,
        serve=_compile_serve(flag, rule.serve, reason, rule_id=rule.id),
    )


def _compile_serve(flag: Flag, serve: Serve | None, reason: EvaluationReason, *, rule_id: str | None) -> _CompiledServe:
    if serve is None:
        return _CompiledServe(_result(flag, flag.off_key, reason, rule_id))
    if not serve.is_split:
        variant = serve.variant if serve.variant is not None else (ON if serve.value else OFF)
        return _CompiledServe(_result(flag, variant, reason, rule_id))
    weights = flag.split_weights(serve)
    total = sum(weight for _, weight in weights)
    if total <= 0:
        raise _InvalidConfiguration(flag.key)
    bounds: list[int] = []
    cumulative = 0
    for _, weight in weights:
        cumulative += weight
        # ceil(cumulative * B / total): bucket b < bound  <=>  b / B < cumulative / total.
        bounds.append(-(-cumulative * ROLLOUT_BUCKETS // total))
    results = tuple(_result(flag, variant, EvaluationReason.SPLIT, rule_id) for variant, _ in weights)
    return _CompiledServe(None, tuple(bounds), results)


def _compile_segment(segment: Segment) -> _CompiledSegment | None:
    try:
        checks = tuple(_compile_condition(c, {}) for c in segment.conditions)
    except Exception:
        # A flag testing this segment is then invalid (the segment cannot be evaluated).
        return None
    return _CompiledSegment(segment.key, frozenset(segment.users), checks)


# --- conditions --------------------------------------------------------------------------------------------

_ORDER: dict[Operator, Callable[[Any, Any], bool]] = {
    Operator.LT: operator.lt,
    Operator.LTE: operator.le,
    Operator.GT: operator.gt,
    Operator.GTE: operator.ge,
    Operator.SEMVER_LT: operator.lt,
    Operator.SEMVER_LTE: operator.le,
    Operator.SEMVER_GT: operator.gt,
    Operator.SEMVER_GTE: operator.ge,
    Operator.SEMVER_EQ: operator.eq,
    Operator.DATE_BEFORE: operator.lt,
    Operator.DATE_AFTER: operator.gt,
}
_MAX_NUMERIC_TEXT = 64
# Attribute values no operator compares directly: a list is matched element by element, an object never.
_COMPOSITE = (list, dict)


def _compile_condition(condition: Condition, segments: Mapping[str, _CompiledSegment | None]) -> _Check:
    if condition.attribute == SEGMENT_ATTRIBUTE:
        return _segment_check(condition, segments)
    test = _test_of(condition.operator, condition.value)
    # Most targeting compares strings (country, plan, user ids): those skip a call through ``test``.
    on_string = _string_test(condition.operator, condition.value) or test
    name = condition.attribute
    if condition.operator in (Operator.NEQ, Operator.NOT_IN):

        def check_not(run: _Run) -> bool:
            value = run.attributes.get(name)
            if value.__class__ is str:
                return not on_string(value)
            if value is None:
                return False
            if isinstance(value, _COMPOSITE):
                return not _any_element(value, test, name)
            return not test(value)

        return check_not

    def check(run: _Run) -> bool:
        value = run.attributes.get(name)
        if value.__class__ is str:
            return on_string(value)
        if value is None:
            return False
        if isinstance(value, _COMPOSITE):
            return _any_element(value, test, name)
        return test(value)

    return check


def _string_test(op: Operator, expected: Scalar | list[Scalar]) -> _Test | None:
    """A test for string values that calls straight into C, where the operator has one."""
    if op in (Operator.EQ, Operator.NEQ) and isinstance(expected, str):
        return expected.__eq__
    if op in (Operator.IN, Operator.NOT_IN) and isinstance(expected, list):
        return frozenset(v for v in expected if isinstance(v, str)).__contains__
    return None


def _any_element(value: list[Any] | dict[str, Any], test: _Test, name: str) -> bool:
    if isinstance(value, dict):
        raise _AttributeTypeMismatch(name)
    for element in value:
        if isinstance(element, _COMPOSITE):
            raise _AttributeTypeMismatch(name)
        if element is not None and test(element):
            return True
    return False


def _test_of(op: Operator, expected: Scalar | list[Scalar]) -> _Test:
    """The test of one scalar attribute value against the condition's value (negation is applied by the caller)."""
    if isinstance(expected, list):
        return _one_of(expected)
    if op in (Operator.EQ, Operator.NEQ):
        return _equal_to(expected)
    if op is Operator.CONTAINS:
        part = str(expected)
        return lambda value: isinstance(value, str) and part in value
    if op is Operator.STARTS_WITH:
        prefix = str(expected)
        return lambda value: isinstance(value, str) and value.startswith(prefix)
    if op is Operator.REGEX:
        search = check_regex(str(expected)).search
        return lambda value: isinstance(value, str) and len(value) <= MAX_REGEX_SUBJECT and search(value) is not None
    order = _ORDER[op]
    if op in (Operator.LT, Operator.LTE, Operator.GT, Operator.GTE):
        bound = expected

        def numeric(value: Any) -> bool:
            number = _number(value)
            return number is not None and order(number, bound)

        return numeric
    if op in (Operator.DATE_BEFORE, Operator.DATE_AFTER):
        moment = instant(expected)
        if moment is None:
            raise _InvalidConfiguration(str(expected))

        def dated(value: Any) -> bool:
            at = instant(value)
            return at is not None and order(at, moment)

        return dated
    version = semver_key(str(expected))
    if version is None:
        raise _InvalidConfiguration(str(expected))

    def versioned(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        key = semver_key(value)
        return key is not None and order(key, version)

    return versioned


def _equal_to(expected: Scalar) -> _Test:
    if isinstance(expected, bool):
        return lambda value: value is expected
    if isinstance(expected, str):
        return lambda value: value == expected
    # A number equals numbers only, never a boolean (True == 1 in Python, not here).
    return lambda value: value == expected and not isinstance(value, bool)


def _one_of(expected: list[Scalar]) -> _Test:
    booleans = frozenset(v for v in expected if isinstance(v, bool))
    others = frozenset(v for v in expected if not isinstance(v, bool))
    if not booleans:
        return lambda value: value in others and not isinstance(value, bool)
    return lambda value: value in booleans if isinstance(value, bool) else value in others


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and len(value) <= _MAX_NUMERIC_TEXT:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _segment_check(condition: Condition, segments: Mapping[str, _CompiledSegment | None]) -> _Check:
    members: list[_CompiledSegment] = []
    keys = condition.value if isinstance(condition.value, list) else [condition.value]
    for key in keys:
        segment = segments.get(str(key))
        if segment is None:
            raise _InvalidConfiguration(str(key))
        members.append(segment)
    wanted = tuple(members)
    negate = condition.operator is Operator.NOT_IN

    def check(run: _Run) -> bool:
        for segment in wanted:
            if _is_member(segment, run):
                return not negate
        return negate

    return check


def _is_member(segment: _CompiledSegment, run: _Run) -> bool:
    known = run.memberships.get(segment.key)
    if known is None:
        known = run.attributes[USER_ID_ATTRIBUTE] in segment.users or (
            bool(segment.checks) and all(check(run) for check in segment.checks)
        )
        run.memberships[segment.key] = known
    return known


# --- results -----------------------------------------------------------------------------------------------


def _result(
    flag: Flag,
    variant: str,
    reason: EvaluationReason,
    rule_id: str | None = None,
    error: EvaluationError | None = None,
) -> EvaluationResult:
    return EvaluationResult(
        flag_key=flag.key,
        value=flag.variant_value(variant),
        variant=variant,
        reason=reason,
        rule_id=rule_id,
        flag_version=flag.version,
        error=error,
    )


def off_result(flag: Flag, reason: EvaluationReason, error: EvaluationError | None = None) -> EvaluationResult:
    """``flag``'s off variant with ``reason`` (and ``error`` when the reason is ``ERROR``), as the evaluator serves
    it for a disabled or killed flag; for example what a stale flag set serves with ``FLAG_SET_STALE``."""
    return _result(flag, flag.off_key, reason, None, error)


def _not_found(key: str) -> EvaluationResult:
    return EvaluationResult(flag_key=key, value=None, variant=None, reason=_ERROR, error=EvaluationError.FLAG_NOT_FOUND)


# --- evaluation --------------------------------------------------------------------------------------------


def evaluate(flags: FlagSet | CompiledFlagSet, key: str, context: EvaluationContext) -> EvaluationResult:
    """Evaluate the flag ``key`` for ``context``. Never raises.

    - disabled, archived or killed: the off variant, ``DISABLED``;
    - a prerequisite serves another variant than required: the off variant, ``DEFAULT``, no rule id (one that
      cannot be evaluated: ``ERROR`` with ``PREREQUISITE_ERROR``);
    - the first rule whose conditions hold and whose rollout includes the user serves: ``TARGETING_MATCH``, or
      ``SPLIT`` when the rule's percentage is below 100 or it serves a split;
    - no rule serves: the fallthrough, ``DEFAULT`` (``SPLIT`` for a split fallthrough); a flag without rules:
      ``STATIC`` (``SPLIT`` for a split);
    - an unknown flag (value null), an attribute of the wrong type, or a flag that cannot be compiled: ``ERROR``.

    A ``FlagSet`` is compiled on first use and the compiled form kept while the flag set lives; callers that
    manage versions themselves pass the ``CompiledFlagSet``. Consecutive calls for the same context object and
    compiled set prepare the context once (contexts are immutable values: do not change their attributes).
    """
    compiled = _compiled(flags)
    latest = _latest.run
    if latest is None or latest.compiled is not compiled or latest.context is not context:
        latest = _latest.run = _Run(compiled, context)
    return _result_of(latest, key)


class _LatestRun:
    __slots__ = ("run",)

    def __init__(self) -> None:
        self.run: _Run | None = None


_latest = _LatestRun()


def evaluate_all(
    flags: FlagSet | CompiledFlagSet, context: EvaluationContext, keys: Iterable[str] | None = None
) -> dict[str, EvaluationResult]:
    """Evaluate ``keys`` (default: every flag that is not archived) for ``context``, each flag (and each segment)
    at most once; prerequisites evaluated on the way are not listed unless asked for. Never raises."""
    compiled = _compiled(flags)
    run = _Run(compiled, context)
    return {key: _result_of(run, key) for key in (compiled.keys if keys is None else keys)}


def _result_of(run: _Run, key: str) -> EvaluationResult:
    result = run.results.get(key)
    if result is None:
        flag = run.flags.get(key)
        result = _evaluate_flag(flag, run) if flag is not None else _not_found(key)
        run.results[key] = result
    return result


def _evaluate_flag(flag: _CompiledFlag, run: _Run) -> EvaluationResult:
    if flag.key in run.killed:
        return flag.disabled
    if flag.fixed is not None:
        return flag.fixed
    try:
        for required_key, required_variant in flag.prerequisites:
            required = _result_of(run, required_key)
            if required.reason is _ERROR:
                return flag.prerequisite_error
            if required.variant != required_variant:
                return flag.prerequisite_failed
        rollout = -1
        for rule in flag.rules:
            for check in rule.checks:
                if not check(run):
                    break
            else:
                threshold = rule.threshold
                if threshold < ROLLOUT_BUCKETS:
                    if run.unbucketed:
                        continue  # a partial rollout is an experiment: never bucket a user who objects
                    if rollout < 0:
                        rollout = _bucket_after(flag.rollout_prefix, run.stickiness)
                    if rollout >= threshold:
                        continue
                return _serve(flag, rule.serve, run)
        return _serve(flag, flag.fallthrough, run)
    except _AttributeTypeMismatch:
        return flag.attribute_error
    except Exception:
        return flag.general_error


def _serve(flag: _CompiledFlag, serve: _CompiledServe, run: _Run) -> EvaluationResult:
    if serve.result is not None:
        return serve.result
    if run.unbucketed:
        return flag.unbucketed
    drawn = _bucket_after(flag.variant_prefix, run.stickiness)
    return serve.results[bisect_right(serve.bounds, drawn)]


# Compiled forms of the flag sets passed to evaluate as models, kept while the flag set object lives.
_compiled_sets: dict[int, tuple[weakref.ref[FlagSet], CompiledFlagSet]] = {}


def _compiled(flags: FlagSet | CompiledFlagSet) -> CompiledFlagSet:
    if isinstance(flags, CompiledFlagSet):
        return flags
    identity = id(flags)
    entry = _compiled_sets.get(identity)
    if entry is not None and entry[0]() is flags:
        return entry[1]
    compiled = compile_flag_set(flags)
    _compiled_sets[identity] = (weakref.ref(flags, lambda _gone: _compiled_sets.pop(identity, None)), compiled)
    return compiled


# --- the onboarding gate -----------------------------------------------------------------------------------


def gate_verdict(result: EvaluationResult | None) -> bool | None:
    """Read a result as on/off for gating: a boolean flag's value; ``False`` for any disabled or killed flag, and
    for a flag the tenant does not have; ``None`` (cannot say) for a missing result, any other ``ERROR``, or a
    variants flag that is not disabled."""
    if result is None:
        return None
    if result.reason is _ERROR:
        return False if result.error is EvaluationError.FLAG_NOT_FOUND else None
    if result.reason is _DISABLED:
        return False
    return result.value if isinstance(result.value, bool) else None


def gate_from_results(results: Mapping[str, EvaluationResult]) -> FlagGate:
    """A gate answering from results already computed (``evaluate_all``); a flag not among them: ``None``."""
    return lambda key: gate_verdict(results.get(key))


def flag_gate(flags: FlagSet | CompiledFlagSet, context: EvaluationContext) -> FlagGate:
    """A gate for one user that evaluates a flag when first asked, and each flag at most once."""
    run = _Run(_compiled(flags), context)
    return lambda key: gate_verdict(_result_of(run, key))


# --- validation of a whole flag set ------------------------------------------------------------------------


def validate_flag_set(flag_set: FlagSet) -> None:
    """Refuse a flag set the evaluator could only answer with errors. Raises ``DomainError``:

    - ``VAL_FLAG_REFERENCE_INVALID``: a prerequisite names a missing flag, or a variant its flag does not
      have; a condition names a missing segment (one field problem each);
    - ``VAL_FLAG_PREREQUISITE_CYCLE``: prerequisites form a cycle (a flag requiring itself included); the
      ``cycle`` extension lists it, e.g. ``["a", "b", "a"]``;
    - ``VAL_FLAG_PREREQUISITE_DEPTH``: a chain of prerequisites longer than ``MAX_PREREQUISITE_DEPTH``.
    """
    problems = _reference_problems(flag_set)
    if problems:
        raise e.DomainError(
            e.VAL_FLAG_REFERENCE_INVALID,
            f"{len(problems)} reference(s) to missing flags, variants or segments.",
            fields=problems,
        )
    cycle = prerequisite_cycle(flag_set.flags)
    if cycle is not None:
        raise e.DomainError(
            e.VAL_FLAG_PREREQUISITE_CYCLE,
            f"Flag prerequisites form a cycle: {' -> '.join(cycle)}.",
            extensions={"cycle": cycle},
        )
    depths, _ = _prerequisite_graph(flag_set.flags)
    too_deep = sorted(key for key, depth in depths.items() if depth > MAX_PREREQUISITE_DEPTH)
    if too_deep:
        raise e.DomainError(
            e.VAL_FLAG_PREREQUISITE_DEPTH,
            f"Prerequisites of {', '.join(too_deep)} are nested more than {MAX_PREREQUISITE_DEPTH} flags deep.",
        )


def prerequisite_cycle(flags: Mapping[str, Flag]) -> list[str] | None:
    """The first prerequisite cycle found (flags in key order), as a path that ends where it starts, or ``None``."""
    _, cycles = _prerequisite_graph(flags)
    return cycles[0] if cycles else None


def _reference_problems(flag_set: FlagSet) -> list[e.FieldIssue]:
    problems: list[e.FieldIssue] = []
    for key, flag in flag_set.flags.items():
        for i, prerequisite in enumerate(flag.prerequisites):
            location = f"flags.{key}.prerequisites[{i}]"
            required = flag_set.flags.get(prerequisite.flag)
            if required is None:
                problems.append(
                    e.FieldIssue(location=location, message=f"no flag {prerequisite.flag!r}", type="missing_flag")
                )
            elif prerequisite.variant not in required.variant_keys:
                problems.append(
                    e.FieldIssue(
                        location=location,
                        message=f"flag {prerequisite.flag!r} has no variant {prerequisite.variant!r}",
                        type="missing_variant",
                    )
                )
        for i, rule in enumerate(flag.rules):
            for j, condition in enumerate(rule.conditions):
                if condition.attribute != SEGMENT_ATTRIBUTE or not isinstance(condition.value, list):
                    continue
                for segment in condition.value:
                    if segment not in flag_set.segments:
                        problems.append(
                            e.FieldIssue(
                                location=f"flags.{key}.rules[{i}].conditions[{j}]",
                                message=f"no segment {segment!r}",
                                type="missing_segment",
                            )
                        )
    return problems


def _prerequisite_graph(flags: Mapping[str, Flag]) -> tuple[dict[str, int], list[list[str]]]:
    """Each flag's prerequisite depth (the longest chain below it), and the cycles met by a depth-first walk.

    Iterative, so a long chain cannot exhaust the interpreter's stack; missing prerequisites are skipped.
    """
    depths: dict[str, int] = {}
    cycles: list[list[str]] = []
    for root in sorted(flags):
        if root in depths:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending: list[list[str]] = [[p.flag for p in reversed(flags[root].prerequisites)]]
        depths_here: list[int] = [0]
        while path:
            if pending[-1]:
                child = pending[-1].pop()
                if child not in flags:
                    continue
                if child in on_path:
                    cycles.append([*path[path.index(child) :], child])
                    continue
                if child in depths:
                    depths_here[-1] = max(depths_here[-1], depths[child] + 1)
                    continue
                path.append(child)
                on_path.add(child)
                pending.append([p.flag for p in reversed(flags[child].prerequisites)])
                depths_here.append(0)
                continue
            done = path.pop()
            on_path.discard(done)
            pending.pop()
            depth = depths_here.pop()
            depths[done] = depth
            if depths_here:
                depths_here[-1] = max(depths_here[-1], depth + 1)
    return depths, cycles


def _invalid_flags(flag_set: FlagSet) -> set[str]:
    """Flags the evaluator answers with ``ERROR``: missing references, cycles, chains nested too deep."""
    invalid: set[str] = set()
    for key, flag in flag_set.flags.items():
        for prerequisite in flag.prerequisites:
            required = flag_set.flags.get(prerequisite.flag)
            if required is None or prerequisite.variant not in required.variant_keys:
                invalid.add(key)
    depths, cycles = _prerequisite_graph(flag_set.flags)
    for cycle in cycles:
        invalid.update(cycle)
    invalid.update(key for key, depth in depths.items() if depth > MAX_PREREQUISITE_DEPTH)
    return invalid
