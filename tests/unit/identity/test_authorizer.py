"""The authorizer's one call: bearer header in, verified and unrevoked claims (or a refusal) out."""

from __future__ import annotations

import pytest

from firstmile.http.auth import auth_from_event
from firstmile.identity import tokens
from firstmile.identity.authorizer import authorize, simple_response
from firstmile.identity.keys import KeySet
from firstmile.identity.models import Revocations
from firstmile.identity.revocation import RevocationCache
from firstmile.identity.tokens import RejectionReason, TokenRejected, Verifier
from tests.factories import http_event
from tests.unit.identity.conftest import AUDIENCE, ISSUER, NOW, FakeClock

SID = "ses_" + "s" * 22


def bearer(keyset: KeySet) -> str:
    assert keyset.current is not None
    claims = tokens.access_claims(
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant="t-acme",
        subject="u-1",
        roles=["admin"],
        attributes={"locale": "de-DE"},
        session_id=SID,
        now=NOW,
        ttl_seconds=600,
    )
    return "Bearer " + tokens.sign_access_token(claims, keyset.current)


def test_a_valid_unrevoked_token_passes_its_context_to_the_function(
    verifier: Verifier, keyset: KeySet, clock: FakeClock
) -> None:
    revocations = RevocationCache(lambda t, u: Revocations(), clock=clock)

    answer = simple_response(authorize(bearer(keyset), verifier=verifier, revocations=revocations))

    assert answer["isAuthorized"] is True
    auth = auth_from_event(http_event("GET", "/v1/x", auth=answer["context"]))
    assert auth is not None and (auth.tenant, auth.subject, auth.roles) == ("t-acme", "u-1", frozenset({"admin"}))
    assert auth.attributes == {"locale": "de-DE"}


def test_a_revoked_session_is_refused(verifier: Verifier, keyset: KeySet, clock: FakeClock) -> None:
    revocations = RevocationCache(lambda t, u: Revocations(families=frozenset({SID})), clock=clock)

    with pytest.raises(TokenRejected) as refused:
        authorize(bearer(keyset), verifier=verifier, revocations=revocations)

    assert refused.value.reason is RejectionReason.REVOKED


def test_a_missing_header_is_refused_and_a_refusal_carries_no_context(verifier: Verifier, clock: FakeClock) -> None:
    with pytest.raises(TokenRejected) as refused:
        authorize(None, verifier=verifier, revocations=RevocationCache(lambda t, u: Revocations(), clock=clock))

    assert refused.value.reason is RejectionReason.MISSING
    assert simple_response(None) == {"isAuthorized": False}
