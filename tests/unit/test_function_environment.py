"""One builder gives every function its environment: the local stack adds only what it states as its own."""

from __future__ import annotations

import json

import pytest

from firstmile.config import Settings
from functions.catalog import CATALOG, Route, by_name
from functions.catalog.environment import function_environment, route_variables, variable
from local.environment import LocalEnvironment
from local.resources import deployment_for
from tests.factories import placeholder_deployment

DEPLOYMENT = deployment_for(CATALOG, stage="local")
QUEUE_URLS = {queue.logical_name: f"http://127.0.0.1:9/000000000000/{queue.name}" for queue in DEPLOYMENT.queues}


def local_environment() -> LocalEnvironment:
    return LocalEnvironment(DEPLOYMENT, "http://127.0.0.1:9", QUEUE_URLS, ("http://localhost:5173",), "http://x:8")


@pytest.mark.parametrize("function", CATALOG, ids=lambda f: f.name)
def test_a_local_function_runs_with_the_builders_variables_plus_the_stated_local_ones(function) -> None:  # type: ignore[no-untyped-def]
    # Given the local stack's environment
    local = local_environment()

    # When a function's variables are built locally
    env = local.for_function(function)

    # Then they are exactly the builder's (as CDK gets them) and the local additions, which override none of them
    built = function_environment(function, local.deployment_values())
    added = local.local_variables(function)
    assert env == {**built, **added}
    assert set(built).isdisjoint(added)


def test_every_firstmile_variable_a_function_gets_is_a_setting() -> None:
    # Given every function's variables in the local stack
    local = local_environment()
    names = {name for function in CATALOG for name in local.for_function(function)}

    # Then each FIRSTMILE_ variable names a field of the settings model, so none is silently ignored
    fields = {f"FIRSTMILE_{field.upper()}" for field in Settings.model_fields}
    assert {name for name in names if name.startswith("FIRSTMILE_")} <= fields
    with pytest.raises(KeyError, match="no field"):
        variable("route_roles")


def test_a_function_knows_only_the_queues_its_entry_names() -> None:
    # Given a route that sends to the migration queue and one that names no queue
    local = local_environment()

    # When their variables are built
    starts = json.loads(local.for_function(by_name("admin_migration_start"))["FIRSTMILE_QUEUE_URLS"])
    lists = json.loads(local.for_function(by_name("admin_flow_list"))["FIRSTMILE_QUEUE_URLS"])

    # Then each knows the queues it may use and nothing else, locally as in AWS
    assert starts == {"onboarding-migrations": QUEUE_URLS["onboarding-migrations"]}
    assert lists == {}


def test_a_route_gets_its_role_cursor_key_and_rate_class_and_a_job_none_of_them() -> None:
    # Given a deployment as the builder sees it, without signing keys
    values = placeholder_deployment(signing_keys_secret=None)
    revoke, job = by_name("auth_revoke"), by_name("flag_rollout_job")
    assert isinstance(revoke.trigger, Route)

    # When the variables of a rate-limited route and of a scheduled job are built
    route_env, job_env = function_environment(revoke, values), function_environment(job, values)

    # Then the route's own variables come last, in the order deployed functions list them; the job has none
    assert list(route_env)[-3:] == ["FIRSTMILE_ROUTE_ROLE", "FIRSTMILE_CURSOR_KEY", "FIRSTMILE_ROUTE_RATE_CLASS"]
    assert route_variables(revoke.trigger) == {
        "FIRSTMILE_ROUTE_ROLE": "user",
        "FIRSTMILE_ROUTE_RATE_CLASS": "user_write",
    }
    assert not {"FIRSTMILE_ROUTE_ROLE", "FIRSTMILE_CURSOR_KEY", "FIRSTMILE_ROUTE_RATE_CLASS"} & set(job_env)
    # and a deployment without signing keys names no secret
    assert "FIRSTMILE_SIGNING_KEYS_SECRET" not in job_env
