"""Logout forgives an unknown refresh token, never an unavailable table."""

from __future__ import annotations

from typing import Any, cast

import pytest

from firstmile import errors as e
from firstmile.identity.refresh import new_refresh_token
from firstmile.identity.sessions import SessionPolicy, SessionService
from firstmile.identity.store import IdentityStore


class PointerStore:
    """Answers the one read logout makes first: the pointer from a token's hash to its session."""

    def __init__(self, *, unavailable: bool) -> None:
        self.unavailable = unavailable

    def find_pointer(self, token_hash: str) -> Any:
        if self.unavailable:
            raise e.DependencyUnavailableError("table", "ProvisionedThroughputExceededException")
        return None


def sessions(store: PointerStore) -> SessionService:
    def no_key() -> Any:
        raise AssertionError("logout signs nothing")

    return SessionService(cast(IdentityStore, store), signing_key=no_key, policy=SessionPolicy("iss", "aud"))


def test_logging_out_with_a_token_nobody_knows_is_quietly_done() -> None:
    # Given a well-formed refresh token the store has no session for
    # When it is used to log out, then nothing is refused
    sessions(PointerStore(unavailable=False)).logout(new_refresh_token())


def test_logging_out_while_the_table_is_unavailable_says_so() -> None:
    # Given a store that cannot be reached
    # When a user logs out, then the failure reaches the caller rather than passing for a logout
    with pytest.raises(e.DependencyUnavailableError):
        sessions(PointerStore(unavailable=True)).logout(new_refresh_token())
