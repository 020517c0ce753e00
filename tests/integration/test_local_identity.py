"""What the local stack adds for identity: the signing-keys secret, the identity environment, the tokens file,
and ``firstmile bootstrap-operator`` against the emulator as if it were a deployment."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firstmile.identity.keys import keyset_from_secret
from functions.catalog import API_STACK, CATALOG, Authorizer, Route, by_name
from local.emulator import Emulator, client
from local.environment import LocalEnvironment
from local.gateway import authorizer_of
from local.resources import create_resources, deployment_for
from local.seed import DemoCredentials, TokenAnswer
from local.tokens_file import read_tokens_file, write_tokens_file
from tests.integration.local_fixtures import FixtureFunction

DEPLOYMENT = deployment_for(CATALOG)
# The emulator runs in this process and moto keeps one state per process: a stage of its own keeps this module's
# resources apart from the other modules' local stacks (which use the stage "local").
OWN = deployment_for(CATALOG, stage="identity-test")


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """An emulator of this module's own, with the real catalogue's resources."""
    started = Emulator(port=0).start()
    create_resources(OWN, started.endpoint)
    yield started.endpoint
    started.stop()


def test_the_signing_keys_secret_is_created_once_with_no_key_set_yet(emulator: str) -> None:
    # Given the real catalogue's resources on the emulator
    secrets = client("secretsmanager", emulator)

    # When they are created a second time and the secret is read
    create_resources(OWN, emulator)
    value = secrets.get_secret_value(SecretId="firstmile-identity-test-signing-keys")["SecretString"]

    # Then the secret exists once, named as CDK names it, holding a generated value and not yet a key set
    assert DEPLOYMENT.signing_keys_secret == "firstmile-local-signing-keys"
    names = [s["Name"] for s in secrets.list_secrets()["SecretList"]]
    assert names.count("firstmile-identity-test-signing-keys") == 1
    with pytest.raises(ValueError):
        keyset_from_secret(value)


def test_a_catalogue_without_signing_keys_has_no_secret() -> None:
    # Given a catalogue none of whose functions signs or rotates keys
    catalogue = (by_name("health_live"), by_name("jwks"))

    # When its deployment is derived
    # Then it declares no secret
    assert deployment_for(catalogue).signing_keys_secret is None


def test_functions_get_the_identity_settings_and_their_routes_rate_class() -> None:
    # Given the local environment of the real catalogue
    environment = LocalEnvironment(DEPLOYMENT, "http://127.0.0.1:9", {}, ())

    # When the variables of a rate-limited route, another route and the authorizer are built
    revoke = environment.for_function(by_name("auth_revoke"))
    jwks = environment.for_function(by_name("jwks"))
    authorizer = environment.for_function(by_name("authorizer"))

    # Then each gets the issuer, the audience and the secret's name; only the limited route gets its class
    for env in (revoke, jwks, authorizer):
        assert env["FIRSTMILE_ISSUER"] == "urn:firstmile:local"
        assert env["FIRSTMILE_AUDIENCE"] == "urn:firstmile:local:api"
        assert env["FIRSTMILE_SIGNING_KEYS_SECRET"] == "firstmile-local-signing-keys"
    assert revoke["FIRSTMILE_ROUTE_RATE_CLASS"] == "user_write"
    assert "FIRSTMILE_ROUTE_RATE_CLASS" not in jwks
    # The authorizer serves no route: as in AWS it gets no role to check, and its settings read "public"
    assert revoke["FIRSTMILE_ROUTE_ROLE"] == "user"
    assert "FIRSTMILE_ROUTE_ROLE" not in authorizer


def test_the_authorizer_is_found_by_its_trigger_and_only_one_is_allowed() -> None:
    # Given the real catalogue, and one with two authorizers
    def gate(name: str) -> FixtureFunction:
        return FixtureFunction(name=name, domain="fixture", stack=API_STACK, description="gate", trigger=Authorizer())

    # When the gateway looks for the authorizer
    # Then it finds the real one, none in a catalogue of public routes, and refuses two
    assert authorizer_of(CATALOG) == "authorizer"
    assert authorizer_of((by_name("health_live"),)) is None
    with pytest.raises(ValueError, match="more than one authorizer"):
        authorizer_of((gate("one"), gate("two")))
    assert isinstance(by_name("auth_revoke").trigger, Route)


def test_the_tokens_file_is_private_and_sourceable(tmp_path: Path) -> None:
    # Given demo credentials, one of them with characters a shell would interpret
    answer = TokenAnswer(access_token="a.b.c", refresh_token="fmr_x", expires_in=900, session_id="ses_1")
    credentials = DemoCredentials(
        api_url="http://127.0.0.1:8000",
        tenant_id="demo",
        tenant_name="Demo Co",
        client_id="fmc_x",
        client_secret="fms_$(touch pwned);'\"",
        operator_client_id="fmc_o",
        operator_client_secret="fms_o",
        user=answer,
        admin=answer,
        operator=answer,
        signing_key_id="kid",
    )
    path = tmp_path / "nested" / "tokens.env"

    # When it is written, read back and sourced by a shell
    write_tokens_file(path, credentials.exports())
    read = read_tokens_file(path)
    sourced = subprocess.run(  # noqa: S603
        ["bash", "-c", f'source "{path}" && printf %s "$FIRSTMILE_CLIENT_SECRET"'],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd=tmp_path,
    )

    # Then only its owner can read it, and both readers get every value back unchanged (nothing was run)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read == credentials.exports()
    assert sourced.stdout == credentials.client_secret
    assert not (tmp_path / "pwned").exists()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter and the project's own CLI
        [sys.executable, "-m", "local.cli", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_bootstrap_operator_works_on_a_deployment_named_by_the_environment(emulator: str) -> None:
    # Given an environment as an operator has it for a deployment: a table name and where AWS is
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env |= {"FIRSTMILE_TABLE_NAME": OWN.table_name, "AWS_ENDPOINT_URL": emulator}

    # When the first operator is bootstrapped, then again, then again with --force
    first = _cli(["bootstrap-operator", "--name", "first"], env)
    again = _cli(["bootstrap-operator"], env)
    forced = _cli(["bootstrap-operator", "--force", "--name", "second"], env)

    # Then the first and the forced one print credentials once, and the second refuses and says how to force
    assert first.returncode == 0, first.stderr
    assert f"table {OWN.table_name} on {emulator}" in first.stdout
    assert "client_secret  fms_" in first.stdout
    assert (again.returncode, "--force" in again.stderr) == (1, True)
    assert forced.returncode == 0, forced.stderr
    clients = client("dynamodb", emulator).scan(TableName=OWN.table_name)["Items"]
    operators = [
        i for i in clients if i.get("kind", {}).get("S") == "api_client" and i["tenant_id"]["S"] == "_platform"
    ]
    assert sorted(i["name"]["S"] for i in operators) == ["first", "second"]
    assert all("fms_" not in str(item) for item in operators)


def test_bootstrap_operator_without_a_table_needs_a_running_local_stack() -> None:
    # Given no table named and no local stack on the emulator port
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTMILE_")}
    env["FIRSTMILE_AWS_PORT"] = "9"

    # When bootstrap-operator runs
    result = _cli(["bootstrap-operator"], env)

    # Then it explains what to start or set
    assert result.returncode == 1
    assert "make dev" in result.stderr
    assert "FIRSTMILE_TABLE_NAME" in result.stderr
