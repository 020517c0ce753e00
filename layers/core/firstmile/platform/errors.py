"""Domain failures that any store or logic may raise; the HTTP layer maps them to problems in one place."""

from __future__ import annotations

from typing import Any


class NotFoundError(Exception):
    """The thing asked for does not exist (or is not visible to this caller)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was not found")
        self.what = what


class VersionConflictError(Exception):
    """A conditional write lost: the item changed since the caller read it."""

    def __init__(self, current: dict[str, Any] | None, current_version: int | None) -> None:
        super().__init__("the item has changed since it was read")
        self.current = current
        self.current_version = current_version


class DependencyUnavailableError(Exception):
    """An AWS dependency did not answer or refused the call."""

    def __init__(self, component: str, reason: str) -> None:
        super().__init__(f"{component} is unavailable: {reason}")
        self.component = component
        self.reason = reason


class ItemRefusedError(Exception):
    """A write DynamoDB would refuse for what it holds (too large, too deep, an unstorable number, an empty name or
    key): the request is at fault, not the table. ``limit`` names the rule; ``detail`` says it to a client."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail

    @property
    def too_large(self) -> bool:
        """Whether the refusal is about size (413) rather than content (422)."""
        return self.limit in ("item_size", "key_size")
