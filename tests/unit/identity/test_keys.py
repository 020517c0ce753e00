"""Signing keys: JWK thumbprints as kids, and the rotation state machine's promises under any schedule."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Literal

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from firstmile.identity import keys
from firstmile.identity.keys import KeySet, RotationPolicy, advance, jwks_document
from tests.unit.identity.conftest import NOW

POLICY = RotationPolicy(rotate_every_seconds=86400, publish_ahead_seconds=3600, retire_after_seconds=1020)


def test_the_kid_is_the_rfc7638_thumbprint_of_the_public_key() -> None:
    # Given a P-256 key and its JWK
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = keys.public_jwk(key.public_key())

    # Then the kid is base64url(SHA-256) of the required members in lexicographic order, without whitespace
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (jwk["x"], jwk["y"])  # noqa: UP031 - literal JSON
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert jwk["kid"] == expected
    assert keys.KID_PATTERN.match(jwk["kid"])
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")


def test_optional_members_do_not_change_the_thumbprint() -> None:
    jwk = keys.public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())

    assert keys.jwk_thumbprint({**jwk, "use": "enc", "kid": "other"}) == jwk["kid"]


def test_a_jwk_round_trips_to_the_same_public_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = keys.public_jwk(key.public_key())

    assert keys.public_key_from_jwk(jwk).public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "change",
    [
        {"kid": "A" * 43},
        {"crv": "P-384"},
        {"kty": "RSA"},
        {"alg": "RS256"},
        {"x": "short"},
        {"x": "!!!"},
    ],
)
def test_jwks_entries_that_are_not_our_keys_are_refused(change: dict[str, str]) -> None:
    jwk = keys.public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())

    with pytest.raises(keys.InvalidJwkError):
        keys.public_key_from_jwk({**jwk, **change})


def test_a_point_off_the_curve_is_refused() -> None:
    jwk = keys.public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    off_curve = {**jwk, "y": keys.b64url((1).to_bytes(32, "big"))}
    off_curve["kid"] = keys.jwk_thumbprint(off_curve)

    with pytest.raises(keys.InvalidJwkError):
        keys.public_key_from_jwk(off_curve)


def test_a_new_deployment_gets_a_current_key_at_once() -> None:
    keyset, events = advance(KeySet(), NOW, POLICY)

    assert keyset.current is not None
    assert [k.state for k in keyset.keys] == ["current"]
    assert [e.event for e in events] == ["created", "activated"]


def test_a_rotation_publishes_first_signs_after_publish_ahead_and_retires_after_the_lifetime() -> None:
    # Given a deployment whose current key is due for rotation
    keyset, _ = advance(KeySet(), NOW, POLICY)
    first = keyset.current
    assert first is not None

    # When the job runs a day later: a next key is published, the current one keeps signing
    keyset, events = advance(keyset, NOW + 86400, POLICY)
    upcoming = keyset.in_state("next")
    assert upcoming is not None and keyset.current == first
    assert [e.event for e in events] == ["created"]
    assert {k["kid"] for k in jwks_document(keyset)["keys"]} == {first.kid, upcoming.kid}

    # ...59 minutes later it still does not sign
    keyset, _ = advance(keyset, NOW + 86400 + 3540, POLICY)
    assert keyset.current == first

    # ...an hour after publication it signs, and the old key stays published as previous
    keyset, events = advance(keyset, NOW + 86400 + 3600, POLICY)
    assert keyset.current is not None and keyset.current.kid == upcoming.kid
    previous = keyset.in_state("previous")
    assert previous is not None and previous.kid == first.kid
    assert [e.event for e in events] == ["deactivated", "activated"]

    # ...until the longest token lifetime plus skew and signer cache have passed
    keyset, _ = advance(keyset, NOW + 86400 + 3600 + 1019, POLICY)
    assert keyset.in_state("previous") is not None
    keyset, events = advance(keyset, NOW + 86400 + 3600 + 1020, POLICY)
    assert keyset.in_state("previous") is None
    assert [(e.kid, e.event) for e in events] == [(first.kid, "retired")]


def test_a_next_key_missing_from_the_published_jwks_does_not_sign() -> None:
    # Given a next key whose publication failed
    keyset, _ = advance(KeySet(), NOW, POLICY)
    keyset, _ = advance(keyset, NOW, POLICY, rotate_now=True)
    current, upcoming = keyset.current, keyset.in_state("next")
    assert current is not None and upcoming is not None

    # When the job runs past publish-ahead but the JWKS does not hold the key
    later, events = advance(keyset, NOW + 7200, POLICY, published_kids=[current.kid])

    # Then it is (re)published from now on and the current key keeps signing
    assert later.current == current
    republished = later.in_state("next")
    assert republished is not None and republished.published_at == NOW + 7200
    assert [e.event for e in events] == ["published"]


def test_rotate_now_never_skips_the_publish_ahead_wait() -> None:
    keyset, _ = advance(KeySet(), NOW, POLICY)
    keyset, _ = advance(keyset, NOW + 10, POLICY, rotate_now=True)
    again, _ = advance(keyset, NOW + 20, POLICY, rotate_now=True)

    assert again == keyset
    assert again.current is not None and again.current.activated_at == NOW


def test_the_jwks_never_carries_private_members() -> None:
    keyset, _ = advance(KeySet(), NOW, POLICY)
    keyset, _ = advance(keyset, NOW, POLICY, rotate_now=True)

    document = json.dumps(jwks_document(keyset))

    assert '"d"' not in document
    assert "PRIVATE" not in document


def test_the_secret_document_round_trips_and_refuses_what_is_not_a_key_set() -> None:
    keyset, _ = advance(KeySet(), NOW, POLICY)
    keyset, _ = advance(keyset, NOW, POLICY, rotate_now=True)

    assert keys.keyset_from_secret(keys.keyset_to_secret(keyset)) == keyset
    for text in ('"random-password-from-cdk"', '{"format": 99}', "[]"):
        with pytest.raises(ValueError):
            keys.keyset_from_secret(text)


def test_a_secret_whose_kid_does_not_match_its_key_is_refused() -> None:
    keyset, _ = advance(KeySet(), NOW, POLICY)
    document = json.loads(keys.keyset_to_secret(keyset))
    document["keys"][0]["kid"] = "B" * 43

    with pytest.raises(ValueError):
        keys.keyset_from_secret(json.dumps(document))


def test_an_rsa_key_in_the_secret_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    document = {
        "format": 1,
        "keys": [{"kid": "x", "state": "current", "private_pem": pem, "created_at": 0, "published_at": 0}],
    }

    with pytest.raises(ValueError):
        keys.keyset_from_secret(json.dumps(document))


Failure = Literal["none", "publication", "secret"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=30, max_value=2 * 86400), st.sampled_from(["none", "none", "publication", "secret"])
        ),
        min_size=1,
        max_size=40,
    )
)
def test_whatever_the_schedule_and_failures_a_key_is_published_before_it_signs_and_kept_while_its_tokens_live(
    steps: list[tuple[int, Failure]],
) -> None:
    """Run the job at random times, with its JWKS write or its secret write failing at random.

    Laws: there is always exactly one signing key, and it is published; a key that takes over signing (after the
    first) has been in the published JWKS for at least publish_ahead; a key that signed stays published until
    retire_after past the moment it stopped signing; the JWKS never holds more than three keys.
    """
    now = NOW
    stored, _ = advance(KeySet(), now, POLICY)  # the first deployment
    published = jwks_document(stored)
    published_since: dict[str, float] = {k["kid"]: now for k in published["keys"]}
    stopped_signing: dict[str, float] = {}
    signed = {k.kid for k in stored.keys}

    for gap, failure in steps:
        now += gap
        kids = [k["kid"] for k in published["keys"]]
        advanced, _ = advance(stored, now, POLICY, published_kids=kids)
        document = jwks_document(advanced)
        if failure == "publication":
            continue  # the job stops before it stores anything
        if document != published:
            for kid in [k["kid"] for k in document["keys"] if k["kid"] not in published_since]:
                published_since[kid] = now
            for kid in [kid for kid in kids if kid not in {k["kid"] for k in document["keys"]}]:
                # Law: a key that signed leaves the JWKS only when every token it signed has expired.
                if kid in signed:
                    assert kid in stopped_signing and now >= stopped_signing[kid] + POLICY.retire_after_seconds
                del published_since[kid]
            published = document
        if failure == "secret":
            continue  # the JWKS was written, the key set was not
        before, stored = stored, advanced
        assert stored.current is not None
        signed.add(stored.current.kid)
        assert len(published["keys"]) <= 3
        if before.current is not None and stored.current.kid != before.current.kid:
            # Law: the new signer had been published for at least publish_ahead.
            assert now - published_since[stored.current.kid] >= POLICY.publish_ahead_seconds
            stopped_signing[before.current.kid] = now
        # Law: the signing key is always in the published JWKS.
        assert stored.current.kid in {k["kid"] for k in published["keys"]}
