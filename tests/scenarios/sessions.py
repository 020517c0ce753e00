"""Sessions of one tenant with one API client, shared by the unit tests (on the in-memory identity store) and the
integration tests (on the table engine): the policy, the services over a store, and a race of refreshes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from firstmile import errors as e
from firstmile.audit.ports import AuditLog
from firstmile.identity import keys
from firstmile.identity.keys import KeySet, SigningKey
from firstmile.identity.models import ApiClientCreate, ClientCredentialsGrant, IssuedSession, TenantCreate
from firstmile.identity.ports import IdentityStorePort
from firstmile.identity.refresh import FamilyPolicy
from firstmile.identity.sessions import SessionPolicy, SessionService
from firstmile.identity.tenancy import TenancyService
from firstmile.identity.tokens import Verifier, public_keys_from_jwks
from firstmile.limits.logic import RateLimiter
from tests.factories import FakeClock, run_together

DAY = 86400
ISSUER, AUDIENCE = "urn:firstmile:test", "urn:firstmile:test-api"
POLICY = SessionPolicy(
    issuer=ISSUER,
    audience=AUDIENCE,
    access_ttl_seconds=900,
    family=FamilyPolicy(absolute_lifetime_seconds=30 * DAY, idle_timeout_seconds=7 * DAY, overlap_seconds=5),
)


@dataclass
class Sessions:
    """One tenant (``t-acme``) with one API client, and the session service over ``store``."""

    clock: FakeClock
    key: SigningKey
    store: IdentityStorePort
    audit: AuditLog
    tenancy: TenancyService
    client_id: str
    client_secret: str
    metrics: list[str] = field(default_factory=list)

    def sessions(self, *, store: IdentityStorePort | None = None, limiter: RateLimiter | None = None) -> SessionService:
        return SessionService(
            store or self.store,
            signing_key=lambda: self.key,
            policy=POLICY,
            clock=self.clock,
            limiter=limiter,
            count_metric=self.metrics.append,
        )

    def verifier(self) -> Verifier:
        keyset = KeySet(keys=(self.key,))
        return Verifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            load_keys=lambda: public_keys_from_jwks(keys.jwks_document(keyset)),
            clock=self.clock,
        )

    def login(self, user: str = "u-1", roles: tuple[str, ...] = ("user",)) -> IssuedSession:
        service = self.sessions()
        client = service.authenticate_client(self.client_id, self.client_secret)
        grant = ClientCredentialsGrant.model_validate(
            {"grant_type": "client_credentials", "user_id": user, "roles": roles, "attributes": {"market": "de"}}
        )
        return service.start_session(client, grant)


def tenant_with_a_client(store: IdentityStorePort, clock: FakeClock) -> tuple[TenancyService, str, str]:
    """Create tenant ``t-acme`` and one API client in ``store``: the tenancy service, the client's id and secret."""
    tenancy = TenancyService(store, clock=clock)
    tenancy.create_tenant(TenantCreate(name="Acme", tenant_id="t-acme"), actor="operator:test")
    issued = tenancy.create_client("t-acme", ApiClientCreate(name="backend"), actor="operator:test")
    return tenancy, issued.client.client_id, issued.client_secret


def race_refreshes(
    service: Callable[[], SessionService], token: str, contenders: int
) -> tuple[list[str], list[IssuedSession]]:
    """Present ``token`` from ``contenders`` threads released at the same moment, each with its own
    ``service()``; their outcomes (``rotated`` or the refusal's code) and the sessions of the winners."""
    outcomes: list[str] = []
    winners: list[IssuedSession] = []
    lock = threading.Lock()

    def contend(ready: Callable[[], None]) -> None:
        sessions = service()
        ready()
        try:
            issued = sessions.refresh(token)
        except e.DomainError as refused:
            with lock:
                outcomes.append(refused.code)
            return
        with lock:
            outcomes.append("rotated")
            winners.append(issued)

    run_together(contend, contenders)
    return outcomes, winners
