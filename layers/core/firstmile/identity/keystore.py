"""Where signing keys live: private keys in a Secrets Manager secret, public keys in the table.

The secret (KMS-encrypted, named by ``Settings.signing_keys_secret``) holds the key set as JSON
(``keys.keyset_to_secret``); only the token function and the rotation job read it. The public JWKS is also
written to the table (``IdentityStore.publish_jwks``), so the authorizer and ``/.well-known/jwks.json`` never
need access to private keys.

The rotation job (``rotate_signing_keys``) publishes before it stores: it writes the JWKS derived from the new key
set first (conditioned on the version it read, so two runs cannot interleave), then the secret. A key is therefore
in the published JWKS before any signer can see it, and ``keys.advance`` promotes a ``next`` key only once the
published JWKS has held it for ``publish_ahead``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from firstmile.errors import DependencyUnavailableError
from firstmile.identity.keys import (
    KeyEvent,
    KeySet,
    RotationPolicy,
    SigningKey,
    advance,
    jwks_document,
    keyset_from_secret,
    keyset_to_secret,
)
from firstmile.identity.models import Clock
from firstmile.identity.ports import IdentityStorePort, SigningKeySecret
from firstmile.observability import logger
from firstmile.platform.secrets import SecretValue

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

COMPONENT = "signing keys"


class SecretsManagerKeyStore:
    """The key set in one Secrets Manager secret."""

    def __init__(self, secret_id: str, client: SecretsManagerClient | None = None) -> None:
        self.secret_id = secret_id
        self._secret = SecretValue(secret_id, COMPONENT, client)

    @property
    def client(self) -> SecretsManagerClient:
        """The Secrets Manager client the key set is read and written with."""
        return self._secret.client

    def load(self) -> KeySet:
        """The stored key set; empty when the secret holds something else (a value a deployment tool generated)."""
        text = self._secret.read()
        try:
            return keyset_from_secret(text)
        except (ValueError, KeyError, TypeError):
            logger.warning("the signing-key secret holds no key set yet")
            return KeySet()

    def save(self, keyset: KeySet) -> None:
        """Store ``keyset`` as the secret's new current version."""
        self._secret.write(keyset_to_secret(keyset))


def rotate_signing_keys(
    secret: SigningKeySecret,
    store: IdentityStorePort,
    *,
    now: float,
    policy: RotationPolicy,
    rotate_now: bool = False,
) -> list[KeyEvent]:
    """One run of the scheduled rotation job: advance the key set, publish the JWKS, then store the secret.

    Safe to run at any frequency (hourly is plenty) and to run twice at once: the second run's JWKS write fails its
    version condition and the run ends without storing anything (``VersionConflictError``).
    """
    keyset = secret.load()
    published, version = store.published_jwks()
    published_kids = [str(k.get("kid")) for k in published.get("keys", [])]
    advanced, events = advance(keyset, now, policy, published_kids, rotate_now=rotate_now)
    document = jwks_document(advanced)
    if document != published:
        store.publish_jwks(document, version)
    if advanced != keyset:
        secret.save(advanced)
    for event in events:
        logger.info("signing key event", extra={"kid": event.kid, "key_event": event.event})
    return events


class SigningKeyProvider:
    """The current signing key for a token function, from a key set cached for ``ttl_seconds``.

    Keys retire ``RotationPolicy.retire_after_seconds`` after they stop being current, which includes this cache's
    lifetime (``keys.SIGNER_CACHE_SECONDS``); keep ``ttl_seconds`` at or below it.
    """

    def __init__(self, load: Callable[[], KeySet], *, clock: Clock = time.time, ttl_seconds: float = 60) -> None:
        self._load = load
        self._clock = clock
        self._ttl = ttl_seconds
        self._cached: tuple[float, KeySet] | None = None
        self._lock = threading.Lock()

    def current(self) -> SigningKey:
        """The key that signs now; ``DependencyUnavailableError`` when there is none yet."""
        now = self._clock()
        with self._lock:
            if self._cached is None or now - self._cached[0] >= self._ttl:
                self._cached = (now, self._load())
            key = self._cached[1].current
        if key is None:
            raise DependencyUnavailableError(COMPONENT, "NoCurrentKey")
        return key
