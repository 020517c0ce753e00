"""Raises out of the handler, as a function with a bug does."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("internal detail that must not reach the client")
