"""A tenant's default flow whose second step is gated by the flag ``team-invites``, and that flag on for users of the
pro plan (a token attribute), created through the container's services as an admin would."""

from __future__ import annotations

from typing import Any

from firstmile.composition import container
from firstmile.flags.models import Condition, Flag, Rule, Serve
from firstmile.onboarding.models import DefaultFlowUpdate, FlowCreate, StepDefinition

ADMIN = "admin:u-admin"
GATING_FLAG = "team-invites"


def publish_default_flow(tenant: str, *, gated: bool = True) -> None:
    """Flow ``start`` published and made the tenant's default: ``welcome``, then ``invite-team`` (gated unless not
    ``gated``)."""
    service = container().flows
    steps = [
        StepDefinition(id="welcome", title="Welcome", order=0),
        StepDefinition(id="invite-team", title="Invite your team", order=1, gating_flag=GATING_FLAG if gated else None),
    ]
    service.create_flow(tenant, FlowCreate(flow_id="start", name="Start", steps=steps), actor=ADMIN)
    service.publish(tenant, "start", None, actor=ADMIN)
    service.set_default(tenant, DefaultFlowUpdate(flow_id="start"), actor=ADMIN)


def create_gating_flag(tenant: str, **fields: Any) -> None:
    """The gating flag, on for the pro plan and off for everyone else (with ``fields`` such as its tags)."""
    pros = Condition(attribute="plan", operator="eq", value="pro")
    flag = Flag(
        key=GATING_FLAG, enabled=True, rules=[Rule(id="pros", conditions=[pros], serve=Serve(value=True))], **fields
    )
    container().flag_admin.create_flag(tenant, flag, actor=ADMIN)
