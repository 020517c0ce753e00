"""The demo data ``firstmile dev`` prepares once the stack is up: a signing key, a tenant, clients and tokens.

Everything goes through the code a deployment runs (docs/decisions/0024-local-demo-seed-through-the-real-paths.md):

1. the ``signing_key_rotation`` function runs once, in its own instance, as the scheduler fires it (its first run
   creates a current key at once);
2. the first operator credentials come from ``TenancyService.bootstrap_operator``, the code behind
   ``firstmile bootstrap-operator``, on the emulator's table;
3. every token is minted by ``POST /v1/auth/token`` over the local gateway, with client credentials;
4. the demo tenant and its API client are created by the operator routes over the gateway, with the operator's
   token, so the authorizer, the role check and the audit chain all take part;
5. when the onboarding functions are in the catalogue, the demo admin creates, publishes and selects a demo flow and
   generates sample users through the admin routes, so the demo user's first status call enrols them;
6. when the flag functions are in the catalogue, the demo admin creates the demo feature flags (one of them
   targets by country) and sets the flag settings through the admin routes.

The emulator keeps everything in memory, so each ``make dev`` starts empty and seeds afresh; seeding still
tolerates data that already exists (an existing tenant is kept, an existing operator is superseded by a forced
bootstrap, a new API client is created each time since a secret cannot be shown twice).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.catalog import Function
from local.emulator import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION
from local.resources import Deployment
from local.runtime import Runtime, RuntimeStoppedError
from local.scheduler import Scheduler

log = logging.getLogger(__name__)

DEMO_TENANT_ID = "demo"
DEMO_TENANT_NAME = "Demo Co"
DEMO_CLIENT_NAME = "Demo backend"
DEMO_USER = "demo-user"
DEMO_ADMIN = "demo-admin"
DEMO_ATTRIBUTES = {"plan": "trial", "locale": "en"}
USER_ROLES = ["user"]
ADMIN_ROLES = ["user", "admin"]
OPERATOR_ROLES = ["operator"]
OPERATOR_CLIENT_NAME = "local operator"
OPERATOR_USER = "local-operator"
ROTATION_FUNCTION = "signing_key_rotation"
# The functions seeding calls; a catalogue without them (the local stack's own tests) is not seeded.
REQUIRED_FUNCTIONS = frozenset({ROTATION_FUNCTION, "auth_token", "operator_tenant_create", "operator_client_create"})
WARM_TIMEOUT_SECONDS = 60.0
# Seeding the demo onboarding needs these; without them (a reduced catalogue) it is left out.
ONBOARDING_FUNCTIONS = frozenset(
    {"admin_flow_create", "admin_flow_publish", "admin_default_flow_set", "admin_sample_users_create"}
)
DEMO_FLOW_ID = "getting-started"
DEMO_SAMPLE_USERS = 20
# Sample users are generated a few per request, so no request comes near the function's timeout on a loaded machine.
SAMPLE_USERS_PER_REQUEST = 5
DEMO_FLOW: dict[str, Any] = {
    "flow_id": DEMO_FLOW_ID,
    "name": "Getting started",
    "description": "From an empty workspace to the first successful run.",
    "allow_out_of_order": True,
    "steps": [
        {"id": "create-workspace", "title": "Create your workspace", "kind": "task", "required": True, "order": 10},
        {
            "id": "connect-data",
            "title": "Connect a data source",
            "description": "Any database, spreadsheet or API the workflow should read.",
            "kind": "task",
            "required": True,
            "order": 20,
        },
        {
            "id": "tour-editor",
            "title": "Take the editor tour",
            "kind": "tutorial",
            "required": False,
            "order": 30,
            "hint": "Drag a block from the left panel onto the canvas to add a step.",
        },
        {
            "id": "sample-workflow",
            "title": "Create the sample workflow",
            "kind": "milestone",
            "required": True,
            "order": 40,
            "completion_criteria": {"milestone": "sample_workflow"},
        },
        {
            "id": "sample-agent",
            "title": "Create the sample agent",
            "kind": "milestone",
            "required": False,
            "order": 50,
            "completion_criteria": {"milestone": "sample_agent"},
        },
        {
            "id": "invite-teammate",
            "title": "Invite a teammate",
            "kind": "task",
            "required": False,
            "order": 60,
            "gating_flag": "team-invites",
        },
        {
            "id": "first-run",
            "title": "Run your first workflow",
            "kind": "milestone",
            "required": True,
            "order": 70,
            "completion_criteria": {"milestone": "first_run"},
        },
    ],
    "sample_workflow": {
        "name": "Welcome digest",
        "trigger": {"type": "schedule", "every": "1d"},
        "steps": [{"action": "fetch", "source": "sample-data"}, {"action": "summarise"}, {"action": "notify"}],
    },
    "sample_agent": {"name": "Helper", "instructions": "Answer questions about the sample data.", "tools": ["search"]},
}

# Seeding the demo feature flag needs these; without them (a reduced catalogue) it is left out.
FLAG_FUNCTIONS = frozenset({"admin_flag_create", "admin_flag_settings_put"})
DEMO_FLAG_KEY = "new-editor"
# On for half of the users on the pro plan (bucketed by user id); the demo user is on the trial plan, so it is off
# for them until an admin changes the rule or a client evaluates with another plan in the token.
DEMO_FLAG: dict[str, Any] = {
    "key": DEMO_FLAG_KEY,
    "description": "The new workflow editor.",
    "enabled": True,
    "rules": [
        {
            "id": "pros",
            "description": "Half of the users on the pro plan",
            "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
            "percentage": 50,
            "serve": {"value": True},
        }
    ],
    "tags": ["editor"],
    "owner": "team-editor",
}
# The flag that gates the demo flow's team step: on for everyone, so the step shows until an admin kills the flag
# (POST /v1/admin/kill-switch {"flag": "team-invites"}) and the step hides within 5 seconds.
DEMO_GATING_FLAG: dict[str, Any] = {
    "key": "team-invites",
    "description": "Inviting teammates during onboarding.",
    "enabled": True,
    "fallthrough": {"value": True},
    "tags": ["onboarding"],
    "owner": "team-growth",
}
# A flag whose answer depends on the country a client sends (POST /v1/flags/evaluate {"attributes": {"country": "DE"}}
# answers true, "US" answers false): the demo's example of targeting by an attribute the client supplies.
DEMO_COUNTRY_FLAG_KEY = "eu-data-residency"
EU_COUNTRIES = ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"]
DEMO_COUNTRY_FLAG: dict[str, Any] = {
    "key": DEMO_COUNTRY_FLAG_KEY,
    "description": "Offer hosting in the EU during onboarding, to users in EU countries.",
    "enabled": True,
    "rules": [
        {
            "id": "eu-countries",
            "description": "Users in an EU country",
            "conditions": [{"attribute": "country", "operator": "in", "value": EU_COUNTRIES}],
            "serve": {"value": True},
        }
    ],
    "tags": ["compliance"],
    "owner": "team-platform",
}
# The attributes a client may supply to POST /v1/flags/evaluate (the token's plan and locale always apply).
DEMO_FLAG_SETTINGS: dict[str, Any] = {"client_attributes": ["country"]}

HTTP_TIMEOUT_SECONDS = 60


class SeedError(RuntimeError):
    """A step of seeding failed; the message names the step and the answer it got."""


@dataclass(frozen=True)
class TokenAnswer:
    """What ``POST /v1/auth/token`` answered."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


@dataclass(frozen=True)
class DemoCredentials:
    """Everything seeding produced that a developer needs, each secret shown once."""

    api_url: str
    tenant_id: str
    tenant_name: str
    client_id: str
    client_secret: str
    operator_client_id: str
    operator_client_secret: str
    user: TokenAnswer
    admin: TokenAnswer
    operator: TokenAnswer
    signing_key_id: str

    def exports(self) -> dict[str, str]:
        """The shell variables of ``tokens.env``, by name."""
        return {
            "FIRSTMILE_API_URL": self.api_url,
            "FIRSTMILE_TENANT_ID": self.tenant_id,
            "FIRSTMILE_CLIENT_ID": self.client_id,
            "FIRSTMILE_CLIENT_SECRET": self.client_secret,
            "FIRSTMILE_USER_ID": DEMO_USER,
            "FIRSTMILE_USER_TOKEN": self.user.access_token,
            "FIRSTMILE_USER_REFRESH_TOKEN": self.user.refresh_token,
            "FIRSTMILE_ADMIN_ID": DEMO_ADMIN,
            "FIRSTMILE_ADMIN_TOKEN": self.admin.access_token,
            "FIRSTMILE_OPERATOR_CLIENT_ID": self.operator_client_id,
            "FIRSTMILE_OPERATOR_CLIENT_SECRET": self.operator_client_secret,
            "FIRSTMILE_OPERATOR_TOKEN": self.operator.access_token,
        }


def can_seed(catalog: Iterable[Function]) -> bool:
    """Whether ``catalog`` has every function seeding needs."""
    return {f.name for f in catalog} >= REQUIRED_FUNCTIONS


def functions_to_warm(catalog: Iterable[Function], authorizer: str | None) -> list[str]:
    """The functions seeding calls over the gateway (the authorizer included), to start ahead."""
    seeding = REQUIRED_FUNCTIONS | ONBOARDING_FUNCTIONS | FLAG_FUNCTIONS
    names = {f.name for f in catalog} & (seeding - {ROTATION_FUNCTION})
    return sorted(names | ({authorizer} if authorizer else set()))


def seed_demo(
    *,
    deployment: Deployment,
    endpoint: str,
    api_url: str,
    scheduler: Scheduler,
    runtime: Runtime,
    warm: Iterable[str] = (),
) -> DemoCredentials:
    """Prepare the demo data on a started stack (its emulator at ``endpoint``, its gateway at ``api_url``).

    The functions named in ``warm`` (those seeding calls over the gateway) are initialised in parallel with the
    rotation job and the operator's bootstrap, so their cold starts overlap instead of adding up.
    """
    rotation: list[str | BaseException] = []
    threads = [threading.Thread(target=_warm, args=(runtime, name), name=f"warm-{name}", daemon=True) for name in warm]
    threads.append(threading.Thread(target=_capture, args=(_first_signing_key, scheduler, rotation), daemon=True))
    for thread in threads:
        thread.start()
    # Meanwhile, in this process: the operator client, straight on the table (there is no operator to ask yet).
    operator = bootstrap_operator(
        local_tenancy(deployment, endpoint), name=OPERATOR_CLIENT_NAME, actor="system:firstmile-dev", force=None
    )
    for thread in threads:
        thread.join(WARM_TIMEOUT_SECONDS)
    if not rotation or isinstance(rotation[0], BaseException):
        raise SeedError(f"the first signing-key rotation did not finish: {rotation[0] if rotation else 'timed out'}")
    signing_key_id = rotation[0]
    operator_client_id, operator_secret = operator.client.client_id, operator.client_secret
    operator_token = mint_token(api_url, operator_client_id, operator_secret, OPERATOR_USER, OPERATOR_ROLES)
    bearer = {"Authorization": f"Bearer {operator_token.access_token}"}
    status, tenant = call_api(
        api_url,
        "POST",
        "/v1/operator/tenants",
        {"tenant_id": DEMO_TENANT_ID, "name": DEMO_TENANT_NAME},
        headers=bearer,
    )
    if status == 409 and tenant.get("code") == "RES_TENANT_EXISTS":
        log.info("the demo tenant %s exists already; keeping it", DEMO_TENANT_ID)
    elif status != 201:
        raise SeedError(f"creating the demo tenant answered {status}: {tenant}")
    status, issued = call_api(
        api_url,
        "POST",
        f"/v1/operator/tenants/{DEMO_TENANT_ID}/clients",
        {"name": DEMO_CLIENT_NAME, "allowed_roles": ["user", "admin"]},
        headers=bearer,
    )
    if status != 201:
        raise SeedError(f"creating the demo API client answered {status}: {issued}")
    client_id, client_secret = issued["client"]["client_id"], issued["client_secret"]
    user = mint_token(api_url, client_id, client_secret, DEMO_USER, USER_ROLES, DEMO_ATTRIBUTES)
    admin = mint_token(api_url, client_id, client_secret, DEMO_ADMIN, ADMIN_ROLES, DEMO_ATTRIBUTES)
    if all(runtime.has(name) for name in ONBOARDING_FUNCTIONS):
        try:
            seed_demo_onboarding(api_url, admin.access_token)
        except SeedError as exc:
            # The tenant, clients and tokens are there and usable; only the demo onboarding data is missing.
            log.error("the demo onboarding could not be seeded: %s", exc)
    if all(runtime.has(name) for name in FLAG_FUNCTIONS):
        try:
            seed_demo_flags(api_url, admin.access_token)
        except SeedError as exc:
            # As above: everything else is there; only the demo flag is missing.
            log.error("the demo feature flag could not be seeded: %s", exc)
    return DemoCredentials(
        api_url=api_url,
        tenant_id=DEMO_TENANT_ID,
        tenant_name=DEMO_TENANT_NAME,
        client_id=client_id,
        client_secret=client_secret,
        operator_client_id=operator_client_id,
        operator_client_secret=operator_secret,
        user=user,
        admin=admin,
        operator=operator_token,
        signing_key_id=signing_key_id,
    )


def renew_demo_tokens(api_url: str, saved: Mapping[str, str]) -> dict[str, str]:
    """New sessions for the demo user, the demo admin and the local operator, as seeding minted them, with the
    client credentials of a tokens file (``saved``); the variables of the file they replace."""
    client_id, client_secret = saved.get("FIRSTMILE_CLIENT_ID"), saved.get("FIRSTMILE_CLIENT_SECRET")
    operator_id, operator_secret = (
        saved.get("FIRSTMILE_OPERATOR_CLIENT_ID"),
        saved.get("FIRSTMILE_OPERATOR_CLIENT_SECRET"),
    )
    if not (client_id and client_secret and operator_id and operator_secret):
        raise SeedError("the tokens file has no demo client credentials (the demo was not seeded in this stack)")
    user = mint_token(api_url, client_id, client_secret, DEMO_USER, USER_ROLES, DEMO_ATTRIBUTES)
    admin = mint_token(api_url, client_id, client_secret, DEMO_ADMIN, ADMIN_ROLES, DEMO_ATTRIBUTES)
    operator = mint_token(api_url, operator_id, operator_secret, OPERATOR_USER, OPERATOR_ROLES)
    return {
        "FIRSTMILE_USER_TOKEN": user.access_token,
        "FIRSTMILE_USER_REFRESH_TOKEN": user.refresh_token,
        "FIRSTMILE_ADMIN_TOKEN": admin.access_token,
        "FIRSTMILE_OPERATOR_TOKEN": operator.access_token,
    }


def seed_demo_onboarding(api_url: str, admin_token: str) -> None:
    """The demo flow, published and made the default, and sample users on it, through the admin routes."""
    bearer = {"Authorization": f"Bearer {admin_token}"}
    status, answer = call_api(api_url, "POST", "/v1/admin/onboarding/flows", DEMO_FLOW, headers=bearer)
    if status == 409 and answer.get("code") == "RES_FLOW_EXISTS":
        log.info("the demo flow %s exists already; keeping it", DEMO_FLOW_ID)
    elif status != 201:
        raise SeedError(f"creating the demo flow answered {status}: {answer}")
    else:
        status, answer = call_api(
            api_url, "POST", f"/v1/admin/onboarding/flows/{DEMO_FLOW_ID}/publish", None, headers=bearer
        )
        if status not in (200, 201):
            raise SeedError(f"publishing the demo flow answered {status}: {answer}")
    status, answer = call_api(
        api_url, "PUT", "/v1/admin/onboarding/default-flow", {"flow_id": DEMO_FLOW_ID}, headers=bearer
    )
    if status != 200:
        raise SeedError(f"making the demo flow the default answered {status}: {answer}")
    for first in range(0, DEMO_SAMPLE_USERS, SAMPLE_USERS_PER_REQUEST):
        count = min(SAMPLE_USERS_PER_REQUEST, DEMO_SAMPLE_USERS - first)
        status, answer = call_api(
            api_url, "POST", "/v1/admin/onboarding/sample-users", {"count": count, "seed": 7 + first}, headers=bearer
        )
        if status not in (200, 201):
            raise SeedError(f"generating sample users answered {status}: {answer}")


def seed_demo_flags(api_url: str, admin_token: str) -> None:
    """The demo feature flags and the flag settings, through the admin routes. A flag that exists already is kept as
    it is (an admin may have changed it since); the settings are set on whatever version is stored."""
    bearer = {"Authorization": f"Bearer {admin_token}"}
    for flag in (DEMO_FLAG, DEMO_GATING_FLAG, DEMO_COUNTRY_FLAG):
        status, answer = call_api(api_url, "POST", "/v1/admin/feature-flags", flag, headers=bearer)
        if status == 409 and answer.get("code") == "RES_FLAG_EXISTS":
            log.info("the demo flag %s exists already; keeping it", flag["key"])
        elif status != 201:
            raise SeedError(f"creating the demo feature flag {flag['key']} answered {status}: {answer}")
    status, answer = call_api(api_url, "PUT", "/v1/admin/flag-settings", DEMO_FLAG_SETTINGS, headers=bearer)
    if status != 200:
        raise SeedError(f"setting the flag settings answered {status}: {answer}")


def _capture(step: Callable[[Scheduler], str], scheduler: Scheduler, into: list[str | BaseException]) -> None:
    try:
        into.append(step(scheduler))
    except Exception as exc:  # reported by the thread that waits for it
        into.append(exc)


def _warm(runtime: Runtime, name: str) -> None:
    with contextlib.suppress(RuntimeStoppedError):
        runtime.warm(name)


def _first_signing_key(scheduler: Scheduler) -> str:
    """Run the rotation job once now, as its schedule would (with its retries), so a current key exists; its kid."""
    outcome = scheduler.run(ROTATION_FUNCTION, datetime.now(UTC))
    if outcome is None:
        raise SeedError("the stack stopped before the first signing-key rotation ran")
    if outcome.dead_lettered:
        error = outcome.last.error
        reason = f"{error.error_type}: {error.message}" if error else "unknown"
        raise SeedError(f"the first signing-key rotation failed after {outcome.attempts} attempts ({reason})")
    summary = outcome.last.payload if isinstance(outcome.last.payload, dict) else {}
    activated = [e.get("kid") for e in summary.get("events", []) if e.get("event") == "activated"]
    return str(activated[-1]) if activated else "unchanged"


# --- operators ----------------------------------------------------------------------------------------------------


def local_tenancy(deployment: Deployment, endpoint: str) -> Any:
    """``TenancyService`` on the emulator's table: the class the operator routes use, wired to the emulator."""
    import boto3

    from firstmile.audit.store import AuditStore
    from firstmile.identity.store import IdentityStore
    from firstmile.identity.tenancy import TenancyService

    session = boto3.session.Session(
        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY, region_name=REGION
    )
    table = session.resource("dynamodb", endpoint_url=endpoint).Table(deployment.table_name)
    return TenancyService(IdentityStore(table, audit=AuditStore(table)))


def bootstrap_operator(tenancy: Any, *, name: str, actor: str, force: bool | None) -> Any:
    """``tenancy.bootstrap_operator``; with ``force=None`` an existing operator is superseded (local demo data).

    Returns the ``IssuedClientSecret``; ``OperatorAlreadyBootstrappedError`` when one exists and ``force`` is False.
    """
    from firstmile.identity.tenancy import OperatorAlreadyBootstrappedError

    try:
        return tenancy.bootstrap_operator(name=name, actor=actor, force=bool(force))
    except OperatorAlreadyBootstrappedError:
        if force is not None:
            raise
        log.info("an operator client exists already; creating another one for this run")
        return tenancy.bootstrap_operator(name=name, actor=actor, force=True)


# --- the API, as a client calls it ------------------------------------------------------------------------------


def call_api(
    api_url: str,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One JSON request to the gateway; the status and the decoded body (any status is an answer)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
    request = urllib.request.Request(api_url + path, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - 127.0.0.1
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {"body": raw.decode(errors="replace")}
    return status, decoded if isinstance(decoded, dict) else {"body": decoded}


def mint_token(
    api_url: str,
    client_id: str,
    client_secret: str,
    user_id: str,
    roles: list[str],
    attributes: Mapping[str, str] | None = None,
) -> TokenAnswer:
    """A new session for ``user_id`` from ``POST /v1/auth/token`` (client credentials in HTTP Basic)."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    body = {
        "grant_type": "client_credentials",
        "user_id": user_id,
        "roles": roles,
        "attributes": dict(attributes or {}),
    }
    status, answer = call_api(api_url, "POST", "/v1/auth/token", body, headers={"Authorization": f"Basic {basic}"})
    if status != 200:
        raise SeedError(f"minting a session for {user_id} answered {status}: {answer}")
    return TokenAnswer(
        access_token=answer["access_token"],
        refresh_token=answer.get("refresh_token", ""),
        expires_in=int(answer["expires_in"]),
        session_id=answer["session_id"],
    )
