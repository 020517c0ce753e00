"""One synth per catalogue for the whole run: jsii starts slowly, so the apps are shared between tests.

Three apps are synthesized:
- the real catalogue, exactly as ``make synth`` builds it;
- a fixture catalogue that adds every kind of trigger (queue consumer and producer, stream consumer,
  scheduled job, non-public routes of every role, a rate-limited route) and replaces the real authorizer by one
  of its own under another name (the API stack finds it by its ``Authorizer`` trigger), so each invariant is
  exercised;
- the fixture catalogue again with cdk-nag acknowledgements switched off, to prove each one is needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App  # noqa: E402

from firstmile.limits.models import RouteClass  # noqa: E402
from functions.catalog import API_STACK, CATALOG, Access, Authorizer, Function, Queue, Route, Schedule, TableStream  # noqa: E402
from infra.app import build_app  # noqa: E402
from infra.constructs.function import function_folder  # noqa: E402
from infra.nag import ACKNOWLEDGEMENTS_CONTEXT  # noqa: E402
from tests.infra.assembly import Assembly  # noqa: E402

FIXTURE_QUEUE = "fixture-jobs"
FIXTURE_CONTEXT: dict[str, Any] = {
    "stage": "test",
    "corsAllowOrigins": '["https://app.example.com", "http://localhost:5173"]',
    "apiThrottleRate": "25",
    "apiThrottleBurst": "50",
    "logRetentionDays": 14,
    "pitrDays": 14,
    "commit": "0123abc",
    "issuer": "https://auth.example.com",
    "audience": "urn:example:onboarding-api",
    "privacySender": "privacy@mail.example.org",
}

FIXTURE_FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="fixture_authorizer",
        domain="fixture",
        stack=API_STACK,
        description="Verifies access tokens for every non-public route.",
        trigger=Authorizer(result_ttl_seconds=0),
        timeout_seconds=4,
        access=Access(table="read"),
    ),
    Function(
        name="fixture_submit",
        domain="fixture",
        stack="fixture",
        description="Accepts a job for a user and queues it.",
        trigger=Route("POST", "/v1/fixture/jobs", "user", rate_class=RouteClass.USER_WRITE),
        access=Access(table="write", sends_to=(FIXTURE_QUEUE,)),
    ),
    Function(
        name="fixture_admin_report",
        domain="fixture",
        stack="fixture",
        description="Reports jobs of the admin's tenant.",
        trigger=Route("GET", "/v1/admin/fixture/jobs", "admin"),
        access=Access(table="read", exports_bucket="read"),
    ),
    Function(
        name="fixture_operator_purge",
        domain="fixture",
        stack="fixture",
        description="Purges one job as an operator.",
        trigger=Route("DELETE", "/v1/operator/fixture/jobs/{job_id}", "operator"),
        reserved_concurrency=2,
        access=Access(table="write"),
    ),
    Function(
        name="fixture_worker",
        domain="fixture",
        stack="fixture",
        description="Runs queued jobs.",
        trigger=Queue(FIXTURE_QUEUE, batch_size=5, max_receive_count=6, max_batching_window_seconds=2),
        timeout_seconds=20,
        memory_mb=512,
        reserved_concurrency=3,
        access=Access(table="write", exports_bucket="write", signing_keys="read"),
    ),
    Function(
        name="fixture_aggregator",
        domain="fixture",
        stack="fixture",
        description="Keeps aggregates from the table stream.",
        trigger=TableStream(batch_size=50, retry_attempts=4, max_batching_window_seconds=2),
        timeout_seconds=30,
        access=Access(table="write"),
    ),
    Function(
        name="fixture_nightly",
        domain="fixture",
        stack="fixture",
        description="Nightly housekeeping.",
        trigger=Schedule("cron(0 3 * * ? *)", retry_attempts=3, max_event_age_seconds=1800),
        timeout_seconds=60,
        access=Access(table="write", inspects_queues=(f"{FIXTURE_QUEUE}-dlq",)),
    ),
)
# The real catalogue without its authorizer (a catalogue has one at most), plus the fixture's functions.
FIXTURE_CATALOG: tuple[Function, ...] = (
    tuple(f for f in CATALOG if not isinstance(f.trigger, Authorizer)) + FIXTURE_FUNCTIONS
)


@dataclass
class Synth:
    """A synthesized app: the app itself (for its construct tree), the assembly, and its catalogue."""

    app: App
    assembly: Assembly
    catalog: tuple[Function, ...]
    context: dict[str, Any]

    def spec(self, name: str) -> Function:
        """The catalogue entry called ``name``."""
        return next(f for f in self.catalog if f.name == name)


def _synth(
    out: Path, catalog: tuple[Function, ...], context: dict[str, Any], locate: Callable[[Function], Path]
) -> Synth:
    app = build_app(catalog, context=context, outdir=str(out), locate_code=locate)
    app.synth()
    return Synth(
        app=app, assembly=Assembly(out, stage=str(context.get("stage", "dev"))), catalog=catalog, context=context
    )


@pytest.fixture(scope="session")
def fixture_code(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Function], Path]:
    """Code for the fixture functions: one stub handler (their code is never run here)."""
    stub = tmp_path_factory.mktemp("fixture-function")
    (stub / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    real = {f.name for f in CATALOG}
    return lambda spec: function_folder(spec) if spec.name in real else stub


@pytest.fixture(scope="session")
def real_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The real catalogue, with the default context from cdk.json."""
    return _synth(tmp_path_factory.mktemp("real"), CATALOG, {}, function_folder)


@pytest.fixture(scope="session")
def fixture_synth(tmp_path_factory: pytest.TempPathFactory, fixture_code: Callable[[Function], Path]) -> Synth:
    """The fixture catalogue, with every context value set to something other than its default."""
    return _synth(tmp_path_factory.mktemp("fixture"), FIXTURE_CATALOG, dict(FIXTURE_CONTEXT), fixture_code)


@pytest.fixture(scope="session")
def unacknowledged_synth(tmp_path_factory: pytest.TempPathFactory, fixture_code: Callable[[Function], Path]) -> Synth:
    """The fixture catalogue with every acknowledgement recorded but not applied."""
    context = {
        **FIXTURE_CONTEXT,
        ACKNOWLEDGEMENTS_CONTEXT: False,
        # Report the findings instead of raising, so the test can read them.
        "@aws-cdk/core:failSynthOnValidationErrors": False,
    }
    return _synth(tmp_path_factory.mktemp("unacknowledged"), FIXTURE_CATALOG, context, fixture_code)


@pytest.fixture(scope="session", params=["real", "fixture"])
def any_synth(request: pytest.FixtureRequest) -> Synth:
    """Each of the two acknowledged apps in turn."""
    synth: Synth = request.getfixturevalue(f"{request.param}_synth")
    return synth
