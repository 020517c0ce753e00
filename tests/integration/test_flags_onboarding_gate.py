"""Onboarding's gated steps evaluate their flag through the container's flag cache, with the caller's token
attributes: shown when the flag is on for the user, hidden with ``flag_off`` when it is off, missing or killed."""

from __future__ import annotations

from typing import Any

import pytest

from firstmile.composition import container, reset
from firstmile.flags.shapes import KillSwitchChange
from tests.integration.conftest import Deployment
from tests.integration.gated_flow import ADMIN, create_gating_flag, publish_default_flow
from tests.integration.routes import RouteClient, ok

TENANT = "t-gate"


def _status(monkeypatch: pytest.MonkeyPatch, user: str, attributes: dict[str, str]) -> dict[str, Any]:
    caller = RouteClient(monkeypatch, tenant=TENANT, subject=user, attributes=attributes)
    return ok(caller.call("onboarding_status"))  # type: ignore[no-any-return]


def _visible(status: dict[str, Any]) -> list[str]:
    return [step["id"] for step in status["steps"]]


def _hidden(status: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["reason"] for step in status["hidden_steps"]}


def test_a_gated_step_follows_its_flag_for_each_user(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a default flow whose second step is gated by the flag team-invites, which the tenant does not have yet
    publish_default_flow(TENANT)

    # Then the step is hidden as off (a missing flag is off, not "cannot say")
    assert _hidden(_status(monkeypatch, "u-pro", {"plan": "pro"})) == {"invite-team": "flag_off"}

    # When the flag is created, on for the pro plan (a token attribute)
    create_gating_flag(TENANT, tags=["collaboration"])
    reset()  # a new container; a warm one sees the change within its 1 s check interval

    # Then a pro user sees the step, a free user does not
    assert "invite-team" in _visible(_status(monkeypatch, "u-pro", {"plan": "pro"}))
    assert _hidden(_status(monkeypatch, "u-free", {"plan": "free"})) == {"invite-team": "flag_off"}

    # When its tag is killed, the step is hidden for the pro user too
    container().flag_controls.change_kill_switch(TENANT, KillSwitchChange(tag="collaboration"), actor=ADMIN)
    reset()
    assert _hidden(_status(monkeypatch, "u-pro", {"plan": "pro"})) == {"invite-team": "flag_off"}
