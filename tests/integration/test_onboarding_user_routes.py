"""A user's own onboarding through the eight user routes' real handlers and the emulator.

Flows are set up through the onboarding service as an admin would (create, publish, make default); everything a
user does goes through the handlers, configured from the catalogue (role ``user``, POSTs in ``progress_write``),
with the caller in the authorizer's context. Covered: enrolment on the first call, a walk through a flow with its
refusals and milestones, ``If-Match``, ``Idempotency-Key`` replays, the tenant boundary, and 100 concurrent step
completions on one user's progress.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from botocore.config import Config

from firstmile.composition import container, reset
from firstmile.config import get_settings, reset_settings
from firstmile.onboarding.models import (
    CompletionCriteria,
    DefaultFlowUpdate,
    FlowCreate,
    FlowDefinition,
    Milestone,
    StepDefinition,
    StepKind,
)
from firstmile.platform import aws, resilience
from functions.catalog import by_name
from tests.factories import FakeLambdaContext, body_of, http_event, load_handler
from tests.integration.conftest import Deployment
from tests.integration.routes import RouteClient, configure_route, problem
from tests.integration.routes import ok as answer_of

ADMIN = "admin:u-admin"
USER_ROUTES = (
    "onboarding_status",
    "onboarding_step",
    "onboarding_complete",
    "onboarding_skip",
    "onboarding_mark_sample_workflow",
    "onboarding_mark_sample_agent",
    "onboarding_mark_first_run",
    "onboarding_sample_workflow",
)
# Generous enough that no test here meets the progress_write limit (120 a minute by default).
RATE_LIMIT_OVERRIDES = json.dumps({"progress_write": 10_000})

WELCOME = FlowDefinition(
    name="Welcome to Acme",
    steps=[
        StepDefinition(id="welcome", title="Say hello", order=0),
        StepDefinition(
            id="product-tour",
            title="Take the tour",
            kind=StepKind.TUTORIAL,
            required=False,
            order=1,
            hint="Press ? to reopen the tour",
        ),
        StepDefinition(id="connect-data", title="Connect your data", order=2),
        StepDefinition(
            id="build-workflow",
            title="Build the sample workflow",
            order=3,
            completion_criteria=CompletionCriteria(milestone=Milestone.SAMPLE_WORKFLOW),
        ),
        StepDefinition(
            id="first-run",
            title="Run it",
            kind=StepKind.MILESTONE,
            order=4,
            completion_criteria=CompletionCriteria(milestone=Milestone.FIRST_RUN),
        ),
    ],
    sample_workflow={"name": "Invoice triage", "nodes": [{"id": "start", "type": "trigger"}]},
    sample_agent={"name": "Triage helper", "tools": ["search"]},
)


# --- set-up: flows as an admin makes them, requests as API Gateway delivers them -------------------------------


def publish_default_flow(tenant: str, definition: FlowDefinition = WELCOME, flow_id: str = "welcome") -> None:
    """Create ``flow_id`` in ``tenant``, publish its first version and make it the default flow."""
    service = container().flows
    service.create_flow(tenant, FlowCreate(flow_id=flow_id, **definition.model_dump()), actor=ADMIN)
    service.publish(tenant, flow_id, None, actor=ADMIN)
    service.set_default(tenant, DefaultFlowUpdate(flow_id=flow_id), actor=ADMIN)


def publish_next_version(tenant: str, definition: FlowDefinition, flow_id: str = "welcome") -> None:
    service = container().flows
    service.update_flow(tenant, flow_id, definition, None, actor=ADMIN)
    service.publish(tenant, flow_id, None, actor=ADMIN)


@dataclass
class User(RouteClient):
    """One end user (``subject``) calling the user routes, each served by its own handler."""

    def status(self) -> dict[str, Any]:
        return self.call("onboarding_status")

    def step(self, step_id: str, action: str, **headers: str) -> dict[str, Any]:
        return self.call("onboarding_step", body={"step_id": step_id, "action": action}, headers=_headers(headers))

    def post(self, name: str, body: Any = None, **headers: str) -> dict[str, Any]:
        return self.call(name, body=body, headers=_headers(headers))

    def events(self) -> list[str]:
        return [event.type.value for event in container().onboarding_store.list_events(self.tenant, self.subject)]

    def someone(self, tenant: str, user: str) -> User:
        """Another user, calling through the same handlers."""
        return self.as_(tenant=tenant, subject=user)


def _headers(given: dict[str, str]) -> dict[str, str]:
    names = {"if_match": "If-Match", "idempotency_key": "Idempotency-Key"}
    return {names[k]: v for k, v in given.items()}


@pytest.fixture
def user(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[User]:
    """User u-1 of tenant t-acme with the user routes' handlers; the deployment's rate limits raised."""
    monkeypatch.setenv("FIRSTMILE_RATE_LIMIT_OVERRIDES", RATE_LIMIT_OVERRIDES)
    reset_settings()
    reset()
    yield User(monkeypatch, handlers={name: load_handler(name) for name in USER_ROUTES})
    reset()


def ok(response: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """The body of a successful answer, after checking that its ETag is its progress version."""
    body: dict[str, Any] = answer_of(response, status)
    if "progress_version" in body:
        assert response["headers"]["ETag"] == f'"v{body["progress_version"]}"'
    return body


def states(status: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["state"] for step in status["steps"]}


# --- enrolment ----------------------------------------------------------------------------------------------------


def test_the_first_status_call_enrols_the_user_on_the_default_flow(user: User) -> None:
    # Given a tenant whose default flow is published
    publish_default_flow(user.tenant)

    # When a user asks for their onboarding for the first time
    response = user.status()

    # Then they are enrolled on version 1 of the flow, nothing done yet, at progress version 1
    status = ok(response)
    assert response["headers"]["ETag"] == '"v1"'
    assert (status["flow_id"], status["flow_name"], status["flow_version"]) == ("welcome", "Welcome to Acme", 1)
    assert (status["state"], status["completed"], status["skipped"]) == ("in_progress", False, False)
    assert set(states(status).values()) == {"not_started"}
    assert [s["id"] for s in status["steps"]] == [
        "welcome",
        "product-tour",
        "connect-data",
        "build-workflow",
        "first-run",
    ]
    assert (status["current_step"], status["percent_complete"], status["progress_version"]) == ("welcome", 0, 1)
    assert status["milestones"] == {m.value: {"reached": False, "at": None} for m in Milestone}
    assert status["tutorial_hints"] == [{"step_id": "product-tour", "hint": "Press ? to reopen the tour"}]
    assert status["needs_reconsent"] is False
    assert user.events() == ["enrolled"]

    # When they ask again
    again = ok(user.status())

    # Then nothing more is written: the same progress version, one enrolment
    assert again == status
    assert user.events() == ["enrolled"]


def test_without_a_default_flow_the_user_routes_answer_409(user: User) -> None:
    # Given a tenant that has no default flow (a draft exists but nothing is the default)
    container().flows.create_flow(user.tenant, FlowCreate(flow_id="welcome", **WELCOME.model_dump()), ADMIN)

    # When its user calls the routes that would enrol them
    answers = {
        "status": user.status(),
        "step": user.step("welcome", "start"),
        "sample-workflow": user.call("onboarding_sample_workflow"),
    }

    # Then each says the tenant has no default flow, and nothing was written for the user
    for response in answers.values():
        problem(response, 409, "BIZ_NO_DEFAULT_FLOW")
    assert user.events() == []


# --- a walk through a flow ------------------------------------------------------------------------------------


def test_a_user_walks_a_flow_with_its_refusals_and_milestones_to_the_end(user: User) -> None:
    # Given a user enrolled on the tenant's default flow
    publish_default_flow(user.tenant)
    ok(user.status())

    # When they start and complete the first step and skip the optional tour
    started = ok(user.step("welcome", "start"))
    completed = ok(user.step("welcome", "complete"))
    skipped = ok(user.step("product-tour", "skip"))

    # Then each change is answered with the new status and the next progress version
    assert (started["progress_version"], states(started)["welcome"]) == (2, "started")
    assert started["steps"][0]["started_at"] is not None and started["steps"][0]["completed_at"] is None
    assert (completed["progress_version"], states(completed)["welcome"]) == (3, "completed")
    assert completed["steps"][0]["completed_at"] is not None
    assert (skipped["progress_version"], states(skipped)["product-tour"]) == (4, "skipped")
    assert (skipped["current_step"], skipped["percent_complete"], skipped["tutorial_hints"]) == ("connect-data", 40, [])

    # When they try to skip a required step, act on a step the flow does not have, or finish too early
    not_skippable = user.step("connect-data", "skip")
    unknown = user.step("no-such-step", "complete")
    too_early = user.post("onboarding_complete")

    # Then each is refused with its own code, and none changed the progress
    problem(not_skippable, 409, "BIZ_REQUIRED_STEP_NOT_SKIPPABLE")
    problem(unknown, 404, "RES_STEP_NOT_FOUND")
    incomplete = problem(too_early, 409, "BIZ_ONBOARDING_INCOMPLETE")
    assert incomplete["open_steps"] == ["connect-data", "build-workflow", "first-run"]
    assert ok(user.status()) == skipped

    # When they connect data and reach the three milestones
    ok(user.step("connect-data", "complete"))
    workflow = ok(user.post("onboarding_mark_sample_workflow"))
    agent = ok(user.post("onboarding_mark_sample_agent"))
    first_run = ok(user.post("onboarding_mark_first_run"))

    # Then each milestone is recorded, and the steps completed by a milestone complete with it
    assert workflow["milestones"]["sample_workflow"]["reached"] is True
    assert states(workflow)["build-workflow"] == "completed"
    assert agent["milestones"]["sample_agent"]["reached"] is True
    assert states(agent)["first-run"] == "not_started"
    assert first_run["milestones"]["first_run"]["reached"] is True
    assert states(first_run)["first-run"] == "completed"
    assert [first_run[k] for k in ("progress_version", "current_step", "percent_complete")] == [8, None, 100]
    assert first_run["state"] == "in_progress"

    # When they complete the onboarding
    done = ok(user.post("onboarding_complete"))

    # Then it is completed, and the status says so from now on
    assert (done["state"], done["completed"], done["skipped"], done["progress_version"]) == (
        "completed",
        True,
        False,
        9,
    )
    assert done["completed_at"] is not None
    assert ok(user.status()) == done
    # ...and every change was recorded once, in order, refusals not at all
    assert user.events() == [
        "enrolled",
        "step_started",
        "step_completed",
        "step_skipped",
        "step_completed",
        "milestone_reached",
        "step_completed",
        "milestone_reached",
        "milestone_reached",
        "step_completed",
        "onboarding_completed",
    ]


def test_a_user_can_skip_the_whole_onboarding(user: User) -> None:
    # Given a user part-way through their onboarding
    publish_default_flow(user.tenant)
    ok(user.step("welcome", "complete"))

    # When they skip the whole onboarding, with an empty JSON body
    skipped = ok(user.post("onboarding_skip", {}))

    # Then it is skipped with their step states kept, and no step can change any more
    assert (skipped["state"], skipped["skipped"], skipped["completed"]) == ("skipped", True, False)
    assert skipped["skipped_at"] is not None and skipped["current_step"] is None
    assert states(skipped)["welcome"] == "completed"
    problem(user.step("connect-data", "complete"), 409, "BIZ_ONBOARDING_FINISHED")
    assert user.events() == ["enrolled", "step_completed", "onboarding_skipped"]


def test_the_sample_configuration_is_the_one_of_the_users_flow_version(user: User) -> None:
    # Given a user enrolled on version 1 of the default flow, and then a version 2 with another sample
    publish_default_flow(user.tenant)
    ok(user.status())
    publish_next_version(
        user.tenant, WELCOME.model_copy(update={"sample_workflow": {"name": "Lead scoring"}, "sample_agent": {}})
    )

    # When the user, and a user who starts only now, ask for their sample configuration
    theirs = ok(user.call("onboarding_sample_workflow"))
    newcomers = ok(user.someone(user.tenant, "u-2").call("onboarding_sample_workflow"))

    # Then each gets the sample of the version they are on
    assert theirs == {
        "flow_id": "welcome",
        "flow_version": 1,
        "sample_workflow": WELCOME.sample_workflow,
        "sample_agent": WELCOME.sample_agent,
    }
    assert newcomers == {
        "flow_id": "welcome",
        "flow_version": 2,
        "sample_workflow": {"name": "Lead scoring"},
        "sample_agent": {},
    }


# --- If-Match -------------------------------------------------------------------------------------------------


def test_a_write_with_a_stale_if_match_gets_409_with_the_current_status(user: User) -> None:
    # Given a user's progress at version 2 (another client of theirs started a step)
    publish_default_flow(user.tenant)
    ok(user.step("welcome", "start", if_match='"v1"'))
    current = ok(user.status())
    assert current["progress_version"] == 2

    # When a client that read version 1 completes a step, or skips the onboarding
    stale_step = user.step("welcome", "complete", if_match='"v1"')
    stale_skip = user.post("onboarding_skip", if_match='"v1"')

    # Then both are refused with 409, carrying the current status and its ETag, and nothing changed
    for response in (stale_step, stale_skip):
        conflict = problem(response, 409, "RES_VERSION_CONFLICT")
        assert conflict["current"] == current
        assert response["headers"]["ETag"] == '"v2"'
    assert ok(user.status()) == current

    # When the client retries with the version it was given
    retried = ok(user.step("welcome", "complete", if_match='"v2"'))

    # Then the change is made
    assert (retried["progress_version"], states(retried)["welcome"]) == (3, "completed")
    assert user.events() == ["enrolled", "step_started", "step_completed"]


def test_a_malformed_if_match_is_refused(user: User) -> None:
    publish_default_flow(user.tenant)

    response = user.step("welcome", "start", if_match="v1")

    problem(response, 400, "VAL_IF_MATCH_INVALID")
    assert user.events() == []


# --- Idempotency-Key -------------------------------------------------------------------------------------------


def test_an_idempotency_key_replay_returns_the_first_answer_and_writes_nothing(user: User) -> None:
    # Given a user who started a step with an Idempotency-Key, and then completed it
    publish_default_flow(user.tenant)
    first = user.step("welcome", "start", idempotency_key="start-welcome-1")
    ok(user.step("welcome", "complete"))
    before = ok(user.status())
    events_before = user.events()

    # When the start request is sent again with the same key
    replay = user.step("welcome", "start", idempotency_key="start-welcome-1")

    # Then the first answer comes back as it was, marked as a replay (run again, it would be refused)
    assert (replay["statusCode"], body_of(replay)) == (200, body_of(first))
    assert replay["headers"]["ETag"] == first["headers"]["ETag"] == '"v2"'
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first["headers"]
    # ...and nothing was written: the progress version and the events are as before
    assert ok(user.status()) == before
    assert before["progress_version"] == 3
    assert user.events() == events_before


def test_a_replay_of_a_route_without_a_body_returns_the_first_answer(user: User) -> None:
    # Given a user who reached a milestone with an Idempotency-Key, and changed their progress after
    publish_default_flow(user.tenant)
    first = ok(user.post("onboarding_mark_sample_agent", idempotency_key="agent-made"))
    ok(user.step("welcome", "start"))

    # When the milestone request is sent again with the same key
    replay = user.post("onboarding_mark_sample_agent", idempotency_key="agent-made")

    # Then the first answer comes back (version 2, not the current 3) and nothing new was recorded
    assert ok(replay) == first
    assert replay["headers"]["Idempotent-Replayed"] == "true"
    assert first["progress_version"] == 2
    assert user.events() == ["enrolled", "milestone_reached", "step_started"]


def test_the_same_idempotency_key_with_another_body_is_refused(user: User) -> None:
    # Given a user who started a step with an Idempotency-Key
    publish_default_flow(user.tenant)
    ok(user.step("welcome", "start", idempotency_key="k-1"))

    # When they send another step command with the same key
    response = user.step("product-tour", "skip", idempotency_key="k-1")

    # Then it is refused and the other command was not carried out
    problem(response, 422, "VAL_IDEMPOTENCY_KEY_REUSED")
    assert states(ok(user.status()))["product-tour"] == "not_started"
    assert user.events() == ["enrolled", "step_started"]


# --- the tenant boundary ------------------------------------------------------------------------------------------


def test_another_tenants_user_never_sees_this_tenants_progress(user: User) -> None:
    # Given tenant t-acme's user u-1 part-way through t-acme's flow
    publish_default_flow(user.tenant)
    ok(user.step("welcome", "complete"))
    ok(user.post("onboarding_mark_sample_workflow"))
    acme_before = ok(user.status())
    acme_events = user.events()
    namesake = user.someone("t-other", user.subject)

    # When a user with the same id in a tenant without a default flow asks for their onboarding
    refused = namesake.status()

    # Then they learn only that their tenant has no default flow
    problem(refused, 409, "BIZ_NO_DEFAULT_FLOW")
    assert "Welcome to Acme" not in refused["body"] and "welcome" not in refused["body"]

    # When their tenant publishes a flow of the same id, and they act on t-acme's step ids
    other = FlowDefinition(name="Other Co onboarding", steps=[StepDefinition(id="hello", title="Hello", order=0)])
    publish_default_flow("t-other", other)
    theirs = ok(namesake.status())
    unknown = namesake.step("connect-data", "complete")

    # Then they are enrolled on their own tenant's flow from the start, and t-acme's steps do not exist for them
    assert (theirs["flow_name"], states(theirs), theirs["progress_version"]) == (
        "Other Co onboarding",
        {"hello": "not_started"},
        1,
    )
    assert all(not m["reached"] for m in theirs["milestones"].values())
    problem(unknown, 404, "RES_STEP_NOT_FOUND")
    # ...and t-acme's user's progress and events are exactly as they were
    assert ok(user.status()) == acme_before
    assert user.events() == acme_events
    assert namesake.events() == ["enrolled"]


# --- concurrency ----------------------------------------------------------------------------------------------

CONCURRENT_STEPS = 100


def patient_emulator_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS clients that wait for the emulator as long as it takes.

    A hundred requests share two cores with the emulator, which serialises them, so an answer can take longer than
    the production timeouts (meant for DynamoDB, which answers in milliseconds), and an overloaded emulator can fail
    more calls in a row than the production retry policy tries; here a late answer, a connection the emulator is slow
    to accept or a transient fault of its own would be mistaken for an outage. Everything else about the clients (the
    breaker, the conditions, the transactions' own retries) is as in production.
    """
    production = aws._config()
    patient = functools.lru_cache(maxsize=1)(lambda: production.merge(Config(connect_timeout=300, read_timeout=300)))
    monkeypatch.setattr(aws, "_config", patient)
    monkeypatch.setattr(resilience, "RETRY_POLICY", resilience.RetryPolicy(max_attempts=10))
    aws.reset_clients()
    reset()


def serve_in_own_container(handler: ModuleType, step_id: str, event: dict[str, Any], start: Any, answers: Any) -> None:
    """One request in a process of its own, as Lambda serves each concurrent request in its own container.

    Threads would not do: Powertools keeps the current event on the resolver class, shared by every instance in a
    process, so concurrent requests in one process would read each other's bodies.
    """
    # The parent's clients and their connections stay with the parent; this container makes its own, and opens its
    # connection to the table, before the start, like a warm instance (a hundred connections opened at one moment
    # would overflow the emulator's accept queue, which is not what this test is about).
    aws.reset_clients()
    reset()
    _ = container().progress, container().rate_limiter
    aws.dynamodb().describe_table(TableName=get_settings().table_name)
    start.wait(timeout=300)
    answers.put((step_id, handler.lambda_handler(event, FakeLambdaContext())))


def test_100_concurrent_step_completions_on_one_users_progress_end_consistent(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a flow of 100 optional steps and an enrolled user
    patient_emulator_clients(monkeypatch)
    steps = [f"step-{n:03d}" for n in range(CONCURRENT_STEPS)]
    definition = FlowDefinition(
        name="Many steps",
        steps=[StepDefinition(id=step_id, title=step_id, required=False, order=n) for n, step_id in enumerate(steps)],
    )
    publish_default_flow(user.tenant, definition)
    assert ok(user.status())["progress_version"] == 1
    # ...and the step function as deployed, imported once (each request's container starts from this one)
    route = by_name("onboarding_step").route
    assert route is not None and route.rate_class is not None
    configure_route(monkeypatch, route)
    handler = load_handler("onboarding_step")
    processes = multiprocessing.get_context("fork")
    start, answers = processes.Barrier(CONCURRENT_STEPS), processes.Queue()
    requests = [
        processes.Process(
            target=serve_in_own_container,
            args=(
                handler,
                step_id,
                http_event(
                    route.method,
                    route.path,
                    route_key=route.key,
                    headers={"content-type": "application/json"},
                    body={"step_id": step_id, "action": "complete"},
                    auth=user.token_context(),
                    request_id=f"req-{step_id}",
                ),
                start,
                answers,
            ),
        )
        for step_id in steps
    ]

    # When 100 requests, each completing a different step, arrive at the same moment without If-Match
    for request in requests:
        request.start()
    answered = dict(answers.get(timeout=600) for _ in requests)
    for request in requests:
        request.join(timeout=60)
        assert request.exitcode == 0

    # Then each answer is the new status, or a version conflict once the request's retries ran out
    accepted = {step_id: ok(r) for step_id, r in answered.items() if r["statusCode"] == 200}
    refused = [body_of(r) for r in answered.values() if r["statusCode"] != 200]
    assert {(r["status"], r["code"]) for r in refused} <= {(409, "RES_VERSION_CONFLICT")}, refused[:3]
    assert accepted, "no request got through"
    # ...each accepted answer shows its own step completed, at a progress version of its own
    assert all(states(answer)[step_id] == "completed" for step_id, answer in accepted.items())
    assert sorted(a["progress_version"] for a in accepted.values()) == list(range(2, len(accepted) + 2))
    # ...and the final state holds exactly the accepted changes: every accepted step completed and nothing else, one
    # progress version and one event per accepted change on top of the enrolment
    final = ok(user.status())
    assert {step_id for step_id, state in states(final).items() if state == "completed"} == set(accepted)
    assert final["progress_version"] == 1 + len(accepted)
    events = container().onboarding_store.list_events(user.tenant, user.subject)
    assert len(events) == len(accepted) + 1
    assert sorted(e.step_id for e in events if e.step_id) == sorted(accepted)
    assert sorted(e.progress_version for e in events) == list(range(1, len(accepted) + 2))
