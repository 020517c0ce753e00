"""The onboarding admin routes through their real handlers and the emulator.

Every request is an admin's as API Gateway delivers it (the authorizer's context, the route key), to a handler
configured from the catalogue (role ``admin``). Covered: creating, reading, listing and editing flow drafts with
``If-Match``; publishing immutable, numbered versions; the default flow; restarting a user; sample users; the
audit entry each change leaves; and the tenant boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firstmile.audit.models import AuditEntry, AuditFilter
from firstmile.composition import container, reset
from firstmile.onboarding.models import StepAction, StepCommand
from tests.factories import body_of
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient, ok, problem

TENANT = "t-acme"
ADMIN_SUBJECT = "u-admin"
ACTOR = f"admin:{ADMIN_SUBJECT}"


def flow_body(name: str = "Welcome to Acme", *, step_title: str = "Say hello") -> dict[str, Any]:
    """A flow definition as an admin sends it: two required steps and an optional tutorial."""
    return {
        "name": name,
        "description": "The first ten minutes",
        "steps": [
            {"id": "welcome", "title": step_title, "order": 0},
            {"id": "product-tour", "title": "Take the tour", "kind": "tutorial", "required": False, "order": 1},
            {"id": "connect-data", "title": "Connect your data", "order": 2},
        ],
        "sample_workflow": {"name": "Invoice triage"},
        "sample_agent": {"name": "Triage helper"},
    }


# --- requests as API Gateway delivers them ------------------------------------------------------------------


@dataclass
class Admin(RouteClient):
    """An admin of one tenant calling the admin routes, each served by its own handler (loaded once per test)."""

    tenant: str = TENANT
    subject: str = ADMIN_SUBJECT
    roles: str = "user,admin"

    # The routes, by what they do.

    def create(self, flow_id: str, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        return self.call("admin_flow_create", body={"flow_id": flow_id, **(body or flow_body())}, headers=headers)

    def get(self, flow_id: str) -> dict[str, Any]:
        return self.call("admin_flow_get", params={"flow_id": flow_id})

    def update(self, flow_id: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        return self.call("admin_flow_update", params={"flow_id": flow_id}, body=body, headers=headers)

    def publish(self, flow_id: str, **headers: str) -> dict[str, Any]:
        return self.call("admin_flow_publish", params={"flow_id": flow_id}, headers=headers)

    def set_default(self, flow_id: str) -> dict[str, Any]:
        return self.call("admin_default_flow_set", body={"flow_id": flow_id})

    def audit(self) -> list[AuditEntry]:
        return container().audit_store.list_entries(self.tenant, AuditFilter(), limit=100, cursor=None).items


@pytest.fixture
def admin(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    """An admin of tenant t-acme with the admin routes' handlers, on a fresh deployment."""
    reset()
    yield Admin(monkeypatch)
    reset()


def publish_default(admin: Admin, flow_id: str = "welcome", body: dict[str, Any] | None = None) -> None:
    ok(admin.create(flow_id, body), 201)
    ok(admin.publish(flow_id), 201)
    ok(admin.set_default(flow_id))


# --- drafts -------------------------------------------------------------------------------------------------


def test_creating_a_flow_answers_201_with_its_etag_and_location(admin: Admin) -> None:
    # Given a tenant without flows
    # When an admin creates one
    response = admin.create("welcome")

    # Then it is a draft at edit version 1, nothing published yet, and where it lives is said
    draft = ok(response, 201)
    assert draft["flow_id"] == "welcome"
    assert (draft["version"], draft["latest_published_version"], draft["is_default"]) == (1, None, False)
    assert [step["id"] for step in draft["definition"]["steps"]] == ["welcome", "product-tour", "connect-data"]
    assert draft["updated_by"] == ACTOR
    assert response["headers"]["ETag"] == '"v1"'
    assert response["headers"]["Location"] == "/v1/admin/onboarding/flows/welcome"

    # And reading it back gives the same draft and ETag
    read = admin.get("welcome")
    assert ok(read) == draft
    assert read["headers"]["ETag"] == '"v1"'


def test_a_flow_id_already_taken_is_refused_and_the_first_flow_kept(admin: Admin) -> None:
    # Given a flow
    ok(admin.create("welcome", flow_body("First")), 201)

    # When another flow is created with the same id
    response = admin.create("welcome", flow_body("Second"))

    # Then it is refused and the first one is untouched
    problem(response, 409, "RES_FLOW_EXISTS")
    assert ok(admin.get("welcome"))["definition"]["name"] == "First"


def test_an_idempotency_key_replay_answers_the_first_creation_again(admin: Admin) -> None:
    # Given a flow created with an Idempotency-Key
    first = admin.create("welcome", **{"Idempotency-Key": "create-welcome"})
    assert first["statusCode"] == 201

    # When the same request is sent again (a client retry)
    replay = admin.create("welcome", **{"Idempotency-Key": "create-welcome"})

    # Then it gets the first answer, headers included, instead of RES_FLOW_EXISTS, and only one flow was created
    assert replay["statusCode"] == 201
    assert body_of(replay) == body_of(first)
    assert (replay["headers"]["ETag"], replay["headers"]["Location"]) == (
        first["headers"]["ETag"],
        first["headers"]["Location"],
    )
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert [e.action for e in admin.audit()].count("onboarding.flow.created") == 1


def test_an_unknown_flow_is_not_found(admin: Admin) -> None:
    problem(admin.get("nowhere"), 404, "RES_FLOW_NOT_FOUND")
    problem(admin.update("nowhere", flow_body(), **{"If-Match": '"v1"'}), 404, "RES_FLOW_NOT_FOUND")
    problem(admin.publish("nowhere"), 404, "RES_FLOW_NOT_FOUND")
    problem(admin.call("admin_flow_versions", params={"flow_id": "nowhere"}), 404, "RES_FLOW_NOT_FOUND")


def test_flows_are_listed_in_pages_in_flow_id_order(admin: Admin) -> None:
    # Given five flows, created out of order, one of them the default
    for flow_id in ("echo", "alpha", "delta", "bravo", "charlie"):
        ok(admin.create(flow_id, flow_body(flow_id.title())), 201)
    ok(admin.publish("charlie"), 201)
    ok(admin.set_default("charlie"))

    # When they are listed two at a time, following the cursor
    pages: list[list[str]] = []
    defaults: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = ok(admin.call("admin_flow_list", query=query))
        pages.append([flow["flow_id"] for flow in page["items"]])
        defaults += [flow["flow_id"] for flow in page["items"] if flow["is_default"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break

    # Then every flow appears once, in id order, two per page, and the default is marked
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    assert defaults == ["charlie"]


def test_a_cursor_that_is_not_one_the_list_returned_is_refused(admin: Admin) -> None:
    response = admin.call("admin_flow_list", query={"cursor": "bm90LWEtY3Vyc29y"})

    problem(response, 400, "VAL_CURSOR_INVALID")


def test_editing_with_a_stale_if_match_is_refused_with_the_current_draft(admin: Admin) -> None:
    # Given a draft that one admin has edited since another read it at v1
    ok(admin.create("welcome"), 201)
    edited = admin.update("welcome", flow_body("Edited once"), **{"If-Match": '"v1"'})
    assert ok(edited)["version"] == 2
    assert edited["headers"]["ETag"] == '"v2"'

    # When the other admin saves their edit of v1
    stale = admin.update("welcome", flow_body("Edited from a stale copy"), **{"If-Match": '"v1"'})

    # Then it is refused with the current draft and its ETag, and nothing is overwritten
    document = problem(stale, 409, "RES_VERSION_CONFLICT")
    assert document["current"]["version"] == 2
    assert document["current"]["definition"]["name"] == "Edited once"
    assert stale["headers"]["ETag"] == '"v2"'
    assert ok(admin.get("welcome"))["definition"]["name"] == "Edited once"

    # And with the current ETag the edit goes through, with a new one
    current = admin.update("welcome", flow_body("Edited twice"), **{"If-Match": '"v2"'})
    assert ok(current)["definition"]["name"] == "Edited twice"
    assert current["headers"]["ETag"] == '"v3"'


def test_editing_a_draft_without_if_match_is_refused_as_needing_one(admin: Admin) -> None:
    # Given a draft at v1
    ok(admin.create("welcome"), 201)

    # When an admin saves an edit without naming the version it was made on (no If-Match, or "*")
    blind = admin.update("welcome", flow_body("Edited blind"))
    starred = admin.update("welcome", flow_body("Edited blind"), **{"If-Match": "*"})

    # Then both are refused as needing If-Match, and the draft is untouched and unaudited
    assert "If-Match" in problem(blind, 428, "RES_PRECONDITION_REQUIRED")["detail"]
    problem(starred, 428, "RES_PRECONDITION_REQUIRED")
    draft = ok(admin.get("welcome"))
    assert (draft["version"], draft["definition"]["name"]) == (1, "Welcome to Acme")
    assert "onboarding.flow.updated" not in [e.action for e in admin.audit()]


def test_an_if_match_that_is_not_an_etag_is_refused(admin: Admin) -> None:
    ok(admin.create("welcome"), 201)

    response = admin.update("welcome", flow_body("Edited"), **{"If-Match": "yesterday"})

    problem(response, 400, "VAL_IF_MATCH_INVALID")
    assert ok(admin.get("welcome"))["version"] == 1


def test_an_invalid_definition_is_refused_and_stores_nothing(admin: Admin) -> None:
    # Given a draft
    ok(admin.create("welcome"), 201)
    duplicated = flow_body()
    duplicated["steps"][1]["id"] = "welcome"

    # When a definition with two steps of one id is saved, or a flow created with it
    edit = admin.update("welcome", duplicated)
    creation = admin.create("second", duplicated)

    # Then both are refused as invalid requests and the stored draft is unchanged
    assert any("unique" in e["message"] for e in problem(edit, 422, "VAL_REQUEST_INVALID")["errors"])
    problem(creation, 422, "VAL_REQUEST_INVALID")
    assert ok(admin.get("welcome"))["version"] == 1
    problem(admin.get("second"), 404, "RES_FLOW_NOT_FOUND")


# --- published versions -------------------------------------------------------------------------------------


def test_publishing_numbers_versions_and_a_published_version_never_changes(admin: Admin) -> None:
    # Given a draft published once
    ok(admin.create("welcome", flow_body(step_title="Say hello")), 201)
    first = admin.publish("welcome", **{"If-Match": '"v1"'})
    version_1 = ok(first, 201)
    assert (version_1["version"], version_1["published_by"]) == (1, ACTOR)
    assert first["headers"]["Location"] == "/v1/admin/onboarding/flows/welcome/versions/1"

    # When the draft is edited (from its current ETag) and published again
    draft = admin.get("welcome")
    ok(admin.update("welcome", flow_body(step_title="Say hi"), **{"If-Match": draft["headers"]["ETag"]}))
    version_2 = ok(admin.publish("welcome"), 201)

    # Then there are two versions, newest first, and version 1 still holds what was published first
    assert version_2["version"] == 2
    listed = ok(admin.call("admin_flow_versions", params={"flow_id": "welcome"}))
    assert [v["version"] for v in listed["items"]] == [2, 1]
    assert all(v["steps"] == 3 and v["published_by"] == ACTOR for v in listed["items"])
    read_1 = ok(admin.call("admin_flow_version_get", params={"flow_id": "welcome", "version": 1}))
    read_2 = ok(admin.call("admin_flow_version_get", params={"flow_id": "welcome", "version": 2}))
    assert read_1 == version_1
    assert read_1["definition"]["steps"][0]["title"] == "Say hello"
    assert read_2["definition"]["steps"][0]["title"] == "Say hi"
    assert ok(admin.get("welcome"))["latest_published_version"] == 2


def test_publishing_a_draft_edited_since_it_was_read_is_refused(admin: Admin) -> None:
    # Given a draft edited after the admin read it at v1
    ok(admin.create("welcome"), 201)
    ok(admin.update("welcome", flow_body("Edited"), **{"If-Match": '"v1"'}))

    # When the admin publishes what they read
    response = admin.publish("welcome", **{"If-Match": '"v1"'})

    # Then nothing is published and the current draft is returned
    assert problem(response, 409, "RES_VERSION_CONFLICT")["current"]["version"] == 2
    assert ok(admin.call("admin_flow_versions", params={"flow_id": "welcome"}))["items"] == []


def test_versions_are_listed_in_pages_newest_first(admin: Admin) -> None:
    # Given a flow published three times
    ok(admin.create("welcome"), 201)
    for _ in range(3):
        ok(admin.publish("welcome"), 201)

    # When its versions are listed two at a time
    first = ok(admin.call("admin_flow_versions", params={"flow_id": "welcome"}, query={"limit": "2"}))
    second = ok(
        admin.call(
            "admin_flow_versions", params={"flow_id": "welcome"}, query={"limit": "2", "cursor": first["next_cursor"]}
        )
    )

    # Then the pages hold 3, 2 and then 1
    assert [v["version"] for v in first["items"]] == [3, 2]
    assert [v["version"] for v in second["items"]] == [1]
    assert second.get("next_cursor") is None


@pytest.mark.parametrize("version", ["0", "-1", "one"])
def test_a_version_that_is_not_a_positive_number_is_refused(admin: Admin, version: str) -> None:
    response = admin.call("admin_flow_version_get", params={"flow_id": "welcome", "version": version})

    problem(response, 422, "VAL_REQUEST_INVALID")


def test_a_version_never_published_is_not_found(admin: Admin) -> None:
    ok(admin.create("welcome"), 201)
    ok(admin.publish("welcome"), 201)

    response = admin.call("admin_flow_version_get", params={"flow_id": "welcome", "version": 2})

    problem(response, 404, "RES_FLOW_VERSION_NOT_FOUND")


# --- the default flow ---------------------------------------------------------------------------------------


def test_the_default_flow_must_exist_and_be_published(admin: Admin) -> None:
    # Given a tenant with a draft that was never published
    problem(admin.call("admin_default_flow_get"), 409, "BIZ_NO_DEFAULT_FLOW")
    ok(admin.create("welcome"), 201)

    # When an admin makes it the default, or a flow that does not exist
    unpublished = admin.set_default("welcome")
    missing = admin.set_default("nowhere")

    # Then both are refused and there is still no default
    problem(unpublished, 409, "BIZ_FLOW_NOT_PUBLISHED")
    problem(missing, 404, "RES_FLOW_NOT_FOUND")
    problem(admin.call("admin_default_flow_get"), 409, "BIZ_NO_DEFAULT_FLOW")

    # And once the flow is published it can be the default
    ok(admin.publish("welcome"), 201)
    chosen = ok(admin.set_default("welcome"))
    assert (chosen["flow_id"], chosen["updated_by"]) == ("welcome", ACTOR)
    assert ok(admin.call("admin_default_flow_get"))["flow_id"] == "welcome"
    assert ok(admin.get("welcome"))["is_default"] is True


# --- users --------------------------------------------------------------------------------------------------


def test_an_admin_restarts_a_user_who_skipped_their_onboarding(admin: Admin) -> None:
    # Given a user who completed a step and then skipped the whole onboarding
    publish_default(admin)
    service = container().progress
    service.step(TENANT, "u-1", StepCommand(step_id="welcome", action=StepAction.COMPLETE), None)
    _, skipped_version = service.skip(TENANT, "u-1", None)

    # When an admin restarts them (no body: on the default flow)
    response = admin.call("admin_onboarding_restart", params={"user_id": "u-1"})

    # Then the user starts over from the first step, at a later progress version, with the ETag of it
    status = ok(response)
    assert (status["state"], status["skipped"], status["current_step"]) == ("in_progress", False, "welcome")
    assert {step["state"] for step in status["steps"]} == {"not_started"}
    assert status["progress_version"] > skipped_version
    assert response["headers"]["ETag"] == f'"v{status["progress_version"]}"'
    assert [e.type.value for e in container().onboarding_store.list_events(TENANT, "u-1")][-1] == "restarted"
    assert service.status(TENANT, "u-1")[0].state.value == "in_progress"


def test_a_user_can_be_restarted_on_another_flow(admin: Admin) -> None:
    # Given a user on the default flow and a second published flow
    publish_default(admin)
    container().progress.status(TENANT, "u-1")
    ok(admin.create("advanced", flow_body("Advanced")), 201)
    ok(admin.publish("advanced"), 201)

    # When an admin restarts the user on the second flow
    status = ok(admin.call("admin_onboarding_restart", params={"user_id": "u-1"}, body={"flow_id": "advanced"}))

    # Then the user is on its latest version
    assert (status["flow_id"], status["flow_name"], status["flow_version"]) == ("advanced", "Advanced", 1)


def test_restarting_a_user_who_never_enrolled_is_not_found(admin: Admin) -> None:
    # Given a published default flow, and a user who never asked for their onboarding
    publish_default(admin)

    # When an admin restarts them
    response = admin.call("admin_onboarding_restart", params={"user_id": "u-never"})

    # Then they are not found, and restarting did not enrol them or leave an entry
    problem(response, 404, "RES_ONBOARDING_NOT_FOUND")
    assert container().onboarding_store.get_progress(TENANT, "u-never") is None
    assert "onboarding.user.restarted" not in [e.action for e in admin.audit()]


def test_restarting_without_a_default_flow_is_refused(admin: Admin) -> None:
    response = admin.call("admin_onboarding_restart", params={"user_id": "u-1"})

    problem(response, 409, "BIZ_NO_DEFAULT_FLOW")
    assert container().onboarding_store.get_progress(TENANT, "u-1") is None


def test_sample_users_walk_the_flow_and_are_tagged_and_expiring(admin: Admin, deployment: Deployment) -> None:
    # Given a published default flow
    publish_default(admin)
    before = datetime.now(UTC)

    # When an admin generates three sample users (their walks are tested on the in-memory store, in
    # tests/unit/onboarding/test_sample_users.py; here, the route and the items as the table keeps them)
    response = admin.call("admin_sample_users_create", body={"count": 3, "seed": 3})

    # Then three distinct users exist, their outcomes add up, and they expire within the sample lifetime
    created = ok(response, 201)
    users = created["users"]
    assert len(set(users)) == 3
    assert (created["flow_id"], created["flow_version"]) == ("welcome", 1)
    assert set(created["outcomes"]) == {"in_progress", "completed", "skipped"}
    assert sum(created["outcomes"].values()) == 3
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(days=6) < expires_at <= datetime.now(UTC) + timedelta(days=7)

    # And each one's progress and events are tagged sample, ending as the outcomes say, removed by TTL by then
    ended: dict[str, int] = dict.fromkeys(created["outcomes"], 0)
    for user in users:
        progress = container().onboarding_store.get_progress(TENANT, user)
        assert progress is not None and progress.sample is True
        assert progress.expires_at is not None and progress.expires_at <= expires_at.timestamp()
        ended[progress.state.value] += 1
        events = container().onboarding_store.list_events(TENANT, user)
        assert events and events[0].type.value == "enrolled"
        assert all(event.sample for event in events)
        items = deployment.table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"TENANT#{TENANT}#USER#{user}"}
        )["Items"]
        assert len(items) == len(events) + 1
        assert all(0 < int(item["expires_at"]) <= progress.expires_at for item in items)
    assert ended == created["outcomes"]


def test_sample_users_need_a_published_flow(admin: Admin) -> None:
    problem(admin.call("admin_sample_users_create", body={"count": 3}), 409, "BIZ_NO_DEFAULT_FLOW")
    ok(admin.create("draft-only"), 201)
    problem(admin.call("admin_sample_users_create", body={"flow_id": "draft-only"}), 409, "BIZ_FLOW_NOT_PUBLISHED")


# --- audit and boundaries -----------------------------------------------------------------------------------


def test_every_change_an_admin_makes_leaves_an_audit_entry(admin: Admin) -> None:
    # Given an admin who creates, edits, publishes and selects a flow, restarts a user and makes sample users
    publish_default(admin)
    container().progress.status(TENANT, "u-9")
    ok(admin.update("welcome", flow_body("Edited"), **{"If-Match": '"v2"'}))
    ok(admin.call("admin_onboarding_restart", params={"user_id": "u-9"}))
    ok(admin.call("admin_sample_users_create", body={"count": 2}), 201)

    # When the tenant's audit log is read through its own route
    log = ok(admin.call("admin_audit_list", query={"actor": ACTOR, "limit": "50"}))

    # Then each change is there, by that admin, about what it changed
    done = {(entry["action"], entry["target"]) for entry in log["items"]}
    assert done >= {
        ("onboarding.flow.created", "flow:welcome"),
        ("onboarding.flow.published", "flow:welcome"),
        ("onboarding.default_flow.set", "flow:welcome"),
        ("onboarding.flow.updated", "flow:welcome"),
        ("onboarding.user.restarted", "user:u-9"),
        ("onboarding.sample_users.created", "flow:welcome"),
    }
    assert {entry["actor"] for entry in log["items"]} == {ACTOR}


def test_reads_leave_no_audit_entry(admin: Admin) -> None:
    ok(admin.create("welcome"), 201)
    logged = len(admin.audit())

    ok(admin.get("welcome"))
    ok(admin.call("admin_flow_list"))
    ok(admin.call("admin_flow_versions", params={"flow_id": "welcome"}))

    assert len(admin.audit()) == logged


def test_another_tenants_admin_sees_and_changes_nothing_of_this_tenants_flows(admin: Admin) -> None:
    # Given a published default flow of tenant t-acme
    publish_default(admin)
    other = admin.as_(tenant="t-other")

    # When an admin of another tenant reads, edits, publishes and lists
    problem(other.get("welcome"), 404, "RES_FLOW_NOT_FOUND")
    problem(other.update("welcome", flow_body("Hijacked"), **{"If-Match": '"v2"'}), 404, "RES_FLOW_NOT_FOUND")
    problem(other.publish("welcome"), 404, "RES_FLOW_NOT_FOUND")
    problem(other.call("admin_default_flow_get"), 409, "BIZ_NO_DEFAULT_FLOW")
    listed = ok(other.call("admin_flow_list"))

    # Then they see none of it, and t-acme's flow is as it was
    assert listed["items"] == []
    draft = ok(admin.get("welcome"))
    assert (draft["definition"]["name"], draft["latest_published_version"]) == ("Welcome to Acme", 1)


def test_a_caller_without_the_admin_role_is_refused_before_anything_is_written(admin: Admin) -> None:
    response = admin.as_(roles="user").create("welcome")

    problem(response, 403, "PERM_FORBIDDEN")
    problem(admin.get("welcome"), 404, "RES_FLOW_NOT_FOUND")
