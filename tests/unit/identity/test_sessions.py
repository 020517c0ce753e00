"""Sessions on the in-memory identity store: rotation, reuse detection, races, lifetimes and revocation. What only the
table engine can show (items as stored, transactions racing on DynamoDB's conditions) stays in
tests/integration/test_identity_sessions.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from firstmile import errors as e
from firstmile.audit.models import AuditFilter
from firstmile.errors import DependencyUnavailableError
from firstmile.http import problems as p
from firstmile.identity.keys import KeySet
from firstmile.identity.models import ApiClientCreate, ClientCredentialsGrant, IssuedSession
from firstmile.identity.revocation import RevocationCache
from firstmile.identity.tokens import RejectionReason, TokenRejected
from firstmile.limits.logic import RateLimiter
from tests.factories import NOW, FakeClock
from tests.fakes.audit import FakeAuditLog
from tests.fakes.identity import FakeIdentityStore
from tests.fakes.limits import FakeRateLimitStore
from tests.scenarios.sessions import DAY, Sessions, race_refreshes, tenant_with_a_client


@dataclass
class Identity(Sessions):
    """One tenant with one API client, and the services over an in-memory store."""

    store: FakeIdentityStore
    audit: FakeAuditLog


@pytest.fixture
def identity(keyset: KeySet) -> Identity:
    clock = FakeClock()
    assert keyset.current is not None
    audit = FakeAuditLog(clock=clock)
    store = FakeIdentityStore(audit=audit)
    tenancy, client_id, client_secret = tenant_with_a_client(store, clock)
    return Identity(clock, keyset.current, store, audit, tenancy, client_id, client_secret)


def refresh_error(identity: Identity, token: str) -> str:
    with pytest.raises(e.DomainError) as refused:
        identity.sessions().refresh(token)
    assert p.problem_for(refused.value).error.status == 401
    return refused.value.code


def test_parallel_refreshes_with_one_token_give_exactly_one_success(identity: Identity) -> None:
    token = identity.login().refresh_token

    for contenders in (2, 6, 6):
        # When several requests present the same refresh token at the same moment
        outcomes, winners = race_refreshes(identity.sessions, token, contenders)

        # Then exactly one rotates; the others learn they lost the race, and nothing is revoked
        assert sorted(outcomes) == ["AUTH_REFRESH_SUPERSEDED"] * (contenders - 1) + ["rotated"]
        token = winners[0].refresh_token

    family = identity.store.get_family("t-acme", "u-1", winners[0].claims.sid)
    assert family is not None and family.generation == 3 and not family.revoked


def test_a_rotation_that_keeps_losing_answers_superseded_and_revokes_nothing(identity: Identity) -> None:
    # Given a session whose every rotation loses to another writer (three attempts)
    issued = identity.login()
    identity.store.faults.conflict("rotate_family", times=3)

    # When its token is presented
    assert refresh_error(identity, issued.refresh_token) == "AUTH_REFRESH_SUPERSEDED"

    # Then it tried three times, and the session lives on
    assert identity.store.faults.calls["rotate_family"] == 3
    assert identity.sessions().refresh(issued.refresh_token).claims.sid == issued.claims.sid


def test_an_unavailable_store_is_not_mistaken_for_an_invalid_token(identity: Identity) -> None:
    issued = identity.login()
    identity.store.faults.unavailable("find_pointer")

    with pytest.raises(DependencyUnavailableError):
        identity.sessions().refresh(issued.refresh_token)

    assert identity.sessions().refresh(issued.refresh_token).claims.sid == issued.claims.sid


def test_refresh_rotates_every_time_within_the_same_session(identity: Identity) -> None:
    first = identity.login()

    identity.clock.advance(600)
    second = identity.sessions().refresh(first.refresh_token)
    identity.clock.advance(600)
    third = identity.sessions().refresh(second.refresh_token)

    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    assert first.claims.sid == second.claims.sid == third.claims.sid
    assert identity.verifier().verify(third.access_token).iat == int(NOW + 1200)
    family = identity.store.get_family("t-acme", "u-1", first.claims.sid)
    assert family is not None and family.generation == 2


def test_the_predecessor_within_the_overlap_window_is_superseded_and_nothing_is_revoked(identity: Identity) -> None:
    first = identity.login()
    second = identity.sessions().refresh(first.refresh_token)

    identity.clock.advance(3)
    assert refresh_error(identity, first.refresh_token) == "AUTH_REFRESH_SUPERSEDED"

    assert identity.sessions().refresh(second.refresh_token).claims.sid == first.claims.sid
    assert identity.metrics == ["RefreshSuperseded"]


def test_reuse_of_a_rotated_token_revokes_the_family_and_the_newest_token_dies_too(identity: Identity) -> None:
    # Given a session rotated once
    first = identity.login()
    second = identity.sessions().refresh(first.refresh_token)

    # When the first token is presented again after the overlap window (a thief, or a replay)
    identity.clock.advance(6)
    assert refresh_error(identity, first.refresh_token) == "AUTH_REFRESH_REUSED"

    # Then the whole family is revoked: the newest refresh token and its access token die too
    assert refresh_error(identity, second.refresh_token) == "AUTH_REFRESH_REVOKED"
    revocations = RevocationCache(lambda t, u: identity.store.revocations(t, u, identity.clock()), clock=identity.clock)
    with pytest.raises(TokenRejected) as refused:
        revocations.check(identity.verifier().verify(second.access_token))
    assert refused.value.reason is RejectionReason.REVOKED
    # ...and the security event is recorded: an audit entry and a metric
    entries = identity.audit.list_entries("t-acme", AuditFilter(action="auth.refresh_reuse_detected")).items
    assert [(e.actor, e.target) for e in entries] == [("system:refresh", f"session:{first.claims.sid}")]
    assert entries[0].details["user"] == "u-1"
    assert "RefreshReuseDetected" in identity.metrics


def test_an_older_token_is_reuse_even_inside_the_overlap_window(identity: Identity) -> None:
    first = identity.login()
    second = identity.sessions().refresh(first.refresh_token)
    identity.sessions().refresh(second.refresh_token)

    identity.clock.advance(1)
    assert refresh_error(identity, first.refresh_token) == "AUTH_REFRESH_REUSED"


def test_rotation_never_extends_the_familys_absolute_lifetime(identity: Identity) -> None:
    # Given a client that refreshes diligently every 6 days (inside the 7-day idle timeout)
    issued = identity.login()
    started_absolute = NOW + 30 * DAY
    for _ in range(4):
        identity.clock.advance(6 * DAY)
        issued = identity.sessions().refresh(issued.refresh_token)
        assert issued.refresh_expires_at <= started_absolute
    family = identity.store.get_family("t-acme", "u-1", issued.claims.sid)
    assert family is not None and family.absolute_expires_at == started_absolute

    # When the 30 days are over, however recently it refreshed
    identity.clock.now = started_absolute

    # Then the session is over
    assert refresh_error(identity, issued.refresh_token) == "AUTH_REFRESH_EXPIRED"


def test_an_idle_family_expires(identity: Identity) -> None:
    issued = identity.login()

    identity.clock.advance(7 * DAY)

    assert refresh_error(identity, issued.refresh_token) == "AUTH_REFRESH_EXPIRED"


def test_signing_out_everywhere_stops_every_session_and_outstanding_access_token(identity: Identity) -> None:
    # Given a user with two sessions and an unrelated user
    phone, laptop, other = identity.login(), identity.login(), identity.login(user="u-2")
    revocations = RevocationCache(
        lambda t, u: identity.store.revocations(t, u, identity.clock()), ttl_seconds=5, clock=identity.clock
    )
    verifier = identity.verifier()
    assert revocations.check(verifier.verify(phone.access_token))

    # When an admin revokes all of u-1's sessions
    identity.clock.advance(1)
    revoked = identity.sessions().revoke_user_sessions("t-acme", "u-1", actor="admin:u-9", correlation_id="corr-1")

    # Then, once the stated bound has passed, the outstanding access tokens are refused...
    assert sorted(revoked) == sorted([phone.claims.sid, laptop.claims.sid])
    identity.clock.advance(5)
    for session in (phone, laptop):
        with pytest.raises(TokenRejected):
            revocations.check(verifier.verify(session.access_token))
        # ...and so are the refresh tokens
        assert refresh_error(identity, session.refresh_token) == "AUTH_REFRESH_REVOKED"
    # ...while the other user is untouched, the action is audited, and a new sign-in works
    assert revocations.check(verifier.verify(other.access_token))
    entry = identity.audit.list_entries("t-acme", AuditFilter(action="user.sessions_revoked")).items[0]
    assert (entry.actor, entry.target, entry.correlation_id) == ("admin:u-9", "user:u-1", "corr-1")
    identity.clock.advance(1)
    assert revocations.check(verifier.verify(identity.login().access_token))


def test_revoking_one_token_or_one_session_leaves_the_rest(identity: Identity) -> None:
    phone, laptop = identity.login(), identity.login()
    phone_again = identity.sessions().refresh(phone.refresh_token)
    verifier = identity.verifier()

    def revoked(session: IssuedSession) -> bool:
        fresh = identity.store.revocations("t-acme", "u-1", identity.clock())
        try:
            RevocationCache(lambda t, u: fresh, clock=identity.clock).check(verifier.verify(session.access_token))
        except TokenRejected:
            return True
        return False

    # One access token: only that one
    identity.sessions().revoke(phone.claims, "token")
    assert (revoked(phone), revoked(phone_again), revoked(laptop)) == (True, False, False)

    # One session: all of its tokens, refresh included; the other session lives on
    identity.sessions().revoke(phone_again.claims, "session", correlation_id="c-2")
    assert (revoked(phone_again), revoked(laptop)) == (True, False)
    assert refresh_error(identity, phone_again.refresh_token) == "AUTH_REFRESH_REVOKED"
    assert identity.sessions().refresh(laptop.refresh_token).claims.sid == laptop.claims.sid


def test_logout_ends_the_session_and_is_audited(identity: Identity) -> None:
    issued = identity.login()

    identity.sessions().logout(issued.refresh_token, correlation_id="c-3")
    identity.sessions().logout("fmr_" + "x" * 43)  # unknown tokens are ignored

    assert refresh_error(identity, issued.refresh_token) == "AUTH_REFRESH_REVOKED"
    actions = [e.action for e in identity.audit.list_entries("t-acme").items]
    assert actions[0] == "session.revoked"


@pytest.mark.parametrize("token", ["garbage", "fmr_" + "a" * 43, "", "fmr_" + "a" * 500])
def test_unknown_or_malformed_refresh_tokens_are_invalid(identity: Identity, token: str) -> None:
    assert refresh_error(identity, token) == "AUTH_REFRESH_INVALID"


def test_a_client_cannot_grant_roles_it_does_not_hold(identity: Identity) -> None:
    limited = identity.tenancy.create_client(
        "t-acme", ApiClientCreate(name="user-only", allowed_roles=("user",)), actor="operator:test"
    )
    service = identity.sessions()
    client = service.authenticate_client(limited.client.client_id, limited.client_secret)
    grant = ClientCredentialsGrant(grant_type="client_credentials", user_id="u-3", roles=("admin",))

    with pytest.raises(e.DomainError) as refused:
        service.start_session(client, grant)

    assert (refused.value.code, p.problem_for(refused.value).error.status) == ("PERM_ROLE_NOT_ALLOWED", 403)
    assert identity.store.list_families("t-acme", "u-3") == []


@pytest.mark.parametrize(
    "credentials",
    [("right-id", "fms_" + "w" * 43), ("fmc_" + "n" * 22, "right-secret"), (None, None), ("right-id", None)],
)
def test_wrong_client_credentials_are_refused_alike(identity: Identity, credentials: tuple[str | None, ...]) -> None:
    client_id = identity.client_id if credentials[0] == "right-id" else credentials[0]
    secret = identity.client_secret if credentials[1] == "right-secret" else credentials[1]

    with pytest.raises(e.DomainError) as refused:
        identity.sessions().authenticate_client(client_id, secret)

    assert refused.value.code == "AUTH_CLIENT_INVALID"


def test_refreshes_are_rate_limited_per_user(identity: Identity) -> None:
    limiter = RateLimiter(FakeRateLimitStore(), clock=identity.clock)
    token = identity.login().refresh_token
    for _ in range(10):
        token = identity.sessions(limiter=limiter).refresh(token).refresh_token

    with pytest.raises(e.DomainError) as limited:
        identity.sessions(limiter=limiter).refresh(token)

    assert limited.value.code == "RATE_LIMITED"
    assert limited.value.retry_after_seconds <= 60
