"""The token endpoint's request shapes: both grants parse, and what a backend may vouch for is bounded."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from firstmile.identity.models import (
    ClientCredentialsGrant,
    RefreshTokenGrant,
    TenantCreate,
    TokenRequest,
)

requests: TypeAdapter[ClientCredentialsGrant | RefreshTokenGrant] = TypeAdapter(TokenRequest)


def test_the_grant_type_selects_the_request_shape() -> None:
    minting = requests.validate_python(
        {
            "grant_type": "client_credentials",
            "user_id": "auth0|42",
            "roles": ["user", "admin"],
            "attributes": {"plan": "pro"},
        }
    )
    rotating = requests.validate_python({"grant_type": "refresh_token", "refresh_token": "fmr_x"})

    assert isinstance(minting, ClientCredentialsGrant) and minting.roles == ("user", "admin")
    assert isinstance(rotating, RefreshTokenGrant) and rotating.delivery == "body"
    with pytest.raises(ValidationError):
        requests.validate_python({"grant_type": "password", "username": "a"})


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "u#1"},
        {"user_id": ""},
        {"user_id": "u" * 129},
        {"roles": []},
        {"roles": ["root"]},
        {"attributes": {"Plan": "pro"}},
        {"attributes": {"plan": "p" * 65}},
        {"attributes": {f"a{n}": "x" for n in range(11)}},
    ],
)
def test_what_a_backend_may_vouch_for_is_bounded(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClientCredentialsGrant.model_validate({"grant_type": "client_credentials", "user_id": "u-1"} | change)


@pytest.mark.parametrize("tenant_id", ["_platform", "T-Acme", "a", "t acme", "t#1"])
def test_operators_cannot_choose_reserved_or_malformed_tenant_ids(tenant_id: str) -> None:
    with pytest.raises(ValidationError):
        TenantCreate(name="x", tenant_id=tenant_id)
