"""The flag sets a container evaluates with, and the bound on how stale they may be.

Every evaluation in a container goes through ``FlagSetCache``. Per tenant it keeps the compiled flag set and checks a
tiny **epoch** (the flag set's version and the kill-switch state, one strongly consistent read) at most every
``check_interval_seconds``; a new version reloads the set, a new kill-switch state recompiles it. When the store
cannot be read, the last good set keeps serving for ``staleness_budget_seconds`` after the last successful check;
past that, every flag serves its off variant with reason ``ERROR`` (``FLAG_SET_STALE``).

The kill-switch guarantee follows (docs/decisions/0062): with ``check_interval + staleness_budget <= 5 s``, an
evaluation made more than 5 seconds after a kill was stored either comes from a check made after the kill (so it
sees it) or from a set older than the budget (so it serves off values). A kill alone does not reload the set: the
compiled set takes the new kill-switch state as it is. No clock outside this container is involved:
the times are the container's monotonic clock, injected for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Protocol

from firstmile.flags import logic
from firstmile.flags.models import (
    EvaluationContext,
    EvaluationError,
    EvaluationReason,
    EvaluationResult,
    FlagSet,
    FlagSettings,
    KillSwitch,
)
from firstmile.observability import logger, mark_request


@cache
def _no_flags() -> logic.CompiledFlagSet:
    """What a tenant without flags evaluates against: every key is unknown (made when first needed, not at
    import: it builds the flag set's model)."""
    return logic.compile_flag_set(FlagSet(tenant="-"))


# The stated bound: a kill is in force in every evaluation at most this long after it was stored.
KILL_SWITCH_BOUND_SECONDS = 5.0


@dataclass(frozen=True)
class FlagEpoch:
    """The part of a tenant's flags read on every check: which version the set is at, what is killed, and the
    tenant's flag settings (what clients may supply, how exposures are sampled)."""

    version: int
    kill_switch: KillSwitch
    settings: FlagSettings = field(default_factory=FlagSettings)


class FlagSetSource(Protocol):
    """Where flag sets come from (the table in a deployment, a fake in tests)."""

    def epoch(self, tenant: str) -> FlagEpoch | None:
        """The tenant's epoch, read strongly consistent; ``None`` when the tenant has no flags."""
        ...

    def load(self, tenant: str) -> FlagSet:
        """The tenant's whole flag set (its kill switch as stored with it)."""
        ...


FLAG_SET_EXPIRED_MARK = "flag-set-expired"


class Freshness(StrEnum):
    # Checked against the store within the check interval.
    FRESH = "fresh"
    # The store could not be read; the last good set serves, within the staleness budget.
    STALE = "stale"
    # Past the budget: off variants with reason ERROR.
    EXPIRED = "expired"


@dataclass
class _Entry:
    version: int
    kill_switch: KillSwitch
    settings: FlagSettings
    flag_set: FlagSet
    compiled: logic.CompiledFlagSet
    checked_at: float


class FlagSetCache:
    """Compiled flag sets per tenant, checked against their epoch at most every ``check_interval_seconds``."""

    def __init__(
        self,
        source: FlagSetSource,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_interval_seconds: float = 1.0,
        staleness_budget_seconds: float = 4.0,
    ) -> None:
        if check_interval_seconds < 0 or staleness_budget_seconds < 0:
            raise ValueError("intervals cannot be negative")
        if check_interval_seconds + staleness_budget_seconds > KILL_SWITCH_BOUND_SECONDS:
            raise ValueError(
                f"check interval + staleness budget must stay within the {KILL_SWITCH_BOUND_SECONDS:g} s kill bound"
            )
        self._source = source
        self._clock = clock
        self._interval = check_interval_seconds
        self._budget = staleness_budget_seconds
        self._entries: dict[str, _Entry] = {}
        # Tenants known to have no flags, and when that was checked.
        self._empty: dict[str, float] = {}

    def freshness(self, tenant: str) -> Freshness:
        """How fresh the tenant's set is after bringing it up to date (what the next evaluation will use)."""
        return self._refresh(tenant)[1]

    def settings(self, tenant: str) -> FlagSettings:
        """The tenant's flag settings as of the last good check (the defaults for a tenant without flags)."""
        entry = self._refresh(tenant)[0]
        return entry.settings if entry is not None else FlagSettings()

    def version(self, tenant: str) -> int:
        """The flag-set version evaluations of the tenant use now (0: no flags)."""
        entry = self._refresh(tenant)[0]
        return entry.version if entry is not None else 0

    def evaluate(self, tenant: str, key: str, context: EvaluationContext) -> EvaluationResult:
        return self.evaluate_all(tenant, context, [key])[key]

    def evaluate_all(
        self, tenant: str, context: EvaluationContext, keys: Iterable[str] | None = None
    ) -> dict[str, EvaluationResult]:
        """Evaluate ``keys`` (default: every flag) of ``tenant`` for ``context``. Never raises."""
        entry, freshness = self._refresh(tenant)
        if entry is None:
            return logic.evaluate_all(_no_flags(), context, keys or ())
        if freshness is Freshness.EXPIRED:
            return self._expired(entry, keys)
        return logic.evaluate_all(entry.compiled, context, keys)

    def gate(self, tenant: str, context: EvaluationContext) -> logic.FlagGate:
        """The onboarding gate for one user: on/off per flag key, ``None`` when it cannot say."""
        entry, freshness = self._refresh(tenant)
        if freshness is Freshness.EXPIRED:
            return lambda _key: None
        if entry is None:  # the tenant has no flags: every gating flag is off
            return lambda _key: False
        return logic.flag_gate(entry.compiled, context)

    # --- keeping sets up to date ------------------------------------------------------------------------------

    def _refresh(self, tenant: str) -> tuple[_Entry | None, Freshness]:
        now = self._clock()
        entry = self._entries.get(tenant)
        checked = entry.checked_at if entry else self._empty.get(tenant)
        if checked is not None and now - checked < self._interval:
            return entry, Freshness.FRESH
        try:
            epoch = self._source.epoch(tenant)
            if epoch is None:
                self._entries.pop(tenant, None)
                self._empty[tenant] = now
                return None, Freshness.FRESH
            entry = self._update(tenant, entry, epoch, now)
        except Exception as exc:  # any failure of the store: serve within the budget, then fail safe
            logger.warning("flag set refresh failed", extra={"tenant": tenant, "error": type(exc).__name__})
            if checked is None:
                return None, Freshness.EXPIRED
            return entry, (Freshness.STALE if now - checked <= self._budget else Freshness.EXPIRED)
        return entry, Freshness.FRESH

    def _update(self, tenant: str, entry: _Entry | None, epoch: FlagEpoch, now: float) -> _Entry:
        if entry is None or entry.version != epoch.version:
            flag_set = self._source.load(tenant)
            flag_set = flag_set.model_copy(update={"kill_switch": epoch.kill_switch})
            entry = _Entry(
                epoch.version, epoch.kill_switch, epoch.settings, flag_set, logic.compile_flag_set(flag_set), now
            )
        elif entry.kill_switch != epoch.kill_switch:
            flag_set = entry.flag_set.model_copy(update={"kill_switch": epoch.kill_switch})
            entry = _Entry(
                epoch.version,
                epoch.kill_switch,
                epoch.settings,
                flag_set,
                entry.compiled.with_kill_switch(epoch.kill_switch),
                now,
            )
        else:
            entry.settings = epoch.settings
            entry.checked_at = now
        self._entries[tenant] = entry
        self._empty.pop(tenant, None)
        return entry

    @staticmethod
    def _expired(entry: _Entry, keys: Iterable[str] | None) -> dict[str, EvaluationResult]:
        # The kill-switch objective counts the requests answered so (firstmile.sla.objectives).
        mark_request(FLAG_SET_EXPIRED_MARK)
        flags = entry.flag_set.flags
        wanted = [k for k, f in flags.items() if not f.archived] if keys is None else list(keys)
        results: dict[str, EvaluationResult] = {}
        for key in wanted:
            flag = flags.get(key)
            results[key] = (
                logic.off_result(flag, EvaluationReason.ERROR, EvaluationError.FLAG_SET_STALE)
                if flag is not None
                else EvaluationResult(
                    flag_key=key,
                    value=None,
                    variant=None,
                    reason=EvaluationReason.ERROR,
                    error=EvaluationError.FLAG_SET_STALE,
                )
            )
        return results
