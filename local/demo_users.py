"""Demo users who walk the demo flow through the real API, so ``make dev`` shows funnels with something in them.

Each demo user gets a session from an API client of the tenant (token requests are limited per client, so a new
client is made every ``USERS_PER_CLIENT`` users), then enrols and acts through the onboarding routes on one of the
last ``days`` days, at the simulated times of the local stack (decision 0071). Their events go through the table's
stream to the aggregator like anyone's. They are not sample users: analytics counts them.

The walk is seeded: the same ``seed`` walks the same users the same way (the days move with today). Later days
convert a little better, so comparing the last week with the one before shows a trend.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.catalog import Function
from local.seed import DEMO_TENANT_ID, SeedError, call_api

log = logging.getLogger(__name__)

DEMO_USERS = 300
DEMO_DAYS = 14
# POST /v1/auth/token allows 60 sessions a minute per API client.
USERS_PER_CLIENT = 50
WALKERS = 4
SIMULATED_TIME_HEADER = "X-Firstmile-Simulated-Time"

COUNTRIES = (("US", 30), ("DE", 15), ("GB", 12), ("FR", 10), ("IN", 10), ("BR", 8), ("JP", 8), ("CA", 7))
LOCALES = {"US": "en-US", "DE": "de-DE", "GB": "en-GB", "FR": "fr-FR", "IN": "en-IN", "BR": "pt-BR", "JP": "ja-JP"}
PLANS = (("free", 45), ("trial", 30), ("pro", 18), ("team", 7))
SKIP_REASONS = ("no_time", "already_know", "later")
INVITE_SKIP_REASONS = ("no_team_yet", "later")
ERROR_CODES = ("oauth_denied", "connection_timeout", "invalid_credentials")
ONBOARDING_SKIP_REASONS = ("not_now", "not_relevant")


@dataclass
class WalkSummary:
    users: int = 0
    finished: int = 0
    requests: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for a console: what was walked, and how many requests failed."""
        failed = f"; {len(self.failures)} failed (see the log)" if self.failures else ""
        return (
            f"Demo users: {self.users} walked the demo flow through the API ({self.finished} finished, "
            f"{self.requests} requests in {self.seconds} s){failed}."
        )


# The routes a walk calls; a reduced catalogue without them walks nobody.
WALKED_FUNCTIONS = frozenset(
    {
        "operator_client_create",
        "auth_token",
        "onboarding_status",
        "onboarding_step",
        "onboarding_skip",
        "onboarding_complete",
        "onboarding_mark_sample_workflow",
        "onboarding_mark_sample_agent",
        "onboarding_mark_first_run",
    }
)


def can_walk(catalog: Iterable[Function]) -> bool:
    """Whether ``catalog`` serves every route a walk calls."""
    return {f.name for f in catalog} >= WALKED_FUNCTIONS


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weighted], weights=[weight for _, weight in weighted])[0]


@dataclass(frozen=True)
class Action:
    """One request of a demo user: the method and path, its body, and how long after the one before it comes."""

    method: str
    path: str
    body: dict[str, Any] | None
    after: timedelta


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    attributes: dict[str, str]
    enrolled_at: datetime
    actions: tuple[Action, ...]

    @property
    def finishes(self) -> bool:
        return any(a.path == "/v1/onboarding/complete" for a in self.actions)


def _step(step_id: str, action: str, **extra: str) -> dict[str, Any]:
    return {"step_id": step_id, "action": action, **extra}


def plan_user(rng: random.Random, number: int, enrolled_at: datetime, lift: float) -> DemoUser:
    """What one demo user does, drawn from ``rng``; ``lift`` (0 to 1) makes the later days convert better."""
    country = _pick(rng, COUNTRIES)
    attributes = {"country": country, "locale": LOCALES.get(country, "en"), "plan": _pick(rng, PLANS)}
    if rng.random() < 0.15:
        attributes["returning"] = "true"
    actions: list[Action] = []

    def then(method: str, path: str, body: dict[str, Any] | None = None, minutes: float = 3.0) -> None:
        actions.append(Action(method, path, body, timedelta(minutes=rng.expovariate(1 / minutes))))

    step = "/v1/onboarding/step"
    user_id = f"demo-walker-{number:04d}"

    def stop() -> DemoUser:
        return DemoUser(user_id, attributes, enrolled_at, tuple(actions))

    if rng.random() < 0.04:
        then("POST", "/v1/onboarding/skip", {"reason": rng.choice(ONBOARDING_SKIP_REASONS)})
        return stop()
    if rng.random() > 0.88:
        return stop()  # looked once and left
    then("POST", step, _step("create-workspace", "complete"), minutes=4)
    if rng.random() < 0.3:
        then("POST", step, _step("connect-data", "error", error_code=rng.choice(ERROR_CODES)), minutes=6)
    if rng.random() > 0.72 + 0.12 * lift:
        return stop()  # stuck at connecting data
    then("POST", step, _step("connect-data", "complete"), minutes=10)
    tour = rng.random()
    if tour < 0.4:
        then("POST", step, _step("tour-editor", "start"), minutes=2)
        then("POST", step, _step("tour-editor", "complete"), minutes=5)
    elif tour < 0.75:
        then("POST", step, _step("tour-editor", "skip", reason=rng.choice(SKIP_REASONS)), minutes=1)
    if rng.random() > 0.85 + 0.08 * lift:
        return stop()
    then("POST", "/v1/onboarding/mark-sample-workflow", minutes=20)
    if rng.random() < 0.3:
        then("POST", "/v1/onboarding/mark-sample-agent", minutes=15)
    invite = rng.random()
    if invite < 0.3:
        then("POST", step, _step("invite-teammate", "complete"), minutes=30)
    elif invite < 0.6:
        then("POST", step, _step("invite-teammate", "skip", reason=rng.choice(INVITE_SKIP_REASONS)), minutes=2)
    if rng.random() > 0.8 + 0.1 * lift:
        return stop()  # never ran the workflow
    then("POST", "/v1/onboarding/mark-first-run", minutes=90)
    if rng.random() < 0.95:
        then("POST", "/v1/onboarding/complete", minutes=1)
    return stop()


def plan_users(count: int, days: int, now: datetime, seed: int) -> list[DemoUser]:
    """``count`` demo users enrolled over the ``days`` days before ``now`` (and today up to now), oldest first."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    span = (now - start).total_seconds()
    users = []
    for number in range(count):
        # Enrolments spread over the whole span; each user's actions must have happened by now.
        enrolled_at = start + timedelta(seconds=rng.uniform(0, span * 0.97))
        lift = (enrolled_at - start).total_seconds() / span
        user = plan_user(rng, number, enrolled_at, lift)
        moment, kept = enrolled_at, []
        for action in user.actions:
            moment += action.after
            if moment >= now:
                break
            kept.append(action)
        users.append(DemoUser(user.user_id, user.attributes, user.enrolled_at, tuple(kept)))
    return sorted(users, key=lambda u: u.enrolled_at)


class Sessions:
    """Sessions for users of a tenant from API clients made for them (the operator makes one every
    ``USERS_PER_CLIENT`` users: sessions are limited per client)."""

    def __init__(self, api_url: str, operator_token: str, tenant: str) -> None:
        self._api_url, self._operator, self._tenant = api_url, operator_token, tenant
        self._lock = threading.Lock()
        self._basic = ""
        self._issued = USERS_PER_CLIENT

    def _client(self) -> str:
        with self._lock:
            if self._issued >= USERS_PER_CLIENT:
                status, answer = call_api(
                    self._api_url,
                    "POST",
                    f"/v1/operator/tenants/{self._tenant}/clients",
                    {"name": f"walkers {uuid.uuid4().hex[:6]}", "allowed_roles": ["user"]},
                    headers={"Authorization": f"Bearer {self._operator}"},
                )
                if status != 201:
                    raise SeedError(f"creating an API client for the walkers answered {status}: {answer}")
                pair = f"{answer['client']['client_id']}:{answer['client_secret']}"
                self._basic, self._issued = base64.b64encode(pair.encode()).decode(), 0
            self._issued += 1
            return self._basic

    def token(self, user_id: str, attributes: dict[str, str] | None = None) -> str:
        """A new session's access token for ``user_id`` (role user) with ``attributes``."""
        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "user_id": user_id,
            "roles": ["user"],
            "attributes": attributes or {},
        }
        status, answer = call_api(
            self._api_url, "POST", "/v1/auth/token", body, headers={"Authorization": f"Basic {self._client()}"}
        )
        if status != 200:
            raise SeedError(f"a session for {user_id} answered {status}: {answer}")
        return str(answer["access_token"])


def walk_demo_users(
    api_url: str,
    operator_token: str,
    *,
    tenant: str = DEMO_TENANT_ID,
    users: int = DEMO_USERS,
    days: int = DEMO_DAYS,
    seed: int = 12,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> WalkSummary:
    """Walk ``users`` demo users of ``tenant`` through its default flow (the demo flow) over the last ``days`` days."""
    began = time.monotonic()
    planned = plan_users(users, days, now(), seed)
    sessions = Sessions(api_url, operator_token, tenant)
    summary = WalkSummary()
    lock = threading.Lock()

    def walk(user: DemoUser) -> None:
        headers = {"Authorization": f"Bearer {sessions.token(user.user_id, user.attributes)}"}
        moment = user.enrolled_at
        requests: list[tuple[str, str, dict[str, Any] | None, datetime]] = [
            ("GET", "/v1/onboarding/status", None, moment)
        ]
        for action in user.actions:
            moment += action.after
            requests.append((action.method, action.path, action.body, moment))
        shown: set[str] | None = None
        for method, path, body, at in requests:
            if shown is not None and body and body.get("step_id") not in shown:
                continue  # a step a flag hides from this user: the product does not show it, so nobody acts on it
            status, answer = call_api(
                api_url, method, path, body, headers={**headers, SIMULATED_TIME_HEADER: at.isoformat()}
            )
            with lock:
                summary.requests += 1
                if status != 200:
                    summary.failures.append(f"{user.user_id} {method} {path}: {status} {answer.get('code')}")
                    return
            if shown is None:
                shown = {str(step.get("id")) for step in answer.get("steps", [])}
        with lock:
            summary.users += 1
            summary.finished += int(user.finishes)

    with ThreadPoolExecutor(max_workers=WALKERS, thread_name_prefix="demo-walker") as pool:
        for done in pool.map(lambda u: _reported(walk, u, summary, lock), planned):
            del done
    summary.seconds = round(time.monotonic() - began, 1)
    return summary


def _reported(walk: Callable[[DemoUser], None], user: DemoUser, summary: WalkSummary, lock: threading.Lock) -> None:
    """Walk ``user``; a failure is recorded in the summary (one user's failure does not stop the others)."""
    try:
        walk(user)
    except (SeedError, OSError) as exc:
        with lock:
            summary.failures.append(f"{user.user_id}: {exc}")
