"""The catalogue and the functions/ folders agree, every route is well formed, and the builder refuses a catalogue
that contradicts itself."""

from __future__ import annotations

import dataclasses
import re

import pytest

from firstmile.platform.resources import SCHEDULER_DLQ, dead_letter_queue_name
from functions.catalog import (
    API_STACK,
    CATALOG,
    FUNCTIONS_DIR,
    Authorizer,
    CatalogError,
    LogSubscription,
    Queue,
    Route,
    Schedule,
    TableStream,
    assemble,
    by_name,
    http_functions,
    problems,
    queues,
)
from tests.factories import load_handler


def folder_problems(catalog=CATALOG, folders=None) -> list[str]:  # type: ignore[no-untyped-def]
    """Every disagreement between a catalogue and the function folders, as sentences."""
    if folders is None:
        folders = {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")}
    names = {f.name for f in catalog}
    found = [f"functions/{n}/handler.py has no catalogue entry" for n in sorted(folders - names)]
    return found + [f"{n} has no functions/{n}/handler.py" for n in sorted(names - folders)]


def test_catalogue_and_function_folders_agree() -> None:
    assert folder_problems() == []
    assert problems(CATALOG) == []


def test_the_check_notices_a_folder_without_entry_and_an_entry_without_folder() -> None:
    # Given folders that differ from the catalogue by one on each side
    folders = {f.name for f in CATALOG} - {"health_live"} | {"orphan_function"}

    # When the catalogue is checked against them
    found = folder_problems(folders=folders)

    # Then both sides are reported
    assert "functions/orphan_function/handler.py has no catalogue entry" in found
    assert "health_live has no functions/health_live/handler.py" in found


def test_the_builder_refuses_a_shared_name_route_or_queue_and_a_missing_role() -> None:
    # Given a domain where two functions share a name, two serve one route, two consume one queue, and a route
    # names no valid role
    live, ready = by_name("health_live"), by_name("health_ready")
    worker = by_name("flag_exposure_worker")
    clashing = (
        live,
        dataclasses.replace(live, description="A second health_live."),
        dataclasses.replace(ready, name="ready_again", trigger=ready.trigger),
        dataclasses.replace(ready, trigger=live.trigger),
        worker,
        dataclasses.replace(worker, name="second_worker"),
        dataclasses.replace(ready, name="x", trigger=Route("GET", "/v1/x", "nobody")),  # type: ignore[arg-type]
    )

    # When the catalogue is assembled from it
    with pytest.raises(CatalogError) as refused:
        assemble(clashing)

    # Then every problem is named
    message = str(refused.value)
    assert "health_live is catalogued 2 times" in message
    assert "route GET /health/live is served by 3 functions" in message
    assert isinstance(worker.trigger, Queue)
    assert f"queue {worker.trigger.name} is consumed by 2 functions" in message
    assert "x: role 'nobody'" in message


def test_the_builder_keeps_the_api_stack_for_the_authorizer_alone() -> None:
    # Given an authorizer outside the API stack, a route inside it, and a function in the data stack's place
    authorizer, live = by_name("authorizer"), by_name("health_live")
    misplaced = (
        dataclasses.replace(authorizer, stack="identity"),
        dataclasses.replace(live, stack=API_STACK),
        dataclasses.replace(by_name("jwks"), stack="data"),
    )

    # When they are checked
    found = problems(misplaced)

    # Then each is refused
    assert isinstance(authorizer.trigger, Authorizer)
    assert [p.split(":")[0] for p in found] == ["authorizer", "health_live", "jwks"]


def test_each_domain_is_a_real_domain_and_names_its_stacks() -> None:
    # Then no stack partition poses as a domain: domains are the product's, stacks are where CDK puts them
    assert {f.domain for f in CATALOG} == {
        "health",
        "identity",
        "audit",
        "onboarding",
        "flags",
        "analytics",
        "privacy",
        "failures",
        "webhooks",
        "sla",
        "backups",
    }
    assert {f.stack for f in CATALOG if f.domain == "flags"} == {"flags", "flags_admin", "flags_control"}
    assert by_name("authorizer").stack == API_STACK


@pytest.mark.parametrize(("function", "route"), http_functions(), ids=lambda v: getattr(v, "name", ""))
def test_each_http_handler_serves_exactly_its_catalogued_route(function, route) -> None:  # type: ignore[no-untyped-def]
    # Given the handler module as Lambda would import it
    module = load_handler(function.name)

    # When its resolver's routes are listed
    # Powertools writes path parameters as <name>, API Gateway and the catalogue as {name}.
    served = {
        (r.method.upper(), re.sub(r"<(\w+)>", r"{\1}", r.path))
        for r in module.app._static_routes + module.app._dynamic_routes
    }

    # Then it serves the catalogued route and nothing else
    assert served == {(route.method, route.path)}


ROLE_OR_RATE_CLASS_LITERAL = re.compile(r'Literal\[[^\]]*"(public|admin|operator|user_write|progress_write)"')
DECLARING = {"layers/core/firstmile/roles.py"}


def literal_declarations(source: str) -> list[str]:
    """The ``Literal`` types in ``source`` that spell out roles or rate classes."""
    return [match.group(0) for match in ROLE_OR_RATE_CLASS_LITERAL.finditer(source)]


def test_roles_and_rate_classes_are_declared_only_in_their_home() -> None:
    # Given every module of the core, the catalogue, the CDK app and the local stack
    root = FUNCTIONS_DIR.parent
    modules = [p for d in ("layers/core/firstmile", "functions", "infra", "local") for p in (root / d).rglob("*.py")]

    # Then only firstmile/roles.py spells out roles, and no module spells out rate classes (firstmile.limits.models'
    # RouteClass is their one definition)
    found = {
        str(p.relative_to(root)): literal_declarations(p.read_text())
        for p in modules
        if str(p.relative_to(root)) not in DECLARING
    }
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_the_declaration_check_notices_a_second_declaration() -> None:
    # Given the catalogue and settings as they were before roles and rate classes had one home
    before = (
        'Role = Literal["public", "user", "admin", "operator"]\n'
        'RateClass = Literal["user_write", "progress_write", "privacy_request", "verification_check"]\n'
    )

    # Then the check finds both
    assert len(literal_declarations(before)) == 2


def test_a_stream_filter_admits_only_inserts_of_its_kinds() -> None:
    # Given the analytics consumer's stream trigger, which asks for inserted onboarding events only
    trigger = by_name("funnel_aggregator").trigger
    assert isinstance(trigger, TableStream)

    def record(name: str, kind: str | None) -> dict[str, object]:
        image = {"pk": {"S": "p"}} | ({"kind": {"S": kind}} if kind else {})
        return {"eventName": name, "dynamodb": {"NewImage": image} if name != "REMOVE" else {"OldImage": image}}

    # Then an inserted event passes; its removal (TTL, erasure), another kind, or an item without one does not
    assert trigger.admits(record("INSERT", "onboarding_event"))
    assert not trigger.admits(record("REMOVE", "onboarding_event"))
    assert not trigger.admits(record("MODIFY", "onboarding_event"))
    assert not trigger.admits(record("INSERT", "onboarding_progress"))
    assert not trigger.admits(record("INSERT", None))
    # And a stream trigger without a filter admits every change
    assert TableStream().admits(record("REMOVE", None))


def test_the_dead_letter_collector_drains_every_dead_letter_queue_and_a_retry_may_invoke_every_retried_function() -> (
    None
):
    # Given the catalogue's work queues, and its functions a dead-letter task's retry invokes (runs and batches)
    dead_letter_queues = {dead_letter_queue_name(q.name) for q in queues()} | {SCHEDULER_DLQ}
    invoked = {f.name for f in CATALOG if isinstance(f.trigger, Schedule | TableStream | LogSubscription)}

    # Then the collector drains every dead-letter queue, and the retry routes may send to every work queue and
    # invoke every such function (functions/catalog/failures.py names the domains by hand)
    assert set(by_name("dlq_collector").access.receives_from) == dead_letter_queues
    for route in ("admin_dlq_task_retry", "admin_dlq_redrive"):
        access = by_name(route).access
        assert set(access.sends_to) == {q.name for q in queues()}
        assert set(access.invokes) == invoked
