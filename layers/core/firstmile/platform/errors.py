"""AWS failures as the platform's domain errors (declared in ``firstmile.errors`` and re-exported here for the
stores that import them from the platform)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from firstmile.errors import DependencyUnavailableError as DependencyUnavailableError
from firstmile.errors import ItemRefusedError as ItemRefusedError
from firstmile.errors import NotFoundError as NotFoundError
from firstmile.errors import VersionConflictError as VersionConflictError


def aws_error_code(exc: ClientError) -> str:
    """The error code AWS answered with (``ConditionalCheckFailedException``, ``TransactionCanceledException``...)."""
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))


def table_call(operation: Callable[[], Any]) -> Any:
    """Run one table request; an AWS failure becomes ``DependencyUnavailableError`` naming the table."""
    try:
        return operation()
    except ClientError as exc:
        raise DependencyUnavailableError("table", aws_error_code(exc)) from exc
    except BotoCoreError as exc:
        raise DependencyUnavailableError("table", type(exc).__name__) from exc
