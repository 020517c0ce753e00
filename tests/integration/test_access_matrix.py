"""Who may call what, generated from the catalogue and run through every route's real handler.

Two matrices:

- **Roles.** Every non-public route refuses an anonymous call with 401 ``AUTH_*`` and a caller without its role
  with 403 ``PERM_*``, before its body runs. Roles: ``user`` < ``admin`` < ``operator``, with operators apart: an
  operator's token holds ``operator`` only (``identity.models.OPERATOR_ROLES``), an admin's ``user,admin``, a
  user's ``user``. So a route is called by every token that lacks its role: the roles strictly below its own, and
  also an operator on a tenant route. A caller holding the role gets through (the positive control, which shows
  that the refusals come from the role and not from a request the route could not have served anyway).
- **Tenants.** Tenant A's data is seeded (its tenant, API client, a session, audit entries); a caller of tenant B
  holding the route's role calls every route, with tenant A's ids wherever a request can carry one. The answer is
  403/404 or a 2xx, never carrying tenant A's identifiers, and tenant A's items are left exactly as they were.

``PROBES`` says how to call each route (body, query, which ids). ``test_every_catalogued_route_has_a_probe`` fails
when a route is added to the catalogue without one, so a new route cannot slip past both matrices.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import jwt
import pytest

from firstmile.analytics.alert_store import AlertRuleStore
from firstmile.analytics.alerting import AlertRules
from firstmile.analytics.alerts import AlertRecord, AlertRule, AlertStatus
from firstmile.analytics.reports import AnalyticsReports
from firstmile.analytics.shapes import Period
from firstmile.analytics.store import FunnelCounterStore
from firstmile.audit.events import action_event
from firstmile.audit.models import AuditEvent
from firstmile.audit.store import AuditStore
from firstmile.backups.control import DynamoDbControlPlane
from firstmile.backups.models import Drill
from firstmile.backups.store import DrillStoreOnTable
from firstmile.composition import reset
from firstmile.config import get_settings, reset_settings
from firstmile.failures.task_store import TaskStore
from firstmile.failures.tasks import TaskDraft, task_id
from firstmile.flags.admin import FlagAdmin
from firstmile.flags.controls import FlagControls
from firstmile.flags.exposures import Exposures
from firstmile.flags.models import Flag, FlagSettings, Segment
from firstmile.flags.rollout import RolloutPlanRequest
from firstmile.flags.rollouts import Rollouts
from firstmile.flags.shapes import KillSwitchChange
from firstmile.flags.store import FlagStore
from firstmile.identity import keys
from firstmile.identity.keys import KeySet, RotationPolicy
from firstmile.identity.models import ApiClientCreate, ClientCredentialsGrant, TenantCreate
from firstmile.identity.refresh import new_refresh_token
from firstmile.identity.sessions import SessionPolicy, SessionService
from firstmile.identity.store import IdentityStore
from firstmile.identity.tenancy import TenancyService
from firstmile.identity.tokens import new_token_id
from firstmile.onboarding.flows import FlowAdmin
from firstmile.onboarding.migrations import Migrations
from firstmile.onboarding.models import (
    DefaultFlowUpdate,
    FlowCreate,
    MigrationAccepted,
    MigrationRequest,
    OnboardingSettings,
)
from firstmile.onboarding.progress import ProgressService
from firstmile.onboarding.store import OnboardingStore
from firstmile.onboarding.versions import PublishedVersions
from firstmile.platform import aws
from firstmile.platform.queues import JsonQueue
from firstmile.platform.resources import ONBOARDING_MIGRATIONS_QUEUE
from firstmile.privacy.consent import ConsentChange, Purpose
from firstmile.privacy.consent_store import ConsentStore
from firstmile.privacy.consents import Consents
from firstmile.privacy.policies import PolicyPublish, PolicyType
from firstmile.privacy.policy_store import PolicyStore
from firstmile.privacy.policy_versions import PolicyVersions
from firstmile.privacy.request_store import RequestStore
from firstmile.privacy.requests import PrivacyRequest, RequestState, RequestType, code_digest, deadline_for
from firstmile.webhooks.deliveries import DeliveryLog
from firstmile.webhooks.store import WebhookStore
from functions.catalog import Function, Route, http_functions
from tests.factories import FakeLambdaContext, body_of, caller, http_event, load_handler
from tests.integration.conftest import Deployment
from tests.integration.routes import configure_route

TENANT_A = "alpha-corp"
TENANT_B = "bravo-corp"
OPERATOR_ACTOR = "operator:fmc_matrix"
SUCCESS = range(200, 300)


# --- callers --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A kind of access token, by the roles it carries."""

    name: str
    roles: str

    def holds(self, role: str) -> bool:
        return role in self.roles.split(",")


USER = Token("user", "user")
ADMIN = Token("admin", "user,admin")
OPERATOR = Token("operator", "operator")
NO_ROLE = Token("no-role", "")
TOKENS = (USER, ADMIN, OPERATOR, NO_ROLE)
HOLDER = {"user": USER, "admin": ADMIN, "operator": OPERATOR}


def authorizer_context(tenant: str, subject: str, token: Token) -> dict[str, str]:
    """What the authorizer passes on for a verified token of ``tenant``/``subject`` (sid, jti, exp included)."""
    return {
        **caller(tenant=tenant, sub=subject, roles=token.roles),
        "sid": new_token_id(),
        "jti": new_token_id(),
        "exp": str(int(time.time()) + 600),
    }


# --- tenants' data --------------------------------------------------------------------------------------------


@dataclass
class TenantData:
    """One seeded tenant and everything of it a response must never show to another tenant."""

    tenant: str
    client_id: str
    client_name: str
    client_secret: str
    user: str
    session_id: str
    refresh_token: str
    access_token: str
    audit_actor: str
    audit_action: str
    audit_target: str
    audit_hashes: tuple[str, ...]
    audit_cursor: str | None
    # Onboarding: a published flow (versions 1 and 2, the default; its name carries the tenant id, so a response
    # showing it is caught as a leak) on which ``user`` is enrolled, and a migration between the two versions.
    flow_id: str = ""
    migration_id: str = ""
    # Feature flags (``flag_names``): a flag in its second version, a flag whose rule is being rolled out (an
    # active plan), a segment, flag settings allowing one client attribute, a killed tag, sampled exposures, and a
    # cursor into the flag list. Descriptions carry the tenant id and history entries the admin who made them, so
    # a response showing them is caught as a leak.
    flag_key: str = ""
    rollout_flag_key: str = ""
    segment_key: str = ""
    client_attribute: str = ""
    killed_tag: str = ""
    flag_cursor: str | None = None

    def identifiers(self) -> dict[str, str]:
        """What identifies this tenant's data in a response body (user ids are per tenant, so not included)."""
        named = {
            "tenant": self.tenant,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "client_secret": self.client_secret,
            "session_id": self.session_id,
            "refresh_token": self.refresh_token,
            "access_token": self.access_token,
            "audit_actor": self.audit_actor,
            "audit_target": self.audit_target,
        }
        return named | {f"audit_hash_{n}": h for n, h in enumerate(self.audit_hashes)}


@dataclass
class World:
    """Tenant A (whose data is probed for) and tenant B (whose caller probes)."""

    a: TenantData
    b: TenantData


def flag_names(tenant: str) -> dict[str, str]:
    """The keys of a tenant's seeded flags, segment, client attribute and killed tag. They carry the tenant's short
    name only (``checkout-alpha``), never its id: tenant B may send them (and write them into its own items, such as
    its audit entries) without that counting as tenant A's data, and an answer naming a key the caller sent is no
    leak."""
    short = tenant.split("-")[0]
    return {
        "flag_key": f"checkout-{short}",
        "rollout_flag_key": f"search-{short}",
        "segment_key": f"testers-{short}",
        "client_attribute": f"region_{short}",
        "killed_tag": f"legacy-{short}",
    }


# The role matrix's table stays empty: its requests only need ids and bodies of the right shape.
UNSEEDED_IDS = {
    "tenant_id": TENANT_A,
    "client_id": "fmc_" + "A" * 22,
    "flow_id": "welcome-alpha",
    "version": "1",
    "user_id": "u-alpha-1",
    "migration_id": "mig_" + "A" * 22,
    "key": flag_names(TENANT_A)["flag_key"],
    "rule_id": "drop-alpha",
    "request_id": "dsr_" + "a" * 24,
    "task_id": "20261201T090000000-" + "a" * 16,
    "endpoint_id": "whe_" + "a" * 22,
    "message_id": "msg_20261201090000_" + "a" * 20,
    "drill_id": "drl_20261201T090000000_aaaaaa",
}
_NOBODY = TenantData(
    tenant=TENANT_A,
    client_id=UNSEEDED_IDS["client_id"],
    client_name="-",
    client_secret="-",
    user="u-alpha-1",
    session_id="-",
    refresh_token="-",
    access_token="-",
    audit_actor="admin:alpha-corp-admin",
    audit_action="flow.published",
    audit_target="-",
    audit_hashes=(),
    audit_cursor=None,
    flow_id=UNSEEDED_IDS["flow_id"],
    migration_id=UNSEEDED_IDS["migration_id"],
    **flag_names(TENANT_A),
)
UNSEEDED = World(a=_NOBODY, b=_NOBODY)


# --- how to call each route -----------------------------------------------------------------------------------

Body = Callable[[World], Any]
Query = Callable[[World], dict[str, str]]
Headers = Callable[[World], dict[str, str]]
Ids = Callable[[World], dict[str, str]]


@dataclass(frozen=True)
class Probe:
    """One way of calling a route, as its clients do.

    ``headers``: request headers besides ``Content-Type`` (``If-Match``).
    ``ids``: path parameters that differ from the tenant's defaults (``tenant_ids``), such as which flag ``{key}``
    names.
    ``token``: the caller's token kind (default: the one holding the route's role; ``USER`` on public routes).
    ``also_allowed``: refusals besides 403/404 that are a correct answer to this probe, as (status, code).
    ``check``: what else the answer must show (for instance, that it is about tenant B's data).
    """

    label: str
    body: Body | None = None
    query: Query | None = None
    headers: Headers | None = None
    ids: Ids | None = None
    token: Token | None = None
    also_allowed: frozenset[tuple[int, str]] = frozenset()
    check: Callable[[World, dict[str, Any]], None] | None = None
    # Items of tenant A the refused call may add or change: traces of the refusal itself, never A's data.
    traces: Callable[[dict[str, Any]], bool] | None = None

    def token_for(self, route: Route) -> Token:
        return self.token or HOLDER.get(route.role, USER)


def _failed_authentication_trace(item: dict[str, Any]) -> bool:
    """A failed client authentication is counted under the client id and audited in the client's tenant's chain
    (decision 0009): the failure counter, the audit entry and its copies, and the chain's head move."""
    if item.get("kind") == "rate_counter":
        return "client_auth_failure" in str(item.get("sk"))
    if item.get("kind") in ("audit_entry", "audit_actor_entry"):
        return item.get("action") == "auth.client_authentication_failed"
    return item.get("kind") == "audit_head"


def _minted_for_tenant_b(world: World, response: dict[str, Any]) -> None:
    # The client's tenant decides the session's tenant, whatever user id the backend names.
    claims = jwt.decode(body_of(response)["access_token"], options={"verify_signature": False})
    assert (claims["tenant"], claims["sub"]) == (TENANT_B, world.a.user)


def _verified_tenant_bs_chain(world: World, response: dict[str, Any]) -> None:
    verification = body_of(response)
    assert verification["ok"] is True
    assert verification["checked"] == len(world.b.audit_hashes)


def _only_tenant_bs_entries(world: World, response: dict[str, Any]) -> None:
    assert {entry["tenant"] for entry in body_of(response)["items"]} <= {TENANT_B}


def _forged_cursor(world: World) -> str:
    """A cursor bound to tenant B's unfiltered list whose start key points into tenant A's chain."""
    scope = f"TENANT#{TENANT_B}#AUDIT|ENTRY#|ENTRY#~|"
    start = {"pk": f"TENANT#{TENANT_A}#AUDIT", "sk": "ENTRY#9999"}
    raw = json.dumps({"p": scope, "k": start}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CURSOR_REFUSED = frozenset({(400, "VAL_CURSOR_INVALID")})


def probe_flow(flow_id: str | None, name: str) -> dict[str, Any]:
    """A flow definition as an admin writes it (with ``flow_id``, the body that creates it): every step optional, so
    a user may complete the onboarding at once, which the positive control of ``POST /v1/onboarding/complete``
    needs."""
    definition: dict[str, Any] = {
        "name": name,
        "steps": [
            {"id": "connect", "title": "Connect", "kind": "task", "required": False, "order": 10},
            {"id": "tour", "title": "Tour", "kind": "tutorial", "required": False, "order": 20, "hint": "Look."},
            {
                "id": "first-run",
                "title": "First run",
                "kind": "milestone",
                "required": False,
                "order": 30,
                "completion_criteria": {"milestone": "first_run"},
            },
        ],
        "sample_workflow": {"name": f"{name} workflow"},
        "sample_agent": {"name": f"{name} agent"},
    }
    return definition if flow_id is None else {"flow_id": flow_id, **definition}


def _only_tenant_bs_flows(world: World, response: dict[str, Any]) -> None:
    assert {flow["flow_id"] for flow in body_of(response)["items"]} <= {world.b.flow_id}


def _on_tenant_bs_flow(world: World, response: dict[str, Any]) -> None:
    assert body_of(response)["flow_id"] == world.b.flow_id


def _draft_at_version_3(world: World) -> dict[str, str]:
    # The seeded flow's draft: created, then published twice (each publication moves the draft's edit version).
    return {"If-Match": '"v3"'}


def _migration(world: World, *, dry_run: bool) -> dict[str, Any]:
    return {"flow_id": world.a.flow_id, "from_version": 1, "to_version": 2, "dry_run": dry_run}


# The user routes act on the caller's own onboarding (tenant and user from the token), so their cross-tenant
# probes are tenant B's user acting on itself while tenant A's items must stay as they were.
ONBOARDING_PROBES: dict[str, tuple[Probe, ...]] = {
    "GET /v1/onboarding/status": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "POST /v1/onboarding/step": (
        Probe("start a step", body=lambda w: {"step_id": "connect", "action": "start"}, check=_on_tenant_bs_flow),
    ),
    "POST /v1/onboarding/complete": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "POST /v1/onboarding/skip": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "POST /v1/onboarding/mark-sample-workflow": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "POST /v1/onboarding/mark-sample-agent": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "POST /v1/onboarding/mark-first-run": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "GET /v1/onboarding/sample-workflow": (Probe("own onboarding", check=_on_tenant_bs_flow),),
    "GET /v1/admin/onboarding/flows": (
        Probe("unfiltered", check=_only_tenant_bs_flows),
        Probe("limit 1", query=lambda w: {"limit": "1"}, check=_only_tenant_bs_flows),
    ),
    "POST /v1/admin/onboarding/flows": (
        Probe("new flow", body=lambda w: probe_flow("probe-flow", "Probe flow")),
        # Flow ids are per tenant: the same id as tenant A's makes a flow of tenant B, and leaves A's alone.
        Probe("tenant A's flow id", body=lambda w: probe_flow(w.a.flow_id, "Probe flow")),
    ),
    "GET /v1/admin/onboarding/flows/{flow_id}": (Probe("tenant A's flow"),),
    "PUT /v1/admin/onboarding/flows/{flow_id}": (
        Probe("tenant A's flow", body=lambda w: probe_flow(None, "Edited by a probe"), headers=_draft_at_version_3),
    ),
    "POST /v1/admin/onboarding/flows/{flow_id}/publish": (Probe("tenant A's flow"),),
    "GET /v1/admin/onboarding/flows/{flow_id}/versions": (Probe("tenant A's flow"),),
    "GET /v1/admin/onboarding/flows/{flow_id}/versions/{version}": (Probe("tenant A's flow"),),
    "GET /v1/admin/onboarding/default-flow": (Probe("plain", check=_on_tenant_bs_flow),),
    "PUT /v1/admin/onboarding/default-flow": (
        Probe("tenant A's flow", body=lambda w: {"flow_id": w.a.flow_id}),
        Probe("own flow", body=lambda w: {"flow_id": w.b.flow_id}, check=_on_tenant_bs_flow),
    ),
    # User ids are per tenant: restarting tenant A's user id in tenant B finds no such user there (404).
    "POST /v1/admin/onboarding/users/{user_id}/restart": (
        Probe("tenant A's user", check=_on_tenant_bs_flow),
        Probe("tenant A's user on tenant A's flow", body=lambda w: {"flow_id": w.a.flow_id}),
    ),
    "POST /v1/admin/onboarding/sample-users": (
        Probe("two users", body=lambda w: {"count": 2, "seed": 1}, check=_on_tenant_bs_flow),
        Probe("on tenant A's flow", body=lambda w: {"count": 1, "flow_id": w.a.flow_id}),
    ),
    "POST /v1/admin/onboarding/migrate-version": (
        Probe("dry run of tenant A's flow", body=lambda w: _migration(w, dry_run=True)),
        Probe("tenant A's flow", body=lambda w: _migration(w, dry_run=False)),
    ),
    "GET /v1/admin/onboarding/migrations/{migration_id}": (Probe("tenant A's migration"),),
}


def probe_flag(key: str, description: str) -> dict[str, Any]:
    """A boolean flag as an admin writes it: on for half of the users on the pro plan, tagged ``checkout``."""
    return {
        "key": key,
        "description": description,
        "enabled": True,
        "rules": [
            {
                "id": "pros",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
                "percentage": 50,
                "serve": {"value": True},
            }
        ],
        "tags": ["checkout"],
    }


def probe_rollout(rule_id: str = "pros") -> dict[str, Any]:
    return {"rule_id": rule_id, "steps": [{"percentage": 60}, {"percentage": 100}]}


def _flag_keys(data: TenantData) -> set[str]:
    return {data.flag_key, data.rollout_flag_key}


def _on_rollout_flag(world: World) -> dict[str, str]:
    return {"key": world.a.rollout_flag_key}


def _on_segment(world: World) -> dict[str, str]:
    return {"key": world.a.segment_key}


def _at_version_2(world: World) -> dict[str, str]:
    # The seeded flag's current version (created, then changed once).
    return {"If-Match": '"v2"'}


def _only_tenant_bs_flag_list(world: World, response: dict[str, Any]) -> None:
    assert {flag["key"] for flag in body_of(response)["items"]} <= _flag_keys(world.b)


def _only_tenant_bs_segments(world: World, response: dict[str, Any]) -> None:
    assert {segment["key"] for segment in body_of(response)["items"]} <= {world.b.segment_key}


def _tenant_bs_settings(world: World, response: dict[str, Any]) -> None:
    assert body_of(response)["client_attributes"] == [world.b.client_attribute]


def _tenant_bs_kill_switch(world: World, response: dict[str, Any]) -> None:
    state = body_of(response)
    assert (state["flags"], state["tags"]) == ([], [world.b.killed_tag])


def _evaluated_tenant_bs_flags(world: World, response: dict[str, Any]) -> None:
    assert set(body_of(response)["flags"]) == _flag_keys(world.b)


def _tenant_as_flags_unknown(world: World, response: dict[str, Any]) -> None:
    results = body_of(response)["flags"]
    assert set(results) == _flag_keys(world.a)
    assert all((r["reason"], r["error"], r["value"]) == ("ERROR", "FLAG_NOT_FOUND", None) for r in results.values())


def _never_served(world: World, response: dict[str, Any]) -> None:
    raise AssertionError(f"tenant B was served what only tenant A's data could allow: {body_of(response)}")


REFERENCE_REFUSED = frozenset({(422, "VAL_FLAG_REFERENCE_INVALID")})
ATTRIBUTE_REFUSED = frozenset({(422, "VAL_ATTRIBUTE_NOT_ALLOWED")})

# Flags, segments, settings and the kill switch are per tenant: keys are too, so a key of tenant A names nothing
# (or a thing of tenant B's own) when tenant B sends it. A flag may refer only to its own tenant's flags and
# segments, and a client may supply only the attributes its own tenant allows.
FLAG_PROBES: dict[str, tuple[Probe, ...]] = {
    "POST /v1/flags/evaluate": (
        Probe("own flags", body=lambda w: {}, check=_evaluated_tenant_bs_flags),
        Probe(
            "tenant A's flags by key",
            body=lambda w: {"flags": sorted(_flag_keys(w.a))},
            check=_tenant_as_flags_unknown,
        ),
        Probe(
            "own client attribute",
            body=lambda w: {"attributes": {w.b.client_attribute: "eu"}},
            check=_evaluated_tenant_bs_flags,
        ),
        Probe(
            "tenant A's client attribute",
            body=lambda w: {"attributes": {w.a.client_attribute: "eu"}},
            also_allowed=ATTRIBUTE_REFUSED,
            check=_never_served,
        ),
    ),
    "GET /v1/admin/feature-flags": (
        Probe("unfiltered", check=_only_tenant_bs_flag_list),
        Probe("limit 1", query=lambda w: {"limit": "1"}, check=_only_tenant_bs_flag_list),
        Probe(
            "tenant A's cursor",
            query=lambda w: {"cursor": str(w.a.flag_cursor)},
            also_allowed=CURSOR_REFUSED,
            check=_only_tenant_bs_flag_list,
        ),
    ),
    "POST /v1/admin/feature-flags": (
        Probe("new flag", body=lambda w: probe_flag("probe-flag", "Probe flag")),
        Probe("tenant A's flag key", body=lambda w: probe_flag(w.a.flag_key, "Probe flag")),
        Probe(
            "prerequisite on tenant A's flag",
            body=lambda w: {"key": "probe-dependent", "prerequisites": [{"flag": w.a.rollout_flag_key}]},
            also_allowed=REFERENCE_REFUSED,
            check=_never_served,
        ),
        Probe(
            "rule on tenant A's segment",
            body=lambda w: {
                "key": "probe-segmented",
                "enabled": True,
                "rules": [
                    {
                        "id": "testers",
                        "conditions": [{"attribute": "segment", "operator": "in", "value": [w.a.segment_key]}],
                        "serve": {"value": True},
                    }
                ],
            },
            also_allowed=REFERENCE_REFUSED,
            check=_never_served,
        ),
    ),
    "GET /v1/admin/feature-flags/{key}": (Probe("tenant A's flag"),),
    "PUT /v1/admin/feature-flags/{key}": (
        Probe(
            "tenant A's flag",
            body=lambda w: probe_flag(w.a.flag_key, "Edited by a probe"),
            headers=_at_version_2,
        ),
        Probe(
            "tenant A's flag, version in the body",
            body=lambda w: {**probe_flag(w.a.flag_key, "Edited by a probe"), "version": 2},
        ),
    ),
    "DELETE /v1/admin/feature-flags/{key}": (Probe("tenant A's flag", headers=_at_version_2),),
    "GET /v1/admin/feature-flags/{key}/history": (Probe("tenant A's flag"),),
    "POST /v1/admin/feature-flags/{key}/rollback": (
        Probe("tenant A's flag", body=lambda w: {"version": 1}, headers=_at_version_2),
    ),
    "GET /v1/admin/feature-flags/{key}/exposures": (
        Probe("tenant A's flag"),
        Probe("tenant A's flag, 90 days", query=lambda w: {"days": "90"}),
    ),
    "GET /v1/admin/feature-flags/{key}/rollout": (Probe("tenant A's rollout", ids=_on_rollout_flag),),
    "PUT /v1/admin/feature-flags/{key}/rollout": (
        Probe("tenant A's flag", body=lambda w: probe_rollout()),
        Probe("tenant A's flag being rolled out", ids=_on_rollout_flag, body=lambda w: probe_rollout("everyone")),
    ),
    "DELETE /v1/admin/feature-flags/{key}/rollout": (Probe("tenant A's rollout", ids=_on_rollout_flag),),
    "GET /v1/admin/segments": (
        Probe("unfiltered", check=_only_tenant_bs_segments),
        Probe("limit 1", query=lambda w: {"limit": "1"}, check=_only_tenant_bs_segments),
    ),
    "GET /v1/admin/segments/{key}": (Probe("tenant A's segment", ids=_on_segment),),
    "PUT /v1/admin/segments/{key}": (
        Probe(
            "tenant A's segment",
            ids=_on_segment,
            body=lambda w: {"key": w.a.segment_key, "description": "Edited by a probe", "users": ["u-probe"]},
        ),
    ),
    "GET /v1/admin/kill-switch": (Probe("plain", check=_tenant_bs_kill_switch),),
    "POST /v1/admin/kill-switch": (
        Probe("tenant A's flag", body=lambda w: {"flag": w.a.flag_key, "reason": "probe"}),
        Probe(
            "revive tenant A's killed tag",
            body=lambda w: {"tag": w.a.killed_tag, "killed": False},
            check=_tenant_bs_kill_switch,
        ),
        Probe("every flag", body=lambda w: {"all": True, "reason": "probe"}),
    ),
    "GET /v1/admin/flag-settings": (Probe("plain", check=_tenant_bs_settings),),
    "PUT /v1/admin/flag-settings": (
        Probe(
            "tenant A's client attribute",
            body=lambda w: {"client_attributes": [w.a.client_attribute], "exposure_sample_rate": 0.5},
        ),
    ),
}


def _tenant_bs_report(world: World, response: dict[str, Any]) -> None:
    assert body_of(response)["flow_id"] == world.b.flow_id


def _analytics_probes(path: str) -> dict[str, tuple[Probe, ...]]:
    """An analytics report reads the caller's tenant's counters of a flow named by id: tenant A's flow id names
    nothing in tenant B (404), and tenant B's own flow answers its own report."""
    return {
        f"GET /v1/onboarding/analytics/{path}": (
            Probe("tenant A's flow", query=lambda w: {"flow": w.a.flow_id}),
            Probe("own flow", query=lambda w: {"flow": w.b.flow_id}, check=_tenant_bs_report),
        )
    }


def idle_window(tenant: str) -> int:
    """The idle window each seeded tenant sets, different for each."""
    return 10 + sum(map(ord, tenant)) % 60


def _tenant_bs_settings(world: World, response: dict[str, Any]) -> None:
    assert body_of(response) == {"idle_days": idle_window(world.b.tenant)}


def alert_rule_id(tenant: str) -> str:
    """The id of the drop-off alert rule seeded for a tenant: its short name only, as the flag keys."""
    return f"drop-{tenant.split('-')[0]}"


def probe_alert_rule(rule_id: str, flow_id: str) -> dict[str, Any]:
    return {"rule_id": rule_id, "flow_id": flow_id, "kind": "conversion_drop", "threshold": 10}


def _only_tenant_bs_rules(world: World, response: dict[str, Any]) -> None:
    body = body_of(response)
    assert {rule["rule_id"] for rule in body["items"]} <= {alert_rule_id(world.b.tenant)}
    assert body["firing"] == 1  # tenant B's own seeded rule, never A's


def _only_tenant_bs_alerts(world: World, response: dict[str, Any]) -> None:
    body = body_of(response)
    assert {alert["rule_id"] for alert in body["items"]} == {alert_rule_id(world.b.tenant)}
    assert body["firing_rules"] == [alert_rule_id(world.b.tenant)]


_RULES = "/v1/admin/onboarding/analytics/alert-rules"


def _only_own_consent(world: World, response: dict[str, Any]) -> None:
    # Each tenant's user withdrew marketing under a policy version naming their tenant: B's caller sees B's only
    assert {r["policy_version"] for r in body_of(response)["history"]} <= {f"{world.b.tenant}-policy"}


def _only_own_policies(world: World, response: dict[str, Any]) -> None:
    # Each tenant published a privacy policy whose link names it: B's caller sees B's only
    assert {p["url"] for p in body_of(response)["history"]} <= {f"https://{world.b.tenant}.example/privacy"}


def _tenant_bs_record(world: World, response: dict[str, Any]) -> None:
    assert body_of(response)["tenant_id"] == world.b.tenant


def _own_requests_only(world: World, response: dict[str, Any]) -> None:
    body = body_of(response)
    assert {item["request_id"] for item in body["items"]} <= {
        privacy_request_id(world.b.tenant, kind) for kind in ("export", "unverified", "verified", "recorded")
    }
    assert body["counts"]["pending"] == 2  # tenant B's own two pending requests, never A's


def _request_of_a(kind: str) -> Callable[[World], dict[str, str]]:
    return lambda w: {"request_id": privacy_request_id(w.a.tenant, kind)}


_DSR = "/v1/admin/dsr/requests/{request_id}"
PRIVACY_REQUEST_PROBES: dict[str, tuple[Probe, ...]] = {
    "POST /v1/compliance/export/request": (Probe("own export"),),
    "GET /v1/compliance/export/{request_id}": (Probe("tenant A's export"),),
    "POST /v1/compliance/deletion/request": (Probe("own erasure"),),
    "POST /v1/compliance/deletion/verify": (
        Probe("tenant A's request and code", body=lambda w: {**_request_of_a("unverified")(w), "code": PROBE_CODE}),
    ),
    "POST /v1/compliance/deletion/execute": (Probe("tenant A's verified request", body=_request_of_a("verified")),),
    "POST /v1/admin/dsr/export": (Probe("tenant A's user", body=lambda w: {"user_id": w.a.user, "note": "probe"}),),
    "POST /v1/admin/dsr/delete": (Probe("tenant A's user", body=lambda w: {"user_id": w.a.user, "note": "probe"}),),
    "GET /v1/admin/dsr/requests": (
        Probe("all", check=_own_requests_only),
        Probe("pending", query=lambda w: {"state": "pending"}, check=_own_requests_only),
        Probe("overdue", query=lambda w: {"overdue": "true"}, check=_own_requests_only),
    ),
    f"GET {_DSR}": (Probe("tenant A's request"),),
    f"POST {_DSR}/approve": (Probe("tenant A's recorded request", ids=_request_of_a("recorded")),),
    f"POST {_DSR}/deny": (
        Probe("tenant A's recorded request", ids=_request_of_a("recorded"), body=lambda w: {"reason": "probe"}),
    ),
    "GET /v1/admin/compliance/settings": (Probe("own settings"),),
    "PATCH /v1/me": (Probe("own attributes", body=lambda w: {"attributes": {"country": "FR", "plan": None}}),),
    "PUT /v1/admin/compliance/settings": (
        Probe("own settings", body=lambda w: {"execute_erasure_on_verification": True, "second_admin_approval": True}),
    ),
}


DLQ_SENT_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def dead_letter_task_id(tenant: str) -> str:
    """The id of the tenant's seeded dead-letter task."""
    return task_id(DLQ_SENT_AT, "queue:flag-exposures", f"{tenant}-poison")


def seed_dead_letter_task(tenant: str, user: str) -> None:
    """An exposure message of the tenant that its worker could not count, dead-lettered and collected."""
    body = json.dumps({"tenant": tenant, "rate": 1.0, "exposures": [{"flag": "probe", "user": user}]})
    table = aws.table(get_settings().table_name)
    TaskStore(table, audit=AuditStore(table)).admit(
        TaskDraft(
            task_id=dead_letter_task_id(tenant),
            task="flag_exposure_worker",
            kind="queue",
            source="queue:flag-exposures",
            message_id=f"{tenant}-poison",
            letter_id=f"{tenant}-letter",
            location="flag-exposures-dlq",
            exception_type="KeyError",
            message="'day'",
            attempts=5,
            first_failed_at=DLQ_SENT_AT,
            last_failed_at=DLQ_SENT_AT,
            dead_lettered_at=DLQ_SENT_AT,
            tenant=tenant,
            payload=json.loads(body),
            body=body,
            failure_recorded=True,
        )
    )


def _own_tasks_only(world: World, response: dict[str, Any]) -> None:
    body = body_of(response)
    if "items" in body:
        assert [item["task_id"] for item in body["items"]] == [dead_letter_task_id(world.b.tenant)]
        assert body["total"] == 1
    elif "total_tasks" in body:
        assert (body["total_tasks"], body["tasks_by_type"]) == (1, {"flag_exposure_worker": 1})
    else:
        assert set(body["task_ids"]) <= {dead_letter_task_id(world.b.tenant)}


def webhook_endpoint_id(tenant: str) -> str:
    """The id of the tenant's seeded webhook endpoint."""
    return "whe_" + hashlib.sha256(tenant.encode()).hexdigest()[:22]


def seed_webhook_endpoint(tenant: str) -> None:
    table = aws.table(get_settings().table_name)
    WebhookStore(table, audit=AuditStore(table)).put(
        tenant,
        {
            "endpoint_id": webhook_endpoint_id(tenant),
            "url": f"https://hooks.{tenant}.example.com/in",
            "event_types": ["flag.changed"],
            "description": f"{tenant} backend",
            "enabled": True,
            "created_at": DLQ_SENT_AT.isoformat(),
            "updated_at": DLQ_SENT_AT.isoformat(),
            "secret": "whsec_" + base64.b64encode(tenant.encode()).decode(),
        },
        0,
        AuditEvent(tenant=tenant, actor=f"admin:{tenant}-admin", action="webhook.created", target="webhook:seed"),
    )
    message = {"message_id": delivery_id(tenant), "type": "flag.changed", "body": "{}", "created_at": "2026-12-01"}
    DeliveryLog(table).attempt(tenant, webhook_endpoint_id(tenant), message, "delivered", DLQ_SENT_AT, status=204)


def delivery_id(tenant: str) -> str:
    """The id of the tenant's seeded webhook delivery."""
    return "msg_20261201090000_" + hashlib.sha256(tenant.encode()).hexdigest()[:20]


def _own_endpoints_only(world: World, response: dict[str, Any]) -> None:
    body = body_of(response)
    assert [item["endpoint_id"] for item in body["items"]] == [webhook_endpoint_id(world.b.tenant)]


_ENDPOINT = "/v1/admin/webhooks/{endpoint_id}"
WEBHOOK_PROBES: dict[str, tuple[Probe, ...]] = {
    # An IP literal: a public address that needs no DNS.
    "POST /v1/admin/webhooks": (
        Probe("public address", body=lambda w: {"url": "https://93.184.216.34/in", "event_types": ["flag.changed"]}),
    ),
    "GET /v1/admin/webhooks": (Probe("all", check=_own_endpoints_only),),
    f"GET {_ENDPOINT}": (Probe("tenant A's endpoint"),),
    f"PATCH {_ENDPOINT}": (Probe("tenant A's endpoint", body=lambda w: {"enabled": False}),),
    f"DELETE {_ENDPOINT}": (Probe("tenant A's endpoint"),),
    f"POST {_ENDPOINT}/rotate-secret": (Probe("tenant A's endpoint"),),
    f"GET {_ENDPOINT}/deliveries": (Probe("tenant A's endpoint"),),
    f"POST {_ENDPOINT}/deliveries/{{message_id}}/replay": (Probe("tenant A's delivery"),),
}


_TASK = "/v1/admin/dlq/tasks/{task_id}"
DEAD_LETTER_PROBES: dict[str, tuple[Probe, ...]] = {
    "GET /v1/admin/dlq/tasks": (
        Probe("all", check=_own_tasks_only),
        Probe("by exception", query=lambda w: {"exception_type": "KeyError"}, check=_own_tasks_only),
    ),
    f"GET {_TASK}": (Probe("tenant A's task"),),
    f"POST {_TASK}/retry": (Probe("tenant A's task"),),
    f"DELETE {_TASK}": (Probe("tenant A's task"),),
    "GET /v1/admin/dlq/stats": (Probe("plain", check=_own_tasks_only),),
    "POST /v1/admin/dlq/clear": (
        Probe("dry run", body=lambda w: {}, check=_own_tasks_only),
        Probe("for real", body=lambda w: {"dry_run": False}, check=_own_tasks_only),
    ),
    "POST /v1/admin/dlq/redrive": (
        Probe("dry run", body=lambda w: {}, check=_own_tasks_only),
        Probe(
            "for real", body=lambda w: {"dry_run": False, "task_name": "flag_exposure_worker"}, check=_own_tasks_only
        ),
    ),
}


SLA_PROBES: dict[str, tuple[Probe, ...]] = {
    **{
        f"GET /v1/sla/{view}": (Probe("plain"), Probe("a week", query=lambda w: {"window": "7d"}))
        for view in ("metrics", "uptime", "response-times", "error-rate")
    },
    "GET /v1/sla/health": (Probe("plain"),),
    "GET /v1/sla/breach-check": (Probe("plain"),),
    "GET /v1/operator/backups": (Probe("plain"),),
    "POST /v1/operator/backups": (Probe("plain"),),
    "GET /v1/operator/backups/drills": (Probe("plain"), Probe("limit 1", query=lambda w: {"limit": "1"})),
    "GET /v1/operator/backups/drills/{drill_id}": (Probe("plain"),),
    "POST /v1/operator/backups/drills": (
        Probe("plain", also_allowed=frozenset({(409, "BIZ_NO_BACKUP"), (409, "BIZ_DRILL_RUNNING")})),
    ),
}
"""The SLA views and the backups are the platform's: only an operator reads or makes them."""

ANALYTICS_PROBES: dict[str, tuple[Probe, ...]] = {
    f"GET {_RULES}": (
        Probe("plain", check=_only_tenant_bs_rules),
        Probe("limit 1", query=lambda w: {"limit": "1"}, check=_only_tenant_bs_rules),
    ),
    f"POST {_RULES}": (
        Probe("on tenant A's flow", body=lambda w: probe_alert_rule("probe-rule", w.a.flow_id)),
        Probe("tenant A's rule id", body=lambda w: probe_alert_rule(alert_rule_id(w.a.tenant), w.b.flow_id)),
    ),
    f"GET {_RULES}/{{rule_id}}": (Probe("tenant A's rule"),),
    f"PUT {_RULES}/{{rule_id}}": (
        Probe(
            "tenant A's rule",
            body=lambda w: probe_alert_rule(alert_rule_id(w.a.tenant), w.a.flow_id),
            headers=_at_version_2,
        ),
        Probe(
            "tenant A's rule on tenant B's flow",
            body=lambda w: probe_alert_rule(alert_rule_id(w.a.tenant), w.b.flow_id),
            headers=_at_version_2,
        ),
    ),
    f"DELETE {_RULES}/{{rule_id}}": (Probe("tenant A's rule", headers=_at_version_2),),
    f"GET {_RULES}/{{rule_id}}/history": (Probe("tenant A's rule"),),
    "GET /v1/admin/onboarding/analytics/alerts": (Probe("plain", check=_only_tenant_bs_alerts),),
    "GET /v1/compliance/consent": (Probe("own consent", check=_only_own_consent),),
    "POST /v1/compliance/consent": (
        Probe("withdraw analytics", body=lambda w: {"purposes": {"analytics": False}, "policy_version": "2026-11"}),
    ),
    "GET /v1/compliance/policies": (Probe("own policies", check=_only_own_policies),),
    "POST /v1/admin/compliance/policies": (
        Probe(
            "tenant A's version",
            body=lambda w: {"type": "terms", "version": "v-probe", "url": "https://probe.example/terms"},
        ),
    ),
    "GET /v1/compliance/registry": (
        Probe("json", check=_tenant_bs_record),
        Probe("markdown", query=lambda w: {"format": "markdown"}),
    ),
    **PRIVACY_REQUEST_PROBES,
    **DEAD_LETTER_PROBES,
    **WEBHOOK_PROBES,
    "GET /v1/admin/onboarding/settings": (Probe("own settings", check=_tenant_bs_settings),),
    "PUT /v1/admin/onboarding/settings": (Probe("own settings", body=lambda w: {"idle_days": 12}),),
    **_analytics_probes("funnel"),
    **_analytics_probes("comparison"),
    **_analytics_probes("recommendations"),
    **_analytics_probes("drop-off-heatmap"),
    **_analytics_probes("cohort-comparison"),
    **_analytics_probes("realtime"),
}

PROBES: dict[str, tuple[Probe, ...]] = {
    "GET /health/live": (Probe("plain"),),
    "GET /health/ready": (Probe("plain"),),
    "GET /health/startup": (Probe("plain"),),
    "GET /health": (Probe("plain"),),
    "GET /.well-known/jwks.json": (Probe("plain"),),
    "POST /v1/auth/token": (
        Probe(
            "own client, user id of tenant A",
            body=lambda w: {
                "grant_type": "client_credentials",
                "client_id": w.b.client_id,
                "client_secret": w.b.client_secret,
                "user_id": w.a.user,
                "roles": ["user", "admin"],
            },
            check=_minted_for_tenant_b,
        ),
        Probe(
            "tenant A's client id with own secret",
            body=lambda w: {
                "grant_type": "client_credentials",
                "client_id": w.a.client_id,
                "client_secret": w.b.client_secret,
                "user_id": w.b.user,
            },
            also_allowed=frozenset({(401, "AUTH_CLIENT_INVALID")}),
            traces=_failed_authentication_trace,
        ),
    ),
    "POST /v1/auth/revoke": (
        Probe("own token", body=lambda w: {"target": "token"}),
        Probe("a user of tenant A, as a user", body=lambda w: {"target": "all", "user_id": w.a.user}),
        Probe("a user of tenant A, as an admin", body=lambda w: {"target": "all", "user_id": w.a.user}, token=ADMIN),
    ),
    # Logging out with a refresh token is the token holder's right whoever calls, so only an unknown one is probed.
    "POST /v1/auth/logout": (Probe("unknown refresh token", body=lambda w: {"refresh_token": new_refresh_token()}),),
    "GET /v1/admin/audit": (
        Probe("unfiltered", check=_only_tenant_bs_entries),
        Probe(
            "tenant A's actor and action",
            query=lambda w: {"actor": w.a.audit_actor, "action": w.a.audit_action},
            check=_only_tenant_bs_entries,
        ),
        Probe("tenant A's action", query=lambda w: {"action": w.a.audit_action}, check=_only_tenant_bs_entries),
        Probe(
            "tenant A's cursor",
            query=lambda w: {"cursor": str(w.a.audit_cursor)},
            also_allowed=CURSOR_REFUSED,
        ),
        Probe(
            "a cursor forged to start in tenant A's chain",
            query=lambda w: {"cursor": _forged_cursor(w)},
            also_allowed=CURSOR_REFUSED,
            check=_only_tenant_bs_entries,
        ),
    ),
    "GET /v1/admin/audit/verify": (Probe("plain", check=_verified_tenant_bs_chain),),
    # Operator routes name the tenant they act on in the path by design: operators act on tenants. Their tenant
    # boundary is that nobody but an operator reaches them, which the role matrix checks; the probes below are the
    # positive control (an operator acting on tenant A).
    **SLA_PROBES,
    "POST /v1/operator/tenants": (Probe("new tenant", body=lambda w: {"name": "Charlie", "tenant_id": "charlie-co"}),),
    "POST /v1/operator/tenants/{tenant_id}/clients": (Probe("new client", body=lambda w: {"name": "second"}),),
    "GET /v1/operator/tenants/{tenant_id}/clients": (Probe("plain"),),
    "POST /v1/operator/tenants/{tenant_id}/clients/{client_id}/rotate-secret": (Probe("plain"),),
    "POST /v1/operator/tenants/{tenant_id}/clients/{client_id}/disable": (Probe("plain"),),
    **ONBOARDING_PROBES,
    **FLAG_PROBES,
    **ANALYTICS_PROBES,
}

ROUTES = http_functions()
NON_PUBLIC = [(f, r) for f, r in ROUTES if r.role != "public"]


def fill_path(route: Route, ids: dict[str, str]) -> str:
    """The route's path with its ``{name}`` parameters replaced; a parameter the matrix does not know fails."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"{route.key}: the access matrix does not know what to put in {{{name}}}; extend it"
        return ids[name]

    return re.sub(r"\{(\w+)\}", value, route.path)


def tenant_ids(data: TenantData) -> dict[str, str]:
    return {
        "tenant_id": data.tenant,
        "client_id": data.client_id,
        "flow_id": data.flow_id,
        "version": "1",
        "user_id": data.user,
        "migration_id": data.migration_id,
        "key": data.flag_key,
        "rule_id": alert_rule_id(data.tenant),
        "request_id": privacy_request_id(data.tenant, "export"),
        "task_id": dead_letter_task_id(data.tenant),
        "endpoint_id": webhook_endpoint_id(data.tenant),
        "message_id": delivery_id(data.tenant),
        # Drills are the platform's, not a tenant's: the one the backup routes' tests seed (seed_backups).
        "drill_id": UNSEEDED_IDS["drill_id"],
    }


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyset() -> KeySet:
    """A signing key that is current from now on."""
    initial, _ = keys.advance(KeySet(), time.time(), RotationPolicy())
    return initial


@pytest.fixture
def signing_secret(deployment: Deployment, keyset: KeySet, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The signing-key secret the token function reads, holding ``keyset``."""
    client = deployment.client("secretsmanager")
    name = f"signing-keys-{deployment.table_name}"
    client.create_secret(Name=name, SecretString=keys.keyset_to_secret(keyset))
    monkeypatch.setenv("FIRSTMILE_SIGNING_KEYS_SECRET", name)
    reset_settings()
    yield name
    client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@pytest.fixture(autouse=True)
def _fresh_identity_runtime() -> Iterator[None]:
    reset()
    yield
    reset()


def serve(function: Function, route: Route, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Configure the environment as CDK does for ``function`` (role and rate class from the catalogue); its handler."""
    configure_route(monkeypatch, route)
    reset()
    return load_handler(function.name)


def call(
    handler: ModuleType,
    route: Route,
    *,
    auth: dict[str, str] | None,
    ids: dict[str, str],
    probe: Probe,
    world: World,
) -> dict[str, Any]:
    """One request of ``probe`` to the route's handler, as API Gateway would deliver it after the authorizer."""
    if probe.ids is not None:
        ids = {**ids, **probe.ids(world)}
    event = http_event(
        route.method,
        fill_path(route, ids),
        route_key=route.key,
        headers={"content-type": "application/json", **(probe.headers(world) if probe.headers else {})},
        body=probe.body(world) if probe.body else None,
        query=probe.query(world) if probe.query else None,
        auth=auth,
        request_id="req-matrix",
    )
    return handler.lambda_handler(event, FakeLambdaContext())  # type: ignore[no-any-return]


def seed_tenant(tenant: str, keyset: KeySet, *, with_flags: bool = True) -> TenantData:
    """A tenant as it is after a day of use: an API client, a session of one user, audit entries, onboarding and
    (``with_flags``) feature flags."""
    table = aws.table(get_settings().table_name)
    audit = AuditStore(table)
    store = IdentityStore(table, audit=audit)
    tenancy = TenancyService(store)
    tenancy.create_tenant(TenantCreate(name=f"{tenant} Ltd", tenant_id=tenant), actor=OPERATOR_ACTOR)
    issued = tenancy.create_client(tenant, ApiClientCreate(name=f"{tenant}-backend"), actor=OPERATOR_ACTOR)
    client = store.get_client(issued.client.client_id)
    assert client is not None and keyset.current is not None
    current = keyset.current
    settings = get_settings()
    sessions = SessionService(
        store,
        signing_key=lambda: current,
        policy=SessionPolicy(issuer=settings.issuer, audience=settings.audience),
    )
    user = f"u-{tenant.split('-')[0]}-1"
    session = sessions.start_session(client, ClientCredentialsGrant(grant_type="client_credentials", user_id=user))
    actor, action, target = f"admin:{tenant}-admin", "flow.published", f"flow:{tenant}-welcome"
    for _ in range(3):
        audit.record(AuditEvent(tenant=tenant, actor=actor, action=action, target=target))
    flow_id, migration_id = seed_onboarding(tenant, user, actor)
    seed_dead_letter_task(tenant, user)
    seed_webhook_endpoint(tenant)
    flag_cursor = seed_flags(tenant, user, actor, flow_id) if with_flags else ""
    chain = audit.list_entries(tenant, limit=100).items
    cursor = audit.list_entries(tenant, limit=1).next_cursor
    assert cursor is not None, "a one-entry page of the chain must leave a cursor to replay"
    return TenantData(
        tenant=tenant,
        client_id=issued.client.client_id,
        client_name=issued.client.name,
        client_secret=issued.client_secret,
        user=user,
        session_id=session.claims.sid,
        refresh_token=session.refresh_token,
        access_token=session.access_token,
        audit_actor=actor,
        audit_action=action,
        audit_target=target,
        audit_hashes=tuple(e.hash for e in chain),
        audit_cursor=cursor,
        flow_id=flow_id,
        migration_id=migration_id,
        flag_cursor=flag_cursor,
        **flag_names(tenant),
    )


def seed_onboarding(tenant: str, user: str, actor: str) -> tuple[str, str]:
    """The tenant's flow (published twice and the default), ``user`` enrolled on it, and a migration from version 1
    to version 2 (its first message waits in the queue); the flow id and the migration id."""
    table = aws.table(get_settings().table_name)
    store = OnboardingStore(table)
    versions = PublishedVersions(store)
    flows = FlowAdmin(store, versions)
    flow_id = f"welcome-{tenant.split('-')[0]}"
    flows.create_flow(tenant, FlowCreate.model_validate(probe_flow(flow_id, f"{tenant} welcome")), actor)
    flows.publish(tenant, flow_id, None, actor)
    flows.publish(tenant, flow_id, None, actor)
    flows.set_default(tenant, DefaultFlowUpdate(flow_id=flow_id), actor)
    ProgressService(store, versions).status(tenant, user)
    store.set_settings(
        tenant,
        OnboardingSettings(idle_days=idle_window(tenant)),
        event=action_event(tenant, actor, "onboarding.settings.changed", "onboarding:settings"),
    )
    seed_alerts(tenant, flow_id, actor, versions)
    PolicyVersions(PolicyStore(table)).publish(
        tenant,
        PolicyPublish(type=PolicyType.PRIVACY_POLICY, version="2026-01", url=f"https://{tenant}.example/privacy"),
        actor,
    )
    Consents(ConsentStore(table)).change(
        tenant, user, ConsentChange(purposes={Purpose.MARKETING: False}, policy_version=f"{tenant}-policy")
    )
    seed_privacy_requests(tenant, user, actor)
    migrations = Migrations(store, versions, JsonQueue(ONBOARDING_MIGRATIONS_QUEUE))
    started = migrations.migrate(
        tenant, MigrationRequest(flow_id=flow_id, from_version=1, to_version=2, dry_run=False), actor
    )
    assert isinstance(started, MigrationAccepted)
    return flow_id, started.migration_id


PROBE_CODE = "424242"


def privacy_request_id(tenant: str, kind: str) -> str:
    """The id of one of the tenant's seeded privacy requests (``export``, ``unverified``, ``verified``,
    ``recorded``)."""
    return "dsr_" + hashlib.sha256(f"{tenant}/{kind}".encode()).hexdigest()[:24]


def seed_privacy_requests(tenant: str, user: str, actor: str) -> None:
    """The user's export (complete), an erasure waiting for its code (``PROBE_CODE``, valid for a day), a verified
    erasure waiting to be executed, and an export another admin recorded, waiting for a second admin."""
    store = RequestStore(aws.table(get_settings().table_name))
    now = datetime.now(UTC)
    kinds = {
        "export": (RequestType.EXPORT, RequestState.COMPLETE, "user"),
        "unverified": (RequestType.ERASURE, RequestState.IDENTITY_UNVERIFIED, "user"),
        "verified": (RequestType.ERASURE, RequestState.PENDING, "user"),
        "recorded": (RequestType.EXPORT, RequestState.PENDING, f"admin:{tenant}-other-admin"),
    }
    for kind, (type_, state, source) in kinds.items():
        request_id = privacy_request_id(tenant, kind)
        request = PrivacyRequest(
            request_id=request_id,
            tenant=tenant,
            user=user,
            type=type_,
            state=state,
            source=source,
            created_at=now,
            updated_at=now,
            deadline_at=deadline_for(now),
            code_digest=code_digest(request_id, PROBE_CODE) if kind == "unverified" else None,
            code_expires_at=now + timedelta(days=1) if kind == "unverified" else None,
            receipt={"items": 3} if kind == "export" else None,
            export_key=f"exports/{tenant}/seeded/{request_id}.json" if kind == "export" else None,
        )
        event = action_event(tenant, actor, "privacy.request.seeded", f"dsr:{request_id}")
        assert store.save(request, event=event)


def seed_alerts(tenant: str, flow_id: str, actor: str, versions: PublishedVersions) -> None:
    """A drop-off alert rule in its second version (its description carries the tenant id), firing, with its
    alert (whose message carries the tenant id too)."""
    table = aws.table(get_settings().table_name)
    store = AlertRuleStore(table)
    rules = AlertRules(store, versions, AnalyticsReports(FunnelCounterStore(table), versions))
    rule_id = alert_rule_id(tenant)
    rule = AlertRule.model_validate({**probe_alert_rule(rule_id, flow_id), "description": f"{tenant} drop"})
    rules.create_rule(tenant, rule, actor)
    changed = rules.update_rule(tenant, rule_id, rule.model_copy(update={"threshold": 12}), 1, actor)
    now = datetime.now(UTC)
    firing = AlertStatus(state="firing", since=now, checked_at=now, message=f"{tenant} dropped")
    window = Period(start=now.date(), end=now.date(), days=1)
    alert = AlertRecord(
        alert_id=f"{now:%Y%m%dT%H%M%S}Z-{rule_id}-firing",
        rule_id=rule_id,
        rule_version=changed.version,
        flow_id=flow_id,
        kind=changed.kind,
        threshold=changed.threshold,
        state="firing",
        at=now,
        sessions=0,
        message=f"{tenant} dropped",
        window=window,
        previous_window=window,
    )
    assert store.record_check(tenant, changed, AlertStatus(), firing, alert)


def seed_flags(tenant: str, user: str, actor: str, flow_id: str) -> str:
    """The tenant's flags as ``flag_names`` names them (see ``TenantData``); a cursor into its flag list."""
    table = aws.table(get_settings().table_name)
    store = FlagStore(table)
    admin, controls = FlagAdmin(store), FlagControls(store)
    names = flag_names(tenant)
    key, rolled_out = names["flag_key"], names["rollout_flag_key"]
    admin.create_flag(tenant, Flag.model_validate(probe_flag(key, f"{tenant} checkout")), actor)
    admin.update_flag(tenant, key, Flag.model_validate(probe_flag(key, f"{tenant} new checkout")), 1, actor)
    search = {
        "key": rolled_out,
        "description": f"{tenant} search",
        "enabled": True,
        "rules": [{"id": "everyone", "percentage": 10, "serve": {"value": True}}],
    }
    admin.create_flag(tenant, Flag.model_validate(search), actor)
    plan = RolloutPlanRequest.model_validate({**probe_rollout("everyone"), "guard": {"flow_id": flow_id}})
    Rollouts(store).start_plan(tenant, rolled_out, plan, actor)
    segment = names["segment_key"]
    controls.put_segment(tenant, segment, Segment(key=segment, description=f"{tenant} testers", users=[user]), actor)
    controls.put_settings(tenant, FlagSettings(client_attributes=[names["client_attribute"]]), None, actor)
    controls.change_kill_switch(tenant, KillSwitchChange(tag=names["killed_tag"]), actor)
    today = datetime.now(UTC).date().isoformat()
    exposures = [{"flag": key, "variant": "on", "reason": "SPLIT"}, {"flag": key, "variant": "off", "reason": "SPLIT"}]
    Exposures(store).record({"tenant": tenant, "day": today, "rate": 0.5, "exposures": exposures}, f"seed-{tenant}")
    cursor = admin.list_flags(tenant, limit=1, cursor=None).next_cursor
    assert cursor is not None, "a one-flag page of two flags must leave a cursor to replay"
    return cursor


@pytest.fixture(scope="module")
def seeded_worlds(keyset: KeySet) -> dict[bool, tuple[World, list[dict[str, Any]]]]:
    """The world seeded once per module (with and without flags), as the items it wrote and what it returned."""
    return {}


@pytest.fixture
def world(
    deployment: Deployment,
    signing_secret: str,
    keyset: KeySet,
    seeded_worlds: dict[bool, tuple[World, list[dict[str, Any]]]],
    request: pytest.FixtureRequest,
) -> World:
    """Tenants A and B, each with a client, a session, an audit chain and onboarding; feature flags too when the
    route under test is a flag route (no other route reads them).

    The first test of the module seeds them through the services; every later test gets a copy of the items that
    seeding wrote, in its own empty table (seeding took about 1.5 s a test, a copy a fraction of that)."""
    function = getattr(request.node, "callspec", None) and request.node.callspec.params.get("function")
    with_flags = function is None or function.domain == "flags"
    if function is not None and function.domain == "backups":
        seed_backups(deployment)
    if with_flags in seeded_worlds:
        seeded, items = seeded_worlds[with_flags]
        with deployment.table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
        return seeded
    seeded = World(
        a=seed_tenant(TENANT_A, keyset, with_flags=with_flags), b=seed_tenant(TENANT_B, keyset, with_flags=with_flags)
    )
    seeded_worlds[with_flags] = (seeded, table_items(deployment))
    return seeded


def seed_backups(deployment: Deployment) -> None:
    """A backup of the test's table (on the emulator) and a finished drill: what the backup routes read or need."""
    control = DynamoDbControlPlane(_control_client(deployment))
    backup = control.create_backup(deployment.table_name, "seeded")
    started = datetime.now(UTC) - timedelta(days=1)
    DrillStoreOnTable(deployment.table).put(
        Drill(
            drill_id=UNSEEDED_IDS["drill_id"],
            state="passed",
            backup_arn=backup.backup_arn,
            backup_name=backup.name,
            backup_created_at=backup.created_at,
            started_at=started,
            backup_table="firstmile-t-drill-seeded-b",
            source_table="firstmile-t-drill-seeded-s",
        )
    )


def _control_client(deployment: Deployment) -> Any:
    """The emulator's endpoint: it answers the backup API the table engine lacks."""
    return boto3.client("dynamodb", endpoint_url=deployment.endpoint, region_name="us-east-1")


def table_items(deployment: Deployment) -> list[dict[str, Any]]:
    """Every item of the test's table (a Scan: fine in a test, never in runtime code)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = deployment.table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"], i["sk"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_of(deployment: Deployment, data: TenantData) -> list[dict[str, Any]]:
    """The items that belong to ``data``'s tenant: any attribute naming the tenant or its API client."""
    marks = (data.tenant, data.client_id)
    return [i for i in table_items(deployment) if any(m in str(v) for v in i.values() for m in marks)]


def assert_refused_before_the_route_ran(
    response: dict[str, Any], status: int, family: str, deployment: Deployment
) -> None:
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = body_of(response)
    assert problem["status"] == status and problem["code"].startswith(family)
    assert problem["instance"] == "req-matrix"
    # Nothing but the problem document came back, and nothing was written (no rate counter either).
    assert set(problem) == {"type", "title", "status", "detail", "instance", "code"}
    assert table_items(deployment) == []


def never_resolved(handler: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record every event that reaches the route's resolver (a refused call must record none)."""
    reached: list[dict[str, Any]] = []
    resolve = handler.app.resolve

    def spy(event: dict[str, Any], context: Any) -> Any:
        reached.append(event)
        return resolve(event, context)

    monkeypatch.setattr(handler.app, "resolve", spy)
    return reached


# --- the catalogue and the probes agree -----------------------------------------------------------------------


def test_every_catalogued_route_has_a_probe() -> None:
    # Given the catalogue's HTTP routes and the matrix's table of how to call them
    catalogued = {route.key for _, route in ROUTES}

    # Then each route has at least one probe, and no probe names a route that is gone
    missing = sorted(catalogued - set(PROBES))
    assert not missing, f"add these routes to PROBES in {__name__} so the access matrix covers them: {missing}"
    assert sorted(set(PROBES) - catalogued) == []
    assert all(PROBES[key] for key in catalogued)


def test_the_matrix_covers_every_role_of_the_catalogue() -> None:
    # Every role a route can require has a token holding it (a new role needs a new token kind here).
    assert {route.role for _, route in NON_PUBLIC} <= set(HOLDER)


# --- role matrix ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "route"), NON_PUBLIC, ids=[f.name for f, _ in NON_PUBLIC])
def test_an_anonymous_call_is_refused_with_401_before_the_route_runs(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, function: Function, route: Route
) -> None:
    # Given the route's real handler configured from the catalogue, over an empty table
    handler = serve(function, route, monkeypatch)
    reached = never_resolved(handler, monkeypatch)

    # When it is called without a verified caller (a request the route could otherwise serve)
    response = call(handler, route, auth=None, ids=UNSEEDED_IDS, probe=PROBES[route.key][0], world=UNSEEDED)

    # Then it answers 401 AUTH_* with a challenge, and the route's body never ran
    assert_refused_before_the_route_ran(response, 401, "AUTH_", deployment)
    assert response["headers"]["WWW-Authenticate"].startswith("Bearer ")
    assert reached == []


ROLE_REFUSALS = [
    pytest.param(function, route, token, id=f"{function.name}-as-{token.name}")
    for function, route in NON_PUBLIC
    for token in TOKENS
    if not any(token.holds(role) for role in route.roles)
]


@pytest.mark.parametrize(("function", "route", "token"), ROLE_REFUSALS)
def test_a_caller_without_the_routes_role_is_refused_with_403_before_the_route_runs(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, function: Function, route: Route, token: Token
) -> None:
    # Given the route's real handler configured from the catalogue, over an empty table
    handler = serve(function, route, monkeypatch)
    reached = never_resolved(handler, monkeypatch)

    # When a verified caller whose token lacks the route's role calls it (of the tenant named in the path, if any)
    auth = authorizer_context(TENANT_A, "u-alpha-1", token)
    response = call(handler, route, auth=auth, ids=UNSEEDED_IDS, probe=PROBES[route.key][0], world=UNSEEDED)

    # Then it answers 403 PERM_*, and the route's body never ran
    assert_refused_before_the_route_ran(response, 403, "PERM_", deployment)
    assert reached == []


ROLE_HOLDERS = [pytest.param(function, route, id=function.name) for function, route in NON_PUBLIC]


@pytest.mark.parametrize(("function", "route"), ROLE_HOLDERS)
def test_a_caller_holding_the_routes_role_gets_through(
    world: World, monkeypatch: pytest.MonkeyPatch, function: Function, route: Route
) -> None:
    # Given the route's real handler, and tenant A's data
    handler = serve(function, route, monkeypatch)
    probe = PROBES[route.key][0]

    # When a caller holding exactly the route's role calls it about tenant A (operators from the platform tenant)
    token = HOLDER[route.role]
    tenant, subject = ("_platform", "op-1") if route.role == "operator" else (TENANT_A, world.a.user)
    auth = authorizer_context(tenant, subject, token)
    response = call(handler, route, auth=auth, ids=tenant_ids(world.a), probe=probe, world=world)

    # Then the same request that the matrices send is served
    assert response["statusCode"] in SUCCESS, response["body"]


# --- cross-tenant matrix --------------------------------------------------------------------------------------

# Operator routes are left out on purpose: see PROBES. Whatever else is catalogued is probed.
CROSS_TENANT = [
    pytest.param(
        function,
        route,
        probe,
        id=f"{function.name}-{probe.label.replace(' ', '-')}",
    )
    for function, route in ROUTES
    if route.role != "operator"
    for probe in PROBES.get(route.key, ())
]


@pytest.mark.parametrize(("function", "route", "probe"), CROSS_TENANT)
def test_a_caller_of_another_tenant_never_reaches_tenant_as_data(
    deployment: Deployment,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    function: Function,
    route: Route,
    probe: Probe,
) -> None:
    # Given tenant A's data, and the route's real handler
    handler = serve(function, route, monkeypatch)
    before = items_of(deployment, world.a)

    # When a caller of tenant B holding the route's role calls it, naming tenant A's ids wherever it can
    auth = authorizer_context(TENANT_B, world.b.user, probe.token_for(route))
    response = call(handler, route, auth=auth, ids=tenant_ids(world.a), probe=probe, world=world)

    # Then the answer is a refusal or a success that carries none of tenant A's data
    status = response["statusCode"]
    code = (body_of(response) or {}).get("code") if status >= 400 else None
    assert status in SUCCESS or status in (403, 404) or (status, code) in probe.also_allowed, body_of(response)
    text = response.get("body") or ""
    leaked = {name for name, value in world.a.identifiers().items() if value in text}
    assert leaked == set()

    # ...and tenant A's items are exactly as they were (but for the traces of a refusal the probe names)
    def kept(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if probe.traces is None or not probe.traces(i)]

    assert kept(items_of(deployment, world.a)) == kept(before)
    if probe.check is not None and status in SUCCESS:
        probe.check(world, response)
