"""Erasure of a user from the flag domain (decision 0066): their id taken out of every segment's user list, every
condition on ``user_id`` and every stored version of every flag. Run by the erasure worker, never in a request."""

from __future__ import annotations

from firstmile.audit.events import action_event
from firstmile.audit.models import AuditEvent
from firstmile.clock import Clock, utc_now
from firstmile.flags.history import flag_diff
from firstmile.flags.models import USER_ID_ATTRIBUTE, Condition, Flag, Operator, Rule
from firstmile.flags.ports import FlagStorePort

# Conditions on user_id that name users: a user is taken out of them on erasure.
_NAMING = frozenset({Operator.EQ, Operator.IN})
_EXCLUDING = frozenset({Operator.NEQ, Operator.NOT_IN})


class FlagErasure:
    """Takes one user out of a tenant's flags."""

    def __init__(self, store: FlagStorePort, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def forget_user(self, tenant: str, user: str) -> list[str]:
        """Remove a user's id from every segment's user list, every condition on ``user_id``, and every stored
        version of every flag (erasure, decision 0066). A flag that names the user now gets a new version without
        them; its history is then rewritten so that no version, and no diff, holds the id. Audited as
        ``system:erasure`` without the id, each entry in the transaction of the first write it covers. Returns what
        changed, as ``flag:<key>`` / ``segment:<key>``.

        Cost: the whole set (row 37) plus one Query of each flag's history, so it belongs in the erasure worker,
        never in a request."""
        actor = "system:erasure"
        flag_set = self._store.load(tenant)
        changed: list[str] = []
        for segment in flag_set.segments.values():
            if user in segment.users:
                kept = segment.model_copy(update={"users": [u for u in segment.users if u != user]})
                target = f"segment:{segment.key}"
                event = action_event(tenant, actor, "flag.user_forgotten", target)
                self._store.put_segment(tenant, kept, actor, self._clock(), event=event)
                changed.append(target)
        for flag in flag_set.flags.values():
            target = f"flag:{flag.key}"
            event = action_event(tenant, actor, "flag.user_forgotten", target)
            cleaned = _without_user(flag, user)
            if cleaned is not None:
                self._store.replace_flag(tenant, cleaned, flag.version, actor, self._clock(), event=event)
            # The flag's entry went with its new version; without one, it goes with the first history rewrite.
            if (
                self._forget_in_history(tenant, flag.key, user, None if cleaned is not None else event)
                or cleaned is not None
            ):
                changed.append(target)
        return changed

    def naming(self, tenant: str, user: str) -> list[str]:
        """What names ``user`` in the tenant's flags (for an export, and the count on an erasure receipt): the
        current segments and flags (``segment:<key>``, ``flag:<key>``) and every stored flag version
        (``flag:<key>@v<version>``). One read of the set and one Query of each flag's history."""
        flag_set = self._store.load(tenant)
        named = [f"segment:{s.key}" for s in flag_set.segments.values() if user in s.users]
        for flag in flag_set.flags.values():
            if _without_user(flag, user) is not None:
                named.append(f"flag:{flag.key}")
            named += [
                f"flag:{flag.key}@v{entry.flag.version}"
                for entry in self._store.history_entries(tenant, flag.key)
                if _without_user(entry.flag, user) is not None
            ]
        return named

    def _forget_in_history(self, tenant: str, key: str, user: str, event: AuditEvent | None) -> bool:
        """Rewrite the versions of ``key`` that name ``user``, and every diff that would still show them (each diff
        is taken again between the cleaned versions); ``event`` goes with the first rewrite. Whether anything was
        rewritten."""
        previous: Flag | None = None
        rewritten = False
        for entry in self._store.history_entries(tenant, key):
            cleaned = _without_user(entry.flag, user) or entry.flag
            diff = flag_diff(previous, cleaned)
            if cleaned != entry.flag or diff != entry.diff:
                rewrite = entry.model_copy(update={"flag": cleaned, "diff": diff})
                self._store.rewrite_history_entry(tenant, rewrite, event=None if rewritten else event)
                rewritten = True
            previous = cleaned
        return rewritten


def _without_user(flag: Flag, user: str) -> Flag | None:
    """``flag`` with ``user`` taken out of its conditions on ``user_id``; ``None`` when none names the user.

    An excluding condition (``neq``, ``not_in``) left without values goes: it excluded nobody else. A naming
    condition (``eq``, ``in``) left without values takes its rule with it: the rule served only the listed users,
    and dropping just the condition would serve everyone.
    """
    touched = False
    rules: list[Rule] = []
    for rule in flag.rules:
        conditions: list[Condition] = []
        keep_rule = True
        for condition in rule.conditions:
            if condition.attribute != USER_ID_ATTRIBUTE or condition.operator not in _NAMING | _EXCLUDING:
                conditions.append(condition)
                continue
            values = condition.value if isinstance(condition.value, list) else [condition.value]
            kept = [v for v in values if v != user]
            if len(kept) == len(values):
                conditions.append(condition)
                continue
            touched = True
            if kept:
                value = kept if isinstance(condition.value, list) else kept[0]
                conditions.append(condition.model_copy(update={"value": value}))
            elif condition.operator in _NAMING:
                keep_rule = False
        if keep_rule:
            rules.append(rule.model_copy(update={"conditions": conditions}))
    if not touched:
        return None
    return Flag.model_validate({**flag.model_dump(), "rules": [rule.model_dump() for rule in rules]})
