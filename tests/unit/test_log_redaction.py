"""Bearer tokens, JWTs, secrets and e-mail addresses never reach the logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firstmile.observability import REDACTED, logger, redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def log_lines():  # type: ignore[no-untyped-def]
    # The logger's handler holds the stream it was created with; point it at a buffer for the test.
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)  # type: ignore[attr-defined]

    def read() -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]

    yield read
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


def test_secrets_in_messages_and_extra_fields_are_redacted(log_lines) -> None:  # type: ignore[no-untyped-def]
    # Given a log call carrying every kind of secret
    logger.info(
        f"call from jane.doe@example.com with Authorization: Bearer {JWT}",
        extra={
            "client_secret": "s3cr3t-value",
            "headers": {"authorization": "Bearer abc.def", "x-other": "fine"},
            "refresh_token": "rt-123456",
            "note": f"token {JWT} for ops@example.org",
        },
    )

    # When the line is written
    (line,) = log_lines()
    text = json.dumps(line)

    # Then none of the secrets are in it, and the rest is
    for secret in ("jane.doe@example.com", JWT, "s3cr3t-value", "abc.def", "rt-123456", "ops@example.org"):
        assert secret not in text
    assert line["client_secret"] == REDACTED
    assert line["headers"]["authorization"] == REDACTED
    assert line["headers"]["x-other"] == "fine"
    assert "[REDACTED_EMAIL]" in line["message"]


def test_exceptions_are_redacted_too(log_lines) -> None:  # type: ignore[no-untyped-def]
    try:
        raise ValueError("user bob@example.com presented Bearer xyz.123")
    except ValueError:
        logger.exception("failed")

    (line,) = log_lines()
    assert "bob@example.com" not in json.dumps(line)
    assert "xyz.123" not in json.dumps(line)


def test_log_lines_carry_the_correlation_id_and_service(log_lines) -> None:  # type: ignore[no-untyped-def]
    logger.set_correlation_id("corr-1")
    logger.info("hello")
    logger.set_correlation_id(None)

    (line,) = log_lines()
    assert line["correlation_id"] == "corr-1"
    assert line["service"] == "firstmile"
    assert line["level"] == logging.getLevelName(logging.INFO)


@given(st.emails())
def test_any_email_address_is_redacted(address: str) -> None:
    assert address not in redact(f"contact {address} today")
