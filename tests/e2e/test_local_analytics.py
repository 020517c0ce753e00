"""Funnel analytics over HTTP against the running stack: users walk a flow through the API with a known pattern, the
stack's stream poller feeds their events to the aggregator, and the analytics routes answer exactly what the
pattern implies.

Users of earlier enrolment days are walked with the local stack's simulated time (``X-Firstmile-Simulated-Time``,
decision 0071): their requests run on those days through the same routes, so the comparison has two periods of
enrolment to test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from local.demo_users import Sessions
from local.seed import DEMO_FLOW, DEMO_FLOW_ID
from tests.e2e.harness import RunningStack, TenantTokens, run_cli, tenant_with_tokens
from tests.e2e.test_local_onboarding import DEFAULT_FLOW, FLOWS, STEP, Client, assert_problem

pytestmark = pytest.mark.e2e

ANALYTICS = "/v1/onboarding/analytics"
# The stream poller's batching window plus the aggregator's cold start, on a loaded two-core machine.
COUNTED_TIMEOUT_SECONDS = 90.0
SIMULATED_TIME = "X-Firstmile-Simulated-Time"

STEPS: list[dict[str, Any]] = [
    {"id": "profile", "title": "Complete your profile", "kind": "task", "required": True, "order": 10},
    {"id": "tour", "title": "Take the tour", "kind": "tutorial", "required": False, "order": 20},
    {"id": "connect", "title": "Connect a data source", "kind": "task", "required": True, "order": 30},
]


def analytics_flow(admin: Client) -> str:
    """A new three-step flow (the tour optional), published and made the tenant's default; its id."""
    flow_id = f"e2e-funnel-{uuid.uuid4().hex[:8]}"
    created = admin.request("POST", FLOWS, {"flow_id": flow_id, "name": "Funnel (e2e)", "steps": STEPS})
    assert created.status == 201, created.body
    published = admin.request("POST", f"{FLOWS}/{flow_id}/publish", if_match=created.headers["ETag"])
    assert published.status == 201, published.body
    assert admin.request("PUT", DEFAULT_FLOW, {"flow_id": flow_id}).status == 200
    return flow_id


class Minter:
    """Users of the test tenant with sessions of their own (``local.demo_users.Sessions``, which makes a new API
    client as each one's sessions near the per-client limit)."""

    def __init__(self, stack: RunningStack, tenant: str) -> None:
        self._stack = stack
        self._sessions = Sessions(stack.api_url, stack.tokens()["FIRSTMILE_OPERATOR_TOKEN"], tenant)

    def user(self) -> Client:
        user = f"e2e-funnel-{uuid.uuid4().hex[:12]}"
        return Client(self._stack, user, self._sessions.token(user))


def walk(minter: Minter, actions: list[tuple[str, str]], *, on: datetime | None = None) -> None:
    """A new user enrols (their first status) and takes ``actions`` (step, action; ``("", "complete")`` finishes
    the onboarding), all at the real time or all on ``on``."""
    user = minter.user()
    extra = {SIMULATED_TIME: on.isoformat()} if on else {}

    def send(method: str, path: str, body: Any = None) -> None:
        reply = user.request(method, path, body, headers=extra)
        assert reply.status == 200, reply.body

    send("GET", "/v1/onboarding/status")
    for step_id, action in actions:
        if not step_id:
            send("POST", "/v1/onboarding/complete")
            continue
        # "skip:<reason>" skips with a reason code, "error:<code>" reports a failed attempt.
        verb, _, code = action.partition(":")
        extra = {"reason": code} if verb == "skip" and code else {"error_code": code} if verb == "error" else {}
        send("POST", STEP, {"step_id": step_id, "action": verb, **extra})


FINISH = [("profile", "complete"), ("connect", "complete"), ("", "complete")]


def walk_all(admin: Client, walks: list[tuple[list[tuple[str, str]], datetime | None]]) -> None:
    minter = Minter(admin.stack, admin.tenant)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for done in pool.map(lambda w: walk(minter, w[0], on=w[1]), walks):
            assert done is None


@dataclass
class TenantClient(Client):
    """A caller of the test tenant."""

    tenant: str = ""


def read_until(admin: Client, path: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The report at ``path`` once ``ready`` holds of it (the stream is read asynchronously)."""
    deadline = time.monotonic() + COUNTED_TIMEOUT_SECONDS
    while True:
        reply = admin.request("GET", path)
        assert reply.status == 200, reply.body
        answer: dict[str, Any] = reply.json()
        if ready(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(1.0)


@pytest.fixture(scope="module")
def tenant(stack: RunningStack) -> TenantTokens:
    """A tenant of these tests' own: their flows become its default, their users fill its audit log, and the demo
    tenant stays as seeded."""
    return tenant_with_tokens(stack, f"e2e-analytics-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def admin(stack: RunningStack, tenant: TenantTokens) -> TenantClient:
    return TenantClient(stack, f"{tenant.tenant_id}-admin", tenant.admin, tenant.tenant_id)


def test_the_funnel_counts_exactly_what_users_did_through_the_api(admin: TenantClient) -> None:
    # Given a flow, and twelve users who walk it today in a known pattern:
    flow_id = analytics_flow(admin)
    walks: list[tuple[list[tuple[str, str]], datetime | None]] = (
        [([], None)] * 2  # two enrol and stop (lost at the profile)
        + [([("profile", "complete")], None)] * 2  # two stop after the profile (lost at connect)
        + [
            (
                [
                    ("profile", "complete"),
                    ("tour", "skip:no_time"),
                    ("connect", "error:oauth_denied"),
                    ("connect", "complete"),
                ],
                None,
            )
        ]
        * 2  # not finished
        + [([("profile", "complete"), ("tour", "skip"), *FINISH[1:]], None)] * 2
        + [([("profile", "complete"), ("tour", "start"), ("tour", "complete"), *FINISH[1:]], None)] * 3
        + [(FINISH, None)]
    )
    walk_all(admin, walks)
    today = datetime.now(UTC).date().isoformat()

    # When the funnel of today's enrolments is read, once the aggregator has counted the last completion
    funnel = read_until(
        admin,
        f"{ANALYTICS}/funnel?flow={flow_id}&from={today}&to={today}",
        lambda a: a["total_sessions"] >= 12 and a["completed"] >= 6,
    )

    # Then it holds exactly the pattern's counts and conversions
    assert (funnel["total_sessions"], funnel["completed"], funnel["overall_conversion_rate"]) == (12, 6, 0.5)
    assert funnel["period"] == {"start": today, "end": today, "days": 1, "cohort": "enrolment_day"}
    stages = {s["step_id"]: s for s in funnel["stages"]}
    assert [s["step_id"] for s in funnel["stages"]] == ["profile", "tour", "connect"]
    assert {k: stages["profile"][k] for k in ("count", "skipped", "users_lost")} == {
        "count": 10, "skipped": 0, "users_lost": 2}  # fmt: skip
    assert (stages["profile"]["conversion_from_start"], stages["profile"]["conversion_from_previous"]) == (
        0.8333,
        0.8333,
    )
    # ...the optional tour: three took it, four skipped it, and nobody is lost at it
    assert {k: stages["tour"][k] for k in ("count", "entered", "skipped", "users_lost", "required")} == {
        "count": 3, "entered": 3, "skipped": 4, "users_lost": 0, "required": False}  # fmt: skip
    # ...connect: eight of the ten who passed the profile, two failed attempts reported on the way
    assert (stages["connect"]["count"], stages["connect"]["conversion_from_previous"]) == (8, 0.8)
    assert (stages["connect"]["errors"], stages["profile"]["errors"]) == (2, 0)
    assert stages["connect"]["users_lost"] == 2
    assert stages["connect"]["median_time_to_reach_seconds"] is not None
    assert {(d["step_id"], d["users_lost"], d["severity"]) for d in funnel["top_drop_off_points"]} == {
        ("profile", 2, "high"),
        ("connect", 2, "high"),
    }
    # And the heatmap has today's row, the reasons given and the error codes met, and six users still in onboarding
    heat = admin.request("GET", f"{ANALYTICS}/drop-off-heatmap?flow={flow_id}&from={today}&to={today}").json()
    assert [(row["period"], row["total_sessions"]) for row in heat["rows"]] == [(today, 12)]
    assert heat["total_incomplete"] == 6
    assert [(r["reason"], r["count"], r["steps"]) for r in heat["common_reasons"]] == [("no_time", 2, {"tour": 2})]
    assert [(e["error_code"], e["count"], e["steps"]) for e in heat["error_patterns"]] == [
        ("oauth_denied", 2, {"connect": 2})
    ]
    # And the realtime view counts the same twelve users who entered in the last 24 hours, six of them active
    live = admin.request("GET", f"{ANALYTICS}/realtime?flow={flow_id}")
    assert live.status == 200, live.body
    assert int(live.headers["Age"]) == 0 and live.headers["Cache-Control"] == "private, max-age=300"
    real_time = live.json()["real_time"]
    assert (real_time["total_sessions"], real_time["active_sessions"], real_time["completion_rate"]) == (12, 6, 0.5)
    # And the cohorts see twelve first-time users and no returning one
    cohorts = admin.request("GET", f"{ANALYTICS}/cohort-comparison?flow={flow_id}&from={today}&to={today}").json()
    assert cohorts["segments"]["first_time_users"]["total_sessions"] == 12
    assert cohorts["segments"]["returning_users"]["total_sessions"] == 0
    assert "No returning users entered in this period." in cohorts["insights"]
    # And the recommendations route reads the same funnel
    advice = admin.request("GET", f"{ANALYTICS}/recommendations?flow={flow_id}&from={today}&to={today}").json()
    assert advice["recommendations"] == funnel["recommendations"]
    assert {r["step_id"] for r in advice["recommendations"] if r["type"] == "drop_off"} == {"profile", "connect"}


def test_the_comparison_says_improving_only_for_a_significant_difference(admin: TenantClient) -> None:
    # Given four earlier enrolment days, walked through the API at simulated times:
    flow_id = analytics_flow(admin)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (10, 9, 8, 7)]

    def on(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)

    def cohort(day: date, finished: int, stopped: int) -> list[tuple[list[tuple[str, str]], datetime | None]]:
        return [(FINISH, on(day))] * finished + [([], on(day))] * stopped

    # 2 of 12 finish, then 10 of 12 (a difference chance hardly explains); 6 of 12, then 7 of 12 (chance explains it)
    walk_all(admin, cohort(days[0], 2, 10) + cohort(days[1], 10, 2) + cohort(days[2], 6, 6) + cohort(days[3], 7, 5))

    def compare(first: date, second: date) -> dict[str, Any]:
        path = (
            f"{ANALYTICS}/comparison?flow={flow_id}&compare_from={first}&compare_to={first}&from={second}&to={second}"
        )
        return read_until(
            admin,
            path,
            lambda a: a["period1"]["total_sessions"] >= 12 and a["period2"]["total_sessions"] >= 12
            and a["period1"]["completed"] + a["period2"]["completed"] >= {days[0]: 12, days[2]: 13}[first],
        )  # fmt: skip

    # When the second day is compared with the first, and the fourth with the third
    improving, flat = compare(days[0], days[1]), compare(days[2], days[3])

    # Then a jump from 17 % to 83 % is improving, with a p-value below the 5 % level
    assert (improving["period1"]["completed"], improving["period2"]["completed"]) == (2, 10)
    assert improving["changes"]["trend"] == "improving"
    assert improving["changes"]["conversion_rate_change"] == 0.6667
    assert improving["changes"]["p_value"] < 0.01
    assert improving["changes"]["significance_level"] == 0.05
    # And 50 % against 58 % is flat: the test cannot tell it from chance
    assert (flat["period1"]["completed"], flat["period2"]["completed"]) == (6, 7)
    assert flat["changes"]["trend"] == "flat"
    assert flat["changes"]["conversion_rate_change"] == 0.0833
    assert flat["changes"]["p_value"] > 0.05


def test_analytics_routes_refuse_users_and_bad_periods(
    stack: RunningStack, tenant: TenantTokens, admin: TenantClient
) -> None:
    # Given a user without the admin role, and an admin
    user = Client(stack, f"{tenant.tenant_id}-user", tenant.user)
    flow_id = analytics_flow(admin)

    # Then a user may not read analytics
    assert_problem(user.request("GET", f"{ANALYTICS}/funnel?flow={flow_id}"), 403, "PERM_FORBIDDEN")
    # And a reversed period, one over 183 days, two segment filters or an unknown flow are refused as problems
    for query, status, code in (
        (f"flow={flow_id}&from=2026-11-10&to=2026-11-01", 422, "VAL_REQUEST_INVALID"),
        (f"flow={flow_id}&from=2026-01-01&to=2026-12-01", 422, "VAL_REQUEST_INVALID"),
        (f"flow={flow_id}&country=DE&plan=pro", 422, "VAL_REQUEST_INVALID"),
        (f"flow={flow_id}&from=yesterday", 422, "VAL_REQUEST_INVALID"),
        ("flow=no-such-flow", 404, "RES_FLOW_NOT_FOUND"),
    ):
        assert_problem(admin.request("GET", f"{ANALYTICS}/funnel?{query}"), status, code)


def test_the_demo_users_command_walks_users_the_funnel_then_counts(stack: RunningStack, admin: TenantClient) -> None:
    # Given a tenant whose default flow is the demo flow
    created = admin.request("POST", FLOWS, DEMO_FLOW)
    assert created.status == 201, created.body
    published = admin.request("POST", f"{FLOWS}/{DEMO_FLOW_ID}/publish", if_match=created.headers["ETag"])
    assert published.status == 201, published.body
    assert admin.request("PUT", DEFAULT_FLOW, {"flow_id": DEMO_FLOW_ID}).status == 200

    # When `firstmile demo-users` walks 40 users over the last three days
    walked = run_cli(stack, "demo-users", "--users", "40", "--days", "3", "--tenant", admin.tenant)

    # Then every one of them walked, and the funnel of those days counts each once, with completions, skips with
    # reasons, errors and drop-offs among them
    assert walked.returncode == 0, walked.stderr
    assert "Demo users: 40 walked the demo flow" in walked.stdout
    today = datetime.now(UTC).date()
    path = f"{ANALYTICS}/funnel?flow={DEMO_FLOW_ID}&from={today - timedelta(days=3)}&to={today}"
    funnel = read_until(admin, path, lambda a: a["total_sessions"] >= 40)
    assert funnel["total_sessions"] == 40
    stages = {s["step_id"]: s for s in funnel["stages"]}
    assert 0 < funnel["completed"] < 40
    assert stages["create-workspace"]["count"] > stages["first-run"]["count"] > 0
    assert sum(s["skipped"] for s in funnel["stages"]) > 0
    assert sum(s["errors"] for s in funnel["stages"]) > 0
    assert funnel["top_drop_off_points"]


def test_the_idle_job_drops_users_who_stopped_and_a_return_takes_the_drop_back(
    stack: RunningStack, admin: TenantClient
) -> None:
    # Given three users who entered ten days ago: one stopped at once, one after the profile, one finished
    flow_id = analytics_flow(admin)
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    minter = Minter(stack, admin.tenant)
    stopped, halfway, finished = minter.user(), minter.user(), minter.user()
    then = {SIMULATED_TIME: ten_days_ago.isoformat()}
    for user, actions in ((stopped, []), (halfway, [("profile", "complete")]), (finished, FINISH)):
        assert user.request("GET", "/v1/onboarding/status", headers=then).status == 200
        for step_id, action in actions:
            path, body = (
                (STEP, {"step_id": step_id, "action": action}) if step_id else ("/v1/onboarding/complete", None)
            )
            assert user.request("POST", path, body, headers=then).status == 200

    # When the daily idle job runs (the tenant keeps the default window of 7 days)
    job = run_cli(stack, "jobs", "run", "onboarding_idle_job")
    assert job.returncode == 0, job.stderr

    # Then its worker drops the two who stopped, each at the step they stopped at, and the funnel counts them
    day = ten_days_ago.date().isoformat()
    path = f"{ANALYTICS}/funnel?flow={flow_id}&from={day}&to={day}"
    funnel = read_until(admin, path, lambda a: a["dropped"] >= 2)
    stages = {s["step_id"]: s for s in funnel["stages"]}
    assert (funnel["total_sessions"], funnel["completed"], funnel["dropped"]) == (3, 1, 2)
    assert (stages["profile"]["dropped"], stages["connect"]["dropped"]) == (1, 1)

    # When the one who stopped at once comes back today and completes the profile
    assert stopped.request("POST", STEP, {"step_id": "profile", "action": "complete"}).status == 200

    # Then the drop is taken back (and the profile counts on their enrolment day)
    funnel = read_until(admin, path, lambda a: a["dropped"] <= 1)
    stages = {s["step_id"]: s for s in funnel["stages"]}
    assert (funnel["dropped"], stages["profile"]["dropped"], stages["profile"]["count"]) == (1, 0, 3)


ALERT_RULES = "/v1/admin/onboarding/analytics/alert-rules"
ALERTS = "/v1/admin/onboarding/analytics/alerts"


def our_alerts(admin: Client, rule_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The alerts of ``rule_id``, newest first, and the rules firing now."""
    reply = admin.request("GET", f"{ALERTS}?limit=100")
    assert reply.status == 200, reply.body
    page = reply.json()
    return [a for a in page["items"] if a["rule_id"] == rule_id], page["firing_rules"]


def test_a_drop_off_alert_rule_fires_and_resolves_at_the_hourly_check(stack: RunningStack, admin: TenantClient) -> None:
    # Given a flow on which six users entered three days ago and two finished (a conversion of 33.33 %)
    flow_id = analytics_flow(admin)
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    walks = [FINISH] * 2 + [[("profile", "complete")]] * 2 + [[]] * 2
    walk_all(admin, [(actions, three_days_ago) for actions in walks])
    day = three_days_ago.date().isoformat()
    funnel = read_until(admin, f"{ANALYTICS}/funnel?flow={flow_id}&from={day}&to={day}", lambda a: a["completed"] >= 2)
    assert (funnel["total_sessions"], funnel["completed"]) == (6, 2)

    # And a rule that wants at least 50 % of the flow's users to finish, judged on 5 users or more
    rule_id = f"e2e-{uuid.uuid4().hex[:8]}"
    rule = {"rule_id": rule_id, "flow_id": flow_id, "kind": "conversion_below", "threshold": 50, "min_sessions": 5}
    created = admin.request("POST", ALERT_RULES, rule)
    assert created.status == 201, created.body
    assert (created.headers["ETag"], created.headers["Location"]) == ('"v1"', f"{ALERT_RULES}/{rule_id}")
    assert_problem(admin.request("POST", ALERT_RULES, rule), 409, "RES_ALERT_RULE_EXISTS")
    unknown_step = admin.request("POST", ALERT_RULES, {**rule, "rule_id": f"{rule_id}-x", "step_id": "billing"})
    assert_problem(unknown_step, 422, "VAL_ALERT_RULE_STEP_UNKNOWN")

    # When the hourly job runs (as its schedule would)
    job = run_cli(stack, "jobs", "run", "analytics_alert_job")
    assert job.returncode == 0, job.stderr

    # Then the rule fires: an alert with the figures of the last seven whole days, and the rule's status says so
    alerts, firing = our_alerts(admin, rule_id)
    assert rule_id in firing
    (alert,) = alerts
    assert (alert["state"], alert["value"], alert["sessions"], alert["rule_version"]) == ("firing", 33.33, 6, 1)
    assert alert["window"]["end"] == (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    read = admin.request("GET", f"{ALERT_RULES}/{rule_id}")
    assert (read.status, read.headers["ETag"], read.json()["status"]["state"]) == (200, '"v1"', "firing")
    audit = admin.request("GET", "/v1/admin/audit?action=analytics.alert.firing")
    assert any(e["target"] == f"alert_rule:{rule_id}" for e in audit.json()["items"]), audit.body

    # When an admin lowers the threshold to 30 % (on version 1), and a stale change follows
    changed = admin.request("PUT", f"{ALERT_RULES}/{rule_id}", {**rule, "threshold": 30}, if_match='"v1"')
    assert (changed.status, changed.headers["ETag"]) == (200, '"v2"'), changed.body
    stale = admin.request("PUT", f"{ALERT_RULES}/{rule_id}", {**rule, "threshold": 20}, if_match='"v1"')
    assert_problem(stale, 409, "RES_VERSION_CONFLICT")

    # And the job runs again: the rule is resolved, once, and nothing of it fires
    assert run_cli(stack, "jobs", "run", "analytics_alert_job").returncode == 0
    assert run_cli(stack, "jobs", "run", "analytics_alert_job").returncode == 0
    alerts, firing = our_alerts(admin, rule_id)
    assert [(a["state"], a["rule_version"]) for a in alerts] == [("resolved", 2), ("firing", 1)]
    assert rule_id not in firing
    history = admin.request("GET", f"{ALERT_RULES}/{rule_id}/history").json()["items"]
    assert [(h["version"], [c["field"] for c in h["diff"]]) for h in history][0] == (2, ["threshold"])

    # And archived, it is not checked any more
    archived = admin.request("DELETE", f"{ALERT_RULES}/{rule_id}", if_match='"v2"')
    assert (archived.status, archived.json()["archived"]) == (200, True)
    listed = admin.request("GET", ALERT_RULES).json()
    assert {r["rule_id"]: r["status"]["state"] for r in listed["items"]}[rule_id] == "unknown"


CONSENT = "/v1/compliance/consent"


def test_a_user_who_withdraws_analytics_is_not_counted_from_then_on(stack: RunningStack, admin: TenantClient) -> None:
    # Given a flow and two enrolled users
    flow_id = analytics_flow(admin)
    minter = Minter(stack, admin.tenant)
    stays, leaves = minter.user(), minter.user()
    for user in (stays, leaves):
        assert user.request("GET", "/v1/onboarding/status").status == 200

    # When one withdraws analytics, and both complete the profile
    withdrawn = leaves.request("POST", CONSENT, {"purposes": {"analytics": False}, "policy_version": "2026-11"})
    assert (withdrawn.status, withdrawn.json()["analytics_opt_out"]) == (200, True), withdrawn.body
    for user in (stays, leaves):
        assert user.request("POST", STEP, {"step_id": "profile", "action": "complete"}).status == 200

    # ...then grants it again and completes the next step (its event comes after the profile's in the stream)
    granted = leaves.request("POST", CONSENT, {"purposes": {"analytics": True}, "policy_version": "2026-11"})
    assert granted.json()["analytics_opt_out"] is False
    assert leaves.request("POST", STEP, {"step_id": "connect", "action": "complete"}).status == 200

    # Then the funnel counts both entries and the second user's connect, but only one profile: the one made while
    # the other user was out of analytics is not counted
    day = datetime.now(UTC).date().isoformat()
    path = f"{ANALYTICS}/funnel?flow={flow_id}&from={day}&to={day}"
    funnel = read_until(admin, path, lambda a: {s["step_id"]: s for s in a["stages"]}["connect"]["count"] >= 1)
    stages = {s["step_id"]: s for s in funnel["stages"]}
    assert (funnel["total_sessions"], stages["profile"]["count"], stages["connect"]["count"]) == (2, 1, 1)

    # And the user's consent lists both choices, newest first
    history = leaves.request("GET", CONSENT).json()["history"]
    assert [(h["name"], h["granted"]) for h in history] == [("analytics", True), ("analytics", False)]


def test_a_published_policy_asks_users_to_reconsent_until_they_accept_it(
    stack: RunningStack, admin: TenantClient
) -> None:
    # Given an enrolled user of the tenant's flow
    analytics_flow(admin)
    user = Minter(stack, admin.tenant).user()
    assert user.request("GET", "/v1/onboarding/status").json()["needs_reconsent"] is False

    # When an admin publishes a privacy policy (once: the same version again is refused)
    version = f"e2e-{uuid.uuid4().hex[:6]}"
    policy = {"type": "privacy_policy", "version": version, "url": f"https://acme.example/privacy/{version}"}
    published = admin.request("POST", "/v1/admin/compliance/policies", policy)
    assert published.status == 201, published.body
    assert_problem(admin.request("POST", "/v1/admin/compliance/policies", policy), 409, "RES_POLICY_VERSION_EXISTS")

    # Then the user's status asks for consent again (within the 30 s the status path caches policies)
    deadline = time.monotonic() + 45
    while not (status := user.request("GET", "/v1/onboarding/status").json())["needs_reconsent"]:
        assert time.monotonic() < deadline, status
        time.sleep(1.0)
    current = user.request("GET", "/v1/compliance/policies").json()["current"]
    assert current["privacy_policy"]["version"] == version

    # And once the user makes their choices under it, it no longer does
    accepted = user.request("POST", CONSENT, {"purposes": {"marketing": False}, "policy_version": version})
    assert accepted.json()["accepted"] == {"privacy_policy": version}
    assert user.request("GET", "/v1/onboarding/status").json()["needs_reconsent"] is False


def test_global_privacy_control_takes_the_user_out_of_analytics_and_marketing(
    stack: RunningStack, admin: TenantClient
) -> None:
    # Given a user whose browser sends Global Privacy Control while their banner grants everything
    user = Minter(stack, admin.tenant).user()
    body = {"purposes": {"analytics": True, "marketing": True}, "cookies": {"analytics": True}, "policy_version": "1"}

    # When the banner's choices are sent
    reply = user.request("POST", CONSENT, body, headers={"Sec-GPC": "1"})

    # Then analytics and marketing are withdrawn, and recorded as the browser's signal
    answer = reply.json()
    assert reply.status == 200, reply.body
    assert answer["analytics_opt_out"] is True
    assert (answer["purposes"]["marketing"]["granted"], answer["cookies"]["analytics"]["granted"]) == (False, False)
    assert {h["source"] for h in answer["history"]} == {"gpc"}
