"""The feature-flag admin routes through their real handlers and the emulator.

Every request is a caller's as API Gateway delivers it (the authorizer's context, the route key), to a handler
configured from the catalogue (the role its route requires). Covered: creating, reading, listing, changing (with
``If-Match``), archiving, history and rollback of flags; whole-set validation (cycles, missing references);
segments; the kill switch; flag settings; the audit entry each change leaves; and the tenant boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from firstmile.audit.models import AuditEntry, AuditFilter
from firstmile.composition import container, reset
from tests.factories import body_of
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient, ok, problem

TENANT = "t-acme"
OTHER_TENANT = "t-other"
ADMIN_SUBJECT = "u-admin"
ACTOR = f"admin:{ADMIN_SUBJECT}"


# --- test data ----------------------------------------------------------------------------------------------


def flag_body(key: str = "new-checkout", **changes: Any) -> dict[str, Any]:
    """A boolean flag as an admin sends it: on for Germany and France, off for everyone else."""
    return {
        "key": key,
        "description": "The new checkout",
        "enabled": True,
        "rules": [
            {
                "id": "beta-markets",
                "conditions": [{"attribute": "country", "operator": "in", "value": ["DE", "FR"]}],
                "serve": {"value": True},
            }
        ],
        "fallthrough": {"value": False},
        "tags": ["checkout"],
        "owner": "team-payments",
        **changes,
    }


def segment_body(key: str = "beta", users: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    return {"key": key, "description": "Early access", "users": users or ["u-beta"], **changes}


# What an admin read of a flag adds when the kill switch does not hold it off.
NOT_KILLED = {"kill_switch": {"killed": False, "killed_by": [], "last_change": None}}


def content(flag: dict[str, Any]) -> dict[str, Any]:
    """A flag's content: everything but its version (and the kill-switch state an admin read adds)."""
    return {name: value for name, value in flag.items() if name not in ("version", "kill_switch")}


# --- requests as API Gateway delivers them ------------------------------------------------------------------


@dataclass
class Api(RouteClient):
    """One caller of the flag routes (an admin unless told otherwise); each route is served by its own handler,
    loaded once per test and shared between callers."""

    tenant: str = TENANT
    subject: str = ADMIN_SUBJECT
    roles: str = "user,admin"

    def user(self, subject: str, *, tenant: str | None = None, **attributes: str) -> Api:
        """A user (no admin role) of the tenant, whose token carries ``attributes``."""
        return self.as_(tenant=tenant or self.tenant, subject=subject, roles="user", attributes=attributes)

    # The routes, by what they do.

    @staticmethod
    def _if_match(if_match: str | None) -> dict[str, str]:
        return {"If-Match": if_match} if if_match is not None else {}

    def create(self, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        return self.call("admin_flag_create", body=body, headers=headers)

    def get(self, key: str) -> dict[str, Any]:
        return self.call("admin_flag_get", params={"key": key})

    def list_flags(self, **query: str) -> dict[str, Any]:
        return self.call("admin_flag_list", query=query or None)

    def update(self, key: str, body: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
        return self.call("admin_flag_update", params={"key": key}, body=body, headers=self._if_match(if_match))

    def archive(self, key: str, if_match: str | None = None) -> dict[str, Any]:
        return self.call("admin_flag_archive", params={"key": key}, headers=self._if_match(if_match))

    def history(self, key: str, **query: str) -> dict[str, Any]:
        return self.call("admin_flag_history", params={"key": key}, query=query or None)

    def rollback(self, key: str, version: Any, if_match: str | None = None) -> dict[str, Any]:
        return self.call(
            "admin_flag_rollback", params={"key": key}, body={"version": version}, headers=self._if_match(if_match)
        )

    def put_segment(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("admin_segment_put", params={"key": key}, body=body)

    def get_segment(self, key: str) -> dict[str, Any]:
        return self.call("admin_segment_get", params={"key": key})

    def kill(self, **change: Any) -> dict[str, Any]:
        return self.call("admin_kill_switch_set", body=change)

    def kill_switch(self) -> dict[str, Any]:
        return self.call("admin_kill_switch_get")

    def settings(self) -> dict[str, Any]:
        return self.call("admin_flag_settings_get")

    def put_settings(self, body: dict[str, Any], if_match: str | None = None) -> dict[str, Any]:
        return self.call("admin_flag_settings_put", body=body, headers=self._if_match(if_match))

    def evaluate(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call("flags_evaluate", body=body if body is not None else {})

    def exposures(self, key: str, **query: str) -> dict[str, Any]:
        return self.call("admin_flag_exposures", params={"key": key}, query=query or None)

    def audit(self) -> list[AuditEntry]:
        """The tenant's audit log, newest first, read through the audit store."""
        return container().audit_store.list_entries(self.tenant, AuditFilter(), limit=100, cursor=None).items


@pytest.fixture
def api(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """An admin of tenant t-acme with the flag routes' handlers, on a fresh deployment and a cold flag cache."""
    reset()
    yield Api(monkeypatch)
    reset()


def flag_actions(api: Api) -> list[tuple[str, str, str]]:
    """(action, target, actor) of the tenant's flag audit entries, oldest first."""
    return [(e.action, e.target, e.actor) for e in reversed(api.audit()) if e.action.startswith("flag.")]


# --- creating and reading -----------------------------------------------------------------------------------


def test_creating_a_flag_answers_201_with_version_1_its_etag_and_location(api: Api) -> None:
    # Given a tenant without flags
    # When an admin creates one, stating a version of its own
    response = api.create(flag_body(version=7))

    # Then it is stored as version 1, with the ETag of that and where it lives
    created = ok(response, 201)
    assert created["version"] == 1
    assert (created["type"], created["salt"], created["archived"], created["prerequisites"]) == (
        "boolean",
        "new-checkout",
        False,
        [],
    )
    assert (created["key"], created["enabled"], created["tags"]) == ("new-checkout", True, ["checkout"])
    assert created["rules"][0]["conditions"] == [{"attribute": "country", "operator": "in", "value": ["DE", "FR"]}]
    assert response["headers"]["ETag"] == '"v1"'
    assert response["headers"]["Location"] == "/v1/admin/feature-flags/new-checkout"

    # And reading it gives the same flag (and that nothing holds it off) and ETag
    read = api.get("new-checkout")
    assert ok(read) == created | NOT_KILLED
    assert read["headers"]["ETag"] == '"v1"'

    # And the creation is audited, by that admin, about that flag
    assert flag_actions(api) == [("flag.created", "flag:new-checkout", ACTOR)]
    assert api.audit()[0].details["version"] == "1"


def test_a_key_already_taken_is_refused_with_the_stored_flag(api: Api) -> None:
    # Given a flag
    ok(api.create(flag_body(description="First")), 201)

    # When another flag is created with its key
    response = api.create(flag_body(description="Second", enabled=False))

    # Then it is refused, the stored flag is returned and kept, and only the first creation is audited
    document = problem(response, 409, "RES_FLAG_EXISTS")
    assert (document["current"]["description"], document["current"]["version"]) == ("First", 1)
    stored = ok(api.get("new-checkout"))
    assert (stored["description"], stored["enabled"], stored["version"]) == ("First", True, 1)
    assert [a for a, _, _ in flag_actions(api)] == ["flag.created"]


def test_an_idempotency_key_replay_answers_the_first_creation_again(api: Api) -> None:
    first = api.create(flag_body(), **{"Idempotency-Key": "create-new-checkout"})
    assert first["statusCode"] == 201

    replay = api.create(flag_body(), **{"Idempotency-Key": "create-new-checkout"})

    assert replay["statusCode"] == 201
    assert body_of(replay) == body_of(first)
    assert (replay["headers"]["ETag"], replay["headers"]["Location"]) == (
        '"v1"',
        "/v1/admin/feature-flags/new-checkout",
    )
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert [a for a, _, _ in flag_actions(api)] == ["flag.created"]


def test_an_archived_flag_still_holds_its_key(api: Api) -> None:
    ok(api.create(flag_body()), 201)
    ok(api.archive("new-checkout", '"v1"'))

    problem(api.create(flag_body()), 409, "RES_FLAG_EXISTS")


def test_a_flag_that_requires_itself_is_refused_as_a_cycle(api: Api) -> None:
    # When an admin creates a flag that is its own prerequisite
    response = api.create(flag_body("loop", prerequisites=[{"flag": "loop"}]))

    # Then it is refused with the cycle, and nothing is stored or audited
    document = problem(response, 422, "VAL_FLAG_PREREQUISITE_CYCLE")
    assert document["cycle"] == ["loop", "loop"]
    problem(api.get("loop"), 404, "RES_FLAG_NOT_FOUND")
    assert flag_actions(api) == []


def test_a_change_that_closes_a_prerequisite_cycle_is_refused(api: Api) -> None:
    # Given flag a that requires flag b
    ok(api.create(flag_body("b")), 201)
    ok(api.create(flag_body("a", prerequisites=[{"flag": "b"}])), 201)

    # When b is changed to require a
    response = api.update("b", flag_body("b", prerequisites=[{"flag": "a"}]), '"v1"')

    # Then the change is refused with the cycle, and b stays as it was
    document = problem(response, 422, "VAL_FLAG_PREREQUISITE_CYCLE")
    assert document["cycle"] in (["a", "b", "a"], ["b", "a", "b"])
    stored = ok(api.get("b"))
    assert (stored["version"], stored["prerequisites"]) == (1, [])


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"prerequisites": [{"flag": "nowhere"}]}, "missing_flag"),
        ({"prerequisites": [{"flag": "base", "variant": "purple"}]}, "missing_variant"),
        (
            {
                "rules": [
                    {
                        "id": "beta",
                        "conditions": [{"attribute": "segment", "operator": "in", "value": ["nobody"]}],
                        "serve": {"value": True},
                    }
                ]
            },
            "missing_segment",
        ),
    ],
)
def test_a_flag_naming_a_missing_flag_variant_or_segment_is_refused(
    api: Api, changes: dict[str, Any], kind: str
) -> None:
    # Given a tenant with one boolean flag "base" and no segments
    ok(api.create(flag_body("base")), 201)

    # When a flag referring to something the tenant does not have is created
    response = api.create(flag_body("dependent", **changes))

    # Then it is refused, naming the reference, and nothing is stored
    document = problem(response, 422, "VAL_FLAG_REFERENCE_INVALID")
    assert [error["type"] for error in document["errors"]] == [kind]
    assert document["errors"][0]["location"].startswith("flags.dependent.")
    problem(api.get("dependent"), 404, "RES_FLAG_NOT_FOUND")


def test_an_invalid_flag_is_refused_as_an_invalid_request(api: Api) -> None:
    # A boolean flag cannot declare variants, and a rule id must be unique
    response = api.create(flag_body(variants=[{"key": "a", "value": 1}, {"key": "b", "value": 2}]))
    problem(response, 422, "VAL_REQUEST_INVALID")
    rules = [{"id": "same", "serve": {"value": True}}, {"id": "same", "serve": {"value": False}}]
    problem(api.create(flag_body(rules=rules)), 422, "VAL_REQUEST_INVALID")
    assert ok(api.list_flags())["items"] == []


def test_an_unknown_flag_is_not_found_on_every_route(api: Api) -> None:
    problem(api.get("nowhere"), 404, "RES_FLAG_NOT_FOUND")
    problem(api.update("nowhere", flag_body("nowhere"), '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(api.archive("nowhere", '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(api.history("nowhere"), 404, "RES_FLAG_NOT_FOUND")
    problem(api.rollback("nowhere", 1, '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(api.exposures("nowhere"), 404, "RES_FLAG_NOT_FOUND")
    assert flag_actions(api) == []


def test_flags_are_listed_in_pages_in_key_order_archived_ones_included(api: Api) -> None:
    # Given five flags, created out of order, one of them archived
    for key in ("echo", "alpha", "delta", "bravo", "charlie"):
        ok(api.create(flag_body(key)), 201)
    ok(api.archive("delta", '"v1"'))

    # When they are listed two at a time, following the cursor
    pages: list[list[str]] = []
    archived: list[str] = []
    cursor: str | None = None
    while True:
        page = ok(api.list_flags(limit="2", **({"cursor": cursor} if cursor else {})))
        pages.append([flag["key"] for flag in page["items"]])
        archived += [flag["key"] for flag in page["items"] if flag["archived"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break

    # Then every flag appears once, in key order, two per page
    assert pages[:3] == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    assert pages[3:] in ([], [[]])
    assert archived == ["delta"]


def test_a_cursor_the_list_did_not_return_is_refused(api: Api) -> None:
    problem(api.list_flags(cursor="bm90LWEtY3Vyc29y"), 400, "VAL_CURSOR_INVALID")


# --- changing -----------------------------------------------------------------------------------------------


def test_a_change_with_if_match_makes_the_next_version(api: Api) -> None:
    # Given a flag at v1
    ok(api.create(flag_body()), 201)

    # When an admin changes it from its ETag
    response = api.update("new-checkout", flag_body(enabled=False), '"v1"')

    # Then it is version 2, with the ETag of that, as read back
    changed = ok(response)
    assert (changed["version"], changed["enabled"]) == (2, False)
    assert response["headers"]["ETag"] == '"v2"'
    read = api.get("new-checkout")
    assert ok(read) == changed | NOT_KILLED
    assert read["headers"]["ETag"] == '"v2"'
    assert flag_actions(api)[-1] == ("flag.updated", "flag:new-checkout", ACTOR)
    assert api.audit()[0].details["version"] == "2"


def test_a_change_from_a_stale_version_is_refused_with_the_current_flag(api: Api) -> None:
    # Given a flag another admin changed since this one read it at v1
    ok(api.create(flag_body()), 201)
    ok(api.update("new-checkout", flag_body(description="Changed once"), '"v1"'))
    logged = len(api.audit())

    # When this admin saves their change of v1
    stale = api.update("new-checkout", flag_body(description="From a stale copy"), '"v1"')

    # Then it is refused with the current flag and its ETag, nothing is overwritten and nothing audited
    document = problem(stale, 409, "RES_VERSION_CONFLICT")
    assert (document["current"]["version"], document["current"]["description"]) == (2, "Changed once")
    assert document["current"]["key"] == "new-checkout"
    assert stale["headers"]["ETag"] == '"v2"'
    assert ok(api.get("new-checkout"))["description"] == "Changed once"
    assert len(api.audit()) == logged

    # And a stale version in the body (no If-Match) is refused the same way
    problem(api.update("new-checkout", flag_body(description="Stale body", version=1)), 409, "RES_VERSION_CONFLICT")

    # And with the current ETag the change goes through
    current = api.update("new-checkout", flag_body(description="Changed twice"), '"v2"')
    assert ok(current)["version"] == 3
    assert current["headers"]["ETag"] == '"v3"'


def test_the_body_version_stands_in_for_if_match(api: Api) -> None:
    ok(api.create(flag_body()), 201)

    response = api.update("new-checkout", flag_body(enabled=False, version=1))

    assert ok(response)["version"] == 2
    assert response["headers"]["ETag"] == '"v2"'


def test_a_change_without_if_match_or_body_version_needs_a_precondition(api: Api) -> None:
    ok(api.create(flag_body()), 201)

    problem(api.update("new-checkout", flag_body(enabled=False)), 428, "RES_PRECONDITION_REQUIRED")
    problem(api.archive("new-checkout"), 428, "RES_PRECONDITION_REQUIRED")
    problem(api.rollback("new-checkout", 1), 428, "RES_PRECONDITION_REQUIRED")

    stored = ok(api.get("new-checkout"))
    assert (stored["version"], stored["enabled"], stored["archived"]) == (1, True, False)
    assert [a for a, _, _ in flag_actions(api)] == ["flag.created"]


def test_an_if_match_that_is_not_an_etag_is_refused(api: Api) -> None:
    ok(api.create(flag_body()), 201)

    problem(api.update("new-checkout", flag_body(enabled=False), "yesterday"), 400, "VAL_IF_MATCH_INVALID")

    assert ok(api.get("new-checkout"))["version"] == 1


def test_a_body_naming_another_flag_than_the_path_is_refused(api: Api) -> None:
    ok(api.create(flag_body("one")), 201)
    ok(api.create(flag_body("two")), 201)

    response = api.update("one", flag_body("two", enabled=False), '"v1"')

    problem(response, 422, "VAL_FLAG_KEY_MISMATCH")
    assert (ok(api.get("one"))["version"], ok(api.get("two"))["version"]) == (1, 1)


def test_archiving_makes_a_version_with_archived_true(api: Api) -> None:
    # Given a flag at v1
    ok(api.create(flag_body()), 201)

    # When an admin archives it from its ETag
    response = api.archive("new-checkout", '"v1"')

    # Then it is version 2, archived, otherwise unchanged; it is still readable and listed
    archived = ok(response)
    assert (archived["version"], archived["archived"]) == (2, True)
    assert response["headers"]["ETag"] == '"v2"'
    before = ok(api.history("new-checkout"))["items"][-1]["flag"]
    assert content(archived) == {**content(before), "archived": True}
    assert ok(api.get("new-checkout")) == archived | NOT_KILLED
    assert [f["key"] for f in ok(api.list_flags())["items"]] == ["new-checkout"]
    assert flag_actions(api)[-1] == ("flag.archived", "flag:new-checkout", ACTOR)

    # And a stale archive is refused
    problem(api.archive("new-checkout", '"v1"'), 409, "RES_VERSION_CONFLICT")

    # And a change with archived false brings it back
    restored = ok(api.update("new-checkout", {**flag_body(), "archived": False}, '"v2"'))
    assert (restored["version"], restored["archived"]) == (3, False)


def test_history_lists_versions_newest_first_with_their_diffs(api: Api) -> None:
    # Given a flag created, switched off and archived
    ok(api.create(flag_body()), 201)
    ok(api.update("new-checkout", flag_body(enabled=False), '"v1"'))
    ok(api.archive("new-checkout", '"v2"'))

    # When its history is read
    history = ok(api.history("new-checkout"))

    # Then it lists v3, v2, v1, each with who made it, the whole flag, and what changed
    items = history["items"]
    assert [entry["version"] for entry in items] == [3, 2, 1]
    assert {entry["changed_by"] for entry in items} == {ACTOR}
    assert [entry["flag"]["version"] for entry in items] == [3, 2, 1]
    assert items[0]["diff"] == [{"field": "archived", "before": False, "after": True}]
    assert items[1]["diff"] == [{"field": "enabled", "before": True, "after": False}]
    first = {change["field"]: change for change in items[2]["diff"]}
    assert {"key", "enabled", "rules", "tags"} <= set(first)
    assert "version" not in first
    assert all(change["before"] is None for change in first.values())
    assert first["enabled"]["after"] is True

    # And it pages, newest first
    page_1 = ok(api.history("new-checkout", limit="2"))
    page_2 = ok(api.history("new-checkout", limit="2", cursor=page_1["next_cursor"]))
    assert [e["version"] for e in page_1["items"]] == [3, 2]
    assert [e["version"] for e in page_2["items"]] == [1]


def test_rolling_back_to_version_1_makes_a_new_version_with_its_content(api: Api) -> None:
    # Given a flag changed twice since version 1
    version_1 = ok(api.create(flag_body()), 201)
    ok(api.update("new-checkout", flag_body(enabled=False, tags=["checkout", "risky"]), '"v1"'))
    ok(api.update("new-checkout", flag_body(rules=[], description="No rules"), '"v2"'))

    # When an admin rolls it back to version 1
    response = api.rollback("new-checkout", 1, '"v3"')

    # Then version 4 is version 1 again, with its ETag, and the history kept every version
    restored = ok(response)
    assert restored["version"] == 4
    assert content(restored) == content(version_1)
    assert response["headers"]["ETag"] == '"v4"'
    assert ok(api.get("new-checkout")) == restored | NOT_KILLED
    history = ok(api.history("new-checkout"))["items"]
    assert [e["version"] for e in history] == [4, 3, 2, 1]
    assert {change["field"] for change in history[0]["diff"]} == {"description", "rules"}
    assert history[0]["changed_by"] == ACTOR

    # And it is audited with the version it restored
    assert flag_actions(api)[-1] == ("flag.rolled_back", "flag:new-checkout", ACTOR)
    assert api.audit()[0].details == {"version": "4", "restored_version": "1"}


def test_rolling_back_to_a_version_that_does_not_exist_is_not_found(api: Api) -> None:
    ok(api.create(flag_body()), 201)
    ok(api.update("new-checkout", flag_body(enabled=False), '"v1"'))

    problem(api.rollback("new-checkout", 3, '"v2"'), 404, "RES_FLAG_VERSION_NOT_FOUND")
    problem(api.rollback("new-checkout", 0, '"v2"'), 422, "VAL_REQUEST_INVALID")
    problem(api.rollback("new-checkout", 1, '"v1"'), 409, "RES_VERSION_CONFLICT")

    assert ok(api.get("new-checkout"))["version"] == 2
    assert [a for a, _, _ in flag_actions(api)] == ["flag.created", "flag.updated"]


def test_every_flag_change_leaves_an_audit_entry_readable_through_the_audit_route(api: Api) -> None:
    # Given an admin who creates, changes, archives and rolls back a flag, saves a segment, uses the kill switch
    # and changes the settings
    ok(api.create(flag_body()), 201)
    ok(api.update("new-checkout", flag_body(enabled=False), '"v1"'))
    ok(api.archive("new-checkout", '"v2"'))
    ok(api.rollback("new-checkout", 1, '"v3"'))
    ok(api.put_segment("beta", segment_body()))
    ok(api.kill(flag="new-checkout", reason="incident 42"))
    ok(api.kill(flag="new-checkout", killed=False))
    ok(api.put_settings({"client_attributes": ["country"]}))

    # When the tenant's audit log is read through its own route
    log = ok(api.call("admin_audit_list", query={"actor": ACTOR, "limit": "50"}))

    # Then each change is there once, by that admin, about what it changed, in order
    done = [(entry["action"], entry["target"]) for entry in reversed(log["items"])]
    assert done == [
        ("flag.created", "flag:new-checkout"),
        ("flag.updated", "flag:new-checkout"),
        ("flag.archived", "flag:new-checkout"),
        ("flag.rolled_back", "flag:new-checkout"),
        ("flag.segment.saved", "segment:beta"),
        ("flag.kill_switch.killed", "flag:new-checkout"),
        ("flag.kill_switch.revived", "flag:new-checkout"),
        ("flag.settings.updated", "flag-settings"),
    ]
    assert {entry["actor"] for entry in log["items"]} == {ACTOR}
    killed = next(e for e in log["items"] if e["action"] == "flag.kill_switch.killed")
    assert killed["details"]["reason"] == "incident 42"
    verified = ok(api.call("admin_audit_verify"))
    assert (verified["ok"], verified["checked"]) == (True, 8)


def test_reads_leave_no_audit_entry(api: Api) -> None:
    ok(api.create(flag_body()), 201)
    ok(api.put_segment("beta", segment_body()))
    logged = len(api.audit())

    ok(api.get("new-checkout"))
    ok(api.list_flags())
    ok(api.history("new-checkout"))
    ok(api.get_segment("beta"))
    ok(api.call("admin_segment_list"))
    ok(api.kill_switch())
    ok(api.settings())
    ok(api.exposures("new-checkout"))

    assert len(api.audit()) == logged


# --- segments -----------------------------------------------------------------------------------------------


def test_segments_are_saved_read_and_listed(api: Api) -> None:
    # Given three segments, one of them saved twice (the last writer wins)
    ok(api.put_segment("gamma", segment_body("gamma")))
    ok(api.put_segment("alpha", segment_body("alpha", ["u-1"])))
    conditions = [{"attribute": "plan", "operator": "eq", "value": "pro"}]
    saved = ok(api.put_segment("beta", segment_body("beta", ["u-2"])))
    assert saved["users"] == ["u-2"]
    replaced = ok(api.put_segment("beta", segment_body("beta", ["u-3", "u-4"], conditions=conditions)))

    # When one is read and they are listed two at a time
    read = ok(api.get_segment("beta"))
    first = ok(api.call("admin_segment_list", query={"limit": "2"}))
    second = ok(api.call("admin_segment_list", query={"limit": "2", "cursor": first["next_cursor"]}))

    # Then the read gives the last version, and the list every segment once, in key order
    assert read == replaced
    assert (read["users"], read["conditions"]) == (["u-3", "u-4"], conditions)
    assert [s["key"] for s in first["items"]] == ["alpha", "beta"]
    assert [s["key"] for s in second["items"]] == ["gamma"]
    assert [t for a, t, _ in flag_actions(api) if a == "flag.segment.saved"] == [
        "segment:gamma",
        "segment:alpha",
        "segment:beta",
        "segment:beta",
    ]


def test_an_unknown_segment_is_not_found_and_a_mismatched_key_refused(api: Api) -> None:
    problem(api.get_segment("nobody"), 404, "RES_SEGMENT_NOT_FOUND")

    problem(api.put_segment("beta", segment_body("gamma")), 422, "VAL_SEGMENT_KEY_MISMATCH")
    nested = segment_body(conditions=[{"attribute": "segment", "operator": "in", "value": ["beta"]}])
    problem(api.put_segment("beta", nested), 422, "VAL_REQUEST_INVALID")

    problem(api.get_segment("beta"), 404, "RES_SEGMENT_NOT_FOUND")
    problem(api.get_segment("gamma"), 404, "RES_SEGMENT_NOT_FOUND")
    assert flag_actions(api) == []


def test_a_flag_can_target_a_segment_once_it_exists(api: Api) -> None:
    rule = {
        "id": "beta",
        "conditions": [{"attribute": "segment", "operator": "in", "value": ["beta"]}],
        "serve": {"value": True},
    }
    problem(api.create(flag_body(rules=[rule])), 422, "VAL_FLAG_REFERENCE_INVALID")

    ok(api.put_segment("beta", segment_body()))

    assert ok(api.create(flag_body(rules=[rule])), 201)["rules"][0]["id"] == "beta"


# --- the kill switch ----------------------------------------------------------------------------------------


def test_nothing_is_killed_at_first(api: Api) -> None:
    state = ok(api.kill_switch())

    assert (state["all"], state["flags"], state["tags"]) == (False, [], [])
    assert state["effective_within_seconds"] <= 5


def test_killing_a_flag_shows_in_the_kill_switch_until_it_is_revived(api: Api) -> None:
    # Given two flags
    ok(api.create(flag_body("one")), 201)
    ok(api.create(flag_body("two")), 201)

    # When an admin kills both, one at a time
    ok(api.kill(flag="one", reason="incident"))
    answered = ok(api.kill(flag="two"))

    # Then the answer and a later read show both killed, and who did it
    assert (answered["all"], answered["flags"], answered["tags"]) == (False, ["one", "two"], [])
    state = ok(api.kill_switch())
    assert (state["flags"], state["updated_by"]) == (["one", "two"], ACTOR)
    assert state["updated_at"] is not None

    # And reviving one leaves the other killed; the flags themselves are unchanged
    revived = ok(api.kill(flag="one", killed=False))
    assert revived["flags"] == ["two"]
    assert ok(api.kill_switch())["flags"] == ["two"]
    assert (ok(api.get("one"))["version"], ok(api.get("two"))["version"]) == (1, 1)
    assert [(a, t) for a, t, _ in flag_actions(api) if a.startswith("flag.kill_switch")] == [
        ("flag.kill_switch.killed", "flag:one"),
        ("flag.kill_switch.killed", "flag:two"),
        ("flag.kill_switch.revived", "flag:one"),
    ]


def test_a_kill_shows_in_the_flags_answer_and_its_history(api: Api) -> None:
    # Given two flags tagged checkout and one that is not
    ok(api.create(flag_body("one", tags=["checkout"])), 201)
    ok(api.create(flag_body("two", tags=["checkout"])), 201)
    ok(api.create(flag_body("other", tags=[])), 201)

    # When an admin kills the tag, then the flag "one" by its key
    ok(api.kill(tag="checkout", reason="payments down"))
    ok(api.kill(flag="one", reason="still broken"))

    # Then each flag's answer says what holds it off, and the newest change that concerned it
    one, two, other = (ok(api.get(key)) for key in ("one", "two", "other"))
    assert one["kill_switch"]["killed_by"] == ["flag:one", "tag:checkout"]
    assert one["kill_switch"]["last_change"]["reason"] == "still broken"
    assert (two["kill_switch"]["killed"], two["kill_switch"]["killed_by"]) == (True, ["tag:checkout"])
    assert two["kill_switch"]["last_change"]["target"] == "tag:checkout"
    assert two["kill_switch"]["last_change"]["changed_by"] == ACTOR
    assert other | NOT_KILLED == other
    # ...the list answers the same state for every flag
    listed = {f["key"]: f["kill_switch"]["killed_by"] for f in ok(api.list_flags())["items"]}
    assert listed == {"one": ["flag:one", "tag:checkout"], "other": [], "two": ["tag:checkout"]}
    # ...and the flags' histories hold the kills beside their versions, newest first
    assert [(c["target"], c["killed"]) for c in ok(api.history("one"))["kill_switch_changes"]] == [
        ("flag:one", True),
        ("tag:checkout", True),
    ]
    assert [c["reason"] for c in ok(api.history("two"))["kill_switch_changes"]] == ["payments down"]
    assert ok(api.history("other"))["kill_switch_changes"] == []

    # When the tag is revived
    ok(api.kill(tag="checkout", killed=False))

    # Then "two" runs again and its history shows the revival; "one" stays killed by its key
    two = ok(api.get("two"))
    assert (two["kill_switch"]["killed"], two["kill_switch"]["last_change"]["killed"]) == (False, False)
    assert ok(api.get("one"))["kill_switch"]["killed_by"] == ["flag:one"]
    assert [c["killed"] for c in ok(api.history("two"))["kill_switch_changes"]] == [False, True]


def test_killing_a_flag_the_tenant_does_not_have_is_not_found(api: Api) -> None:
    ok(api.create(flag_body("one")), 201)

    problem(api.kill(flag="onee"), 404, "RES_FLAG_NOT_FOUND")

    assert ok(api.kill_switch())["flags"] == []
    assert not [a for a, _, _ in flag_actions(api) if a.startswith("flag.kill_switch")]


def test_killing_by_tag_and_everything_and_reviving(api: Api) -> None:
    # A tag no flag carries yet may be killed (it also kills flags tagged later)
    by_tag = ok(api.kill(tag="payments"))
    assert (by_tag["all"], by_tag["flags"], by_tag["tags"]) == (False, [], ["payments"])

    everything = ok(api.kill(all=True, reason="stop everything"))
    assert (everything["all"], everything["tags"]) == (True, ["payments"])
    assert ok(api.kill_switch())["all"] is True

    back = ok(api.kill(all=True, killed=False))
    assert (back["all"], back["tags"]) == (False, ["payments"])
    cleared = ok(api.kill(tag="payments", killed=False))
    assert (cleared["all"], cleared["flags"], cleared["tags"]) == (False, [], [])
    assert [(a, t) for a, t, _ in flag_actions(api)] == [
        ("flag.kill_switch.killed", "tag:payments"),
        ("flag.kill_switch.killed", "all"),
        ("flag.kill_switch.revived", "all"),
        ("flag.kill_switch.revived", "tag:payments"),
    ]


@pytest.mark.parametrize(
    "change",
    [{}, {"flag": "one", "tag": "payments"}, {"all": False}, {"flag": "one", "all": True}, {"flag": "one", "x": 1}],
)
def test_a_kill_switch_change_names_exactly_one_target(api: Api, change: dict[str, Any]) -> None:
    ok(api.create(flag_body("one")), 201)

    problem(api.kill(**change), 422, "VAL_REQUEST_INVALID")

    state = ok(api.kill_switch())
    assert (state["all"], state["flags"], state["tags"]) == (False, [], [])


# --- settings -----------------------------------------------------------------------------------------------


def test_flag_settings_start_at_their_defaults_and_change_with_versions(api: Api) -> None:
    # Given a tenant that never changed its settings
    first = api.settings()
    assert ok(first) == {"client_attributes": [], "exposure_sample_rate": 0.1, "version": 0}
    assert first["headers"]["ETag"] == '"v0"'

    # When an admin allows country and samples every evaluation
    response = api.put_settings({"client_attributes": ["country"], "exposure_sample_rate": 1.0}, '"v0"')

    # Then the settings are version 1, as read back
    stored = ok(response)
    assert stored == {"client_attributes": ["country"], "exposure_sample_rate": 1.0, "version": 1}
    assert response["headers"]["ETag"] == '"v1"'
    assert ok(api.settings()) == stored

    # And a change from the stale version is refused with the current settings
    stale = problem(api.put_settings({"client_attributes": []}, '"v0"'), 409, "RES_VERSION_CONFLICT")
    assert stale["current"]["client_attributes"] == ["country"]
    assert ok(api.settings())["version"] == 1
    audited = [e for e in api.audit() if e.action == "flag.settings.updated"]
    assert [(e.actor, e.details["client_attributes"]) for e in audited] == [(ACTOR, "country")]


def test_attributes_that_come_from_the_token_cannot_be_allowed_to_clients(api: Api) -> None:
    problem(api.put_settings({"client_attributes": ["user_id"]}), 422, "VAL_REQUEST_INVALID")
    problem(api.put_settings({"exposure_sample_rate": 1.5}), 422, "VAL_REQUEST_INVALID")

    assert ok(api.settings())["version"] == 0


# --- roles and tenants --------------------------------------------------------------------------------------


def test_a_caller_without_the_admin_role_is_refused_before_anything_is_written(api: Api) -> None:
    user = api.user("u-1")

    problem(user.create(flag_body()), 403, "PERM_FORBIDDEN")
    problem(user.kill(all=True), 403, "PERM_FORBIDDEN")
    problem(user.put_settings({"client_attributes": ["country"]}), 403, "PERM_FORBIDDEN")

    problem(api.get("new-checkout"), 404, "RES_FLAG_NOT_FOUND")
    assert ok(api.kill_switch())["all"] is False
    assert ok(api.settings())["version"] == 0


def test_another_tenants_admin_sees_and_changes_nothing_of_this_tenants_flags(api: Api) -> None:
    # Given a flag, a segment and settings of tenant t-acme
    ok(api.create(flag_body()), 201)
    ok(api.put_segment("beta", segment_body()))
    ok(api.put_settings({"client_attributes": ["country"]}))
    other = api.as_(tenant=OTHER_TENANT)

    # When an admin of another tenant reads, changes, archives, rolls back and kills it
    problem(other.get("new-checkout"), 404, "RES_FLAG_NOT_FOUND")
    problem(other.update("new-checkout", flag_body(enabled=False), '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(other.archive("new-checkout", '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(other.history("new-checkout"), 404, "RES_FLAG_NOT_FOUND")
    problem(other.rollback("new-checkout", 1, '"v1"'), 404, "RES_FLAG_NOT_FOUND")
    problem(other.exposures("new-checkout"), 404, "RES_FLAG_NOT_FOUND")
    problem(other.kill(flag="new-checkout"), 404, "RES_FLAG_NOT_FOUND")
    problem(other.get_segment("beta"), 404, "RES_SEGMENT_NOT_FOUND")
    on_acmes_segment = [
        {
            "id": "b",
            "conditions": [{"attribute": "segment", "operator": "in", "value": ["beta"]}],
            "serve": {"value": True},
        }
    ]
    problem(other.create(flag_body("spy", rules=on_acmes_segment)), 422, "VAL_FLAG_REFERENCE_INVALID")

    # Then they list nothing of it, see their own defaults, and t-acme's flag is as it was
    assert ok(other.list_flags())["items"] == []
    assert ok(other.call("admin_segment_list"))["items"] == []
    assert ok(other.settings())["version"] == 0
    assert ok(other.kill_switch())["flags"] == []
    assert ok(api.kill_switch())["flags"] == []
    stored = ok(api.get("new-checkout"))
    assert (stored["version"], stored["enabled"], stored["archived"]) == (1, True, False)
    assert [e["version"] for e in ok(api.history("new-checkout"))["items"]] == [1]

    # And the other tenant's own kill of everything stays in that tenant
    ok(other.kill(all=True))
    assert ok(api.kill_switch())["all"] is False
    assert all(e.actor == ACTOR for e in api.audit())


def test_the_same_key_in_two_tenants_is_two_flags(api: Api) -> None:
    other = api.as_(tenant=OTHER_TENANT)

    ok(api.create(flag_body(description="Acme's")), 201)
    ok(other.create(flag_body(description="Other's")), 201)
    ok(other.update("new-checkout", flag_body(description="Other's, changed"), '"v1"'))

    assert (ok(api.get("new-checkout"))["description"], ok(api.get("new-checkout"))["version"]) == ("Acme's", 1)
    assert ok(other.get("new-checkout"))["version"] == 2
