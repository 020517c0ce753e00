"""Admin and operator changes and their audit entries are one transaction: both are stored, or neither.

Through the real handlers and services against the emulator, with faults played in front of the table's client
(``transaction_faults``): a transaction refused outright, one whose answer is lost, one resent as a new transaction
after its answer was lost, and admins changing one tenant at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from firstmile.audit.models import AuditFilter
from firstmile.composition import container, reset
from firstmile.errors import DependencyUnavailableError
from firstmile.flags.admin import FlagAdmin
from firstmile.flags.controls import FlagControls
from firstmile.flags.models import Flag
from firstmile.flags.shapes import KillSwitchChange
from firstmile.flags.store import FlagStore
from firstmile.identity.models import ApiClientCreate, TenantCreate
from firstmile.identity.tenancy import TenancyService
from firstmile.onboarding.models import UsersOnVersion
from firstmile.platform import aws
from tests.factories import run_together
from tests.integration.conftest import Deployment
from tests.integration.test_flags_admin_routes import TENANT, Api, api, flag_body, ok, problem, segment_body
from tests.integration.transaction_faults import lost_answers, refused_transactions

__all__ = ["api"]  # the fixture, shared with the admin routes' tests

AUDIT_LOG = "#AUDIT"
"""What the partition of every audit item contains: a fault on it hits exactly the appends."""


def runtime_table(deployment: Deployment) -> Any:
    """The DynamoDB client the functions of this deployment send through (the faults hook it)."""
    return aws.dynamodb()


def actions(tenant: str = TENANT, action: str | None = None) -> list[str]:
    """The actions of the tenant's audit entries, newest first."""
    filters = AuditFilter(action=action) if action else AuditFilter()
    return [entry.action for entry in container().audit_store.list_entries(tenant, filters, limit=100).items]


def verified(api: Api) -> dict[str, Any]:
    """``GET /v1/admin/audit/verify`` of the admin's tenant."""
    report: dict[str, Any] = ok(api.call("admin_audit_verify"))
    return report


# --- the kill switch ----------------------------------------------------------------------------------------


def test_a_kill_by_tag_and_the_audit_log_agree(api: Api) -> None:
    # Given a flag tagged "payments"
    ok(api.create(flag_body("pay", tags=["payments"])), 201)

    # When an admin kills the tag
    ok(api.kill(tag="payments", reason="incident 7"))

    # Then the kill is in force, its entry is in the audit list, and the chain verifies with it
    assert ok(api.kill_switch())["tags"] == ["payments"]
    log = ok(api.call("admin_audit_list", query={"action": "flag.kill_switch.killed"}))
    assert [(e["target"], e["details"]["reason"]) for e in log["items"]] == [("tag:payments", "incident 7")]
    report = verified(api)
    assert (report["ok"], report["checked"]) == (True, 2)


def test_a_kill_whose_audit_append_fails_is_not_applied(api: Api, deployment: Deployment) -> None:
    # Given a flag tagged "payments", and a table that refuses every write to the audit log
    ok(api.create(flag_body("pay", tags=["payments"])), 201)

    # When an admin kills the tag
    with refused_transactions(runtime_table(deployment), writing=AUDIT_LOG) as refused:
        response = api.kill(tag="payments")

    # Then the answer is 503, and neither the kill nor an entry of it was stored
    problem(response, 503, "SYS_UNAVAILABLE")
    assert refused.count >= 1
    assert ok(api.kill_switch())["tags"] == []
    assert actions(action="flag.kill_switch.killed") == []
    assert verified(api)["ok"] is True


def test_a_kill_whose_answer_was_lost_is_answered_as_applied(api: Api, deployment: Deployment) -> None:
    # Given a flag tagged "payments"
    ok(api.create(flag_body("pay", tags=["payments"])), 201)

    # When an admin kills the tag, and the answer of the transaction that applied it never arrives
    with lost_answers(runtime_table(deployment), deployment.endpoint, resent=False) as sent:
        response = api.kill(tag="payments")

    # Then the kill is reported as done, is in force, and has exactly one entry
    assert ok(response)["tags"] == ["payments"]
    assert sent.count == 1
    assert ok(api.kill_switch())["tags"] == ["payments"]
    assert actions(action="flag.kill_switch.killed") == ["flag.kill_switch.killed"]
    assert verified(api)["checked"] == 2


def test_a_kill_resent_after_its_answer_was_lost_appends_one_entry(api: Api, deployment: Deployment) -> None:
    # Given a flag tagged "payments"
    ok(api.create(flag_body("pay", tags=["payments"])), 201)

    # When an admin kills the tag, the transaction applies, its answer is lost, and the resend is judged anew
    # (refused by the conditions the first delivery made false)
    with lost_answers(runtime_table(deployment), deployment.endpoint, resent=True):
        response = api.kill(tag="payments")

    # Then the kill is reported as done once, with one entry, and the chain verifies
    assert ok(response)["tags"] == ["payments"]
    assert actions(action="flag.kill_switch.killed") == ["flag.kill_switch.killed"]
    report = verified(api)
    assert (report["ok"], report["checked"], report["head_sequence"]) == (True, 2, 2)


# --- flag and segment changes -------------------------------------------------------------------------------


def test_a_segment_whose_audit_append_fails_is_not_saved(api: Api, deployment: Deployment) -> None:
    # Given a tenant without segments
    # When an admin saves one while the audit log refuses writes
    with refused_transactions(runtime_table(deployment), writing=AUDIT_LOG):
        response = api.put_segment("beta", segment_body("beta"))

    # Then the answer is 503, the segment does not exist, and nothing was recorded
    problem(response, 503, "SYS_UNAVAILABLE")
    problem(api.get_segment("beta"), 404, "RES_SEGMENT_NOT_FOUND")
    assert actions() == []


def test_a_flag_change_resent_after_its_answer_was_lost_is_one_version(api: Api, deployment: Deployment) -> None:
    # Given a flag at version 1
    ok(api.create(flag_body()), 201)

    # When an admin switches it off, and the resend of the applied transaction is refused by its own conditions
    with lost_answers(runtime_table(deployment), deployment.endpoint, resent=True):
        response = api.update("new-checkout", flag_body(enabled=False), '"v1"')

    # Then the change is answered as made (not as a conflict with itself), once: one version, one entry
    assert ok(response)["version"] == 2
    assert [entry["version"] for entry in ok(api.history("new-checkout"))["items"]] == [2, 1]
    assert actions() == ["flag.updated", "flag.created"]


def test_concurrent_admin_changes_on_one_tenant_keep_one_unforked_chain(deployment: Deployment) -> None:
    # Given four admins of one tenant, each in a container of their own
    admins = 4
    numbers, numbering = iter(range(admins)), threading.Lock()
    failures: list[BaseException] = []

    def change(ready: Callable[[], None]) -> None:
        with numbering:
            n = next(numbers)
        store = FlagStore(deployment.table)
        admin, controls = FlagAdmin(store), FlagControls(store)
        ready()
        try:
            # When each creates a flag and kills a tag at the same moment as the others
            flag = Flag.model_validate(flag_body(f"flag-{n}"))
            admin.create_flag(TENANT, flag, f"admin:u-{n}")
            controls.change_kill_switch(TENANT, KillSwitchChange(tag=f"tag-{n}"), f"admin:u-{n}")
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    run_together(change, admins)

    # Then every change holds exactly once, each with one entry, in one chain that verifies
    assert failures == []
    store = FlagStore(deployment.table)
    epoch = store.epoch(TENANT)
    assert epoch is not None and epoch.version == admins  # one flag-set version per flag created, none twice
    assert sorted(store.kill_switch_state(TENANT).tags) == [f"tag-{n}" for n in range(admins)]
    report = container().audit_store.verify(TENANT)
    assert (report.ok, report.checked, report.head_sequence) == (True, 2 * admins, 2 * admins)
    assert sorted(actions()) == sorted(["flag.created", "flag.kill_switch.killed"] * admins)


# --- onboarding and identity --------------------------------------------------------------------------------


def test_a_flow_edit_whose_audit_append_fails_is_not_stored(api: Api, deployment: Deployment) -> None:
    # Given a flow draft at edit version 1
    steps = [{"id": "profile", "title": "Your profile", "order": 0}]
    ok(api.call("admin_flow_create", body={"flow_id": "welcome", "name": "Welcome", "steps": steps}), 201)

    # When an admin edits it while the audit log refuses writes
    with refused_transactions(runtime_table(deployment), writing=AUDIT_LOG):
        response = api.call(
            "admin_flow_update",
            params={"flow_id": "welcome"},
            body={"name": "Edited", "steps": steps},
            headers={"If-Match": '"v1"'},
        )

    # Then the answer is 503, the draft is as it was, and only its creation is recorded
    problem(response, 503, "SYS_UNAVAILABLE")
    draft = container().onboarding_store.get_draft(TENANT, "welcome")
    assert draft is not None and (draft.version, draft.definition.name) == (1, "Welcome")
    assert actions() == ["onboarding.flow.created"]


def test_sample_users_whose_audit_append_fails_are_not_created(api: Api, deployment: Deployment) -> None:
    # Given a published default flow
    steps = [{"id": "profile", "title": "Your profile", "order": 0}]
    ok(api.call("admin_flow_create", body={"flow_id": "welcome", "name": "Welcome", "steps": steps}), 201)
    ok(api.call("admin_flow_publish", params={"flow_id": "welcome"}), 201)
    ok(api.call("admin_default_flow_set", body={"flow_id": "welcome"}))

    # When an admin generates sample users while the audit log refuses writes
    with refused_transactions(runtime_table(deployment), writing=AUDIT_LOG):
        response = api.call("admin_sample_users_create", body={"count": 3})

    # Then the answer is 503 and no sample user exists (the entry goes with the first one)
    problem(response, 503, "SYS_UNAVAILABLE")
    welcome = UsersOnVersion(TENANT, "welcome", 1)
    enrolled, _ = container().onboarding_store.list_progress_on_version(welcome, limit=10, start_key=None)
    assert enrolled == []
    assert "onboarding.sample_users.created" not in actions()


@pytest.fixture
def tenancy(deployment: Deployment) -> Iterator[TenancyService]:
    """The operators' service of this deployment, as the operator routes use it."""
    reset()
    yield container().tenancy_service
    reset()


def test_operator_changes_whose_audit_append_fails_are_not_applied(
    deployment: Deployment, tenancy: TenancyService
) -> None:
    # Given a tenant with an API client
    tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor="operator:ops")
    client_id = tenancy.create_client("t-acme", ApiClientCreate(name="backend"), actor="operator:ops").client.client_id

    # When an operator creates a tenant and disables the client while the audit log refuses writes
    with refused_transactions(runtime_table(deployment), writing=AUDIT_LOG):
        with pytest.raises(DependencyUnavailableError):
            tenancy.create_tenant(TenantCreate(name="Beta", tenant_id="t-beta"), actor="operator:ops")
        with pytest.raises(DependencyUnavailableError):
            tenancy.disable_client("t-acme", client_id, actor="operator:ops")

    # Then there is no such tenant, the client still works, and the chains hold only what happened
    assert container().identity_store.get_tenant("t-beta") is None
    client = container().identity_store.get_client(client_id)
    assert client is not None and client.disabled is False
    assert actions("t-beta") == []
    assert actions("t-acme") == ["client.created", "tenant.created"]
