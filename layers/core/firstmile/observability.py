"""One Logger, Tracer and Metrics for every function, and the filter that keeps secrets out of logs.

Logs are JSON and carry the correlation id, the tenant (once known), the function name and cold start.
Every record passes through ``redact`` before it is written: bearer tokens, JWTs, e-mail addresses and the
values of secret-sounding keys never reach CloudWatch.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from firstmile.platform.aws import before_first_client

SERVICE = "firstmile"
METRICS_NAMESPACE = "Firstmile"
REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(authorization|cookie|password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|signature)",
    re.IGNORECASE,
)
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[REDACTED_EMAIL]"),
)


def redact(value: Any, key: str | None = None) -> Any:
    """Return ``value`` with secrets removed: whole values under secret-sounding keys, patterns in text."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        for pattern, replacement in _TEXT_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else (an exception, a datetime, a model) is logged as its text: redact that text.
    return redact(str(value))


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with every record redacted just before serialisation."""

    # Keys that Powertools itself fills and that must stay readable.
    _KEEP = frozenset({"correlation_id", "function_request_id", "xray_trace_id", "function_arn"})

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        cleaned = {k: (v if k in self._KEEP else redact(v, k)) for k, v in log.items()}
        return super().serialize(cleaned)


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter(), utc=True)
# X-Ray traces AWS calls by patching botocore's client. Powertools' default (patch every library X-Ray supports,
# now) loads that client into every function at cold start, also into those that never call AWS. So the client
# is patched when the first botocore session is created instead: every AWS client comes from a session, so the
# same calls are traced. No other library of X-Ray's default list is used by the layer (sqlite3 is in the standard
# library, but nothing calls it, so importing it to patch it only cost every cold start); a library X-Ray can trace
# that the layer starts using must be added here.
tracer = Tracer(service=SERVICE, patch_modules=())


def _trace_aws_calls() -> None:
    tracer.patch(["botocore"])


if not tracer.disabled:
    before_first_client(_trace_aws_calls)

metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


_request_marks: set[str] = set()
"""What happened during the request being answered that an objective counts (a Lambda container answers one request
at a time): cleared when the HTTP entry point starts a request, written into its request record."""


def mark_request(mark: str) -> None:
    """Mark the request being answered (``flag-set-expired``: a flag was served its off value because the flag set
    could not be checked within the kill switch's bound)."""
    _request_marks.add(mark)


def take_request_marks() -> frozenset[str]:
    """The marks of the request being answered, cleared."""
    taken = frozenset(_request_marks)
    _request_marks.clear()
    return taken
