"""Revocation of access tokens that have not expired yet: one token, one session, or every session of a user.

Access tokens are self-contained, so revoking one means telling every verifier. The authorizer reads all of a
user's revocations with one Query and keeps them for ``revocation_cache_seconds`` (default 5 s): that is the
stated bound after which a revoked token stops working everywhere.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from firstmile.identity.models import AccessClaims, Clock, Revocations
from firstmile.identity.tokens import RejectionReason, TokenRejected

RevocationLoader = Callable[[str, str], Revocations]
"""Loads the revocations of ``(tenant, user)``."""


def is_revoked(claims: AccessClaims, revocations: Revocations) -> bool:
    """Whether the token, its session, or everything its user was issued until then, was revoked."""
    return (
        claims.jti in revocations.token_ids
        or claims.sid in revocations.families
        or (revocations.revoked_before is not None and claims.iat <= revocations.revoked_before)
    )


class RevocationCache:
    """Per-container cache of users' revocations, fresh to within ``ttl_seconds``.

    A failure to load is not swallowed: the authorizer then refuses the request (fail closed).
    """

    def __init__(
        self,
        load: RevocationLoader,
        *,
        ttl_seconds: float = 5,
        clock: Clock = time.time,
        max_users: int = 10_000,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._max_users = max_users
        self._entries: OrderedDict[tuple[str, str], tuple[float, Revocations]] = OrderedDict()
        self._lock = threading.Lock()

    def revocations_of(self, tenant: str, user: str) -> Revocations:
        """The user's revocations, from the cache when fresh enough."""
        key, now = (tenant, user), self._clock()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and now - cached[0] < self._ttl:
                self._entries.move_to_end(key)
                return cached[1]
        revocations = self._load(tenant, user)
        with self._lock:
            self._entries[key] = (now, revocations)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_users:
                self._entries.popitem(last=False)
        return revocations

    def check(self, claims: AccessClaims) -> AccessClaims:
        """``claims`` when the token is not revoked; ``TokenRejected(REVOKED)`` otherwise."""
        if is_revoked(claims, self.revocations_of(claims.tenant, claims.sub)):
            raise TokenRejected(RejectionReason.REVOKED)
        return claims
