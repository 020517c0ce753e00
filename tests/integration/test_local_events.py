"""The sample events under events/: one per function at least, each shaped like its trigger's, each invokable."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firstmile.composition import reset
from firstmile.config import reset_settings
from firstmile.platform.aws import reset_clients
from firstmile.sla.requests import decode_subscription
from functions.catalog import CATALOG, Authorizer, Function, LogSubscription, Queue, Route, Schedule, TableStream
from local.emulator import Emulator, client
from local.environment import LocalEnvironment
from local.events import match_path
from local.resources import create_resources, deployment_for
from tests.factories import FakeLambdaContext, load_handler

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
# ``firstmile invoke`` runs a sample on an empty emulator of its own. These samples name the demo tenant and its
# API client, which exist only in a seeded stack (``make dev``), so there they answer the problem they should:
# by sample name, the status and problem code expected on an empty deployment.
ON_AN_EMPTY_DEPLOYMENT = {
    "auth_token": (401, "AUTH_CLIENT_INVALID"),
    # Dead-letter samples name a task, which an empty deployment does not have.
    "admin_dlq_task_get": (404, "RES_TASK_NOT_FOUND"),
    "admin_dlq_task_retry": (404, "RES_TASK_NOT_FOUND"),
    "admin_dlq_task_delete": (404, "RES_TASK_NOT_FOUND"),
    # ...and webhook samples an endpoint, which only the create sample makes (with an id of its own).
    "admin_webhook_get": (404, "RES_WEBHOOK_NOT_FOUND"),
    "admin_webhook_update": (404, "RES_WEBHOOK_NOT_FOUND"),
    "admin_webhook_delete": (404, "RES_WEBHOOK_NOT_FOUND"),
    "admin_webhook_rotate_secret": (404, "RES_WEBHOOK_NOT_FOUND"),
    "admin_webhook_deliveries": (404, "RES_WEBHOOK_NOT_FOUND"),
    "admin_webhook_replay": (404, "RES_WEBHOOK_NOT_FOUND"),
    # A drill sample names a drill, and a drill needs a backup: an empty deployment has neither.
    "operator_drill_get": (404, "RES_DRILL_NOT_FOUND"),
    "operator_drill_start": (409, "BIZ_NO_BACKUP"),
    "operator_client_create": (404, "RES_TENANT_NOT_FOUND"),
    "operator_client_rotate": (404, "RES_CLIENT_NOT_FOUND"),
    "operator_client_disable": (404, "RES_CLIENT_NOT_FOUND"),
    "operator_client_list": (404, "RES_TENANT_NOT_FOUND"),
    # Onboarding samples name the demo flow, which an empty deployment does not have.
    "admin_flow_get": (404, "RES_FLOW_NOT_FOUND"),
    "admin_flow_update": (404, "RES_FLOW_NOT_FOUND"),
    "admin_flow_publish": (404, "RES_FLOW_NOT_FOUND"),
    "admin_flow_versions": (404, "RES_FLOW_NOT_FOUND"),
    "admin_flow_version_get": (404, "RES_FLOW_VERSION_NOT_FOUND"),
    "admin_default_flow_get": (409, "BIZ_NO_DEFAULT_FLOW"),
    "admin_default_flow_set": (404, "RES_FLOW_NOT_FOUND"),
    "admin_onboarding_restart": (404, "RES_FLOW_NOT_FOUND"),
    "admin_sample_users_create": (404, "RES_FLOW_NOT_FOUND"),
    "admin_migration_start": (404, "RES_FLOW_NOT_FOUND"),
    "admin_migration_get": (404, "RES_MIGRATION_NOT_FOUND"),
    # Analytics samples name the demo flow too.
    "analytics_funnel": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_comparison": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_recommendations": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_heatmap": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_cohorts": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_realtime": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_alert_rule_create": (404, "RES_FLOW_NOT_FOUND"),
    "analytics_alert_rule_update": (404, "RES_FLOW_NOT_FOUND"),
    # ...and the demo alert rule finish-rate, which only a sample's create makes.
    "analytics_alert_rule_get": (404, "RES_ALERT_RULE_NOT_FOUND"),
    "analytics_alert_rule_archive": (404, "RES_ALERT_RULE_NOT_FOUND"),
    "analytics_alert_rule_history": (404, "RES_ALERT_RULE_NOT_FOUND"),
    # ...and no default flow to enrol the user on.
    "onboarding_status": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_step": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_complete": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_skip": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_mark_sample_workflow": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_mark_sample_agent": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_mark_first_run": (409, "BIZ_NO_DEFAULT_FLOW"),
    "onboarding_sample_workflow": (409, "BIZ_NO_DEFAULT_FLOW"),
    # Flag samples name the demo flag new-editor (and segment beta-testers), which an empty deployment does not have.
    "admin_flag_get": (404, "RES_FLAG_NOT_FOUND"),
    "admin_flag_update": (404, "RES_FLAG_NOT_FOUND"),
    "admin_flag_archive": (404, "RES_FLAG_NOT_FOUND"),
    "admin_flag_history": (404, "RES_FLAG_NOT_FOUND"),
    "admin_flag_rollback": (404, "RES_FLAG_NOT_FOUND"),
    "admin_flag_exposures": (404, "RES_FLAG_NOT_FOUND"),
    "admin_kill_switch_set": (404, "RES_FLAG_NOT_FOUND"),
    "admin_rollout_get": (404, "RES_ROLLOUT_NOT_FOUND"),
    "admin_rollout_start": (404, "RES_FLAG_NOT_FOUND"),
    "admin_rollout_cancel": (404, "RES_ROLLOUT_NOT_FOUND"),
    "admin_segment_get": (404, "RES_SEGMENT_NOT_FOUND"),
    # ...and no flag settings letting clients supply the sample's attribute country.
    "flags_evaluate": (422, "VAL_ATTRIBUTE_NOT_ALLOWED"),
    # Privacy samples name a request an empty deployment does not have.
    "compliance_export_get": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    "compliance_deletion_verify": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    "compliance_deletion_execute": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    "admin_dsr_get": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    "admin_dsr_approve": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    "admin_dsr_deny": (404, "RES_PRIVACY_REQUEST_NOT_FOUND"),
    # ...and no enrolled user whose attributes could be corrected.
    "me_rectify": (404, "RES_ONBOARDING_NOT_FOUND"),
}


def samples_of(function: Function) -> list[Path]:
    """``events/<function>.json`` and ``events/<function>/*.json``."""
    single = EVENTS_DIR / f"{function.name}.json"
    return ([single] if single.exists() else []) + sorted((EVENTS_DIR / function.name).glob("*.json"))


SAMPLES = [(function, path) for function in CATALOG for path in samples_of(function)]
PROTECTED_SAMPLES = [(f, p) for f, p in SAMPLES if isinstance(f.trigger, Route) and f.trigger.role != "public"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_function_has_a_sample_event() -> None:
    # Given the catalogue
    # When the samples of each function are listed
    missing = [f.name for f in CATALOG if not samples_of(f)]

    # Then none is without one
    assert missing == []


@pytest.mark.parametrize(("function", "path"), SAMPLES, ids=[p.stem for _, p in SAMPLES])
def test_sample_is_shaped_like_its_trigger(function: Function, path: Path) -> None:
    # Given a sample event
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    # When it is compared with the function's trigger
    trigger = function.trigger

    # Then it is the event that trigger produces
    if isinstance(trigger, Route):
        assert event["version"] == "2.0"
        assert event["routeKey"] == event["requestContext"]["routeKey"] == trigger.key
        assert event["requestContext"]["http"]["method"] == trigger.method
        assert match_path(trigger.path, event["rawPath"]) is not None
    elif isinstance(trigger, Schedule):
        assert (event["source"], event["detail-type"]) == ("aws.scheduler", "Scheduled Event")
    elif isinstance(trigger, Queue):
        assert {r["eventSource"] for r in event["Records"]} == {"aws:sqs"}
    elif isinstance(trigger, TableStream):
        assert {r["eventSource"] for r in event["Records"]} == {"aws:dynamodb"}
    elif isinstance(trigger, LogSubscription):
        batch = decode_subscription(event)
        assert batch.samples and len(batch.event_ids) == len(batch.samples)
    elif isinstance(trigger, Authorizer):
        assert (event["version"], event["type"]) == ("2.0", "REQUEST")
        assert event["routeArn"].startswith("arn:aws:execute-api:")
        assert event["requestContext"]["routeKey"] == event["routeKey"]


@pytest.mark.parametrize(("function", "path"), PROTECTED_SAMPLES, ids=[p.stem for _, p in PROTECTED_SAMPLES])
def test_protected_route_samples_carry_the_authorizers_context(function: Function, path: Path) -> None:
    # Given a sample of a route that needs a role
    trigger = function.trigger
    assert isinstance(trigger, Route)
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    # When its request context is read
    context = event["requestContext"]["authorizer"]["lambda"]

    # Then it holds what the authorizer passes on for a caller with the route's role
    assert set(context) == {"tenant", "sub", "roles", "attributes", "sid", "jti", "exp"}
    assert set(trigger.roles) & set(context["roles"].split(","))
    assert isinstance(json.loads(context["attributes"]), dict)


def one_sample_per_trigger_kind() -> list[tuple[Function, Path]]:
    """The first sample of each kind of trigger, and of public and protected routes apart."""
    chosen: dict[str, tuple[Function, Path]] = {}
    for function, path in SAMPLES:
        trigger = function.trigger
        kind = type(trigger).__name__
        if isinstance(trigger, Route):
            kind += "-public" if trigger.role == "public" else "-protected"
        chosen.setdefault(kind, (function, path))
    return list(chosen.values())


INVOKED = one_sample_per_trigger_kind()


def assert_answered_as_on_an_empty_deployment(function: Function, path: Path, answer: Any) -> None:
    """An HTTP function's 2xx answer, or the problem its sample must get on an empty deployment; the authorizer's
    "allowed, with the caller or the refusal's code" answer; any other function's success."""
    if path.stem in ON_AN_EMPTY_DEPLOYMENT:
        status, code = ON_AN_EMPTY_DEPLOYMENT[path.stem]
        assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (status, code), answer
    elif isinstance(function.trigger, Route):
        assert 200 <= answer["statusCode"] < 300, answer
    elif isinstance(function.trigger, Authorizer):
        assert answer["isAuthorized"] is True
        assert answer["context"]["auth_error"].startswith("AUTH_")
    else:
        assert answer is None or "errorType" not in answer


def test_the_invoked_samples_cover_every_kind_of_trigger() -> None:
    kinds = {type(f.trigger).__name__ for f in CATALOG}
    assert {type(f.trigger).__name__ for f, _ in INVOKED} == kinds


@pytest.mark.parametrize(("function", "path"), INVOKED, ids=[p.stem for _, p in INVOKED])
def test_firstmile_invoke_runs_the_sample(function: Function, path: Path, emulated_aws: Emulator) -> None:
    # Given, for the first sample, no emulator on the port a command looks at, so invoke starts a temporary one of
    # its own (a new table engine: about 3 s); for the others an emulator already answering there, as a running
    # stack's does (this session's), which invoke uses instead
    temporary = (function, path) == INVOKED[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env["FIRSTMILE_AWS_PORT"] = str(_closed_port() if temporary else emulated_aws.port)

    # When the sample is invoked from the command line (the deployment's resources, then a function instance of its
    # own; one sample per kind of trigger, the next test runs every sample)
    result = subprocess.run(  # noqa: S603 - this interpreter and the project's own CLI
        [sys.executable, "-m", "local.cli", "invoke", function.name, str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )

    # Then the function succeeded, on the emulator it was meant to use
    assert result.returncode == 0, result.stderr
    assert ("using a temporary one" in result.stderr) is temporary, result.stderr
    assert_answered_as_on_an_empty_deployment(function, path, json.loads(result.stdout))


@pytest.fixture(scope="module")
def catalogue_resources(emulator: str) -> LocalEnvironment:
    """Every resource of a deployment of the catalogue, as ``firstmile invoke`` creates them, on the session's
    emulator: made once for the module; each test gets an empty table of its own (``empty_deployment``)."""
    deployment = deployment_for(CATALOG, stage=f"s{uuid.uuid4().hex[:8]}")
    return LocalEnvironment(deployment, emulator, create_resources(deployment, emulator), ())


@pytest.fixture
def empty_deployment(catalogue_resources: LocalEnvironment) -> Iterator[LocalEnvironment]:
    """The catalogue's resources with a new, empty table: a deployment on which nothing has happened yet."""
    base = catalogue_resources.deployment
    deployment = dataclasses.replace(base, table_name=f"{base.table_name}-{uuid.uuid4().hex[:8]}")
    dynamodb = client("dynamodb", catalogue_resources.aws_endpoint)
    dynamodb.create_table(**deployment.table.create_table_request(deployment.table_name))
    yield dataclasses.replace(catalogue_resources, deployment=deployment)
    with contextlib.suppress(Exception):
        dynamodb.delete_table(TableName=deployment.table_name)


@pytest.mark.parametrize(("function", "path"), SAMPLES, ids=[p.stem for _, p in SAMPLES])
def test_every_sample_is_answered_on_an_empty_deployment(
    empty_deployment: LocalEnvironment, monkeypatch: pytest.MonkeyPatch, function: Function, path: Path
) -> None:
    # Given the function's real handler with the environment ``firstmile invoke`` gives it, in this process
    for name in [n for n in os.environ if n.startswith("FIRSTMILE_")]:
        monkeypatch.delenv(name)
    for name, value in empty_deployment.for_function(function).items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_clients()
    reset()
    handler = load_handler(function.name)
    event = json.loads(path.read_text(encoding="utf-8"))

    # When the sample is its event
    answer = handler.lambda_handler(event, FakeLambdaContext())

    # Then it answers as it must there
    assert_answered_as_on_an_empty_deployment(function, path, answer)
