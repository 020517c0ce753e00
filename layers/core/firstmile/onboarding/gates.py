"""How onboarding asks for feature flags: through ``FlagGates``, a protocol it owns. The composition root hands it
the flag domain's evaluation; unit tests hand it a plain object, and a service built without one sees every gating
flag as unavailable (``flags_unavailable``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from firstmile.onboarding.logic import FlagGate, flags_unavailable


class FlagGates(Protocol):
    """The flag gate of one user of one tenant: which gating flags are on for them."""

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
        """The user's gate, flags evaluated with ``attributes`` (their token's), each at most once."""
        ...


class NoFlags:
    """Gates for a deployment without flags: every gating flag is unavailable, so gated steps stay hidden."""

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
        """``flags_unavailable`` for everyone."""
        return flags_unavailable


def deferred_gate(gates: FlagGates, tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
    """The user's gate, asked of ``gates`` only when a gated step first asks: a flow without gated steps never reads
    flags (one ``GetItem`` per warm status read)."""
    resolved: list[FlagGate] = []

    def gate(flag_key: str) -> bool | None:
        if not resolved:
            resolved.append(gates.gate_for(tenant, user, attributes))
        return resolved[0](flag_key)

    return gate
