"""Versioned items: optimistic concurrency with conditional writes.

An item carries an integer ``version``; a write names the version it read and DynamoDB refuses it when the stored
version differs (``TableGateway.put_if_version``, or a conditional action in a transaction), handing back the
stored item in the same call, so a conflict costs no second read. What a caller does then is its own: answer 409
with the current state (a client sent ``If-Match``), or read again and re-apply (``ConflictRetry``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from firstmile import errors
from firstmile.errors import VersionConflictError
from firstmile.platform.gateway import VERSION

__all__ = ["VERSION", "ConflictRetry", "StoredConflictError", "change_version"]

T = TypeVar("T")


class _Versioned(Protocol):
    """A stored resource, or a body that may state the version it was made on."""

    @property
    def version(self) -> int: ...

    @property
    def model_fields_set(self) -> set[str]: ...

    def model_dump(self, *, mode: str) -> dict[str, object]: ...


V = TypeVar("V", bound=_Versioned)


class StoredConflictError(VersionConflictError, Generic[V]):
    """A versioned write lost a race, named a stale version, or took a taken key; carries what is stored
    (``stored``, ``None`` when nothing is), which the answer shows as ``current``."""

    def __init__(self, stored: V | None) -> None:
        super().__init__(stored.model_dump(mode="json") if stored else None, stored.version if stored else None)
        self.stored = stored


@dataclass(frozen=True)
class ConflictRetry:
    """Run a read-modify-write again when it loses a race (``VersionConflictError``), with full-jitter backoff.

    Used when the client sent no ``If-Match``: the write still cannot lose anybody's update, it just re-reads.
    The last conflict propagates after ``attempts`` tries.
    """

    attempts: int = 8
    base_delay_seconds: float = 0.01
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __call__(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt``, again on a conflict, up to ``attempts`` times."""
        for tries in range(1, self.attempts + 1):
            try:
                return attempt()
            except VersionConflictError:
                if tries == self.attempts:
                    raise
                self.sleep(random.uniform(0, self.base_delay_seconds * 2**tries))  # noqa: S311 - jitter, not security
        raise AssertionError("unreachable")


def change_version(expected: int | None, body: _Versioned | None, what: str) -> int:
    """The version an admin's change is made on: ``If-Match`` (``expected``), else the version the body states;
    RES_PRECONDITION_REQUIRED without either, so that two admins never overwrite each other silently."""
    if expected is not None:
        return expected
    if body is not None and "version" in body.model_fields_set:
        return body.version
    raise errors.DomainError(
        errors.RES_PRECONDITION_REQUIRED,
        f'Send If-Match with the {what}\'s ETag (like "v3") so that a concurrent change is not overwritten.',
    )
