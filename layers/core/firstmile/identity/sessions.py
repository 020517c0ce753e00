"""Sessions: what ``POST /v1/auth/token``, ``/v1/auth/revoke`` and ``/v1/auth/logout`` do, over the store.

``start_session`` (grant ``client_credentials``): the customer's backend, authenticated by its client credentials,
mints a session for a user it vouches for. ``refresh`` (grant ``refresh_token``): one rotation, atomic in the store;
its outcomes are those of ``refresh.classify``. Reuse of a rotated token revokes the whole family, writes the audit
entry ``auth.refresh_reuse_detected`` and counts the metric ``RefreshReuseDetected``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from firstmile import errors as e
from firstmile.audit.models import AuditEvent
from firstmile.config import Settings
from firstmile.identity import clients
from firstmile.identity.keys import SigningKey
from firstmile.identity.models import (
    PLATFORM_TENANT,
    AccessClaims,
    ApiClient,
    ClientCredentialsGrant,
    Clock,
    Family,
    IssuedSession,
    TokenResponse,
)
from firstmile.identity.ports import IdentityStorePort
from firstmile.identity.refresh import (
    FamilyPolicy,
    RefreshOutcome,
    classify,
    hash_refresh_token,
    looks_like_refresh_token,
    new_refresh_token,
    refresh_token_expiry,
    rotate,
    start_family,
)
from firstmile.identity.tokens import access_claims, sign_access_token
from firstmile.limits.logic import RateLimiter
from firstmile.limits.models import LimitSubject, RouteClass
from firstmile.observability import logger, metrics

REUSE_METRIC = "RefreshReuseDetected"
CLIENT_AUTH_FAILED_METRIC = "ClientAuthenticationFailed"
CLIENT_AUTH_FAILED_ACTION = "auth.client_authentication_failed"
SUPERSEDED_METRIC = "RefreshSuperseded"
REUSE_ACTION = "auth.refresh_reuse_detected"
SESSION_REVOKED_ACTION = "session.revoked"
USER_SESSIONS_REVOKED_ACTION = "user.sessions_revoked"
# How often a refresh re-reads and retries when its transaction lost to something other than a rotation.
_ROTATION_ATTEMPTS = 3

_REFUSALS: dict[RefreshOutcome, tuple[str, str]] = {
    RefreshOutcome.EXPIRED: (e.AUTH_REFRESH_EXPIRED, "The session has expired; sign in again."),
    RefreshOutcome.REVOKED: (e.AUTH_REFRESH_REVOKED, "The session was revoked; sign in again."),
    RefreshOutcome.SUPERSEDED: (
        e.AUTH_REFRESH_SUPERSEDED,
        "This refresh token was just rotated by a concurrent request; use the token that request returned.",
    ),
    RefreshOutcome.REUSE_DETECTED: (
        e.AUTH_REFRESH_REUSED,
        "This refresh token was already used; the session has been revoked. Sign in again.",
    ),
}


def _count_metric(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


@dataclass(frozen=True)
class SessionPolicy:
    """Issuer, audience and lifetimes of the tokens a deployment mints."""

    issuer: str
    audience: str
    access_ttl_seconds: int = 900
    family: FamilyPolicy = field(default_factory=FamilyPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        """The policy a deployment's settings describe."""
        return cls(
            issuer=settings.issuer,
            audience=settings.audience,
            access_ttl_seconds=settings.access_token_ttl_seconds,
            family=FamilyPolicy.from_settings(settings),
        )


class SessionService:
    """Mints, rotates and revokes sessions."""

    def __init__(
        self,
        store: IdentityStorePort,
        *,
        signing_key: Callable[[], SigningKey],
        policy: SessionPolicy,
        clock: Clock = time.time,
        limiter: RateLimiter | None = None,
        count_metric: Callable[[str], None] = _count_metric,
    ) -> None:
        self._store = store
        self._signing_key = signing_key
        self._policy = policy
        self._clock = clock
        self._limiter = limiter
        self._count_metric = count_metric

    # --- client credentials -----------------------------------------------------------------------------------

    def authenticate_client(
        self,
        client_id: str | None,
        client_secret: str | None,
        *,
        source_ip: str | None = None,
        correlation_id: str = "",
    ) -> ApiClient:
        """The enabled client these credentials belong to; ``AUTH_CLIENT_INVALID`` otherwise (same answer for all).

        Failures are limited per client id and per source address (``RATE_LIMITED`` once either has spent its
        budget, before the credentials are even checked); each failure is counted, audited in the client's tenant's
        chain (the platform's for an unknown client) and measured (``ClientAuthenticationFailed``).
        """
        known = bool(client_id) and clients.looks_like_client_id(client_id or "")
        subjects = self._failure_subjects(client_id if known else None, source_ip)
        if self._limiter is not None:
            for route_class, subject in subjects:
                self._limiter.enforce_spent(route_class, subject)
        client = self._store.get_client(client_id) if known and client_id else None
        try:
            return clients.authenticate(client, client_secret or "", self._clock())
        except e.DomainError:
            self._on_client_failure(client, client_id if known else None, source_ip, subjects, correlation_id)
            raise

    def _failure_subjects(self, client_id: str | None, source_ip: str | None) -> list[tuple[RouteClass, LimitSubject]]:
        subjects: list[tuple[RouteClass, LimitSubject]] = []
        if client_id:
            subjects.append((RouteClass.CLIENT_AUTH_FAILURE, LimitSubject.client("", client_id)))
        if source_ip:
            subjects.append((RouteClass.SOURCE_AUTH_FAILURE, LimitSubject.source(source_ip)))
        return subjects

    def _on_client_failure(
        self,
        client: ApiClient | None,
        client_id: str | None,
        source_ip: str | None,
        subjects: list[tuple[RouteClass, LimitSubject]],
        correlation_id: str,
    ) -> None:
        if self._limiter is not None:
            for route_class, subject in subjects:
                self._limiter.check(route_class, subject)
        self._count_metric(CLIENT_AUTH_FAILED_METRIC)
        logger.warning(
            "client authentication failed", extra={"client_id": client_id or "unknown", "source_ip": source_ip or ""}
        )
        self._store.record_event(
            AuditEvent(
                tenant=client.tenant_id if client else PLATFORM_TENANT,
                actor="system:token-endpoint",
                action=CLIENT_AUTH_FAILED_ACTION,
                target=f"client:{client_id or 'unknown'}",
                correlation_id=correlation_id,
                details={"source_ip": source_ip or "unknown", "client_known": str(client is not None).lower()},
            )
        )

    def start_session(self, client: ApiClient, grant: ClientCredentialsGrant) -> IssuedSession:
        """A new session for ``grant.user_id`` in the client's tenant, with the roles the client may grant."""
        if self._limiter is not None:
            self._limiter.enforce(RouteClass.AUTH_TOKEN, LimitSubject.client(client.tenant_id, client.client_id))
        clients.check_roles(client, grant.roles)
        key = self._signing_key()  # before any write: no session without a token to show for it
        now, token = self._clock(), new_refresh_token()
        family = start_family(
            tenant=client.tenant_id,
            user=grant.user_id,
            client_id=client.client_id,
            roles=grant.roles,
            attributes=grant.attributes,
            token_hash=hash_refresh_token(token),
            now=now,
            policy=self._policy.family,
        )
        self._store.start_family(family)
        return self._issue(family, token, key, now)

    # --- refresh ------------------------------------------------------------------------------------------------

    def refresh(self, refresh_token: str, *, correlation_id: str = "") -> IssuedSession:
        """Rotate: exchange ``refresh_token`` for a new access token and a new refresh token.

        Raises ``AUTH_REFRESH_INVALID`` (unknown token), ``..._EXPIRED``, ``..._REVOKED``, ``..._SUPERSEDED``
        (the immediate predecessor within the overlap window: a lost race, nothing revoked) or ``..._REUSED``
        (an older token, or the predecessor after the window: the family is revoked).
        """
        family = self._family_of(refresh_token)
        if self._limiter is not None:
            self._limiter.enforce(RouteClass.AUTH_REFRESH, LimitSubject.user(family.tenant, family.user))
        key = self._signing_key()  # before rotating: a rotation whose token cannot be signed would strand the client
        presented = hash_refresh_token(refresh_token)
        for _ in range(_ROTATION_ATTEMPTS):
            now = self._clock()
            outcome = classify(family, presented, now, self._policy.family)
            if outcome is RefreshOutcome.ROTATED:
                token = new_refresh_token()
                rotated = rotate(family, hash_refresh_token(token), now, self._policy.family)
                if self._store.rotate_family(family, rotated, now):
                    return self._issue(rotated, token, key, now)
                reread = self._store.get_family(family.tenant, family.user, family.family_id)
                if reread is None:
                    break
                family = reread
                continue
            if outcome is RefreshOutcome.REUSE_DETECTED:
                self._on_reuse(family, now, correlation_id)
            elif outcome is RefreshOutcome.SUPERSEDED:
                self._count_metric(SUPERSEDED_METRIC)
            code, detail = _REFUSALS[outcome]
            raise e.DomainError(code, detail)
        code, detail = _REFUSALS[RefreshOutcome.SUPERSEDED]
        raise e.DomainError(code, detail)

    def _family_of(self, refresh_token: str) -> Family:
        invalid = e.DomainError(e.AUTH_REFRESH_INVALID, "The refresh token is not valid.")
        if not looks_like_refresh_token(refresh_token):
            raise invalid
        pointer = self._store.find_pointer(hash_refresh_token(refresh_token))
        if pointer is None:
            raise invalid
        # The pointer expires with its family; the family itself says whether it expired (EXPIRED, not INVALID).
        family = self._store.get_family(pointer.tenant, pointer.user, pointer.family_id)
        if family is None:
            raise invalid
        return family

    def _on_reuse(self, family: Family, now: float, correlation_id: str) -> None:
        logger.warning(
            "refresh token reuse detected; revoking the session",
            extra={"tenant": family.tenant, "session_id": family.family_id, "generation": family.generation},
        )
        self._store.revoke_family(
            family.tenant,
            family.user,
            family.family_id,
            now=now,
            reason="reuse_detected",
            access_ttl_seconds=self._policy.access_ttl_seconds,
            event=AuditEvent(
                tenant=family.tenant,
                actor="system:refresh",
                action=REUSE_ACTION,
                target=f"session:{family.family_id}",
                correlation_id=correlation_id,
                details={"user": family.user, "client_id": family.client_id, "generation": str(family.generation)},
            ),
        )
        self._count_metric(REUSE_METRIC)

    # --- revocation ---------------------------------------------------------------------------------------------

    def logout(self, refresh_token: str, *, correlation_id: str = "") -> None:
        """End the session a refresh token belongs to (any token of the family will do; unknown tokens are ignored)."""
        try:
            family = self._family_of(refresh_token)
        except e.DomainError as refused:
            if refused.code != e.AUTH_REFRESH_INVALID:
                raise  # an unavailable table is not an unknown token
            return
        self.revoke_session(
            family.tenant,
            family.user,
            family.family_id,
            actor=f"user:{family.user}",
            correlation_id=correlation_id,
            reason="logout",
        )

    def revoke(
        self, claims: AccessClaims, target: Literal["token", "session", "all"], *, correlation_id: str = ""
    ) -> None:
        """Revoke the caller's own access token, its session, or all of the caller's sessions."""
        self.revoke_own(
            claims.tenant, claims.sub, claims.sid, claims.jti, claims.exp, target, correlation_id=correlation_id
        )

    def revoke_own(
        self,
        tenant: str,
        user: str,
        session_id: str,
        token_id: str,
        expires_at: int,
        target: Literal["token", "session", "all"],
        *,
        correlation_id: str = "",
    ) -> None:
        """``revoke`` from the parts of a verified token the authorizer passed on."""
        actor = f"user:{user}"
        if target == "token":
            self._store.revoke_token(tenant, user, token_id, expires_at)
        elif target == "session":
            self.revoke_session(tenant, user, session_id, actor=actor, correlation_id=correlation_id, reason="revoked")
        else:
            self.revoke_user_sessions(tenant, user, actor=actor, correlation_id=correlation_id)

    def revoke_session(
        self, tenant: str, user: str, family_id: str, *, actor: str, correlation_id: str = "", reason: str = "revoked"
    ) -> bool:
        """Revoke one session (refresh tokens at once; its access tokens within the revocation bound), audited in
        the same transaction."""
        family = self._store.revoke_family(
            tenant,
            user,
            family_id,
            now=self._clock(),
            reason=reason,
            access_ttl_seconds=self._policy.access_ttl_seconds,
            event=AuditEvent(
                tenant=tenant,
                actor=actor,
                action=SESSION_REVOKED_ACTION,
                target=f"session:{family_id}",
                correlation_id=correlation_id,
                details={"user": user, "reason": reason},
            ),
        )
        return family is not None

    def revoke_user_sessions(
        self, tenant: str, user: str, *, actor: str, correlation_id: str = "", reason: str = "revoked"
    ) -> list[str]:
        """Sign a user out everywhere: every session, and every access token issued until now. The audit entry
        goes with the mark that ends the access tokens, before the sessions are revoked one by one; it counts the
        sessions alive just before."""
        alive = sum(1 for family in self._store.list_families(tenant, user) if not family.revoked)
        return self._store.revoke_user(
            tenant,
            user,
            now=self._clock(),
            access_ttl_seconds=self._policy.access_ttl_seconds,
            reason=reason,
            event=AuditEvent(
                tenant=tenant,
                actor=actor,
                action=USER_SESSIONS_REVOKED_ACTION,
                target=f"user:{user}",
                correlation_id=correlation_id,
                details={"sessions": str(alive), "reason": reason},
            ),
        )

    # --- issuing ------------------------------------------------------------------------------------------------

    def _issue(self, family: Family, refresh_token: str, key: SigningKey, now: float) -> IssuedSession:
        claims = access_claims(
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            tenant=family.tenant,
            subject=family.user,
            roles=family.roles,
            attributes=family.attributes,
            session_id=family.family_id,
            now=now,
            ttl_seconds=self._policy.access_ttl_seconds,
        )
        return IssuedSession(
            access_token=sign_access_token(claims, key),
            access_expires_at=claims.exp,
            refresh_token=refresh_token,
            refresh_expires_at=refresh_token_expiry(family),
            claims=claims,
        )


def token_response(issued: IssuedSession, now: float, *, refresh_in_body: bool = True) -> TokenResponse:
    """The body of a successful token request (without the refresh token when it goes into the cookie)."""
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=max(0, issued.access_expires_at - int(now)),
        refresh_token=issued.refresh_token if refresh_in_body else None,
        refresh_token_expires_in=max(0, int(issued.refresh_expires_at - now)),
        session_id=issued.claims.sid,
    )
