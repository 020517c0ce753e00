"""Keys, clocks and a verifier for the identity unit tests: no AWS, no network."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firstmile.identity import keys, tokens
from firstmile.identity.keys import KeySet, RotationPolicy
from tests.factories import NOW, FakeClock

ISSUER = "urn:firstmile:test"
AUDIENCE = "urn:firstmile:test-api"


@dataclass
class KeyLoader:
    """Serves the public keys of a key set and counts how often it was asked."""

    keyset: KeySet
    calls: int = 0
    failing: bool = False

    def __call__(self) -> tokens.PublicKeys:
        self.calls += 1
        if self.failing:
            raise ConnectionError("key source unreachable")
        return tokens.public_keys_from_jwks(keys.jwks_document(self.keyset))


@pytest.fixture(scope="session")
def keyset() -> KeySet:
    initial, _ = keys.advance(KeySet(), NOW - 3600, RotationPolicy())
    return initial


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def loader(keyset: KeySet) -> KeyLoader:
    return KeyLoader(keyset)


@pytest.fixture
def verifier(loader: KeyLoader, clock: FakeClock) -> tokens.Verifier:
    return tokens.Verifier(issuer=ISSUER, audience=AUDIENCE, load_keys=loader, clock=clock)
