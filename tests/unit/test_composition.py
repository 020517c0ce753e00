"""The composition root: one container's parts built once and forgotten on ``reset()``; onboarding's gates reach
the flag domain only when a gated step asks; and building one service loads neither the other domain's services
nor, for onboarding, the flag package (cold start, decision 0045)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from firstmile import composition
from firstmile.onboarding.logic import FlagGate
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate, StepDefinition
from tests.fakes.audit import FakeAuditLog
from tests.fakes.onboarding import FakeOnboardingStore
from tests.fakes.privacy import FakeConsentStore, FakePolicyStore

ROOT = Path(__file__).resolve().parents[2]
TENANT, ADMIN = "t-acme", "admin:u-admin"


class RecordingGates:
    """The flag domain's evaluation as onboarding sees it: every flag on, each request for a gate recorded."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, dict[str, str]]] = []

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> FlagGate:
        self.asked.append((tenant, user, dict(attributes)))
        return lambda _flag: True


def _container_over_fakes(*, gated: bool) -> tuple[composition.Container, RecordingGates]:
    container = composition.container()
    container.onboarding_store = FakeOnboardingStore(audit=FakeAuditLog())
    container.consent_store = FakeConsentStore(container.onboarding_store)  # type: ignore[assignment]
    container.policy_store = FakePolicyStore()  # type: ignore[assignment]
    gates = RecordingGates()
    container.flag_evaluation = gates  # type: ignore[assignment]
    steps = [
        StepDefinition(id="welcome", title="Welcome", order=0),
        StepDefinition(id="invite", title="Invite", order=1, gating_flag="team-invites" if gated else None),
    ]
    container.flows.create_flow(TENANT, FlowCreate(flow_id="start", name="Start", steps=steps), ADMIN)
    container.flows.publish(TENANT, "start", None, ADMIN)
    container.flows.set_default(TENANT, DefaultFlowUpdate(flow_id="start"), ADMIN)
    return container, gates


def test_each_part_is_built_once_per_container_and_anew_after_reset() -> None:
    # Given the container's published versions, asked for twice
    first = composition.container().published_versions
    assert composition.container().published_versions is first
    # When the container is reset
    composition.reset()
    # Then a new container builds a new one, shared again by the services that read versions
    fresh = composition.container()
    assert fresh.published_versions is not first
    fresh.onboarding_store = FakeOnboardingStore(audit=FakeAuditLog())
    assert fresh.progress._versions is fresh.flows._versions is fresh.published_versions


def test_a_flow_without_gated_steps_never_asks_the_flag_domain() -> None:
    # Given a default flow without gated steps
    container, gates = _container_over_fakes(gated=False)
    # When a user reads their status
    status, _ = container.progress.status(TENANT, "u-1", attributes={"plan": "pro"})
    # Then no gate was asked for
    assert [step.id for step in status.steps] == ["welcome", "invite"]
    assert gates.asked == []


def test_a_gated_step_asks_once_with_the_callers_attributes() -> None:
    # Given a default flow whose second step is gated
    container, gates = _container_over_fakes(gated=True)
    # When a user reads their status with their token's attributes
    status, _ = container.progress.status(TENANT, "u-1", attributes={"plan": "pro"})
    # Then the gate was asked for once, for that user and with those attributes, and the step shows
    assert gates.asked == [(TENANT, "u-1", {"plan": "pro"})]
    assert [step.id for step in status.steps] == ["welcome", "invite"]


_LOADED = """
import json, sys
from firstmile.composition import container
getattr(container(), sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("firstmile."))))
"""


def _loaded_after_building(part: str) -> set[str]:
    """The ``firstmile`` modules a fresh interpreter has loaded after building ``part`` of a container."""
    environment = {"FIRSTMILE_TABLE_NAME": "firstmile-test", "AWS_DEFAULT_REGION": "us-east-1", "PATH": ""}
    answer = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _LOADED, part],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, "PYTHONPATH": str(ROOT / "layers" / "core")},
        timeout=120,
    )
    return set(json.loads(answer.stdout))


def test_building_a_users_progress_loads_no_flag_module_and_no_other_onboarding_service() -> None:
    # When a fresh container builds the service of users' own onboarding
    loaded = _loaded_after_building("progress")
    # Then it loaded its own modules, and none of the flag domain's or the other onboarding services'
    assert "firstmile.onboarding.progress" in loaded
    assert {m for m in loaded if m.startswith("firstmile.flags")} == set()
    others = {"flows", "migrations", "samples", "participants"}
    assert {m for m in loaded if m.removeprefix("firstmile.onboarding.") in others} == set()


def test_building_flag_evaluation_loads_no_onboarding_module_and_no_other_flag_service() -> None:
    # When a fresh container builds the evaluation of flags
    loaded = _loaded_after_building("flag_evaluation")
    # Then it loaded evaluation and exposure sampling, nothing of onboarding and no other flag service
    assert {"firstmile.flags.evaluation", "firstmile.flags.exposures"} <= loaded
    assert {m for m in loaded if m.startswith("firstmile.onboarding")} == set()
    assert {m for m in loaded if m.removeprefix("firstmile.flags.") in {"rollouts", "erasure", "controls"}} == set()
