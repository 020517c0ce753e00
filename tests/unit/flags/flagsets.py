"""Test data for the flag evaluator: flags, rules, conditions, segments, flag sets and contexts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from firstmile.flags.models import (
    Condition,
    EvaluationContext,
    Flag,
    FlagSet,
    FlagType,
    KillSwitch,
    Operator,
    Prerequisite,
    Rule,
    Segment,
    Serve,
    Variant,
)

TENANT = "t-acme"
USER = "u-alice"
ON = Serve(value=True)
OFF = Serve(value=False)


def cond(attribute: str, operator: str | Operator, value: Any) -> Condition:
    return Condition(attribute=attribute, operator=Operator(operator), value=value)


def rule(rule_id: str, *conditions: Condition, serve: Serve = ON, percentage: float = 100.0) -> Rule:
    return Rule(id=rule_id, conditions=list(conditions), serve=serve, percentage=percentage)


def boolean_flag(
    key: str,
    *rules: Rule,
    enabled: bool = True,
    fallthrough: Serve | None = None,
    requires: dict[str, str] | None = None,
    tags: tuple[str, ...] = (),
    version: int = 1,
    archived: bool = False,
    salt: str | None = None,
) -> Flag:
    extra: dict[str, Any] = {"salt": salt} if salt is not None else {}
    return Flag(
        key=key,
        enabled=enabled,
        rules=list(rules),
        fallthrough=fallthrough,
        prerequisites=[Prerequisite(flag=flag, variant=variant) for flag, variant in (requires or {}).items()],
        tags=list(tags),
        version=version,
        archived=archived,
        **extra,
    )


def variants_flag(
    key: str,
    variants: dict[str, tuple[Any, int]],
    *rules: Rule,
    off: str,
    enabled: bool = True,
    fallthrough: Serve | None = None,
    version: int = 1,
) -> Flag:
    """``variants``: variant key -> (value, weight)."""
    return Flag(
        key=key,
        type=FlagType.VARIANTS,
        variants=[Variant(key=k, value=value, weight=weight) for k, (value, weight) in variants.items()],
        off_variant=off,
        enabled=enabled,
        rules=list(rules),
        fallthrough=fallthrough,
        version=version,
    )


def segment(key: str, *conditions: Condition, users: tuple[str, ...] = ()) -> Segment:
    return Segment(key=key, users=list(users), conditions=list(conditions))


def flag_set(
    *flags: Flag,
    segments: tuple[Segment, ...] = (),
    kill_switch: KillSwitch | None = None,
    version: int = 7,
) -> FlagSet:
    return FlagSet(
        tenant=TENANT,
        version=version,
        flags={f.key: f for f in flags},
        segments={s.key: s for s in segments},
        kill_switch=kill_switch or KillSwitch(),
    )


def context(
    user: str = USER,
    *,
    stickiness_key: str | None = None,
    now: datetime | None = None,
    **attributes: Any,
) -> EvaluationContext:
    return EvaluationContext(tenant=TENANT, user_id=user, attributes=attributes, stickiness_key=stickiness_key, now=now)
