"""API client credentials: shapes, hashing at rest, constant-time checks, rotation grace, disabled clients."""

from __future__ import annotations

import base64

import pytest

from firstmile import errors as e
from firstmile.identity import clients
from firstmile.identity.models import ApiClient
from tests.unit.identity.conftest import NOW


def client_with(secret: str, **changes: object) -> ApiClient:
    base = ApiClient(
        client_id=clients.new_client_id(),
        tenant_id="t-acme",
        name="backend",
        secret_hash=clients.hash_secret(secret),
        allowed_roles=("admin", "user"),
        created_at=NOW,
    )
    return base.model_copy(update=changes)


def test_ids_and_secrets_have_their_prefixes_and_enough_randomness() -> None:
    client_id, secret = clients.new_client_id(), clients.new_client_secret()

    assert clients.looks_like_client_id(client_id)
    assert secret.startswith("fms_")
    assert len(base64.urlsafe_b64decode(secret[4:] + "=")) == 32
    assert clients.hash_secret(secret) != secret and len(clients.hash_secret(secret)) == 64


def test_the_right_secret_authenticates_and_a_wrong_one_does_not() -> None:
    secret = clients.new_client_secret()
    client = client_with(secret)

    assert clients.authenticate(client, secret, NOW) == client
    with pytest.raises(e.DomainError) as refused:
        clients.authenticate(client, clients.new_client_secret(), NOW)
    assert refused.value.code == e.AUTH_CLIENT_INVALID


def test_unknown_and_disabled_clients_get_the_same_answer_as_a_wrong_secret() -> None:
    secret = clients.new_client_secret()
    answers = []
    for client in (None, client_with(secret, disabled=True, disabled_at=NOW)):
        with pytest.raises(e.DomainError) as refused:
            clients.authenticate(client, secret, NOW)
        answers.append((refused.value.code, refused.value.detail))

    assert answers[0] == answers[1]
    assert answers[0][0] == e.AUTH_CLIENT_INVALID


def test_a_rotated_secret_keeps_working_for_the_grace_period_only() -> None:
    # Given a client whose secret was rotated at NOW with a 24 h grace
    old, new = clients.new_client_secret(), clients.new_client_secret()
    rotated = clients.with_rotated_secret(client_with(old), clients.hash_secret(new), NOW, 86400)

    # Then both secrets work until the grace ends, only the new one after
    assert clients.secret_matches(rotated, new, NOW + 86400)
    assert clients.secret_matches(rotated, old, NOW + 86399)
    assert not clients.secret_matches(rotated, old, NOW + 86400)
    assert clients.secret_matches(rotated, new, NOW + 10 * 86400)


def test_without_grace_the_old_secret_stops_at_once() -> None:
    old, new = clients.new_client_secret(), clients.new_client_secret()
    rotated = clients.with_rotated_secret(client_with(old), clients.hash_secret(new), NOW, 0)

    assert not clients.secret_matches(rotated, old, NOW)
    assert rotated.previous_secret_hash is None


def test_a_string_that_is_not_secret_shaped_never_matches_even_its_own_hash() -> None:
    weird = "no client has this secret"
    client = client_with(weird)

    assert not clients.secret_matches(client, weird, NOW)


def test_the_view_of_a_client_never_shows_hashes() -> None:
    view = client_with(clients.new_client_secret()).view()

    assert "hash" not in view.model_dump_json()


def test_a_client_may_grant_only_its_roles() -> None:
    client = client_with(clients.new_client_secret(), allowed_roles=("user",))

    clients.check_roles(client, ("user",))
    with pytest.raises(e.DomainError) as refused:
        clients.check_roles(client, ("admin", "user"))
    assert refused.value.code == e.PERM_ROLE_NOT_ALLOWED


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"fmc_x:fms_y").decode(), ("fmc_x", "fms_y")),
        ("basic " + base64.b64encode(b"id:se:cret").decode(), ("id", "se:cret")),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        (None, None),
    ],
)
def test_basic_credentials_are_read_from_the_authorization_header(
    header: str | None, expected: tuple[str, str] | None
) -> None:
    assert clients.basic_credentials(header) == expected
