"""The JWT attack matrix: every forged, stale or malformed token is refused, each for its own reason."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from firstmile.errors import DependencyUnavailableError
from firstmile.http import problems as p
from firstmile.http.auth import auth_from_event
from firstmile.identity import keys, tokens
from firstmile.identity.keys import KeySet, b64url
from firstmile.identity.tokens import RejectionReason, TokenRejected, Verifier
from tests.factories import http_event
from tests.unit.identity.conftest import AUDIENCE, ISSUER, NOW, FakeClock, KeyLoader

SID = "ses_" + "s" * 22
JTI = "j" * 22


def claims(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-1",
        "tenant": "t-acme",
        "roles": ["user"],
        "attributes": {"plan": "pro"},
        "jti": JTI,
        "sid": SID,
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 900,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def es256(private_key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """A JWS ES256 signer: the raw 64-byte r||s form, as RFC 7518 requires."""

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes] | None) -> str:
    """A compact JWS built by hand, as an attacker would."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    signature = b64url(sign(f"{head}.{body}".encode())) if sign else ""
    return f"{head}.{body}.{signature}"


def header(key_id: str, **overrides: Any) -> dict[str, Any]:
    """An ES256 access-token header with some members replaced (``None`` removes one)."""
    return {k: v for k, v in ({"alg": "ES256", "typ": "at+jwt", "kid": key_id} | overrides).items() if v is not None}


@pytest.fixture
def signing(keyset: KeySet) -> tuple[str, Callable[[bytes], bytes]]:
    current = keyset.current
    assert current is not None
    return current.kid, es256(current.private_key())


def genuine(keyset: KeySet, **overrides: Any) -> str:
    current = keyset.current
    assert current is not None
    return forge(header(current.kid), claims(**overrides), es256(current.private_key()))


def test_a_genuine_token_is_accepted_with_its_claims(verifier: Verifier, keyset: KeySet) -> None:
    # Given a token minted by the real path
    key = keyset.current
    assert key is not None
    minted = tokens.sign_access_token(
        tokens.access_claims(
            issuer=ISSUER,
            audience=AUDIENCE,
            tenant="t-acme",
            subject="u-1",
            roles=["admin", "user"],
            attributes={"market": "de"},
            session_id=SID,
            now=NOW,
            ttl_seconds=900,
        ),
        key,
    )

    # When it is verified
    verified = verifier.verify(minted)

    # Then its claims come back
    assert (verified.tenant, verified.sub, verified.roles, verified.sid) == ("t-acme", "u-1", ("admin", "user"), SID)
    assert verified.attributes == {"market": "de"}
    assert verified.exp - verified.iat == 900


def _attacker_key_same_kid(keyset: KeySet) -> str:
    """Signed by a key the attacker made, claiming the kid of the real one."""
    assert keyset.current is not None
    return forge(header(keyset.current.kid), claims(), es256(ec.generate_private_key(ec.SECP256R1())))


def _hs256_with_public_key(keyset: KeySet) -> str:
    """The classic confusion attack: HMAC keyed with the verifier's public key, hoping it is used as a secret."""
    assert keyset.current is not None
    public_pem = (
        keyset.current.private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return forge(
        header(keyset.current.kid, alg="HS256"),
        claims(roles=["admin"]),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )


def _tampered_payload(keyset: KeySet) -> str:
    """A genuine token whose payload was edited to grant admin, signature kept."""
    head, _, signature = genuine(keyset).split(".")
    return f"{head}.{b64url(json.dumps(claims(roles=['admin', 'user'])).encode())}.{signature}"


def _unknown_kid(keyset: KeySet) -> str:
    """Well-formed kid (a real thumbprint) of a key this deployment never published."""
    stranger = ec.generate_private_key(ec.SECP256R1())
    kid = keys.public_jwk(stranger.public_key())["kid"]
    return forge(header(kid), claims(), es256(stranger))


def _alg_none(keyset: KeySet) -> str:
    """No signature at all, claiming admin."""
    assert keyset.current is not None
    return forge(header(keyset.current.kid, alg="none"), claims(roles=["admin"]), None)


def _signed(**header_overrides: Any) -> Callable[[KeySet], str]:
    def build(ks: KeySet) -> str:
        assert ks.current is not None
        return forge(header(ks.current.kid, **header_overrides), claims(), es256(ks.current.private_key()))

    return build


# name -> (how the attacker builds the token, the reason it must be refused for)
ATTACKS: dict[str, tuple[Callable[[KeySet], str], RejectionReason]] = {
    "alg none": (_alg_none, RejectionReason.UNSIGNED),
    "HS256 signed with the public key": (_hs256_with_public_key, RejectionReason.ALGORITHM_NOT_ALLOWED),
    "expired": (
        lambda ks: genuine(ks, iat=int(NOW) - 1000, nbf=int(NOW) - 1000, exp=int(NOW) - 100),
        RejectionReason.EXPIRED,
    ),
    "nbf in the future beyond leeway": (lambda ks: genuine(ks, nbf=int(NOW) + 61), RejectionReason.NOT_YET_VALID),
    "wrong issuer": (lambda ks: genuine(ks, iss="https://evil.example"), RejectionReason.WRONG_ISSUER),
    "wrong audience": (lambda ks: genuine(ks, aud="urn:other-api"), RejectionReason.WRONG_AUDIENCE),
    "tampered payload": (_tampered_payload, RejectionReason.BAD_SIGNATURE),
    "unknown kid": (_unknown_kid, RejectionReason.UNKNOWN_KID),
    "kid stuffed with a path": (_signed(kid="../../../../etc/passwd"), RejectionReason.KID_INVALID),
    "kid stuffed with SQL": (_signed(kid="x' OR '1'='1' --"), RejectionReason.KID_INVALID),
    "oversized": (lambda ks: genuine(ks, attributes={"pad": "x" * 5000}), RejectionReason.OVERSIZED),
    "garbage": (lambda ks: "not-a-jwt-at-all", RejectionReason.MALFORMED),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_is_refused_for_its_reason_with_an_auth_code(
    attack: str, verifier: Verifier, keyset: KeySet
) -> None:
    build, reason = ATTACKS[attack]
    token = build(keyset)

    with pytest.raises(TokenRejected) as refused:
        verifier.verify(token)

    assert refused.value.reason is reason
    assert refused.value.code.startswith("AUTH_")
    assert p.problem_for(refused.value).error.status == 401


def test_each_attack_of_the_matrix_has_a_distinct_reason() -> None:
    # The two kid-stuffing variants are one attack (a kid that is not a thumbprint).
    reasons = [reason for name, (_, reason) in ATTACKS.items() if name != "kid stuffed with SQL"]
    assert len(reasons) == len(set(reasons))


def test_iat_in_the_future_alone_is_refused_for_its_own_reason(verifier: Verifier, keyset: KeySet) -> None:
    token = genuine(keyset, iat=int(NOW) + 120, nbf=int(NOW), exp=int(NOW) + 300)

    with pytest.raises(TokenRejected) as refused:
        verifier.verify(token)

    assert refused.value.reason is RejectionReason.ISSUED_IN_FUTURE


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ({"alg": "None"}, RejectionReason.UNSIGNED),
        ({"alg": "NONE"}, RejectionReason.UNSIGNED),
        ({"alg": "RS256"}, RejectionReason.ALGORITHM_NOT_ALLOWED),
        ({"alg": "ES384"}, RejectionReason.ALGORITHM_NOT_ALLOWED),
        ({"alg": None}, RejectionReason.ALGORITHM_NOT_ALLOWED),
        ({"typ": None}, RejectionReason.WRONG_TYPE),
        ({"typ": "JWT"}, RejectionReason.WRONG_TYPE),
        ({"crit": ["exp"]}, RejectionReason.WRONG_TYPE),
        ({"kid": None}, RejectionReason.KID_INVALID),
        ({"kid": 42}, RejectionReason.KID_INVALID),
        ({"kid": "A" * 44}, RejectionReason.KID_INVALID),
        ({"kid": "http://attacker.example/jwks.json"}, RejectionReason.KID_INVALID),
    ],
)
def test_header_attacks_are_refused_before_any_key_is_loaded(
    variant: dict[str, Any], reason: RejectionReason, verifier: Verifier, keyset: KeySet, loader: KeyLoader
) -> None:
    assert keyset.current is not None
    token = forge(header(keyset.current.kid, **variant), claims(), es256(keyset.current.private_key()))

    with pytest.raises(TokenRejected) as refused:
        verifier.verify(token)

    assert refused.value.reason is reason
    assert loader.calls == 0


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "eyJ.eyJ.sig with spaces",
        b64url(b"[1,2,3]") + ".e30.c2ln",
        b64url(b"not json") + ".e30.c2ln",
        "Zm9v%.e30.c2ln",
        "\u00e9" * 10 + ".e30.c2ln",
    ],
)
def test_garbage_is_malformed_or_missing(token: str, verifier: Verifier, loader: KeyLoader) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(token)

    assert refused.value.reason in (RejectionReason.MALFORMED, RejectionReason.MISSING)
    assert loader.calls == 0


def test_an_oversized_token_is_refused_before_it_is_parsed(verifier: Verifier, loader: KeyLoader) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify("e" * 4097)

    assert refused.value.reason is RejectionReason.OVERSIZED
    assert loader.calls == 0


def test_a_token_signed_by_another_key_under_our_kid_has_a_bad_signature(verifier: Verifier, keyset: KeySet) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(_attacker_key_same_kid(keyset))

    assert refused.value.reason is RejectionReason.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"sid": None}, RejectionReason.CLAIMS_INVALID),
        ({"tenant": None}, RejectionReason.CLAIMS_INVALID),
        ({"roles": []}, RejectionReason.CLAIMS_INVALID),
        ({"roles": ["root"]}, RejectionReason.CLAIMS_INVALID),
        ({"sub": "u#1"}, RejectionReason.CLAIMS_INVALID),
        ({"exp": str(int(NOW) + 900)}, RejectionReason.CLAIMS_INVALID),
        ({"exp": int(NOW) + 3600}, RejectionReason.CLAIMS_INVALID),
        ({"aud": [AUDIENCE, "urn:other"]}, RejectionReason.WRONG_AUDIENCE),
    ],
)
def test_missing_or_ill_typed_claims_are_refused(
    overrides: dict[str, Any], reason: RejectionReason, verifier: Verifier, keyset: KeySet
) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(genuine(keyset, **overrides))

    assert refused.value.reason is reason


def test_leeway_covers_nbf_and_iat_but_never_exp(verifier: Verifier, keyset: KeySet, clock: FakeClock) -> None:
    # nbf and iat 59 s ahead of the verifier's clock: accepted
    assert verifier.verify(genuine(keyset, iat=int(NOW) + 59, nbf=int(NOW) + 59, exp=int(NOW) + 900))
    # exp one second in the past: refused, no leeway
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(genuine(keyset, iat=int(NOW) - 800, nbf=int(NOW) - 800, exp=int(NOW) - 1))
    assert refused.value.reason is RejectionReason.EXPIRED
    # exactly at exp: refused
    clock.now = NOW + 900
    with pytest.raises(TokenRejected):
        verifier.verify(genuine(keyset))


def test_an_unknown_kid_refetches_at_most_once_per_interval(
    verifier: Verifier, keyset: KeySet, loader: KeyLoader, clock: FakeClock
) -> None:
    # Given a verifier that has loaded the keys once
    verifier.verify(genuine(keyset))
    assert loader.calls == 1

    # When a flood of tokens with unknown kids arrives within 30 s
    for _ in range(50):
        with pytest.raises(TokenRejected):
            verifier.verify(_unknown_kid(keyset))
        clock.advance(0.1)

    # Then the key source was asked once more at most... (5 s elapsed: not even once)
    assert loader.calls == 1
    # ...and once the interval has passed, one refetch happens
    clock.advance(30)
    with pytest.raises(TokenRejected):
        verifier.verify(_unknown_kid(keyset))
    assert loader.calls == 2


def test_a_newly_published_key_is_found_by_the_refetch(keyset: KeySet, clock: FakeClock) -> None:
    # Given a verifier whose cache predates the next key
    loader = KeyLoader(keyset)
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=loader, clock=clock)
    verifier.verify(genuine(keyset))
    rotated, _ = keys.advance(keyset, NOW, keys.RotationPolicy(), rotate_now=True)
    promoted, _ = keys.advance(rotated, NOW + 3600, keys.RotationPolicy())
    loader.keyset = promoted
    clock.advance(31)

    # When a token signed by the new current key arrives
    token = genuine(promoted, iat=int(clock.now), nbf=int(clock.now), exp=int(clock.now) + 600)

    # Then one refetch finds the key
    assert verifier.verify(token).sub == "u-1"
    assert loader.calls == 2


def test_cached_keys_keep_serving_when_the_key_source_fails(
    keyset: KeySet, loader: KeyLoader, clock: FakeClock
) -> None:
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=loader, clock=clock, cache_seconds=60)
    verifier.verify(genuine(keyset))
    loader.failing = True
    clock.advance(120)

    assert verifier.verify(genuine(keyset, exp=int(clock.now) + 10)).sub == "u-1"


def test_no_keys_at_all_is_unavailable_not_unauthenticated(keyset: KeySet, loader: KeyLoader, clock: FakeClock) -> None:
    loader.failing = True
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=loader, clock=clock)

    with pytest.raises(DependencyUnavailableError):
        verifier.verify(genuine(keyset))


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, RejectionReason.MISSING), ("", RejectionReason.MISSING), ("Basic abc", RejectionReason.MALFORMED)],
)
def test_the_bearer_header_must_carry_a_token(value: str | None, reason: RejectionReason) -> None:
    with pytest.raises(TokenRejected) as refused:
        tokens.bearer_token(value)
    assert refused.value.reason is reason


def test_the_problem_tells_the_code_and_never_which_check_failed(verifier: Verifier, keyset: KeySet) -> None:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(genuine(keyset, aud="urn:other-api"))

    document = p.problem_for(refused.value).document("req-1")
    assert document["code"] == "AUTH_TOKEN_INVALID"
    assert document["status"] == 401
    assert "aud" not in document["detail"].lower()
    assert "aud" not in str(refused.value.detail).lower()


def test_the_authorizer_context_is_what_the_functions_read(verifier: Verifier, keyset: KeySet) -> None:
    verified = verifier.verify(genuine(keyset, roles=["admin", "user"], attributes={"market": "de", "plan": "pro"}))

    context = tokens.authorizer_context(verified)
    auth = auth_from_event(http_event("GET", "/v1/x", auth=context))

    assert auth is not None
    assert (auth.tenant, auth.subject, auth.roles) == ("t-acme", "u-1", frozenset({"admin", "user"}))
    assert auth.attributes == {"market": "de", "plan": "pro"}
