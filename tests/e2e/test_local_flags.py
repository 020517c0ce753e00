"""Feature flags over HTTP against the running stack: the seeded demo flag, evaluation, the kill switch's bound,
and versioned changes (a stale If-Match, history, rollback).

The stack is the one ``firstmile dev`` started for the session. Every test creates flags under keys of its own, so
the tests neither depend on each other nor touch the seeded demo flag (which one test only reads). Tokens are
minted per test with the demo API client's credentials.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from local.seed import DEMO_COUNTRY_FLAG_KEY, DEMO_FLAG_KEY
from tests.e2e.harness import RunningStack
from tests.e2e.test_local_onboarding import Client, fresh_user, mint

pytestmark = pytest.mark.e2e

FLAGS = "/v1/admin/feature-flags"
EVALUATE = "/v1/flags/evaluate"
KILL_SWITCH = "/v1/admin/kill-switch"
# The stated bound (decision 0062: a kill is in force everywhere within 5 s), plus slack for a loaded machine's
# HTTP round trips.
KILL_BOUND_SECONDS = 5.0
SLACK_SECONDS = 1.0
POLL_SECONDS = 0.25
GIVE_UP_SECONDS = 10.0


@pytest.fixture
def admin(stack: RunningStack) -> Client:
    return mint(stack, f"e2e-admin-{uuid.uuid4().hex[:8]}", ["user", "admin"])


def flag_key() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def on_for_everyone(key: str, description: str = "End-to-end test flag") -> dict[str, Any]:
    """An enabled boolean flag without rules that serves ``true`` to everyone (reason STATIC)."""
    return {"key": key, "description": description, "enabled": True, "fallthrough": {"value": True}, "tags": ["e2e"]}


def create(admin: Client, flag: dict[str, Any]) -> dict[str, Any]:
    reply = admin.request("POST", FLAGS, flag)
    assert reply.status == 201, reply.body
    assert reply.headers["ETag"] == '"v1"'
    assert reply.headers["Location"] == f"{FLAGS}/{flag['key']}"
    created: dict[str, Any] = reply.json()
    return created


def evaluate(user: Client, key: str) -> tuple[dict[str, Any], float]:
    """The user's result for ``key``, and when the answer arrived (monotonic)."""
    reply = user.request("POST", EVALUATE, {"flags": [key]})
    arrived = time.monotonic()
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()["flags"][key]
    return result, arrived


def first_result(user: Client, key: str, wanted: str) -> tuple[dict[str, Any], float]:
    """Poll evaluation of ``key`` every 0.25 s until its reason is ``wanted`` (10 s at most); the result and when it
    arrived."""
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while True:
        result, arrived = evaluate(user, key)
        if result["reason"] == wanted:
            return result, arrived
        assert arrived < deadline, f"{key} was still served {result} after {GIVE_UP_SECONDS:.0f} s"
        time.sleep(POLL_SECONDS)


# --- the seeded demo flag ---------------------------------------------------------------------------------------


def test_the_demo_flag_and_settings_are_seeded(stack: RunningStack, admin: Client) -> None:
    # Given the stack as `firstmile dev` seeded it
    # When the admin reads the demo flag and the flag settings
    flag = admin.request("GET", f"{FLAGS}/{DEMO_FLAG_KEY}")
    settings = admin.request("GET", "/v1/admin/flag-settings")

    # Then the flag is there as seeded: enabled, tagged editor, rule pros on half of the pro plan
    assert flag.status == 200, flag.body
    seeded = flag.json()
    assert (seeded["enabled"], seeded["tags"]) == (True, ["editor"])
    assert [(r["id"], r["percentage"], r["conditions"]) for r in seeded["rules"]] == [
        ("pros", 50.0, [{"attribute": "plan", "operator": "eq", "value": "pro"}])
    ]
    # ...and clients may supply country, so a user's evaluation with it is served
    assert settings.status == 200, settings.body
    assert "country" in settings.json()["client_attributes"]
    user = fresh_user(stack)
    reply = user.request("POST", EVALUATE, {"flags": [DEMO_FLAG_KEY], "attributes": {"country": "DE"}})
    assert reply.status == 200, reply.body
    # A token without a plan attribute matches no rule: the flag serves its off value by default.
    assert reply.json()["flags"][DEMO_FLAG_KEY]["variant"] == "off"

    # And the demo flow's step gated by team-invites shows for a user, because that seeded flag is on
    status = user.request("GET", "/v1/onboarding/status")
    assert status.status == 200, status.body
    assert "invite-teammate" in [step["id"] for step in status.json()["steps"]]


def test_the_demo_country_flag_answers_by_the_country_the_client_sends(stack: RunningStack) -> None:
    # Given a demo user and the seeded flag that targets EU countries
    user = fresh_user(stack)

    # When the user's client evaluates it for Germany, for the United States, and without a country
    answers = {
        country: user.request("POST", EVALUATE, {"flags": [DEMO_COUNTRY_FLAG_KEY], **attributes})
        for country, attributes in (
            ("DE", {"attributes": {"country": "DE"}}),
            ("US", {"attributes": {"country": "US"}}),
            ("none", {}),
        )
    }

    # Then only Germany is served the flag, by its rule
    assert {country: reply.status for country, reply in answers.items()} == {"DE": 200, "US": 200, "none": 200}
    results = {country: reply.json()["flags"][DEMO_COUNTRY_FLAG_KEY] for country, reply in answers.items()}
    assert {country: result["value"] for country, result in results.items()} == {"DE": True, "US": False, "none": False}
    assert results["DE"]["rule_id"] == "eu-countries"


# --- the kill switch --------------------------------------------------------------------------------------------


def test_a_killed_flag_is_served_off_within_five_seconds(stack: RunningStack, admin: Client) -> None:
    # Given a flag on for everyone, which a user is served on (once the evaluating container has seen it)
    key = flag_key()
    create(admin, on_for_everyone(key))
    user = fresh_user(stack)
    served, _ = first_result(user, key, "STATIC")
    assert (served["value"], served["variant"], served["flag_version"]) == (True, "on", 1)

    # When the admin kills it
    reply = admin.request("POST", KILL_SWITCH, {"flag": key, "reason": "e2e kill"})
    killed_at = time.monotonic()
    assert reply.status == 200, reply.body
    assert key in reply.json()["flags"]
    assert reply.json()["effective_within_seconds"] == KILL_BOUND_SECONDS

    # Then the user is served its off value with reason DISABLED within the bound
    result, arrived = first_result(user, key, "DISABLED")
    delay = arrived - killed_at
    print(f"kill switch: {key} served off (DISABLED) {delay:.2f} s after the kill was answered")
    assert (result["value"], result["variant"]) == (False, "off")
    assert delay < KILL_BOUND_SECONDS + SLACK_SECONDS
    # ...and stays off, and the kill switch shows who killed it
    again, _ = evaluate(user, key)
    assert again["reason"] == "DISABLED"
    state = admin.request("GET", KILL_SWITCH)
    assert state.status == 200, state.body
    assert key in state.json()["flags"]
    assert state.json()["updated_by"] == f"admin:{admin.user}"


# --- versions ---------------------------------------------------------------------------------------------------


def test_a_stale_if_match_is_refused_and_history_and_rollback_keep_every_version(admin: Client) -> None:
    # Given a flag changed once (v1 -> v2)
    key = flag_key()
    create(admin, on_for_everyone(key, "first"))
    changed = admin.request("PUT", f"{FLAGS}/{key}", on_for_everyone(key, "second"), if_match='"v1"')
    assert changed.status == 200, changed.body
    assert changed.headers["ETag"] == '"v2"'
    assert (changed.json()["version"], changed.json()["description"]) == (2, "second")

    # When another admin sends a change made on v1
    stale = admin.request("PUT", f"{FLAGS}/{key}", on_for_everyone(key, "lost update"), if_match='"v1"')

    # Then it is refused with 409 and the current flag, and nothing changed
    assert stale.status == 409, stale.body
    assert stale.code == "RES_VERSION_CONFLICT"
    assert stale.headers["ETag"] == '"v2"'
    assert stale.json()["current"]["description"] == "second"
    current = admin.request("GET", f"{FLAGS}/{key}")
    assert (current.headers["ETag"], current.json()["description"]) == ('"v2"', "second")

    # ...and a change without If-Match (or a body version) is refused as needing one
    blind = admin.request("PUT", f"{FLAGS}/{key}", on_for_everyone(key, "blind"))
    assert (blind.status, blind.code) == (428, "RES_PRECONDITION_REQUIRED")

    # When the history is read
    history = admin.request("GET", f"{FLAGS}/{key}/history")

    # Then it shows both versions, newest first, with who made them and what changed
    assert history.status == 200, history.body
    entries = history.json()["items"]
    assert [e["version"] for e in entries] == [2, 1]
    assert all(e["changed_by"] == f"admin:{admin.user}" for e in entries)
    assert {"field": "description", "before": "first", "after": "second"} in entries[0]["diff"]

    # When the admin rolls back to version 1
    rolled = admin.request("POST", f"{FLAGS}/{key}/rollback", {"version": 1}, if_match='"v2"')

    # Then version 1's content is the new version 3, and the history keeps all three
    assert rolled.status == 200, rolled.body
    assert rolled.headers["ETag"] == '"v3"'
    assert (rolled.json()["version"], rolled.json()["description"]) == (3, "first")
    after = admin.request("GET", f"{FLAGS}/{key}/history").json()["items"]
    assert [e["version"] for e in after] == [3, 2, 1]
    assert {"field": "description", "before": "second", "after": "first"} in after[0]["diff"]
    # ...and a rollback on a stale version is refused like any other change
    late = admin.request("POST", f"{FLAGS}/{key}/rollback", {"version": 2}, if_match='"v2"')
    assert (late.status, late.code) == (409, "RES_VERSION_CONFLICT")
